"""The machinery every explorer shares: argument checks, the Explorer wrapper, the PNG renderer, sliders."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cnnedu.env import freeze_long_lived, use_style

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


# The controls that move only an update's animated artists (the explorers' main sliders); each topic's module
# registers its own, e.g. _FAST[se_update] = ("reduction",)
_FAST: dict[Callable[..., Figure], tuple[str, ...]] = {}


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
    freeze_long_lived()  # what the first draw imported and cached stays: keep it out of full GC scans
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
        _check_int("cache_size", cache_size, 0)  # 0: no cache, every update drawn (benchmark_updates)
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
