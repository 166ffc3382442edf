"""Weight initialization shared by the mobile families (MobileNetV2, MobileNetV3, EfficientNet)."""

from __future__ import annotations

import math

from torch import nn


def init_mobile_weights(model: nn.Module, linear: str = "normal") -> None:
    """torchvision's initialization: He (fan-out) convolutions, unit BN, and a small classifier.

    ``linear="normal"`` draws fully connected weights from N(0, 0.01) (MobileNetV2 / V3); ``"uniform"`` from
    U(-1/sqrt(out), 1/sqrt(out)) as EfficientNet's reference code does. Skipped on the meta device, where
    there is nothing to initialize and random ops are slow.
    """
    if next(model.parameters()).is_meta:
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear == "uniform":
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
            else:
                nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
