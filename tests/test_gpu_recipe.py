"""The CUDA training recipe (bf16 or fp16 autocast, channels-last), forced onto the CPU and tested there.

On a GPU ``train.fit`` runs every model channels-last under autocast; on the CPU it runs plain fp32. These
tests run the GPU's code path on the CPU, so a model or a loop that breaks only on a GPU (a ``view`` of a
channels-last tensor, an op without a 16-bit kernel, a scaler that never steps) fails here too.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnedu import models, train
from cnnedu.data import tensor_loader
from cnnedu.train import Recipe, evaluate, fit, recipe


@pytest.fixture(autouse=True)
def _no_recipe_env(monkeypatch):
    monkeypatch.delenv("CNNEDU_PRECISION", raising=False)
    monkeypatch.delenv("CNNEDU_CHANNELS_LAST", raising=False)


def _images(n: int, size: int = 32, seed: int = 0) -> torch.utils.data.TensorDataset:
    """Ten classes told apart by which colour channel and which quadrant is bright: easy to learn fast."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = 0.1 * torch.randn(n, 3, size, size, generator=g)
    half = size // 2
    for i, label in enumerate(y.tolist()):
        r, c = divmod(label % 4, 2)
        x[i, label % 3, r * half:(r + 1) * half, c * half:(c + 1) * half] += 1.0 + label // 4
    return torch.utils.data.TensorDataset(x, y)


@pytest.fixture(scope="module")
def images():
    return (tensor_loader(_images(320), 32, seed=0),
            tensor_loader(_images(100, seed=1), 50, shuffle=False))


def test_recipe_picks_by_device(monkeypatch):
    assert recipe("cpu") == Recipe("fp32", False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0))
    assert recipe("cuda") == Recipe("bf16", True)  # an H100: bf16 needs no loss scaling
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # emulated bf16 also says True
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    assert recipe("cuda") == Recipe("fp16", True)  # a T4 (Colab's free GPU): fp16 with a GradScaler
    assert recipe("cuda", precision="fp32", channels_last=False) == Recipe("fp32", False)


def test_recipe_environment_and_bad_values(monkeypatch):
    monkeypatch.setenv("CNNEDU_PRECISION", "bf16")
    monkeypatch.setenv("CNNEDU_CHANNELS_LAST", "1")
    assert recipe("cpu") == Recipe("bf16", True)
    assert recipe("cpu", precision="fp32", channels_last=False) == Recipe("fp32", False)  # arguments win
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, fp16; got 'fp8'"):
        recipe("cpu", precision="fp8")
    monkeypatch.setenv("CNNEDU_PRECISION", "half")
    with pytest.raises(ValueError, match="precision"):
        recipe("cpu")
    monkeypatch.delenv("CNNEDU_PRECISION")
    monkeypatch.setenv("CNNEDU_CHANNELS_LAST", "maybe")
    with pytest.raises(ValueError, match="CNNEDU_CHANNELS_LAST must be 1 or 0"):
        recipe("cpu")


def test_fit_rejects_an_unknown_precision(images):
    with pytest.raises(ValueError, match="precision must be one of"):
        fit(models.small_cnn(), images, device="cpu", progress=False, precision="int8")


def _first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


# fp16 convolutions have slow kernels on a CPU (seconds per step): its learning test uses the linear model
@pytest.mark.parametrize("precision, build", [("bf16", models.small_cnn), ("fp16", models.linear_classifier)])
def test_fit_learns_under_the_gpu_recipe(images, precision, build, capsys):
    torch.manual_seed(0)
    model = build()
    dtypes = set()

    def loss_fn(out, target):  # sees the logits as autocast made them
        dtypes.add(out.dtype)
        return nn.functional.cross_entropy(out, target)

    h = fit(model, images, epochs=3, device="cpu", precision=precision, channels_last=True, loss_fn=loss_fn,
            **train.QUICK)
    assert h.precision == precision
    assert dtypes == {torch.bfloat16 if precision == "bf16" else torch.float16}
    assert f" s, cpu, {precision})" in capsys.readouterr().out  # the epoch line names the recipe
    assert all(torch.isfinite(torch.tensor(h.step_loss)))
    assert h.test_acc[-1] > 0.5  # chance is 0.1
    # autocast computes in 16 bits but the weights stay float32 (a conv's stored channels-last)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    if precision == "bf16":
        assert _first_conv(model).weight.is_contiguous(memory_format=torch.channels_last)


def test_fp16_scales_the_loss_and_bf16_does_not(images, monkeypatch):
    seen = []
    original = Recipe.scaler

    def spy(self, device):
        scaler = original(self, device)
        seen.append((self.precision, scaler.is_enabled()))
        return scaler

    monkeypatch.setattr(Recipe, "scaler", spy)
    for precision in ("fp16", "bf16", "fp32"):
        fit(models.small_cnn(), (images[0], None), max_steps=2, device="cpu", progress=False, precision=precision)
    assert seen == [("fp16", True), ("bf16", False), ("fp32", False)]


def test_evaluate_in_bf16_agrees_with_fp32(images):
    torch.manual_seed(0)
    model = models.small_cnn()
    fit(model, (images[0], None), epochs=2, device="cpu", progress=False, **train.QUICK)
    loss32, acc32 = evaluate(model, images[1], precision="fp32")
    loss16, acc16 = evaluate(model, images[1], precision="bf16", channels_last=True)
    assert abs(loss16 - loss32) < 0.05 * max(loss32, 0.1)
    assert abs(acc16 - acc32) <= 0.03


def test_environment_variables_reach_fit(images, monkeypatch):
    monkeypatch.setenv("CNNEDU_PRECISION", "bf16")
    monkeypatch.setenv("CNNEDU_CHANNELS_LAST", "1")
    model = models.small_cnn()
    h = fit(model, (images[0], None), max_steps=1, device="cpu", progress=False)
    assert h.precision == "bf16"
    assert _first_conv(model).weight.is_contiguous(memory_format=torch.channels_last)


# Every family of the course but VGG (plain convolutions and 129 M parameters), small enough for one CPU step:
# (builder, input size). Each brings an op of its own under bf16 and channels-last: LRN and two towers
# (AlexNet), auxiliary heads (GoogLeNet), option-A shortcuts (ResNet CIFAR), dense concatenation, separable
# and grouped convolutions, SE, h-swish, drop path.
FAMILIES = {
    "alexnet (two towers, LRN)": (lambda: models.alexnet(num_classes=10), 224),
    "zfnet": (lambda: models.zfnet(num_classes=10), 224),
    "googlenet (aux heads)": (lambda: models.googlenet(num_classes=10), 224),
    "resnet_cifar option A": (lambda: models.resnet_cifar(20, shortcut="A"), 32),
    "resnet_cifar pre-activation": (lambda: models.resnet_cifar(20, shortcut="B", preact=True), 32),
    "resnet18 v1.5": (lambda: models.resnet(18, variant="v1.5", num_classes=10), 64),
    "wide_resnet 10-2": (lambda: models.wide_resnet(10, 2, dropout=0.3), 32),
    "xception": (lambda: models.xception(num_classes=10), 71),
    "densenet_cifar 40": (lambda: models.densenet_cifar(40, growth_rate=12), 32),
    "resnext 32x4d": (lambda: models.resnext(50, num_classes=10), 64),
    "mobilenet_v1 0.25": (lambda: models.mobilenet_v1(0.25, num_classes=10), 64),
    "mobilenet_v2 0.35": (lambda: models.mobilenet_v2(0.35, num_classes=10), 64),
    "se_resnet": (lambda: models.se_resnet(50, num_classes=10), 64),
    "mobilenet_v3 small": (lambda: models.mobilenet_v3("small", num_classes=10), 64),
    "efficientnet b0": (lambda: models.efficientnet_b0(num_classes=10), 64),
}


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_trains_a_step_under_the_gpu_recipe(name):
    build, size = FAMILIES[name]
    torch.manual_seed(0)
    model = build()
    x, y = torch.rand(4, 3, size, size), torch.arange(4) % 10
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    loss_fn = models.googlenet_loss if name.startswith("googlenet") else None
    h = fit(model, (loader, loader), max_steps=1, optimizer="sgd", lr=0.01, device="cpu", progress=False,
            precision="bf16", channels_last=True, loss_fn=loss_fn)
    assert h.precision == "bf16" and len(h.step_loss) == 1
    assert torch.isfinite(torch.tensor(h.step_loss + h.test_loss)).all()
    assert all(p.dtype == torch.float32 for p in model.parameters())
