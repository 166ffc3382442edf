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

import numpy as np
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
    "source_weights",
    "reuse_statistics",
    "map_correlation",
    "gradient_flow_net",
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
        _check_dropout(dropout)
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
        check_positive("in_channels", in_channels, integer=True)
        check_positive("num_layers", num_layers, integer=True)
        check_positive("growth_rate", growth_rate, integer=True)
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
        _check_dropout(dropout)
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
        check_positive("stem_channels", stem_channels, integer=True)
        if not block_config or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                       for n in block_config):
            raise ValueError(f"block_config must list the layers of each dense block, positive integers "
                             f"(Table 1: 6, 12, 24, 16 for DenseNet-121), got {block_config!r}")
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


# ----------------------------------------------------------------------------------------------------------
# Feature reuse (Fig. 5) and gradient flow (Section 1): measurements on the networks above
# ----------------------------------------------------------------------------------------------------------


def _first_conv(layer: DenseLayer) -> nn.Conv2d:
    """The convolution of a dense layer that reads the concatenated input: the 1x1 bottleneck, else the 3x3."""
    return layer.bottleneck[2] if isinstance(layer.bottleneck, nn.Sequential) else layer.conv[2]


def source_weights(model: DenseNet) -> list[np.ndarray]:
    """The heat maps of Fig. 5 (arXiv:1608.06993, Section 5 "Feature Reuse"), one per dense block.

    Entry (s, l) is the average absolute weight that target l gives to the channels of source s, "normalized
    by number of input feature-maps": the mean |w| of the target's first convolution over the input channels
    that come from s (s = 0 is the block's input, s = 1..L its layers). Targets 1..L are the block's layers,
    target L + 1 the transition after it (the classifier after the last block). Each column is divided by its
    largest entry, since fan-in sets the scale of a layer's weights; entries below the diagonal are NaN.
    """
    if not isinstance(model, DenseNet):
        raise ValueError(f"model must be a cnnedu DenseNet (densenet_cifar, densenet), got {type(model).__name__}")
    children = dict(model.features.named_children())
    maps = []
    for b in range(1, len(model.block_config) + 1):
        block = children[f"block{b}"]
        k0, k, n = block.in_channels, block.layers[0].growth_rate, len(block.layers)
        edges = [0] + [k0 + k * i for i in range(n + 1)]  # channels of sources 0 .. n
        last = children[f"transition{b}"][2].weight if f"transition{b}" in children else model.classifier.weight
        weights = [_first_conv(layer).weight for layer in block.layers] + [last]
        m = np.full((n + 1, n + 1), np.nan)
        for target, w in enumerate(weights):
            per_channel = w.detach().abs().float().cpu().reshape(w.shape[0], w.shape[1], -1).mean(dim=(0, 2))
            for s in range(target + 1):
                m[s, target] = per_channel[edges[s]:edges[s + 1]].mean().item()
            m[:, target] /= np.nanmax(m[:, target])
        maps.append(m)
    return maps


def reuse_statistics(maps: Sequence[np.ndarray]) -> dict[str, float]:
    """The four observations of Fig. 5 (arXiv:1608.06993, Section 5) as numbers, from :func:`source_weights`.

    (1) dense layers: mean over layers of the weakest source's entry (1: every source weighted alike, 0: some
    source ignored); (2) transitions: the same for the transition columns; (3) blocks 2 and on: the block
    input's entry over the mean of the layer's other sources (below 1: the transition's output gets less
    weight); (4) the classifier: its weight on the last two sources over the first two (above 1: it
    concentrates on the final feature maps).
    """
    if len(maps) < 2 or any(m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 3 for m in maps):
        raise ValueError("maps must be source_weights of a DenseNet with at least two blocks of two or more layers")
    flat = [np.nanmin(m[:, t]) for m in maps for t in range(1, m.shape[1] - 1)]
    input_share = [m[0, t] / np.nanmean(m[1:, t]) for m in maps[1:] for t in range(1, m.shape[1] - 1)]
    cls = maps[-1][:, -1]
    return {"(1) dense layers: weakest / strongest source": float(np.mean(flat)),
            "(2) transitions: weakest / strongest source": float(np.mean([np.min(m[:, -1]) for m in maps[:-1]])),
            "(3) blocks 2+: block input / other sources": float(np.mean(input_share)),
            "(4) classifier: last two sources / first two": float(cls[-2:].mean() / cls[:2].mean())}


def map_correlation(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Pearson correlation of two sets of Fig. 5 maps over their defined entries (how alike two seeds' maps are)."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        raise ValueError("a and b must be source_weights of the same architecture (same number and shape of maps)")
    x, y = np.concatenate([m.ravel() for m in a]), np.concatenate([m.ravel() for m in b])
    ok = ~np.isnan(x) & ~np.isnan(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def gradient_flow_net(kind: str = "dense", num_layers: int = 24, growth_rate: int = 12, in_channels: int = 24,
                      num_classes: int = 10) -> tuple[nn.Sequential, list[nn.Module]]:
    """A 3x3 stem, ``num_layers`` BN-ReLU-Conv3x3 layers, BN-ReLU, global pooling and a classifier, and its layers.

    ``kind="dense"``: the layers form one dense block (Eq. 2 of arXiv:1608.06993), each reading all earlier
    outputs; ``"plain"``: the same layers H_l, each reading only the previous output (``growth_rate`` channels).
    Section 1's "strong gradient flow": in the dense block every layer's output reaches the classifier
    directly. He initialization as in :class:`DenseNet`. Returns the model and the list of its layers, e.g.
    for :func:`cnnedu.analysis.output_gradient_norms`.
    """
    if kind not in ("dense", "plain"):
        raise ValueError(f"kind must be 'dense' or 'plain', got {kind!r}")
    check_positive("num_layers", num_layers, integer=True)
    check_positive("growth_rate", growth_rate, integer=True)
    check_positive("in_channels", in_channels, integer=True)
    check_positive("num_classes", num_classes, integer=True)
    if kind == "dense":
        body: nn.Module = DenseBlock(in_channels, num_layers, growth_rate, bottleneck=False)
        layers, out = list(body.layers), body.out_channels
    else:
        layers = [DenseLayer(in_channels if i == 0 else growth_rate, growth_rate, bottleneck=False)
                  for i in range(num_layers)]
        body, out = nn.Sequential(*layers), growth_rate
    model = nn.Sequential(nn.Conv2d(3, in_channels, 3, padding=1, bias=False), body, nn.BatchNorm2d(out),
                          nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(out, num_classes))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
    return model, layers
