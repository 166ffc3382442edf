"""EfficientNet: a searched baseline (B0) scaled in depth, width and resolution at once.

Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks" (arXiv:1905.11946).
Table 1 is B0; Section 3.3, eq. 3, the compound scaling d = alpha^phi, w = beta^phi, r = gamma^phi with
alpha beta^2 gamma^2 ~ 2 (alpha = 1.2, beta = 1.1, gamma = 1.15 from a small grid search at phi = 1).
The released B1-B7 do not follow the formula exactly: their (width, depth, resolution) were rounded by hand
(``RELEASED``); ``efficientnet(phi)`` follows the formula, so the two can be set side by side. Filters and
repeats are rounded as in the released code (``round_filters``, ``round_repeats``). B0-B7 equal
torchvision's ``efficientnet_b0`` ... ``_b7`` and load their weights (``from_torchvision``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.blocks import ConvBNAct, InvertedResidual, check_positive, make_divisible
from cnnedu.models._init import init_mobile_weights
from cnnedu.models._torchvision import load_pretrained, load_state_dict_by_order

__all__ = [
    "EfficientNet",
    "STAGES",
    "RELEASED",
    "round_filters",
    "round_repeats",
    "resolution_for",
    "fitted_phi",
    "released_phi",
    "efficientnet",
    "efficientnet_cost",
    "TINY_STAGES",
    "TinyEfficientNet",
    "tiny_efficientnet",
    "efficientnet_from_torchvision",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
]

# Table 1 of the paper (EfficientNet-B0), one row per stage of MBConv blocks; the stride belongs to the
# first block of a stage. Before them: conv3x3, 32 channels, stride 2 (224 -> 112). After them: conv1x1 to
# 1280, pooling, FC. The stage resolutions of Table 1 follow from the strides: 112, 112, 56, 28, 14, 14, 7.
STAGES: list[tuple[int, int, int, int, int, int]] = [
    # expand_ratio, kernel, stride, in, out, repeats
    (1, 3, 1, 32, 16, 1),     # MBConv1, k3x3
    (6, 3, 2, 16, 24, 2),     # MBConv6, k3x3
    (6, 5, 2, 24, 40, 2),     # MBConv6, k5x5
    (6, 3, 2, 40, 80, 3),     # MBConv6, k3x3
    (6, 5, 1, 80, 112, 3),    # MBConv6, k5x5
    (6, 5, 2, 112, 192, 4),   # MBConv6, k5x5
    (6, 3, 1, 192, 320, 1),   # MBConv6, k3x3
]
STEM, HEAD = 32, 1280

# The released models' coefficients (width, depth, resolution, dropout before the classifier), from the
# reference code (efficientnet_builder.py, efficientnet_params); torchvision uses the same.
RELEASED: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
# torchvision's batch norm (epsilon, momentum) per model: its B0-B4 weights were trained in PyTorch with the
# PyTorch defaults, its B5-B7 weights ported from TensorFlow, whose settings the paper's code uses.
_TF_BN = (1e-3, 0.01)
_TORCHVISION_BN = {name: _TF_BN if name in ("b5", "b6", "b7") else (1e-5, 0.1) for name in RELEASED}
DROP_PATH_RATE = 0.2  # the reference code's drop_connect_rate: survival probability falls linearly to 0.8


def round_filters(channels: int, width: float) -> int:
    """Channels times ``width``, rounded to a multiple of 8 and never 10 % below it (the released code)."""
    check_positive("channels", channels, integer=True)
    check_positive("width", width)
    return make_divisible(channels * width, 8)


def round_repeats(repeats: int, depth: float) -> int:
    """Blocks of a stage scaled by ``depth``, rounded up (released code: ``int(math.ceil(d * repeats))``)."""
    check_positive("repeats", repeats, integer=True)
    check_positive("depth", depth)
    return int(math.ceil(depth * repeats))


def resolution_for(phi: float, gamma: float = 1.15, base: int = 224) -> int:
    """Input resolution r = gamma^phi * base of compound scaling (arXiv:1905.11946, eq. 3), rounded."""
    _check_phi(phi)
    check_positive("gamma", gamma)
    check_positive("base", base, integer=True)
    return int(round(gamma**phi * base))


def fitted_phi(width: float, depth: float, resolution: int, alpha: float = 1.2, beta: float = 1.1,
               gamma: float = 1.15, base: int = 224) -> float:
    """The phi at which eq. 3 comes closest to a model's (width, depth, resolution) (arXiv:1905.11946, Sec. 3.3).

    Least squares on the logarithms: with x = (w, d, r / base) and c = (beta, alpha, gamma), eq. 3 says
    log x_i = phi log c_i, and phi* = sum_i log x_i log c_i / sum_i (log c_i)^2 minimises the squared misfit
    of all three at once. The released B1-B7 were rounded by hand, so no phi fits all three exactly.
    """
    for name, value in (("width", width), ("depth", depth), ("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        check_positive(name, value)
    check_positive("resolution", resolution)
    check_positive("base", base)
    logx = (math.log(width), math.log(depth), math.log(resolution / base))
    logc = (math.log(beta), math.log(alpha), math.log(gamma))
    norm = sum(c * c for c in logc)
    if norm == 0:
        raise ValueError("alpha, beta and gamma cannot all be 1: then every phi gives B0")
    return sum(x * c for x, c in zip(logx, logc, strict=True)) / norm


def released_phi(alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> dict[str, float]:
    """:func:`fitted_phi` of each released model B0-B7 (``RELEASED``): where it sits on the phi axis."""
    return {name: fitted_phi(w, d, r, alpha, beta, gamma) for name, (w, d, r, _) in RELEASED.items()}


def _check_phi(phi: float) -> None:
    if isinstance(phi, bool) or not isinstance(phi, (int, float)) or not 0 <= phi < math.inf:
        raise ValueError(f"phi must be a number >= 0 (the compound coefficient; B0 is phi = 0), got {phi!r}")


def _blocks(width: float, depth: float):
    """Yield, stage by stage, the list of (expand_ratio, kernel, stride, in, out) of its MBConv blocks."""
    for t, k, s, c_in, c_out, n in STAGES:
        c_in, c_out = round_filters(c_in, width), round_filters(c_out, width)
        yield [(t, k, s if i == 0 else 1, c_in if i == 0 else c_out, c_out)
               for i in range(round_repeats(n, depth))]


class EfficientNet(nn.Module):
    """EfficientNet (arXiv:1905.11946, Table 1 scaled by eq. 3): ``features`` (stem, 7 stages, 1x1), pool, FC.

    ``width``, ``depth`` and ``resolution`` are kept as attributes; ``resolution`` is the input size the
    model was designed for (it runs at any size, ending in global pooling).
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, resolution: int = 224, dropout: float = 0.2,
                 num_classes: int = 1000, drop_path_rate: float = DROP_PATH_RATE,
                 bn: tuple[float, float] = _TF_BN) -> None:
        super().__init__()
        check_positive("width", width)
        check_positive("depth", depth)
        check_positive("resolution", resolution, integer=True)
        _check_common(num_classes, dropout, drop_path_rate)
        stages = list(_blocks(width, depth))
        total = sum(len(s) for s in stages)
        channels = round_filters(STEM, width)
        layers: list[nn.Module] = [ConvBNAct(3, channels, 3, stride=2, activation=nn.SiLU)]
        index = 0
        for rows in stages:
            stage = []
            for t, k, s, c_in, c_out in rows:
                stage.append(InvertedResidual(
                    c_in, c_out, s, expand_ratio=t, kernel_size=k, activation=nn.SiLU,
                    expanded_channels=make_divisible(c_in * t, 8),
                    # the SE squeeze is 1/4 of the block's input, not of its expansion (unlike MobileNetV3)
                    se_channels=max(1, c_in // 4), se_activation=nn.SiLU, se_gate=nn.Sigmoid,
                    # stochastic depth: the drop rate rises linearly with the block index (reference code)
                    drop_path=drop_path_rate * index / total,
                ))
                index += 1
            layers.append(nn.Sequential(*stage))
            channels = rows[-1][4]
        # the released code rounds 1280 * width; torchvision takes 4 x the last stage's width, which is the
        # same number for B0-B7 but not for every phi
        head = round_filters(HEAD, width)
        layers.append(ConvBNAct(channels, head, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, num_classes))
        self.width, self.depth, self.resolution = width, depth, resolution
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = bn
        init_mobile_weights(self, linear="uniform")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _check_common(num_classes: int, dropout: float, drop_path_rate: float) -> None:
    check_positive("num_classes", num_classes, integer=True)
    for name, p in (("dropout", dropout), ("drop_path_rate", drop_path_rate)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")


def efficientnet(phi: float = 1.0, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15,
                 num_classes: int = 1000, dropout: float = 0.2,
                 drop_path_rate: float = DROP_PATH_RATE) -> EfficientNet:
    """EfficientNet scaled straight from the compound-scaling formula (arXiv:1905.11946, Section 3.3, eq. 3).

    depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi * 224 (``model.resolution``); phi = 0
    is B0. The released B1-B7 (``efficientnet_b1`` ...) used hand-rounded coefficients instead.
    """
    _check_phi(phi)
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        check_positive(name, value)
    width, depth, resolution = beta**phi, alpha**phi, resolution_for(phi, gamma)
    return EfficientNet(width, depth, resolution, dropout, num_classes, drop_path_rate)


def _released(name: str, num_classes: int, dropout: float | None, drop_path_rate: float,
              pretrained: bool) -> EfficientNet:
    width, depth, resolution, default_dropout = RELEASED[name]
    dropout = default_dropout if dropout is None else dropout
    bn = _TORCHVISION_BN[name]
    model = EfficientNet(width, depth, resolution, dropout, num_classes, drop_path_rate, bn)
    model.name = f"efficientnet_{name}"
    if pretrained:
        if num_classes != 1000:
            raise ValueError("pretrained=True needs num_classes=1000 (torchvision's ImageNet weights)")
        load_pretrained(model, model.name)
    return model


def _factory(name: str):
    width, depth, resolution, dropout = RELEASED[name]

    def build(num_classes: int = 1000, dropout: float | None = None, drop_path_rate: float = DROP_PATH_RATE,
              pretrained: bool = False) -> EfficientNet:
        return _released(name, num_classes, dropout, drop_path_rate, pretrained)

    build.__name__ = build.__qualname__ = f"efficientnet_{name}"
    build.__doc__ = (
        f"EfficientNet-{name.upper()}: width {width}, depth {depth}, {resolution} px, dropout {dropout} "
        "(arXiv:1905.11946, Table 2; coefficients of the released code).\n\n"
        "    ``dropout=None`` keeps the released rate; ``pretrained=True`` loads torchvision's weights.\n"
    )
    return build


efficientnet_b0 = _factory("b0")
efficientnet_b1 = _factory("b1")
efficientnet_b2 = _factory("b2")
efficientnet_b3 = _factory("b3")
efficientnet_b4 = _factory("b4")
efficientnet_b5 = _factory("b5")
efficientnet_b6 = _factory("b6")
efficientnet_b7 = _factory("b7")


def efficientnet_cost(width: float, depth: float, resolution: int,
                      num_classes: int = 1000) -> tuple[int, int]:
    """(parameters, MACs) of an EfficientNet computed from ``STAGES``, without building it (arXiv:1905.11946).

    Equal to ``count_params`` and ``count_macs`` of the built model, in well under a millisecond: what an
    interactive widget needs. Counts convolutions and FC layers (MACs) and every weight, bias and batch-norm
    scale and shift (parameters).
    """
    check_positive("width", width)
    check_positive("depth", depth)
    check_positive("resolution", resolution, integer=True)

    def conv(c_in: int, c_out: int, k: int, size: int, groups: int = 1) -> tuple[int, int]:
        weights = k * k * (c_in // groups) * c_out
        return weights + 2 * c_out, weights * size * size  # + batch-norm gamma and beta

    size = (resolution - 1) // 2 + 1  # 3x3 stride-2 stem with padding 1
    channels = round_filters(STEM, width)
    params, macs = conv(3, channels, 3, size)
    for rows in _blocks(width, depth):
        for t, k, s, c_in, c_out in rows:
            hidden = make_divisible(c_in * t, 8)
            if hidden != c_in:
                p, m = conv(c_in, hidden, 1, size)
                params, macs = params + p, macs + m
            size = (size - 1) // s + 1  # "same" padding (k - 1) / 2
            squeeze = max(1, c_in // 4)
            for p, m in (conv(hidden, hidden, k, size, groups=hidden), conv(hidden, c_out, 1, size)):
                params, macs = params + p, macs + m
            params += 2 * hidden * squeeze + squeeze + hidden  # SE: two biased 1x1 convolutions on a 1x1 map
            macs += 2 * hidden * squeeze
            channels = c_out
    head = round_filters(HEAD, width)
    p, m = conv(channels, head, 1, size)
    params += p + head * num_classes + num_classes
    macs += m + head * num_classes
    return params, macs


# A miniature of Table 1 for experiments on a CPU: three MBConv stages with SE and Swish, at 16 px.
TINY_STAGES: list[tuple[int, int, int, int, int, int]] = [
    # expand_ratio, kernel, stride, in, out, repeats
    (1, 3, 1, 8, 8, 1),       # MBConv1, k3x3
    (4, 3, 2, 8, 16, 1),      # MBConv4, k3x3
    (4, 3, 2, 16, 24, 2),     # MBConv4, k3x3
]
TINY_STEM, TINY_HEAD, TINY_RESOLUTION = 8, 64, 16


class TinyEfficientNet(nn.Module):
    """A B0-like miniature (``TINY_STAGES``) scaled by ``width``, per-stage ``repeats`` and ``resolution``.

    The input is resized to ``resolution`` inside the model (bilinear, antialiased), so the same data feeds
    every scaled model and a higher resolution really sees more of the image's detail (arXiv:1905.11946,
    Section 3.2). Channels are rounded to multiples of 2, not 8: at 8-24 channels 8 is too coarse a step.
    """

    def __init__(self, width: float = 1.0, repeats: tuple[int, ...] | None = None,
                 resolution: int = TINY_RESOLUTION, num_classes: int = 10) -> None:
        super().__init__()
        check_positive("width", width)
        check_positive("resolution", resolution, integer=True)
        check_positive("num_classes", num_classes, integer=True)
        repeats = tuple(row[5] for row in TINY_STAGES) if repeats is None else tuple(repeats)
        if len(repeats) != len(TINY_STAGES) or not all(isinstance(n, int) and n >= 1 for n in repeats):
            raise ValueError(f"repeats must be {len(TINY_STAGES)} positive integers (blocks per stage), "
                             f"got {repeats!r}")
        c = make_divisible(TINY_STEM * width, 2)
        layers: list[nn.Module] = [ConvBNAct(3, c, 3, activation=nn.SiLU)]
        for (t, k, s, _, c_out, _), n in zip(TINY_STAGES, repeats, strict=True):
            c_out = make_divisible(c_out * width, 2)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, expand_ratio=t, kernel_size=k,
                                               activation=nn.SiLU, se_channels=max(1, c // 4),
                                               se_activation=nn.SiLU))
                c = c_out
        head = make_divisible(TINY_HEAD * width, 2)
        layers.append(ConvBNAct(c, head, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)
        self.width, self.repeats, self.resolution = width, repeats, resolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def extra_repr(self) -> str:
        return f"width={self.width}, repeats={self.repeats}, resolution={self.resolution}"


def tiny_efficientnet(width: float = 1.0, depth: float = 1.0, resolution: int = TINY_RESOLUTION,
                      repeats: tuple[int, ...] | None = None, num_classes: int = 10) -> TinyEfficientNet:
    """The miniature scaled like eq. 3: blocks per stage ceil(depth * n) unless ``repeats`` names them."""
    check_positive("depth", depth)
    if repeats is None:
        repeats = tuple(round_repeats(row[5], depth) for row in TINY_STAGES)
    return TinyEfficientNet(width, repeats, resolution, num_classes)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> EfficientNet:
    """A cnnedu EfficientNet-B0 ... B7 holding the weights of torchvision's ``efficientnet_b*`` model.

    Which of B0-B7 it is is read from the blocks per stage and the width of the head.
    """
    state = (tv_model_or_state_dict.state_dict() if isinstance(tv_model_or_state_dict, nn.Module)
             else tv_model_or_state_dict)
    blocks: dict[int, set[str]] = {}
    for key in state:
        parts = key.split(".")
        if parts[0] == "features" and 1 <= int(parts[1]) <= len(STAGES):
            blocks.setdefault(int(parts[1]), set()).add(parts[2])
    repeats = [len(blocks.get(i + 1, ())) for i in range(len(STAGES))]
    head = state["classifier.1.weight"].shape[1]
    for name, (width, depth, _, _) in RELEASED.items():
        if head == round_filters(HEAD, width) and repeats == [round_repeats(r[5], depth) for r in STAGES]:
            model = _released(name, state["classifier.1.weight"].shape[0], None, DROP_PATH_RATE, False)
            return load_state_dict_by_order(model, state)
    raise ValueError(f"not a torchvision EfficientNet-B0..B7: {repeats} blocks per stage, head {head}")


# the package star-imports every family, so each family's from_torchvision is exported under its own name
efficientnet_from_torchvision = from_torchvision
