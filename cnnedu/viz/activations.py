"""Activation functions and their curves: ReLU, ReLU6, tanh, sigmoid, Swish, hard sigmoid, h-swish.

Swish is Ramachandran et al. 2017 (x·sigmoid(βx)); hard sigmoid and h-swish are MobileNetV3, Section 5.2."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cnnedu.blocks import check_positive
from cnnedu.viz._style import _axes, _axes_pair, _styled

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
# Smooth curves against their hard copies, and what they do to a small network (MobileNetV3).


@_styled
def hard_vs_smooth(x_range: tuple[float, float] = (-6.0, 6.0), ax: Any = None) -> Figure:
    """Sigmoid beside the hard sigmoid, and Swish beside h-swish: two panels, the gap between each pair shaded.

    Howard et al. 2019, *Searching for MobileNetV3* (arXiv:1905.02244), Sec. 5.2: hard-sigmoid(x) =
    ReLU6(x + 3) / 6 replaces the sigmoid, and h-swish(x) = x hard-sigmoid(x) replaces Swish x sigmoid(x)
    (Ramachandran et al., arXiv:1710.05941). The title of each panel gives the largest gap on ``x_range``.
    ``ax`` may be a pair of Axes.
    """
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    pair = _axes_pair(ax, (10.0, 3.8))
    if pair is None:
        raise ValueError("ax must be None or a pair of Axes (one panel per pair of curves)")
    x = torch.linspace(lo, hi, 1201, dtype=torch.float64)
    for a, (smooth, hard) in zip(pair, (("sigmoid", "hard_sigmoid"), ("swish", "hard_swish")), strict=True):
        with torch.no_grad():
            ys, yh = activation(smooth)(x), activation(hard)(x)
        gap = (ys - yh).abs()
        a.plot(x.numpy(), ys.numpy(), color=_COLOURS[smooth], lw=2, label=_PRETTY[smooth] + " (needs exp)")
        a.plot(x.numpy(), yh.numpy(), color=_COLOURS[hard], lw=2, ls="--", label=_PRETTY[hard] + " (ReLU6 only)")
        a.fill_between(x.numpy(), ys.numpy(), yh.numpy(), color="0.6", alpha=0.3, lw=0)
        for knee in (-3.0, 3.0):
            if lo < knee < hi:
                a.axvline(knee, color="0.7", lw=0.8, ls=":")
        a.axhline(0, color="0.5", lw=0.8)
        a.set(xlabel="input x", xlim=(lo, hi),
              title=f"{_PRETTY[smooth]} vs {_PRETTY[hard]}: largest gap {gap.max().item():.3f}")
        a.legend(fontsize=9, loc="upper left")
    pair[0].set_ylabel("f(x)")
    return pair[0].figure


def random_mlp(activation: Callable[[], torch.nn.Module], seed: int = 0, width: int = 64) -> torch.nn.Sequential:
    """A random MLP 2 -> width -> width -> 1 in float64 with the activation module class ``activation``.

    He-normal weights and N(0, 0.5²) biases drawn from ``seed`` (the same for every activation), leaving the
    global random state untouched; used to compare ReLU, Swish and h-swish on the same weights (MobileNetV3,
    Howard et al. 2019, arXiv:1905.02244, Sec. 5.2).
    """
    if not callable(activation):
        raise ValueError(f"activation must be a module class such as nn.ReLU, got {activation!r}")
    if int(width) < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    nn = torch.nn
    with torch.random.fork_rng():  # construction and initialisation both draw from the forked state
        net = nn.Sequential(nn.Linear(2, width), activation(), nn.Linear(width, width), activation(),
                            nn.Linear(width, 1)).double()
        torch.manual_seed(seed)
        for layer in net[::2]:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.normal_(layer.bias, std=0.5)
    return net


def output_landscape(net: torch.nn.Module, n: int = 161, span: float = 3.0) -> torch.Tensor:
    """The output of a 2-input network on an n x n grid over [-span, span]² (rows: y, columns: x)."""
    if int(n) < 3:
        raise ValueError(f"n must be an integer >= 3, got {n!r}")
    check_positive("span", span)
    axis = torch.linspace(-span, span, int(n), dtype=torch.float64)
    xy = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1)
    with torch.no_grad():
        return net(xy.reshape(-1, 2)).reshape(int(n), int(n))


def second_difference(z: torch.Tensor) -> torch.Tensor:
    """|f(x+h) - 2f(x) + f(x-h)| along x plus the same along y, at the interior points of a 2-D grid."""
    if z.dim() != 2 or min(z.shape) < 3:
        raise ValueError(f"z must be a 2-D grid of at least 3 x 3 values, got shape {tuple(z.shape)}")
    d2x = (z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]).abs()
    d2y = (z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]).abs()
    return d2x + d2y


def roughness(z: torch.Tensor) -> float:
    """Mean absolute second difference of a 2-D grid, x and y averaged (0 for a plane)."""
    return second_difference(z).mean().item() / 2


@_styled
def output_landscapes(surfaces: dict[str, torch.Tensor], span: float = 3.0, title: str | None = None) -> Figure:
    """Network outputs on a grid (top row) and log10 of their second differences, the creases (bottom row).

    One column per entry of ``surfaces`` (name -> n x n grid from :func:`output_landscape`), a shared colour
    scale per row. Shows that a ReLU network is piecewise linear with creases, a Swish network smooth, and an
    h-swish network creased at the knees ±3 of the hard sigmoid (Howard et al. 2019, arXiv:1905.02244,
    Sec. 5.2; Ramachandran et al. 2017, arXiv:1710.05941).
    """
    check_positive("span", span)
    if not surfaces:
        raise ValueError("surfaces must map at least one name to a 2-D grid")
    for name, z in surfaces.items():
        if z.dim() != 2 or min(z.shape) < 3:
            raise ValueError(f"surfaces[{name!r}] must be a 2-D grid of at least 3 x 3, got {tuple(z.shape)}")
    import matplotlib.pyplot as plt

    low = min(z.min().item() for z in surfaces.values())
    high = max(z.max().item() for z in surfaces.values())
    k = len(surfaces)
    fig, axes = plt.subplots(2, k, figsize=(3.0 * k + 0.5, 6), squeeze=False)
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.02, top=0.9, wspace=0.05, hspace=0.12)
    extent = (-span, span, -span, span)
    for (name, z), top, bottom in zip(surfaces.items(), axes[0], axes[1], strict=True):
        out = top.imshow(z.numpy(), origin="lower", extent=extent, cmap="viridis", vmin=low, vmax=high,
                         interpolation="nearest")
        crease = bottom.imshow(second_difference(z).clamp_min(1e-6).log10().numpy(), origin="lower",
                               extent=extent, cmap="magma", vmin=-6, vmax=-1, interpolation="nearest")
        top.set_title(name)
        for a in (top, bottom):
            a.grid(False)
            a.set_xticks([])
            a.set_yticks([])
    axes[0, 0].set_ylabel("output f(x, y)")
    axes[1, 0].set_ylabel("creases")
    fig.colorbar(out, ax=list(axes[0]), shrink=0.8, pad=0.02, label="f(x, y)")
    fig.colorbar(crease, ax=list(axes[1]), shrink=0.8, pad=0.02, label="log10 |second difference|")
    if title:
        fig.suptitle(title)
    return fig
