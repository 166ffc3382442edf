"""Tests of cnnedu.resolution (FixRes's train and test pipelines) and its plot, cnnedu.viz.accuracy_vs_resolution."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torchvision.transforms import v2 as T

from cnnedu import models, viz
from cnnedu.resolution import (
    CROP_RATIO,
    RandomResizedCrops,
    accuracy_by_resolution,
    eval_transform,
    eval_views,
    expected_zoom,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_expected_zoom_closed_form_and_sampling():
    # torchvision's default scale (0.08, 1): 2 (1 - sqrt(0.08)) / 0.92
    assert expected_zoom() == pytest.approx(2 * (1 - math.sqrt(0.08)) / 0.92)
    assert expected_zoom((0.25, 0.25)) == pytest.approx(2.0)
    assert expected_zoom((1.0, 1.0)) == pytest.approx(1.0)
    # the mean of 1/sqrt(area fraction) over torchvision's own draws on a square image: with a fixed aspect
    # ratio it is the closed form; the aspect-ratio jitter rejects some large crops (wider than the image), so
    # the default draws zoom in a little more, which is why the closed form is called an average, not a bound
    img = torch.empty(3, 400, 400)

    def mean_zoom(ratio):
        torch.manual_seed(0)
        draws = [T.RandomResizedCrop.get_params(img, [0.08, 1.0], ratio) for _ in range(4000)]
        return float(np.mean([1 / math.sqrt(h * w / 400 ** 2) for _, _, h, w in draws]))

    assert mean_zoom([1.0, 1.0]) == pytest.approx(expected_zoom(), rel=0.02)
    assert expected_zoom() < mean_zoom([3 / 4, 4 / 3]) < 1.1 * expected_zoom()


@pytest.mark.parametrize("scale", [(0.0, 1.0), (0.5, 0.2), (0.1, 1.5), (0.5,)])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        expected_zoom(scale)
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrops(8, scale=scale)


def test_random_resized_crops_per_image_and_repeatable():
    x = torch.rand(6, 3, 32, 32)
    crop = RandomResizedCrops(16)
    torch.manual_seed(3)
    a = crop(x)
    torch.manual_seed(3)
    b = crop(x)
    assert a.shape == (6, 3, 16, 16)
    assert torch.equal(a, b)  # the global generator drives it: a seeded run repeats
    # the same image six times: the crops differ, so each image draws its own crop
    same = x[:1].expand(6, -1, -1, -1)
    out = crop(same)
    assert not all(torch.allclose(out[0], out[i]) for i in range(1, 6))
    with pytest.raises(ValueError, match="batch"):
        crop(x[0])
    with pytest.raises(ValueError, match="size"):
        RandomResizedCrops(0)
    assert "size=(16, 16)" in repr(crop)


def test_full_scale_crop_is_a_resize():
    # scale (1, 1) and ratio (1, 1) on a square image: the whole image, resized
    x = torch.rand(2, 3, 20, 20)
    out = RandomResizedCrops(10, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    assert torch.allclose(out, T.Resize(10, antialias=True)(x), atol=1e-6)


def test_eval_transform_is_imagenet_pipeline_at_224():
    assert CROP_RATIO == 224 / 256
    x = torch.rand(1, 3, 300, 300)
    ours = eval_transform(224)(x)
    ref = T.Compose([T.Resize(256, antialias=True), T.CenterCrop(224)])(x)
    assert torch.equal(ours, ref)
    # crop ratio 1: the whole (square) image, resized
    assert torch.equal(eval_transform(24, crop_ratio=1.0)(x), T.Resize(24, antialias=True)(x))
    with pytest.raises(ValueError, match="crop_ratio"):
        eval_transform(24, crop_ratio=1.5)


def test_views_and_accuracy_by_resolution():
    images = torch.rand(10, 3, 48, 48)
    views = eval_views(images, [16, 24, 32], crop_ratio=1.0)
    assert {s: tuple(v.shape) for s, v in views.items()} == {s: (10, 3, s, s) for s in (16, 24, 32)}
    with pytest.raises(ValueError, match="batch"):
        eval_views(images[0], [16])

    class Bright(nn.Module):  # class 1 when the mean is above 0.5: the same answer at every resolution
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([0.5 - m, m - 0.5], dim=1)

    labels = (images.mean(dim=(1, 2, 3)) > 0.5).long()
    model = Bright().train()
    acc = accuracy_by_resolution(model, views, labels, batch_size=3)
    assert set(acc) == {16, 24, 32}
    assert all(v == pytest.approx(1.0) for v in acc.values())
    assert model.training  # mode restored
    # a network with global average pooling takes every resolution
    net = models.small_cnn()
    acc = accuracy_by_resolution(net, views, torch.zeros(10, dtype=torch.long))
    assert all(0.0 <= v <= 1.0 for v in acc.values())


def test_accuracy_vs_resolution_plot():
    runs = {0: {16: 0.5, 24: 0.8, 32: 0.9}, 1: {16: 0.55, 24: 0.82, 32: 0.88}}
    fig = viz.accuracy_vs_resolution(runs, train_size=24, highlight=(24, 32))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "train resolution (24 px)" in labels
    assert "best mean (32 px)" in labels
    mean = next(line for line in ax.get_lines() if line.get_label().startswith("mean"))
    assert np.allclose(mean.get_ydata(), [52.5, 81.0, 89.0])  # fractions shown in percent
    # draws on a given Axes
    _, given = plt.subplots()
    assert viz.accuracy_vs_resolution(runs, 24, ax=given) is given.figure
    with pytest.raises(ValueError, match="same"):
        viz.accuracy_vs_resolution({0: {16: 0.5}, 1: {24: 0.5}}, 16)
    with pytest.raises(ValueError, match="at least one"):
        viz.accuracy_vs_resolution({}, 16)
