"""FixRes: test accuracy against test resolution, with the training resolution marked (arXiv:1906.06423)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnedu.blocks import check_positive
from cnnedu.viz._style import _axes, _styled


@_styled
def accuracy_vs_resolution(
    runs: Mapping[object, Mapping[int, float]],
    train_size: int,
    ax: Axes | None = None,
    title: str | None = None,
    highlight: Sequence[int] = (),
) -> Figure:
    """Test accuracy of the same networks at several test resolutions: one thin line per run, mean and band.

    ``runs`` maps a run's name (its seed) to {test size: accuracy}, accuracies as fractions or percentages;
    every run must cover the same sizes. The training resolution is a dashed vertical line, as in FixRes's
    Fig. 3 (Touvron et al. 2019), where the best test resolution lies above the training one. ``highlight``
    marks the sizes a claim compares (each one of the runs' test sizes).
    """
    if not runs:
        raise ValueError("runs must hold at least one run name -> {test size: accuracy}")
    sizes = sorted(next(iter(runs.values())))
    if not sizes or any(sorted(r) != sizes for r in runs.values()):
        raise ValueError("every run must give accuracies for the same non-empty set of test sizes")
    check_positive("train_size", train_size, integer=True)
    missing = [s for s in highlight if s not in sizes]
    if missing:
        raise ValueError(f"highlight must list test sizes of the runs ({sizes}), got {missing} not among them")
    acc = np.array([[float(r[s]) for s in sizes] for r in runs.values()])
    if np.nanmax(acc) <= 1.0:
        acc = 100.0 * acc
    a = _axes(ax, figsize=(7.0, 4.0))
    for row in acc:  # one thin line per run (seed)
        a.plot(sizes, row, color="C0", lw=0.8, alpha=0.45, label=None)
    mean = acc.mean(axis=0)
    a.plot(sizes, mean, "o-", color="C0", lw=2, label=f"mean over {len(acc)} run{'s' * (len(acc) != 1)}")
    if len(acc) > 1:
        std = acc.std(axis=0, ddof=1)
        a.fill_between(sizes, mean - std, mean + std, color="C0", alpha=0.15, label="± 1 std")
    a.axvline(train_size, color="k", ls="--", lw=1, label=f"train resolution ({train_size} px)")
    best = sizes[int(np.argmax(mean))]
    a.plot([best], [mean.max()], "*", color="C1", ms=14, mec="black", zorder=4, label=f"best mean ({best} px)")
    for s in highlight:
        a.annotate(f"{mean[sizes.index(s)]:.1f} %", (s, mean[sizes.index(s)]), xytext=(6, -14),
                   textcoords="offset points", fontsize=8)
    a.set(xlabel="test resolution (px)", ylabel="test accuracy (%)", xticks=sizes,
          title=title or "Same networks, tested at several resolutions")
    a.legend(fontsize=8, loc="lower center")
    return a.figure
