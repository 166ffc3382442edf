"""Parameters and MACs per layer, per stage, per model, as bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnedu.viz._style import _SI_FORMATTER, _axes, _axes_pair, _styled, si

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


@_styled
def accuracy_vs_cost(
    series: Mapping[str, Sequence[tuple[float, float, str]]],
    ax: Axes | None = None,
    xlabel: str = "MACs per image",
    ylabel: str = "top-1 accuracy (%)",
    title: str | None = None,
    source: str = "as read from the paper's figure",
    log: bool = True,
) -> Figure:
    """Accuracy against cost, one line per scaling method, each point labelled (``series``: name -> points).

    A point is ``(macs, accuracy, label)``, e.g. ``(0.39e9, 76.0, "w=1.0")``. Drawn for EfficientNet's Fig. 3
    and Fig. 4 (Tan and Le, arXiv:1905.11946): the costs are counted, the accuracies are the paper's, and
    ``source`` (shown in the legend's title) says where they come from, e.g. read off a figure by eye.
    """
    if not series or any(len(points) == 0 for points in series.values()):
        raise ValueError("series must map at least one name to a non-empty list of (macs, accuracy, label)")
    a = _axes(ax, figsize=(7.5, 4.5))
    for i, (name, points) in enumerate(series.items()):
        for p in points:
            if len(p) != 3:
                raise ValueError(f"each point must be (macs, accuracy, label), got {p!r} in {name!r}")
        xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
        a.plot(xs, ys, "o-", color=f"C{i}", lw=1.8, ms=5, label=name)
        for x, y, text in points:
            a.annotate(str(text), (x, y), xytext=(3, -10 if i % 2 else 5), textcoords="offset points",
                       fontsize=7, color=f"C{i}")
    if log:
        a.set_xscale("log")
    a.xaxis.set_major_formatter(_SI_FORMATTER)
    a.set(xlabel=xlabel, ylabel=ylabel, title=title or "Accuracy against cost")
    a.legend(title=source, fontsize=8, title_fontsize=8, loc="lower right")
    return a.figure
