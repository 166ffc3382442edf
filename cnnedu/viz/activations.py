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
