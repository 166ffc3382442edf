"""MobileNetV3: MobileNetV2's blocks with squeeze-and-excitation and h-swish, found by architecture search.

Howard et al., "Searching for MobileNetV3" (arXiv:1905.02244). Table 1 (Large) and Table 2 (Small) are
the networks; Section 5.2 the nonlinearities h-swish(x) = x ReLU6(x + 3) / 6 and hard-sigmoid; Section
5.3 the SE modules (squeezing to 1/4 of the expansion width, rounded to a multiple of 8); Section 5.1 and
Fig. 5 the redesigned last stage, where the pooling comes before the 1x1 convolution to 1280 (1024), so
that layer works on a 1x1 map and costs almost nothing. Same as torchvision's ``mobilenet_v3_large`` /
``mobilenet_v3_small``, whose weights load unchanged (``from_torchvision``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import nn

from cnnedu.blocks import ConvBNAct, InvertedResidual, make_divisible
from cnnedu.models._init import init_mobile_weights
from cnnedu.models._torchvision import load_pretrained, load_state_dict_by_order
from cnnedu.models.mobilenet_v1 import check_dropout_and_classes, check_width_mult

__all__ = ["mobilenet_v3", "MobileNetV3", "MOBILENET_V3_STAGES", "EXPANSION_RULES", "Bneck",
           "mobilenet_v3_from_torchvision", "HARD_SWISH_INT8_SCALE", "hard_swish_int8"]


class Bneck(NamedTuple):
    """One row of Tables 1-2: kernel, expansion size, output channels, SE or not, nonlinearity, stride."""

    k: int
    exp: int
    out: int
    se: bool
    nl: str  # "RE" (ReLU) or "HS" (h-swish)
    s: int


# The "bneck" rows of Table 1 (Large) and Table 2 (Small). Before them: conv2d 3x3, 16 channels, h-swish,
# stride 2. After them: conv2d 1x1 to 960 (576) with h-swish, global pool, then the 1x1 "NBN" convolution
# to 1280 (1024) with h-swish and the 1x1 to k classes, as fully connected layers on the pooled vector.
MOBILENET_V3_STAGES: dict[str, list[Bneck]] = {
    "large": [  # Table 1
        #     k, exp, out, SE, NL, s
        Bneck(3, 16, 16, False, "RE", 1),
        Bneck(3, 64, 24, False, "RE", 2),
        Bneck(3, 72, 24, False, "RE", 1),
        Bneck(5, 72, 40, True, "RE", 2),
        Bneck(5, 120, 40, True, "RE", 1),
        Bneck(5, 120, 40, True, "RE", 1),
        Bneck(3, 240, 80, False, "HS", 2),
        Bneck(3, 200, 80, False, "HS", 1),
        Bneck(3, 184, 80, False, "HS", 1),
        Bneck(3, 184, 80, False, "HS", 1),
        Bneck(3, 480, 112, True, "HS", 1),
        Bneck(3, 672, 112, True, "HS", 1),
        Bneck(5, 672, 160, True, "HS", 2),
        Bneck(5, 960, 160, True, "HS", 1),
        Bneck(5, 960, 160, True, "HS", 1),
    ],
    "small": [  # Table 2
        #     k, exp, out, SE, NL, s
        Bneck(3, 16, 16, True, "RE", 2),
        Bneck(3, 72, 24, False, "RE", 2),
        Bneck(3, 88, 24, False, "RE", 1),
        Bneck(5, 96, 40, True, "HS", 2),
        Bneck(5, 240, 40, True, "HS", 1),
        Bneck(5, 240, 40, True, "HS", 1),
        Bneck(5, 120, 48, True, "HS", 1),
        Bneck(5, 144, 48, True, "HS", 1),
        Bneck(5, 288, 96, True, "HS", 2),
        Bneck(5, 576, 96, True, "HS", 1),
        Bneck(5, 576, 96, True, "HS", 1),
    ],
}
_LAST = {"large": (960, 1280), "small": (576, 1024)}  # the final 1x1 conv and the pooled 1x1 "NBN" conv
_NL = {"RE": nn.ReLU, "HS": nn.Hardswish}
_STEM = 16
EXPANSION_RULES = ("factor", "scaled")


class MobileNetV3(nn.Module):
    """MobileNetV3 (arXiv:1905.02244, Tables 1-2): ``features`` (stem, bnecks, 1x1), pool, ``classifier``."""

    def __init__(self, rows: list[Bneck], last: tuple[int, int], width_mult: float = 1.0,
                 num_classes: int = 1000, dropout: float = 0.2, thin_head: bool = False,
                 expansion: str = "factor") -> None:
        super().__init__()
        check_width_mult(width_mult)
        check_dropout_and_classes(num_classes, dropout)
        if expansion not in EXPANSION_RULES:
            raise ValueError(f"expansion must be one of {EXPANSION_RULES}, got {expansion!r}")

        def scale(c: int) -> int:
            return make_divisible(c * width_mult, 8)

        channels, unscaled = scale(_STEM), _STEM
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2, activation=nn.Hardswish)]
        for row in rows:
            out = scale(row.out)
            # "factor": the paper's code stores each expansion as a factor of the block's input (Tables 1-2:
            # exp / in) and applies it to the input as scaled and rounded; "scaled": scale exp itself
            # (torchvision). Equal at width 1; at 0.75 "factor" keeps the early expansions (64, 72, 72)
            # whole, because 16 input channels round back to 16.
            exp = (make_divisible(row.exp / unscaled * channels, 8) if expansion == "factor" else scale(row.exp))
            layers.append(InvertedResidual(
                channels, out, row.s, kernel_size=row.k, activation=_NL[row.nl], expanded_channels=exp,
                # Section 5.3: SE squeezes to 1/4 of the expansion, gated by the hard sigmoid
                se_channels=make_divisible(exp // 4, 8) if row.se else None,
                se_activation=nn.ReLU, se_gate=nn.Hardsigmoid,
            ))
            channels, unscaled = out, row.out
        # The paper's code never thins the 1280 (1024) layer below width 1, as in MobileNetV2, which gives
        # Table 3's 4.0 M (2.0 M) parameters at width 0.75; torchvision thins it (3.4 M, 1.7 M).
        last_conv = scale(last[0])
        head = scale(last[1]) if thin_head else make_divisible(last[1] * max(1.0, width_mult), 8)
        layers.append(ConvBNAct(channels, last_conv, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        # The redesigned last stage (Section 5.1, Fig. 5): pool first, so the 1x1 "NBN" convolution (no
        # batch norm) to 1280 runs on a 1x1 map; as a Linear layer it is the same computation.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, head), nn.Hardswish(inplace=True), nn.Dropout(dropout),
            nn.Linear(head, num_classes),
        )
        # TensorFlow's batch norm settings (epsilon 1e-3, decay 0.99), which torchvision keeps for this model
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 1e-3, 0.01
        self.width_mult, self.expansion = width_mult, expansion
        init_mobile_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def mobilenet_v3(variant: str = "large", width_mult: float = 1.0, num_classes: int = 1000,
                 dropout: float = 0.2, thin_head: bool = False, expansion: str = "factor",
                 pretrained: bool = False) -> MobileNetV3:
    """MobileNetV3-Large or -Small (arXiv:1905.02244, Tables 1 and 2) with width multiplier ``width_mult``.

    At 224 px: Large 5,483,032 parameters, 217 M MACs (Table 3: 5.4 M, 219 M); Small 2,542,856, 57 M (2.5 M,
    56 M). Widths are scaled and rounded to multiples of 8, except the 1280 (1024) layer of the head, which
    widths below 1 leave whole as in the paper's code; ``thin_head=True`` thins it too, as torchvision does.
    ``expansion="factor"`` (the paper's code) applies each block's expansion factor to its scaled input,
    ``"scaled"`` scales the expansion sizes directly (torchvision). At width 0.75 the paper's rules give
    Large 3,993,528 parameters and 155 M MACs, Small 2,041,872 and 43 M (Table 3: 4.0 M, 155 M; 2.0 M, 44 M);
    ``thin_head=True, expansion="scaled"`` is torchvision's ``width_mult=0.75``. All agree at width 1.
    ``pretrained=True`` loads torchvision's ImageNet weights (width 1.0, 1000 classes).
    """
    if variant not in MOBILENET_V3_STAGES:
        raise ValueError(f"variant must be one of {list(MOBILENET_V3_STAGES)}, got {variant!r}")
    model = MobileNetV3(MOBILENET_V3_STAGES[variant], _LAST[variant], width_mult, num_classes, dropout,
                        thin_head, expansion)
    model.variant = variant
    if pretrained:
        if width_mult != 1.0 or num_classes != 1000:
            raise ValueError("pretrained=True needs width_mult=1.0 and num_classes=1000 (torchvision's)")
        load_pretrained(model, f"mobilenet_v3_{variant}")
    return model


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
                     width_mult: float = 1.0) -> MobileNetV3:
    """A cnnedu MobileNetV3 holding the weights of torchvision's ``mobilenet_v3_large`` or ``_small``.

    The variant is recognised from the number of blocks and the classes from the classifier; give
    ``width_mult`` if it was not 1.0.
    """
    check_width_mult(width_mult)
    state = (tv_model_or_state_dict.state_dict() if isinstance(tv_model_or_state_dict, nn.Module)
             else tv_model_or_state_dict)
    blocks = {key.split(".")[1] for key in state if key.startswith("features.")}
    variant = "large" if len(blocks) == len(MOBILENET_V3_STAGES["large"]) + 2 else "small"
    num_classes = state["classifier.3.weight"].shape[0]
    model = mobilenet_v3(variant, width_mult, num_classes, thin_head=True, expansion="scaled")
    return load_state_dict_by_order(model, state)


# the package star-imports every family, so each family's from_torchvision is exported under its own name
mobilenet_v3_from_torchvision = from_torchvision


# Sec. 5.2's int8 argument made concrete: with the input step 3/32, the knees -3 and +3 of ReLU6(x + 3) fall on
# the codes -32 and +32, and the division by 6 becomes a power of two, (3/32) / 6 = 1/64.
HARD_SWISH_INT8_SCALE = 3 / 32


def hard_swish_int8(q: torch.Tensor) -> torch.Tensor:
    """h-swish of int8 codes (x = q * 3/32) with one integer add, clamp and multiply: q * clamp(q + 32, 0, 64).

    The result is an int16 code in steps of ``HARD_SWISH_INT8_SCALE / 64``, and it is exact: no rounding, no
    exponential, no lookup table (Howard et al., "Searching for MobileNetV3", arXiv:1905.02244, Sec. 5.2:
    h-swish is cheap and loses no precision in quantized mode). A right shift by 6 brings it back to int8
    codes of step 3/32 when the next layer wants them.
    """
    if q.dtype != torch.int8:
        raise ValueError(f"q must be an int8 tensor of quantized codes, got dtype {q.dtype}")
    wide = q.to(torch.int16)
    return wide * torch.clamp(wide + 32, 0, 64)
