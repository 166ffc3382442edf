"""Training for the notebooks: ``fit`` with a history, ``evaluate``, ``budget`` and seed-averaged ``compare``.

One small loop that every experiment of the course shares: SGD with momentum and weight decay (AlexNet,
Krizhevsky et al. 2012, Section 5) or Adam, optional cosine (Loshchilov & Hutter, arXiv:1608.03983) or step
schedules (He et al. 2015, arXiv:1512.03385, Section 3.4), mixed precision and channels-last on CUDA, and an
exactly repeatable run on the CPU for a given seed.

The numeric recipe (``precision``, ``channels_last``) is chosen per device by :func:`recipe`; it can be forced
on any device, so the CUDA recipe (bf16 or fp16 autocast, channels-last) also runs, and is tested, on a CPU.
The environment variables ``CNNEDU_PRECISION`` and ``CNNEDU_CHANNELS_LAST`` set it for a whole session.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.env import get_device, seed_everything

__all__ = ["QUICK", "History", "fit", "evaluate", "budget", "compare", "Comparison", "Recipe", "recipe",
           "OPTIMIZERS", "SCHEDULERS", "PRECISIONS", "seeds", "claim", "Claim", "CLAIMS", "VERDICTS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULERS = (None, "cosine", "step")

# The course's quick recipe for small networks on the embedded data: Adam at 3e-3 with a cosine decay to zero
# over the run, no weight decay (Kingma and Ba 2015; Loshchilov and Hutter 2017). ``fit(model, data, **QUICK)``.
# The papers' own recipe (SGD, momentum 0.9, weight decay 5e-4) is fit's default and needs many more epochs.
QUICK = {"optimizer": "adam", "lr": 0.003, "weight_decay": 0.0, "scheduler": "cosine"}
_EPOCH_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "epoch_time", "lr")


@dataclass
class History:
    """What ``fit`` measured: per-epoch lists, per-step lists, the device and the total time in seconds."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_acc: list[float] = field(default_factory=list)
    device: str = "cpu"
    seconds: float = 0.0
    steps_per_epoch: int = 0
    precision: str = "fp32"

    def steps_to(self, train_error: float = 0.25, window: int | None = None) -> int | None:
        """The first step at which the running training error falls below ``train_error``; None if never.

        The running error is 1 - mean accuracy over the last ``window`` steps (default: one epoch's worth),
        as in AlexNet's Fig. 1 (Krizhevsky et al. 2012), which compares ReLU and tanh by the epochs each needs
        to reach 25 % training error. Steps are counted from 1.
        """
        if not 0 < train_error < 1:
            raise ValueError(f"train_error must be between 0 and 1, got {train_error!r}")
        window = window or self.steps_per_epoch or 1
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        total = 0.0
        for i, acc in enumerate(self.step_acc):
            total += acc
            if i >= window:
                total -= self.step_acc[i - window]
            if i + 1 >= window and 1 - total / window < train_error:
                return i + 1
        return None

    def final(self, metric: str = "test_acc") -> float:
        """The last epoch's value of ``metric`` (one of the per-epoch lists)."""
        if metric not in _EPOCH_METRICS:
            raise ValueError(f"metric must be one of {', '.join(_EPOCH_METRICS)}; got {metric!r}")
        values = getattr(self, metric)
        return values[-1] if values else math.nan


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def _main_output(out: Any) -> torch.Tensor:
    """The logits in a model's output: the tensor, ``.logits`` (torchvision's GoogLeNetOutputs) or [0]."""
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, (tuple, list)):
        return out[0]
    raise TypeError(f"cannot find the logits in a model output of type {type(out).__name__}")


def _default_loss(out: Any, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_main_output(out), target)


@dataclass(frozen=True)
class Recipe:
    """How a training or evaluation step runs: the autocast precision and the memory format.

    ``precision`` "fp32" runs everything in float32; "bf16" and "fp16" run matrix products and convolutions
    in 16 bits under ``torch.autocast`` while the weights stay float32 (Micikevicius et al. 2018,
    arXiv:1710.03740). fp16's narrow range needs loss scaling (a GradScaler); bf16 keeps float32's range and
    does not. ``channels_last`` stores activations as NHWC, the layout tensor cores read fastest.
    """

    precision: str
    channels_last: bool

    def autocast(self, device: torch.device) -> torch.autocast:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    def scaler(self, device: torch.device) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"environment variable {name} must be 1 or 0 (true / false), got {value!r}")


def recipe(device: torch.device | str, precision: str = "auto", channels_last: bool | None = None) -> Recipe:
    """The numeric recipe for ``device``: on CUDA bf16 (fp16 where the GPU lacks bf16) and channels-last;
    elsewhere fp32 in the default layout.

    ``precision`` is one of ``PRECISIONS``; "auto" reads ``CNNEDU_PRECISION`` first, then picks by device.
    ``channels_last=None`` reads ``CNNEDU_CHANNELS_LAST`` (1 or 0) first, then picks by device. Forcing the
    CUDA recipe on the CPU (``precision="bf16", channels_last=True``) runs the same code path as a GPU.
    """
    device = torch.device(device)
    if precision == "auto":
        precision = os.environ.get("CNNEDU_PRECISION", "").strip().lower() or "auto"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        # bf16 needs Ampere (compute capability 8.0) or newer for fast kernels; torch.cuda.is_bf16_supported()
        # also answers True on older GPUs (a T4) where bf16 is only emulated, so read the capability instead
        on_cuda = device.type == "cuda"
        precision = ("bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16") if on_cuda else "fp32"
    if channels_last is None:
        channels_last = _env_flag("CNNEDU_CHANNELS_LAST")
    if channels_last is None:
        channels_last = device.type == "cuda"
    return Recipe(precision, bool(channels_last))


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    # Jupyter's kernel shell, or a subclass of it such as Colab's google.colab._shell.Shell
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" or c.__module__.startswith("google.colab")
                                     for c in type(shell).__mro__)


def _want_bar(progress: bool) -> bool:
    """A live bar only where it renders: a terminal or a notebook; never under tests or in piped logs.

    Set CNNEDU_NO_BAR=1 when executing notebooks to store outputs: the per-epoch summary lines remain.
    """
    if not progress or os.environ.get("CNNEDU_NO_BAR"):
        return False
    return _in_notebook() or sys.stderr.isatty()


def _reseed_loader(loader: Iterable, seed: int) -> None:
    """Re-seed the generator(s) that shuffle ``loader``: a run's data order then depends only on ``seed``."""
    seen = set()
    for obj in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        for holder in (obj, getattr(obj, "sampler", None)):
            g = getattr(holder, "generator", None)
            if isinstance(g, torch.Generator) and id(g) not in seen:
                seen.add(id(g))
                g.manual_seed(seed)


def _make_optimizer(optimizer: str | Callable, params: Iterable[nn.Parameter], lr: float, momentum: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    if callable(optimizer):
        return optimizer(params)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or a callable(params); "
                     f"got {optimizer!r}")


def _make_scheduler(scheduler: str | Callable | None, opt: torch.optim.Optimizer,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per optimizer step, so a run cut short by ``max_steps`` follows the whole schedule."""
    if scheduler is None:
        return None
    if callable(scheduler):
        return scheduler(opt, total_steps)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    if scheduler == "step":  # divide by 10 at 50 % and 75 % of training, the ResNet CIFAR schedule's shape
        milestones = [int(total_steps * 0.5), int(total_steps * 0.75)]
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    raise ValueError(f"scheduler must be None, 'cosine', 'step' or a callable(optimizer, total_steps); "
                     f"got {scheduler!r}")


def _to_device(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


# ----------------------------------------------------------------------------------------------------------
# evaluate, fit
# ----------------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device | str | None = None,
             precision: str = "auto", channels_last: bool | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) of ``model`` over ``loader``, in eval mode.

    ``device`` defaults to the model's; ``precision`` and ``channels_last`` as in :func:`recipe`. Under
    ``CNNEDU_MAX_STEPS`` (the GPU dry run, see :func:`step_cap`) only that many batches are evaluated.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    how = recipe(device, precision, channels_last)
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    max_batches = step_cap()
    try:
        for i, (x, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            x, y = _to_device(x, device, how.channels_last), y.to(device)
            with how.autocast(device):
                logits = _main_output(model(x))
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("loader yielded no examples")
    return loss_sum / count, correct / count


def fit(
    model: nn.Module,
    data: Sequence,
    epochs: int = 1,
    lr: float = 0.05,
    optimizer: str | Callable = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    scheduler: str | Callable | None = None,
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor] | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    precision: str = "auto",
    channels_last: bool | None = None,
) -> History:
    """Train ``model`` on ``data = (train_loader, test_loader or None)`` and return its History.

    SGD with momentum 0.9 and weight decay 5e-4 by default (Krizhevsky et al. 2012, Section 5). The device
    is ``cnnedu.get_device()`` unless given; on CUDA the model runs channels-last under autocast (bf16, or
    fp16 with a GradScaler), elsewhere in fp32: ``precision`` and ``channels_last`` override that choice
    (see :func:`recipe`). ``seed`` seeds torch and the loaders' shuffling, so on the CPU two runs of the
    same model repeat exactly. ``loss_fn(outputs, target)`` receives the model's whole output (a tuple for
    models with auxiliary classifiers, e.g. GoogLeNet); accuracy uses the main output. ``augment(x)`` is
    applied to each training batch on the device. ``max_steps`` stops early (the schedule spans it).
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("data must be a pair (train_loader, test_loader) or (train_loader, None)")
    train_loader, test_loader = data
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be None or a positive integer, got {max_steps!r}")
    max_steps = step_cap(max_steps)
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")

    device = torch.device(device) if device is not None else get_device()
    how = recipe(device, precision, channels_last)
    seed_everything(seed)
    _reseed_loader(train_loader, seed)
    model.to(device)
    if how.channels_last:
        model.to(memory_format=torch.channels_last)
    loss_fn = loss_fn or _default_loss
    opt = _make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    steps_per_epoch = len(train_loader)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    sched = _make_scheduler(scheduler, opt, total_steps)
    amp, scaler = how.autocast(device), how.scaler(device)
    hist = History(device=str(device), steps_per_epoch=steps_per_epoch, precision=how.precision)
    bar_on = _want_bar(progress)
    start, step = time.perf_counter(), 0

    for epoch in range(epochs):
        model.train()
        t0, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
        hist.lr.append(opt.param_groups[0]["lr"])  # the rate this epoch starts with
        bar = None
        if bar_on:  # counted by hand, so that a run cut short by max_steps still ends its bar complete
            from tqdm.auto import tqdm

            bar = tqdm(total=min(steps_per_epoch, total_steps - step), desc=f"epoch {epoch + 1}/{epochs}",
                       leave=False, mininterval=0.5)
        for x, y in train_loader:
            x, y = _to_device(x, device, how.channels_last), y.to(device)
            if augment is not None:
                x = augment(x)
            with amp:
                out = model(x)
                loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if sched is not None:
                sched.step()
            # one host sync per step for the curves; cheap next to a training step at these sizes
            batch_loss = loss.item()
            batch_correct = (_main_output(out).argmax(1) == y).sum().item()
            hist.step_loss.append(batch_loss)
            hist.step_acc.append(batch_correct / len(y))
            loss_sum, correct, count = loss_sum + batch_loss * len(y), correct + batch_correct, count + len(y)
            step += 1
            if bar is not None:
                bar.update()
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{batch_loss:.3f}", refresh=False)
            if step >= total_steps:
                break
        if bar is not None:
            bar.close()
        hist.train_loss.append(loss_sum / max(count, 1))
        hist.train_acc.append(correct / max(count, 1))
        if test_loader is not None:
            test_loss, test_acc = evaluate(model, test_loader, device, how.precision, how.channels_last)
            hist.test_loss.append(test_loss)
            hist.test_acc.append(test_acc)
        hist.epoch_time.append(time.perf_counter() - t0)
        if progress:
            line = (f"epoch {epoch + 1}/{epochs}: train loss {hist.train_loss[-1]:.3f} "
                    f"acc {100 * hist.train_acc[-1]:.1f} %")
            if test_loader is not None:
                line += f", test loss {hist.test_loss[-1]:.3f} acc {100 * hist.test_acc[-1]:.1f} %"
            where = device.type if how.precision == "fp32" else f"{device.type}, {how.precision}"
            print(line + f" ({hist.epoch_time[-1]:.1f} s, {where})", flush=True)
        if step >= total_steps:
            break
    hist.seconds = time.perf_counter() - start
    return hist


MAX_STEPS_ENV = "CNNEDU_MAX_STEPS"


def step_cap(steps: int | None = None) -> int | None:
    """``steps`` capped by the environment variable ``CNNEDU_MAX_STEPS`` (None: no limit either way).

    A dry run of the GPU path on any CPU: ``CNNEDU_BUDGET=gpu CNNEDU_MAX_STEPS=5`` builds every GPU-sized
    experiment (data, depths, resolutions, batch sizes) but takes at most 5 optimizer steps per training run,
    so a notebook runs its GPU code paths in seconds (``make gpu-dry-run``). ``fit`` applies it to every run
    and ``evaluate`` to its number of batches; a hand-written training loop calls it on its own step count.
    """
    text = os.environ.get(MAX_STEPS_ENV, "").strip()
    if not text:
        return steps
    try:
        cap = int(text)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ValueError(f"environment variable {MAX_STEPS_ENV} must be a positive integer, got {text!r}")
    return cap if steps is None else min(steps, cap)


def budget(cpu: Any, gpu: Any) -> Any:
    """``gpu`` when CUDA is present, else ``cpu``: one cell sizes its experiment to the hardware.

    Example: ``epochs, n_train = budget(cpu=(2, 4000), gpu=(30, 50000))``. The environment variable
    ``CNNEDU_BUDGET=cpu`` or ``gpu`` forces one size, e.g. to rehearse a GPU-sized run on a CPU (slowly).
    """
    forced = os.environ.get("CNNEDU_BUDGET", "").strip().lower()
    if forced not in ("", "cpu", "gpu"):
        raise ValueError(f"environment variable CNNEDU_BUDGET must be cpu or gpu, got {forced!r}")
    if forced:
        return gpu if forced == "gpu" else cpu
    return gpu if torch.cuda.is_available() else cpu


# ----------------------------------------------------------------------------------------------------------
# compare: several models, several seeds, honest about noise
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Final ``metric`` per model and seed, with mean, spread and a verdict that respects the spread.

    Noise rule (``within_noise``): two models differ only if their means are further apart than twice the
    combined seed-to-seed spread, |mean_a - mean_b| >= 2 sqrt(std_a^2 + std_b^2), with std the sample
    standard deviation over seeds. It is deliberately conservative for 2-5 seeds (the spread of a mean is
    smaller, but is itself poorly estimated from so few runs). With a single seed there is no spread, and
    every difference counts as within noise.
    """

    metric: str
    seeds: tuple[int, ...]
    results: dict[str, list[float]] = field(default_factory=dict)
    histories: dict[str, list[History]] = field(default_factory=dict)

    def _check(self, name: str) -> list[float]:
        if name not in self.results:
            raise ValueError(f"name must be one of {', '.join(self.results)}; got {name!r}")
        return self.results[name]

    def mean(self, name: str) -> float:
        return _stats(self._check(name))[0]

    def std(self, name: str) -> float:
        """Sample standard deviation over seeds (0 for a single seed)."""
        return _stats(self._check(name))[1]

    def noise(self, a: str, b: str) -> float:
        """The threshold of the noise rule: 2 sqrt(std_a^2 + std_b^2)."""
        return 2 * math.sqrt(self.std(a) ** 2 + self.std(b) ** 2)

    def within_noise(self, a: str, b: str) -> bool:
        """True when the difference of means is smaller than the noise threshold (or no spread is known)."""
        if min(len(self._check(a)), len(self._check(b))) < 2:
            return True
        return abs(self.mean(a) - self.mean(b)) < self.noise(a, b)

    def _fmt(self, value: float) -> str:
        return f"{100 * value:.1f} %" if "acc" in self.metric else f"{value:.3f}"

    def _fmt_diff(self, value: float) -> str:
        return f"{100 * value:.1f} points" if "acc" in self.metric else f"{value:.3f}"

    def table(self) -> str:
        """One line per model: mean +- std of the metric and the value of each seed."""
        rows = [(name, f"{self._fmt(self.mean(name))} ± {self._fmt_diff(self.std(name)).split()[0]}",
                 ", ".join(self._fmt(v) for v in values)) for name, values in self.results.items()]
        head = ("model", f"{self.metric} (mean ± std)", f"seeds {', '.join(map(str, self.seeds))}")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in [head, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def verdict(self, a: str, b: str) -> str:
        """A sentence comparing ``a`` and ``b`` that says when the difference is within seed-to-seed noise."""
        ma, mb, n = self.mean(a), self.mean(b), len(self.seeds)
        stats = (f"{a}: {self._fmt(ma)} ± {self._fmt_diff(self.std(a))}, {b}: {self._fmt(mb)} ± "
                 f"{self._fmt_diff(self.std(b))} ({self.metric}, mean ± std over {n} seed{'s' * (n != 1)})")
        if min(len(self.results[a]), len(self.results[b])) < 2:
            return f"{stats}. One seed gives no estimate of the noise: run more seeds before concluding."
        gap = abs(ma - mb)
        if self.within_noise(a, b):
            return (f"{stats}. The difference of {self._fmt_diff(gap)} is within noise (threshold "
                    f"{self._fmt_diff(self.noise(a, b))}): these runs do not show that either is better.")
        higher_is_better = _higher_is_better(self.metric)
        better, worse = (a, b) if (ma > mb) == higher_is_better else (b, a)
        return (f"{stats}. {better} beats {worse} by {self._fmt_diff(gap)}, more than the noise threshold of "
                f"{self._fmt_diff(self.noise(a, b))}.")

    def __str__(self) -> str:
        return self.table()


def compare(builders: dict[str, Callable[[], nn.Module]], data: Sequence, seeds: Sequence[int] = (0, 1, 2),
            metric: str = "test_acc", **fit_kwargs: Any) -> Comparison:
    """Train every model of ``builders`` once per seed under identical settings and collect ``metric``.

    ``CNNEDU_SEEDS`` (see :func:`seeds`), when set, replaces ``seeds``.

    Each builder is called after ``seed_everything(seed)``, so the initial weights depend on the seed; the
    same seed then drives ``fit`` (data order, dropout). Returns a Comparison (mean, std, table, verdict).
    """
    if not builders:
        raise ValueError("builders must name at least one model")
    if metric not in _EPOCH_METRICS:
        raise ValueError(f"metric must be one of {', '.join(_EPOCH_METRICS)}; got {metric!r}")
    if metric.startswith("test") and data[1] is None:
        raise ValueError(f"metric {metric!r} needs a test loader: data must be (train_loader, test_loader)")
    seeds = _seeds(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one; got {seeds!r}")
    progress = fit_kwargs.pop("progress", False)
    comp = Comparison(metric=metric, seeds=seeds)
    bar = None
    if _want_bar(True):  # one bar over all the runs; each run's own epoch lines only with progress=True
        from tqdm.auto import tqdm

        bar = tqdm(total=len(builders) * len(seeds), desc="runs", unit="run", leave=False)
    for name, build in builders.items():
        comp.results[name], comp.histories[name] = [], []
        for seed in seeds:
            if bar is not None:
                bar.set_description(f"{name}, seed {seed}")
            seed_everything(seed)
            hist = fit(build(), data, seed=seed, progress=progress, **fit_kwargs)
            comp.results[name].append(hist.final(metric))
            comp.histories[name].append(hist)
            if bar is not None:
                bar.update()
            print(f"{name}, seed {seed}: {metric} {comp._fmt(comp.results[name][-1])} ({hist.seconds:.1f} s)",
                  flush=True)
    if bar is not None:
        bar.close()
    return comp


# ----------------------------------------------------------------------------------------------------------
# Seeds and claims: one place for an experiment's seeds, one record of what each experiment showed
# ----------------------------------------------------------------------------------------------------------

SEEDS_ENV = "CNNEDU_SEEDS"
CLAIMS_ENV = "CNNEDU_CLAIMS"
VERDICTS = ("shown", "within noise", "opposite")
CLAIMS: list[Claim] = []  # every claim made in this session, in order


def seeds(default: Sequence[int] = (0, 1, 2)) -> tuple[int, ...]:
    """The seeds of an experiment: ``CNNEDU_SEEDS`` (e.g. ``7,8,9``) when set, else ``default``.

    Every experiment of the course takes its seeds from here (``compare`` too), so that one environment
    variable reruns the whole course with other seeds, to check that no result is an accident of the seeds.
    """
    text = os.environ.get(SEEDS_ENV, "").strip()
    if not text:
        values = tuple(default)
    else:
        try:
            values = tuple(int(s) for s in text.replace(" ", "").split(",") if s)
        except ValueError:
            raise ValueError(f"environment variable {SEEDS_ENV} must be comma-separated integers such as "
                             f"'7,8,9'; got {text!r}") from None
    if not values or len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct integers, at least one; got {values!r}")
    return values


_seeds = seeds  # for functions whose argument is called seeds


def _higher_is_better(metric: str) -> bool:
    """Accuracies and scores go up; losses, errors, steps and times go down."""
    return not any(w in metric for w in ("loss", "error", "step", "time", "second"))


def _stats(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


@dataclass
class Claim:
    """One experiment's verdict on one of its paper's claims, with everything needed to check it.

    ``kind`` "better": ``a`` beats ``b`` on ``metric``. Rule: the difference of the means, in the claimed
    direction, must exceed the noise threshold 2 sqrt(std_a^2 + std_b^2) (the rule of :class:`Comparison`):
    then ``shown``; beyond the threshold the other way, ``opposite``; otherwise ``within noise``.

    ``kind`` "at most": ``a`` is worse than ``b`` by at most ``margin``. Rule: the shortfall of ``a``'s mean
    plus the noise threshold must stay within the margin (``shown``); a shortfall beyond margin + threshold
    is ``opposite``; otherwise ``within noise``. Both rules need at least two seeds per side.
    """

    claim: str
    paper: str
    kind: str
    a: str
    b: str
    metric: str
    unit: str
    higher_is_better: bool
    values_a: list[float]
    values_b: list[float]
    seeds: tuple[int, ...]
    margin: float | None = None
    seconds: float = 0.0
    notebook: str = ""
    mean_a: float = field(init=False)
    std_a: float = field(init=False)
    mean_b: float = field(init=False)
    std_b: float = field(init=False)
    effect: float = field(init=False)
    threshold: float = field(init=False)
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        self.mean_a, self.std_a = _stats(self.values_a)
        self.mean_b, self.std_b = _stats(self.values_b)
        # effect: how much a is better than b, in the metric's units (negative: a is worse)
        sign = 1 if self.higher_is_better else -1
        self.effect = sign * (self.mean_a - self.mean_b)
        self.threshold = 2 * math.sqrt(self.std_a ** 2 + self.std_b ** 2)
        if min(len(self.values_a), len(self.values_b)) < 2:
            self.verdict = "within noise"
        elif self.kind == "better":
            self.verdict = ("shown" if self.effect > self.threshold else
                            "opposite" if -self.effect > self.threshold else "within noise")
        else:
            shortfall = -self.effect
            self.verdict = ("shown" if shortfall + self.threshold <= self.margin else
                            "opposite" if shortfall - self.threshold > self.margin else "within noise")

    def _v(self, value: float, diff: bool = False) -> str:
        """A value (or, with ``diff``, a difference) in the claim's unit: percentages differ by points."""
        if self.unit == "%":
            return f"{value:.1f} {'points' if diff else '%'}"
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return f"{text} {self.unit}".rstrip()

    def rule(self) -> str:
        """The decision rule in words, with this claim's numbers."""
        if self.kind == "better":
            return (f"{self.a} is better by {self._v(self.effect, True)}; shown when that exceeds the noise "
                    f"threshold 2·sqrt(std_a² + std_b²) = {self._v(self.threshold, True)}")
        return (f"{self.a} falls short of {self.b} by {self._v(-self.effect, True)}; shown when that plus the "
                f"noise threshold ({self._v(self.threshold, True)}) stays within the margin of "
                f"{self._v(self.margin, True)}")

    def __str__(self) -> str:
        n = len(self.seeds)
        return (f"Claim ({self.paper}): {self.claim}\n"
                f"  {self.a}: {self._v(self.mean_a)} ± {self._v(self.std_a, True)}, {self.b}: {self._v(self.mean_b)} ± "
                f"{self._v(self.std_b, True)} ({self.metric}, mean ± std over {n} seed{'s' * (n != 1)}: "
                f"{', '.join(map(str, self.seeds))})\n"
                f"  {self.rule()}.\n"
                f"  Verdict: {self.verdict.upper()}")

    def record(self) -> dict:
        """A JSON-ready dict of the claim (what ``scripts/run_experiments.py`` collects)."""
        keys = ("notebook", "claim", "paper", "verdict", "kind", "a", "b", "metric", "unit", "higher_is_better",
                "mean_a", "std_a", "mean_b", "std_b", "effect", "threshold", "margin", "values_a", "values_b",
                "seconds")
        return {"seeds": list(self.seeds), **{k: getattr(self, k) for k in keys}}


def claim(
    text: str,
    results: Comparison | dict[str, Sequence[float]],
    a: str,
    b: str,
    paper: str,
    higher_is_better: bool | None = None,
    metric: str | None = None,
    unit: str = "",
    at_most_worse_by: float | None = None,
    seconds: float | None = None,
    seeds: Sequence[int] | None = None,
) -> Claim:
    """Decide, print and record one claim of a paper: "``a`` beats ``b``" (or, with ``at_most_worse_by``,
    "``a`` is at most that much worse than ``b``") on the per-seed values in ``results``.

    ``results`` is a :class:`Comparison` (its metric, seeds and run times are used) or a dict name -> one value
    per seed. ``paper`` names the paper's evidence ("He et al. 2015, Fig. 6"). ``higher_is_better`` defaults
    from the metric's name (losses, errors, steps and times are lower-is-better). The verdict follows the rule
    in :class:`Claim`; the claim is appended to ``CLAIMS`` and, when ``CNNEDU_CLAIMS`` names a file, written to
    it as one JSON line (``scripts/run_experiments.py`` reads those).
    """
    values = results.results if isinstance(results, Comparison) else results
    for name, label in ((a, "a"), (b, "b")):
        if name not in values:
            raise ValueError(f"{label} must be one of {', '.join(values)}; got {name!r}")
    if isinstance(results, Comparison):
        metric = metric or results.metric
        seeds = results.seeds if seeds is None else seeds
        if seconds is None:
            seconds = sum(h.seconds for name in (a, b) for h in results.histories.get(name, []))
    if metric is None:
        raise ValueError("metric must name what the values measure when results is a dict")
    if higher_is_better is None:
        higher_is_better = _higher_is_better(metric)
    if at_most_worse_by is not None and not at_most_worse_by >= 0:
        raise ValueError(f"at_most_worse_by must be a margin >= 0, got {at_most_worse_by!r}")
    va, vb = [float(v) for v in values[a]], [float(v) for v in values[b]]
    seeds = tuple(seeds) if seeds is not None else tuple(range(len(va)))
    if not len(va) == len(vb) == len(seeds):
        raise ValueError(f"need one value per seed on each side: {len(va)} for {a}, {len(vb)} for {b}, "
                         f"{len(seeds)} seeds")
    result = Claim(claim=text, paper=paper, kind="better" if at_most_worse_by is None else "at most", a=a, b=b,
                   metric=metric, unit=unit, higher_is_better=higher_is_better, values_a=va, values_b=vb,
                   seeds=seeds, margin=at_most_worse_by, seconds=round(seconds or 0.0, 1))
    CLAIMS.append(result)
    path = os.environ.get(CLAIMS_ENV, "").strip()
    if path:
        import json

        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result.record()) + "\n")
    print(result, flush=True)
    return result
