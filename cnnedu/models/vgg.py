"""VGG: depth from stacks of 3x3 convolutions, configurations A to E.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015,
arXiv:1409.1556, Table 1 (configurations) and Table 2 (parameters).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import partial

import torch
from torch import nn

from cnnedu.models import _torchvision
from cnnedu.models.alexnet import AlexNet, _build_and_load, _check, _state_dict, paper_lrn

__all__ = ["VGG", "VGG_CONFIGS", "PRE_INIT_LAYERS", "pre_initialise", "vgg", "vgg11", "vgg13", "vgg16", "vgg19",
           "vgg_from_torchvision"]

# Table 1 of the paper, one column per configuration, one tuple per stage; every stage ends in a 2x2 max
# pool ("maxpool" rows of the table) and the network in FC-4096, FC-4096, FC-1000, soft-max.
# "conv<receptive field>-<channels>"; C's conv1-256 / conv1-512 are the 1x1 layers that add non-linearity
# without widening the receptive field; A-LRN adds AlexNet's LRN, which the paper found useless (Table 3).
VGG_CONFIGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "A": (
        ("conv3-64",),
        ("conv3-128",),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "A-LRN": (
        ("conv3-64", "LRN"),
        ("conv3-128",),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "B": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512"),
    ),
    "C": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv1-256"),
        ("conv3-512", "conv3-512", "conv1-512"),
        ("conv3-512", "conv3-512", "conv1-512"),
    ),
    "D": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512", "conv3-512"),
    ),
    "E": (
        ("conv3-64", "conv3-64"),
        ("conv3-128", "conv3-128"),
        ("conv3-256", "conv3-256", "conv3-256", "conv3-256"),
        ("conv3-512", "conv3-512", "conv3-512", "conv3-512"),
        ("conv3-512", "conv3-512", "conv3-512", "conv3-512"),
    ),
}

# the configurations torchvision ships weights for, by its names
_TORCHVISION_NAMES = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}


Config = tuple[tuple[str, ...], ...]
_ENTRY = re.compile(r"conv(\d+)-(\d+)")


def _parse(entry: str) -> tuple[int, int]:
    """'conv3-256' -> (kernel 3, channels 256)."""
    match = _ENTRY.fullmatch(entry)
    if match is None:
        raise ValueError(f"config entries must be 'conv<kernel>-<channels>' (e.g. 'conv3-64') or 'LRN', "
                         f"got {entry!r}")
    return int(match[1]), int(match[2])


def _table(config: str | Config) -> Config:
    """A configuration by name, or a column of one's own written like Table 1's: one tuple per stage."""
    if isinstance(config, str):
        if config not in VGG_CONFIGS:
            raise ValueError(f"config must be one of {', '.join(map(repr, VGG_CONFIGS))} or a tuple of stages, "
                             f"got {config!r}")
        return VGG_CONFIGS[config]
    convs = [_parse(e) for stage in config for e in stage if e != "LRN"]
    if len(config) != 5 or not convs or convs[-1][1] != 512:
        raise ValueError("config as a tuple needs 5 stages (each ends in a 2x2 max pool) whose last convolution "
                         f"has 512 channels, as fc6 expects 7x7x512; got {config!r}")
    return config


class VGG(AlexNet):
    """``features`` (conv stages) -> 7x7 average pool -> flatten -> ``classifier`` (fc6, fc7, fc8).

    The adaptive pool is the identity at 224 px (pool5 is 7x7) and lets small inputs (CIFAR's 32 px)
    reach the fixed-size fc6, as in torchvision.
    """

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential) -> None:
        super().__init__(features, classifier, pool_size=7)


def _features(config: Config, batch_norm: bool) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = 3
    for s, stage in enumerate(config, start=1):
        i = 0
        for entry in stage:
            if entry == "LRN":
                layers[f"lrn{s}"] = paper_lrn()
                continue
            i += 1
            kernel, channels = _parse(entry)
            # "same" padding: the spatial size only changes in the pools (Section 2.1)
            layers[f"conv{s}_{i}"] = nn.Conv2d(in_channels, channels, kernel, padding=kernel // 2)
            if batch_norm:  # not in the paper (it predates BN); torchvision's *_bn keep the conv bias
                layers[f"bn{s}_{i}"] = nn.BatchNorm2d(channels)
            layers[f"relu{s}_{i}"] = nn.ReLU()
            in_channels = channels
        layers[f"pool{s}"] = nn.MaxPool2d(kernel_size=2, stride=2)
    return nn.Sequential(layers)


def _classifier(num_classes: int, dropout: float) -> nn.Sequential:
    # Section 2.1 and 3.1: FC-4096, FC-4096 (dropout 0.5 after each), FC-1000
    return nn.Sequential(OrderedDict([
        ("fc6", nn.Linear(512 * 7 * 7, 4096)), ("relu6", nn.ReLU()), ("drop6", nn.Dropout(dropout)),
        ("fc7", nn.Linear(4096, 4096)), ("relu7", nn.ReLU()), ("drop7", nn.Dropout(dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


def vgg(
    config: str | Config = "D",
    batch_norm: bool = False,
    num_classes: int = 1000,
    dropout: float = 0.5,
    pretrained: bool = False,
) -> VGG:
    """VGG configuration ``config`` ("A", "A-LRN", "B", "C", "D", "E"), optionally with batch norm.

    Simonyan and Zisserman 2015, Table 1. Parameters A / B / C / D / E: 132,863,336 / 133,047,848 /
    133,638,952 / 138,357,544 / 143,667,240 (Table 2: 133, 133, 134, 138, 144 M). ``pretrained=True``
    downloads torchvision's weights (configurations A, B, D, E). ``config`` may also be a column of one's
    own in ``VGG_CONFIGS``' form, e.g. B with each pair of 3x3 convolutions replaced by one 5x5 (Section 4.1).
    """
    table = _table(config)
    _check(num_classes, dropout)
    model = VGG(_features(table, batch_norm), _classifier(num_classes, dropout))
    if pretrained:
        if config not in _TORCHVISION_NAMES or num_classes != 1000:
            accepted = ", ".join(map(repr, _TORCHVISION_NAMES))
            raise ValueError(f"pretrained=True needs config in {accepted} and num_classes=1000, "
                             f"got config={config!r}, num_classes={num_classes}")
        _torchvision.load_pretrained(model, _TORCHVISION_NAMES[config] + ("_bn" if batch_norm else ""))
    return model


def vgg11(**kwargs) -> VGG:
    """VGG-11, configuration A (Table 1)."""
    return vgg("A", **kwargs)


def vgg13(**kwargs) -> VGG:
    """VGG-13, configuration B (Table 1)."""
    return vgg("B", **kwargs)


def vgg16(**kwargs) -> VGG:
    """VGG-16, configuration D (Table 1)."""
    return vgg("D", **kwargs)


def vgg19(**kwargs) -> VGG:
    """VGG-19, configuration E (Table 1)."""
    return vgg("E", **kwargs)


def from_torchvision(tv_model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> VGG:
    """Build the cnnedu VGG matching a torchvision VGG (vgg11..vgg19, with or without BN) with its weights.

    The configuration is recognised from the shapes of the convolution weights.
    """
    state = _state_dict(tv_model_or_state_dict)
    batch_norm = any(k.endswith("running_mean") for k in state)
    convs = [tuple(v.shape) for v in state.values() if v.dim() == 4]
    for name, config in VGG_CONFIGS.items():
        ours = []
        in_channels = 3
        for kernel, channels in (_parse(e) for stage in config for e in stage if e != "LRN"):
            ours.append((channels, in_channels, kernel, kernel))
            in_channels = channels
        if ours == convs:
            num_classes = list(state.values())[-1].shape[0]
            return _build_and_load(partial(vgg, name, batch_norm=batch_norm, num_classes=num_classes), state)
    raise ValueError(f"the state dict's convolutions match none of the VGG configs {list(VGG_CONFIGS)}")


vgg_from_torchvision = from_torchvision


# Section 3.1: "we initialised the first four convolutional layers and the last three fully-connected layers with
# the layers of net A (the intermediate layers were initialised randomly)". A's first four conv layers are
# conv1_1, conv2_1, conv3_1 and conv3_2, and B to E have layers of those names and shapes; by position D's fourth
# conv layer would be conv2_2, whose input is 128 channels wide where A's conv3_2 takes 256, so the copy goes by name.
PRE_INIT_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv3_2", "fc6", "fc7", "fc8")


def _layers_by_name(model: nn.Module, role: str, names: Sequence[str]) -> dict[str, tuple[str, nn.Module]]:
    """``names`` -> (qualified name, module), matching the last part of each module's name (``features.conv1_1``)."""
    found: dict[str, list[tuple[str, nn.Module]]] = {n: [] for n in names}
    for qualified, module in model.named_modules():
        key = qualified.rsplit(".", 1)[-1]
        if key in found:
            found[key].append((qualified, module))
    for name, hits in found.items():
        if len(hits) != 1:
            where = "no layer" if not hits else f"{len(hits)} layers ({', '.join(q for q, _ in hits)})"
            raise ValueError(f"{role} must have exactly one layer named {name!r}, found {where}")
        if not isinstance(getattr(hits[0][1], "weight", None), torch.Tensor):
            raise ValueError(f"{role}'s layer {hits[0][0]!r} has no weight to copy")
    return {name: hits[0] for name, hits in found.items()}


def pre_initialise(deep: nn.Module, shallow: nn.Module, names: Sequence[str] = PRE_INIT_LAYERS) -> list[str]:
    """Copy the weights and biases of ``shallow``'s layers ``names`` into the same-named layers of ``deep``.

    Simonyan and Zisserman 2015, Section 3.1: the deeper nets started from a trained configuration A in the
    first four conv layers and the three FC layers (``PRE_INIT_LAYERS``), the layers in between random; the
    copied layers keep training at the full learning rate. Layers match by the last part of their module
    name (``features.conv3_2``), so any model named like :func:`vgg`'s works, scaled-down ones too. Returns
    the qualified names of ``deep``'s overwritten layers, in ``deep``'s order; all other layers are left as
    they were. Raises ``ValueError`` when a name is missing or repeated in either model, or shapes differ.
    """
    if isinstance(names, str):
        raise ValueError(f"names must be a sequence of layer names such as PRE_INIT_LAYERS, got the string {names!r}")
    target, source = _layers_by_name(deep, "deep", names), _layers_by_name(shallow, "shallow", names)
    for name in names:
        (q_to, to), (q_from, src) = target[name], source[name]
        for part in ("weight", "bias"):
            a, b = getattr(to, part, None), getattr(src, part, None)
            if (a is None) != (b is None) or (a is not None and a.shape != b.shape):
                shapes = [None if t is None else tuple(t.shape) for t in (a, b)]
                raise ValueError(f"layer {name!r}: {part} of deep ({q_to}) is {shapes[0]}, of shallow ({q_from}) "
                                 f"{shapes[1]}; pre-initialisation needs equal shapes")
    with torch.no_grad():
        for name in names:
            to, src = target[name][1], source[name][1]
            to.weight.copy_(src.weight)
            if to.bias is not None:
                to.bias.copy_(src.bias)
    copied = {target[name][0] for name in names}
    return [q for q, _ in deep.named_modules() if q in copied]
