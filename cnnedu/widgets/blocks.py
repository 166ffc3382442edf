"""Explorers of the blocks the papers add: squeeze-and-excitation, Swish, dense growth, ResNeXt cardinality."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cnnedu.widgets._core import (
    _FAST,
    Explorer,
    _animate,
    _check_int,
    _check_number,
    _explorer,
    _figure,
    _si,
    _slider,
)

# ---------------------------------------------------------------------------------------------------------
# Squeeze-and-excitation: the reduction ratio r (Hu et al., arXiv:1709.01507, Section 6.1, Table 10).

# Table 10: SE-ResNet-50 parameters (millions) by reduction ratio r; ResNet-50 itself 25.6 M.
SE_TABLE10 = {2: 45.7, 4: 35.7, 8: 30.7, 16: 28.1, 32: 26.9}
# Table 10: SE-ResNet-50 top-1 error (%) on ImageNet by r; ResNet-50 itself 23.30 % (the same table)
SE_TABLE10_TOP1 = {2: 22.29, 4: 22.25, 8: 22.26, 16: 22.28, 32: 22.72}
RESNET50_TOP1 = 23.30
# ResNet-50's bottleneck output channels per stage, blocks per stage and feature map size at 224 px
# (He et al., arXiv:1512.03385, Table 1): where the 16 SE units of SE-ResNet-50 sit.
_RESNET50_SE = [(256, 3, 56), (512, 4, 28), (1024, 6, 14), (2048, 3, 7)]


@functools.lru_cache(maxsize=1)
def _resnet50_cost() -> tuple[int, int]:
    """(params, MACs) of ResNet-50 v1 at 224 px, counted once on the meta device."""
    import torch

    from cnnedu.analysis import count_macs, count_params
    from cnnedu.models import resnet

    with torch.device("meta"):
        model = resnet(50, variant="v1")
    return count_params(model), count_macs(model)


def _squeeze(channels: int, reduction: float) -> int:
    # as cnnedu.blocks.SqueezeExcite: C // r, at least one unit
    return max(1, int(channels // reduction))


def se_numbers(reduction: float = 16, channels: int = 256, size: int | None = None) -> dict[str, Any]:
    """Added parameters and MACs of one SE block and of all 16 in SE-ResNet-50 (Hu et al., Table 10).

    One SE block on C channels: two FC layers C -> C/r -> C, 2 C^2/r weights plus C/r + C biases; as it
    runs on the pooled 1 x 1 map, its MACs equal its weights. The "1x1-conv alternative" spends the same
    weights on the same two layers as 1x1 convolutions over the whole ``size`` x ``size`` map (default: the
    map where ResNet-50 has C channels, else 14), which costs size^2 times the MACs.
    """
    channels = _check_int("channels", channels, 1)
    ok = not isinstance(reduction, bool) and isinstance(reduction, (int, float, np.number))
    if not ok or not math.isfinite(reduction) or not 0 < reduction <= channels:
        raise ValueError(f"reduction must be a number in (0, channels={channels}], got {reduction!r}")
    if size is None:
        size = {c: s for c, _, s in _RESNET50_SE}.get(channels, 14)
    size = _check_int("size", size, 1)
    s = _squeeze(channels, reduction)
    weights, biases = 2 * channels * s, s + channels
    base_params, base_macs = _resnet50_cost()
    net_params = net_macs = net_alt_macs = 0
    for c, blocks, hw in _RESNET50_SE:
        sq = _squeeze(c, reduction)
        net_params += blocks * (2 * c * sq + sq + c)
        net_macs += blocks * 2 * c * sq
        net_alt_macs += blocks * 2 * c * sq * hw * hw
    in_table = float(reduction).is_integer()
    paper = SE_TABLE10.get(int(reduction)) if in_table else None
    paper_top1 = SE_TABLE10_TOP1.get(int(reduction)) if in_table else None
    return {
        "reduction": reduction, "channels": channels, "squeeze": s, "size": size,
        "block_weights": weights, "block_biases": biases, "block_params": weights + biases, "block_macs": weights,
        "alt_params": weights + biases, "alt_macs": weights * size * size,
        "resnet50_params": base_params, "resnet50_macs": base_macs,
        "se_params": net_params, "se_macs": net_macs,
        "net_params": base_params + net_params, "net_macs": base_macs + net_macs,
        "net_alt_macs": base_macs + net_alt_macs, "paper_params_m": paper, "paper_top1": paper_top1,
    }


def se_update(reduction: float = 16, channels: int = 256) -> Figure:
    """SE cost against r: SE-ResNet-50's parameters and Table 10's top-1 error, one block beside a 1x1 conv.

    Hu et al. (arXiv:1709.01507), Section 3.2 (eq. 3: two FC layers around a ReLU, ratio r), Table 10. The
    left panel's second y axis carries Table 10's top-1 errors (only the five trained values of r exist).
    """
    nums = se_numbers(reduction, channels)
    fig, (ax, ax_b) = _figure(2, width=5.4, height=4.2)
    rs = np.unique(np.round(np.geomspace(1, 256, 49)).astype(int))
    curve = [se_numbers(int(r), 256)["net_params"] for r in rs]
    base = nums["resnet50_params"]
    ax.plot(rs, np.array(curve) / 1e6, lw=2, label="SE-ResNet-50 (cnnedu)")
    ax.plot(list(SE_TABLE10), list(SE_TABLE10.values()), "kx", ms=8, mew=2, label="paper, Table 10")
    ax.axhline(base / 1e6, color="0.4", ls="--", lw=1, label=f"ResNet-50 {base / 1e6:.1f} M")
    r_now = min(float(reduction), 256.0)
    _animate(ax.plot([r_now], [nums["net_params"] / 1e6], "o", color="C1", ms=9, mec="black",
                     label="the slider's r"))
    ax.set_xscale("log", base=2)
    ax.set(xlabel="reduction ratio r", ylabel="parameters (M)")
    # second y axis: what each r costs in accuracy, Table 10's top-1 errors (static) and the slider's row
    ax_err = ax.twinx()
    ax_err.plot(list(SE_TABLE10_TOP1), list(SE_TABLE10_TOP1.values()), "s:", color="C2", ms=5,
                label="top-1 error, Table 10")
    ax_err.axhline(RESNET50_TOP1, color="C2", ls="-.", lw=1, label=f"ResNet-50 error {RESNET50_TOP1:.2f} %")
    top1 = nums["paper_top1"]
    _animate(ax_err.plot([r_now], [math.nan if top1 is None else top1], "D", color="C2", ms=8, mec="black"))
    ax_err.set_ylim(21.9, 23.9)  # fixed, so that moving r redraws only the markers (FigureRenderer)
    ax_err.set_ylabel("ImageNet top-1 error (%), Table 10", color="C2")
    ax_err.tick_params(axis="y", colors="C2")
    row = (f"Table 10: {nums['paper_params_m']} M, top-1 {top1:.2f} %" if top1 is not None
           else "r not in Table 10")
    ax.set_title(f"SE-ResNet-50 vs r; r = {reduction:g}: {nums['net_params'] / 1e6:.1f} M here\n{row}", fontsize=9)
    _animate(ax.title)
    handles = [h for a in (ax, ax_err) for h in a.get_legend_handles_labels()[0]]
    ax_err.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right")
    labels = ["SE block\n(on pooled 1×1)", f"same weights as\n1×1 convs on {nums['size']}×{nums['size']}"]
    params = [nums["block_params"], nums["alt_params"]]
    macs = [nums["block_macs"], nums["alt_macs"]]
    x = np.arange(2)
    bars_p = ax_b.bar(x - 0.2, params, 0.4, label="parameters", color="C0")
    bars_m = ax_b.bar(x + 0.2, macs, 0.4, label="MACs", color="C3")
    for bars in (bars_p, bars_m):
        _animate(bars)
        for b in bars:
            _animate(ax_b.annotate(_si(b.get_height()), (b.get_x() + b.get_width() / 2, b.get_height()),
                                   ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points"))
    ax_b.set_yscale("log")
    # limits that depend on C alone, so that moving r redraws only the bars (FigureRenderer)
    smallest = se_numbers(min(64, channels), channels, nums["size"])["block_params"]
    ax_b.set_ylim(smallest / 3, se_numbers(1, channels, nums["size"])["alt_macs"] * 8)
    ax_b.set_xticks(x, labels)
    ax_b.set(ylabel="count (log scale)",
             title=f"One block, C = {channels}, r = {reduction:g}: 2C²/r = {nums['block_weights']:,}\n"
                   f"+ {nums['block_biases']:,} biases; whole net +{_si(nums['se_macs'])} MACs "
                   f"(1×1 alternative +{_si(nums['net_alt_macs'] - nums['resnet50_macs'])})")
    ax_b.title.set_fontsize(9)
    _animate(ax_b.title)
    ax_b.legend(fontsize=8)
    return fig


def se_widget() -> Explorer:
    """Sliders for the reduction ratio r and the channels C over :func:`se_update`."""
    return _explorer(se_update, {
        "reduction": _slider("IntSlider", "reduction r", value=16, min=1, max=64),
        "channels": _slider("SelectionSlider", "channels C", value=256, options=[64, 128, 256, 512, 1024, 2048]),
    })


# ---------------------------------------------------------------------------------------------------------
# Swish (Ramachandran, Zoph and Le, arXiv:1710.05941, eq. 1) beside ReLU and h-swish.

# x sigmoid(x) has its minimum at x* = -1.2784645 (where 1 + x + e^x = 0), value -0.2784645; since
# swish_beta(x) = swish_1(beta x) / beta, both scale as 1 / beta.
_SWISH_ARGMIN = -1.2784645427610738


def swish_numbers(beta: float = 1.0) -> dict[str, float]:
    """Facts about Swish x sigmoid(beta x): minimum, slope at 0, limits beta -> 0 (x/2) and infinity (ReLU)."""
    beta = _check_number("beta", beta, 0.0, inclusive=True)
    x_min = _SWISH_ARGMIN / beta if beta > 0 else -math.inf
    value_min = x_min / (1 + math.exp(-beta * x_min)) if beta > 0 else -math.inf
    x = np.linspace(-6.0, 6.0, 2401)
    y = x / (1 + np.exp(-beta * x))
    return {"beta": beta, "x_min": x_min, "min": value_min, "slope_at_0": 0.5,
            "max_gap_to_relu": float(np.max(np.abs(y - np.maximum(x, 0.0))))}


def swish_update(beta: float = 1.0) -> Figure:
    """Swish x sigmoid(beta x) and its derivative beside ReLU, Swish-1 and h-swish (arXiv:1710.05941, Fig. 4).

    The slider's curve, its minimum and the title are animated (redrawn alone when beta moves).
    """
    import torch

    from cnnedu.viz import activation, activation_curves, activation_derivative

    nums = swish_numbers(beta)
    fig, axes = _figure(2, width=5.0, height=3.8)
    activation_curves(("relu", "swish", "hard_swish"), beta=1.0, ax=axes)
    x = torch.linspace(-6.0, 6.0, 1201, dtype=torch.float64)
    with torch.no_grad():
        y = activation("swish", beta)(x)
    dy = activation_derivative("swish", x, beta)
    _animate(axes[0].plot(x.numpy(), y.numpy(), color="C3", lw=2.5, label="Swish, the slider's β"),
             axes[1].plot(x.numpy(), dy.numpy(), color="C3", lw=2.5))
    if beta > 0:
        _animate(axes[0].plot([nums["x_min"]], [nums["min"]], "o", color="C3", mec="black", ms=6))
    axes[0].legend(fontsize=9, loc="upper left")  # a fixed place: "best" would move with the animated curve
    axes[0].set_ylim(-1.5, 6.2)
    axes[1].set_ylim(-0.6, 1.6)
    _animate(fig.suptitle(f"Swish with β = {beta:g}: minimum {nums['min']:.3f} at x = {nums['x_min']:.2f}; "
                          f"β → 0 gives x/2, β → ∞ gives ReLU (largest gap to ReLU here "
                          f"{nums['max_gap_to_relu']:.3f})", fontsize=10))
    return fig


def swish_widget() -> Explorer:
    """A slider for beta over :func:`swish_update`."""
    return _explorer(swish_update, {
        "beta": _slider("FloatSlider", "β", value=1.0, min=0.0, max=10.0, step=0.1),
    })


# ---------------------------------------------------------------------------------------------------------
# DenseNet: growth rate k, layers L and compression theta of one dense block (Huang et al., arXiv:1608.06993,
# Section 3).


def growth_numbers(k: int = 12, layers: int = 16, theta: float = 0.5, k0: int = 24) -> dict[str, Any]:
    """Input channels k0 + k (l - 1) of each layer of a dense block and its parameters (arXiv:1608.06993, Sec. 3).

    Per layer on c input channels (BN: 2 per channel, convolutions without bias): ``2c + 4kc + 2 * 4k + 9 * 4k * k``
    with the 1x1 bottleneck to 4k (DenseNet-B), ``2c + 9ck`` without. The block ends with m = k0 + kL channels,
    the transition after it keeps floor(theta m) and has ``2m + m floor(theta m)`` parameters.
    """
    k, layers, k0 = _check_int("k", k, 1), _check_int("layers", layers, 1), _check_int("k0", k0, 1)
    theta = _check_number("theta", theta)
    if theta > 1:
        raise ValueError(f"theta must be a number in (0, 1], got {theta!r}")
    c_in = [k0 + k * (i - 1) for i in range(1, layers + 1)]
    m = k0 + k * layers
    m_out = math.floor(theta * m + 1e-9)
    return {"c_in": c_in, "bottleneck": [2 * c + 4 * k * c + 8 * k + 36 * k * k for c in c_in],
            "plain": [2 * c + 9 * c * k for c in c_in], "out": m, "transition_out": m_out,
            "transition_params": 2 * m + m * m_out}


def growth_update(k: int = 12, layers: int = 16, theta: float = 0.5, k0: int = 24) -> Figure:
    """Widths of a dense block's layers and their parameters with and without the bottleneck (Huang et al. 2017)."""
    nums = growth_numbers(k, layers, theta, k0)
    fig, (ax1, ax2) = _figure(2, width=5.5, height=3.8)
    idx = np.arange(1, layers + 1)
    ax1.bar(idx, nums["c_in"], color="C0", label="input channels $k_0 + k(\\ell-1)$")
    ax1.bar([layers + 1.5], [nums["transition_out"]], color="C3", hatch="//", label="after transition")
    ax1.axhline(nums["out"], color="C2", ls="--", lw=1, label=f"block output {nums['out']}")
    ax1.set(xlabel="layer $\\ell$ in the block", ylabel="channels",
            title=f"k={k}, L={layers}, $\\theta$={theta:.2f}: widths")
    ax1.legend(fontsize=8, loc="upper left")
    ax2.plot(idx, nums["plain"], "o-", color="C1", label=f"no bottleneck: {sum(nums['plain']):,} total")
    ax2.plot(idx, nums["bottleneck"], "s-", color="C0", label=f"bottleneck (B): {sum(nums['bottleneck']):,} total")
    ax2.set(xlabel="layer $\\ell$ in the block", ylabel="parameters of the layer", title="parameters per layer")
    ax2.legend(fontsize=8, loc="upper left")
    return fig


def growth_widget() -> Explorer:
    """Sliders for the growth rate k, the layers L and the compression theta over :func:`growth_update`."""
    return _explorer(growth_update, {
        "k": _slider("IntSlider", "growth rate k", value=12, min=4, max=48, step=4),
        "layers": _slider("IntSlider", "layers L", value=16, min=2, max=48),
        "theta": _slider("FloatSlider", "theta", value=0.5, min=0.1, max=1.0, step=0.05),
    })


# ---------------------------------------------------------------------------------------------------------
# ResNeXt: the bottleneck width that keeps a block's cost for any cardinality (Xie et al., arXiv:1611.05431,
# Section 3.3, eq. 4 and Table 2).


def cardinality_numbers(cardinality: int = 32, channels: int = 256, reference_width: int = 64) -> dict[str, Any]:
    """The template C x d at the cost of a ``reference_width`` ResNet bottleneck, and where its weights sit.

    Xie et al. (arXiv:1611.05431), Section 3.3: d solves C (2 channels d + 9 d^2) = 2 channels w0 + 9 w0^2,
    rounded (``template_width``); for 256 channels this gives Table 2 (1x64d ... 32x4d). ``parts`` are the
    weights of the 1x1 reduce, the grouped 3x3 and the 1x1 expand (``block_parts``).
    """
    from cnnedu.models.resnext import RESNEXT_TABLE2, block_parts, resnext_block_params, template_width

    channels = _check_int("channels", channels, 1)
    reference_width = _check_int("reference_width", reference_width, 1)
    cardinality = _check_int("cardinality", cardinality, 1)
    width = template_width(cardinality, channels, reference_width)
    if width < 1:
        most = max(c for c in range(1, cardinality) if template_width(c, channels, reference_width) >= 1)
        raise ValueError(f"cardinality must be an integer in [1, {most}] for channels={channels} and "
                         f"reference_width={reference_width} (beyond, the width rounds to 0), got {cardinality!r}")
    params, reference = resnext_block_params(cardinality, width, channels), resnext_block_params(
        1, reference_width, channels)
    paper = RESNEXT_TABLE2.get(cardinality) if (channels, reference_width) == (256, 64) else None
    return {"cardinality": cardinality, "width": width, "inner": cardinality * width,
            "parts": block_parts(cardinality, width, channels), "params": params, "reference_params": reference,
            "change": params / reference - 1, "paper_width": None if paper is None else paper[0]}


def cardinality_update(cardinality: int = 32) -> Figure:
    """Left: d and C*d against C at preserved complexity, Table 2 marked. Right: the weights per layer.

    Xie et al. (arXiv:1611.05431), Table 2 and eq. 4: more paths are thinner, yet the grouped 3x3 gets wider,
    and the dense 1x1 layers around it take over the weights.
    """
    from matplotlib.ticker import FuncFormatter

    from cnnedu.models.resnext import RESNEXT_TABLE2

    nums = cardinality_numbers(cardinality)
    fig, (ax_w, ax_p) = _figure(2, width=6.0, height=4.2)
    cs = list(range(1, 65))
    rows = {c: cardinality_numbers(c) for c in sorted(set(cs) | set(RESNEXT_TABLE2) | {cardinality})}
    ax_w.plot(cs, [rows[c]["width"] for c in cs], color="C0", lw=2, label="bottleneck width d")
    ax_w.plot(cs, [rows[c]["inner"] for c in cs], color="C1", lw=2, label="width of the grouped 3x3, C*d")
    for c, (paper_d, paper_cd) in RESNEXT_TABLE2.items():
        ax_w.plot([c, c], [paper_d, paper_cd], "s", color="0.3", ms=6, zorder=3)
        ax_w.annotate(f"{c}x{paper_d}d", (c, paper_cd), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax_w.plot([cardinality] * 2, [nums["width"], nums["inner"]], "*", color="red", ms=15, mec="black", zorder=4)
    ax_w.set(xscale="log", xlabel="cardinality C (log scale)", ylabel="channels",
             title="Width at preserved complexity (squares: Table 2)")
    ax_w.legend(loc="upper left")
    names = sorted(set(RESNEXT_TABLE2) | {cardinality})
    bottom = np.zeros(len(names))
    for i, part in enumerate(("1x1 reduce", "grouped 3x3", "1x1 expand")):
        values = np.array([rows[c]["parts"][part] for c in names])
        ax_p.bar(range(len(names)), values, bottom=bottom, color=f"C{i + 2}", label=part)
        bottom += values
    ax_p.axhline(nums["reference_params"], color="0.3", ls="--", lw=1, label="1x64d (ResNet-50)")
    ax_p.set_xticks(range(len(names)), [f"{c}x{rows[c]['width']}d" for c in names])
    ax_p.get_xticklabels()[names.index(cardinality)].set_color("red")
    ax_p.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _si(v)))
    ax_p.set(xlabel="template", ylabel="parameters per block", title="Where the parameters sit",
             ylim=(0, 1.35 * nums["reference_params"]))
    ax_p.legend(loc="upper center", ncol=2, fontsize=8)
    fig.suptitle(f"C = {cardinality}: d = {nums['width']}, grouped 3x3 of {nums['inner']} channels, "
                 f"{nums['params']:,} parameters per block ({100 * nums['change']:+.1f} % vs 1x64d)")
    return fig


def cardinality_widget() -> Explorer:
    """A slider for the cardinality C over :func:`cardinality_update`."""
    return _explorer(cardinality_update, {
        "cardinality": _slider("IntSlider", "cardinality C", value=32, min=1, max=64),
    })


_FAST.update({se_update: ("reduction",), swish_update: ("beta",)})  # the sliders that move only animated artists
