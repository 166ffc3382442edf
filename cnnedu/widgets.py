"""Interactive explorers: a pure ``*_update(**params) -> Figure`` per topic, wired to sliders in a few lines.

Each explorer has three layers, so that the numbers can be tested and the figure read without a kernel:

* ``*_numbers(...) -> dict``: the numbers (exact integers where the arithmetic is exact);
* ``*_update(...) -> Figure``: a figure drawn from those numbers (a plain ``matplotlib.figure.Figure``, not
  registered with pyplot, so it never needs closing and is never shown twice);
* ``*_widget()``: shows the figure for the default values as an ordinary output (it reads on GitHub) and
  replaces it in place whenever a slider moves (``display(fig, display_id=True)`` and ``handle.update``).

Costs are analytic or cached, so that after the first call an update takes well under 150 ms;
:func:`benchmark_updates` measures it.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnedu.analysis import conv_macs, conv_output_size, conv_params
from cnnedu.env import use_style

__all__ = [
    "Explorer",
    "FigureRenderer",
    "conv_numbers",
    "conv_update",
    "conv_widget",
    "se_numbers",
    "se_update",
    "se_widget",
    "width_numbers",
    "width_update",
    "width_widget",
    "phi_numbers",
    "phi_update",
    "phi_widget",
    "swish_numbers",
    "swish_update",
    "swish_widget",
    "growth_numbers",
    "growth_update",
    "growth_widget",
    "cardinality_numbers",
    "cardinality_update",
    "cardinality_widget",
    "separable_numbers",
    "separable_update",
    "separable_widget",
    "wrn_numbers",
    "wrn_update",
    "wrn_widget",
    "segments_numbers",
    "segments_update",
    "segments_widget",
    "benchmark_updates",
]


# ---------------------------------------------------------------------------------------------------------
# Shared helpers.


def _figure(ncols: int, width: float = 5.0, height: float = 4.0, **kw: Any) -> tuple[Figure, list]:
    """A constrained-layout Figure with ``ncols`` axes side by side, in the course style."""
    use_style()
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, **kw)
    return fig, list(np.atleast_1d(axes))


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        accepts = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {accepts}, got {value!r}")
    return int(value)


def _check_number(name: str, value: Any, low: float = 0.0, inclusive: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.number)) and math.isfinite(value)
    if not ok or (value < low if inclusive else value <= low):
        relation = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be a finite number {relation} {low:g}, got {value!r}")
    return float(value)


def _si(value: float) -> str:
    from cnnedu.viz import si

    return si(value)


# ---------------------------------------------------------------------------------------------------------
# The widget wrapper.


@dataclass
class Explorer:
    """The live state of a ``*_widget()``: its controls, its current figure and the display handle.

    In a notebook the explorer has already been displayed when it is returned, so it shows nothing more as
    a cell's value. Setting a control's ``value`` redraws, in a notebook and in tests alike.
    """

    update: Callable[..., Figure]
    controls: dict[str, Any]
    figure: Figure | None = None
    error: str | None = None
    handle: Any = field(default=None, repr=False)
    readout_handle: Any = field(default=None, repr=False)
    renderer: FigureRenderer = field(default_factory=lambda: FigureRenderer(()), repr=False)

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, _change: Any = None) -> None:
        """Recompute the figure from the controls and replace the displayed one."""
        try:
            values = self.values()
            self.figure, self.error = self.update(**values), None
            shown: Any = _png(self.renderer.png(self.figure, values))
        except ValueError as err:  # e.g. a feature map that vanishes: say so instead of a traceback
            from IPython.display import HTML

            self.error = str(err)
            shown = HTML(f"<pre style='color:#b00'>{self.error}</pre>")
        if self.handle is not None:
            self.handle.update(shown)
        if self.readout_handle is not None:
            self.readout_handle.update(_readout(self.figure if self.error is None else None, self.error))

    def _ipython_display_(self) -> None:
        """Already on screen: the controls and the figure were displayed when the explorer was built."""


def _explorer(update: Callable[..., Figure], controls: Mapping[str, Any], columns: int = 2) -> Explorer:
    """Display sliders (in rows of ``columns``) and the figure for their values; redraw on every change.

    The controls named in ``_FAST[update]`` move only the figure's animated artists (:class:`FigureRenderer`).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot  # noqa: F401  (loads the inline backend, which teaches IPython to show Figures)
    from IPython.display import display

    explorer = Explorer(update, dict(controls), renderer=FigureRenderer(_FAST.get(update, ())))
    items = list(explorer.controls.values())
    rows = [widgets.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    display(widgets.VBox(rows))
    explorer.figure = update(**explorer.values())
    # outside IPython display() prints and returns None: the explorer still works, without a screen
    explorer.readout_handle = display(_readout(explorer.figure), display_id=True)
    explorer.handle = display(_png(explorer.renderer.png(explorer.figure, explorer.values())), display_id=True)
    for control in items:
        control.observe(explorer.redraw, names="value")
    return explorer


def _png(data: bytes) -> Any:
    """PNG bytes as a display object: shown the same whatever matplotlib backend the kernel has."""
    from IPython.display import Image

    return Image(data=data, format="png")


class FigureRenderer:
    """Draws an explorer's figures to PNG, redrawing only what moved when only ``fast`` controls changed.

    A whole figure takes 0.3-1 s to draw on a small CPU (tick and text layout dominate). The update functions
    therefore mark the artists that depend only on the fast controls (a marker, a cursor line, a title) as
    *animated* and fix their axes' limits. On a full draw the renderer draws the figure without them, keeps
    that background and the axes positions, then draws the animated artists on top. When only fast
    controls changed, it restores the background and draws the new figure's animated artists onto it
    (matplotlib's blitting), which costs a few tens of milliseconds. Both paths give the same pixels.
    """

    def __init__(self, fast: tuple[str, ...] | list[str] = (), cache_size: int = 64) -> None:
        self.fast = frozenset(fast)
        # the figure is a pure function of the values: a slider dragged back over a value it has shown
        # costs a dictionary look-up (the last ``cache_size`` images are kept)
        self.cache: OrderedDict[tuple, bytes] = OrderedDict()
        self.cache_size = cache_size
        self.key: tuple | None = None
        self.canvas: Any = None
        self.background: Any = None
        self.positions: list = []
        self.text_xy: list[tuple[float, float]] = []  # the figure-level texts' places after the full draw
        self.full_draws = 0

    def png(self, figure: Figure, values: Mapping[str, Any] | None = None) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        values = dict(values or {})
        everything = tuple(sorted(values.items()))
        if values and everything in self.cache:
            self.cache.move_to_end(everything)
            return self.cache[everything]
        key = tuple(sorted((k, v) for k, v in values.items() if k not in self.fast))
        reuse = (self.fast and self.canvas is not None and key == self.key
                 and len(figure.axes) == len(self.positions)
                 and tuple(figure.get_size_inches()) == tuple(self.canvas.figure.get_size_inches()))
        if reuse:
            figure.set_layout_engine("none")
            for ax, position in zip(figure.axes, self.positions, strict=True):
                ax.set_position(position)
            self.canvas.restore_region(self.background)
        else:
            self.canvas = FigureCanvasAgg(figure)
            self.canvas.draw()  # animated artists are left out of a normal draw
            self.background = self.canvas.copy_from_bbox(figure.bbox)
            self.positions = [ax.get_position() for ax in figure.axes]
            self.key, self.full_draws = key, self.full_draws + 1
        renderer = self.canvas.get_renderer()
        for ax in figure.axes:
            ax.get_xlim()  # apply pending autoscaling before drawing into the axes
            ax.get_ylim()
        if reuse and len(figure.texts) == len(self.text_xy):  # the suptitle among them: placed by the layout
            for text, xy in zip(figure.texts, self.text_xy, strict=True):  # engine on the full draw
                text.set_position(xy)
        for artist in sorted(_animated_artists(figure), key=lambda a: a.get_zorder()):
            artist.draw(renderer)
        if not reuse:
            self.text_xy = [text.get_position() for text in figure.texts]
        png = _encode_png(self.canvas)
        if values and self.cache_size > 0:
            self.cache[everything] = png
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return png


def _animated_artists(figure: Figure) -> list:
    """The figure's animated artists, found without ``findobj`` (which builds every tick: slow)."""
    found = [t for t in figure.texts if t.get_animated()]
    for ax in figure.axes:  # an Axes' children: its artists and its three titles, but not the ticks
        found += [a for a in ax.get_children() if a.get_animated()]
    return [a for a in found if a.get_visible()]


def _encode_png(canvas: Any) -> bytes:
    import io

    from PIL import Image as PILImage

    width, height = canvas.get_width_height(physical=True)
    image = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=1)  # fast: the PNG only crosses to the browser
    return buffer.getvalue()


def _animate(*artists: Any) -> None:
    """Mark artists as animated: drawn on top by :class:`FigureRenderer`, redrawn alone when fast values move."""
    for artist in artists:
        for a in artist if isinstance(artist, (list, tuple)) or hasattr(artist, "patches") else [artist]:
            a.set_animated(True)


def _readout(figure: Figure | None, error: str | None = None) -> Any:
    """The figure's key numbers (its titles that hold digits) as one line of text, also for screen readers."""
    import html

    from IPython.display import HTML

    if figure is None:
        return HTML(f"<div class='cnnedu-readout' style='color:#b00'>{html.escape(error or '')}</div>")
    titles = [t.get_text() for t in figure.texts] + [ax.get_title() for ax in figure.axes]
    line = " · ".join(" ".join(t.split()) for t in titles if any(ch.isdigit() for ch in t))
    return HTML(f"<div class='cnnedu-readout' style='font-family:monospace'>{html.escape(line)}</div>")


def _slider(kind: str, description: str, **kw: Any) -> Any:
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    layout = widgets.Layout(width="340px")
    return getattr(widgets, kind)(description=description, style=style, layout=layout, **kw)


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
    pos, c1 = nums["positions"], nums["paths_1d"]
    lo, hi = min(int(pos[0]), 0), max(int(pos[-1]), size - 1)
    grid = np.zeros((hi - lo + 1,) * 2)
    idx = pos - lo
    grid[np.ix_(idx, idx)] = np.outer(c1, c1)
    shown = np.ma.masked_equal(grid, 0)
    ax.imshow(shown, cmap="viridis", extent=(lo - 0.5, hi + 0.5, hi + 0.5, lo - 0.5), interpolation="nearest")
    ax.set_facecolor("0.95")
    ax.grid(False)
    ax.add_patch(Rectangle((-0.5, -0.5), size, size, fill=False, lw=2, edgecolor="black", label="input image"))
    # the field after each layer, centred on the same unit
    centre = (int(pos[0]) + int(pos[-1])) / 2
    r, j = 1, 1
    for layer in range(1, n_layers + 1):
        r, j = r + dilation * (kernel - 1) * j, j * stride
        ax.add_patch(Rectangle((centre - r / 2, centre - r / 2), r, r, fill=False, lw=1.2, ls="--",
                               edgecolor=f"C{layer % 8}", label=f"after layer {layer}: {r} px"
                               if layer <= 6 or layer == n_layers else None))
    ax.set(xlim=(lo - 1, hi + 1), ylim=(hi + 1, lo - 1), xlabel="x (input px)", ylabel="y (input px)",
           title=f"Receptive field {nums['rf']} px ({n_layers} × {kernel}×{kernel}, s={stride}, d={dilation})")
    ax.legend(loc="upper right", fontsize=7, frameon=True)
    ax_t.axis("off")
    head = ["layer", "output", "RF", "jump", "params", "MACs"]
    body = [[str(r_["layer"]), f"{r_['output']}×{r_['output']}", str(r_["rf"]), str(r_["jump"]),
             f"{r_['params']:,}", _si(r_["macs"])] for r_ in nums["layers"][:12]]
    if n_layers > 12:
        body.append(["...", "", "", "", "", ""])
    body.append(["total", f"{nums['output']}×{nums['output']}", str(nums["rf"]), str(nums["jump"]),
                 f"{nums['params']:,}", _si(nums["macs"])])
    table = ax_t.table(cellText=body, colLabels=head, loc="upper center", cellLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.25)
    ax_t.set_title(f"{size}×{size} input, {nums['in_channels']} → {channels} → ... channels, "
                   f"p={padding}\nRF: r += d(k-1)·j,  j *= s", fontsize=10)
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
# Squeeze-and-excitation: the reduction ratio r (Hu et al., arXiv:1709.01507, Section 6.1, Table 10).

# Table 10: SE-ResNet-50 parameters (millions) by reduction ratio r; ResNet-50 itself 25.6 M.
SE_TABLE10 = {2: 45.7, 4: 35.7, 8: 30.7, 16: 28.1, 32: 26.9}
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
    paper = SE_TABLE10.get(int(reduction)) if float(reduction).is_integer() else None
    return {
        "reduction": reduction, "channels": channels, "squeeze": s, "size": size,
        "block_weights": weights, "block_biases": biases, "block_params": weights + biases, "block_macs": weights,
        "alt_params": weights + biases, "alt_macs": weights * size * size,
        "resnet50_params": base_params, "resnet50_macs": base_macs,
        "se_params": net_params, "se_macs": net_macs,
        "net_params": base_params + net_params, "net_macs": base_macs + net_macs,
        "net_alt_macs": base_macs + net_alt_macs, "paper_params_m": paper,
    }


def se_update(reduction: float = 16, channels: int = 256) -> Figure:
    """SE cost against r: SE-ResNet-50's parameters beside Table 10, one block's cost beside a 1x1 conv.

    Hu et al. (arXiv:1709.01507), Section 3.2 (eq. 3: two FC layers around a ReLU, ratio r), Table 10.
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
    ax.set(xlabel="reduction ratio r", ylabel="parameters (M)", title="SE-ResNet-50 parameters vs r")
    ax.legend(fontsize=8, loc="upper right")
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
    """Where each released model sits on the phi axis: the mean of log_beta(w), log_alpha(d), log_gamma(r/224).

    The released B1-B7 were hand-rounded, so the three exponents disagree a little (paper's alpha, beta,
    gamma: 1.2, 1.1, 1.15).
    """
    from cnnedu.models.efficientnet import RELEASED

    return {name: (math.log(w) / math.log(1.1) + math.log(d) / math.log(1.2)
                   + math.log(r / 224) / math.log(1.15)) / 3 for name, (w, d, r, _) in RELEASED.items()}


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


# ---------------------------------------------------------------------------------------------------------
# Speed.


# The controls that move only an update's animated artists: the explorers' main sliders.
_FAST: dict[Callable[..., Figure], tuple[str, ...]] = {
    se_update: ("reduction",), width_update: ("alpha",), phi_update: ("phi",), swish_update: ("beta",),
}

# name -> (update, typical values; after the first entry only the fast control varies, where there is one)
_BENCH_PARAMS: dict[str, tuple[Callable[..., Figure], list[dict[str, Any]]]] = {
    "conv": (conv_update, [{"kernel": k, "stride": s, "padding": d * (k - 1) // 2, "dilation": d, "n_layers": n}
                           for k, s, d, n in ((3, 1, 1, 3), (5, 2, 1, 4), (3, 1, 2, 6), (7, 1, 1, 8))]),
    "se": (se_update, [{"reduction": r, "channels": 256} for r in (16, 2, 4, 32, 64, 8)]),
    "width": (width_update, [{"alpha": a, "resolution": 224} for a in (1.0, 0.5, 0.75, 0.25, 1.5)]),
    # phi = 7 with the paper's coefficients is about B7 (2.0, 3.1, 600 px); B7 itself is drawn in every call
    "phi": (phi_update, [{"phi": p} for p in (1.0, 0.0, 3.5, 7.0, 8.0)]),
    "swish": (swish_update, [{"beta": b} for b in (1.0, 0.0, 2.5, 10.0)]),
}


def benchmark_updates(n: int = 20, render: bool = False) -> dict[str, dict[str, float]]:
    """p50 / p95 milliseconds of each explorer's update after one warm-up call, cycling through typical values.

    Without ``render`` it times ``*_update`` alone (the numbers and the figure's artists). With ``render`` it
    times what a slider move costs on screen: the update and the PNG drawn by :class:`FigureRenderer` (its
    cache off), moving the explorer's fast control where it has one (``_FAST``) and every control otherwise
    (a full draw). ``full_draws`` counts the full draws after the warm-up.
    """
    n = _check_int("n", n, 1)
    results = {}
    for name, (update, params) in _BENCH_PARAMS.items():
        renderer = FigureRenderer(_FAST.get(update, ()), cache_size=0)  # every update drawn: what a new value costs
        fig = update(**params[0])  # the first call fills the caches
        if render:
            renderer.png(fig, params[0])
        start_draws, times = renderer.full_draws, []
        for i in range(n):
            values = params[1 + i % (len(params) - 1)]
            start = time.perf_counter()
            fig = update(**values)
            if render:
                renderer.png(fig, values)
            times.append((time.perf_counter() - start) * 1e3)
        results[name] = {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
                         "full_draws": renderer.full_draws - start_draws}
    return results
