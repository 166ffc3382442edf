"""ZFNet: the network Zeiler and Fergus arrived at by looking at AlexNet through a deconvnet.

Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, arXiv:1311.2901,
Figure 3 and Section 4.1.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnnedu.models.alexnet import AlexNet, _check, fc_classifier, paper_lrn

__all__ = ["ZFNet", "zfnet"]

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
