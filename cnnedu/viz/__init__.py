"""The course's figures: activations, costs per layer, receptive fields, filters, training curves.

Every function returns a ``matplotlib.figure.Figure`` and takes an optional ``ax``: given one, it draws there
and returns ``ax.figure``, so figures compose into larger layouts. All figures use the one style of
:data:`cnnedu.env.STYLE`. In a notebook assign the result (``fig = activation_curves()``): the inline backend
shows pyplot figures at the end of the cell, and a returned Figure would be shown a second time.

:func:`save_figure` writes a PNG (150 dpi) and an SVG for slides.

The figures live in one module per kind: :mod:`~cnnedu.viz.activations`, :mod:`~cnnedu.viz.costs`,
:mod:`~cnnedu.viz.images`, :mod:`~cnnedu.viz.training`, :mod:`~cnnedu.viz.charts` and
:mod:`~cnnedu.viz.saving`; this package gathers them, so ``viz.layer_bars`` works as before.
"""

from cnnedu.viz._style import si
from cnnedu.viz.activations import ACTIVATIONS, activation, activation_curves, activation_derivative
from cnnedu.viz.charts import heatmap, scaling_curves
from cnnedu.viz.costs import layer_bars, model_bars
from cnnedu.viz.diagrams import se_positions, se_unit
from cnnedu.viz.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    feature_maps,
    filter_grid,
    image_grid,
    receptive_field_growth,
    receptive_field_on_image,
)
from cnnedu.viz.saving import save_figure
from cnnedu.viz.training import comparison_bars, depth_profile, training_curves

__all__ = [
    "ACTIVATIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "activation",
    "activation_derivative",
    "activation_curves",
    "layer_bars",
    "model_bars",
    "receptive_field_on_image",
    "receptive_field_growth",
    "filter_grid",
    "feature_maps",
    "image_grid",
    "training_curves",
    "comparison_bars",
    "heatmap",
    "scaling_curves",
    "depth_profile",
    "se_positions",
    "se_unit",
    "save_figure",
    "si",
]

from cnnedu.viz.resolution import accuracy_vs_resolution  # noqa: E402

__all__ += ["accuracy_vs_resolution"]
