"""Notebook 07 (Chollet 2017): the segments explorer and the mechanism behind the Fig. 10 experiment."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnedu import widgets as W
from cnnedu.analysis import count_macs, count_params
from cnnedu.models.xception import SeparableConv2d

# ---------------------------------------------------------------------------------------------------------
# segments_numbers / segments_update / segments_widget (Section 1.2, Figs. 3 and 4)


@pytest.mark.parametrize("segments", [1, 2, 16, 256])
def test_segments_numbers_match_real_modules(segments):
    with torch.device("meta"):
        module = nn.Sequential(nn.Conv2d(256, 256, 1, bias=False),
                               nn.Conv2d(256, 256, 3, padding=1, groups=segments, bias=False))
    nums = W.segments_numbers(segments, c_in=256, c=256, size=38)
    assert nums["params"] == count_params(module)
    assert nums["macs"] == count_macs(module, (256, 38, 38))
    assert nums["params_3x3"] == 9 * 256 * 256 // segments and nums["params_1x1"] == 256 * 256


def test_segments_depthwise_end_is_the_extreme_module():
    # c segments: one 3x3 per channel after the 1x1, i.e. a separable convolution in the other order
    nums = W.segments_numbers(64, c_in=64, c=64, size=8)
    assert nums["params"] == count_params(SeparableConv2d(64, 64))


@pytest.mark.parametrize("kwargs, name", [({"segments": 3}, "segments"), ({"segments": 0}, "segments"),
                                          ({"segments": 512}, "segments"), ({"c": 0}, "c"),
                                          ({"c_in": 1.5}, "c_in"), ({"size": -1}, "size")])
def test_segments_numbers_reject_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        W.segments_numbers(**kwargs)


def test_segments_update_draws_the_chosen_count():
    fig = W.segments_update(16, c_in=256, c=256, size=38)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    nums = W.segments_numbers(16, 256, 256, 38)
    assert f"{nums['params']:,} parameters" in fig.texts[0].get_text()
    assert len(fig.axes[0].get_xticklabels()) == 9  # 1, 2, 4, ..., 256


def test_segments_widget_shows_default_and_redraws():
    explorer = W.segments_widget(c_in=256, c=256, size=38)
    assert explorer.values() == {"segments": 16}
    assert "s = 16:" in explorer.figure.texts[0].get_text()
    explorer.controls["segments"].value = 256
    assert "s = 256:" in explorer.figure.texts[0].get_text() and explorer.error is None


# ---------------------------------------------------------------------------------------------------------
# The mechanism of Fig. 10 (Section 4.7): a ReLU on a 1-channel map loses what no other unit carries


def test_relu_on_centred_depthwise_maps_zeroes_about_half():
    # the notebook's design: BN after the depthwise step centres each map, so a ReLU there zeroes half of it
    torch.manual_seed(0)
    x = torch.relu(torch.randn(64, 8, 16, 16))  # non-negative, as after the previous block's ReLU
    dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    centred = nn.BatchNorm2d(8).train()(dw(x))
    zeroed = (torch.relu(centred) == 0).float().mean(dim=(0, 2, 3))
    assert torch.all((zeroed > 0.4) & (zeroed < 0.6))
    # without BN a filter with positive weights passes a non-negative input unchanged through the ReLU
    with torch.no_grad():
        dw.weight.abs_()
    assert torch.equal(torch.relu(dw(x)), dw(x))


def test_relu_between_steps_loses_what_no_activation_keeps():
    # two depthwise outputs that differ only where they are negative: after a ReLU the pointwise step sees the
    # same input (the difference is lost for good); with no activation it tells them apart
    torch.manual_seed(0)
    pointwise = SeparableConv2d(4, 4).pointwise
    h = torch.randn(1, 4, 6, 6)
    h2 = torch.where(h < 0, 2 * h, h)
    with torch.no_grad():
        assert torch.equal(pointwise(torch.relu(h)), pointwise(torch.relu(h2)))
        assert not torch.allclose(pointwise(h), pointwise(h2))
