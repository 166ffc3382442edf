"""ZFNet: the network Zeiler and Fergus arrived at by looking at AlexNet through a deconvnet.

Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, arXiv:1311.2901,
Figure 3 and Section 4.1.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnnedu.blocks import check_positive
from cnnedu.models.alexnet import AlexNet, _check, fc_classifier, paper_lrn

__all__ = ["ZFNet", "zfnet", "zfnet_mini", "MINI_VARIANTS"]

# Figure 3, one row per layer, 224 px input. Against AlexNet: conv1 is 7x7 stride 2 (not 11x11 stride 4,
# whose filters the deconvnet showed to be aliased and partly dead), conv2 has stride 2, conv3-5 are dense
# (one GPU). Feature maps as in the figure: 110 -> pool 55 -> 26 -> pool 13 -> 13 -> 13 -> 13 -> pool 6.
FIGURE_3 = [
    # c_out, k, s, p, contrast norm after pooling, max pool after it
    (96, 7, 2, 1, True, True),     # floor((224 + 2 - 7) / 2) + 1 = 110
    (256, 5, 2, 0, True, True),    # floor((55 - 5) / 2) + 1 = 26
    (384, 3, 1, 1, False, False),
    (384, 3, 1, 1, False, False),
    (256, 3, 1, 1, False, True),
]


class ZFNet(AlexNet):
    """AlexNet's layout (``features``, 6x6 average pool, ``classifier``) with the Figure 3 layers."""


def zfnet(num_classes: int = 1000, dropout: float = 0.5) -> ZFNet:
    """ZFNet for 224 px inputs, 62,357,608 parameters (the paper gives no total).

    Zeiler and Fergus 2014, Figure 3: conv1 96 7x7/2, ReLU, 3x3/2 max pool, contrast normalization across
    feature maps; conv2 256 5x5/2 likewise; conv3-5 384, 384, 256 3x3, dense; fc6, fc7 4096 with dropout 0.5.
    """
    _check(num_classes, dropout)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = 3
    for i, (c_out, k, s, p, norm, pool) in enumerate(FIGURE_3, start=1):
        layers[f"conv{i}"] = nn.Conv2d(in_channels, c_out, k, stride=s, padding=p)
        layers[f"relu{i}"] = nn.ReLU()
        if pool:
            # Figure 3's 55 and 13 (from 110 and 26) need one more window than floor((n - 3) / 2) + 1
            # gives; padding 1 adds it (max pooling pads with -inf, so the pad never wins)
            layers[f"pool{i}"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1 if i < 5 else 0)
        if norm:
            # the caption orders it: "pooled ... and contrast normalized across feature maps"; we use
            # AlexNet's cross-channel LRN with its constants, since the paper gives none
            layers[f"lrn{i}"] = paper_lrn()
        in_channels = c_out
    return ZFNet(nn.Sequential(layers), fc_classifier(256 * 6 * 6, num_classes, dropout))


# The 32-pixel networks of notebook 02, to look inside a trained network on a CPU: Figure 3's pattern of
# strides at 224 / 32 = 7 times smaller images, so that both designs reach 2x2 maps at conv3 as the ImageNet
# networks reach 13x13. Only conv / ReLU / max pool in `features`: the deconvnet walks them.
MINI_VARIANTS = {
    # conv1 kernel, conv1 stride, conv2 stride; maps at 32 px: conv1, pool1, conv2, pool2
    "zfnet": (7, 2, 2),     # Figure 3: 7x7/2 and 5x5/2; 16, 8, 4, 2
    "alexnet": (11, 4, 1),  # Krizhevsky et al. 2012: 11x11/4 and 5x5/1; 8, 4, 4, 2
}


def zfnet_mini(variant: str = "zfnet", widths: tuple[int, ...] = (32, 64, 64, 64, 64), hidden: int = 128,
               num_classes: int = 10, image_size: int = 32) -> nn.Sequential:
    """A small ZFNet (or, with ``variant="alexnet"``, AlexNet) for 32 px images, without normalization layers.

    Zeiler and Fergus 2014, Figure 3 in small: conv1 (``MINI_VARIANTS``), ReLU, 3x3/2 max pool; conv2 5x5,
    ReLU, 3x3/2 max pool; conv3-5 3x3; then ``hidden`` units and the classifier. ``features`` holds only
    convolutions, ReLUs and max pools, so ``cnnedu.deconvnet`` can project any unit. Initialization: He et
    al. 2015 (normal, for ReLUs) everywhere except conv1, whose weights are drawn from N(0, 0.01) as in
    AlexNet (Section 5): small filters, so that what training puts into them is not hidden under the noise.
    """
    if variant not in MINI_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(MINI_VARIANTS)}; got {variant!r}")
    if not isinstance(widths, tuple) or len(widths) != 5:
        raise ValueError(f"widths must be a tuple of five channel counts (conv1-conv5), got {widths!r}")
    for i, w in enumerate(widths, start=1):
        check_positive(f"widths[conv{i}]", w, integer=True)
    for name, value in (("hidden", hidden), ("num_classes", num_classes), ("image_size", image_size)):
        check_positive(name, value, integer=True)
    k1, s1, s2 = MINI_VARIANTS[variant]
    side = (image_size + 2 * (k1 // 2) - k1) // s1 + 1          # conv1, padding k // 2
    side = (side - 1) // 2 + 1                                    # pool1, 3x3/2 padding 1
    side = (side - 1) // s2 + 1                                   # conv2, 5x5 padding 2
    side = (side - 1) // 2 + 1                                    # pool2; conv3-5 keep the size
    c1, c2, c3, c4, c5 = widths
    features = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, c1, k1, s1, padding=k1 // 2)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(3, stride=2, padding=1)),
        ("conv2", nn.Conv2d(c1, c2, 5, s2, padding=2)), ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(3, stride=2, padding=1)),
        ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(c3, c4, 3, padding=1)), ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(c4, c5, 3, padding=1)), ("relu5", nn.ReLU()),
    ]))
    model = nn.Sequential(OrderedDict([
        ("features", features), ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(c5 * side * side, hidden)), ("relu6", nn.ReLU()), ("fc7", nn.Linear(hidden, num_classes)),
    ]))
    if not features.conv1.weight.is_meta:
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(features.conv1.weight, std=0.01)
    return model
