"""SE-ResNet: ResNet blocks recalibrated by squeeze-and-excitation, at any of the four positions of Fig. 5.

Hu, Shen, Albanie, Sun and Wu, "Squeeze-and-Excitation Networks" (arXiv:1709.01507): Fig. 3 (SE-ResNet
module), Table 10 (reduction ratio r), Table 14 and Fig. 5 (integration strategy).
"""

from __future__ import annotations

import torch

from cnnedu.blocks import SqueezeExcite
from cnnedu.models.resnet import RESNET_STAGES, STAGE_CHANNELS, VARIANTS, BasicBlock, Bottleneck, ResNet

__all__ = ["SEBasicBlock", "SEBottleneck", "se_resnet", "se_resnet50", "se_block_params", "SE_POSITIONS"]

# Hu et al., Table 14 / Fig. 5: where the SE unit sits in a residual unit.
SE_POSITIONS = {
    "standard": "on the residual branch, before the addition (Fig. 5b, Table 14 'SE')",
    "pre": "before the residual unit, on the input of its residual branch (Fig. 5c, 'SE-PRE')",
    "post": "after the addition and its ReLU (Fig. 5d, 'SE-POST')",
    "identity": "on the identity branch, in parallel to the residual branch (Fig. 5e, 'SE-Identity')",
}


class _SEUnit:
    """Adds an SE unit to a residual block that has ``residual(x)``, ``shortcut`` and ``relu``."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, *, reduction: float = 16,
                 position: str = "standard", **block_kwargs) -> None:
        if position not in SE_POSITIONS:
            raise ValueError(f"position must be one of {tuple(SE_POSITIONS)}, got {position!r}")
        super().__init__(in_channels, channels, stride, **block_kwargs)
        self.position = position
        self.se = SqueezeExcite(in_channels if position == "pre" else self.out_channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # SE-PRE scales the residual branch's input only: the identity path stays an identity (the paper's
        # point: SE works wherever it sits, as long as it acts before the branches are added)
        out = self.residual(self.se(x) if self.position == "pre" else x)
        if self.position == "standard":
            out = self.se(out)
        shortcut = self.shortcut(x)
        if self.position == "identity":
            shortcut = self.se(shortcut)
        out = self.relu(out + shortcut)
        return self.se(out) if self.position == "post" else out


class SEBasicBlock(_SEUnit, BasicBlock):
    """ResNet basic block with an SE unit (Hu et al., Fig. 3 applied to the two-3x3 block)."""


class SEBottleneck(_SEUnit, Bottleneck):
    """ResNet bottleneck with an SE unit: SE-ResNet-50/101/152 (Hu et al., Fig. 3 and Table 1)."""


def se_block_params(channels: int, reduction: float = 16) -> int:
    """Parameters of one SE unit: 2 C^2 / r weights plus C / r + C biases (Hu et al., Section 4)."""
    squeeze = SqueezeExcite(channels, reduction).squeeze_channels
    return 2 * channels * squeeze + squeeze + channels


def se_resnet(depth: int = 50, reduction: float = 16, position: str = "standard", num_classes: int = 1000,
              variant: str = "v1") -> ResNet:
    """SE-ResNet-``depth``: ResNet (He et al. Table 1) with an SE unit of ratio ``reduction`` in every block.

    Hu et al. (arXiv:1709.01507), Table 1, Table 10 (r) and Table 14 (``position``). SE-ResNet-50 with
    r = 16 has 28.1 M parameters. The released SE-ResNets keep the stride in the first 1x1 (``variant="v1"``,
    as in the ResNet paper); ``"v1.5"`` moves it to the 3x3 like torchvision.
    """
    if depth not in RESNET_STAGES:
        raise ValueError(f"depth must be one of {sorted(RESNET_STAGES)}, got {depth!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if position not in SE_POSITIONS:
        raise ValueError(f"position must be one of {tuple(SE_POSITIONS)}, got {position!r}")
    block, layers = RESNET_STAGES[depth]
    # the narrowest SE unit: the stem's 64 channels for SE-PRE, else the first stage's block output
    smallest = STAGE_CHANNELS[0] * (1 if position == "pre" else block.expansion)
    if isinstance(reduction, bool) or not isinstance(reduction, (int, float)) or not 1 <= reduction <= smallest:
        raise ValueError(f"reduction must be a number between 1 and {smallest} (the fewest channels an SE unit "
                         f"sees here), got {reduction!r}")
    se_block = SEBottleneck if block is Bottleneck else SEBasicBlock
    kwargs = {"stride_in_1x1": variant == "v1"} if block is Bottleneck else {}
    return ResNet(se_block, layers, num_classes, reduction=reduction, position=position, **kwargs)


def se_resnet50(**kwargs) -> ResNet:
    """SE-ResNet-50, r = 16 (Hu et al., Table 1)."""
    return se_resnet(50, **kwargs)

