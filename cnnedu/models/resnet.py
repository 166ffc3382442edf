"""ResNet: residual learning with basic, bottleneck and pre-activation blocks, for ImageNet and CIFAR.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition" (arXiv:1512.03385): Table 1 for
ImageNet, Section 4.2 for CIFAR-10. He et al., "Identity Mappings in Deep Residual Networks"
(arXiv:1603.05027) for the pre-activation block.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from cnnedu.blocks import ConvBNAct, check_positive
from cnnedu.models import _torchvision

__all__ = [
    "conv3x3",
    "conv1x1",
    "ZeroPadShortcut",
    "BasicBlock",
    "Bottleneck",
    "PreActBlock",
    "ResNet",
    "CifarResNet",
    "RESNET_STAGES",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet_cifar",
    "resnet_from_torchvision",
]

VARIANTS = ("v1", "v1.5")
SHORTCUTS = ("A", "B")


def _check_channels(**values: int) -> None:
    for name, value in values.items():
        check_positive(name, value, integer=True)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows and has its own shift)."""
    _check_channels(in_channels=in_channels, out_channels=out_channels, stride=stride, groups=groups)
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: the bottleneck's reduce / expand layers and projection shortcuts."""
    _check_channels(in_channels=in_channels, out_channels=out_channels, stride=stride)
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: identity, subsampled by ``stride`` and padded with zero channels.

    He et al. 2015 (arXiv:1512.03385), Section 3.3 (A) and 4.2: parameter-free, so a CIFAR ResNet and its
    plain counterpart have exactly the same parameters. Slicing and ``F.pad`` also run on the meta device.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        _check_channels(in_channels=in_channels, out_channels=out_channels, stride=stride)
        if out_channels < in_channels:
            raise ValueError(f"out_channels ({out_channels}) must be >= in_channels ({in_channels}) for option A")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        # pad = (left, right, top, bottom, front, back): the new channels come after the old ones
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}"


def make_shortcut(kind: str | None, in_channels: int, out_channels: int, stride: int,
                  norm: bool = True) -> nn.Module | None:
    """The shortcut of a residual block: identity where the shape is kept, else option A or B.

    He et al. 2015, Section 3.3: (A) zero-padding identity, (B) projection (1x1 convolution, here followed
    by BN) only where the shape changes. ``kind=None`` gives a plain block (no shortcut at all).
    """
    if kind is None:
        return None
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS} or None (plain), got {kind!r}")
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    if not norm:  # pre-activation blocks: the next block's BN normalizes the sum
        return conv1x1(in_channels, out_channels, stride)
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BN, plus a shortcut: y = ReLU(F(x) + x). ResNet-18/34 (Fig. 5 left).

    He et al. 2015 (arXiv:1512.03385), Section 3 and Fig. 2. ``shortcut=None`` gives the plain block of the
    paper's "plain" networks.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str | None = "B") -> None:
        super().__init__()
        _check_channels(in_channels=in_channels, channels=channels, stride=stride)
        self.in_channels, self.out_channels = in_channels, channels * self.expansion
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = make_shortcut(shortcut, in_channels, self.out_channels, stride)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch F(x), before the addition."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4), each with BN, plus a shortcut. ResNet-50/101/152 (Fig. 5 right).

    He et al. 2015 (arXiv:1512.03385), Section 3.3 "Deeper Bottleneck Architectures". ``groups`` and
    ``base_width`` (channels per group in the first stage) give ResNeXt's grouped 3x3 (arXiv:1611.05431)
    and the wide ResNet-50-2: the 3x3 has ``int(channels * base_width / 64) * groups`` channels.

    ``stride_in_1x1=True`` is the paper's v1 (the first 1x1 has stride 2, so three quarters of the input
    positions are dropped before any 3x3 sees them); False is torchvision's "v1.5", which moves the stride
    to the 3x3 (following fb.resnet.torch): about 0.5 % better top-1 for 6 % more MACs (4.09 vs 3.86 G).
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, groups: int = 1, base_width: int = 64,
                 stride_in_1x1: bool = False) -> None:
        super().__init__()
        _check_channels(in_channels=in_channels, channels=channels, stride=stride, groups=groups,
                        base_width=base_width)
        width = int(channels * base_width / 64) * groups
        self.in_channels, self.out_channels, self.width = in_channels, channels * self.expansion, width
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_channels, width, s1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, s3, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, self.out_channels)
        self.bn3 = nn.BatchNorm2d(self.out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = make_shortcut("B", in_channels, self.out_channels, stride)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch F(x), before the addition."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class PreActBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, then x + F(x), no ReLU after.

    He et al. 2016, "Identity Mappings in Deep Residual Networks" (arXiv:1603.05027), Fig. 1(b) and 4(e):
    the sum is not passed through a ReLU, so the identity path runs unchanged from block to block. With
    ``dropout`` it is the Wide ResNet block (Zagoruyko and Komodakis, arXiv:1605.07146, Fig. 1(d)).

    A projection shortcut (1x1 conv, no BN) reads the pre-activated input, as in the authors' code; the
    identity and option A shortcuts read the raw input.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str | None = "B",
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_channels(in_channels=in_channels, channels=channels, stride=stride)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.in_channels, self.out_channels = in_channels, channels
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(channels, channels)
        self.relu = nn.ReLU()  # not in place: x is still needed by the shortcut
        self.shortcut = make_shortcut(shortcut, in_channels, channels, stride, norm=False)
        self.preactivated_shortcut = isinstance(self.shortcut, nn.Conv2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv2(self.dropout(self.relu(self.bn2(self.conv1(pre)))))
        if self.shortcut is None:
            return out
        return out + self.shortcut(pre if self.preactivated_shortcut else x)


def init_weights(model: nn.Module) -> None:
    """He (fan-out) initialisation for convolutions, BN to (1, 0), as in He et al. 2015 Section 3.4."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# He et al. 2015, Table 1: block type and number of blocks in conv2_x, conv3_x, conv4_x, conv5_x.
# Every stage doubles the channels (64, 128, 256, 512 before the bottleneck's x4) and, except conv2_x
# (which follows the 3x3 max pool), halves the resolution in its first block.
RESNET_STAGES: dict[int, tuple[type[nn.Module], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}
STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)


class ResNet(nn.Module):
    """ImageNet ResNet: 7x7/2 conv, 3x3/2 max pool, four stages of ``block``, global average pool, FC.

    He et al. 2015 (arXiv:1512.03385), Table 1. Stages are named after the table (``conv2_x`` ...);
    ``block_kwargs`` go to every block (ResNeXt's ``groups``, SE's ``reduction``...).
    """

    def __init__(self, block: type[nn.Module], layers: list[int], num_classes: int = 1000,
                 **block_kwargs) -> None:
        super().__init__()
        check_positive("num_classes", num_classes, integer=True)
        if len(layers) != len(STAGE_CHANNELS) or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"layers must give the blocks of the four stages, positive integers (Table 1: "
                             f"[3, 4, 6, 3] for ResNet-50), got {layers!r}")
        self.conv1 = ConvBNAct(3, 64, 7, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        for i, (channels, n, stride) in enumerate(zip(STAGE_CHANNELS, layers, STAGE_STRIDES, strict=True)):
            blocks = []
            for j in range(n):
                blocks.append(block(in_channels, channels, stride if j == 0 else 1, **block_kwargs))
                in_channels = channels * block.expansion
            self.add_module(f"conv{i + 2}_x", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5_x(self.conv4_x(self.conv3_x(self.conv2_x(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def resnet(depth: int = 50, variant: str = "v1", num_classes: int = 1000) -> ResNet:
    """ResNet-``depth`` for ImageNet, depth in 18, 34, 50, 101, 152 (He et al. 2015, Table 1).

    ``variant="v1"`` puts a bottleneck's stride in its first 1x1 as in the paper (3.86 GMACs for ResNet-50);
    ``"v1.5"`` in the 3x3 as torchvision does (4.09 GMACs). Same parameters; ResNet-18/34 have no 1x1 and
    are the same network in both variants.
    """
    if depth not in RESNET_STAGES:
        raise ValueError(f"depth must be one of {sorted(RESNET_STAGES)}, got {depth!r}")
    _check_variant(variant)
    block, layers = RESNET_STAGES[depth]
    kwargs = {"stride_in_1x1": variant == "v1"} if block is Bottleneck else {}
    return ResNet(block, layers, num_classes, **kwargs)


def resnet18(**kwargs) -> ResNet:
    """ResNet-18 (He et al. 2015, Table 1)."""
    return resnet(18, **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34 (He et al. 2015, Table 1)."""
    return resnet(34, **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50 (He et al. 2015, Table 1)."""
    return resnet(50, **kwargs)


def resnet101(**kwargs) -> ResNet:
    """ResNet-101 (He et al. 2015, Table 1)."""
    return resnet(101, **kwargs)


def resnet152(**kwargs) -> ResNet:
    """ResNet-152 (He et al. 2015, Table 1)."""
    return resnet(152, **kwargs)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
                     variant: str = "v1.5") -> ResNet:
    """Build the cnnedu ResNet matching a torchvision ResNet / ResNeXt / Wide ResNet and load its weights.

    The architecture (block type, blocks per stage, groups, width per group, classes) is read from the
    state dict. With ``variant="v1.5"`` the logits equal torchvision's; ``"v1"`` receives the same weights
    but moves the stride to the 1x1, so it computes a different function.
    """
    _check_variant(variant)
    sd = tv_model_or_state_dict.state_dict() if isinstance(tv_model_or_state_dict, nn.Module) \
        else tv_model_or_state_dict
    layers = [len({k.split(".")[1] for k in sd if k.startswith(f"layer{s}.")}) for s in range(1, 5)]
    num_classes = sd["fc.weight"].shape[0]
    if "layer1.0.conv3.weight" not in sd:
        model = ResNet(BasicBlock, layers, num_classes)
    else:
        w = sd["layer1.0.conv2.weight"]  # (width, width / groups, 3, 3), width = base_width * groups
        groups, base_width = w.shape[0] // w.shape[1], w.shape[1]
        model = ResNet(Bottleneck, layers, num_classes, groups=groups, base_width=base_width,
                       stride_in_1x1=variant == "v1")
    return _torchvision.load_state_dict_by_order(model, sd)


resnet_from_torchvision = from_torchvision


class CifarResNet(nn.Module):
    """CIFAR ResNet: 3x3 conv, three stages of ``blocks_per_stage`` blocks, global average pool, FC.

    He et al. 2015 (arXiv:1512.03385), Section 4.2: feature maps 32, 16, 8 with ``widths`` (16, 32, 64)
    filters. With pre-activation blocks the stem has no BN-ReLU (each block starts with one) and a final
    BN-ReLU precedes the pooling (arXiv:1603.05027); that is also the Wide ResNet layout.
    """

    def __init__(self, block: type[nn.Module], blocks_per_stage: int, widths: tuple[int, int, int],
                 num_classes: int = 10, stem_width: int = 16, **block_kwargs) -> None:
        super().__init__()
        check_positive("num_classes", num_classes, integer=True)
        _check_channels(blocks_per_stage=blocks_per_stage, stem_width=stem_width)
        if len(widths) != 3:
            raise ValueError(f"widths must give the filters of the three stages (16, 32, 64 in Section 4.2), "
                             f"got {widths!r}")
        self.preact = block is PreActBlock
        self.conv1 = conv3x3(3, stem_width) if self.preact else ConvBNAct(3, stem_width, 3)
        in_channels = stem_width
        for i, (channels, stride) in enumerate(zip(widths, (1, 2, 2), strict=True)):
            blocks = []
            for j in range(blocks_per_stage):
                blocks.append(block(in_channels, channels, stride if j == 0 else 1, **block_kwargs))
                in_channels = channels
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
        self.final = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True)) if self.preact \
            else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(self.final(x)), 1))


def resnet_cifar(depth: int = 20, plain: bool = False, shortcut: str = "A", preact: bool = False,
                 num_classes: int = 10, width: int = 16) -> CifarResNet:
    """CIFAR-10 ResNet (or plain net) with 6n+2 layers: n blocks of two 3x3 convs per stage.

    He et al. 2015 (arXiv:1512.03385), Section 4.2: 20, 32, 44, 56, 110 layers (0.27, 0.46, 0.66, 0.85,
    1.7 M params) with option A shortcuts; ``shortcut="B"`` uses projections where the shape changes,
    ``plain=True`` none at all, ``preact=True`` the pre-activation block of arXiv:1603.05027.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth!r}")
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
    check_positive("width", width, integer=True)
    block = PreActBlock if preact else BasicBlock
    return CifarResNet(block, (depth - 2) // 6, (width, 2 * width, 4 * width), num_classes, stem_width=width,
                       shortcut=None if plain else shortcut)
