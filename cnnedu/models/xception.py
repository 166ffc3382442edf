"""Xception: Inception taken to the extreme, a linear stack of depthwise separable convolutions with residuals.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions" (arXiv:1610.02357). Section 1.2
names the two differences from an extreme Inception module (order, no intermediate non-linearity), Section 3 is
the hypothesis (cross-channel and spatial correlations can be mapped separately), Fig. 5 the architecture
(entry flow, middle flow repeated eight times, exit flow), Table 3 the parameter counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnedu.blocks import check_positive

__all__ = [
    "SeparableConv2d",
    "XceptionBlock",
    "Xception",
    "XCEPTION_ENTRY_FLOW",
    "XCEPTION_MIDDLE_FLOW",
    "XCEPTION_EXIT_FLOW",
    "xception",
    "inception_v3_params",
]

# Fig. 5 of the paper, one row per residual module: (widths of its 3x3 separable convolutions, stride,
# whether it starts with a ReLU). Every convolution is followed by batch norm (Fig. 5's caption: "not included in
# the diagram"); a stride-2 module ends in a 3x3 / 2 max pool and its shortcut is a 1x1 / 2 convolution.
# Before the entry flow come two full 3x3 convolutions, 32 / 2 and 64; after the exit flow's module come
# separable convolutions 1536 and 2048 (each with ReLU), global average pooling and logistic regression.
XCEPTION_ENTRY_FLOW: list[tuple[tuple[int, ...], int, bool]] = [
    # separable widths, stride, ReLU first
    ((128, 128), 2, False),  # its input has just been through the stem's ReLU
    ((256, 256), 2, True),
    ((728, 728), 2, True),   # -> 19x19x728 at 299 px
]
XCEPTION_MIDDLE_FLOW: list[tuple[tuple[int, ...], int, bool]] = [((728, 728, 728), 1, True)] * 8
XCEPTION_EXIT_FLOW: list[tuple[tuple[int, ...], int, bool]] = [((728, 1024), 2, True)]
_STEM = (32, 64)
_HEAD = (1536, 2048)


class SeparableConv2d(nn.Module):
    """A depthwise k x k convolution (one filter per channel) then a pointwise 1x1 convolution, no bias.

    Chollet (arXiv:1610.02357, Section 1.2) puts no non-linearity between the two, unlike MobileNet's
    ``cnnedu.blocks.DepthwiseSeparable`` (BN-ReLU after each); Section 4.7 shows the ReLU in between hurts.
    Parameters: k^2 C_in + C_in C_out against k^2 C_in C_out for a full convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("stride", stride)):
            check_positive(name, v, integer=True)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding=kernel_size // 2,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """One residual module of Fig. 5: [ReLU, SeparableConv, BN] per width, then a max pool if strided.

    The shortcut is the identity, or a 1x1 convolution with BN when the module changes stride or width.
    The shortcut leaves from before the module's first ReLU, so the ReLUs here are not in place.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], stride: int = 1, relu_first: bool = True) -> None:
        super().__init__()
        check_positive("in_channels", in_channels, integer=True)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        if not widths:
            raise ValueError("widths must list at least one separable convolution width")
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            if i > 0 or relu_first:
                layers.append(nn.ReLU())
            layers += [SeparableConv2d(channels, width), nn.BatchNorm2d(width)]
            channels = width
        if stride == 2:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.residual = nn.Sequential(*layers)
        if stride != 1 or channels != in_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )
        else:
            self.shortcut = nn.Identity()
        self.in_channels, self.out_channels, self.stride = in_channels, channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    # unpadded ("valid") as in the Keras reference implementation: 299 -> 149 -> 147, so that the middle
    # flow sees Fig. 5's 19x19 maps and 71 px is the smallest input
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


def _separable_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(SeparableConv2d(in_channels, out_channels), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class Xception(nn.Module):
    """Xception (arXiv:1610.02357, Fig. 5): ``entry_flow``, ``middle_flow``, ``exit_flow``, pool, ``fc``.

    The flows hold the paper's 14 modules: the stem (module 1), 3 + 8 + 1 residual modules and the head of
    two separable convolutions (module 14), with 36 convolutional layers between them.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("num_classes", num_classes, integer=True)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        stem = nn.Sequential(_conv_bn_relu(3, _STEM[0], stride=2), _conv_bn_relu(*_STEM))
        channels = _STEM[1]
        flows = []
        for table in (XCEPTION_ENTRY_FLOW, XCEPTION_MIDDLE_FLOW, XCEPTION_EXIT_FLOW):
            blocks = []
            for widths, stride, relu_first in table:
                blocks.append(XceptionBlock(channels, widths, stride, relu_first))
                channels = widths[-1]
            flows.append(blocks)
        head = nn.Sequential(_separable_bn_relu(channels, _HEAD[0]), _separable_bn_relu(*_HEAD))
        self.entry_flow = nn.Sequential(stem, *flows[0])
        self.middle_flow = nn.Sequential(*flows[1])
        self.exit_flow = nn.Sequential(*flows[2], head)
        self.pool = nn.AdaptiveAvgPool2d(1)
        # Section 4.3: dropout 0.5 before the logistic regression layer on ImageNet
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(_HEAD[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.exit_flow(self.middle_flow(self.entry_flow(x)))
        return self.fc(self.dropout(self.pool(x).flatten(1)))


def xception(num_classes: int = 1000, dropout: float = 0.0) -> Xception:
    """Xception of Fig. 5 (arXiv:1610.02357) without the optional fully connected layers, for 299 px inputs.

    22,855,952 parameters (Table 3), counting batch norm's scale and shift but not its running statistics.
    The paper trains on ImageNet with ``dropout=0.5`` before the classifier (Section 4.3). Inputs down to
    71 px work (the feature map is 3x3 before pooling there).
    """
    return Xception(num_classes, dropout)


def inception_v3_params(aux_logits: bool = False) -> int:
    """Parameters of torchvision's Inception V3, built on meta, to set beside Table 3 of arXiv:1610.02357.

    Table 3 reports 23,626,728 for Inception V3 "on ImageNet (1000 classes, no fully-connected layers)",
    i.e. up to and including the logistic regression layer. torchvision's count is 23,834,568 without the
    auxiliary classifier and 27,161,264 with it (the auxiliary head alone is 3,326,696), so Table 3's
    figure leaves the auxiliary head out. The 207,840 (0.9 %) still between them are not explained by the
    paper: torchvision's BN layers have a scale (17,216 channels; TF-slim and Keras drop it, which gives
    23,817,352), and the rest comes from Google's internal implementation, which the paper does not describe.
    Xception's 22,855,952 is 4.1 % below torchvision's auxless count and 3.3 % below Table 3's.
    """
    from torchvision.models import inception_v3

    with torch.device("meta"):
        model = inception_v3(weights=None, aux_logits=aux_logits, init_weights=False)
    return sum(p.numel() for p in model.parameters())
