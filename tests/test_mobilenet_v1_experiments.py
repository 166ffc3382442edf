"""The experiments of notebook 10 (Howard et al. 2017): the mini MobileNet of Tables 4 and 5, the cost explorer."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnedu import data, train
from cnnedu import widgets as W
from cnnedu.analysis import count_macs, count_params
from cnnedu.blocks import DepthwiseSeparable
from cnnedu.models import MOBILENET_V1_MINI_STAGES, MOBILENET_V1_STAGES, mobilenet_v1_mini


def meta(**kwargs) -> nn.Module:
    with torch.device("meta"):
        return mobilenet_v1_mini(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# mobilenet_v1_mini


def test_mini_is_the_first_rows_of_table_1_and_runs_on_32_px():
    assert MOBILENET_V1_MINI_STAGES == MOBILENET_V1_STAGES[:5]
    torch.manual_seed(0)
    model = mobilenet_v1_mini()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(isinstance(m, DepthwiseSeparable) for m in model.modules()) == 5
    assert model.dropout.p == 0.0


def test_mini_repeated_rows_sit_at_the_4x4_map():
    model = mobilenet_v1_mini(repeated=5)
    sizes = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.shape[-1]))
             for m in model.features if isinstance(m, DepthwiseSeparable)]
    model(torch.randn(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert sizes == [16, 8, 8, 4, 4] + [4] * 5
    assert model.repeated == 5


def test_table4_twin_costs_about_seven_times_more():
    sep, full = meta(), meta(depthwise_separable=False)
    assert (count_params(sep), count_macs(sep, (3, 32, 32))) == (37_162, 1_149_184)
    assert 7 < count_macs(full, (3, 32, 32)) / count_macs(sep, (3, 32, 32)) < 8
    assert 7 < count_params(full) / count_params(sep) < 8


def test_table5_thinner_and_shallower_match_in_macs():
    thinner, shallower = meta(width_mult=0.33, repeated=5), meta(width_mult=0.5)
    ratio = count_macs(thinner, (3, 32, 32)) / count_macs(shallower, (3, 32, 32))
    assert abs(ratio - 1) < 0.02  # the paper's pair (325 M, 307 M) differ by 6 %
    base = meta(width_mult=0.5, repeated=5)
    assert count_macs(base, (3, 32, 32)) > 2 * count_macs(shallower, (3, 32, 32))


@pytest.mark.parametrize("kwargs, match", [
    ({"repeated": -1}, "repeated"), ({"repeated": 1.5}, "repeated"), ({"repeated": True}, "repeated"),
    ({"width_mult": 0}, "width_mult"), ({"width_mult": float("inf")}, "width_mult"),
    ({"num_classes": 0}, "num_classes"),
])
def test_mini_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mobilenet_v1_mini(**kwargs)


def test_the_notebook_recipe_trains_and_claims():
    # the recipe of Section 6 (fresh batches, Adam, cosine, channels-last on a CPU), a few steps only
    stream = data.loaders("shapes", batch_size=8, n_train=32, n_test=16, seed=0)
    comp = train.compare({"separable": mobilenet_v1_mini, "full conv": lambda: mobilenet_v1_mini(
        depthwise_separable=False)}, stream, seeds=(0, 1), epochs=1, lr=1e-2, optimizer="adam",
        weight_decay=0.0, scheduler="cosine", channels_last=True, device="cpu")
    assert all(len(v) == 2 and 0 <= v[0] <= 1 for v in comp.results.values())
    claim = train.claim("at most", {"a": [96.0, 97.0], "b": [97.0, 97.5]}, "a", "b", paper="test",
                        metric="test accuracy", unit="%", at_most_worse_by=3.0)
    assert claim.verdict == "shown"
    train.CLAIMS.remove(claim)


# ---------------------------------------------------------------------------------------------------------
# The separable cost explorer


@pytest.mark.parametrize("n, d_k, d_f, m", [(16, 3, 32, 3), (64, 3, 28, 64), (512, 5, 14, 512), (1024, 1, 7, 8)])
def test_separable_numbers_agree_with_real_layers(n, d_k, d_f, m):
    nums = W.separable_numbers(n, d_k, d_f, m)
    with torch.device("meta"):
        standard = nn.Conv2d(m, n, d_k, padding=d_k // 2, bias=False)
        separable = DepthwiseSeparable(m, n, kernel_size=d_k)
    assert nums["standard"] == count_macs(standard, (m, d_f, d_f))
    assert nums["separable"] == count_macs(separable, (m, d_f, d_f))
    assert nums["ratio"] == pytest.approx(1 / n + 1 / d_k**2)


@pytest.mark.parametrize("name, value", [("n", 0), ("d_k", 2.5), ("d_f", -1), ("m", True)])
def test_separable_numbers_errors_name_the_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        W.separable_numbers(**{name: value})


@pytest.mark.parametrize("params", [{}, {"n": 1024, "d_k": 1, "d_f": 7}, {"n": 4, "d_k": 7, "d_f": 112}])
def test_separable_update_returns_figure(params):
    fig = W.separable_update(**params)
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_separable_widget_shows_the_default_and_redraws(capsys):
    explorer = W.separable_widget()
    assert isinstance(explorer.figure, Figure)
    assert explorer.values() == {"n": 64, "d_k": 3, "d_f": 28}
    first = explorer.figure
    explorer.controls["n"].value = 512
    assert explorer.figure is not first and explorer.error is None
