"""The measurements of notebook 08 (Huang et al. 2017): Fig. 5's feature-reuse maps and Section 1's gradient flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnedu import analysis
from cnnedu.models import densenet_cifar, gradient_flow_net, map_correlation, reuse_statistics, source_weights


def test_source_weights_shapes_and_normalization():
    torch.manual_seed(0)
    model = densenet_cifar(22, growth_rate=12, bottleneck=False, compression=1.0)
    maps = source_weights(model)
    assert len(maps) == 3 and all(m.shape == (7, 7) for m in maps)  # sources 0..6, targets 1..6 + transition
    for m in maps:
        assert np.isnan(m[np.tril_indices(7, -1)]).all()  # a layer cannot read later layers
        assert np.allclose(np.nanmax(m, axis=0), 1.0)  # every column divided by its maximum
    # at He initialization every source gets weights of the same scale: the columns are nearly flat
    assert reuse_statistics(maps)["(1) dense layers: weakest / strongest source"] > 0.85


def test_source_weights_reads_the_right_channels():
    torch.manual_seed(0)
    model = densenet_cifar(16, growth_rate=4, bottleneck=False, compression=1.0)
    block = model.features.block2
    with torch.no_grad():
        for layer in block.layers:
            layer.conv[2].weight.fill_(1.0)
        # layer 3 (index 2) reads block input (k0 channels), x_1, x_2: triple the weight on x_1's channels
        k0 = block.in_channels
        block.layers[2].conv[2].weight[:, k0:k0 + 4] = 3.0
    m = source_weights(model)[1]
    assert m[1, 2] == pytest.approx(1.0) and m[0, 2] == pytest.approx(1 / 3) and m[2, 2] == pytest.approx(1 / 3)


def test_source_weights_uses_the_bottleneck_of_densenet_b():
    torch.manual_seed(0)
    model = densenet_cifar(28, growth_rate=4, bottleneck=True, compression=0.5)
    with torch.no_grad():
        model.features.block1.layers[1].bottleneck[2].weight.zero_()
        model.features.block1.layers[1].bottleneck[2].weight[:, -4:] = 1.0  # only x_1 (the last 4 channels)
    m = source_weights(model)[0]
    assert m[0, 1] == 0.0 and m[1, 1] == 1.0


def test_reuse_statistics_and_correlation():
    flat = [np.triu(np.ones((5, 5))) + np.tril(np.full((5, 5), np.nan), -1) for _ in range(3)]
    stats = reuse_statistics(flat)
    assert all(v == pytest.approx(1.0) for v in stats.values())
    shaped = [m.copy() for m in flat]
    for m in shaped[1:]:
        m[0, 1:4] = 0.5  # the block input gets half the weight of the others
    shaped[-1][3:, -1], shaped[-1][:2, -1] = 1.0, 0.25
    stats = reuse_statistics(shaped)
    assert stats["(3) blocks 2+: block input / other sources"] == pytest.approx(0.5)
    assert stats["(4) classifier: last two sources / first two"] == pytest.approx(4.0)
    assert map_correlation(shaped, shaped) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="maps"):
        reuse_statistics(flat[:1])
    with pytest.raises(ValueError, match="same architecture"):
        map_correlation(flat, flat[:2])
    with pytest.raises(ValueError, match="DenseNet"):
        source_weights(torch.nn.Linear(2, 2))


def test_gradient_flow_nets_and_dense_gradients_vary_less_with_depth():
    x, y = torch.rand(8, 3, 8, 8), torch.arange(8) % 10
    spread = {}
    for kind in ("dense", "plain"):
        torch.manual_seed(0)
        model, layers = gradient_flow_net(kind, num_layers=12, growth_rate=8, in_channels=8)
        assert len(layers) == 12 and model(x).shape == (8, 10)
        g = np.array(analysis.output_gradient_norms(model, layers, x, y))
        spread[kind] = np.log10(g.max() / g.min())
    # Section 1 of arXiv:1608.06993: in a dense block every layer has a short path to the loss
    assert spread["dense"] < spread["plain"]
    with pytest.raises(ValueError, match="kind"):
        gradient_flow_net("resnet")
    with pytest.raises(ValueError, match="num_layers"):
        gradient_flow_net(num_layers=0)


def test_growth_explorer_numbers_match_the_library_and_draw():
    from matplotlib.figure import Figure

    from cnnedu import widgets as W
    from cnnedu.models import DenseBlock, Transition

    nums = W.growth_numbers(k=12, layers=16, theta=0.5, k0=24)
    assert nums["c_in"][-1] == 204 and nums["out"] == 216 and nums["transition_out"] == 108
    assert sum(nums["bottleneck"]) == analysis.count_params(DenseBlock(24, 16, 12))
    assert sum(nums["plain"]) == analysis.count_params(DenseBlock(24, 16, 12, bottleneck=False))
    assert nums["transition_params"] == analysis.count_params(Transition(216, 0.5))
    assert isinstance(W.growth_update(k=8, layers=4, theta=1.0), Figure)
    for bad in ({"k": 0}, {"layers": 1.5}, {"theta": 1.5}, {"theta": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            W.growth_numbers(**bad)
    explorer = W.growth_widget()
    first = explorer.figure
    explorer.controls["k"].value = 24
    assert explorer.figure is not first and explorer.error is None
