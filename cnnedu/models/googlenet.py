"""GoogLeNet (Inception v1): Inception modules, 1x1 reductions, global average pooling, auxiliary heads.

Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, arXiv:1409.4842, Table 1, Figure 2(b),
Figure 3 and Section 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.blocks import ConvBNAct, check_positive
from cnnedu.models import _torchvision
from cnnedu.models.alexnet import _build_and_load, _check, _state_dict, paper_lrn

__all__ = [
    "GoogLeNet",
    "Inception",
    "InceptionAux",
    "GoogLeNetOutputs",
    "INCEPTION_TABLE",
    "TABLE_1_REPORTED",
    "googlenet",
    "googlenet_cifar",
    "googlenet_loss",
    "googlenet_from_torchvision",
    "TABLE_1_ROWS",
    "table_1_row",
    "aux_gradient_norms",
]

VARIANTS = ("paper", "torchvision")

# Table 1 of the paper, the Inception rows (input 28x28 for 3x, 14x14 for 4x, 7x7 for 5x).
# The input channels of each module are the sum of the previous module's four outputs (192 for 3a).
INCEPTION_TABLE: dict[str, tuple[int, int, int, int, int, int]] = {
    # name: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

# Table 1's params (K = 1024 weights, biases not counted) and ops (M multiply-adds) as printed, for notebooks
# to set beside the computed ones. Most rows follow from the table's channel numbers to the rounding
# (3a: 163,328 weights = 159.5K and 128.0M ops), a few do not:
# - conv1: 7x7x3x64 = 9,408 weights (9.2K) and 118M ops, not 2.7K / 34M. With the printed 34M the total
#   comes to the paper's "1.5 billion multiply-adds" (our 1.583 G - 84 M = 1.499 G).
# - 4c: 509,440 weights = 497.5K (its printed 100M ops match them), not 463K.
# - 5a: 1,042,432 weights = 1018K and 51.1M ops, not 1072K / 54M.
# - 5b: 1,442,816 weights = 1409K (its printed 71M ops match them), not 1388K.
TABLE_1_REPORTED: dict[str, tuple[float, float]] = {
    # layer: params (K), ops (M)
    "conv1": (2.7, 34), "conv2": (112, 360),
    "3a": (159, 128), "3b": (380, 304),
    "4a": (364, 73), "4b": (437, 88), "4c": (463, 100), "4d": (580, 119), "4e": (840, 170),
    "5a": (1072, 54), "5b": (1388, 71),
    "linear": (1000, 1),
}


# The rows of Table 1 from input to output; conv2's row holds the 1x1 "conv2 reduce" and the 3x3 conv2.
TABLE_1_ROWS = tuple(TABLE_1_REPORTED)
_ROW_OF = {"conv2_reduce": "conv2", "fc": "linear"}


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
          batch_norm: bool = False) -> ConvBNAct:
    """Convolution + ReLU (the paper: biased, no BN) or convolution + BN + ReLU (torchvision)."""
    block = ConvBNAct(in_channels, out_channels, kernel_size, stride, norm=batch_norm)
    if batch_norm:
        block[1].eps = 1e-3  # torchvision's BasicConv2d, ported from TensorFlow, whose default eps is 1e-3
    return block


def _check_kernel_5x5(kernel_5x5: int) -> None:
    check_positive("kernel_5x5", kernel_5x5, integer=True)
    if kernel_5x5 % 2 == 0:  # an even kernel cannot keep the spatial size, and the branches are concatenated
        raise ValueError(f"kernel_5x5 must be odd (5 as in the paper, 3 as in torchvision), got {kernel_5x5!r}")


def _check_width_div(width_div: int) -> None:
    check_positive("width_div", width_div, integer=True)
    if 8 % width_div:  # the widths of Table 1 (and the heads' 128, 1024) have 8 as greatest common divisor
        raise ValueError(f"width_div must be 1, 2, 4 or 8 (so every width of Table 1 stays whole), got "
                         f"{width_div!r}")


class Inception(nn.Module):
    """Inception module with dimension reductions: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1.

    Szegedy et al. 2015, Figure 2(b). The 1x1 "reduce" convolutions shrink the channels before the costly
    3x3 and 5x5 filters; the four branches keep the spatial size and are concatenated along channels.
    ``kernel_5x5=3`` gives torchvision's module, whose "5x5" branch is a 3x3 (a bug kept for its weights).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, batch_norm: bool = False, kernel_5x5: int = 5) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("ch1x1", ch1x1), ("ch3x3red", ch3x3red),
                            ("ch3x3", ch3x3), ("ch5x5red", ch5x5red), ("ch5x5", ch5x5), ("pool_proj", pool_proj)):
            check_positive(name, value, integer=True)
        _check_kernel_5x5(kernel_5x5)
        self.branch1x1 = _conv(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch3x3 = nn.Sequential(_conv(in_channels, ch3x3red, 1, batch_norm=batch_norm),
                                       _conv(ch3x3red, ch3x3, 3, batch_norm=batch_norm))
        self.branch5x5 = nn.Sequential(_conv(in_channels, ch5x5red, 1, batch_norm=batch_norm),
                                       _conv(ch5x5red, ch5x5, kernel_5x5, batch_norm=batch_norm))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         _conv(in_channels, pool_proj, 1, batch_norm=batch_norm))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch3x3, self.branch5x5, self.branch_pool)
        return torch.cat([b(x) for b in branches], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on 4a and 4d: 5x5/3 average pool, 1x1 conv 128, FC 1024, dropout 0.7, FC.

    Szegedy et al. 2015, Section 5. torchvision (``batch_norm=True``) pools adaptively to 4x4 (the same
    size at 224 px, other windows) and uses a BN convolution. ``grid`` is the side of the pooled map (4 at
    224 px; 2 for the 8x8 maps of :func:`googlenet_cifar`); ``conv_channels`` and ``fc_channels`` narrow the
    head with the rest of a narrowed network.
    """

    def __init__(self, in_channels: int, num_classes: int, batch_norm: bool = False,
                 dropout: float = 0.7, conv_channels: int = 128, fc_channels: int = 1024, grid: int = 4) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("conv_channels", conv_channels), ("fc_channels", fc_channels), ("grid", grid)):
            check_positive(name, value, integer=True)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        # 14x14 -> floor((14 - 5) / 3) + 1 = 4x4, so fc1 sees 128 * 4 * 4 = 2048 features (8x8 -> 2x2)
        self.pool = nn.AdaptiveAvgPool2d(grid) if batch_norm else nn.AvgPool2d(5, stride=3)
        self.conv = _conv(in_channels, conv_channels, 1, batch_norm=batch_norm)
        self.fc1 = nn.Linear(conv_channels * grid * grid, fc_channels)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(fc_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary heads: main logits and the two auxiliaries."""

    logits: torch.Tensor
    aux1: torch.Tensor
    aux2: torch.Tensor


class GoogLeNet(nn.Module):
    """The 22-layer network of Table 1: stem, Inception 3a-5b, 7x7 average pool, dropout, linear.

    Szegedy et al. 2015, Table 1 and Figure 3. In eval mode (and without auxiliary heads) ``forward``
    returns logits; in training mode with heads, a ``GoogLeNetOutputs(logits, aux1, aux2)``.
    ``width_div`` divides every width of Table 1 (the auxiliary heads' included); ``small_input`` gives
    the stem for 32 px images: a 3x3/1 first convolution and no first pool (see :func:`googlenet_cifar`).
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, batch_norm: bool = False,
                 lrn: bool = True, kernel_5x5: int = 5, dropout: float = 0.4, last_pool: int = 3,
                 transform_input: bool = False, width_div: int = 1, small_input: bool = False) -> None:
        super().__init__()
        _check(num_classes, dropout)
        _check_kernel_5x5(kernel_5x5)
        _check_width_div(width_div)
        check_positive("last_pool", last_pool, integer=True)
        self.transform_input = transform_input
        norm = paper_lrn if lrn else nn.Identity
        d = width_div
        # stem, in Figure 3's order: conv 7x7/2, max pool, LRN, conv 1x1, conv 3x3, LRN, max pool.
        # Pools round up (ceil_mode, as Caffe does) so that 112 -> 56 -> 28 -> 14 -> 7 as in Table 1.
        # At 32 px the stem keeps the resolution until pool2, so the modules see 16, 8 and 4 px maps.
        if small_input:
            self.conv1 = _conv(3, 64 // d, 3, batch_norm=batch_norm)
            self.pool1 = nn.Identity()
        else:
            self.conv1 = _conv(3, 64 // d, 7, stride=2, batch_norm=batch_norm)
            self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = norm()
        self.conv2_reduce = _conv(64 // d, 64 // d, 1, batch_norm=batch_norm)
        self.conv2 = _conv(64 // d, 192 // d, 3, batch_norm=batch_norm)
        self.lrn2 = norm()
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        modules = {}
        in_channels = 192 // d
        for name, row in INCEPTION_TABLE.items():
            widths = [w // d for w in row]
            modules[name] = Inception(in_channels, *widths, batch_norm=batch_norm, kernel_5x5=kernel_5x5)
            in_channels = modules[name].out_channels
        m = modules
        self.inception3a, self.inception3b = m["3a"], m["3b"]
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a, self.inception4b, self.inception4c = m["4a"], m["4b"], m["4c"]
        self.inception4d, self.inception4e = m["4d"], m["4e"]
        # Table 1: 3x3/2 (14 -> 7 with ceil_mode); torchvision uses 2x2/2, the same size, other windows
        self.pool4 = nn.MaxPool2d(last_pool, stride=2, ceil_mode=True)
        self.inception5a, self.inception5b = m["5a"], m["5b"]

        # registered here, between 5b and fc, in torchvision's order so its state dicts load by order
        head = partial(InceptionAux, num_classes=num_classes, batch_norm=batch_norm, conv_channels=128 // d,
                       fc_channels=1024 // d, grid=2 if small_input else 4)
        self.aux1 = head(m["4a"].out_channels) if aux_logits else None
        self.aux2 = head(m["4d"].out_channels) if aux_logits else None

        # Table 1's "avg pool 7x7/1": global average pooling, the same at 224 px and usable at any size
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        # torchvision's pretrained weights (ported from TensorFlow) expect inputs scaled to [-1, 1]
        # rather than ImageNet-normalized: undo the normalization and rescale
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = self._transform_input(x)
        x = self.lrn1(self.pool1(self.conv1(x)))
        x = self.pool2(self.lrn2(self.conv2(self.conv2_reduce(x))))
        x = self.pool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None and self.aux2 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.pool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux1, aux2)
        return x


def googlenet(
    aux_logits: bool = True,
    variant: str = "paper",
    num_classes: int = 1000,
    dropout: float | None = None,
    pretrained: bool = False,
) -> GoogLeNet:
    """GoogLeNet for 224 px inputs, about 1.5 G multiply-adds.

    Szegedy et al. 2015, Table 1. ``variant="paper"``: biased convolutions without BN, LRN in the stem, a
    real 5x5 branch, dropout 0.4 (6,998,552 parameters without the auxiliary heads, 13,378,280 with
    them; 1.583 GMACs).
    ``variant="torchvision"``: BN after every convolution (a later addition), a 3x3 where the paper has
    5x5, 2x2 pool4, no LRN, dropout 0.2 (6,624,904 parameters, 1.498 GMACs); ``pretrained=True``
    downloads its weights. ``aux_logits`` adds the two auxiliary heads, used in training mode only.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}, got {variant!r}")
    # Where the 373,648 parameters and 84 M MACs between the two go: the 3x3 in torchvision's "5x5"
    # branch (a slip in the Caffe-derived port, kept for its weights) saves 16 weights per reduce-output
    # pair, sum(#5x5 reduce * #5x5) * 16 = 23,808 * 16 = 380,928, and 84.2 M MACs (38.5 M of them in 3b);
    # BN adds a scale and a shift but drops the conv bias, one more parameter per channel: + 7,280.
    # LRN, the pools and dropout have no parameters.
    tv = variant == "torchvision"
    if dropout is None:
        dropout = 0.2 if tv else 0.4
    _check(num_classes, dropout)
    if pretrained and not (tv and num_classes == 1000):
        raise ValueError(f"pretrained=True needs variant='torchvision' and num_classes=1000, got "
                         f"variant={variant!r}, num_classes={num_classes}")
    model = GoogLeNet(num_classes, aux_logits=aux_logits or pretrained, batch_norm=tv, lrn=not tv,
                      kernel_5x5=3 if tv else 5, dropout=dropout, last_pool=2 if tv else 3)
    if pretrained:
        # torchvision's checkpoint holds the auxiliary heads and was trained on [-1, 1] inputs
        _torchvision.load_pretrained(model, "googlenet")
        model.transform_input = True
        if not aux_logits:
            model.aux1 = model.aux2 = None
    return model


def googlenet_cifar(
    width_div: int = 8,
    aux_logits: bool = True,
    batch_norm: bool = False,
    num_classes: int = 10,
    dropout: float = 0.4,
) -> GoogLeNet:
    """GoogLeNet's 22-layer topology for 32 px images: every width of Table 1 divided by ``width_div``.

    Not in the paper (Szegedy et al. 2015, Table 1 and Section 5 give the layout): a small network with
    the same depth, the same nine modules and the auxiliary heads on 4a and 4d, for experiments on a CPU.
    The stem's first convolution is 3x3/1 and its first max pool is dropped, so the modules run at 16, 8
    and 4 px (the paper's 28, 14 and 7). ``batch_norm=False`` keeps the paper's biased convolutions, LRN
    and PyTorch's default initialization; ``True`` adds BN after every convolution and drops LRN, as
    torchvision does. The heads pool 8x8 to 2x2 (the paper's 5x5/3 window) and narrow with the rest.
    """
    _check_width_div(width_div)
    _check(num_classes, dropout)
    return GoogLeNet(num_classes, aux_logits=aux_logits, batch_norm=batch_norm, lrn=not batch_norm,
                     dropout=dropout, width_div=width_div, small_input=True)


def googlenet_loss(outputs: torch.Tensor | GoogLeNetOutputs, target: torch.Tensor,
                   aux_weight: float = 0.3) -> torch.Tensor:
    """Cross-entropy of the main logits plus ``aux_weight`` times that of each auxiliary head.

    Szegedy et al. 2015, Section 5: "their loss gets added to the total loss of the network with a
    discount weight (the losses of the auxiliary classifiers were weighted by 0.3)". Plain logits (eval
    mode, or no heads) give plain cross-entropy.
    """
    if aux_weight < 0:
        raise ValueError(f"aux_weight must be >= 0, got {aux_weight!r}")
    if isinstance(outputs, torch.Tensor):
        return F.cross_entropy(outputs, target)
    logits, aux1, aux2 = outputs
    return F.cross_entropy(logits, target) + aux_weight * (F.cross_entropy(aux1, target)
                                                           + F.cross_entropy(aux2, target))


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> GoogLeNet:
    """Build ``googlenet(variant="torchvision")`` holding a torchvision GoogLeNet's weights (and aux heads).

    A torchvision model passed in also hands on its ``transform_input`` flag.
    """
    state = _state_dict(tv_model_or_state_dict)
    aux = any(k.startswith("aux1.") for k in state)
    num_classes = state["fc.bias"].shape[0]
    build = partial(googlenet, aux_logits=aux, variant="torchvision", num_classes=num_classes)
    model = _build_and_load(build, state)
    model.transform_input = bool(getattr(tv_model_or_state_dict, "transform_input", False))
    return model


googlenet_from_torchvision = from_torchvision


def table_1_row(name: str) -> str | None:
    """The row of Table 1 that a GoogLeNet parameter or module belongs to, by its name.

    ``"inception4a.branch3x3.1.0.weight"`` -> ``"4a"``, ``"conv2_reduce.0.weight"`` -> ``"conv2"``, ``"fc.bias"``
    -> ``"linear"``; the auxiliary heads (not in Table 1) and layers without weights give None.
    """
    top = _ROW_OF.get(name.split(".")[0], name.split(".")[0]).removeprefix("inception")
    return top if top in TABLE_1_ROWS else None


def aux_gradient_norms(model: GoogLeNet, images: torch.Tensor, target: torch.Tensor,
                       aux_weight: float = 0.3) -> dict[str, dict[str, float]]:
    """Norm of the loss gradient on each Table 1 row's weights, without and with the auxiliary losses.

    Szegedy et al. 2015, Section 5: the heads were added to "increase the gradient signal that gets
    propagated back". One forward pass in training mode (the heads run, dropout draws one mask), then
    two gradients of the same graph: of the main cross-entropy alone (``"without aux"``) and of the
    training loss of :func:`googlenet_loss`, main + ``aux_weight`` (aux1 + aux2) (``"with aux"``). Only
    weights count (no biases, as Table 1), the heads' own excluded. The model's ``.grad`` stays untouched.
    """
    if model.aux1 is None or model.aux2 is None:
        raise ValueError("model must have auxiliary heads: build it with aux_logits=True")
    if aux_weight < 0:
        raise ValueError(f"aux_weight must be >= 0, got {aux_weight!r}")
    named = [(table_1_row(n), p) for n, p in model.named_parameters() if p.dim() > 1 and p.requires_grad]
    named = [(row, p) for row, p in named if row is not None]
    params = [p for _, p in named]
    was_training = model.training
    out = model.train()(images)
    model.train(was_training)
    main = F.cross_entropy(out.logits, target)
    aux = F.cross_entropy(out.aux1, target) + F.cross_entropy(out.aux2, target)
    g_main = torch.autograd.grad(main, params, retain_graph=True)
    # the rows above 4d get nothing from the heads: allow_unused gives None there
    g_aux = torch.autograd.grad(aux, params, allow_unused=True)
    squares = {key: dict.fromkeys(TABLE_1_ROWS, 0.0) for key in ("without aux", "with aux")}
    for (row, _), gm, ga in zip(named, g_main, g_aux, strict=True):
        total = gm if ga is None else gm + aux_weight * ga
        squares["without aux"][row] += gm.pow(2).sum().item()
        squares["with aux"][row] += total.pow(2).sum().item()
    return {key: {row: v ** 0.5 for row, v in rows.items()} for key, rows in squares.items()}
