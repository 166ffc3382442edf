"""DenseNet (arXiv:1608.06993) and Xception (arXiv:1610.02357): counts, torchvision interchange, shapes."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cnnedu.analysis import count_macs, count_params, receptive_field
from cnnedu.models.densenet import (
    DenseBlock,
    DenseLayer,
    Transition,
    dense_channels,
    densenet,
    densenet121,
    densenet161,
    densenet264,
    densenet_cifar,
    densenet_from_torchvision,
    from_torchvision,
)
from cnnedu.models.xception import (
    SeparableConv2d,
    XceptionBlock,
    inception_v3_params,
    xception,
)


def _meta(build, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# DenseNet, ImageNet (Table 1) against torchvision 0.29 (numbers.md)

TORCHVISION = {  # depth: (params, GMACs at 224 px)
    121: (7_978_856, 2.834),
    161: (28_681_000, 7.728),
    169: (14_149_480, 3.360),
    201: (20_013_928, 4.291),
}


@pytest.mark.parametrize("depth", sorted(TORCHVISION))
def test_densenet_counts_match_torchvision(depth):
    params, gmacs = TORCHVISION[depth]
    model = _meta(densenet, depth)
    assert count_params(model) == params
    assert count_macs(model) / 1e9 == pytest.approx(gmacs, rel=0.005)


def test_densenet_264_builds_with_table_1_blocks():
    model = _meta(densenet264)
    blocks = [m for m in model.features if isinstance(m, DenseBlock)]
    assert [len(b.layers) for b in blocks] == [6, 12, 64, 48]
    # 2k + 6k = 256 -> 128; 128 + 12k = 512 -> 256; 256 + 64k = 2304 -> 1152; 1152 + 48k = 2688
    assert model.classifier.in_features == 2688
    assert count_params(model) == 33_337_704
    # 1 stem conv + 2 x (6 + 12 + 64 + 48) dense-layer convs + 3 transitions + 1 FC = 265: Table 1's blocks
    # give one layer more than the name says (121, 169 and 201 add up exactly)
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 265
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in _meta(densenet121).modules()) == 121


def test_densenet_161_uses_k48_and_96_stem_channels():
    model = _meta(densenet161)
    assert model.features.stem[0].out_channels == 96
    assert model.growth_rate == 48


def test_densenet121_from_torchvision_same_logits():
    torch.manual_seed(0)
    theirs = torchvision.models.densenet121(weights=None).eval()
    with torch.no_grad():  # random running statistics, so that eval-mode BN is not the identity
        for m in theirs.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    ours = densenet_from_torchvision(theirs).eval()
    assert ours.depth == 121
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-4


def test_from_torchvision_rejects_other_architectures():
    state = _meta(torchvision.models.resnet18).state_dict()
    with pytest.raises(ValueError, match="matches none"):
        from_torchvision(state)


def test_densenet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth must be one of"):
        densenet(122)
    with pytest.raises(ValueError, match="pretrained"):
        _meta(densenet, 264, pretrained=True)  # no torchvision weights: refused before any download
    with pytest.raises(ValueError, match="compression"):
        Transition(25, compression=0)
    with pytest.raises(ValueError, match="growth_rate"):
        DenseLayer(25, growth_rate=0)
    with pytest.raises(ValueError, match="dropout"):
        densenet_cifar(40, 12, dropout=1.0)


# ---------------------------------------------------------------------------------------------------------
# DenseNet blocks (Section 3)


def test_dense_channels():
    assert dense_channels(24, 12, 4) == [24, 36, 48, 60]
    with pytest.raises(ValueError, match="k "):
        dense_channels(24, 0, 4)


def test_dense_block_concatenates_all_earlier_maps():
    torch.manual_seed(0)
    block = DenseBlock(in_channels=8, num_layers=3, growth_rate=4, bottleneck=True).eval()
    seen = []
    for layer in block.layers:
        layer.register_forward_hook(lambda m, inp, out: seen.append((inp[0].clone(), out.clone())))
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        y = block(x)
    assert y.shape == (2, 8 + 3 * 4, 5, 5) and block.out_channels == 20
    assert torch.equal(y[:, :8], x)  # x_0 passes through untouched
    # layer l sees [x_0, ..., x_{l-1}] and its output is x_l in the block's output
    for i, (inp, out) in enumerate(seen):
        assert inp.shape[1] == 8 + 4 * i
        assert torch.equal(inp, y[:, : 8 + 4 * i])
        assert torch.equal(out, y[:, 8 + 4 * i : 12 + 4 * i])


def test_dense_layer_bottleneck_widths():
    layer = DenseLayer(40, growth_rate=12, bottleneck=True)
    assert layer.bottleneck[2].weight.shape == (48, 40, 1, 1)  # 4k feature maps
    assert layer.conv[2].weight.shape == (12, 48, 3, 3)
    plain = DenseLayer(40, growth_rate=12, bottleneck=False)
    assert plain.conv[2].weight.shape == (12, 40, 3, 3)
    assert isinstance(plain.bottleneck, nn.Identity)


def test_transition_compresses_and_halves():
    t = Transition(25, compression=0.5)
    assert t.out_channels == 12  # floor(theta m)
    assert Transition(100, compression=0.29).out_channels == 29
    assert t(torch.randn(1, 25, 8, 8)).shape == (1, 12, 4, 4)
    assert Transition(25, compression=1).out_channels == 25


# ---------------------------------------------------------------------------------------------------------
# DenseNet, CIFAR (Section 3, Table 2)


def test_densenet_bc_100_12_exact():
    model = _meta(densenet_cifar, 100, 12)
    assert count_params(model) == 769_162
    assert model.features.stem.out_channels == 24  # 2k for DenseNet-BC
    assert [len(m.layers) for m in model.features if isinstance(m, DenseBlock)] == [16, 16, 16]


@pytest.mark.parametrize(
    ("depth", "k", "bottleneck", "compression", "millions"),
    [
        (40, 12, False, 1, 1.0),
        (100, 12, False, 1, 7.0),
        (100, 24, False, 1, 27.2),
        (100, 12, True, 0.5, 0.8),
        (250, 24, True, 0.5, 15.3),
        (190, 40, True, 0.5, 25.6),
    ],
)
def test_densenet_cifar_table_2(depth, k, bottleneck, compression, millions):
    model = _meta(densenet_cifar, depth, k, bottleneck, compression)
    assert round(count_params(model) / 1e6, 1) == millions


def test_densenet_cifar_variants():
    plain = _meta(densenet_cifar, 40, 12, bottleneck=False, compression=1)
    assert plain.features.stem.out_channels == 16
    assert [len(m.layers) for m in plain.features if isinstance(m, DenseBlock)] == [12, 12, 12]
    # DenseNet-C: no bottleneck, theta = 0.5, 16 stem channels; transition 1 halves 16 + 12 x 12 = 160
    c = _meta(densenet_cifar, 40, 12, bottleneck=False, compression=0.5)
    assert c.features.transition1.out_channels == 80
    b = _meta(densenet_cifar, 40, 12, bottleneck=True, compression=1)
    assert [len(m.layers) for m in b.features if isinstance(m, DenseBlock)] == [6, 6, 6]
    assert b.features.stem.out_channels == 16


def test_densenet_cifar_forward_backward():
    torch.manual_seed(0)
    model = densenet_cifar(40, 12, bottleneck=True, compression=0.5, num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert model.features.stem.weight.grad is not None
    assert model.features.stem.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"depth": 101}, "depth"),
        ({"depth": 40, "bottleneck": False, "growth_rate": 12, "compression": 1}, None),  # valid
        ({"depth": 41, "bottleneck": False}, "depth"),
        ({"depth": 4}, "depth"),
        ({"depth": 100.0}, "depth"),
        ({"growth_rate": 0}, "growth_rate"),
        ({"growth_rate": -12}, "growth_rate"),
        ({"compression": 0}, "compression"),
        ({"compression": 1.5}, "compression"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_densenet_cifar_errors(kwargs, name):
    if name is None:
        _meta(densenet_cifar, **kwargs)
        return
    with pytest.raises(ValueError, match=name):
        _meta(densenet_cifar, **kwargs)


def test_densenet_receptive_field_through_concatenations():
    # DenseNet-BC L=40: stem 3x3: 3; block 1: six 3x3 convs at stride 1: +12; transition avg-pool 2x2: +1;
    # block 2 at stride 2: +24; transition: +2; block 3 at stride 4: +48. Concatenations keep the largest field
    # (x_0's is smaller), and every 3x3 conv pads 1 at the stride of its block: 1 + 6 + 12 + 24.
    rf = receptive_field(_meta(densenet_cifar, 40, 12), (3, 32, 32))
    assert (rf.size, rf.stride, rf.padding) == (90, 4, 43)


# ---------------------------------------------------------------------------------------------------------
# Xception (Fig. 5, Table 3)


def test_xception_params_table_3():
    model = _meta(xception)
    assert count_params(model) == 22_855_952


def test_xception_36_conv_layers_in_14_modules():
    model = _meta(xception)
    modules = [*model.entry_flow, *model.middle_flow, *model.exit_flow]
    assert len(modules) == 14
    # all but the first and last modules have residual connections
    assert [isinstance(m, XceptionBlock) for m in modules] == [False] + [True] * 12 + [False]
    shortcuts = {id(c) for m in model.modules() if isinstance(m, XceptionBlock) for c in m.shortcut.modules()}
    in_separable = {id(c) for m in model.modules() if isinstance(m, SeparableConv2d) for c in m.modules()}
    separable = [m for m in model.modules() if isinstance(m, SeparableConv2d)]
    full = [m for m in model.modules()
            if isinstance(m, nn.Conv2d) and id(m) not in shortcuts and id(m) not in in_separable]
    assert len(full) == 2 and len(separable) == 34
    assert len(full) + len(separable) == 36
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 2 + 2 * 34 + 4  # 4 shortcut 1x1 convs


def test_xception_feature_map_sizes_at_299():
    model = _meta(xception)
    x = torch.empty(1, 3, 299, 299, device="meta")
    x = model.entry_flow(x)
    assert x.shape == (1, 728, 19, 19)  # Fig. 5: 19x19x728 feature maps
    assert model.exit_flow(model.middle_flow(x)).shape == (1, 2048, 10, 10)


def test_xception_forward_backward_at_71():
    torch.manual_seed(0)
    model = xception(num_classes=5)
    x = torch.randn(2, 3, 71, 71)
    out = model(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    grad = model.entry_flow[0][0][0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_separable_conv_is_a_factored_full_conv():
    torch.manual_seed(0)
    sep = SeparableConv2d(4, 6)
    assert count_params(sep) == 9 * 4 + 4 * 6
    # the full convolution with weight W[o, i] = P[o, i] D[i] gives the same output: no non-linearity between
    depthwise = sep.depthwise.weight[:, 0]  # (4, 3, 3)
    pointwise = sep.pointwise.weight[:, :, 0, 0]  # (6, 4)
    weight = pointwise[:, :, None, None] * depthwise[None]
    x = torch.randn(1, 4, 7, 7)
    assert torch.allclose(sep(x), nn.functional.conv2d(x, weight, padding=1), atol=1e-5)
    assert count_macs(sep, (4, 7, 7)) == 7 * 7 * (9 * 4 + 4 * 6)


def test_xception_block_shortcut_sees_pre_relu_input():
    torch.manual_seed(0)
    block = XceptionBlock(8, (16, 16), stride=2).eval()
    x = torch.randn(1, 8, 9, 9)
    x_copy = x.clone()
    with torch.no_grad():
        y = block(x)
        expected = block.residual(x) + block.shortcut(x)
    assert torch.equal(x, x_copy)  # the first ReLU is not in place
    assert y.shape == (1, 16, 5, 5)
    assert torch.allclose(y, expected)
    identity = XceptionBlock(16, (16, 16, 16))
    assert isinstance(identity.shortcut, nn.Identity)


def test_xception_receptive_field():
    # stem (valid 3x3 / 2, 3x3): 7 at stride 2; 34 separable 3x3 and 4 max pools 3x3 / 2 grow it to 1083
    rf = receptive_field(_meta(xception), (3, 299, 299))
    assert (rf.size, rf.stride, rf.padding) == (1083, 32, 538)


def test_xception_errors():
    with pytest.raises(ValueError, match="num_classes"):
        xception(num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        xception(dropout=1.0)
    with pytest.raises(ValueError, match="stride"):
        XceptionBlock(8, (16,), stride=3)


def test_inception_v3_params_against_table_3():
    without_aux = inception_v3_params()
    with_aux = inception_v3_params(aux_logits=True)
    assert without_aux == 23_834_568
    assert with_aux == 27_161_264
    # Table 3's 23,626,728 is within 1 % of the count without the auxiliary head, far from the one with it
    assert abs(without_aux - 23_626_728) / 23_626_728 < 0.01
    assert abs(with_aux - 23_626_728) / 23_626_728 > 0.1
