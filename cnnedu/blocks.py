"""Building blocks shared by several architectures of the course.

Family-specific blocks (residual blocks, Inception modules, dense layers, Xception's separable block) live
beside their models in ``cnnedu.models``; the blocks here recur across families.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.ops import StochasticDepth

__all__ = [
    "ConvBNAct",
    "SqueezeExcite",
    "DepthwiseSeparable",
    "InvertedResidual",
    "StochasticDepth",
    "HardSigmoid",
    "HardSwish",
    "make_divisible",
    "check_positive",
]

Activation = Callable[..., nn.Module]


def check_positive(name: str, value: float, integer: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a positive number (an integer if asked)."""
    kind = "a positive integer" if integer else "a positive number"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never going more than 10 % below it.

    The rounding of MobileNetV2 / V3 and EfficientNet (the TensorFlow reference code's ``_make_divisible``).
    """
    check_positive("value", value)
    check_positive("divisor", divisor, integer=True)
    if min_value is not None:
        check_positive("min_value", min_value, integer=True)
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


class ConvBNAct(nn.Sequential):
    """Convolution, batch normalization, activation: the unit of every post-2015 network here.

    Padding keeps the spatial size at stride 1 ("same" for odd kernels). ``activation=None`` gives a linear
    layer (MobileNetV2's projection); ``norm=False`` gives a biased convolution (pre-BN networks).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: Activation | None = nn.ReLU,
        norm: bool = True,
        dilation: int = 1,
    ) -> None:
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("stride", stride), ("groups", groups),
                        ("dilation", dilation)):
            check_positive(name, v, integer=True)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups must divide in_channels ({in_channels}) and out_channels ({out_channels}), "
                             f"got {groups}")
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups,
                      bias=not norm)
        ]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if activation is not None:
            layers.append(activation(inplace=True) if _takes_inplace(activation) else activation())
        super().__init__(*layers)
        self.in_channels, self.out_channels = in_channels, out_channels


def _takes_inplace(activation: Activation) -> bool:
    return activation in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.LeakyReLU, nn.ELU)


class HardSigmoid(nn.Module):
    """hard-sigmoid(x) = ReLU6(x + 3) / 6, the piecewise-linear sigmoid of MobileNetV3 (arXiv:1905.02244, 5.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu6(x + 3.0) / 6.0


class HardSwish(nn.Module):
    """h-swish(x) = x * ReLU6(x + 3) / 6 (MobileNetV3, arXiv:1905.02244, eq. in Section 5.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * nn.functional.relu6(x + 3.0) / 6.0


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global average pool, FC down, activation, FC up, gate, channel-wise scale.

    Hu et al., "Squeeze-and-Excitation Networks" (arXiv:1709.01507), eq. 2-4: z = F_sq(u), s = sigma(W2
    delta(W1 z)), x~ = s * u, with W1 in R^{C/r x C}. The FCs are 1x1 convolutions (with biases, as in the
    released models). Used by SENet (ratio 16, sigmoid), MobileNetV3 (1/4 of the expansion, hard sigmoid)
    and EfficientNet (1/4 of the block input, SiLU and sigmoid).

    Give either ``reduction`` (r, squeeze width C / r) or ``squeeze_channels`` directly.
    """

    def __init__(
        self,
        channels: int,
        reduction: float | None = 16,
        squeeze_channels: int | None = None,
        activation: Activation = nn.ReLU,
        gate: Activation = nn.Sigmoid,
    ) -> None:
        super().__init__()
        check_positive("channels", channels, integer=True)
        if squeeze_channels is None:
            if reduction is None or not isinstance(reduction, (int, float)) or not 1 <= reduction <= channels:
                raise ValueError(
                    f"reduction must be a number between 1 and channels ({channels}), got {reduction!r}"
                )
            squeeze_channels = max(1, int(channels // reduction))
        else:
            check_positive("squeeze_channels", squeeze_channels, integer=True)
        self.channels, self.squeeze_channels = channels, squeeze_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = activation(inplace=True) if _takes_inplace(activation) else activation()
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = gate()

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel weights s in (0, 1), shape (N, C, 1, 1)."""
        return self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.excitation(x)

    def extra_repr(self) -> str:
        return f"{self.channels} -> {self.squeeze_channels} -> {self.channels}"


class DepthwiseSeparable(nn.Sequential):
    """Depthwise 3x3 convolution then pointwise 1x1, each followed by BN and ReLU.

    MobileNet v1 (arXiv:1704.04861, Section 3.1, Fig. 3): cost D_K^2 M D_F^2 + M N D_F^2 instead of
    D_K^2 M N D_F^2.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3,
                 activation: Activation = nn.ReLU) -> None:
        super().__init__(
            ConvBNAct(in_channels, in_channels, kernel_size, stride, groups=in_channels, activation=activation),
            ConvBNAct(in_channels, out_channels, 1, activation=activation),
        )

    @property
    def depthwise(self) -> ConvBNAct:
        return self[0]

    @property
    def pointwise(self) -> ConvBNAct:
        return self[1]


class InvertedResidual(nn.Module):
    """Inverted residual with linear bottleneck: expand 1x1, depthwise kxk, (SE), linear 1x1 projection.

    MobileNetV2 (arXiv:1801.04381, Section 3.3, Table 1) with t = ``expand_ratio``; with SE and h-swish it is
    MobileNetV3's block (arXiv:1905.02244, Fig. 4), with SE, Swish and drop-path EfficientNet's MBConv
    (arXiv:1905.11946, Table 1). The skip connection exists only when stride is 1 and the channels match.
    Layers are named by role: ``expand``, ``depthwise``, ``se``, ``project``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        expand_ratio: float = 6,
        kernel_size: int = 3,
        activation: Activation = nn.ReLU6,
        se_channels: int | None = None,
        se_activation: Activation = nn.ReLU,
        se_gate: Activation = nn.Sigmoid,
        drop_path: float = 0.0,
        expanded_channels: int | None = None,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        check_positive("expand_ratio", expand_ratio)
        for name, value in (("se_channels", se_channels), ("expanded_channels", expanded_channels)):
            if value is not None:  # None: no SE block / in_channels * expand_ratio
                check_positive(name, value, integer=True)
        if not 0 <= drop_path < 1:
            raise ValueError(f"drop_path must be a probability in [0, 1), got {drop_path!r}")
        hidden = expanded_channels or int(round(in_channels * expand_ratio))
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.use_residual = stride == 1 and in_channels == out_channels
        self.expand = (ConvBNAct(in_channels, hidden, 1, activation=activation)
                       if hidden != in_channels else nn.Identity())
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size, stride, groups=hidden, activation=activation)
        self.se = (SqueezeExcite(hidden, squeeze_channels=se_channels, activation=se_activation, gate=se_gate)
                   if se_channels else nn.Identity())
        self.project = ConvBNAct(hidden, out_channels, 1, activation=None)  # linear: no ReLU (Section 3.2)
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        if self.use_residual:
            out = x + self.drop_path(out)
        return out
