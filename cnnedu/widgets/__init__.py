"""Interactive explorers: a pure ``*_update(**params) -> Figure`` per topic, wired to sliders in a few lines.

Each explorer has three layers, so that the numbers can be tested and the figure read without a kernel:

* ``*_numbers(...) -> dict``: the numbers (exact integers where the arithmetic is exact);
* ``*_update(...) -> Figure``: a figure drawn from those numbers (a plain ``matplotlib.figure.Figure``, not
  registered with pyplot, so it never needs closing and is never shown twice);
* ``*_widget()``: shows the figure for the default values as an ordinary output (it reads on GitHub) and
  replaces it in place whenever a slider moves (``display(fig, display_id=True)`` and ``handle.update``).

Costs are analytic or cached, so that after the first call an update takes well under 150 ms;
:func:`benchmark_updates` measures it.

The explorers live in one module per topic (:mod:`~cnnedu.widgets.convolution`, :mod:`~cnnedu.widgets.blocks`,
:mod:`~cnnedu.widgets.scaling`); the shared machinery in ``_core`` and the timing in ``speed``. Every name is
reachable as ``widgets.<name>``.
"""

from cnnedu.widgets._core import Explorer, FigureRenderer
from cnnedu.widgets.blocks import (
    RESNET50_TOP1,
    SE_TABLE10,
    SE_TABLE10_TOP1,
    cardinality_numbers,
    cardinality_update,
    cardinality_widget,
    growth_numbers,
    growth_update,
    growth_widget,
    se_numbers,
    se_update,
    se_widget,
    swish_numbers,
    swish_update,
    swish_widget,
)
from cnnedu.widgets.convolution import (
    conv_numbers,
    conv_update,
    conv_widget,
    segments_numbers,
    segments_update,
    segments_widget,
    separable_numbers,
    separable_update,
    separable_widget,
)
from cnnedu.widgets.scaling import (
    EFFICIENTNET_TABLE2,
    MOBILENET_TABLE6,
    MOBILENET_TABLE7,
    phi_numbers,
    phi_update,
    phi_widget,
    width_numbers,
    width_update,
    width_widget,
    wrn_numbers,
    wrn_update,
    wrn_widget,
)
from cnnedu.widgets.speed import benchmark_updates

__all__ = [
    "SE_TABLE10",
    "MOBILENET_TABLE6",
    "MOBILENET_TABLE7",
    "EFFICIENTNET_TABLE2",
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
    "SE_TABLE10_TOP1",
    "RESNET50_TOP1",
]
