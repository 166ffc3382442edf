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

__all__ = ["wide_resnet", "wide_resnet50_2", "wide_resnet_from_torchvision", "wide_resnet_cost", "WRN_GROUPS",
           "WRN_PAPER_PARAMS"]

# Zagoruyko and Komodakis, Table 1: after a 3x3 conv with 16 filters, three groups conv2, conv3, conv4 of
# N = (d - 4) / 6 pre-activation blocks B(3,3) with 16k, 32k, 64k filters at 32x32, 16x16, 8x8.
WRN_GROUPS = (16, 32, 64)

# The paper's parameter counts (Tables 4 and 5, CIFAR-10, rounded to 0.1 M), by (depth, widen factor).
WRN_PAPER_PARAMS = {(40, 4): 8.9e6, (16, 8): 11.0e6, (28, 10): 36.5e6, (16, 4): 2.7e6}


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


def wide_resnet_cost(depth: int, widen_factor: float, size: int = 32, num_classes: int = 10) -> tuple[int, int]:
    """Parameters and MACs (one ``size`` x ``size`` image) of WRN-``depth``-``widen_factor``, by formula.

    Zagoruyko and Komodakis (arXiv:1605.07146), Table 1: the counts of :func:`wide_resnet`, computed without
    building the network. ``widen_factor`` may be fractional: the group widths are then
    ``round(16 k), round(32 k), round(64 k)``, as for a network built from ``CifarResNet`` with those widths.
    A 3x3 convolution from c to c' channels has 9 c c' weights, so the count grows like k^2 and linearly in d.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth!r}")
    check_positive("widen_factor", widen_factor)
    check_positive("size", size, integer=True)
    check_positive("num_classes", num_classes, integer=True)
    n = (depth - 4) // 6
    widths = [round(c * widen_factor) for c in WRN_GROUPS]
    if min(widths) < 1:
        raise ValueError(f"widen_factor must give at least one channel per group (>= 1/32), got {widen_factor!r}")
    stem = 16
    params, macs, side = 9 * 3 * stem, 9 * 3 * stem * size * size, size
    c_in = stem
    for g, c in enumerate(widths):
        if g > 0:
            side = (side + 1) // 2  # a 3x3 conv (padding 1) or a 1x1 conv with stride 2: ceil(side / 2)
        proj = c_in * c if (g > 0 or c_in != c) else 0  # 1x1 projection where the shape changes
        first = 9 * c_in * c + 9 * c * c + proj
        params += first + 2 * c_in + 2 * c + (n - 1) * (18 * c * c + 4 * c)  # convs and BN (scale, shift)
        macs += (first + (n - 1) * 18 * c * c) * side * side
        c_in = c
    params += 2 * c_in + c_in * num_classes + num_classes  # final BN and the classifier
    return params, macs + c_in * num_classes


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
