"""How fast each explorer redraws: p50 / p95 milliseconds per update (the course's 150 ms target)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cnnedu.env import freeze_long_lived
from cnnedu.widgets._core import (
    _FAST,
    FigureRenderer,
    _check_int,
)
from cnnedu.widgets.blocks import se_update, swish_update
from cnnedu.widgets.convolution import conv_update
from cnnedu.widgets.scaling import phi_update, width_update

# ---------------------------------------------------------------------------------------------------------
# Speed.


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
        freeze_long_lived()  # as the explorer does after its first draw
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
