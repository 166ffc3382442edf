"""Shared helpers of the figures: the course style, axes, number formatting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from cnnedu.env import use_style

# ---------------------------------------------------------------------------------------------------------
# Shared helpers: style, axes, number formatting.


def _styled(fn: Callable) -> Callable:
    """Apply the course style before the function creates any figure."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        use_style()
        return fn(*args, **kwargs)

    return wrapper


def _axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _axes_pair(ax: Any, figsize: tuple[float, float], sharey: bool = False) -> tuple[Axes, Axes] | None:
    """Two side-by-side axes: new ones, the pair given, or None when a single Axes was given."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, (a, b) = plt.subplots(1, 2, figsize=figsize, layout="constrained", sharey=sharey)
        return a, b
    if isinstance(ax, Axes):
        return None
    axes = list(np.ravel(ax)) if not isinstance(ax, Axes) else []
    if len(axes) != 2 or not all(isinstance(a, Axes) for a in axes):
        raise ValueError("ax must be None, one matplotlib Axes or a pair of Axes")
    return axes[0], axes[1]


def si(value: float, digits: int = 3) -> str:
    """A count for humans: 61.1M, 714M, 3.66G, 12.5k; below a thousand with thousands separators."""
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer (significant digits), got {digits!r}")
    v = float(value)
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g}{suffix}"
    return f"{v:,.{digits}g}" if v != int(v) else f"{int(v):,}"


_SI_FORMATTER = FuncFormatter(lambda v, _pos: si(v))


_METRIC_LABELS = {
    "train_loss": "training loss", "test_loss": "test loss", "step_loss": "training loss (per step)",
    "train_acc": "training accuracy", "test_acc": "test accuracy", "step_acc": "training accuracy (per step)",
    "epoch_time": "time per epoch (s)", "lr": "learning rate",
}


def _percent_if_fraction(values: np.ndarray, metric: str) -> tuple[np.ndarray, str]:
    """Accuracies stored as fractions are shown in percent; the axis label says which."""
    label = _METRIC_LABELS.get(metric, metric.replace("_", " "))
    if "acc" in metric:
        finite = values[np.isfinite(values)]
        if finite.size and finite.max() <= 1.0:
            values = values * 100.0
        label += " (%)"
    return values, label


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise ValueError("a tensor on the meta device has no values to draw")
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)
