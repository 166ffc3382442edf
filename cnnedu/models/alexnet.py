"""AlexNet: the paper's two-tower network and torchvision's single-tower re-design.

Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
NeurIPS 2012, Section 3 and Figure 2.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

import torch
from torch import nn

from cnnedu.blocks import check_positive
from cnnedu.models import _torchvision

__all__ = ["AlexNet", "alexnet", "alexnet_from_torchvision", "fig1_cnn", "FIG1_ACTIVATIONS"]

VARIANTS = ("paper", "torchvision")

# Figure 2 of the paper, one row per convolution:
#   out channels, kernel, stride, padding, groups (the two GPUs), LRN after it, max pool after it
# The two towers only talk to each other in conv3 and the FC layers, which is groups=2 in conv2, conv4, conv5.
# The paper states a 224x224 input, but (224 - 11) / 4 + 1 = 54.25 is not an integer: the 55x55 maps of
# Figure 2 come from 227 px without padding, or (as here and in torchvision) from 224 px with padding 2,
# floor((224 + 2*2 - 11) / 4) + 1 = 55. Feature maps: 55 -> pool 27 -> 27 -> pool 13 -> 13 -> 13 -> pool 6.
PAPER_CONVS = [
    # c_out, k, s, p, groups, lrn, pool
    (96, 11, 4, 2, 1, True, True),
    (256, 5, 1, 2, 2, True, True),
    (384, 3, 1, 1, 1, False, False),
    (384, 3, 1, 1, 2, False, False),
    (256, 3, 1, 1, 2, False, True),
]

# torchvision's AlexNet follows Krizhevsky's later one-GPU version ("One weird trick", arXiv:1404.5997):
# 64-192-384-256-256 filters, no groups and no LRN, so it has 61.1 M parameters instead of 61.0 M.
TORCHVISION_CONVS = [
    (64, 11, 4, 2, 1, False, True),
    (192, 5, 1, 2, 1, False, True),
    (384, 3, 1, 1, 1, False, False),
    (256, 3, 1, 1, 1, False, False),
    (256, 3, 1, 1, 1, False, True),
]


def paper_lrn(size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> nn.LocalResponseNorm:
    """Local response normalization b = a / (k + alpha * sum_{n neighbours} a^2)^beta, AlexNet Section 3.3.

    Krizhevsky et al. 2012, Section 3.3 (k=2, n=5, alpha=1e-4, beta=0.75). PyTorch (like Caffe) divides
    alpha by the window size n, so the paper's alpha is passed as alpha * n to give the paper's equation.
    """
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)


def conv_features(table: list[tuple], in_channels: int = 3, lrn: bool = True) -> nn.Sequential:
    """Build an AlexNet-style ``features`` Sequential (conv, ReLU, [LRN], [max pool]) from a row table.

    Only Conv2d, ReLU, LocalResponseNorm and MaxPool2d appear, so a deconvnet can walk it layer by layer.
    Overlapping pooling (3x3, stride 2) as in Section 3.4.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (c_out, k, s, p, groups, has_lrn, pool) in enumerate(table, start=1):
        layers[f"conv{i}"] = nn.Conv2d(in_channels, c_out, k, stride=s, padding=p, groups=groups)
        # not in place: forward hooks on conv outputs (feature-map plots, deconvnet) keep the raw values
        layers[f"relu{i}"] = nn.ReLU()
        if has_lrn and lrn:
            layers[f"lrn{i}"] = paper_lrn()
        if pool:
            layers[f"pool{i}"] = nn.MaxPool2d(kernel_size=3, stride=2)
        in_channels = c_out
    return nn.Sequential(layers)


def fc_classifier(in_features: int, num_classes: int, dropout: float,
                  dropout_first: bool = False) -> nn.Sequential:
    """fc6 (4096), fc7 (4096), fc8 (classes) with ReLU and dropout, AlexNet Section 4.2.

    The paper drops the outputs of the hidden neurons of fc6 and fc7; torchvision (``dropout_first``) drops
    the inputs of fc6 and fc7 instead. Both are identical in eval mode.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width = in_features
    for i in (6, 7):
        if dropout_first:
            layers[f"drop{i}"] = nn.Dropout(dropout)
        layers[f"fc{i}"] = nn.Linear(width, 4096)
        layers[f"relu{i}"] = nn.ReLU()
        if not dropout_first:
            layers[f"drop{i}"] = nn.Dropout(dropout)
        width = 4096
    layers["fc8"] = nn.Linear(width, num_classes)
    return nn.Sequential(layers)


class AlexNet(nn.Module):
    """``features`` (convolutions) -> 6x6 average pool -> flatten -> ``classifier`` (fully connected).

    The adaptive pool is the identity at 224 px (pool5 is already 6x6); it lets smaller or larger inputs
    reach the fixed-size fc6, as in torchvision.
    """

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, pool_size: int = 6) -> None:
        super().__init__()
        check_positive("pool_size", pool_size, integer=True)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _check(num_classes: int, dropout: float, variant: str | None = None) -> None:
    check_positive("num_classes", num_classes, integer=True)
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}, got {variant!r}")


def alexnet(
    two_towers: bool = True,
    num_classes: int = 1000,
    variant: str = "paper",
    pretrained: bool = False,
    dropout: float = 0.5,
) -> AlexNet:
    """AlexNet for 224 px inputs: 60,965,224 parameters as in the paper, 61,100,840 as in torchvision.

    Krizhevsky et al. 2012, Figure 2. ``variant="paper"``: 96-256-384-384-256 filters, LRN after conv1 and
    conv2, overlapping max pooling, dropout in fc6 and fc7; ``two_towers`` splits conv2, conv4 and conv5
    into two groups as the two GPUs did (``False``: every layer dense). ``variant="torchvision"``: the
    single-tower 64-192-384-256-256 without LRN (``two_towers`` is ignored), whose weights torchvision
    ships; ``pretrained=True`` downloads them.
    """
    _check(num_classes, dropout, variant)
    if variant == "torchvision":
        model = AlexNet(conv_features(TORCHVISION_CONVS),
                        fc_classifier(256 * 6 * 6, num_classes, dropout, dropout_first=True))
        if pretrained:
            if num_classes != 1000:
                raise ValueError(f"pretrained=True needs num_classes=1000, got {num_classes}")
            _torchvision.load_pretrained(model, "alexnet")
        return model
    if pretrained:
        raise ValueError("pretrained=True needs variant='torchvision': the paper's network has no weights")
    table = PAPER_CONVS if two_towers else [(c, k, s, p, 1, n, m) for c, k, s, p, _, n, m in PAPER_CONVS]
    return AlexNet(conv_features(table), fc_classifier(256 * 6 * 6, num_classes, dropout))


# Section 3.1 names tanh and the logistic sigmoid as the saturating units that ReLUs replace; Figure 1 measures tanh.
FIG1_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def fig1_cnn(
    activation: str = "relu",
    width: int = 8,
    image_size: int = 16,
    num_classes: int = 10,
    init_std: float | None = 0.01,
) -> nn.Sequential:
    """The four-layer CNN of AlexNet's Figure 1 (ReLU against tanh on CIFAR-10), in small.

    Krizhevsky et al. 2012, Section 3.1 and Figure 1. The paper does not give the network's sizes, so this
    follows Figure 2's pattern: conv 5x5, conv 5x5, conv 3x3 with ``width``, 2·width, 2·width filters, each
    followed by the activation and overlapping 3x3 / stride 2 max pooling (Section 3.4), then one fully
    connected layer. No normalization and no dropout ("no regularization of any kind", Figure 1's caption).
    ``init_std``: weights drawn from N(0, init_std²) and zero biases, as in Section 5 (standard deviation
    0.01); ``None`` keeps PyTorch's default initialization.
    """
    if activation not in FIG1_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, FIG1_ACTIVATIONS))}, got {activation!r}")
    check_positive("width", width, integer=True)
    check_positive("image_size", image_size, integer=True)
    check_positive("num_classes", num_classes, integer=True)
    if init_std is not None:
        check_positive("init_std", init_std)
    side = image_size
    for _ in range(3):  # 5x5 and 3x3 convolutions keep the size (padding); each 3/2 pool takes it to (s - 3) // 2 + 1
        side = (side - 3) // 2 + 1
    if side < 1:
        raise ValueError(f"image_size must be at least 15 for three 3x3 / stride 2 poolings, got {image_size}")
    act = FIG1_ACTIVATIONS[activation]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = 3
    # c_out, kernel: the conv part of Figure 2, three layers deep and narrow
    for i, (c_out, k) in enumerate([(width, 5), (2 * width, 5), (2 * width, 3)], start=1):
        layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, k, padding=k // 2)
        layers[f"act{i}"] = act()
        layers[f"pool{i}"] = nn.MaxPool2d(kernel_size=3, stride=2)
        c_in = c_out
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(c_in * side * side, num_classes)
    model = nn.Sequential(layers)
    if init_std is not None:
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, init_std)
                nn.init.zeros_(m.bias)
    return model


def _state_dict(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    if isinstance(tv_model_or_state_dict, nn.Module):
        return tv_model_or_state_dict.state_dict()
    return tv_model_or_state_dict


def _build_and_load(build: Callable[[], nn.Module], state: Mapping[str, torch.Tensor]) -> nn.Module:
    """``build()`` on the meta device, storage allocated where ``state`` lives, then ``state`` copied in.

    Skips the random initialisation that the copy overwrites anyway (seconds for VGG's 100 M FC weights).
    """
    with torch.device("meta"):
        model = build()
    model = model.to_empty(device=next(iter(state.values())).device)
    for name, buffer in model.named_buffers():
        if name.endswith("num_batches_tracked"):  # the only tensors the copy leaves alone
            buffer.zero_()
    return _torchvision.load_state_dict_by_order(model, state)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> AlexNet:
    """Build ``alexnet(variant="torchvision")`` holding a torchvision AlexNet's (state dict's) weights."""
    state = _state_dict(tv_model_or_state_dict)
    num_classes = list(state.values())[-1].shape[0]  # fc8's bias
    return _build_and_load(lambda: alexnet(variant="torchvision", num_classes=num_classes), state)


alexnet_from_torchvision = from_torchvision
