"""Notebook 13 (Howard et al. 2019, MobileNetV3): hard against smooth activations, output landscapes, int8 h-swish."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from cnnedu.models.mobilenet_v3 import HARD_SWISH_INT8_SCALE, hard_swish_int8
from cnnedu.viz.activations import (
    hard_vs_smooth,
    output_landscape,
    output_landscapes,
    random_mlp,
    roughness,
    second_difference,
)

# ---------------------------------------------------------------------------------------------------------
# hard_vs_smooth


def test_hard_vs_smooth_pairs_each_curve_with_its_hard_copy():
    fig = hard_vs_smooth()
    assert isinstance(fig, Figure)
    left, right = fig.axes
    labels = [{line.get_label() for line in a.get_lines() if not line.get_label().startswith("_")}
              for a in (left, right)]
    assert labels[0] == {"sigmoid (needs exp)", "hard sigmoid (ReLU6 only)"}
    assert labels[1] == {"Swish (needs exp)", "h-swish (ReLU6 only)"}
    assert "0.069" in left.get_title() and "0.142" in right.get_title()  # the largest gaps on [-6, 6]
    plt.close(fig)


def test_hard_vs_smooth_axes_and_errors():
    fig, pair = plt.subplots(1, 2)
    assert hard_vs_smooth(ax=pair) is fig
    with pytest.raises(ValueError, match="pair"):
        hard_vs_smooth(ax=pair[0])
    with pytest.raises(ValueError, match="x_range"):
        hard_vs_smooth(x_range=(1, -1))
    plt.close("all")


# ---------------------------------------------------------------------------------------------------------
# output landscapes


def test_random_mlp_same_weights_for_every_activation_and_global_state_untouched():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    relu, swish = random_mlp(nn.ReLU, seed=3, width=8), random_mlp(nn.SiLU, seed=3, width=8)
    assert torch.equal(torch.random.get_rng_state(), before)
    for a, b in zip(relu.state_dict().values(), swish.state_dict().values(), strict=True):
        assert torch.equal(a, b) and a.dtype == torch.float64
    assert isinstance(relu[1], nn.ReLU) and isinstance(swish[3], nn.SiLU)
    with pytest.raises(ValueError, match="width"):
        random_mlp(nn.ReLU, width=0)


def test_second_difference_and_roughness_vanish_on_a_plane_not_on_a_crease():
    axis = torch.linspace(-1, 1, 11, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    assert roughness(2 * x - y + 1) == pytest.approx(0.0, abs=1e-12)
    crease = second_difference(x.abs())
    assert crease.shape == (9, 9) and crease.max().item() == pytest.approx(0.4)  # |x| kinks at x = 0 (h = 0.2)
    with pytest.raises(ValueError, match="z must"):
        second_difference(torch.zeros(2, 5))


def test_output_landscape_grid_and_swish_smoother_than_relu():
    net = nn.Linear(2, 1).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 10.0]]))
        net.bias.zero_()
    z = output_landscape(net, n=5, span=2.0)
    assert z.shape == (5, 5) and z[0, -1].item() == pytest.approx(2.0 - 20.0)  # row 0 is y = -2, last column x = 2
    rough = {name: roughness(output_landscape(random_mlp(act, seed=0), n=41)) for name, act in
             (("relu", nn.ReLU), ("swish", nn.SiLU))}
    assert rough["swish"] < rough["relu"]
    with pytest.raises(ValueError, match="n must"):
        output_landscape(net, n=2)
    with pytest.raises(ValueError, match="span"):
        output_landscape(net, span=0)


def test_output_landscapes_figure():
    surfaces = {name: output_landscape(random_mlp(act), n=21) for name, act in (("ReLU", nn.ReLU), ("h", nn.Hardswish))}
    fig = output_landscapes(surfaces, title="t")
    assert isinstance(fig, Figure) and fig._suptitle.get_text() == "t"
    assert [a.get_title() for a in fig.axes[:2]] == ["ReLU", "h"]
    assert len(fig.axes) == 2 * 2 + 2  # two rows of images and a colour bar per row
    with pytest.raises(ValueError, match="surfaces"):
        output_landscapes({})
    with pytest.raises(ValueError, match="surfaces"):
        output_landscapes({"flat": torch.zeros(5)})
    plt.close("all")


# ---------------------------------------------------------------------------------------------------------
# int8 h-swish


def test_hard_swish_int8_is_exact_on_every_code():
    q = torch.arange(-128, 128, dtype=torch.int8)
    out = hard_swish_int8(q)
    assert out.dtype == torch.int16
    x = q.double() * HARD_SWISH_INT8_SCALE
    assert torch.equal(out.double() * HARD_SWISH_INT8_SCALE / 64, F.hardswish(x))
    assert hard_swish_int8(torch.tensor([32], dtype=torch.int8)).item() == 32 * 64  # h-swish(3) = 3
    with pytest.raises(ValueError, match="int8"):
        hard_swish_int8(torch.zeros(3))
