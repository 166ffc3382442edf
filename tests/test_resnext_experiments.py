"""Notebook 09's experiment and explorer: the tiny ResNeXt templates, the paper's tables, the cardinality widget."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from cnnedu import widgets as W
from cnnedu.analysis import count_macs, count_params
from cnnedu.models.resnet import Bottleneck
from cnnedu.models.resnext import (
    RESNEXT_TABLE2,
    RESNEXT_TABLE3,
    ResNeXtBlockC,
    block_parts,
    resnext_block_params,
    template_width,
    tiny_resnext,
)

# the experiment of notebook 09: one 32-channel stage of three blocks at 8 x 8 (16 px input, stride-2 stem)
NET = dict(stages=(32,), blocks=3, stem=32, stem_stride=2)


def _cost(cardinality: int) -> tuple[int, int]:
    model = tiny_resnext(cardinality, template_width(cardinality, 32, 32), **NET)
    return count_params(model), count_macs(model, (3, 16, 16))


def test_table2_is_what_template_width_computes():
    for c, (d, cd) in RESNEXT_TABLE2.items():
        assert template_width(c) == d and c * d == cd


def test_table3_more_paths_lower_error():
    for errors in RESNEXT_TABLE3.values():
        values = list(errors.values())
        assert list(errors) == [f"{c}x{d}d" for c, (d, _) in RESNEXT_TABLE2.items()]
        assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("c,d,channels", [(1, 64, 256), (32, 4, 256), (16, 6, 32), (3, 7, 48)])
def test_block_parts_sum_to_the_block_and_match_the_module(c, d, channels):
    parts = block_parts(c, d, channels)
    assert sum(parts.values()) == resnext_block_params(c, d, channels)
    block = ResNeXtBlockC(channels, c, d)
    assert parts["grouped 3x3"] == block.conv.weight.numel()
    assert parts["1x1 reduce"] == block.reduce.weight.numel() == parts["1x1 expand"]


def test_tiny_resnext_widths_double_per_stage_and_classify():
    model = tiny_resnext(4, 5, stages=(32, 64), stem=16)
    widths = [(m.conv2.out_channels, m.conv2.groups) for m in model if isinstance(m, Bottleneck)]
    assert widths == [(20, 4), (40, 4)]
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
    model = tiny_resnext(16, 6, **NET)
    assert [m.conv2.out_channels for m in model if isinstance(m, Bottleneck)] == [96, 96, 96]
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)


def test_experiment_templates_have_matched_parameters_and_macs():
    # the claim compares 16x6d with 1x32d: both within 3 % in parameters and 1 % in MACs
    (p1, m1), (p16, m16) = _cost(1), _cost(16)
    assert template_width(16, 32, 32) == 6
    assert abs(p16 / p1 - 1) < 0.03 and abs(m16 / m1 - 1) < 0.01
    p2, m2 = _cost(2)
    assert abs(p2 / p1 - 1) < 0.03 and abs(m2 / m1 - 1) < 0.03


@pytest.mark.parametrize("kwargs,name", [(dict(cardinality=0), "cardinality"), (dict(width=1.5), "width"),
                                         (dict(blocks=0), "blocks"), (dict(stem_stride=0), "stem_stride"),
                                         (dict(stages=(30,)), "stages"), (dict(stages=()), "stages")])
def test_tiny_resnext_errors_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tiny_resnext(**kwargs)


def test_cardinality_numbers_match_table2_and_the_block():
    for c, (d, cd) in RESNEXT_TABLE2.items():
        nums = W.cardinality_numbers(c)
        assert (nums["width"], nums["inner"], nums["paper_width"]) == (d, cd, d)
        assert nums["params"] == count_params(ResNeXtBlockC(256, c, d))
        assert abs(nums["change"]) < 0.03
    assert W.cardinality_numbers(16)["paper_width"] is None
    assert W.cardinality_numbers(16, channels=32, reference_width=32)["width"] == 6


@pytest.mark.parametrize("kwargs,name", [(dict(cardinality=0), "cardinality"),
                                         (dict(cardinality=300), "cardinality"), (dict(channels=0), "channels"),
                                         (dict(reference_width=2.5), "reference_width")])
def test_cardinality_numbers_errors_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        W.cardinality_numbers(**kwargs)


@pytest.mark.parametrize("c", [1, 5, 32, 64])
def test_cardinality_update_returns_figure(c):
    fig = W.cardinality_update(c)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    d = template_width(c)
    assert f"C = {c}: d = {d}" in fig._suptitle.get_text()
    assert f"{c}x{d}d" in [t.get_text() for t in fig.axes[1].get_xticklabels()]


def test_cardinality_widget_builds_and_redraws(capsys):
    explorer = W.cardinality_widget()
    first = explorer.figure
    assert isinstance(first, Figure) and "C = 32" in first._suptitle.get_text()
    explorer.controls["cardinality"].value = 2
    assert explorer.figure is not first and explorer.error is None
    assert "C = 2: d = 40" in explorer.figure._suptitle.get_text()
