"""The residual family: ResNet (v1 / v1.5, CIFAR), Wide ResNet, ResNeXt, SE-ResNet.

Counts against numbers.md and the papers, logits against randomly initialised torchvision models.
"""

import math

import pytest
import torch
import torchvision
from torch import nn

from cnnedu.analysis import count_macs, count_params
from cnnedu.blocks import SqueezeExcite
from cnnedu.models.resnet import (
    Bottleneck,
    PreActBlock,
    ZeroPadShortcut,
    resnet,
    resnet18,
    resnet50,
    resnet_cifar,
    resnet_from_torchvision,
)
from cnnedu.models.resnext import (
    ResNeXtBlockA,
    ResNeXtBlockB,
    ResNeXtBlockC,
    copy_block_weights,
    resnext,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext_block_params,
    resnext_from_torchvision,
    template_width,
)
from cnnedu.models.senet import SEBottleneck, se_block_params, se_resnet
from cnnedu.models.wide_resnet import wide_resnet, wide_resnet50_2, wide_resnet_from_torchvision


def meta(factory, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return factory(*args, **kwargs)


def assert_macs(model: nn.Module, expected_g: float, input_size=(3, 224, 224)) -> None:
    macs = count_macs(model, input_size) / 1e9
    assert macs == pytest.approx(expected_g, rel=5e-3)


def forward_backward(model: nn.Module, size: int, classes: int) -> None:
    model.train()
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# ---------------------------------------------------------------------------------------------------------
# ResNet, ImageNet (numbers.md: torchvision 0.29)

TORCHVISION_RESNETS = {
    18: (11_689_512, 1.814),
    34: (21_797_672, 3.664),
    50: (25_557_032, 4.089),
    101: (44_549_160, 7.801),
    152: (60_192_808, 11.514),
}
# measured here for the paper's v1 (stride in the first 1x1); Table 1 of He et al. says 3.8, 7.6, 11.3 G
V1_MACS = {18: 1_814_073_344, 34: 3_663_761_408, 50: 3_857_973_248, 101: 7_570_194_432, 152: 11_282_415_616}


@pytest.mark.parametrize("depth", sorted(TORCHVISION_RESNETS))
def test_resnet_counts_both_variants(depth):
    params, gmacs = TORCHVISION_RESNETS[depth]
    v15, v1 = meta(resnet, depth, "v1.5"), meta(resnet, depth, "v1")
    assert count_params(v15) == count_params(v1) == params
    assert_macs(v15, gmacs)
    assert count_macs(v1) == V1_MACS[depth]


def test_v1_is_cheaper_than_v1_5_and_near_the_paper():
    assert count_macs(meta(resnet, 50, "v1")) < count_macs(meta(resnet, 50, "v1.5"))
    for depth, paper in ((50, 3.8e9), (101, 7.6e9), (152, 11.3e9)):
        assert V1_MACS[depth] == pytest.approx(paper, rel=0.02)


def test_stride_position_of_the_variants():
    v1, v15 = meta(resnet, 50, "v1"), meta(resnet, 50, "v1.5")
    assert v1.conv3_x[0].conv1.stride == (2, 2) and v1.conv3_x[0].conv2.stride == (1, 1)
    assert v15.conv3_x[0].conv1.stride == (1, 1) and v15.conv3_x[0].conv2.stride == (2, 2)
    assert resnet18().conv2_x[0].shortcut.__class__ is nn.Identity  # option B: identity where shapes match
    assert isinstance(v15.conv3_x[0].shortcut[0], nn.Conv2d)  # projection where they change


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_from_torchvision_same_logits(name):
    torch.manual_seed(0)
    tv = getattr(torchvision.models, name)().eval()
    ours = resnet_from_torchvision(tv).eval()
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        assert (ours(x) - tv(x)).abs().max() <= 1e-4
    if name == "resnet50":
        # v1 takes the same weights but moves the stride: another function, not torchvision's
        v1 = resnet_from_torchvision(tv.state_dict(), variant="v1").eval()
        assert torch.equal(v1.conv3_x[0].conv1.weight, tv.layer2[0].conv1.weight)
        with torch.no_grad():
            assert (v1(x) - tv(x)).abs().max() > 1e-3


def test_resnet_forward_backward():
    # the basic block runs forward and backward in the CIFAR tests
    forward_backward(resnet50(variant="v1", num_classes=5), 32, 5)


@pytest.mark.parametrize("kwargs", [{"depth": 42}, {"depth": "50"}, {"variant": "v2"}, {"num_classes": 0}])
def test_resnet_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        resnet(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# ResNet, CIFAR (He et al. 2015, Section 4.2: 0.27, 0.46, 0.66, 0.85, 1.7 M)


@pytest.mark.parametrize("depth, paper_m, exact", [(20, 0.27, 269_722), (32, 0.46, 464_154), (44, 0.66, 658_586),
                                                   (56, 0.85, 853_018), (110, 1.7, 1_727_962)])
def test_resnet_cifar_params(depth, paper_m, exact):
    params = count_params(meta(resnet_cifar, depth))
    assert params == exact
    digits = 1 if paper_m >= 1 else 2
    assert round(params / 1e6, digits) == paper_m
    # option A and plain nets have the same parameters; projections add some
    assert count_params(meta(resnet_cifar, depth, plain=True)) == exact
    assert count_params(meta(resnet_cifar, depth, shortcut="B")) > exact


def test_zero_pad_shortcut():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    assert meta(ZeroPadShortcut, 16, 32, 2)(torch.empty(1, 16, 8, 8, device="meta")).shape == (1, 32, 4, 4)


def test_plain_net_has_no_shortcuts():
    net = resnet_cifar(20, plain=True)
    assert all(block.shortcut is None for block in net.stage2)
    assert isinstance(resnet_cifar(20).stage2[0].shortcut, ZeroPadShortcut)


@pytest.mark.parametrize("kwargs", [{}, {"plain": True}, {"shortcut": "B"}, {"preact": True},
                                    {"preact": True, "shortcut": "B"}])
def test_resnet_cifar_forward_backward(kwargs):
    net = resnet_cifar(8, **kwargs)
    forward_backward(net, 32, 10)
    assert isinstance(net.stage1[0], PreActBlock) == kwargs.get("preact", False)


def test_resnet_cifar_macs():
    # 40.55 M for ResNet-20 (option A and plain); projections add the 1x1 convolutions
    a = count_macs(meta(resnet_cifar, 20), (3, 32, 32))
    assert a == count_macs(meta(resnet_cifar, 20, plain=True), (3, 32, 32)) == 40_551_040
    b = count_macs(meta(resnet_cifar, 20, shortcut="B"), (3, 32, 32))
    assert b - a == 16 * 32 * 16 * 16 + 32 * 64 * 8 * 8


@pytest.mark.parametrize("kwargs", [{"depth": 21}, {"depth": 2}, {"shortcut": "C"}, {"width": 0}])
def test_resnet_cifar_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        resnet_cifar(**kwargs)


def test_resnet_cifar_error_lists_depths():
    with pytest.raises(ValueError, match="20, 32, 44, 56, 110"):
        resnet_cifar(21)


# ---------------------------------------------------------------------------------------------------------
# Wide ResNet


@pytest.mark.parametrize("depth, k, paper_m", [(40, 4, 8.9), (16, 8, 11.0), (28, 10, 36.5), (16, 4, 2.7)])
def test_wide_resnet_params(depth, k, paper_m):
    params = count_params(meta(wide_resnet, depth, k))
    assert round(params / 1e6, 1) == paper_m
    if (depth, k) == (28, 10):
        assert params == 36_479_194


def test_wide_resnet_block_has_dropout_between_convs():
    block = wide_resnet(16, 4, dropout=0.3).stage2[1]
    names = [n for n, _ in block.named_children()]
    assert isinstance(block.dropout, nn.Dropout) and block.dropout.p == 0.3
    assert names.index("conv1") < names.index("dropout") < names.index("conv2")
    forward_backward(wide_resnet(10, 2, dropout=0.3), 32, 10)


@pytest.mark.parametrize("kwargs", [{"depth": 27}, {"widen_factor": 0}, {"dropout": 1.5}])
def test_wide_resnet_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        wide_resnet(**kwargs)


def shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(v.shape) for v in model.state_dict().values()]


def test_wide_resnet50_2_counts_and_logits():
    m = meta(wide_resnet50_2)
    assert count_params(m) == 68_883_240
    assert_macs(m, 11.398)
    # torchvision's state dict fits tensor by tensor (checked on meta: 68 M weights twice is slow on CPU)
    assert shapes(m) == shapes(meta(torchvision.models.wide_resnet50_2))
    # same logits, on the same architecture with one block per stage
    torch.manual_seed(0)
    tv = torchvision.models.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], width_per_group=128).eval()
    ours = wide_resnet_from_torchvision(tv).eval()
    assert ours.conv2_x[0].width == 128
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        assert (ours(x) - tv(x)).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------------------------
# ResNeXt


@pytest.mark.parametrize("factory, params, gmacs", [(resnext50_32x4d, 25_028_904, 4.230),
                                                    (resnext101_32x8d, 88_791_336, 16.414)])
def test_resnext_counts(factory, params, gmacs):
    m = meta(factory)
    assert count_params(m) == params
    assert_macs(m, gmacs)


def test_resnext_from_torchvision_same_logits():
    torch.manual_seed(0)
    tv = torchvision.models.resnext50_32x4d().eval()
    ours = resnext_from_torchvision(tv).eval()
    assert ours.conv2_x[0].conv2.groups == 32
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        assert (ours(x) - tv(x)).abs().max() <= 1e-4


def test_resnext_forward_backward():
    forward_backward(resnext(50, cardinality=4, width=4, num_classes=3), 32, 3)


@pytest.mark.parametrize("kwargs", [{"depth": 34}, {"cardinality": 0}, {"width": -4}])
def test_resnext_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        resnext(**kwargs)


@pytest.mark.parametrize("src_form", [ResNeXtBlockA, ResNeXtBlockB, ResNeXtBlockC])
def test_resnext_block_forms_are_equivalent(src_form):
    torch.manual_seed(0)
    src = src_form(256, 32, 4)
    x = torch.randn(2, 256, 8, 8)
    with torch.no_grad():
        ref = src(x)
        assert (ref - x.relu()).abs().max() > 1e-3  # the transform is not trivially zero
        for dst_form in (ResNeXtBlockA, ResNeXtBlockB, ResNeXtBlockC):
            dst = copy_block_weights(src, dst_form(256, 32, 4))
            assert (dst(x) - ref).abs().max() < 1e-5
            assert count_params(dst) == resnext_block_params(32, 4) == 70_144


def test_resnext_block_forms_structure():
    a, b, c = ResNeXtBlockA(), ResNeXtBlockB(), ResNeXtBlockC()
    assert len(a.paths) == len(b.paths) == 32
    assert c.conv.groups == 32 and c.conv.in_channels == 128
    with pytest.raises(ValueError, match="cardinality"):
        copy_block_weights(ResNeXtBlockA(256, 32, 4), ResNeXtBlockC(256, 16, 8))


def test_template_widths_of_table_2():
    assert [template_width(c) for c in (1, 2, 4, 8, 32)] == [64, 40, 24, 14, 4]
    ref = resnext_block_params(1, 64)
    assert ref == 69_632  # ResNet-50's conv2 bottleneck, "about 70k"
    for c in (2, 4, 8, 32):
        assert resnext_block_params(c, template_width(c)) == pytest.approx(ref, rel=0.03)


# ---------------------------------------------------------------------------------------------------------
# SE-ResNet


def test_se_resnet50_params():
    assert count_params(meta(se_resnet, 50, 16)) == 28_088_024


@pytest.mark.parametrize("r, paper_m", [(2, 45.7), (4, 35.7), (8, 30.7), (16, 28.1), (32, 26.9)])
def test_se_resnet50_table_10(r, paper_m):
    # Table 10 rounds up to 0.1 M (ResNet-50's 25,557,032 is its "25.6 M" too)
    params = count_params(meta(se_resnet, 50, r))
    assert math.ceil(params / 1e5) / 10 == paper_m


def test_se_block_params():
    assert se_block_params(256, 16) == 2 * 256**2 // 16 + 16 + 256 == count_params(SqueezeExcite(256, 16))
    # per-block SE parameters add up to the SE-ResNet-50 overhead
    channels = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    assert sum(se_block_params(c, 16) for c in channels) == 28_088_024 - 25_557_032


@pytest.mark.parametrize("position", ["standard", "pre", "post", "identity"])
def test_se_positions(position):
    """With the SE gate fixed at 0.5, each position gives its own formula, built from the plain block."""
    torch.manual_seed(0)
    plain = Bottleneck(64, 32, stride=2).eval()
    se = SEBottleneck(64, 32, stride=2, reduction=4, position=position).eval()
    se.load_state_dict(plain.state_dict(), strict=False)
    nn.init.zeros_(se.se.fc2.weight)
    nn.init.zeros_(se.se.fc2.bias)  # sigmoid(0) = 0.5 for every channel
    x = torch.randn(2, 64, 8, 8)
    expected = {
        "standard": lambda: torch.relu(0.5 * plain.residual(x) + plain.shortcut(x)),
        "pre": lambda: torch.relu(plain.residual(0.5 * x) + plain.shortcut(x)),  # the identity is not scaled
        "post": lambda: 0.5 * plain(x),
        "identity": lambda: torch.relu(plain.residual(x) + 0.5 * plain.shortcut(x)),
    }[position]
    with torch.no_grad():
        assert torch.allclose(se(x), expected(), atol=1e-5)
    assert se.se.channels == (64 if position == "pre" else 128)


def test_se_resnet_forward_backward():
    # every position runs in test_se_positions; one small full network here
    forward_backward(se_resnet(18, 8, "identity", num_classes=4), 32, 4)
    assert count_params(meta(se_resnet, 50, 16, "post")) == 28_088_024


@pytest.mark.parametrize("kwargs", [{"reduction": 0}, {"reduction": -2}, {"reduction": 257},
                                    {"reduction": 65, "position": "pre"}, {"position": "middle"}, {"depth": 20}])
def test_se_resnet_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        se_resnet(**kwargs)


def test_preact_block_projection_reads_the_preactivated_input_and_identity_the_raw_one():
    from cnnedu.models.resnet import PreActBlock

    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6) * 3 - 1  # far from BN's output, so raw and pre-activated inputs differ
    projection = PreActBlock(8, 16, stride=2, shortcut="B").eval()
    pre = projection.relu(projection.bn1(x))
    branch = projection.conv2(projection.relu(projection.bn2(projection.conv1(pre))))
    assert torch.allclose(projection(x), branch + projection.shortcut(pre), atol=1e-6)
    assert not torch.allclose(projection(x), branch + projection.shortcut(x), atol=1e-3)
    identity = PreActBlock(8, 8, stride=1, shortcut="B").eval()
    pre = identity.relu(identity.bn1(x))
    branch = identity.conv2(identity.relu(identity.bn2(identity.conv1(pre))))
    assert torch.allclose(identity(x), branch + x, atol=1e-6)
