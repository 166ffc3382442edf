"""Explorers of one convolution's arithmetic: output size and receptive field, separable cost, Xception's segments."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnedu.analysis import conv_macs, conv_output_size, conv_params
from cnnedu.widgets._core import (
    Explorer,
    _check_int,
    _explorer,
    _figure,
    _si,
    _slider,
)

# ---------------------------------------------------------------------------------------------------------
# Convolution: output size, parameters, MACs and receptive field of n stacked identical layers.


def _backproject(out_index: int, layers: list[tuple[int, int, int, int]]) -> dict[int, int]:
    """Input positions (1-D, padding coordinates included) feeding one output unit, with their path counts.

    ``layers`` are (kernel, stride, padding, dilation) from the input up. Output position o of a layer reads
    input positions s o - p + d i for i = 0 .. k-1; walking down the stack multiplies the paths.
    """
    counts = {out_index: 1}
    for k, s, p, d in reversed(layers):
        below: dict[int, int] = {}
        for o, c in counts.items():
            for i in range(k):
                x = s * o - p + d * i
                below[x] = below.get(x, 0) + c
        counts = below
    return counts


def conv_numbers(kernel: int = 3, stride: int = 1, padding: int = 1, dilation: int = 1, n_layers: int = 3,
                 size: int = 32, channels: int = 64, in_channels: int = 3) -> dict[str, Any]:
    """Per-layer output size, parameters, MACs and receptive field of ``n_layers`` identical convolutions.

    Receptive field by Araujo et al. (Distill 2019, eq. 1-2): r_l = r_{l-1} + d (k - 1) j_{l-1},
    j_l = j_{l-1} s, starting from r_0 = j_0 = 1. The first layer maps ``in_channels`` to ``channels``,
    the others ``channels`` to ``channels``. ``paths`` is the number of paths from each input pixel to the
    centre output unit (outer product of the 1-D counts ``paths_1d`` at positions ``positions``).
    """
    kernel = _check_int("kernel", kernel, 1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    dilation = _check_int("dilation", dilation, 1)
    n_layers = _check_int("n_layers", n_layers, 1, 64)
    size = _check_int("size", size, 1)
    channels = _check_int("channels", channels, 1)
    in_channels = _check_int("in_channels", in_channels, 1)
    rows, n, r, j, c_in = [], size, 1, 1, in_channels
    for layer in range(1, n_layers + 1):
        try:
            n = conv_output_size(n, kernel, stride, padding, dilation)
        except ValueError as err:
            raise ValueError(f"size {size} is too small for n_layers={n_layers}: the feature map vanishes at "
                             f"layer {layer} ({err})") from err
        r, j = r + dilation * (kernel - 1) * j, j * stride
        rows.append({"layer": layer, "output": n, "rf": r, "jump": j,
                     "params": conv_params(c_in, channels, kernel), "macs": conv_macs(c_in, channels, kernel, n)})
        c_in = channels
    paths = _backproject((n - 1) // 2, [(kernel, stride, padding, dilation)] * n_layers)
    positions = np.arange(min(paths), max(paths) + 1)
    paths_1d = np.array([paths.get(int(x), 0) for x in positions], dtype=np.int64)
    return {"layers": rows, "output": n, "rf": r, "jump": j, "params": sum(row["params"] for row in rows),
            "macs": sum(row["macs"] for row in rows), "positions": positions, "paths_1d": paths_1d,
            "size": size, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
            "channels": channels, "in_channels": in_channels}


def conv_update(kernel: int = 3, stride: int = 1, padding: int = 1, dilation: int = 1, n_layers: int = 3,
                size: int = 32, channels: int = 64) -> Figure:
    """The receptive field of the centre unit after ``n_layers`` identical convolutions, on the input grid.

    Left: the input pixels that reach the centre output unit, shaded by their number of paths (Luo et al.,
    arXiv:1701.04128: the centre counts most), with the field after each layer outlined. Right: a table of
    output size, receptive field (Araujo et al., Distill 2019), jump, parameters and MACs per layer.
    """
    nums = conv_numbers(kernel, stride, padding, dilation, n_layers, size, channels)
    fig, (ax, ax_t) = _figure(2, width=5.2, height=4.6, gridspec_kw={"width_ratios": [1, 1.15]})
    # fixed margins instead of the constrained layout: every slider redraws the whole figure, and the layout
    # engine's measuring of every tick label was half of each redraw
    fig.set_layout_engine(None)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.1, top=0.9, wspace=0.12)
    pos, c1 = nums["positions"], nums["paths_1d"]
    lo, hi = min(int(pos[0]), 0), max(int(pos[-1]), size - 1)
    grid = np.zeros((hi - lo + 1,) * 2)
    idx = pos - lo
    grid[np.ix_(idx, idx)] = np.outer(c1, c1)
    shown = np.ma.masked_equal(grid, 0)
    ax.imshow(shown, cmap="viridis", extent=(lo - 0.5, hi + 0.5, hi + 0.5, lo - 0.5), interpolation="nearest")
    ax.set_facecolor("0.95")
    ax.grid(False)
    ax.add_patch(Rectangle((-0.5, -0.5), size, size, fill=False, lw=2, edgecolor="black"))  # the input image
    # the field after each layer, centred on the same unit
    centre = (int(pos[0]) + int(pos[-1])) / 2
    r, j = 1, 1
    for layer in range(1, n_layers + 1):
        r, j = r + dilation * (kernel - 1) * j, j * stride
        ax.add_patch(Rectangle((centre - r / 2, centre - r / 2), r, r, fill=False, lw=1.2, ls="--",
                               edgecolor=f"C{layer % 8}"))
        if layer <= 6 or layer == n_layers:  # numbered in place: a legend cost a fifth of each redraw
            ax.text(centre + r / 2, centre - r / 2, str(layer), color=f"C{layer % 8}", fontsize=9,
                    fontweight="bold", ha="right", va="bottom", clip_on=True)
    ax.set(xlim=(lo - 1, hi + 1), ylim=(hi + 1, lo - 1), xlabel="x (input px)", ylabel="y (input px)")
    # a fixed title height (y=1): matplotlib otherwise measures every tick label on each draw to place it
    ax.set_title(f"Receptive field {nums['rf']} px ({n_layers} × {kernel}×{kernel}, s={stride}, d={dilation})",
                 y=1.0)
    ax_t.axis("off")
    # one monospaced text block, not a matplotlib table: a table lays out every cell on each draw (most of a
    # full redraw's time), and every slider of this explorer changes the whole figure
    head = ["layer", "output", "RF", "jump", "params", "MACs"]
    body = [[str(r_["layer"]), f"{r_['output']}×{r_['output']}", str(r_["rf"]), str(r_["jump"]),
             f"{r_['params']:,}", _si(r_["macs"])] for r_ in nums["layers"][:12]]
    if n_layers > 12:
        body.append(["...", "", "", "", "", ""])
    body.append(["total", f"{nums['output']}×{nums['output']}", str(nums["rf"]), str(nums["jump"]),
                 f"{nums['params']:,}", _si(nums["macs"])])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [head, *body]]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    ax_t.text(0.5, 0.97, "\n".join(lines), transform=ax_t.transAxes, ha="center", va="top", family="monospace",
              fontsize=10, linespacing=1.5)
    ax_t.set_title(f"{size}×{size} input, {nums['in_channels']} → {channels} → ... channels, "
                   f"p={padding}\nRF: r += d(k-1)·j,  j *= s\nleft: black = the image, dashed n = the field after "
                   f"layer n", fontsize=10, y=1.0)
    return fig


def conv_widget() -> Explorer:
    """Sliders for kernel, stride, padding, dilation and layers over :func:`conv_update`."""
    return _explorer(conv_update, {
        "kernel": _slider("IntSlider", "kernel k", value=3, min=1, max=11),
        "stride": _slider("IntSlider", "stride s", value=1, min=1, max=4),
        "padding": _slider("IntSlider", "padding p", value=1, min=0, max=5),
        "dilation": _slider("IntSlider", "dilation d", value=1, min=1, max=4),
        "n_layers": _slider("IntSlider", "layers n", value=3, min=1, max=8),
        "size": _slider("IntSlider", "input size", value=32, min=8, max=64, step=4),
    })


# ---------------------------------------------------------------------------------------------------------
# Depthwise separable convolution: its cost against a standard convolution (Howard et al.,
# arXiv:1704.04861, Section 3.1, eqs. 2-5).


def separable_numbers(n: int = 64, d_k: int = 3, d_f: int = 28, m: int = 64) -> dict[str, Any]:
    """Mult-Adds of a standard D_K x D_K convolution M -> N on a D_F x D_F map and of its separable pair.

    Howard et al. (arXiv:1704.04861): standard D_K^2 M N D_F^2 (eq. 2), depthwise D_K^2 M D_F^2 (eq. 3),
    pointwise M N D_F^2, ratio 1/N + 1/D_K^2 (eq. 5), in which M and D_F cancel.
    """
    n, d_k = _check_int("n", n, 1), _check_int("d_k", d_k, 1)
    d_f, m = _check_int("d_f", d_f, 1), _check_int("m", m, 1)
    standard = conv_macs(m, n, d_k, d_f)
    depthwise, pointwise = conv_macs(m, m, d_k, d_f, groups=m), conv_macs(m, n, 1, d_f)
    return {"n": n, "d_k": d_k, "d_f": d_f, "m": m, "standard": standard, "depthwise": depthwise,
            "pointwise": pointwise, "separable": depthwise + pointwise,
            "ratio": (depthwise + pointwise) / standard, "formula": 1 / n + 1 / d_k**2}


def separable_update(n: int = 64, d_k: int = 3, d_f: int = 28, m: int = 64) -> Figure:
    """Left: the cost ratio 1/N + 1/D_K^2 against N for three kernels. Right: Mult-Adds of both layers.

    Howard et al. (arXiv:1704.04861), Section 3.1, eq. 5: the saving approaches D_K^2 (8 to 9 times for 3x3
    kernels) once N is a few hundred; D_F scales both bars alike and never enters the ratio.
    """
    nums = separable_numbers(n, d_k, d_f, m)
    fig, (ax_r, ax_b) = _figure(2, width=5.5, height=4.0)
    ns = np.unique(np.geomspace(4, 2048, 200).astype(int))
    for k in sorted({3, 5, 7, d_k}):
        ax_r.plot(ns, 1 / ns + 1 / k**2, lw=2 if k == d_k else 1, label=f"D_K = {k}: floor 1/{k * k}")
    ax_r.plot([n], [nums["ratio"]], "o", color="C3", ms=9, mec="black")
    ax_r.annotate(f"{nums['ratio']:.3f} ({1 / nums['ratio']:.1f}x less)", (n, nums["ratio"]), xytext=(8, 8),
                  textcoords="offset points")
    ax_r.set(xscale="log", ylim=(0, 0.4 if d_k > 1 else 1.3), xlabel="output channels N",
             ylabel="separable / standard cost", title="Cost ratio 1/N + 1/D_K² (no M, no D_F)")
    ax_r.legend(fontsize=8, loc="upper right")
    ax_b.bar(["standard"], [nums["standard"]], color="C0")
    ax_b.bar(["separable"], [nums["depthwise"]], color="C1", label="depthwise")
    ax_b.bar(["separable"], [nums["pointwise"]], bottom=[nums["depthwise"]], color="C2", label="pointwise 1x1")
    for i, v in enumerate((nums["standard"], nums["separable"])):
        ax_b.annotate(_si(v), (i, v), xytext=(0, 3), textcoords="offset points", ha="center")
    ax_b.set(ylabel="Mult-Adds", title=f"M = {m}, N = {n}, D_K = {d_k}, D_F = {d_f}")
    ax_b.legend(fontsize=8)
    return fig


def separable_widget() -> Explorer:
    """Sliders for N, D_K and D_F (M fixed at 64) over :func:`separable_update`."""
    return _explorer(separable_update, {
        "n": _slider("SelectionSlider", "N", value=64, options=[2**i for i in range(2, 11)]),
        "d_k": _slider("SelectionSlider", "D_K", value=3, options=[1, 3, 5, 7]),
        "d_f": _slider("IntSlider", "D_F", value=28, min=7, max=112, step=7),
    }, columns=3)


# ---------------------------------------------------------------------------------------------------------
# Xception: the segments knob from a regular convolution (1 segment) to a depthwise one (C segments)
# (Chollet, arXiv:1610.02357, Section 1.2, Figs. 3 and 4).


def segments_numbers(segments: int = 16, c_in: int = 256, c: int = 256, size: int = 38) -> dict[str, Any]:
    """Parameters and MACs of a 1x1 convolution c_in -> c followed by a 3x3 on ``segments`` channel groups.

    Chollet (arXiv:1610.02357, Section 1.2): 1 segment is Inception's 1x1-then-3x3 tower (a regular 3x3),
    ``c`` segments the "extreme" Inception module of Fig. 4 (a depthwise 3x3). No biases (BN follows).
    The 3x3 costs 9 c^2 / s, the 1x1 c_in c whatever s; ``size`` is the side of the (padded) feature map.
    """
    c_in, c, size = _check_int("c_in", c_in, 1), _check_int("c", c, 1), _check_int("size", size, 1)
    segments = _check_int("segments", segments, 1, c)
    if c % segments:
        raise ValueError(f"segments must divide c ({c}), got {segments!r}")
    nums: dict[str, Any] = {"segments": segments, "c_in": c_in, "c": c, "size": size,
                            "params_1x1": conv_params(c_in, c, 1, bias=False),
                            "params_3x3": conv_params(c, c, 3, groups=segments, bias=False),
                            "macs_1x1": conv_macs(c_in, c, 1, size),
                            "macs_3x3": conv_macs(c, c, 3, size, groups=segments)}
    nums["params"], nums["macs"] = nums["params_1x1"] + nums["params_3x3"], nums["macs_1x1"] + nums["macs_3x3"]
    return nums


def segments_update(segments: int = 16, c_in: int = 256, c: int = 256, size: int = 38) -> Figure:
    """Stacked bars of the 1x1 and the grouped 3x3 cost for every power-of-two segment count dividing ``c``.

    Chollet (arXiv:1610.02357, Section 1.2): the 3x3 cost halves with every doubling of the segments while
    the 1x1 cost stays, so towards the depthwise end (Fig. 4) almost all the cost is cross-channel.
    """
    chosen = segments_numbers(segments, c_in, c, size)
    options = [2**i for i in range(c.bit_length()) if c % 2**i == 0]
    fig, axes = _figure(2, width=5.5, height=4.0)
    for ax, what, label in ((axes[0], "params", "parameters"), (axes[1], "macs", f"MACs at {size} x {size}")):
        costs = [segments_numbers(s, c_in, c, size) for s in options]
        one, three = [n[f"{what}_1x1"] for n in costs], [n[f"{what}_3x3"] for n in costs]
        pos = list(range(len(options)))
        ax.bar(pos, one, color="C0", label="1x1 (cross-channel)")
        ax.bar(pos, three, bottom=one, color="C1", label="3x3 on segments (spatial)")
        if segments in options:
            i = options.index(segments)
            ax.bar([i], [chosen[what]], fill=False, edgecolor="black", lw=2)
            ax.annotate(_si(chosen[what]), (i, chosen[what]), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=9, fontweight="bold")
        ax.set_xticks(pos, [str(s) for s in options])
        ax.set(xlabel="segments s (1 = regular conv, C = depthwise)", ylabel=label,
               title=f"{label.split(' ')[0]}: 1x1 {c_in}->{c}, then 3x3 in s groups")
        ax.yaxis.set_major_formatter(lambda v, _pos: _si(v))
        ax.legend(fontsize=9)
    fig.suptitle(f"s = {segments}: {chosen['params']:,} parameters, {_si(chosen['macs'])} MACs "
                 f"({100 * chosen['params_1x1'] / chosen['params']:.0f} % of the parameters in the 1x1)",
                 fontsize=10)
    return fig


def segments_widget(c_in: int = 256, c: int = 256, size: int = 38) -> Explorer:
    """A slider for the number of segments over :func:`segments_update` (the other values fixed)."""
    c_in, c, size = _check_int("c_in", c_in, 1), _check_int("c", c, 1), _check_int("size", size, 1)
    options = [2**i for i in range(c.bit_length()) if c % 2**i == 0]
    return _explorer(functools.partial(segments_update, c_in=c_in, c=c, size=size), {
        "segments": _slider("SelectionSlider", "segments", value=options[len(options) // 2], options=options),
    })
