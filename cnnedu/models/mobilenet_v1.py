"""MobileNet v1: a plain stack of depthwise separable convolutions, thinned by a width multiplier.

Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
(arXiv:1704.04861). Table 1 is the body, Section 3.3 the width multiplier alpha, Table 4 the "Conv
MobileNet" baseline with full convolutions, Table 5 the shallow MobileNet. Resolution (rho, Section 3.4) is
just the input size: the network ends in global average pooling, so it runs at 224, 192, 160 or 128.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnedu.blocks import ConvBNAct, DepthwiseSeparable, check_positive

__all__ = ["mobilenet_v1", "mobilenet_v1_mini", "MobileNetV1", "MOBILENET_V1_STAGES", "MOBILENET_V1_MINI_STAGES"]

# Table 1 of the paper, one row per depthwise separable layer (a "Conv dw" row and the "Conv 1x1" row after
# it): (stride of the depthwise conv, output channels of the pointwise conv). Before them the full 3x3 conv
# 3 -> 32 / s2; after them a 7x7 average pool and the FC 1024 -> 1000: 1 + 13 x 2 + 1 = 28 layers.
# The paper's table prints "/ s2" on the last depthwise layer, but the feature map stays 7x7 there (its
# input size column says 7x7x1024 before and after), so its stride is 1, as in the released code.
MOBILENET_V1_STAGES: list[tuple[int, int]] = [
    # s, c
    (1, 64),    # 112x112x32  -> 112x112x64
    (2, 128),   # 112x112x64  -> 56x56x128
    (1, 128),
    (2, 256),   # 56x56x128   -> 28x28x256
    (1, 256),
    (2, 512),   # 28x28x256   -> 14x14x512
    (1, 512),   # the five repeated 14x14x512 layers (rows "5x"), dropped by the shallow MobileNet
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),  # 14x14x512   -> 7x7x1024
    (1, 1024),
]
_REPEATED = range(6, 11)  # indices of the five 14x14x512 layers in the table above
_STEM = 32

# A MobileNet for 32 px images, for experiments on a CPU: the first five rows of Table 1 (32 -> 16 px in the
# stem, then 16, 8 and 4 px). ``mobilenet_v1_mini(repeated=k)`` appends k rows (1, 256) at the 4x4 map, the
# counterpart of Table 1's five repeated 14x14x512 rows, which Table 5's shallow MobileNet removes.
MOBILENET_V1_MINI_STAGES: list[tuple[int, int]] = [
    # s, c
    (1, 64),    # 16x16
    (2, 128),   # -> 8x8
    (1, 128),
    (2, 256),   # -> 4x4
    (1, 256),
]


def check_width_mult(width_mult: float) -> None:
    """Raise a ValueError naming ``width_mult`` unless it is a finite positive number."""
    check_positive("width_mult", width_mult)
    if not math.isfinite(width_mult):
        raise ValueError(f"width_mult must be a finite positive number (e.g. 0.75), got {width_mult!r}")


def check_dropout_and_classes(num_classes: int, dropout: float) -> None:
    """Raise a ValueError naming ``num_classes`` or ``dropout`` unless a positive integer, a probability."""
    check_positive("num_classes", num_classes, integer=True)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")


def _scaled(channels: int, width_mult: float) -> int:
    # The released code (TF-slim mobilenet_v1.py, depth()) truncates: max(int(d * alpha), 8). For the
    # paper's multipliers 1, 0.75, 0.5, 0.25 every width is already an integer, so this reproduces Table 6.
    return max(int(channels * width_mult), 8)


class MobileNetV1(nn.Module):
    """MobileNet v1 (arXiv:1704.04861, Table 1): ``features`` (conv stem and separable layers), pool, FC."""

    def __init__(self, layers: list[tuple[int, int]], width_mult: float = 1.0,
                 depthwise_separable: bool = True, num_classes: int = 1000, dropout: float = 0.001) -> None:
        super().__init__()
        if not layers or not all(len(row) == 2 and row[0] in (1, 2) for row in layers):
            raise ValueError(f"layers must list (stride, channels) rows with stride 1 or 2, as "
                             f"MOBILENET_V1_STAGES, got {layers!r}")
        check_width_mult(width_mult)
        check_dropout_and_classes(num_classes, dropout)
        channels = _scaled(_STEM, width_mult)
        body: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2)]
        for stride, out in layers:
            out = _scaled(out, width_mult)
            if depthwise_separable:
                body.append(DepthwiseSeparable(channels, out, stride))
            else:
                # Table 4's "Conv MobileNet": each separable pair becomes one full 3x3 convolution
                body.append(ConvBNAct(channels, out, 3, stride))
            channels = out
        self.features = nn.Sequential(*body)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        self.width_mult, self.depthwise_separable = width_mult, depthwise_separable

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(x))


def mobilenet_v1(
    width_mult: float = 1.0,
    depthwise_separable: bool = True,
    num_classes: int = 1000,
    shallow: bool = False,
    dropout: float = 0.001,
) -> MobileNetV1:
    """MobileNet v1 with width multiplier alpha = ``width_mult`` (arXiv:1704.04861, Table 1, Section 3.3).

    ``depthwise_separable=False`` gives Table 4's "Conv MobileNet" (29.3 M parameters, 4866 M Mult-Adds);
    ``shallow=True`` Table 5's shallow MobileNet, without the five 14x14x512 layers (2.9 M, 307 M).
    Every convolution is followed by batch norm and ReLU (Fig. 3). ``dropout`` defaults to the released
    code's keep probability 0.999: the paper uses little regularization for so small a model (Section 4).
    At width 1.0 and 224 px: 4,231,976 parameters, 568.7 M MACs (Table 6: 4.2 M, 569 M).
    """
    check_width_mult(width_mult)
    check_positive("num_classes", num_classes, integer=True)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    layers = [row for i, row in enumerate(MOBILENET_V1_STAGES) if not (shallow and i in _REPEATED)]
    model = MobileNetV1(layers, width_mult, depthwise_separable, num_classes, dropout)
    model.shallow = shallow
    return model


def mobilenet_v1_mini(
    width_mult: float = 0.5,
    depthwise_separable: bool = True,
    repeated: int = 0,
    num_classes: int = 10,
) -> MobileNetV1:
    """A MobileNet v1 for 32 px images (``MOBILENET_V1_MINI_STAGES``, the first rows of arXiv:1704.04861 Table 1).

    ``repeated`` appends that many separable layers (1, 256) at the last, 4x4 map, like Table 1's five
    14x14x512 rows: ``repeated=5`` against ``repeated=0`` is Table 5's MobileNet against its shallow version.
    ``depthwise_separable=False`` is Table 4's "Conv MobileNet" in small. Dropout is off (Section 3.2: small
    models need little regularization).
    """
    check_width_mult(width_mult)
    check_positive("num_classes", num_classes, integer=True)
    if isinstance(repeated, bool) or not isinstance(repeated, int) or repeated < 0:
        raise ValueError(f"repeated must be an integer >= 0 (0 to 5 mirrors Table 1), got {repeated!r}")
    layers = MOBILENET_V1_MINI_STAGES + [(1, MOBILENET_V1_MINI_STAGES[-1][1])] * repeated
    model = MobileNetV1(layers, width_mult, depthwise_separable, num_classes, dropout=0.0)
    model.repeated = repeated
    return model
