"""Training: curves over epochs or steps, comparisons over seeds, per-layer profiles over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnedu.viz._style import _axes, _percent_if_fraction, _styled

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
