"""Tests for cnnedu.train: fit, evaluate, History.steps_to, budget, compare and its noise rule."""

from __future__ import annotations

import math
from collections import namedtuple

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnedu import train
from cnnedu.data import tensor_loader
from cnnedu.train import Comparison, History, budget, compare, evaluate, fit


def _blobs(n: int = 256, seed: int = 0) -> TensorDataset:
    """Two Gaussian blobs in 8 dimensions: a linear model separates them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 8, generator=g) + 2.0 * (2 * y[:, None] - 1)
    return TensorDataset(x, y)



@pytest.fixture
def data():
    return tensor_loader(_blobs(256), 32, seed=0), tensor_loader(_blobs(64, seed=1), 32, shuffle=False)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def test_fit_history_lengths_and_learning(data):
    torch.manual_seed(0)
    h = fit(_mlp(), data, epochs=3, lr=0.05, device="cpu", progress=False)
    assert len(h.train_loss) == len(h.test_acc) == len(h.epoch_time) == len(h.lr) == 3
    assert len(h.step_loss) == len(h.step_acc) == 3 * 8 and h.steps_per_epoch == 8
    assert h.device == "cpu" and h.seconds > 0
    assert h.train_loss[-1] < h.train_loss[0] and h.test_acc[-1] > 0.95
    assert h.final("test_acc") == h.test_acc[-1]


def test_fit_is_reproducible_on_cpu(data):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fit(_mlp(), data, epochs=2, seed=7, device="cpu", progress=False).step_loss)
    assert runs[0] == runs[1]
    torch.manual_seed(0)
    other = fit(_mlp(), data, epochs=2, seed=8, device="cpu", progress=False).step_loss
    assert other != runs[0]  # the seed changes data order and dropout


def test_fit_without_test_loader_max_steps_and_schedules(data):
    torch.manual_seed(0)
    h = fit(_mlp(), (data[0], None), epochs=5, max_steps=10, scheduler="cosine", device="cpu", progress=False)
    assert len(h.step_loss) == 10 and len(h.train_loss) == 2 and h.test_acc == []
    # the second epoch starts at step 8 of a 10-step cosine schedule
    assert h.lr == pytest.approx([0.05, 0.05 * (1 + math.cos(math.pi * 8 / 10)) / 2])
    h = fit(_mlp(), data, epochs=4, lr=0.1, scheduler="step", device="cpu", progress=False)
    assert h.lr == pytest.approx([0.1, 0.1, 0.01, 0.001])  # /10 at 50 % and 75 % of the steps


def test_fit_adam_and_bad_arguments(data):
    h = fit(_mlp(), data, lr=1e-2, optimizer="adam", device="cpu", progress=False)
    assert h.test_acc[-1] > 0.9
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam"):
        fit(_mlp(), data, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        fit(_mlp(), data, scheduler="linear", progress=False)
    with pytest.raises(ValueError, match="data must be a pair"):
        fit(_mlp(), data[0], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(_mlp(), data, epochs=0, progress=False)


class _AuxNet(nn.Module):
    """Returns (main, aux) in training mode and main alone in eval mode, like GoogLeNet."""

    Out = namedtuple("Out", ["logits", "aux"])

    def __init__(self) -> None:
        super().__init__()
        self.main, self.aux = _mlp(), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor):
        return self.Out(self.main(x), self.aux(x)) if self.training else self.main(x)


def test_fit_with_aux_outputs_and_loss_fn(data):
    calls = []

    def loss_fn(out, y):
        calls.append(type(out).__name__)
        ce = nn.functional.cross_entropy
        return ce(out.logits, y) + 0.3 * ce(out.aux, y)

    h = fit(_AuxNet(), data, epochs=2, device="cpu", loss_fn=loss_fn, progress=False)
    assert calls and set(calls) == {"Out"} and h.test_acc[-1] > 0.9
    # without loss_fn the main output is used
    assert fit(_AuxNet(), data, epochs=2, device="cpu", progress=False).test_acc[-1] > 0.9


def test_fit_applies_augment(data):
    seen = []

    def augment(x):
        seen.append(x.shape[0])
        return x

    fit(_mlp(), data, max_steps=3, device="cpu", augment=augment, progress=False)
    assert seen == [32, 32, 32]


def test_progress_prints_one_plain_line_per_epoch(data, capsys):
    fit(_mlp(), data, epochs=2, device="cpu", progress=True)
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: train loss") and "test" in lines[0]
    assert "\r" not in out.out + out.err and "\x1b" not in out.out + out.err


class _Constant(nn.Module):
    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def test_evaluate_known_values():
    y = torch.tensor([0, 0, 0, 1])
    loader = tensor_loader(TensorDataset(torch.zeros(4, 1), y), batch_size=3, shuffle=False)
    model = _Constant([math.log(3.0), 0.0])  # softmax = (3/4, 1/4)
    model.train()
    loss, acc = evaluate(model, loader, device="cpu")
    assert acc == 0.75
    assert loss == pytest.approx((3 * -math.log(0.75) - math.log(0.25)) / 4, rel=1e-6)
    assert model.training  # mode restored


def test_steps_to():
    h = History(step_acc=[0.5, 0.6, 0.7, 0.8, 0.9, 0.9], steps_per_epoch=2)
    assert h.steps_to(0.25, window=1) == 4  # first step with error 0.2 < 0.25
    assert h.steps_to(0.25, window=2) == 5  # mean(0.8, 0.9) = 0.85
    assert h.steps_to(0.25) == 5  # default window: one epoch = 2 steps
    assert h.steps_to(0.05) is None
    assert History(step_acc=[0.9]).steps_to(0.25, window=3) is None  # a window needs that many steps
    with pytest.raises(ValueError, match="train_error"):
        h.steps_to(1.5)


def test_step_cap_limits_every_fit_for_the_gpu_dry_run(data, monkeypatch):
    assert train.step_cap(40) == 40 and train.step_cap(None) is None  # no cap set
    monkeypatch.setenv("CNNEDU_MAX_STEPS", "3")
    assert train.step_cap(40) == 3 and train.step_cap(2) == 2 and train.step_cap(None) == 3
    torch.manual_seed(0)
    h = fit(_mlp(), data, epochs=4, device="cpu", progress=False)  # 4 epochs of 8 steps, capped at 3
    assert len(h.step_loss) == 3 and len(h.train_loss) == len(h.test_acc) == 1
    h = fit(_mlp(), data, epochs=4, max_steps=2, device="cpu", progress=False)
    assert len(h.step_loss) == 2
    seen = []
    model = _mlp()
    model.register_forward_hook(lambda m, i, o: seen.append(len(o)))
    evaluate(model, data[1], "cpu")  # 64 test examples in 2 batches of 32
    assert seen == [32, 32]
    seen.clear()
    monkeypatch.setenv("CNNEDU_MAX_STEPS", "1")
    evaluate(model, data[1], "cpu")
    assert seen == [32]
    for bad in ("0", "-5", "five"):
        monkeypatch.setenv("CNNEDU_MAX_STEPS", bad)
        with pytest.raises(ValueError, match="CNNEDU_MAX_STEPS must be a positive integer"):
            train.step_cap(10)


def test_budget(monkeypatch):
    monkeypatch.delenv("CNNEDU_BUDGET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert budget(cpu={"epochs": 1}, gpu={"epochs": 30}) == {"epochs": 1}
    monkeypatch.setenv("CNNEDU_BUDGET", "gpu")  # rehearse the GPU size on a CPU
    assert budget(cpu=1, gpu=30) == 30
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("CNNEDU_BUDGET", "cpu")
    assert budget(cpu=1, gpu=30) == 1
    monkeypatch.delenv("CNNEDU_BUDGET")
    assert budget(cpu=1, gpu=30) == 30
    monkeypatch.setenv("CNNEDU_BUDGET", "tpu")
    with pytest.raises(ValueError, match="CNNEDU_BUDGET must be cpu or gpu, got 'tpu'"):
        budget(cpu=1, gpu=30)


def test_compare_two_models_two_seeds(data, capsys):
    inits = []

    def wide():
        m = _mlp()
        inits.append(m[0].weight.detach().clone())
        return m

    comp = compare({"mlp": wide, "linear": lambda: nn.Linear(8, 2)}, data, seeds=(0, 1), epochs=1,
                   device="cpu")
    assert set(comp.results) == {"mlp", "linear"} and all(len(v) == 2 for v in comp.results.values())
    assert len(comp.histories["mlp"]) == 2 and comp.results["mlp"][0] == comp.histories["mlp"][0].test_acc[-1]
    assert not torch.equal(inits[0], inits[1])  # builders run after seeding: the seed changes the weights
    seeded = [compare({"m": wide}, data, seeds=(1,), epochs=1, device="cpu") for _ in range(2)]
    assert torch.equal(inits[-1], inits[-2]) and seeded[0].results == seeded[1].results
    values = comp.results["mlp"]
    assert comp.mean("mlp") == pytest.approx(sum(values) / 2)
    assert comp.std("mlp") == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
    table = comp.table()
    assert "mlp" in table and "linear" in table and "±" in table
    assert "mlp, seed 1" in capsys.readouterr().out
    with pytest.raises(ValueError, match="metric"):
        compare({"m": wide}, data, metric="accuracy")


def test_comparison_noise_rule_and_verdict():
    comp = Comparison("test_acc", (0, 1, 2), {"a": [0.90, 0.91, 0.92], "b": [0.89, 0.91, 0.90],
                                              "c": [0.70, 0.71, 0.72]})
    assert comp.std("a") == pytest.approx(0.01)
    assert comp.noise("a", "b") == pytest.approx(2 * math.sqrt(0.01**2 + 0.01**2))
    assert comp.within_noise("a", "b") and not comp.within_noise("a", "c")
    assert "within noise" in comp.verdict("a", "b")
    assert "a beats c by 20.0 points" in comp.verdict("c", "a")
    one = Comparison("test_acc", (0,), {"a": [0.9], "b": [0.5]})
    assert one.within_noise("a", "b") and "One seed" in one.verdict("a", "b")
    loss = Comparison("test_loss", (0, 1), {"a": [1.0, 1.01], "b": [2.0, 2.01]})
    assert "a beats b" in loss.verdict("a", "b")  # lower loss is better
    with pytest.raises(ValueError, match="name must be one of a, b"):
        loss.mean("z")


def test_reseed_loader_finds_the_shuffling_generator(data):
    first = [y.tolist() for _, y in data[0]]
    train._reseed_loader(data[0], 0)
    assert [y.tolist() for _, y in data[0]] == first


def test_noise_rule_between_half_and_whole_threshold():
    # threshold 2*sqrt(0.01**2 + 0.01**2) ~ 0.0283: a gap of 0.02 (between half and the whole) is within noise
    comp = Comparison("test_acc", (0, 1, 2), {"a": [0.90, 0.91, 0.92], "b": [0.88, 0.89, 0.90],
                                              "c": [0.87, 0.88, 0.89]})
    assert comp.noise("a", "b") / 2 < 0.02 < comp.noise("a", "b") and comp.within_noise("a", "b")
    assert not comp.within_noise("a", "c")  # 0.03 > 0.0283


def test_compare_passes_each_seed_to_fit(data, monkeypatch):
    seen = []
    real_fit = train.fit

    def spy(model, data, seed=0, **kw):
        seen.append(seed)
        return real_fit(model, data, seed=seed, **kw)

    monkeypatch.setattr(train, "fit", spy)
    compare({"lin": lambda: nn.Linear(8, 2)}, data, seeds=(3, 5, 8), epochs=1, device="cpu")
    assert seen == [3, 5, 8]


class _FakeBar:
    bars: list = []

    def __init__(self, total=None, **kw):
        self.total, self.n, self.closed = total, 0, False
        _FakeBar.bars.append(self)

    def update(self, k=1):
        self.n += k

    def set_postfix(self, **kw):
        pass

    def close(self):
        self.closed = True


def test_progress_bar_ends_complete_when_max_steps_cuts_the_epoch(data, monkeypatch):
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _FakeBar)
    monkeypatch.setattr(train, "_want_bar", lambda progress: True)
    _FakeBar.bars = []
    fit(_mlp(), data, epochs=3, max_steps=11, device="cpu", progress=False)  # 8 steps per epoch: 8 + 3
    assert [(b.total, b.n, b.closed) for b in _FakeBar.bars] == [(8, 8, True), (3, 3, True)]


def test_in_notebook_recognises_colab_and_jupyter_shells(monkeypatch):
    import IPython

    class ZMQInteractiveShell:
        pass

    class Shell(ZMQInteractiveShell):  # Colab's shell is a subclass with another name
        pass

    for shell, expected in ((Shell(), True), (ZMQInteractiveShell(), True), (object(), False), (None, False)):
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        assert train._in_notebook() is expected
