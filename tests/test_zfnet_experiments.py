"""The experiments of notebook 02 (Zeiler and Fergus 2014): the mini networks, Fig. 7 as a test, Fig. 4 measured."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnedu import data, train
from cnnedu.analysis import count_params, receptive_fields
from cnnedu.deconvnet import (
    Deconvnet,
    WeightSnapshots,
    class_probability,
    distance_to_final,
    object_mask,
    occlude,
    occlusion_squares,
    settle_step,
)
from cnnedu.models import MINI_VARIANTS, zfnet_mini

# ---------------------------------------------------------------------------------------------------------
# zfnet_mini


@pytest.mark.parametrize("variant, maps", [
    ("zfnet", [(16, 16), (8, 8), (4, 4), (2, 2), (2, 2), (2, 2), (2, 2)]),
    ("alexnet", [(8, 8), (4, 4), (4, 4), (2, 2), (2, 2), (2, 2), (2, 2)]),
])
def test_zfnet_mini_maps_follow_figure_3_in_small(variant, maps):
    with torch.device("meta"):
        model = zfnet_mini(variant)
    rows = [r for r in receptive_fields(model.features, (3, 32, 32)) if r.layer_type != "ReLU"]
    assert [tuple(r.output_shape[1:]) for r in rows] == maps
    k, s, _ = MINI_VARIANTS[variant]
    assert model.features.conv1.kernel_size == (k, k) and model.features.conv1.stride == (s, s)
    # conv1 3*c1*k*k + c1, conv2 c1*c2*25 + c2, conv3-5 9*c*c' + c', fc6 256*128 + 128, fc7 128*10 + 10
    expected = 3 * 32 * k * k + 32 + 32 * 64 * 25 + 64 + 3 * (64 * 64 * 9 + 64) + 256 * 128 + 128 + 1290
    assert count_params(model) == expected


def test_zfnet_mini_runs_through_the_deconvnet_and_initializes_conv1_small():
    torch.manual_seed(0)
    model = zfnet_mini(widths=(8, 8, 8, 8, 8), hidden=16)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.features.conv1.weight.std().item() == pytest.approx(0.01, rel=0.2)
    fan_in = 8 * 9
    assert model.features.conv3.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.2)
    net = Deconvnet(model)
    net(torch.rand(1, 3, 32, 32))
    assert net.project("relu5", 0).shape == (1, 3, 32, 32)
    with torch.device("meta"):
        assert zfnet_mini(image_size=64).fc6.in_features == 64 * 4 * 4


@pytest.mark.parametrize("kwargs, match", [
    ({"variant": "vgg"}, "variant"),
    ({"widths": (8, 8, 8)}, "widths"),
    ({"widths": (8, 8, 0, 8, 8)}, "conv3"),
    ({"hidden": 0}, "hidden"),
    ({"num_classes": 1.5}, "num_classes"),
])
def test_zfnet_mini_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        zfnet_mini(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# Fig. 7 as a test: object mask, squares, occlusion, class probability


def disk_on_gradient(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of a disk in one colour on a shaded background of another, and the disk's true mask."""
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    images, masks = [], []
    for i in range(n):
        bg, fg = torch.rand(3, generator=g) * 0.3, 0.7 + torch.rand(3, generator=g) * 0.3
        ramp = 0.2 * (xs - size / 2) / size * (1 if i % 2 else -1)
        cx, cy, r = 10 + 12 * torch.rand(1, generator=g).item(), 12.0 + i, 6.0 + i
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 < r ** 2
        img = (bg.view(3, 1, 1) + ramp).expand(3, size, size).clone()
        img[:, inside] = fg.view(3, 1)
        images.append(img + 0.01 * torch.randn(3, size, size, generator=g))
        masks.append(inside)
    return torch.stack(images), torch.stack(masks)


def test_object_mask_finds_a_disk_on_a_shaded_background():
    images, truth = disk_on_gradient()
    mask = object_mask(images)
    assert mask.shape == truth.shape and mask.dtype == torch.bool
    assert (mask != truth).float().mean() < 0.02


def test_object_mask_on_the_shapes_data_covers_the_object():
    x, y = data.shapes_dataset(200, seed=3).tensors
    mask = object_mask(x)
    frac = mask.float().mean(dim=(1, 2))
    # objects have radius 7-12 px (textures: patches of stripes), plus two small dots
    assert ((frac > 0.04) & (frac < 0.6)).float().mean() > 0.97


def test_occlusion_squares_pick_the_object_and_clear_background():
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[0, 2:6, 3:7] = True           # a 4x4 object at the top left
    mask[1] = True                     # all object: no clear square
    sq = occlusion_squares(mask, patch=4, margin=1, seed=0)
    assert sq.object[0].tolist() == [2, 3] and sq.object_cover[0] == 1.0
    assert sq.clear.tolist() == [True, False]
    top, left = sq.background[0].tolist()
    grown = torch.zeros(16, 16, dtype=torch.bool)
    grown[1:7, 2:8] = True
    assert not grown[top:top + 4, left:left + 4].any()
    assert sq.background[1].tolist() == [-1, -1]
    again = occlusion_squares(mask, patch=4, seed=0)
    assert torch.equal(again.background, sq.background)
    assert not torch.equal(occlusion_squares(mask, patch=4, seed=1).background, sq.background)


def test_occlude_sets_exactly_the_squares():
    images = torch.ones(2, 3, 8, 8)
    out = occlude(images, torch.tensor([[0, 0], [5, 6]]), patch=3, fill=-1.0)
    assert out[0, :, :3, :3].eq(-1).all() and out[0].eq(-1).sum() == 3 * 9
    assert out[1, :, 5:8, 6:8].eq(-1).all() and out[1].eq(-1).sum() == 3 * 6   # clipped at the edge
    assert images.eq(1).all()


def test_class_probability_matches_softmax_and_restores_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Dropout(0.5)).train()
    x, labels = torch.randn(7, 3, 2, 2), torch.tensor([0, 1, 2, 3, 4, 0, 1])
    p = class_probability(model, x, labels, batch_size=3)
    model.eval()
    expected = model(x).softmax(1)[torch.arange(7), labels]
    assert torch.allclose(p, expected.detach(), atol=1e-6)
    model.train()
    class_probability(model, x, labels)
    assert model.training


# ---------------------------------------------------------------------------------------------------------
# Fig. 4 measured: snapshots during one run, distance to the final weights


def test_weight_snapshots_record_the_weights_after_t_updates():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    ds = torch.utils.data.TensorDataset(torch.randn(40, 3, 2, 2), torch.randint(0, 4, (40,)))
    loaders = (data.tensor_loader(ds, batch_size=8, seed=0), data.tensor_loader(ds, batch_size=8, shuffle=False))
    initial = model[1].weight.detach().clone()
    with WeightSnapshots(model, steps=[0, 2, 3]) as snaps:
        train.fit(model, loaders, epochs=2, max_steps=7, progress=False, **train.QUICK)
    assert sorted(snaps.states) == [0, 2, 3, 7] and snaps.taken == 7      # evaluation passes not counted
    assert torch.equal(snaps.states[0]["1.weight"], initial)
    assert torch.equal(snaps.states[7]["1.weight"], model[1].weight.detach())
    # replaying the same run for 2 steps gives the step-2 snapshot
    torch.manual_seed(0)
    replay = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    train.fit(replay, loaders, epochs=2, max_steps=7, progress=False, **train.QUICK)
    assert torch.equal(replay[1].weight, model[1].weight)
    with pytest.raises(ValueError, match="steps"):
        WeightSnapshots(model, steps=[])


def test_distance_to_final_and_settle_step():
    states = {s: {"w": torch.tensor([float(v)])} for s, v in ((0, 10.0), (5, 6.0), (10, 3.0), (20, 1.0))}
    steps, d = distance_to_final(states, "w")
    assert steps == [0, 5, 10, 20] and d == pytest.approx([1.0, 5 / 9, 2 / 9, 0.0])
    # 5/9 at step 5, 2/9 at step 10: 1/2 is crossed 5/27 of the way
    assert settle_step(steps, d, 0.5) == pytest.approx(5 + 5 * (5 / 9 - 0.5) / (3 / 9))
    assert settle_step(steps, d, 0.6) == pytest.approx(5 * 0.4 / (4 / 9))
    assert settle_step([0, 1, 2, 3], [1.0, 0.3, 0.7, 0.0], 0.5) == pytest.approx(2 + 0.2 / 0.7)   # stays below
    assert settle_step([0, 1], [0.2, 0.1], 0.5) == 0
    with pytest.raises(ValueError, match="fraction"):
        settle_step(steps, d, 1.5)
    with pytest.raises(ValueError, match="name"):
        distance_to_final(states, "v")
