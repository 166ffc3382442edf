"""fig1_cnn: the small four-layer CNN of AlexNet's Figure 1 (ReLU against tanh)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnedu.analysis import count_params
from cnnedu.models import fig1_cnn
from cnnedu.models.alexnet import FIG1_ACTIVATIONS


def test_layers_and_output_shape() -> None:
    model = fig1_cnn("tanh", width=8, image_size=16)
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "act1", "pool1", "conv2", "act2", "pool2", "conv3", "act3", "pool3", "flatten", "fc"]
    assert all(isinstance(model.get_submodule(f"act{i}"), nn.Tanh) for i in (1, 2, 3))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.LocalResponseNorm, nn.Dropout)) for m in model.modules())
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
    # 16 -> pool 7 -> pool 3 -> pool 1: the FC layer sees 16 values
    assert model.fc.in_features == 16
    # conv 3*25*8+8, 8*25*16+16, 16*9*16+16, fc 16*10+10
    assert count_params(model) == 608 + 3216 + 2320 + 170


@pytest.mark.parametrize("size, side", [(15, 1), (16, 1), (24, 2), (32, 3)])
def test_fc_input_follows_the_image_size(size: int, side: int) -> None:
    with torch.device("meta"):
        model = fig1_cnn(width=4, image_size=size, num_classes=7)
    assert model.fc.in_features == 8 * side * side and model.fc.out_features == 7


def test_paper_initialization() -> None:
    torch.manual_seed(0)
    model = fig1_cnn("relu", width=16, image_size=32, init_std=0.01)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert abs(weights.std().item() - 0.01) < 5e-4 and abs(weights.mean().item()) < 5e-4
    assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_default_initialization_is_pytorchs() -> None:
    torch.manual_seed(0)
    ours = fig1_cnn("relu", init_std=None)
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 5, padding=2)
    assert torch.equal(ours.conv1.weight, conv.weight) and torch.equal(ours.conv1.bias, conv.bias)


def test_activations() -> None:
    for name, cls in FIG1_ACTIVATIONS.items():
        assert isinstance(fig1_cnn(name).act2, cls)


def test_saturation_at_the_papers_input_scale() -> None:
    """Pixels on the 0-255 scale with N(0, 0.01²) weights drive tanh into saturation in the first layer."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 3, 16, 16, generator=g) - 0.5) * 255  # mean subtracted, 0-255 range
    torch.manual_seed(0)
    z = fig1_cnn("tanh").conv1(x)
    assert (z.abs() > 2).float().mean() > 0.5  # where tanh' < 0.08
    assert (fig1_cnn("tanh").conv1(x / 255 * 3.5).abs() > 2).float().mean() < 0.01  # unit-scale inputs: not


@pytest.mark.parametrize("kwargs", [
    {"activation": "gelu"}, {"width": 0}, {"width": 2.5}, {"image_size": 14}, {"num_classes": 0},
    {"init_std": 0.0}, {"init_std": -0.01},
])
def test_invalid_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        fig1_cnn(**kwargs)
