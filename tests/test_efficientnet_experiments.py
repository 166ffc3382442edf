"""Notebook 14's pieces: the fitted phi of the released models, the tiny EfficientNet and its matched scalings."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnedu import analysis, widgets
from cnnedu.models.efficientnet import (
    RELEASED,
    TINY_STAGES,
    TinyEfficientNet,
    fitted_phi,
    released_phi,
    tiny_efficientnet,
)
from cnnedu.viz.costs import accuracy_vs_cost

matplotlib.use("Agg")


def test_fitted_phi_is_least_squares_on_logs():
    # a model built exactly by eq. 3 is fitted back to its phi
    for phi in (0.0, 1.0, 2.5, 7.0):
        w, d, r = 1.1**phi, 1.2**phi, 224 * 1.15**phi
        assert fitted_phi(w, d, r) == pytest.approx(phi, abs=1e-12)
    # the residual of the fit is orthogonal to (log beta, log alpha, log gamma): the normal equation
    w, d, r, _ = RELEASED["b4"]
    phi = fitted_phi(w, d, r)
    logc = [math.log(1.1), math.log(1.2), math.log(1.15)]
    logx = [math.log(w), math.log(d), math.log(r / 224)]
    assert sum((x - phi * c) * c for x, c in zip(logx, logc, strict=True)) == pytest.approx(0, abs=1e-12)


def test_released_phi_is_the_one_definition():
    phis = released_phi()
    assert list(phis) == list(RELEASED) and phis["b0"] == 0
    assert list(phis.values()) == sorted(phis.values()) and 6 < phis["b7"] < 7.5
    assert widgets.phi_numbers()["released_phi"] == phis  # the explorer uses the same function


@pytest.mark.parametrize("kwargs, match", [({"width": 0.0}, "width"), ({"depth": -1.0}, "depth"),
                                           ({"resolution": 0}, "resolution"), ({"alpha": 1.0, "beta": 1.0,
                                                                                "gamma": 1.0}, "alpha")])
def test_fitted_phi_errors(kwargs, match):
    args = {"width": 1.1, "depth": 1.2, "resolution": 240} | kwargs
    with pytest.raises(ValueError, match=match):
        fitted_phi(**args)


def test_tiny_efficientnet_shapes_and_scaling():
    torch.manual_seed(0)
    base = tiny_efficientnet()
    assert base.repeats == tuple(row[5] for row in TINY_STAGES) and base.resolution == 16
    assert base(torch.rand(2, 3, 20, 20)).shape == (2, 10)  # resized inside the model
    assert tiny_efficientnet(depth=2.0).repeats == tuple(2 * row[5] for row in TINY_STAGES)
    wide = tiny_efficientnet(width=1.5)
    assert wide.classifier.in_features == 96
    macs = {r: analysis.count_macs(tiny_efficientnet(resolution=r), (3, 20, 20)) for r in (16, 32)}
    assert 3.5 < macs[32] / macs[16] <= 4.2  # resolution: r^2


@pytest.mark.parametrize("kwargs, match", [({"repeats": (1, 1)}, "repeats"), ({"repeats": (1, 0, 2)}, "repeats"),
                                           ({"width": 0}, "width"), ({"resolution": 15.5}, "resolution")])
def test_tiny_efficientnet_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TinyEfficientNet(**kwargs)


def test_accuracy_vs_cost_draws_and_validates():
    fig = accuracy_vs_cost({"width": [(1e9, 76.0, "w=1"), (2e9, 78.0, "w=2")], "depth": [(1e9, 76.0, "d=1")]})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "w=2" in texts and len(fig.axes[0].lines) == 2
    assert fig.axes[0].get_legend().get_title().get_text() == "as read from the paper's figure"
    with pytest.raises(ValueError, match="series"):
        accuracy_vs_cost({})
    with pytest.raises(ValueError, match="macs, accuracy, label"):
        accuracy_vs_cost({"width": [(1e9, 76.0)]})
