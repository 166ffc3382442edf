"""Wide Residual Networks: fewer, wider pre-activation blocks (CIFAR WRN-d-k) and torchvision's WRN-50-2.

Zagoruyko and Komodakis, "Wide Residual Networks" (arXiv:1605.07146), Table 1 (structure) and Section 2.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from cnnedu.blocks import check_positive
from cnnedu.models.resnet import RESNET_STAGES, Bottleneck, CifarResNet, PreActBlock, ResNet
from cnnedu.models.resnet import from_torchvision as _resnet_from_torchvision

__all__ = ["wide_resnet", "wide_resnet50_2", "wide_resnet_from_torchvision", "WRN_GROUPS"]

# Zagoruyko and Komodakis, Table 1: after a 3x3 conv with 16 filters, three groups conv2, conv3, conv4 of
# N = (d - 4) / 6 pre-activation blocks B(3,3) with 16k, 32k, 64k filters at 32x32, 16x16, 8x8.
WRN_GROUPS = (16, 32, 64)


def wide_resnet(depth: int = 28, widen_factor: int = 10, dropout: float = 0.0, num_classes: int = 10) -> CifarResNet:
    """WRN-``depth``-``widen_factor`` for CIFAR: pre-activation basic blocks, dropout between the convs.

    Zagoruyko and Komodakis (arXiv:1605.07146), Table 1 and Section 2.4 (dropout). WRN-28-10 has 36.5 M
    parameters, WRN-40-4 8.9 M, WRN-16-8 11.0 M. Shortcuts are identities except where the width or the
    resolution changes, where they are 1x1 convolutions (the authors' code).
    """
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth!r}")
    check_positive("widen_factor", widen_factor, integer=True)
    widths = tuple(c * widen_factor for c in WRN_GROUPS)
    return CifarResNet(PreActBlock, (depth - 4) // 6, widths, num_classes, stem_width=16, shortcut="B",
                       dropout=dropout)


def wide_resnet50_2(num_classes: int = 1000) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 (v1.5) with twice the bottleneck width (128, 256, 512, 1024 in the 3x3).

    Zagoruyko and Komodakis (arXiv:1605.07146), Section 4 (ImageNet); this is torchvision's
    ``wide_resnet50_2``: only the inner 1x1-3x3 widths double, the stage outputs stay 256 ... 2048.
    """
    _, layers = RESNET_STAGES[50]
    return ResNet(Bottleneck, layers, num_classes, base_width=128)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> ResNet:
    """Load torchvision's ``wide_resnet50_2`` / ``wide_resnet101_2`` weights into the same cnnedu network."""
    return _resnet_from_torchvision(tv_model_or_state_dict, variant="v1.5")


wide_resnet_from_torchvision = from_torchvision
