"""The course's figures: activations, costs per layer, receptive fields, filters, training curves.

Every function returns a ``matplotlib.figure.Figure`` and takes an optional ``ax``: given one, it draws there
and returns ``ax.figure``, so figures compose into larger layouts. All figures use the one style of
:data:`cnnedu.env.STYLE`. In a notebook assign the result (``fig = activation_curves()``): the inline backend
shows pyplot figures at the end of the cell, and a returned Figure would be shown a second time.

:func:`save_figure` writes a PNG (150 dpi) and an SVG for slides.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from cnnedu.env import use_style

__all__ = [
    "ACTIVATIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "activation",
    "activation_derivative",
    "activation_curves",
    "layer_bars",
    "model_bars",
    "receptive_field_on_image",
    "receptive_field_growth",
    "filter_grid",
    "feature_maps",
    "image_grid",
    "training_curves",
    "comparison_bars",
    "heatmap",
    "scaling_curves",
    "depth_profile",
    "save_figure",
    "si",
]

# The normalisation of torchvision's ImageNet models, used to bring normalised images back to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------------------------------
# Activations.


def _relu6(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, 0.0, 6.0)


def _swish(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Swish x * sigmoid(beta x) (Ramachandran et al., arXiv:1710.05941, eq. 1); beta = 1 is SiLU."""
    return x * torch.sigmoid(beta * x)


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """ReLU6(x + 3) / 6, the piecewise-linear sigmoid of MobileNetV3 (arXiv:1905.02244, Sec. 5.2)."""
    return _relu6(x + 3.0) / 6.0


def _hard_swish(x: torch.Tensor) -> torch.Tensor:
    """h-swish(x) = x ReLU6(x + 3) / 6 (MobileNetV3, arXiv:1905.02244, Sec. 5.2)."""
    return x * _hard_sigmoid(x)


ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "relu": torch.relu,  # AlexNet, arXiv-less NIPS 2012, Sec. 3.1
    "relu6": _relu6,  # MobileNet v1 / v2 (arXiv:1801.04381, Sec. 3.2)
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "swish": _swish,  # takes beta
    "hard_sigmoid": _hard_sigmoid,
    "hard_swish": _hard_swish,
}

_DEFAULT_CURVES = ("relu", "relu6", "tanh", "sigmoid", "swish", "hard_sigmoid", "hard_swish")
# a fixed colour per activation, so that it reads the same in every figure and widget
_COLOURS = {"relu": "C0", "relu6": "C1", "tanh": "C2", "sigmoid": "C3", "swish": "C4", "hard_sigmoid": "C5",
            "hard_swish": "C6", "leaky_relu": "C7"}
_PRETTY = {"relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "leaky ReLU (0.1)", "tanh": "tanh",
           "sigmoid": "sigmoid", "swish": "Swish", "hard_sigmoid": "hard sigmoid", "hard_swish": "h-swish"}


def activation(name: str, beta: float = 1.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation ``name`` of :data:`ACTIVATIONS` as a one-argument function (``beta`` for Swish)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    if name == "swish":
        return functools.partial(_swish, beta=float(beta))
    return ACTIVATIONS[name]


def activation_derivative(name: str, x: torch.Tensor | Sequence[float], beta: float = 1.0) -> torch.Tensor:
    """d activation / dx at the points ``x`` by autograd (at kinks: the value backpropagation uses)."""
    x = torch.as_tensor(x, dtype=torch.float64).detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(activation(name, beta)(x).sum(), x)
    return grad.detach()


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


# ---------------------------------------------------------------------------------------------------------
# Activation curves.


@_styled
def activation_curves(
    names: Sequence[str] | None = None,
    beta: float | Sequence[float] = 1.0,
    derivative: bool = True,
    x_range: tuple[float, float] = (-6.0, 6.0),
    ax: Any = None,
) -> Figure:
    """Activation functions and (``derivative=True``) their derivatives in a second panel.

    ReLU (Krizhevsky et al. 2012, Sec. 3.1), ReLU6 (arXiv:1704.04861), Swish x sigmoid(beta x)
    (arXiv:1710.05941), hard sigmoid and h-swish (MobileNetV3, arXiv:1905.02244, Sec. 5.2). ``beta`` may be a
    list to draw one Swish curve per value. ``ax`` may be a pair of Axes (curves, derivatives) or one Axes,
    where derivatives are drawn dashed in the same colour.
    """
    names = list(_DEFAULT_CURVES if names is None else names)
    if not names:
        raise ValueError("names must list at least one activation")
    for n in names:
        if n not in ACTIVATIONS:
            raise ValueError(f"names must be taken from {sorted(ACTIVATIONS)}, got {n!r}")
    betas = [float(b) for b in np.atleast_1d(np.asarray(beta, dtype=float))]
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    if derivative:
        pair = _axes_pair(ax, (11.0, 4.0))
        ax_f, ax_d = pair if pair is not None else (ax, ax)
    else:
        ax_f, ax_d = _axes(ax), None

    x = torch.linspace(lo, hi, 1201, dtype=torch.float64)
    curves = [(n, b) for n in names for b in (betas if n == "swish" else [None])]
    swish_shades = matplotlib.colormaps["Purples"](np.linspace(0.5, 0.95, len(betas)))
    for name, b in curves:
        label = _PRETTY[name] + (f" (β={b:g})" if b is not None else "")
        colour = _COLOURS[name] if name != "swish" or len(betas) == 1 else swish_shades[betas.index(b)]
        with torch.no_grad():
            y = activation(name, b if b is not None else 1.0)(x)
        # ReLU lies under ReLU6 and h-swish over much of the range: draw it wider, beneath them
        wide = name == "relu" and len(curves) > 1
        ax_f.plot(x.numpy(), y.numpy(), color=colour, lw=4 if wide else 2, zorder=1.5 if wide else 2,
                  label=label)
        if ax_d is not None:
            dy = activation_derivative(name, x, b if b is not None else 1.0)
            same = ax_d is ax_f
            ax_d.plot(x.numpy(), dy.numpy(), color=colour, lw=1.5 if same else 2, ls="--" if same else "-",
                      label=None if same else label)
    ax_f.set(xlabel="input x", ylabel="f(x)", title="Activation functions", xlim=(lo, hi))
    ax_f.axhline(0, color="0.5", lw=0.8)
    ax_f.axvline(0, color="0.5", lw=0.8)
    ax_f.legend(fontsize=9)
    if ax_d is not None and ax_d is not ax_f:
        ax_d.set(xlabel="input x", ylabel="f'(x)", title="Derivatives (autograd)", xlim=(lo, hi))
        ax_d.axhline(0, color="0.5", lw=0.8)
        ax_d.axvline(0, color="0.5", lw=0.8)
    elif ax_d is ax_f:
        ax_f.set_title("Activation functions (dashed: derivatives)")
    return ax_f.figure


# ---------------------------------------------------------------------------------------------------------
# Costs: parameters and MACs per layer, per stage, per model.


def _cost_rows(summary_or_dict: Any, by: str, skip_empty: bool) -> list[tuple[str, int, int]]:
    """(name, params, macs) rows from a Summary (``.rows``) or a dict name -> (params, macs) or a dict."""
    if by not in ("layer", "stage"):
        raise ValueError(f"by must be 'layer' or 'stage', got {by!r}")
    rows: list[tuple[str, int, int]] = []
    if hasattr(summary_or_dict, "rows"):
        rows = [(r["name"], int(r["params"]), int(r["macs"])) for r in summary_or_dict.rows]
    elif isinstance(summary_or_dict, Mapping):
        for name, v in summary_or_dict.items():
            p, m = (v["params"], v["macs"]) if isinstance(v, Mapping) else v
            rows.append((str(name), int(p), int(m)))
    else:
        raise ValueError("summary_or_dict must be a cnnedu.analysis.Summary or a dict name -> (params, macs),"
                         f" got {type(summary_or_dict).__name__}")
    if by == "stage":
        grouped: dict[str, list[int]] = {}
        for name, p, m in rows:
            acc = grouped.setdefault(name.split(".")[0], [0, 0])
            acc[0] += p
            acc[1] += m
        rows = [(n, p, m) for n, (p, m) in grouped.items()]
    if skip_empty:
        rows = [r for r in rows if r[1] or r[2]]
    if not rows:
        raise ValueError("summary_or_dict has no layer with parameters or MACs to draw")
    return rows


def _count_and_share(value: float, total: float) -> str:
    if not value:
        return ""
    share = 100 * value / max(total, 1)
    return f"{si(value)}  {share:.0f}%" if share >= 0.5 else f"{si(value)}  <1%"


@_styled
def layer_bars(
    summary_or_dict: Any,
    by: str = "layer",
    ax: Any = None,
    log: bool = False,
    percent: bool | None = None,
    skip_empty: bool = True,
    title: str | None = None,
) -> Figure:
    """Parameters and MACs per layer or per stage, side by side: where a network stores, where it computes.

    AlexNet's picture (Krizhevsky et al. 2012, Sec. 3): most parameters sit in the fully connected layers,
    most computation in the convolutions. Two panels of absolute counts by default; ``percent=True`` (or a
    single ``ax``) draws twin bars in percent of each total on one axis. ``by="stage"`` sums rows by the
    first part of their name; layers with neither parameters nor MACs (ReLU, pooling) are skipped.
    """
    rows = _cost_rows(summary_or_dict, by, skip_empty)
    names = [r[0] for r in rows]
    params = np.array([r[1] for r in rows], dtype=float)
    macs = np.array([r[2] for r in rows], dtype=float)
    tp, tm = params.sum(), macs.sum()
    pos = np.arange(len(rows))
    height = max(3.0, 0.28 * len(rows) + 1.5)
    what = "layer" if by == "layer" else "stage"
    heading = title or f"Where the parameters and the computation are, per {what}"
    single = isinstance(ax, Axes)
    if percent is None:
        percent = single
    if percent:
        a = _axes(ax if single else None, figsize=(8.0, height))
        w = 0.4
        a.barh(pos - w / 2, 100 * params / max(tp, 1), w, color="C0", label=f"parameters (total {si(tp)})")
        a.barh(pos + w / 2, 100 * macs / max(tm, 1), w, color="C1", label=f"MACs (total {si(tm)})")
        a.set_yticks(pos, names)
        a.invert_yaxis()
        a.set(xlabel="share of the network's total (%)", title=heading)
        if log:
            a.set_xscale("log")
        a.legend(loc="lower right")
        return a.figure
    pair = _axes_pair(ax, (11.0, height), sharey=True)
    assert pair is not None  # a single Axes is handled above
    for a, values, total, colour, label in ((pair[0], params, tp, "C0", "parameters"),
                                             (pair[1], macs, tm, "C1", "MACs (multiply-accumulates)")):
        bars = a.barh(pos, values, color=colour)
        a.bar_label(bars, labels=[_count_and_share(v, total) for v in values], padding=3, fontsize=8)
        a.set_yticks(pos, names)
        a.set(xlabel=f"{label} (total {si(total)})", title=label.split(" ")[0])
        a.xaxis.set_major_formatter(_SI_FORMATTER)
        if log:
            a.set_xscale("log")
        else:
            a.set_xlim(0, values.max() * 1.3 if values.max() > 0 else 1)
    if not pair[0].yaxis_inverted():
        pair[0].invert_yaxis()
    if not pair[1].yaxis_inverted():
        pair[1].invert_yaxis()
    pair[0].figure.suptitle(heading, fontweight="bold")
    return pair[0].figure


@_styled
def model_bars(
    names: Sequence[str],
    values: Sequence[float],
    ylabel: str,
    ax: Axes | None = None,
    reference: Sequence[float | None] | Mapping[str, float] | None = None,
    reference_label: str = "paper",
    title: str | None = None,
    log: bool = False,
) -> Figure:
    """One bar per model (parameters, MACs, accuracy...) with the paper's figures marked as black diamonds.

    ``reference`` is a list aligned with ``names`` (``None`` where the paper gives nothing) or a dict by name.
    """
    names = [str(n) for n in names]
    vals = np.asarray(values, dtype=float)
    if vals.ndim != 1 or len(vals) != len(names) or not names:
        raise ValueError(f"values must be one number per name ({len(names)}), got shape {vals.shape}")
    if isinstance(reference, Mapping):
        refs = [reference.get(n) for n in names]
    elif reference is not None:
        refs = list(reference)
        if len(refs) != len(names):
            raise ValueError(f"reference must have one entry per name ({len(names)}) or be a dict, "
                             f"got {len(refs)}")
    else:
        refs = [None] * len(names)
    a = _axes(ax, figsize=(max(5.0, 0.7 * len(names) + 2), 4.0))
    pos = np.arange(len(names))
    bars = a.bar(pos, vals, color="C0", label="measured")
    a.bar_label(bars, labels=[si(v) for v in vals], padding=2, fontsize=8)
    ref_pos = [p for p, r in zip(pos, refs, strict=True) if r is not None]
    if ref_pos:
        a.scatter(ref_pos, [r for r in refs if r is not None], marker="D", color="black", zorder=3, s=30,
                  label=reference_label)
        a.legend()
    rotate = len(names) > 6 or max(len(n) for n in names) > 10
    a.set_xticks(pos, names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    a.set(ylabel=ylabel, title=title or ylabel)
    a.yaxis.set_major_formatter(_SI_FORMATTER)
    if log:
        a.set_yscale("log")
    else:
        a.set_ylim(0, max(vals.max(), max((r for r in refs if r is not None), default=0)) * 1.15 or 1)
    return a.figure


# ---------------------------------------------------------------------------------------------------------
# Images: conversion, receptive fields, filters, feature maps, grids.


def _to_hwc(image: Any, mean: Sequence[float] | None = None,
            std: Sequence[float] | None = None) -> np.ndarray:
    """An image as float HWC (or HW) in [0, 1]: from PIL, numpy HWC/CHW, or a tensor CHW / 1CHW.

    Values below zero mean a normalised image, de-normalised with ``mean`` and ``std`` (ImageNet's by
    default); values above 1.5 mean 0-255.
    """
    is_pil = hasattr(image, "convert") and hasattr(image, "getbands")
    if is_pil:
        image = np.asarray(image.convert("RGB"))
    chw = isinstance(image, torch.Tensor)
    arr = image.detach().cpu().float().numpy() if chw else np.asarray(image, dtype=np.float32)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"image must be a single image, got a batch of shape {arr.shape}")
        arr = arr[0]
    if arr.ndim == 3:
        if chw or (arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3)):
            arr = arr.transpose(1, 2, 0)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
        elif arr.shape[-1] != 3:
            raise ValueError(f"image must have 1 or 3 channels, got shape {arr.shape}")
    elif arr.ndim != 2:
        raise ValueError(f"image must be HW, HWC, CHW or 1CHW, got shape {arr.shape}")
    if arr.min() < 0:
        if arr.ndim == 3:
            sd = np.asarray(IMAGENET_STD if std is None else std, dtype=np.float32)
            mu = np.asarray(IMAGENET_MEAN if mean is None else mean, dtype=np.float32)
            arr = arr * sd + mu
        else:
            arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-12)
    elif arr.max() > 1.5:
        arr = arr / 255.0
    return np.clip(arr, 0.0, 1.0)


def _pair_int(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, Sequence) and len(value) == 2:
        return float(value[0]), float(value[1])
    raise ValueError(f"{name} must be a number or an (h, w) pair, got {value!r}")


@_styled
def receptive_field_on_image(
    image: Any,
    size: Any,
    center: tuple[float, float] | None = None,
    stride: Any = None,
    ax: Axes | None = None,
    label: str | None = None,
    color: str = "C1",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """A unit's receptive field drawn as a square on the image, with the grid of its neighbours' centres.

    ``size`` is the field in input pixels (a number, an (h, w) pair or a
    :class:`cnnedu.analysis.ReceptiveField`); ``center`` is (x, y) in pixels, the image centre by default;
    ``stride`` (the effective stride, Araujo et al., Distill 2019) adds dots at the centres of the
    neighbouring units and the dashed field of the next one. A field larger than the image is drawn beyond
    its border: the unit sees padding there. ``mean`` and ``std`` undo a normalisation other than ImageNet's.
    """
    sh, sw = _pair_int(_field_size(size), "size")
    if min(sh, sw) <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    img = _to_hwc(image, mean, std)
    h, w = img.shape[:2]
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if center is None else (float(center[0]), float(center[1]))
    a = _axes(ax, figsize=(5.0, 5.0))
    a.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    a.grid(False)
    text = label or (f"receptive field {sh:g} × {sw:g} px" if sh != sw else f"receptive field {sh:g} px")
    a.add_patch(Rectangle((cx - sw / 2, cy - sh / 2), sw, sh, fill=False, lw=2.5, edgecolor=color,
                          label=text))
    a.plot([cx], [cy], marker="+", color=color, ms=12, mew=2)
    if stride is not None:
        jh, jw = _pair_int(stride, "stride")
        if min(jh, jw) <= 0:
            raise ValueError(f"stride must be positive, got {stride!r}")
        xs = cx + jw * np.arange(-math.floor(cx / jw), math.floor((w - 1 - cx) / jw) + 1)
        ys = cy + jh * np.arange(-math.floor(cy / jh), math.floor((h - 1 - cy) / jh) + 1)
        gx, gy = np.meshgrid(xs, ys)
        a.scatter(gx.ravel(), gy.ravel(), s=6, color="white", edgecolor="black", linewidths=0.4,
                  label=f"neighbouring units, every {jh:g} px" if jh == jw
                  else f"unit grid {jh:g} × {jw:g} px")
        # one neighbour's field, dashed, shows how much adjacent units overlap
        a.add_patch(Rectangle((cx + jw - sw / 2, cy - sh / 2), sw, sh, fill=False, lw=1.2, ls="--",
                              edgecolor=color, alpha=0.8))
    a.set_xlim(min(-0.5, cx - sw / 2 - 2), max(w - 0.5, cx + sw / 2 + 2))
    a.set_ylim(max(h - 0.5, cy + sh / 2 + 2), min(-0.5, cy - sh / 2 - 2))
    a.set(xlabel="x (px)", ylabel="y (px)", title=f"Receptive field on a {h} × {w} image")
    a.legend(loc="upper right", fontsize=8, frameon=True)
    return a.figure


def _field_size(v: Any) -> Any:
    """The size of a :class:`cnnedu.analysis.ReceptiveField`, or ``v`` itself when it is a number or pair."""
    if isinstance(v, (int, float, np.number, Sequence, torch.Tensor)):
        return v
    size = getattr(v, "size", None)
    if size is None:
        raise ValueError(f"a receptive field must be a number, an (h, w) pair or a ReceptiveField, got {v!r}")
    return size


def _rf_size(v: Any) -> float:
    s = _field_size(v)
    return float(max(s)) if isinstance(s, Sequence) else float(s)


@_styled
def receptive_field_growth(
    sizes: Mapping[str, Sequence[Any]] | Sequence[Any],
    ax: Axes | None = None,
    image_size: int | None = None,
    log: bool = False,
) -> Figure:
    """Receptive field size per layer, one curve per network (Araujo et al., Distill 2019).

    ``sizes`` is a list of sizes (or of :class:`cnnedu.analysis.ReceptiveField`) or a dict network -> list.
    ``image_size`` adds a dashed line at the input size: fields beyond it see padding.
    """
    series = dict(sizes) if isinstance(sizes, Mapping) else {"": sizes}
    if not series or any(len(v) == 0 for v in series.values()):
        raise ValueError("sizes must hold at least one non-empty list of receptive field sizes")
    a = _axes(ax, figsize=(7.0, 4.0))
    for name, values in series.items():
        y = [_rf_size(v) for v in values]
        a.plot(np.arange(1, len(y) + 1), y, marker="o", ms=3, lw=2, label=name or None)
    if image_size is not None:
        a.axhline(image_size, color="0.4", ls="--", lw=1, label=f"input {image_size} px")
    a.set(xlabel="layer (in execution order)", ylabel="receptive field (px)", title="Receptive field growth")
    if log:
        a.set_yscale("log")
    if any(series) or image_size is not None:
        a.legend()
    return a.figure


def _mosaic(tiles: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Tiles (N, h, w[, 3]) laid out on a grid of ``ncols`` columns with ``pad`` pixels between them."""
    n, th, tw = tiles.shape[:3]
    nrows = math.ceil(n / ncols)
    shape = (nrows * (th + pad) - pad, ncols * (tw + pad) - pad, *tiles.shape[3:])
    out = np.full(shape, fill, dtype=np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[r * (th + pad): r * (th + pad) + th, c * (tw + pad): c * (tw + pad) + tw] = t
    return out


def _normalise_tiles(t: np.ndarray, normalize: str) -> np.ndarray:
    """Min-max to [0, 1] per tile ("each"), over all tiles ("all"), or symmetric around zero ("zero")."""
    axes = tuple(range(1, t.ndim))
    if normalize == "each":
        lo, hi = t.min(axis=axes, keepdims=True), t.max(axis=axes, keepdims=True)
    elif normalize == "all":
        lo, hi = t.min(), t.max()
    elif normalize == "zero":
        # zero stays mid-grey, so positive and negative weights read the same in every tile
        m = np.abs(t).max(axis=axes, keepdims=True)
        lo, hi = -m, m
    else:
        raise ValueError(f"normalize must be 'each', 'all' or 'zero', got {normalize!r}")
    return (t - lo) / np.maximum(hi - lo, 1e-12)


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise ValueError("a tensor on the meta device has no values to draw")
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)


@_styled
def filter_grid(
    weight: Any,
    ncols: int | None = None,
    ax: Axes | None = None,
    normalize: str = "each",
    title: str | None = None,
) -> Figure:
    """Convolution filters (C_out, C_in, k, k) as tiles: RGB when C_in = 3, else input channel 0 in grey.

    Zeiler and Fergus (arXiv:1311.2901, Fig. 5) and AlexNet's Fig. 3 show first-layer filters this way.
    ``weight`` may be a tensor, an array or a conv module; ``normalize`` is "each", "all" or "zero".
    """
    if hasattr(weight, "weight") and not isinstance(weight, (torch.Tensor, np.ndarray)):
        weight = weight.weight
    w = _as_numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, k, k), got {w.shape}")
    c_out, c_in = w.shape[:2]
    rgb = c_in == 3
    tiles = w.transpose(0, 2, 3, 1) if rgb else w[:, 0]
    tiles = _normalise_tiles(tiles, normalize)
    ncols = ncols or math.ceil(math.sqrt(c_out))
    if ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols}")
    mosaic = _mosaic(tiles, ncols)
    nrows = math.ceil(c_out / ncols)
    a = _axes(ax, figsize=(min(10.0, 0.6 * ncols + 1), min(10.0, 0.6 * nrows + 1)))
    a.imshow(mosaic, cmap=None if rgb else "gray", vmin=0, vmax=1, interpolation="nearest")
    a.set_axis_off()
    shape = " × ".join(str(s) for s in w.shape)
    a.set_title(title or f"{c_out} filters ({shape}){'' if rgb else ', input channel 0'}")
    return a.figure


@_styled
def feature_maps(
    tensor: Any,
    n: int = 16,
    ax: Axes | None = None,
    ncols: int | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """The first ``n`` channels of an activation (C, H, W) or (1, C, H, W), each scaled to its own range."""
    x = _as_numpy(tensor)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"tensor must hold one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"tensor must have shape (C, H, W) or (1, C, H, W), got {x.shape}")
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    maps = _normalise_tiles(x[:n], "each")
    ncols = ncols or min(8, math.ceil(math.sqrt(len(maps))) if len(maps) <= 16 else 8)
    nrows = math.ceil(len(maps) / ncols)
    a = _axes(ax, figsize=(1.3 * ncols + 0.5, 1.3 * nrows + 0.6))
    a.imshow(_mosaic(maps, ncols, pad=max(1, x.shape[-1] // 16), fill=np.nan), cmap=cmap, vmin=0, vmax=1,
             interpolation="nearest")
    a.set_axis_off()
    a.set_title(title or f"First {len(maps)} of {x.shape[0]} feature maps ({x.shape[1]} × {x.shape[2]})")
    return a.figure


@_styled
def image_grid(
    images: Any,
    labels: Sequence[int] | Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 10,
    ax: Axes | None = None,
    predictions: Sequence[int] | Any = None,
    title: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """Images (N, C, H, W), (N, H, W, C) or a list of images on a grid, with their labels above them.

    With ``predictions`` each caption shows the prediction, green when right and red when wrong. Normalised
    images are de-normalised with ``mean`` and ``std`` (ImageNet's by default).
    """
    items = list(images)
    if not items:
        raise ValueError("images must hold at least one image")
    tiles = [_to_hwc(im, mean, std) for im in items]
    if len({t.shape for t in tiles}) != 1:
        raise ValueError(f"images must all have the same shape, got {sorted({t.shape for t in tiles})}")
    if ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols}")
    ncols = min(ncols, len(tiles))
    arr = np.stack(tiles)
    if arr.ndim == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    th, tw = arr.shape[1:3]
    pad = max(1, tw // 8)
    nrows = math.ceil(len(arr) / ncols)
    captions = labels is not None or predictions is not None
    a = _axes(ax, figsize=(1.2 * ncols + 0.4, (1.2 + 0.25 * captions) * nrows + 0.4))
    a.imshow(_mosaic(arr, ncols, pad=pad), interpolation="nearest")
    a.set_axis_off()

    def name(i: Any) -> str:
        i = int(i)
        return class_names[i] if class_names is not None and 0 <= i < len(class_names) else str(i)

    if captions:
        labels_l = None if labels is None else [int(v) for v in _as_numpy(labels).ravel()]
        preds_l = None if predictions is None else [int(v) for v in _as_numpy(predictions).ravel()]
        for i in range(len(arr)):
            r, c = divmod(i, ncols)
            x, y = c * (tw + pad) + tw / 2, r * (th + pad) - 0.5
            if preds_l is None:
                text, colour = name(labels_l[i]), "black"
            else:
                text = name(preds_l[i])
                colour = "black" if labels_l is None else ("green" if preds_l[i] == labels_l[i] else "red")
            a.text(x, y, text, ha="center", va="bottom", fontsize=8, color=colour, clip_on=False)
    if title:
        a.set_title(title, pad=14 if captions else 6)
    return a.figure


# ---------------------------------------------------------------------------------------------------------
# Training: curves over epochs or steps, comparisons over seeds.


def _metric(history: Any, metric: str) -> list[float]:
    values = history.get(metric) if isinstance(history, Mapping) else getattr(history, metric, None)
    if values is None:
        raise ValueError(f"metric must be a field of the history (train_loss, test_acc, step_loss...), "
                         f"got {metric!r}")
    return [float(v) for v in values]


def _is_history(obj: Any) -> bool:
    return hasattr(obj, "train_loss") or (isinstance(obj, Mapping) and "train_loss" in obj)


@_styled
def training_curves(
    histories: Any,
    metric: str | Sequence[str] = "train_loss",
    ax: Axes | None = None,
    x: str = "epoch",
    title: str | None = None,
    log: bool = False,
) -> Figure:
    """Training curves from :class:`cnnedu.train.History` objects: one per run, or mean and band over seeds.

    ``histories`` is a History, a list of Histories (seeds of one run), or a dict name -> History or -> list
    of Histories; several seeds draw their mean with a band of one standard deviation. ``metric`` may be a
    list (e.g. ``["train_loss", "test_loss"]``: solid, dashed...). ``x`` is "epoch", "step" (per-step metrics:
    "train_loss" becomes "step_loss") or "time" (seconds, the sum of ``epoch_time``): AlexNet's Fig. 1 plots
    training error against epochs for ReLU and tanh.
    """
    if x not in ("epoch", "step", "time"):
        raise ValueError(f"x must be 'epoch', 'step' or 'time', got {x!r}")
    if _is_history(histories):
        runs: dict[str, list] = {"": [histories]}
    elif isinstance(histories, Mapping):
        runs = {str(k): (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in histories.items()}
    elif isinstance(histories, (list, tuple)):
        runs = {"": list(histories)}
    else:
        raise ValueError("histories must be a History, a list of them, or a dict name -> History or list")
    if not runs or any(len(v) == 0 for v in runs.values()):
        raise ValueError("histories must hold at least one History per run")
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if x == "step":
        metrics = [{"train_loss": "step_loss", "train_acc": "step_acc"}.get(m, m) for m in metrics]
    styles = ["-", "--", ":", "-."]
    a = _axes(ax, figsize=(7.0, 4.0))
    ylabels = []
    for i, (name, hs) in enumerate(runs.items()):
        colour = f"C{i % 8}"
        for j, m in enumerate(metrics):
            curves = [_metric(h, m) for h in hs]
            length = min(len(c) for c in curves)
            if length == 0:
                continue
            y = np.array([c[:length] for c in curves])
            y, ylabel = _percent_if_fraction(y, m)
            ylabels.append(ylabel)
            if x == "time":
                t = np.array([_metric(h, "epoch_time")[:length] for h in hs])
                xs = np.cumsum(t.mean(axis=0))
            else:
                xs = np.arange(1, length + 1)
            mean = y.mean(axis=0)
            parts = [p for p in (name, ylabel.split(" (")[0] if len(metrics) > 1 else "") if p]
            label = " · ".join(parts) + (f" (mean of {len(hs)})" if len(hs) > 1 else "") if parts else None
            a.plot(xs, mean, color=colour, ls=styles[j % 4], lw=2, label=label,
                   marker="o" if x != "step" and length <= 30 else None, ms=3)
            if len(hs) > 1:
                sd = y.std(axis=0, ddof=1)
                a.fill_between(xs, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)
    xlabel = {"epoch": "epoch", "step": "training step", "time": "training time (s)"}[x]
    ylabel = ylabels[0] if len(set(ylabels)) == 1 else ", ".join(dict.fromkeys(ylabels))
    a.set(xlabel=xlabel, ylabel=ylabel, title=title or (ylabel[:1].upper() + ylabel[1:]))
    if log:
        a.set_yscale("log")
    if a.get_legend_handles_labels()[1]:
        a.legend()
    return a.figure


@_styled
def comparison_bars(
    comparison: Any,
    ax: Axes | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> Figure:
    """Mean over seeds as bars, one standard deviation as error bars, each seed as a dot.

    ``comparison`` is a :class:`cnnedu.train.Comparison` (``.results``, ``.mean``, ``.std``) or a dict
    name -> list of per-seed values. The dots let a reader judge whether a difference is within noise.
    """
    results = getattr(comparison, "results", comparison)
    if not isinstance(results, Mapping) or not results:
        raise ValueError("comparison must be a Comparison or a non-empty dict name -> per-seed values")
    metric = str(getattr(comparison, "metric", "") or "")
    names = list(results)
    seeds = [np.asarray(results[n], dtype=float).ravel() for n in names]
    if any(s.size == 0 for s in seeds):
        raise ValueError("every entry of comparison must hold at least one value")
    _, metric_label = _percent_if_fraction(np.concatenate(seeds), metric or "value")
    scale = 100.0 if "acc" in metric and np.concatenate(seeds).max() <= 1.0 else 1.0
    if hasattr(comparison, "mean") and hasattr(comparison, "std") and callable(comparison.mean):
        means = np.array([float(comparison.mean(n)) for n in names]) * scale
        stds = np.array([float(comparison.std(n)) for n in names]) * scale
    else:
        means = np.array([s.mean() for s in seeds]) * scale
        stds = np.array([s.std(ddof=1) if s.size > 1 else 0.0 for s in seeds]) * scale
    a = _axes(ax, figsize=(max(4.0, 1.1 * len(names) + 1.5), 4.0))
    pos = np.arange(len(names))
    colours = [f"C{i % 8}" for i in range(len(names))]
    a.bar(pos, means, yerr=stds, capsize=6, color=colours, alpha=0.55, error_kw={"lw": 1.5})
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for p, s, c in zip(pos, seeds, colours, strict=True):
        a.scatter(p + rng.uniform(-0.15, 0.15, s.size), s * scale, color=c, edgecolor="black", lw=0.5,
                  zorder=3, s=25)
    for p, m, sd in zip(pos, means, stds, strict=True):
        a.annotate(f"{m:.3g} ± {sd:.2g}", (p, m + sd), xytext=(0, 4), textcoords="offset points",
                   ha="center", fontsize=8)
    a.set_xticks(pos, names)
    n_seeds = sorted({s.size for s in seeds})
    seeds_text = f"{n_seeds[0]} seeds" if len(n_seeds) == 1 else "seeds"
    label = ylabel or (metric_label if metric else "value")
    a.set(ylabel=label, title=title or f"{label[:1].upper() + label[1:]}: mean ± std over {seeds_text}")
    lo = min(float((means - stds).min()), min(float(s.min()) for s in seeds) * scale)
    hi = max(float((means + stds).max()), max(float(s.max()) for s in seeds) * scale)
    span = hi - lo or abs(hi) or 1.0
    # bars start at zero unless that squeezes the differences flat (accuracies between 90 and 95 %): then
    # the axis starts just below the lowest seed, and the title says the axis is cut
    if lo < 0 or lo <= 2 * span:
        bottom = min(0.0, lo - 0.1 * span)
    else:
        bottom = lo - 0.5 * span
        a.text(0.01, 0.01, f"axis starts at {bottom:.3g}", transform=a.transAxes, fontsize=8, va="bottom",
               color="0.3")
    a.set_ylim(bottom, hi + 0.25 * span)
    return a.figure


# ---------------------------------------------------------------------------------------------------------
# Matrices and scaling laws.


@_styled
def heatmap(
    matrix: Any,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    colorbar_label: str | None = None,
    annotate: bool | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """A matrix as coloured cells with a colour bar.

    DenseNet's Fig. 5 (average weight from each earlier layer, arXiv:1608.06993) or SENet's excitations per
    class (arXiv:1709.01507, Fig. 6).

    ``annotate`` writes the values in the cells (by default when the matrix has at most 12 x 12 cells).
    """
    m = _as_numpy(matrix)
    if m.ndim != 2:
        raise ValueError(f"matrix must be two-dimensional, got shape {m.shape}")
    for labels, n, what in ((row_labels, m.shape[0], "row_labels"), (col_labels, m.shape[1], "col_labels")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{what} must have {n} entries, got {len(labels)}")
    a = _axes(ax, figsize=(max(4.0, 0.45 * m.shape[1] + 2), max(3.0, 0.4 * m.shape[0] + 1.5)))
    im = a.imshow(m, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax, interpolation="nearest")
    a.grid(False)
    cb = a.figure.colorbar(im, ax=a)
    if colorbar_label:
        cb.set_label(colorbar_label)
    if row_labels is not None:
        a.set_yticks(range(m.shape[0]), row_labels)
    if col_labels is not None:
        rotate = max((len(str(c)) for c in col_labels), default=0) > 4
        a.set_xticks(range(m.shape[1]), col_labels, rotation=45 if rotate else 0,
                     ha="right" if rotate else "center")
    if annotate is None:
        annotate = m.shape[0] <= 12 and m.shape[1] <= 12
    if annotate:
        mid = np.nanmean([np.nanmin(m), np.nanmax(m)])
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                a.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7,
                       color="black" if v > mid else "white")
    a.set(xlabel=xlabel or "", ylabel=ylabel or "", title=title or "")
    return a.figure


@_styled
def scaling_curves(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    xlabel: str = "x",
    ylabel: str = "value",
    log: bool | str = False,
    marks: Mapping[str, float] | Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Curves of cost against a scaling knob with points marked.

    E.g. EfficientNet's MACs against phi (arXiv:1905.11946, eq. 3) with B0-B7 marked.

    ``marks`` is a dict label -> x (a labelled dot on every curve, interpolated between samples) or a list of
    x values. ``log`` is True (y axis), "x", "y" or "both".
    """
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1 or xs.size < 1:
        raise ValueError(f"x must be a non-empty one-dimensional sequence, got shape {xs.shape}")
    if not series:
        raise ValueError("series must hold at least one curve name -> values")
    if log not in (True, False, "x", "y", "both"):
        raise ValueError(f"log must be True, False, 'x', 'y' or 'both', got {log!r}")
    mark_items = list(marks.items()) if isinstance(marks, Mapping) else [(None, v) for v in (marks or [])]
    a = _axes(ax, figsize=(7.0, 4.0))
    order = np.argsort(xs)
    for i, (name, values) in enumerate(series.items()):
        ys = np.asarray(values, dtype=float)
        if ys.shape != xs.shape:
            raise ValueError(f"series[{name!r}] must have one value per x ({xs.size}), got shape {ys.shape}")
        colour = f"C{i % 8}"
        a.plot(xs, ys, color=colour, lw=2, label=name)
        for label, mx in mark_items:
            my = float(np.interp(mx, xs[order], ys[order]))
            a.plot([mx], [my], "o", color=colour, mec="black", mew=0.6, ms=6, zorder=3)
            if label is not None:
                a.annotate(str(label), (mx, my), xytext=(4, 5), textcoords="offset points", fontsize=8)
    a.set(xlabel=xlabel, ylabel=ylabel, title=title or ylabel)
    if log in (True, "y", "both"):
        a.set_yscale("log")
    if log in ("x", "both"):
        a.set_xscale("log")
    a.yaxis.set_major_formatter(_SI_FORMATTER)
    a.legend()
    return a.figure


# ---------------------------------------------------------------------------------------------------------
# Saving for slides.


def _repository_root() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() or (root / ".git").exists() else None


def save_figure(fig: Figure, name: str, directory: str | Path = "figures") -> tuple[Path, Path]:
    """Write ``name.png`` (150 dpi) and ``name.svg`` for slides; returns both paths.

    A relative ``directory`` is taken from the repository root when cnnedu runs from its checkout, else from
    the current directory; it is created when missing. The environment variable ``CNNEDU_FIGURES`` replaces
    the default folder (the test suite points it at a scratch folder, so that running the notebooks under
    test leaves the repository's ``figures/`` as it was).
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    stem = Path(str(name))
    if not str(name) or stem.name != str(name) or stem.name in (".", ".."):
        raise ValueError(f"name must be a plain file name without directories, got {name!r}")
    if stem.suffix.lower() in (".png", ".svg"):
        stem = Path(stem.stem)
    folder = Path(directory)
    if str(directory) == "figures" and os.environ.get("CNNEDU_FIGURES"):
        folder = Path(os.environ["CNNEDU_FIGURES"])
    if not folder.is_absolute():
        folder = (_repository_root() or Path.cwd()) / folder
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    fig.savefig(png, dpi=150, bbox_inches="tight", metadata={"Software": None})
    # svg text stays text (editable on slides) instead of paths; a fixed salt and no date keep the file
    # identical from run to run, so regenerating figures does not churn the repository
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cnnedu"}):
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return png, svg


# ---------------------------------------------------------------------------------------------------------
# Per-layer profiles over seeds.


@_styled
def depth_profile(
    layers: Sequence[str],
    runs: Mapping[str, Sequence[Sequence[float]]],
    ax: Axes | None = None,
    ylabel: str = "value",
    log: bool = True,
    marks: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """One value per layer, input to output, for several settings: each seed thin, the mean thick.

    E.g. the gradient norm per row of GoogLeNet's Table 1 with and without the auxiliary losses
    (arXiv:1409.4842, Section 5). ``runs`` maps a setting to one sequence per seed of one value per layer;
    with ``log`` the y axis is logarithmic and the mean geometric. ``marks`` maps a label to a layer, drawn
    as a dashed vertical line (where an auxiliary head attaches).
    """
    names = [str(n) for n in layers]
    if not names:
        raise ValueError("layers must name at least one layer")
    if not runs:
        raise ValueError("runs must hold at least one setting -> per-seed values")
    a = _axes(ax, figsize=(8.0, 4.0))
    pos = np.arange(len(names))
    for i, (label, per_seed) in enumerate(runs.items()):
        values = np.asarray(per_seed, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(names) or values.shape[0] < 1:
            raise ValueError(f"runs[{label!r}] must hold one sequence of {len(names)} values per seed, got "
                             f"shape {values.shape}")
        if log and not (values > 0).all():
            raise ValueError(f"runs[{label!r}] must be positive on a log axis")
        colour = f"C{i % 8}"
        for row in values:
            a.plot(pos, row, color=colour, lw=0.8, alpha=0.35)
        mean = np.exp(np.log(values).mean(axis=0)) if log else values.mean(axis=0)
        a.plot(pos, mean, color=colour, lw=2.2, marker="o", ms=4,
               label=f"{label} ({'geometric ' if log else ''}mean of {values.shape[0]})")
    for label, layer in (marks or {}).items():
        if str(layer) not in names:
            raise ValueError(f"marks[{label!r}] must be one of the layers, got {layer!r}")
        x = names.index(str(layer))
        a.axvline(x, color="0.45", ls="--", lw=1)
        a.annotate(str(label), (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                   textcoords="offset points", fontsize=8, color="0.3")
    if log:
        a.set_yscale("log")
    a.set_xticks(pos, names)
    a.set(xlabel="layer (input to output)", ylabel=ylabel, title=title or ylabel)
    a.legend(loc="lower right", fontsize=8)
    return a.figure
