"""MobileNetV2: inverted residuals with linear bottlenecks.

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (arXiv:1801.04381). Section 3.2
(linear bottleneck: no ReLU after the projection), Section 3.3 (inverted residual: the skip joins the thin
bottlenecks), Table 2 (the network). Same architecture as torchvision's ``mobilenet_v2``, so its weights
load unchanged (``from_torchvision``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from cnnedu.blocks import ConvBNAct, InvertedResidual, check_positive, make_divisible
from cnnedu.models._init import init_mobile_weights
from cnnedu.models._torchvision import load_pretrained, load_state_dict_by_order
from cnnedu.models.mobilenet_v1 import check_dropout_and_classes, check_width_mult

__all__ = ["mobilenet_v2", "MobileNetV2", "MOBILENET_V2_STAGES", "mobilenet_v2_from_torchvision",
           "MOBILENET_V2_NARROW_STAGES", "mobilenet_v2_narrow"]

# Table 2 of the paper: expansion factor t, output channels c, repeats n, stride s of the first repeat.
# Before: conv2d 3x3, 32 channels, stride 2. After: conv2d 1x1 to 1280, avgpool 7x7, conv2d 1x1 to k classes.
MOBILENET_V2_STAGES: list[tuple[int, int, int, int]] = [
    # t, c, n, s
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(nn.Module):
    """MobileNetV2 (arXiv:1801.04381, Table 2): ``features`` (stem, 17 inverted residuals, 1x1), pool, FC."""

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        check_width_mult(width_mult)
        check_dropout_and_classes(num_classes, dropout)
        # Section 4 "Trade-off hyper parameters": all layers are scaled by the width multiplier except the
        # last 1x1, which is never thinned below 1280 ("this improves performance for smaller models").
        channels = make_divisible(32 * width_mult, 8)
        self.last_channels = make_divisible(1280 * max(1.0, width_mult), 8)
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2, activation=nn.ReLU6)]
        for t, c, n, s in MOBILENET_V2_STAGES:
            out = make_divisible(c * width_mult, 8)
            for i in range(n):
                # only the first block of a sequence strides (Section 4); the skip exists only at stride 1
                # with equal channels (InvertedResidual.use_residual), as in Fig. 4(d)
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, expand_ratio=t,
                                               activation=nn.ReLU6))
                channels = out
        layers.append(ConvBNAct(channels, self.last_channels, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channels, num_classes))
        self.width_mult = width_mult
        init_mobile_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def mobilenet_v2(width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2,
                 pretrained: bool = False) -> MobileNetV2:
    """MobileNetV2 with width multiplier ``width_mult`` (arXiv:1801.04381, Table 2; ReLU6 throughout).

    Width 1.0 at 224 px: 3,504,872 parameters and 300.8 M MACs (paper: 3.4 M, 300 M). Width 1.4: 6.1 M,
    582 M, the figures of the released 1.4 checkpoint (TF-slim README: 6.06 M, 582 M); the paper's text
    says 6.9 M, 585 M: the MACs agree within 0.5 %, the parameters do not. Channels are rounded to
    multiples of 8. ``pretrained=True`` loads torchvision's ImageNet weights (width 1.0, 1000 classes).
    """
    check_width_mult(width_mult)
    check_positive("num_classes", num_classes, integer=True)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    model = MobileNetV2(width_mult, num_classes, dropout)
    if pretrained:
        if width_mult != 1.0 or num_classes != 1000:
            raise ValueError("pretrained=True needs width_mult=1.0 and num_classes=1000 (torchvision's)")
        load_pretrained(model, "mobilenet_v2")
    return model


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
                     width_mult: float = 1.0) -> MobileNetV2:
    """A cnnedu MobileNetV2 holding the weights of torchvision's ``mobilenet_v2`` (model or state dict).

    The number of classes is read from the classifier; give ``width_mult`` if it was not 1.0.
    """
    check_width_mult(width_mult)
    state = (tv_model_or_state_dict.state_dict() if isinstance(tv_model_or_state_dict, nn.Module)
             else tv_model_or_state_dict)
    num_classes = state["classifier.1.weight"].shape[0]
    return load_state_dict_by_order(MobileNetV2(width_mult, num_classes), state)


# the package star-imports every family, so each family's from_torchvision is exported under its own name
mobilenet_v2_from_torchvision = from_torchvision


# A miniature of Table 2 with very thin bottlenecks (4 and 6 channels between blocks, t = 6 inside) for 16 px
# inputs: the regime of Section 3.2 and Fig. 6(a), where a ReLU on the thin tensor loses the most.
MOBILENET_V2_NARROW_STAGES: list[tuple[int, int, int, int]] = [
    # t, c, n, s
    (1, 4, 1, 1),
    (6, 4, 2, 1),
    (6, 6, 2, 2),
    (6, 6, 2, 1),
]


def mobilenet_v2_narrow(relu_bottleneck: bool = False, stages: list[tuple[int, int, int, int]] | None = None,
                        stem_channels: int = 16, head_channels: int = 64, num_classes: int = 10) -> nn.Sequential:
    """A small MobileNetV2 with thin bottlenecks, for the ablation of Fig. 6(a) (arXiv:1801.04381).

    Stem 3x3 stride 2 (ReLU6), the inverted residuals of ``stages`` (rows ``(t, c, n, s)`` as in Table 2;
    default :data:`MOBILENET_V2_NARROW_STAGES`: 7 blocks whose outputs have 4 or 6 channels), a 1x1 to
    ``head_channels`` (ReLU6), global pool and a linear classifier. ``relu_bottleneck=True`` appends a
    ReLU6 to every block's projection, the non-linear bottleneck of Fig. 6(a); nothing else changes (same
    layers, same parameters, same initialization for a given seed).
    """
    if not isinstance(relu_bottleneck, bool):
        raise ValueError(f"relu_bottleneck must be True or False, got {relu_bottleneck!r}")
    stages = MOBILENET_V2_NARROW_STAGES if stages is None else stages
    if not stages:
        raise ValueError("stages must list at least one row (t, c, n, s)")
    for row in stages:
        if len(row) != 4 or row[3] not in (1, 2):
            raise ValueError(f"stages rows must be (t, c, n, s) with s 1 or 2, got {row!r}")
        for name, value in zip(("t", "c", "n"), row[:3], strict=True):
            check_positive(f"stages {name}", value, integer=name != "t")
    for name, value in (("stem_channels", stem_channels), ("head_channels", head_channels),
                        ("num_classes", num_classes)):
        check_positive(name, value, integer=True)
    layers: list[nn.Module] = [ConvBNAct(3, stem_channels, 3, stride=2, activation=nn.ReLU6)]
    channels = stem_channels
    for t, c, n, s in stages:
        for i in range(n):
            block = InvertedResidual(channels, c, s if i == 0 else 1, expand_ratio=t, activation=nn.ReLU6)
            if relu_bottleneck:  # the ablation of Fig. 6(a): a non-linearity on the thin tensor
                block.project.append(nn.ReLU6())
            layers.append(block)
            channels = c
    layers += [ConvBNAct(channels, head_channels, 1, activation=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(head_channels, num_classes)]
    return nn.Sequential(*layers)
