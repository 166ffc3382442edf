"""MobileNet v1, v2, v3 and EfficientNet: the papers' and torchvision's counts, weight interchange, knobs."""

from __future__ import annotations

import math
import sys
import time

import pytest
import torch
import torchvision
from torch import nn

from cnnedu.analysis import count_macs, count_params
from cnnedu.models import (
    MOBILENET_V3_STAGES,
    RELEASED,
    STAGES,
    efficientnet,
    efficientnet_b0,
    efficientnet_cost,
    efficientnet_from_torchvision,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v2_from_torchvision,
    mobilenet_v3,
    mobilenet_v3_from_torchvision,
    resolution_for,
    round_filters,
    round_repeats,
)

# the submodule, shadowed in the package namespace by the function of the same name
effnet = sys.modules["cnnedu.models.efficientnet"]



def meta(build, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build(*args, **kwargs)


def assert_macs(model: nn.Module, expected: float, size: int = 224) -> None:
    macs = count_macs(model, (3, size, size))
    assert abs(macs - expected) <= 0.005 * expected, f"{macs / 1e6:.1f} M MACs, expected {expected / 1e6} M"


# ---------------------------------------------------------------------------------------------------------
# MobileNet v1


def test_mobilenet_v1_exact_counts():
    model = meta(mobilenet_v1)
    assert count_params(model) == 4_231_976
    assert_macs(model, 568.7e6)


@pytest.mark.parametrize(("kwargs", "size", "params_m", "macs_m"), [
    ({"width_mult": 0.75}, 224, 2.59, 325.4),  # Table 6
    ({"width_mult": 0.5}, 224, 1.3, 149),
    ({"width_mult": 0.25}, 224, 0.5, 41),
    ({}, 192, 4.2, 418),  # Table 7
    ({}, 160, 4.2, 290),
    ({}, 128, 4.2, 186),
    ({"depthwise_separable": False}, 224, 29.3, 4866),  # Table 4, "Conv MobileNet"
    ({"shallow": True}, 224, 2.9, 307),  # Table 5
])
def test_mobilenet_v1_paper_tables(kwargs, size, params_m, macs_m):
    model = meta(mobilenet_v1, **kwargs)
    digits = len(str(params_m).split(".")[1])
    assert round(count_params(model) / 1e6, digits) == params_m
    assert_macs(model, macs_m * 1e6, size)


def test_mobilenet_v1_table1_layers():
    model = mobilenet_v1()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 28  # Table 1 counts depthwise and pointwise layers separately
    assert sum(c.groups == c.in_channels > 1 for c in convs) == 13
    # BN and ReLU after every convolution (Fig. 3)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 27
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 27
    # each tensor listed once in the state dict (blocks.DepthwiseSeparable registers aliases)
    assert len(model.state_dict()) == len({id(t) for t in model.state_dict().values()})
    shallow = meta(mobilenet_v1, shallow=True)
    assert sum(isinstance(m, nn.Conv2d) for m in shallow.modules()) == 27 - 10
    full = meta(mobilenet_v1, depthwise_separable=False)
    assert not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in full.modules())


@pytest.mark.parametrize("bad", [0, -0.5, "1.0", None, float("nan"), float("inf"), True])
def test_mobilenet_width_mult_errors(bad):
    for build in (mobilenet_v1, mobilenet_v2, lambda width_mult: mobilenet_v3("large", width_mult)):
        with pytest.raises(ValueError, match="width_mult"):
            meta(build, width_mult=bad)


# ---------------------------------------------------------------------------------------------------------
# MobileNetV2 and V3


def test_mobilenet_v2_counts_equal_torchvision():
    model = meta(mobilenet_v2)
    assert count_params(model) == 3_504_872 == count_params(meta(torchvision.models.mobilenet_v2))
    assert_macs(model, 300.8e6)
    # width 1.4: the paper's 585 M MACs (its 6.9 M parameters are not those of the released 6.06 M model)
    wide = meta(mobilenet_v2, width_mult=1.4)
    assert_macs(wide, 585e6)
    assert count_params(wide) == count_params(meta(torchvision.models.mobilenet_v2, width_mult=1.4))


def test_mobilenet_v2_blocks():
    model = meta(mobilenet_v2)
    blocks = [m for m in model.modules() if hasattr(m, "use_residual")]
    assert len(blocks) == 17
    # skips only at stride 1 with equal channels: 1 + 2 + 3 + 2 + 2 of Table 2's repeats
    assert sum(b.use_residual for b in blocks) == 10
    assert all(b.use_residual == (b.stride == 1 and b.in_channels == b.out_channels) for b in blocks)
    # the projection is linear: conv and BN, no activation (Section 3.2)
    assert all(len(b.project) == 2 for b in blocks)
    assert isinstance(blocks[1].depthwise[2], nn.ReLU6)


@pytest.mark.parametrize(("variant", "params", "gmacs", "paper_mmacs"), [
    ("large", 5_483_032, 0.217, 219),  # numbers.md (torchvision) and Table 3
    ("small", 2_542_856, 0.057, 56),
])
def test_mobilenet_v3_counts(variant, params, gmacs, paper_mmacs):
    model = meta(mobilenet_v3, variant)
    tv = meta(torchvision.models.get_model, f"mobilenet_v3_{variant}")
    assert count_params(model) == params == count_params(tv)
    macs = count_macs(model)
    # 0.057 G is itself rounded (56.51 M), so compare to its three decimals, and exactly to torchvision
    assert round(macs / 1e9, 3) == gmacs and macs == count_macs(tv)
    assert abs(macs / 1e6 / paper_mmacs - 1) < 0.015


@pytest.mark.parametrize(("variant", "paper_m", "paper_mmacs", "exact", "tv_params"), [
    ("large", 4.0, 155, (3_993_528, 154_560_624), 3_377_576),
    ("small", 2.0, 44, (2_041_872, 43_399_344), 1_653_920),
])
def test_mobilenet_v3_width_075(variant, paper_m, paper_mmacs, exact, tv_params):
    # Table 3: the paper's code keeps the 1280 (1024) head whole and applies the expansion factors to the
    # scaled inputs; torchvision thins the head and scales the expansions
    paper = meta(mobilenet_v3, variant, 0.75)
    assert (count_params(paper), count_macs(paper)) == exact
    assert abs(exact[0] / (paper_m * 1e6) - 1) < 0.025 and abs(exact[1] / (paper_mmacs * 1e6) - 1) < 0.015
    tv = meta(mobilenet_v3, variant, 0.75, thin_head=True, expansion="scaled")
    assert count_params(tv) == tv_params == count_params(
        meta(torchvision.models.get_model, f"mobilenet_v3_{variant}", width_mult=0.75))
    assert count_macs(meta(mobilenet_v3, variant, 0.75, expansion="scaled")) < 0.92 * exact[1]  # the gap
    with pytest.raises(ValueError, match="expansion"):
        mobilenet_v3(variant, expansion="half")


def test_mobilenet_v3_se_and_activations():
    model = meta(mobilenet_v3, "large")
    blocks = [m for m in model.modules() if hasattr(m, "use_residual")]
    rows = MOBILENET_V3_STAGES["large"]
    assert len(blocks) == len(rows)
    for block, row in zip(blocks, rows, strict=True):
        assert hasattr(block.se, "squeeze_channels") == row.se
        assert not row.se or isinstance(block.se.gate, nn.Hardsigmoid)
        assert isinstance(block.depthwise[2], nn.Hardswish if row.nl == "HS" else nn.ReLU)
    # 1/4 of the expansion, rounded to a multiple of 8 (72 / 4 = 18 -> 24: never 10 % below)
    squeeze = [b.se.squeeze_channels for b in blocks if hasattr(b.se, "squeeze_channels")]
    assert squeeze == [24, 32, 32, 120, 168, 168, 240, 240]
    # the redesigned last stage: the 1280-wide layer acts on the pooled vector
    assert model.classifier[0].in_features == 960 and model.classifier[0].out_features == 1280


def test_mobilenet_v3_bad_variant():
    with pytest.raises(ValueError, match="'large', 'small'"):
        mobilenet_v3("medium")


# ---------------------------------------------------------------------------------------------------------
# torchvision interchange


def _calibrated(tv: nn.Module, size: int) -> nn.Module:
    """Give a random torchvision model non-trivial BN statistics and affines, so logits are O(1)."""
    torch.manual_seed(1)
    for m in tv.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # running averages = batch statistics of the calibration batch
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    with torch.no_grad():
        tv.train()(torch.randn(8, 3, size, size))
    return tv.eval()


@pytest.mark.parametrize(("name", "convert", "size"), [
    ("mobilenet_v2", mobilenet_v2_from_torchvision, 64),
    ("mobilenet_v3_large", mobilenet_v3_from_torchvision, 64),
    ("mobilenet_v3_small", mobilenet_v3_from_torchvision, 64),
    ("efficientnet_b0", efficientnet_from_torchvision, 64),
    ("efficientnet_b5", efficientnet_from_torchvision, 64),  # batch-norm epsilon 1e-3 instead of 1e-5
])
def test_torchvision_logits(name, convert, size):
    torch.manual_seed(0)
    tv = _calibrated(torchvision.models.get_model(name, num_classes=10), size)
    model = convert(tv.state_dict()).eval()
    assert count_params(model) == count_params(tv)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected, got = tv(x), model(x)
    assert expected.abs().max() > 0.01  # the comparison means something
    assert (got - expected).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------------------------
# EfficientNet


def test_efficientnet_tables():
    assert STAGES[0] == (1, 3, 1, 32, 16, 1) and STAGES[-1] == (6, 3, 1, 192, 320, 1)
    assert [row[5] for row in STAGES] == [1, 2, 2, 3, 3, 4, 1]
    assert RELEASED["b0"] == (1.0, 1.0, 224, 0.2) and RELEASED["b7"] == (2.0, 3.1, 600, 0.5)
    assert round_filters(32, 1.1) == 32 and round_filters(320, 1.1) == 352 and round_filters(16, 1.8) == 32
    assert round_repeats(3, 1.1) == 4 and round_repeats(1, 3.1) == 4 and round_repeats(4, 1.0) == 4


@pytest.mark.parametrize(("name", "params", "gmacs"), list(zip(
    RELEASED,
    [5_288_548, 7_794_184, 9_109_994, 12_233_232, 19_341_616, 30_389_784, 43_040_704, 66_347_960],
    [0.386, 0.687, 0.994, 1.827, 4.394, 10.266, 19.068, 37.746], strict=True)))
def test_efficientnet_released_counts(name, params, gmacs):
    start = time.perf_counter()
    model = meta(getattr(effnet, f"efficientnet_{name}"))
    assert count_params(model) == params
    assert model.resolution == RELEASED[name][2]
    assert_macs(model, gmacs * 1e9, model.resolution)
    # B7 at 600 px is built and counted in about 0.7 s; the margin is for a busy shared machine
    assert time.perf_counter() - start < 10.0
    assert model.classifier[0].p == RELEASED[name][3]


@pytest.mark.parametrize(("width", "depth", "resolution"), [
    (1.0, 1.0, 224),                                   # b0
    (1.2, 1.4, 300),                                   # b3
    (1.1**1.5, 1.2**1.5, resolution_for(1.5)),         # phi = 1.5, off the released grid
    (1.0, 1.0, 225),                                   # odd sizes: every stride-2 layer rounds up
    (1.1**3, 1.2**3, 341),                             # the phi explorer reaches 341 px
])
def test_efficientnet_cost_matches_built_model(width, depth, resolution):
    model = meta(effnet.EfficientNet, width, depth, resolution)
    assert efficientnet_cost(width, depth, resolution) == (count_params(model),
                                                           count_macs(model, (3, resolution, resolution)))
    start = time.perf_counter()
    efficientnet_cost(width, depth, resolution)
    assert time.perf_counter() - start < 0.05


def test_efficientnet_compound_scaling():
    model = meta(efficientnet, phi=1.0)
    assert model.depth == pytest.approx(1.2) and model.width == pytest.approx(1.1)
    assert model.resolution == 258 == resolution_for(1.0)  # 1.15 x 224 = 257.6; the released B1 uses 240
    assert resolution_for(0) == 224 and resolution_for(2, gamma=1.0) == 224
    assert count_params(meta(efficientnet, phi=0)) == 5_288_548
    phi2 = meta(efficientnet, phi=2.0)
    assert count_params(meta(efficientnet, phi=0.5)) < count_params(model) < count_params(phi2)
    # FLOPs grow about as (alpha beta^2 gamma^2)^phi = 1.92^phi (Section 3.3)
    ratio = count_macs(phi2, (3, phi2.resolution, phi2.resolution)) / 385_814_752
    assert abs(ratio / 1.92**2 - 1) < 0.3  # 4.7: rounding filters and repeats up adds the rest


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"phi": -1}, "phi"), ({"phi": "1"}, "phi"), ({"alpha": 0}, "alpha"), ({"beta": -1.1}, "beta"),
    ({"gamma": 0.0}, "gamma"),
])
def test_efficientnet_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        meta(efficientnet, **kwargs)


def test_efficientnet_stochastic_depth():
    model = meta(efficientnet_b0)
    blocks = [m for m in model.modules() if hasattr(m, "use_residual")]
    rates = [getattr(b.drop_path, "p", 0.0) for b in blocks]
    assert len(blocks) == 16
    assert rates == pytest.approx([0.2 * i / 16 for i in range(16)])  # survival falls linearly towards 0.8
    squeeze = [b.se.squeeze_channels for b in blocks]
    assert squeeze[:2] == [8, 4]  # max(1, in // 4): 32 // 4, then 16 // 4
    assert all(isinstance(b.se.act, nn.SiLU) and isinstance(b.se.gate, nn.Sigmoid) for b in blocks)
    assert not any(isinstance(m, (nn.ReLU, nn.ReLU6)) for m in model.modules())  # Swish everywhere

    # in training, the residual block of rate 0.175 keeps only its skip for about 17.5 % of the images
    torch.manual_seed(0)
    block = efficientnet_b0().features[6][3].train()
    assert block.use_residual and block.drop_path.p == pytest.approx(0.175)
    x = torch.randn(256, block.in_channels, 2, 2)
    with torch.no_grad():
        out = block(x)
    dropped = sum(bool((out[i] == x[i]).all()) for i in range(256))
    assert 20 < dropped < 75


# ---------------------------------------------------------------------------------------------------------
# Forward and backward on a CPU


@pytest.mark.parametrize("build", [
    lambda: mobilenet_v1(width_mult=0.25, num_classes=10),
    lambda: mobilenet_v1(width_mult=0.25, depthwise_separable=False, shallow=True, num_classes=10),
    lambda: mobilenet_v2(width_mult=0.35, num_classes=10),
    lambda: mobilenet_v3("large", width_mult=0.5, num_classes=10),
    lambda: mobilenet_v3("small", num_classes=10),
    lambda: efficientnet_b0(num_classes=10),
])
def test_forward_backward(build):
    torch.manual_seed(0)
    model = build().train()
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert math.isfinite(sum(g.abs().sum().item() for g in grads))
