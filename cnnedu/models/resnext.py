"""ResNeXt: aggregated residual transformations, i.e. a bottleneck whose 3x3 is a grouped convolution.

Xie, Girshick, Dollar, Tu and He, "Aggregated Residual Transformations for Deep Neural Networks"
(arXiv:1611.05431): Table 1 (ResNeXt-50 32x4d), Fig. 3 (three equivalent block forms), Table 2 (templates
of about the same complexity).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import nn

from cnnedu.blocks import ConvBNAct, check_positive
from cnnedu.models.resnet import RESNET_STAGES, Bottleneck, ResNet, conv1x1, conv3x3, init_weights
from cnnedu.models.resnet import from_torchvision as _resnet_from_torchvision

__all__ = [
    "resnext",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "resnext_from_torchvision",
    "ResNeXtBlockA",
    "ResNeXtBlockB",
    "ResNeXtBlockC",
    "copy_block_weights",
    "resnext_block_params",
    "template_width",
    "block_parts",
    "tiny_resnext",
    "RESNEXT_TABLE2",
    "RESNEXT_TABLE3",
]

# Xie et al., Table 1: ResNeXt-50 keeps ResNet-50's stages [3, 4, 6, 3] and their outputs (256 ... 2048);
# each block's 3x3 has C groups of d channels in conv2 (C*d = 128 for 32x4d), doubling every stage.
# ResNeXt-101 uses ResNet-101's [3, 4, 23, 3] (Section 5.1).
RESNEXT_DEPTHS = (50, 101, 152)


def resnext(depth: int = 50, cardinality: int = 32, width: int = 4, num_classes: int = 1000) -> ResNet:
    """ResNeXt-``depth`` (``cardinality`` x ``width``d): the ResNet bottleneck with a grouped 3x3.

    Xie et al. (arXiv:1611.05431), Table 1 and Section 4. The stride sits in the 3x3 (Section 4: "as
    suggested in [11]"), so this is the paper's network and torchvision's: ResNeXt-50 32x4d has 25.0 M
    parameters and 4.2 GMACs.
    """
    if depth not in RESNEXT_DEPTHS:
        raise ValueError(f"depth must be one of {RESNEXT_DEPTHS}, got {depth!r}")
    check_positive("cardinality", cardinality, integer=True)
    check_positive("width", width, integer=True)
    _, layers = RESNET_STAGES[depth]
    return ResNet(Bottleneck, layers, num_classes, groups=cardinality, base_width=width)


def resnext50_32x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-50 (32x4d), Xie et al. Table 1."""
    return resnext(50, 32, 4, num_classes)


def resnext101_32x8d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-101 (32x8d), Xie et al. Section 5.1 (torchvision's ``resnext101_32x8d``)."""
    return resnext(101, 32, 8, num_classes)


def resnext101_64x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-101 (64x4d), Xie et al. Table 5 (torchvision's ``resnext101_64x4d``)."""
    return resnext(101, 64, 4, num_classes)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> ResNet:
    """Load a torchvision ResNeXt (cardinality and width read from its weights) into a cnnedu ResNeXt."""
    return _resnet_from_torchvision(tv_model_or_state_dict, variant="v1.5")


resnext_from_torchvision = from_torchvision


# ---------------------------------------------------------------------------------------------------------
# The three equivalent forms of Fig. 3, without BN so that the equivalence is exact.


class _ResNeXtBlock(nn.Module):
    """y = ReLU(x + T(x)) with T an aggregation of ``cardinality`` paths of ``width`` channels."""

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("cardinality", cardinality), ("width", width)):
            check_positive(name, value, integer=True)
        self.channels, self.cardinality, self.width = channels, cardinality, width
        self.relu = nn.ReLU()

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.transform(x))

    def extra_repr(self) -> str:
        return f"{self.channels} -> {self.cardinality}x{self.width}d -> {self.channels}"


def _path(channels: int, width: int, expand: bool) -> nn.Sequential:
    layers = OrderedDict(reduce=conv1x1(channels, width), relu1=nn.ReLU(), conv=conv3x3(width, width),
                         relu2=nn.ReLU())
    if expand:
        layers["expand"] = conv1x1(width, channels)
    return nn.Sequential(layers)


class ResNeXtBlockA(_ResNeXtBlock):
    """Fig. 3(a), split-transform-merge: C paths 1x1 -> 3x3 -> 1x1, summed (eq. 3: F(x) = sum_i T_i(x))."""

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4) -> None:
        super().__init__(channels, cardinality, width)
        self.paths = nn.ModuleList(_path(channels, width, expand=True) for _ in range(cardinality))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return sum(path(x) for path in self.paths)


class ResNeXtBlockB(_ResNeXtBlock):
    """Fig. 3(b), early concatenation: C paths 1x1 -> 3x3, concatenated, one 1x1 back to ``channels``.

    Summing C 1x1 convolutions of the paths equals one 1x1 convolution of their concatenation.
    """

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4) -> None:
        super().__init__(channels, cardinality, width)
        self.paths = nn.ModuleList(_path(channels, width, expand=False) for _ in range(cardinality))
        self.expand = conv1x1(cardinality * width, channels)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(torch.cat([path(x) for path in self.paths], dim=1))


class ResNeXtBlockC(_ResNeXtBlock):
    """Fig. 3(c), grouped convolution: 1x1 to C*d, 3x3 with ``groups=C``, 1x1 back. The form that is used.

    The C first 1x1s stack into one 1x1 with C*d outputs; the C separate 3x3s are a grouped convolution.
    """

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4) -> None:
        super().__init__(channels, cardinality, width)
        inner = cardinality * width
        self.reduce = conv1x1(channels, inner)
        self.conv = conv3x3(inner, inner, groups=cardinality)
        self.expand = conv1x1(inner, channels)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(torch.relu(self.conv(torch.relu(self.reduce(x)))))


def _grouped_weights(block: _ResNeXtBlock) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (reduce, grouped 3x3, expand) weights of form C, read from any form."""
    if isinstance(block, ResNeXtBlockC):
        return block.reduce.weight, block.conv.weight, block.expand.weight
    reduce = torch.cat([p.reduce.weight for p in block.paths])
    conv = torch.cat([p.conv.weight for p in block.paths])
    if isinstance(block, ResNeXtBlockB):
        expand = block.expand.weight
    else:
        expand = torch.cat([p.expand.weight for p in block.paths], dim=1)
    return reduce, conv, expand


@torch.no_grad()
def copy_block_weights(src: nn.Module, dst: nn.Module) -> nn.Module:
    """Copy the weights of one ResNeXt block form into another so that both compute the same function.

    Path i of forms A and B owns output channels [i*d, (i+1)*d) of form C's first 1x1 and its group i of
    the 3x3; form A's per-path 1x1s are the column blocks of form B's / C's last 1x1 (Xie et al., Fig. 3).
    """
    forms = (ResNeXtBlockA, ResNeXtBlockB, ResNeXtBlockC)
    if not isinstance(src, forms) or not isinstance(dst, forms):
        raise ValueError("src and dst must be ResNeXtBlockA, ResNeXtBlockB or ResNeXtBlockC")
    shape = (src.channels, src.cardinality, src.width)
    if shape != (dst.channels, dst.cardinality, dst.width):
        raise ValueError(f"src and dst must have the same channels, cardinality and width, got {shape} and "
                         f"{(dst.channels, dst.cardinality, dst.width)}")
    reduce, conv, expand = _grouped_weights(src)
    if isinstance(dst, ResNeXtBlockC):
        dst.reduce.weight.copy_(reduce)
        dst.conv.weight.copy_(conv)
        dst.expand.weight.copy_(expand)
        return dst
    d = dst.width
    for i, path in enumerate(dst.paths):
        path.reduce.weight.copy_(reduce[i * d:(i + 1) * d])
        path.conv.weight.copy_(conv[i * d:(i + 1) * d])
        if isinstance(dst, ResNeXtBlockA):
            path.expand.weight.copy_(expand[:, i * d:(i + 1) * d])
    if isinstance(dst, ResNeXtBlockB):
        dst.expand.weight.copy_(expand)
    return dst


def resnext_block_params(cardinality: int, width: int, channels: int = 256) -> int:
    """Weights of a ResNeXt block (no BN): C * (channels*d + 9*d^2 + d*channels). Xie et al., Section 3.3.

    ``resnext_block_params(1, 64)`` is ResNet-50's conv2 bottleneck, about 70k.
    """
    for name, value in (("cardinality", cardinality), ("width", width), ("channels", channels)):
        check_positive(name, value, integer=True)
    return cardinality * (2 * channels * width + 9 * width * width)


def template_width(cardinality: int, channels: int = 256, reference_width: int = 64) -> int:
    """The bottleneck width d at which a C-path block costs about as much as a ResNet bottleneck.

    Solves C * (2*channels*d + 9*d^2) = 2*channels*w0 + 9*w0^2 for d and rounds (Xie et al., Table 2:
    1x64d, 2x40d, 4x24d, 8x14d, 32x4d for the 256-channel conv2 block).
    """
    for name, value in (("cardinality", cardinality), ("channels", channels), ("reference_width", reference_width)):
        check_positive(name, value, integer=True)
    target = resnext_block_params(1, reference_width, channels) / cardinality
    a, b = 9, 2 * channels  # 9 d^2 + 2 channels d - target = 0
    return round((-b + math.sqrt(b * b + 4 * a * target)) / (2 * a))


# ---------------------------------------------------------------------------------------------------------
# The paper's tables, and a ResNeXt small enough to train on a CPU.

# Xie et al., Table 2: cardinality C -> (bottleneck width d, width of the grouped 3x3 C*d), conv2 (256 channels).
RESNEXT_TABLE2: dict[int, tuple[int, int]] = {1: (64, 64), 2: (40, 80), 4: (24, 96), 8: (14, 112), 32: (4, 128)}

# Xie et al., Table 3: ImageNet-1K top-1 error (%, 224 px single crop) of the Table 2 templates at preserved
# complexity, as ResNeXt-50 and ResNeXt-101 (1x64d is the ResNet itself).
RESNEXT_TABLE3: dict[str, dict[str, float]] = {
    "ResNeXt-50": {"1x64d": 23.9, "2x40d": 23.0, "4x24d": 22.6, "8x14d": 22.3, "32x4d": 22.2},
    "ResNeXt-101": {"1x64d": 22.0, "2x40d": 21.7, "4x24d": 21.4, "8x14d": 21.3, "32x4d": 21.2},
}


def block_parts(cardinality: int, width: int, channels: int = 256) -> dict[str, int]:
    """Weights of the three layers of a ResNeXt block (form (c), no BN): eq. 4 of Xie et al. term by term.

    ``sum(block_parts(C, d).values()) == resnext_block_params(C, d)``.
    """
    for name, value in (("cardinality", cardinality), ("width", width), ("channels", channels)):
        check_positive(name, value, integer=True)
    inner = cardinality * width
    return {"1x1 reduce": channels * inner, "grouped 3x3": 9 * inner * width, "1x1 expand": inner * channels}


def tiny_resnext(cardinality: int = 1, width: int = 12, stages: tuple[int, ...] = (32, 64), blocks: int = 1,
                 stem: int = 16, stem_stride: int = 1, num_classes: int = 10) -> nn.Sequential:
    """A ResNeXt for small images: a 3x3 stem, ``blocks`` bottlenecks per stage, pooling and a classifier.

    Xie et al. (arXiv:1611.05431), Table 1 in miniature: each stage ends in ``stages[i]`` channels and has a
    grouped 3x3 of ``cardinality`` x d channels, with d = ``width`` in the first stage and doubling at every
    stage (the resolution halves from the second stage on). ``cardinality=1`` is a ResNet bottleneck
    network; pick ``width`` with ``template_width(C, stages[0], reference_width)`` to preserve complexity.
    """
    for name, value in (("cardinality", cardinality), ("width", width), ("blocks", blocks), ("stem", stem),
                        ("stem_stride", stem_stride), ("num_classes", num_classes)):
        check_positive(name, value, integer=True)
    if not stages or any(not isinstance(c, int) or c < 4 or c % 4 for c in stages):
        raise ValueError(f"stages must be a non-empty tuple of channel counts divisible by 4, got {stages!r}")
    layers, c_in = [ConvBNAct(3, stem, 3, stride=stem_stride)], stem
    for i, c_out in enumerate(stages):
        planes, d = c_out // Bottleneck.expansion, width * 2**i
        # Bottleneck's 3x3 has int(planes * base_width / 64) * groups channels: the smallest integer
        # base_width that gives d per group
        base_width = math.ceil(64 * d / planes)
        for b in range(blocks):
            block = Bottleneck(c_in, planes, stride=2 if i and b == 0 else 1, groups=cardinality,
                               base_width=base_width)
            if block.width != cardinality * d:
                raise ValueError(f"width {width} cannot be built at stages {stages!r}: stage {i} gets "
                                 f"{block.width // cardinality} channels per group instead of {d}")
            layers.append(block)
            c_in = c_out
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
    init_weights(model)
    return model
