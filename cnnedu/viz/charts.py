"""Matrices as heatmaps, and scaling laws (accuracy or cost against depth, width, resolution)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnedu.viz._style import _SI_FORMATTER, _as_numpy, _axes, _styled

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
    if vmin is not None and vmax is not None and not vmin < vmax:
        raise ValueError(f"vmin must be below vmax (the colour scale's ends), got vmin={vmin!r}, vmax={vmax!r}")
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
