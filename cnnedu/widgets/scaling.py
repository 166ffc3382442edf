"""Explorers of whole-network scaling: MobileNet's width and resolution, EfficientNet's phi, WRN's depth and width."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cnnedu.analysis import conv_output_size
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
# MobileNet v1: width multiplier alpha and resolution rho (Howard et al., arXiv:1704.04861, Sections 3.3-3.4).

# Table 6 (224 px): width multiplier -> (Mult-Adds in millions, parameters in millions).
MOBILENET_TABLE6 = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}
# Table 7 (width 1.0): resolution -> Mult-Adds in millions (4.2 M parameters each).
MOBILENET_TABLE7 = {224: 569, 192: 418, 160: 290, 128: 186}


def _mobilenet_cost(alpha: float, resolution: int, num_classes: int = 1000) -> tuple[int, int]:
    """(params, MACs) of MobileNet v1, computed from its Table 1 like ``cnnedu.models.mobilenet_v1`` builds it.

    Every convolution has batch norm (2 parameters per channel) and no bias; widths are
    max(int(c * alpha), 8) as in the released code.
    """
    from cnnedu.models.mobilenet_v1 import MOBILENET_V1_STAGES

    def width(c: int) -> int:
        return max(int(c * alpha), 8)

    n = conv_output_size(resolution, 3, 2, 1)
    c = width(32)
    params, macs = 27 * c + 2 * c, 27 * c * n * n
    for stride, out in MOBILENET_V1_STAGES:
        out = width(out)
        n = conv_output_size(n, 3, stride, 1)
        params += 9 * c + 2 * c + c * out + 2 * out  # depthwise 3x3 + BN, pointwise 1x1 + BN
        macs += (9 * c + c * out) * n * n
        c = out
    return params + c * num_classes + num_classes, macs + c * num_classes


def width_numbers(alpha: float = 1.0, resolution: int = 224) -> dict[str, Any]:
    """Parameters and MACs of MobileNet v1 at width ``alpha`` and ``resolution`` px, with the paper's figures.

    Howard et al. (arXiv:1704.04861): cost ~ alpha^2 rho^2 (Sections 3.3-3.4), Tables 6 and 7.
    """
    alpha = _check_number("alpha", alpha)
    resolution = _check_int("resolution", resolution, 1)
    params, macs = _mobilenet_cost(alpha, resolution)
    ref_params, ref_macs = _mobilenet_cost(1.0, 224)
    paper = MOBILENET_TABLE6.get(alpha) if resolution == 224 else None
    if alpha == 1.0 and resolution in MOBILENET_TABLE7:
        paper = (MOBILENET_TABLE7[resolution], 4.2)
    return {"alpha": alpha, "resolution": resolution, "params": params, "macs": macs,
            "macs_ratio": macs / ref_macs, "params_ratio": params / ref_params,
            "quadratic": alpha**2 * (resolution / 224) ** 2,
            "paper_macs_m": None if paper is None else paper[0],
            "paper_params_m": None if paper is None else paper[1]}


def width_update(alpha: float = 1.0, resolution: int = 224) -> Figure:
    """MobileNet v1's cost against alpha and rho, quadratic curves with the paper's Tables 6 and 7 marked."""
    nums = width_numbers(alpha, resolution)
    fig, (ax_a, ax_p, ax_r) = _figure(3, width=4.1, height=3.9)
    alphas = np.round(np.arange(0.1, 1.5001, 0.05), 2)
    macs_a = np.array([_mobilenet_cost(float(a), resolution)[1] for a in alphas]) / 1e6
    params_a = np.array([_mobilenet_cost(float(a), resolution)[0] for a in alphas]) / 1e6
    ref = _mobilenet_cost(1.0, resolution)
    ax_a.plot(alphas, macs_a, lw=2, label=f"cnnedu, {resolution} px")
    ax_a.plot(alphas, alphas**2 * ref[1] / 1e6, "--", color="0.5", lw=1, label="α² × cost(α=1)")
    t6 = list(MOBILENET_TABLE6.items())
    ax_a.plot([a for a, _ in t6], [m for _, (m, _p) in t6], "kx", ms=8, mew=2, label="paper, Table 6 (224 px)")
    _animate(ax_a.plot([alpha], [nums["macs"] / 1e6], "o", color="C1", ms=9, mec="black"))
    ax_a.set(xlabel="width multiplier α", ylabel="Mult-Adds (M)", title="MACs vs width")
    ax_a.legend(fontsize=7, loc="upper left")  # fixed places: "best" would move with the animated artists
    ax_p.plot(alphas, params_a, lw=2, color="C2", label="cnnedu")
    ax_p.plot(alphas, alphas**2 * ref[0] / 1e6, "--", color="0.5", lw=1, label="α² × params(α=1)")
    ax_p.plot([a for a, _ in t6], [p for _, (_m, p) in t6], "kx", ms=8, mew=2, label="paper, Table 6")
    _animate(ax_p.plot([alpha], [nums["params"] / 1e6], "o", color="C1", ms=9, mec="black"))
    ax_p.set(xlabel="width multiplier α", ylabel="parameters (M)", title="Parameters vs width")
    ax_p.legend(fontsize=7, loc="upper left")
    sizes = np.arange(96, 321, 16)
    macs_r = np.array([_mobilenet_cost(alpha, int(s))[1] for s in sizes]) / 1e6
    at224 = _mobilenet_cost(alpha, 224)[1] / 1e6
    _animate(ax_r.plot(sizes, macs_r, lw=2, color="C4", label="cnnedu, the slider's α"),
             ax_r.plot(sizes, (sizes / 224) ** 2 * at224, "--", color="0.5", lw=1, label="ρ² × cost(224)"))
    ax_r.plot(list(MOBILENET_TABLE7), list(MOBILENET_TABLE7.values()), "kx", ms=8, mew=2,
              label="paper, Table 7 (α = 1)")
    _animate(ax_r.plot([resolution], [nums["macs"] / 1e6], "o", color="C1", ms=9, mec="black"))
    # fixed limits (the largest α and size), so that moving α redraws only the animated artists
    ax_r.set(xlabel="input resolution (px)", ylabel="Mult-Adds (M)", title="MACs vs resolution",
             xlim=(sizes[0] - 8, sizes[-1] + 8), ylim=(0, 1.05 * _mobilenet_cost(1.5, int(sizes[-1]))[1] / 1e6))
    ax_r.legend(fontsize=7, loc="upper left")
    paper = "" if nums["paper_macs_m"] is None else (
        f"  (paper: {nums['paper_macs_m']} M, {nums['paper_params_m']} M params)")
    _animate(fig.suptitle(f"MobileNet v1, α = {alpha:g}, {resolution} px: {nums['params']:,} parameters, "
                          f"{nums['macs'] / 1e6:.1f} M MACs{paper}", fontsize=11))
    return fig


def width_widget() -> Explorer:
    """Sliders for the width multiplier alpha and the resolution over :func:`width_update`."""
    return _explorer(width_update, {
        "alpha": _slider("FloatSlider", "width α", value=1.0, min=0.1, max=1.5, step=0.05),
        "resolution": _slider("IntSlider", "resolution", value=224, min=96, max=320, step=16),
    })


# ---------------------------------------------------------------------------------------------------------
# EfficientNet compound scaling (Tan and Le, arXiv:1905.11946, Section 3.3, eq. 3).

# Table 2: parameters (M) and FLOPs (billions of multiply-adds) of B0-B7.
EFFICIENTNET_TABLE2 = {"b0": (5.3, 0.39), "b1": (7.8, 0.70), "b2": (9.2, 1.0), "b3": (12, 1.8),
                       "b4": (19, 4.2), "b5": (30, 9.9), "b6": (43, 19), "b7": (66, 37)}


@functools.lru_cache(maxsize=4096)
def _efficientnet_cost(width: float, depth: float, resolution: int) -> tuple[int, int]:
    from cnnedu.models.efficientnet import efficientnet_cost

    return efficientnet_cost(width, depth, resolution)


def _released_phi() -> dict[str, float]:
    """Where each released model sits on the phi axis: ``cnnedu.models.efficientnet.released_phi``.

    One definition for the explorer and the notebook (least squares on the logarithms of width, depth and
    resolution, with the paper's alpha, beta, gamma = 1.2, 1.1, 1.15); the released B1-B7 were hand-rounded,
    so their three exponents disagree a little.
    """
    from cnnedu.models.efficientnet import released_phi

    return released_phi()


def phi_numbers(phi: float = 1.0, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> dict[str, Any]:
    """Depth, width, resolution, parameters and MACs of EfficientNet at compound coefficient ``phi``.

    Tan and Le (arXiv:1905.11946), eq. 3: d = alpha^phi, w = beta^phi, r = gamma^phi (times 224 px), with
    alpha beta^2 gamma^2 ~ 2 so that FLOPs grow about 2^phi. Costs from ``efficientnet_cost`` (filters and
    repeats rounded as the released code does), equal to counting ``cnnedu.models.efficientnet(phi, ...)``.
    """
    from cnnedu.models.efficientnet import RELEASED, resolution_for

    phi = _check_number("phi", phi, 0.0, inclusive=True)
    alpha, beta, gamma = (_check_number(n, v) for n, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)))
    depth, width, resolution = alpha**phi, beta**phi, resolution_for(phi, gamma)
    params, macs = _efficientnet_cost(width, depth, resolution)
    b0_macs = _efficientnet_cost(1.0, 1.0, 224)[1]
    released = {name: dict(zip(("params", "macs"), _efficientnet_cost(w, d, r), strict=True))
                | {"width": w, "depth": d, "resolution": r} for name, (w, d, r, _) in RELEASED.items()}
    return {"phi": phi, "alpha": alpha, "beta": beta, "gamma": gamma, "depth": depth, "width": width,
            "resolution": resolution, "params": params, "macs": macs, "flops_base": alpha * beta**2 * gamma**2,
            "macs_ratio": macs / b0_macs, "predicted_ratio": (alpha * beta**2 * gamma**2) ** phi,
            "released": released, "released_phi": _released_phi()}


def phi_update(phi: float = 1.0, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> Figure:
    """Compound scaling: multipliers, parameters and MACs against phi, released B0-B7 marked (Table 2)."""
    nums = phi_numbers(phi, alpha, beta, gamma)
    fig, (ax_m, ax_p, ax_c) = _figure(3, width=4.1, height=3.9)
    phis = np.linspace(0.0, 8.0, 33)
    cost = [_efficientnet_cost(beta**p, alpha**p, int(round(gamma**p * 224))) for p in phis]
    params = np.array([c[0] for c in cost]) / 1e6
    macs = np.array([c[1] for c in cost]) / 1e9
    rel, rel_phi = nums["released"], nums["released_phi"]
    xs = [rel_phi[n] for n in rel]
    ax_m.plot(phis, alpha**phis, lw=2, label="depth d = α^φ")
    ax_m.plot(phis, beta**phis, lw=2, label="width w = β^φ")
    ax_m.plot(phis, gamma**phis, lw=2, label="resolution r = γ^φ")
    ax_m.scatter(xs, [rel[n]["depth"] for n in rel], color="C0", edgecolor="black", zorder=3, s=25)
    ax_m.scatter(xs, [rel[n]["width"] for n in rel], color="C1", edgecolor="black", zorder=3, s=25)
    ax_m.scatter(xs, [rel[n]["resolution"] / 224 for n in rel], color="C2", edgecolor="black", zorder=3, s=25,
                 label="released B0-B7")
    _animate(ax_m.axvline(phi, color="0.3", ls=":", lw=1.5))
    ax_m.set(xlabel="compound coefficient φ", ylabel="multiplier over B0", title="Depth, width, resolution")
    ax_m.legend(fontsize=7, loc="upper left")  # a fixed place: "best" would move with the animated cursor
    for ax, curve, key, scale, unit, col in ((ax_p, params, "params", 1e6, "parameters (M)", 0),
                                             (ax_c, macs, "macs", 1e9, "MACs (G)", 1)):
        ax.plot(phis, curve, lw=2, color="C4", label="formula (eq. 3)")
        ax.scatter(xs, [rel[n][key] / scale for n in rel], color="C3", edgecolor="black", zorder=3, s=30,
                   label="released B0-B7 (cnnedu)")
        ax.scatter(xs, [EFFICIENTNET_TABLE2[n][col] for n in rel], marker="x", color="black", zorder=4, s=40,
                   label="paper, Table 2")
        for n, x in zip(rel, xs, strict=True):
            ax.annotate(n.upper(), (x, rel[n][key] / scale), xytext=(-14, 4), textcoords="offset points",
                        fontsize=7)
        _animate(ax.plot([phi], [nums[key] / scale], "o", color="C1", ms=9, mec="black", zorder=5))
        ax.set_yscale("log")
        ax.set(xlabel="compound coefficient φ", ylabel=unit)
        ax.legend(fontsize=7, loc="lower right")
    ax_p.set_title("Parameters")
    ax_c.set_title("MACs")
    _animate(fig.suptitle(
        f"φ = {phi:g}: depth {nums['depth']:.2f}, width {nums['width']:.2f}, {nums['resolution']} px → "
        f"{nums['params'] / 1e6:.1f} M params, {nums['macs'] / 1e9:.2f} G MACs "
        f"({nums['macs_ratio']:.2f}× B0; αβ²γ² = {nums['flops_base']:.3f}, (αβ²γ²)^φ = "
        f"{nums['predicted_ratio']:.2f})", fontsize=10))
    return fig


def phi_widget() -> Explorer:
    """Sliders for phi, alpha, beta and gamma over :func:`phi_update`."""
    return _explorer(phi_update, {
        "phi": _slider("FloatSlider", "φ", value=1.0, min=0.0, max=8.0, step=0.25),
        "alpha": _slider("FloatSlider", "α (depth)", value=1.2, min=1.0, max=2.0, step=0.05),
        "beta": _slider("FloatSlider", "β (width)", value=1.1, min=1.0, max=2.0, step=0.05),
        "gamma": _slider("FloatSlider", "γ (resolution)", value=1.15, min=1.0, max=2.0, step=0.05),
    })


# ---------------------------------------------------------------------------------------------------------
# Wide ResNet: parameters quadratic in the widen factor k, linear in the depth d (Zagoruyko and Komodakis,
# arXiv:1605.07146, Table 1; the paper's networks from Tables 4-5).


def wrn_numbers(depth: int = 28, k: float = 10) -> dict[str, Any]:
    """Parameters and MACs (32 px, 10 classes) of WRN-``depth``-``k``, with the paper's count where it gives one.

    Zagoruyko and Komodakis (arXiv:1605.07146), Table 1: N = (d - 4) / 6 blocks per group, widths 16k, 32k,
    64k. ``k_to_2k`` is the parameter ratio when k doubles (about 4), ``per_block_row`` what one more block per
    group (d -> d + 6) adds (a constant for a given k).
    """
    from cnnedu.models.wide_resnet import WRN_PAPER_PARAMS, wide_resnet_cost

    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth!r}")
    depth, k = int(depth), _check_number("k", k)
    params, macs = wide_resnet_cost(depth, k)
    paper = WRN_PAPER_PARAMS.get((depth, k))
    return {"depth": depth, "k": k, "blocks_per_group": (depth - 4) // 6, "params": params, "macs": macs,
            "k_to_2k": wide_resnet_cost(depth, 2 * k)[0] / params,
            "per_block_row": wide_resnet_cost(depth + 6, k)[0] - params, "paper_params": paper}


def wrn_update(depth: int = 28, k: float = 10) -> Figure:
    """Parameters against k (a parabola) and against d (a line), the paper's networks and WRN-d-k marked.

    Zagoruyko and Komodakis (arXiv:1605.07146), Table 1 (structure), Tables 4-5 (the networks marked).
    """
    from matplotlib.ticker import FuncFormatter

    from cnnedu.models.wide_resnet import WRN_PAPER_PARAMS, wide_resnet_cost

    nums = wrn_numbers(depth, k)
    fig, (ax_k, ax_d) = _figure(2, width=6.0, height=4.2)
    ks, ds = np.arange(1, 13), np.arange(10, 53, 6)
    for i, d in enumerate(sorted({16, 28, 40, nums["depth"]})):
        ax_k.plot(ks, [wide_resnet_cost(d, int(kk))[0] for kk in ks], color=f"C{i}", lw=2, label=f"d = {d}")
    for i, kk in enumerate(sorted({4.0, 8.0, 10.0, nums["k"]})):
        ax_d.plot(ds, [wide_resnet_cost(int(d), kk)[0] for d in ds], color=f"C{i}", lw=2, label=f"k = {kk:g}")
    for d, kk in WRN_PAPER_PARAMS:
        params = wide_resnet_cost(d, kk)[0]
        for ax, xv in ((ax_k, kk), (ax_d, d)):
            ax.plot([xv], [params], "s", color="0.3", ms=6, zorder=3)
            ax.annotate(f"WRN-{d}-{kk}", (xv, params), xytext=(4, -11), textcoords="offset points", fontsize=8)
    for ax, xv in ((ax_k, nums["k"]), (ax_d, nums["depth"])):
        ax.plot([xv], [nums["params"]], "*", color="red", ms=16, mec="black", zorder=4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _si(v)))
        ax.set_ylabel("parameters (10 classes)")
        ax.legend(loc="upper left")
    ax_k.set(xlabel="widen factor k", title=f"Quadratic in k: k -> 2k multiplies by {nums['k_to_2k']:.2f}")
    ax_d.set(xlabel="depth d = 6N + 4", title=f"Linear in d: d -> d + 6 adds {nums['per_block_row']:,}")
    paper = "" if nums["paper_params"] is None else f" (paper: {nums['paper_params'] / 1e6:.1f} M)"
    fig.suptitle(f"WRN-{nums['depth']}-{nums['k']:g}: {nums['params']:,} parameters{paper}, {_si(nums['macs'])} "
                 f"MACs at 32 px (squares: the paper's networks)")
    return fig


def wrn_widget() -> Explorer:
    """Sliders for the depth d and the widen factor k over :func:`wrn_update`."""
    return _explorer(wrn_update, {
        "depth": _slider("SelectionSlider", "depth d", value=28, options=list(range(10, 53, 6))),
        "k": _slider("IntSlider", "widen k", value=10, min=1, max=12),
    })


_FAST.update({width_update: ("alpha",), phi_update: ("phi",)})  # the sliders that move only animated artists
