"""DenseNet: every layer receives the feature maps of all layers before it in its dense block.

Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks" (arXiv:1608.06993).
Equation 2 is the dense connectivity x_l = H_l([x_0, x_1, ..., x_{l-1}]); Section 3 the composite function
H_l (BN-ReLU-Conv), the bottleneck (DenseNet-B), the compression theta of the transitions (DenseNet-C) and
the CIFAR networks; Table 1 the ImageNet networks; Table 2 the CIFAR parameter counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from cnnedu.blocks import check_positive
from cnnedu.models import _torchvision

__all__ = [
    "DenseLayer",
    "DenseBlock",
    "Transition",
    "DenseNet",
    "DENSENET_CONFIGS",
    "densenet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "densenet264",
    "densenet_cifar",
    "densenet_from_torchvision",
    "dense_channels",
]

# Table 1 of the paper (ImageNet, all DenseNet-BC: bottleneck layers and compression theta = 0.5).
# The stem is a 7x7 / 2 convolution with 2k channels and a 3x3 / 2 max pool; each transition is a 1x1
# convolution and a 2x2 / 2 average pool; the classifier follows 7x7 global average pooling.
# DenseNet-161 (k = 48) is not in Table 1; it appears with the ImageNet results (Table 3) and is torchvision's.
# Depth counts the stem conv, two convs per dense layer, the transitions and the FC: 121, 169 and 201 add up,
# but Table 1's 6-12-64-48 gives 265 layers for "DenseNet-264"; we keep the table's blocks and its name.
DENSENET_CONFIGS: dict[int, tuple[int, tuple[int, int, int, int]]] = {
    # depth: (growth rate k, dense layers in blocks 1, 2, 3, 4)
    121: (32, (6, 12, 24, 16)),
    161: (48, (6, 12, 36, 24)),
    169: (32, (6, 12, 32, 32)),
    201: (32, (6, 12, 48, 32)),
    264: (32, (6, 12, 64, 48)),
}

# Section 3, "Bottleneck layers": "we let each 1x1 convolution produce 4k feature-maps"
BOTTLENECK_WIDTH = 4


def dense_channels(k0: int, k: int, layers: int) -> list[int]:
    """Input channels of each layer of a dense block: k0 + k (l - 1) for l = 1..layers (arXiv:1608.06993, Sec. 3).

    The block's output has k0 + k * layers channels.
    """
    check_positive("k0", k0, integer=True)
    check_positive("k", k, integer=True)
    check_positive("layers", layers, integer=True)
    return [k0 + k * (lay - 1) for lay in range(1, layers + 1)]


def _bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int, dropout: float) -> nn.Sequential:
    """The composite function of Section 3: batch norm, ReLU, convolution (pre-activation order)."""
    layers: list[nn.Module] = [
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
    ]
    if dropout > 0:  # Section 4.2: dropout after each convolution except the first, on unaugmented data
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DenseLayer(nn.Module):
    """H_l of a dense block: [BN-ReLU-Conv1x1 to 4k] then BN-ReLU-Conv3x3 to k (arXiv:1608.06993, Sec. 3).

    The 1x1 "bottleneck" is DenseNet-B's; without it the layer is a single BN-ReLU-Conv3x3. The input is the
    concatenation of all earlier feature maps of the block, the output the k new ones.
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("in_channels", in_channels, integer=True)
        check_positive("growth_rate", growth_rate, integer=True)
        width = BOTTLENECK_WIDTH * growth_rate if bottleneck else in_channels
        self.bottleneck = _bn_relu_conv(in_channels, width, 1, dropout) if bottleneck else nn.Identity()
        self.conv = _bn_relu_conv(width, growth_rate, 3, dropout)
        self.in_channels, self.growth_rate = in_channels, growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.bottleneck(x))


class DenseBlock(nn.Module):
    """``num_layers`` dense layers, each fed the concatenation of the block input and all earlier outputs.

    Equation 2 of arXiv:1608.06993: x_l = H_l([x_0, x_1, ..., x_{l-1}]). The output is [x_0, ..., x_L],
    with in_channels + num_layers * growth_rate channels.
    """

    def __init__(self, in_channels: int, num_layers: int, growth_rate: int, bottleneck: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("num_layers", num_layers, integer=True)
        widths = dense_channels(in_channels, growth_rate, num_layers)
        self.layers = nn.ModuleList(DenseLayer(c, growth_rate, bottleneck, dropout) for c in widths)
        self.in_channels = in_channels
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """Between dense blocks: BN, ReLU, 1x1 conv to floor(theta * m) channels, 2x2 average pool (Sec. 3).

    ``compression`` is theta of DenseNet-C (theta = 1 keeps the m input channels).
    """

    def __init__(self, in_channels: int, compression: float = 0.5, dropout: float = 0.0) -> None:
        check_positive("in_channels", in_channels, integer=True)
        _check_compression(compression)
        # the small epsilon keeps floor(0.29 * 100) at 29 despite 0.29 * 100 = 28.999999999999996
        out_channels = math.floor(compression * in_channels + 1e-9)
        super().__init__(*_bn_relu_conv(in_channels, out_channels, 1, dropout), nn.AvgPool2d(2, stride=2))
        self.in_channels, self.out_channels = in_channels, out_channels


def _check_compression(compression: float) -> None:
    ok = isinstance(compression, (int, float)) and not isinstance(compression, bool) and 0 < compression <= 1
    if not ok:
        raise ValueError(f"compression must be a number theta in (0, 1] (0.5 for DenseNet-C/BC), got {compression!r}")


def _check_dropout(dropout: float) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")


class DenseNet(nn.Module):
    """A stem, dense blocks separated by transitions, a final BN-ReLU, global average pooling and a linear layer.

    ``features`` holds stem, ``block1``, ``transition1``, ... and the final ``norm`` in the order torchvision's
    DenseNet registers its tensors, so that its state dicts load by order.
    """

    def __init__(self, stem: nn.Module, stem_channels: int, block_config: Sequence[int], growth_rate: int,
                 bottleneck: bool = True, compression: float = 0.5, num_classes: int = 1000,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("growth_rate", growth_rate, integer=True)
        check_positive("num_classes", num_classes, integer=True)
        _check_compression(compression)
        _check_dropout(dropout)
        self.features = nn.Sequential()
        self.features.add_module("stem", stem)
        channels = stem_channels
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(channels, num_layers, growth_rate, bottleneck, dropout)
            self.features.add_module(f"block{i}", block)
            channels = block.out_channels
            if i < len(block_config):
                transition = Transition(channels, compression, dropout)
                self.features.add_module(f"transition{i}", transition)
                channels = transition.out_channels
        self.features.add_module("norm", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        self.growth_rate, self.block_config = growth_rate, tuple(block_config)
        self.bottleneck, self.compression = bottleneck, compression
        self._init_weights()

    def _init_weights(self) -> None:
        # He et al.'s initialisation (the paper's Torch code, torchvision's too); BN starts as the identity
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.features(x))
        return self.classifier(self.pool(x).flatten(1))


def densenet(depth: int = 121, num_classes: int = 1000, dropout: float = 0.0, pretrained: bool = False) -> DenseNet:
    """ImageNet DenseNet-BC of Table 1 (arXiv:1608.06993) for ``depth`` 121, 161, 169, 201 or 264.

    The stem is a 7x7 / 2 convolution to 2k channels and a 3x3 / 2 max pool; k = 32 (48 for DenseNet-161).
    121, 161, 169 and 201 are torchvision's architectures (same parameters, same tensor order);
    ``pretrained=True`` loads torchvision's ImageNet weights (needs internet).
    DenseNet-121 at 224 px: 7,978,856 parameters, 2.834 G MACs.
    """
    if depth not in DENSENET_CONFIGS:
        raise ValueError(f"depth must be one of {sorted(DENSENET_CONFIGS)} (Table 1), got {depth!r}")
    growth_rate, block_config = DENSENET_CONFIGS[depth]
    stem_channels = 2 * growth_rate
    stem = nn.Sequential(
        nn.Conv2d(3, stem_channels, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(stem_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )
    model = DenseNet(stem, stem_channels, block_config, growth_rate, True, 0.5, num_classes, dropout)
    model.depth = depth
    if pretrained:
        if depth == 264 or num_classes != 1000:
            raise ValueError(f"pretrained=True needs depth in (121, 161, 169, 201) and num_classes=1000 (torchvision's "
                             f"weights), got depth={depth}, num_classes={num_classes}")
        _torchvision.load_pretrained(model, f"densenet{depth}")
    return model


def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121 (Table 1 of arXiv:1608.06993)."""
    return densenet(121, **kwargs)


def densenet161(**kwargs) -> DenseNet:
    """DenseNet-161, k = 48 and a 96-channel stem (arXiv:1608.06993, Table 3)."""
    return densenet(161, **kwargs)


def densenet169(**kwargs) -> DenseNet:
    """DenseNet-169 (Table 1 of arXiv:1608.06993)."""
    return densenet(169, **kwargs)


def densenet201(**kwargs) -> DenseNet:
    """DenseNet-201 (Table 1 of arXiv:1608.06993)."""
    return densenet(201, **kwargs)


def densenet264(**kwargs) -> DenseNet:
    """DenseNet-264 (Table 1 of arXiv:1608.06993); torchvision has no such model."""
    return densenet(264, **kwargs)


def densenet_cifar(depth: int = 100, growth_rate: int = 12, bottleneck: bool = True, compression: float = 0.5,
                   num_classes: int = 10, dropout: float = 0.0) -> DenseNet:
    """The CIFAR / SVHN DenseNet of Section 3 (arXiv:1608.06993): three dense blocks at 32, 16 and 8 px.

    ``bottleneck=False, compression=1`` is the plain DenseNet, ``bottleneck=True`` DenseNet-B,
    ``compression < 1`` DenseNet-C, both DenseNet-BC. A 3x3 convolution to 16 channels (2k for DenseNet-BC)
    comes first; ``depth`` counts it, the two transitions and the classifier, so each block has
    (depth - 4) / 3 layers, or (depth - 4) / 6 with bottlenecks (two convolutions each).
    DenseNet-BC L=100 k=12: 769,162 parameters (Table 2: 0.8 M). The paper uses ``dropout=0.2`` without
    data augmentation (Section 4.2).
    """
    if not isinstance(bottleneck, bool):
        raise ValueError(f"bottleneck must be True or False, got {bottleneck!r}")
    convs_per_layer = 2 if bottleneck else 1
    per_block = 3 * convs_per_layer
    if isinstance(depth, bool) or not isinstance(depth, int) or depth <= 4 or (depth - 4) % per_block:
        raise ValueError(
            f"depth must be an integer 3 n {'x 2 ' if bottleneck else ''}+ 4 with n >= 1 layers per block "
            f"(e.g. {'100, 190, 250' if bottleneck else '40, 100'}) for bottleneck={bottleneck}, got {depth!r}"
        )
    check_positive("growth_rate", growth_rate, integer=True)
    _check_compression(compression)
    layers = (depth - 4) // per_block
    stem_channels = 2 * growth_rate if bottleneck and compression < 1 else 16
    stem = nn.Conv2d(3, stem_channels, 3, padding=1, bias=False)
    model = DenseNet(stem, stem_channels, (layers,) * 3, growth_rate, bottleneck, compression, num_classes, dropout)
    model.depth = depth
    return model


_LAYER_KEY = re.compile(r"denseblock(\d+)\.denselayer(\d+)\.")


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> DenseNet:
    """Build the cnnedu DenseNet matching a torchvision densenet121/161/169/201 and copy its weights.

    The depth is recognised from the number of dense layers per block and the growth rate.
    """
    state = tv_model_or_state_dict
    if isinstance(state, nn.Module):
        state = state.state_dict()
    layers: dict[int, set[int]] = {}
    for key in state:
        match = _LAYER_KEY.search(key)
        if match:
            layers.setdefault(int(match[1]), set()).add(int(match[2]))
    blocks = tuple(len(layers[b]) for b in sorted(layers))
    growth_rate = [v for v in state.values() if v.dim() == 4][-1].shape[0]  # the last 3x3 conv's output
    for depth, config in DENSENET_CONFIGS.items():
        if config == (growth_rate, blocks):
            num_classes = list(state.values())[-1].shape[0]  # the classifier's bias
            return _torchvision.load_state_dict_by_order(densenet(depth, num_classes=num_classes), state)
    raise ValueError(f"the state dict (growth rate {growth_rate}, blocks {blocks}) matches none of Table 1's "
                     f"DenseNets {list(DENSENET_CONFIGS)}")


densenet_from_torchvision = from_torchvision
