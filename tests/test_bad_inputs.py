"""Every public function of cnnedu rejects a bad size, count, ratio, name or choice with a ValueError naming it.

The project rule (issue 16): a bad argument (a reduction ratio larger than the channels, a negative width
multiplier, an unknown config name) raises a ValueError whose message names the parameter and what it
accepts. ``ROWS`` lists one or more bad calls per public callable; the meta-test
``test_every_public_callable_that_takes_a_scalar_has_a_row`` walks cnnedu's modules and fails when a
callable that takes an int, float or str has no row and is not exempt, so a new function gets its row
when it is written.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import cnnedu
from cnnedu import analysis as A
from cnnedu import blocks as B
from cnnedu import data as D
from cnnedu import deconvnet as DC
from cnnedu import env as E
from cnnedu import resolution as RES
from cnnedu import train as T
from cnnedu import viz as V
from cnnedu import widgets as W
from cnnedu.viz import activations as VA

# cnnedu.models re-exports each factory under its module's name (cnnedu.models.alexnet is the function),
# so the modules come from importlib
TV = importlib.import_module("cnnedu.models._torchvision")
ALEX = importlib.import_module("cnnedu.models.alexnet")
BASE = importlib.import_module("cnnedu.models.baseline")
DN = importlib.import_module("cnnedu.models.densenet")
EFF = importlib.import_module("cnnedu.models.efficientnet")
GOOG = importlib.import_module("cnnedu.models.googlenet")
MV1 = importlib.import_module("cnnedu.models.mobilenet_v1")
MV2 = importlib.import_module("cnnedu.models.mobilenet_v2")
MV3 = importlib.import_module("cnnedu.models.mobilenet_v3")
RN = importlib.import_module("cnnedu.models.resnet")
RX = importlib.import_module("cnnedu.models.resnext")
SE = importlib.import_module("cnnedu.models.senet")
VGG = importlib.import_module("cnnedu.models.vgg")
WRN = importlib.import_module("cnnedu.models.wide_resnet")
XC = importlib.import_module("cnnedu.models.xception")
ZF = importlib.import_module("cnnedu.models.zfnet")

# ---------------------------------------------------------------------------------------------------------
# Small inputs shared by the rows (built once, on the CPU: a few kilobytes).

RGB = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))      # an RGB model, Deconvnet-friendly
IMAGE = torch.zeros(1, 3, 16, 16)
IMAGES = torch.rand(2, 3, 16, 16)
LABELS = torch.zeros(2, dtype=torch.long)
MASK = torch.zeros(2, 16, 16, dtype=torch.bool)
CORNERS = torch.zeros(2, 2, dtype=torch.long)
SHAPES = torch.utils.data.TensorDataset(IMAGES, LABELS)
WEIGHT = torch.zeros(4, 3, 3, 3)
HISTORY = T.History(train_loss=[1.0], test_acc=[0.5])
DATA = (D.tensor_loader(SHAPES, batch_size=2), None)


def _fig() -> Figure:
    return Figure()


def bad(fn: Callable, *args: Any, match: str, **kwargs: Any) -> Any:
    """One row: ``fn(*args, **kwargs)`` must raise a ValueError whose message matches ``match``."""
    what = ",".join(kwargs) or (f"arg{len(args)}" if args else "")
    return pytest.param(fn, args, kwargs, match, id=f"{fn.__module__.split('.')[-1]}.{fn.__name__}-{what}")


ROWS = [
    # analysis: the example first, an RGB model counted with one channel
    bad(A.count_macs, RGB, (1, 224, 224), match=r"input_size.*expects 3"),
    bad(A.count_macs, RGB, (3, 0, 32), match="input_size"),
    bad(A.count_macs, RGB, (3, 32), match="input_size"),
    bad(A.mac_breakdown, RGB, (3, -1, 8), match="input_size"),
    bad(A.summary, RGB, (1, 8, 8), match="input_size"),
    bad(A.summary, RGB, (3, 8, 8), depth=-1, match="depth"),
    bad(A.conv_output_size, 0, 3, match="size"),
    bad(A.conv_output_size, 8, 0, match="kernel"),
    bad(A.conv_output_size, 8, 3, stride=0, match="stride"),
    bad(A.conv_output_size, 8, 3, padding=-1, match="padding"),
    bad(A.conv_output_size, 8, 3, dilation=0, match="dilation"),
    bad(A.conv_params, -1, 8, 3, match="c_in"),
    bad(A.conv_params, 8, 0, 3, match="c_out"),
    bad(A.conv_params, 8, 8, 0, match="kernel"),
    bad(A.conv_params, 8, 8, 3, groups=3, match="groups"),
    bad(A.conv_macs, 8, 8, 3, 0, match="out_size"),
    bad(A.conv_macs, 8, 8, 3, 4, groups=0, match="groups"),
    bad(A.receptive_field, RGB, (3, 0, 8), match="input_size"),
    bad(A.receptive_fields, RGB, (2, 8, 8), match="input_size"),
    bad(A.effective_receptive_field, RGB, (3, 16, 16), n_samples=0, match="n_samples"),
    bad(A.effective_receptive_field, RGB, (3, 16, 16), layer="conv9", match="layer"),
    # blocks
    bad(B.ConvBNAct, 0, 8, match="in_channels"),
    bad(B.ConvBNAct, 3, 0, match="out_channels"),
    bad(B.ConvBNAct, 3, 8, kernel_size=0, match="kernel_size"),
    bad(B.ConvBNAct, 3, 8, stride=0, match="stride"),
    bad(B.ConvBNAct, 3, 8, groups=2, match="groups"),
    bad(B.ConvBNAct, 3, 8, dilation=0, match="dilation"),
    bad(B.SqueezeExcite, 0, match="channels"),
    bad(B.SqueezeExcite, 8, reduction=16, match="reduction"),
    bad(B.SqueezeExcite, 8, reduction=-1, match="reduction"),
    bad(B.SqueezeExcite, 8, squeeze_channels=0, match="squeeze_channels"),
    bad(B.DepthwiseSeparable, 0, 8, match="in_channels"),
    bad(B.DepthwiseSeparable, 8, 0, match="out_channels"),
    bad(B.DepthwiseSeparable, 8, 8, stride=0, match="stride"),
    bad(B.DepthwiseSeparable, 8, 8, kernel_size=0, match="kernel_size"),
    bad(B.InvertedResidual, 0, 8, match="in_channels"),
    bad(B.InvertedResidual, 8, 8, stride=3, match="stride"),
    bad(B.InvertedResidual, 8, 8, expand_ratio=-1, match="expand_ratio"),
    bad(B.InvertedResidual, 8, 8, kernel_size=0, match="kernel_size"),
    bad(B.InvertedResidual, 8, 8, drop_path=1.5, match="drop_path"),
    bad(B.InvertedResidual, 8, 8, se_channels=0, match="se_channels"),
    bad(B.InvertedResidual, 8, 8, expanded_channels=0, match="expanded_channels"),
    # (B.StochasticDepth is torchvision's class, re-exported: it checks its mode only in forward)
    bad(B.make_divisible, -8, match="value"),
    bad(B.make_divisible, 32, divisor=0, match="divisor"),
    bad(B.make_divisible, 32, min_value=-1, match="min_value"),
    bad(B.check_positive, "width_mult", -1.0, match="width_mult"),
    bad(B.check_positive, "channels", 2.5, integer=True, match="channels"),
    # data (the issue: every negative or zero size)
    bad(D.shapes_dataset, n=0, match=r"\bn\b"),
    bad(D.shapes_dataset, size=0, match="size"),
    bad(D.loaders, n_train=-1, match="n_train"),
    bad(D.loaders, n_test=0, match="n_test"),
    bad(D.loaders, batch_size=0, match="batch_size"),
    bad(D.loaders, size=-32, match="size"),
    bad(D.loaders, name="imagenet22k", match="name"),
    bad(D.bars_dots_dataset, n=0, match=r"\bn\b"),
    bad(D.bars_dots_dataset, size=4, match="size"),
    bad(D.bars_dots_dataset, few=8, many=8, match="few"),
    bad(D.bars_dots_dataset, length=30, match="length"),
    bad(D.bars_dots_dataset, noise=-0.1, match="noise"),
    bad(D.tensor_loader, SHAPES, batch_size=0, match="batch_size"),
    bad(D.photo, "no-such-photo", match="name"),
    bad(D.PCAColorAugment, std=-0.1, match="std"),
    bad(D.to_tensor_photo, "no-such-photo", match="name"),
    bad(D.imagenet_eval_transform, size=0, match="^size"),
    bad(D.imagenet_eval_transform, resize=-1, match="^resize"),
    bad(D.alexnet_train_transform, size=0, match="^size"),
    bad(D.alexnet_train_transform, size=300, match="^size must be at most resize"),
    bad(D.alexnet_train_transform, resize=0, match="^resize"),
    bad(D.alexnet_train_transform, pca_std=-1, match="^pca_std"),
    # deconvnet
    bad(DC.project, RGB, IMAGE, "conv9", 0, match="layer"),
    bad(DC.project, RGB, IMAGE, 0, 4, match="channel"),
    bad(DC.project, RGB, IMAGE, 0, 0, position=(99, 0), match="position"),
    bad(DC.top9, RGB, IMAGES, 0, 0, k=0, match=r"\bk\b"),
    bad(DC.top9, RGB, IMAGES, 0, 0, batch_size=0, match="batch_size"),
    bad(DC.top9, RGB, IMAGES, "conv9", 0, match="layer"),
    bad(DC.occlusion_map, RGB, IMAGE[0], 0, patch=0, match="patch"),
    bad(DC.occlusion_map, RGB, IMAGE[0], 0, stride=0, match="stride"),
    bad(DC.occlusion_map, RGB, IMAGE[0], 0, fill="grey", match="fill"),
    bad(DC.occlusion_map, RGB, IMAGE[0], 0, batch_size=0, match="batch_size"),
    bad(DC.object_mask, IMAGES, threshold=0, match="threshold"),
    bad(DC.object_mask, IMAGES, border=0, match="border"),
    bad(DC.object_mask, IMAGES, refits=-1, match="refits"),
    bad(DC.occlusion_squares, MASK, 0, match="patch"),
    bad(DC.occlusion_squares, MASK, 4, margin=-1, match="margin"),
    bad(DC.occlude, IMAGES, CORNERS, 0, match="patch"),
    bad(DC.class_probability, RGB, IMAGES, LABELS, batch_size=0, match="batch_size"),
    bad(DC.WeightSnapshots, RGB, [-1], match="steps"),
    bad(DC.distance_to_final, {0: {"w": torch.zeros(1)}, 1: {"w": torch.ones(1)}}, "bias", match="name"),
    bad(DC.settle_step, [0, 1], [1.0, 0.0], fraction=0, match="fraction"),
    # env
    bad(E.seed_everything, -1, match="(?i)seed"),                          # NumPy's "Seed must be ..."
    bad(E.setup, seed=2**32, verbose=False, match="(?i)seed"),
    bad(E.setup, verbose=False, threads=0, match="threads"),
    bad(E.course_threads, 0, match="cpus"),
    # models: alexnet
    bad(ALEX.AlexNet, nn.Sequential(), nn.Sequential(), pool_size=0, match="pool_size"),
    bad(ALEX.alexnet, num_classes=0, match="num_classes"),
    bad(ALEX.alexnet, variant="v2", match="variant"),
    bad(ALEX.alexnet, dropout=1.0, match="dropout"),
    bad(ALEX.fig1_cnn, activation="gelu", match="activation"),
    bad(ALEX.fig1_cnn, width=0, match="width"),
    bad(ALEX.fig1_cnn, image_size=8, match="image_size"),
    bad(ALEX.fig1_cnn, num_classes=0, match="num_classes"),
    bad(ALEX.fig1_cnn, init_std=-0.01, match="init_std"),
    # models: baseline
    bad(BASE.small_cnn, in_channels=0, match="in_channels"),
    bad(BASE.small_cnn, num_classes=0, match="num_classes"),
    bad(BASE.small_cnn, widths=(), match="widths"),
    bad(BASE.linear_classifier, in_channels=0, match="in_channels"),
    bad(BASE.linear_classifier, size=0, match="size"),
    bad(BASE.linear_classifier, num_classes=-1, match="num_classes"),
    # models: densenet
    bad(DN.DenseLayer, 0, 12, match="in_channels"),
    bad(DN.DenseLayer, 24, 0, match="growth_rate"),
    bad(DN.DenseLayer, 24, 12, dropout=1.0, match="dropout"),
    bad(DN.DenseBlock, 24, 0, 12, match="num_layers"),
    bad(DN.DenseBlock, 24, 2, -12, match="growth_rate"),
    bad(DN.Transition, 0, match="in_channels"),
    bad(DN.Transition, 24, compression=0, match="compression"),
    bad(DN.Transition, 24, compression=1.5, match="compression"),
    bad(DN.DenseNet, nn.Identity(), 0, [2], 12, match="stem_channels"),
    bad(DN.DenseNet, nn.Identity(), 24, [2], 0, match="growth_rate"),
    bad(DN.DenseNet, nn.Identity(), 24, [0], 12, match="block_config"),
    bad(DN.DenseNet, nn.Identity(), 24, [2], 12, num_classes=0, match="num_classes"),
    bad(DN.densenet, depth=120, match="depth"),
    bad(DN.densenet, num_classes=0, match="num_classes"),
    bad(DN.densenet, dropout=1.0, match="dropout"),
    bad(DN.densenet121, num_classes=0, match="num_classes"),
    bad(DN.densenet161, dropout=-0.1, match="dropout"),
    bad(DN.densenet169, num_classes=-1, match="num_classes"),
    bad(DN.densenet201, num_classes=0, match="num_classes"),
    bad(DN.densenet264, num_classes=0, match="num_classes"),
    bad(DN.densenet_cifar, depth=41, match="depth"),
    bad(DN.densenet_cifar, growth_rate=0, match="growth_rate"),
    bad(DN.densenet_cifar, compression=0, match="compression"),
    bad(DN.densenet_cifar, num_classes=0, match="num_classes"),
    bad(DN.densenet_cifar, dropout=1.0, match="dropout"),
    bad(DN.dense_channels, 0, 12, 4, match="k0"),
    bad(DN.dense_channels, 24, 0, 4, match=r"\bk\b"),
    bad(DN.dense_channels, 24, 12, 0, match="layers"),
    bad(DN.gradient_flow_net, kind="resnet", match="kind"),
    bad(DN.gradient_flow_net, num_layers=0, match="num_layers"),
    bad(DN.gradient_flow_net, growth_rate=0, match="growth_rate"),
    bad(DN.gradient_flow_net, in_channels=0, match="in_channels"),
    bad(DN.gradient_flow_net, num_classes=0, match="num_classes"),
    # models: efficientnet
    bad(EFF.resolution_for, -1, match="phi"),
    bad(EFF.resolution_for, 1, gamma=0, match="gamma"),
    bad(EFF.resolution_for, 1, base=0, match="base"),
    bad(EFF.efficientnet, phi=-1, match="phi"),
    bad(EFF.efficientnet, alpha=0, match="alpha"),
    bad(EFF.efficientnet, beta=-1, match="beta"),
    bad(EFF.efficientnet, gamma=0, match="gamma"),
    bad(EFF.efficientnet, num_classes=0, match="num_classes"),
    bad(EFF.efficientnet_cost, 0, 1.0, 224, match="width"),
    bad(EFF.efficientnet_cost, 1.0, 0, 224, match="depth"),
    bad(EFF.efficientnet_cost, 1.0, 1.0, 0, match="resolution"),
    *[bad(getattr(EFF, f"efficientnet_b{i}"), num_classes=0, match="num_classes") for i in range(8)],
    bad(EFF.TinyEfficientNet, width=0, match="width"),
    bad(EFF.TinyEfficientNet, repeats=(0,), match="repeats"),
    bad(EFF.TinyEfficientNet, resolution=0, match="resolution"),
    bad(EFF.TinyEfficientNet, num_classes=0, match="num_classes"),
    bad(EFF.tiny_efficientnet, width=0, match="width"),
    bad(EFF.tiny_efficientnet, depth=0, match="depth"),
    bad(EFF.tiny_efficientnet, resolution=0, match="resolution"),
    bad(EFF.tiny_efficientnet, num_classes=0, match="num_classes"),
    bad(EFF.fitted_phi, 0, 1.0, 224, match="width"),
    bad(EFF.fitted_phi, 1.0, 0, 224, match="depth"),
    bad(EFF.fitted_phi, 1.0, 1.0, 0, match="resolution"),
    bad(EFF.fitted_phi, 1.2, 1.1, 240, alpha=0, match="alpha"),
    bad(EFF.fitted_phi, 1.2, 1.1, 240, base=0, match="base"),
    bad(EFF.released_phi, alpha=0, match="alpha"),
    bad(EFF.released_phi, beta=-1, match="beta"),
    bad(EFF.released_phi, gamma=0, match="gamma"),
    bad(EFF.efficientnet_b0, dropout=1.0, match="dropout"),
    bad(EFF.efficientnet_b0, drop_path_rate=-0.1, match="drop_path_rate"),
    bad(EFF.EfficientNet, width=0, match="width"),
    bad(EFF.EfficientNet, depth=-1, match="depth"),
    bad(EFF.EfficientNet, resolution=0, match="resolution"),
    bad(EFF.EfficientNet, dropout=1.0, match="^dropout"),
    bad(EFF.EfficientNet, num_classes=0, match="num_classes"),
    bad(EFF.EfficientNet, drop_path_rate=1.0, match="drop_path_rate"),
    bad(EFF.round_filters, 0, 1.0, match="channels"),
    bad(EFF.round_filters, 32, -1, match="width"),
    bad(EFF.round_repeats, 0, 1.0, match="repeats"),
    bad(EFF.round_repeats, 2, 0, match="depth"),
    # models: googlenet
    bad(GOOG.GoogLeNet, num_classes=0, match="num_classes"),
    bad(GOOG.GoogLeNet, kernel_5x5=4, match="kernel_5x5"),
    bad(GOOG.GoogLeNet, dropout=1.0, match="dropout"),
    bad(GOOG.GoogLeNet, last_pool=0, match="last_pool"),
    bad(GOOG.GoogLeNet, width_div=3, match="width_div"),
    bad(GOOG.Inception, 0, 64, 96, 128, 16, 32, 32, match="in_channels"),
    bad(GOOG.Inception, 192, 0, 96, 128, 16, 32, 32, match="ch1x1"),
    bad(GOOG.Inception, 192, 64, 96, 128, 16, 32, 32, kernel_5x5=4, match="kernel_5x5"),
    bad(GOOG.InceptionAux, 0, 10, match="in_channels"),
    bad(GOOG.InceptionAux, 512, 0, match="num_classes"),
    bad(GOOG.InceptionAux, 512, 10, dropout=1.0, match="dropout"),
    bad(GOOG.InceptionAux, 512, 10, grid=0, match="grid"),
    bad(GOOG.googlenet, variant="v4", match="variant"),
    bad(GOOG.googlenet, num_classes=0, match="num_classes"),
    bad(GOOG.googlenet, dropout=1.0, match="dropout"),
    bad(GOOG.googlenet_cifar, width_div=3, match="width_div"),
    bad(GOOG.googlenet_cifar, num_classes=0, match="num_classes"),
    bad(GOOG.googlenet_loss, torch.zeros(2, 10), LABELS, aux_weight=-0.3, match="aux_weight"),
    bad(GOOG.aux_gradient_norms, GOOG.googlenet_cifar(), IMAGES, LABELS, aux_weight=-1, match="aux_weight"),
    # models: mobilenet_v1
    bad(MV1.mobilenet_v1, width_mult=-0.5, match="width_mult"),
    bad(MV1.mobilenet_v1, width_mult=float("inf"), match="width_mult"),
    bad(MV1.mobilenet_v1, num_classes=0, match="num_classes"),
    bad(MV1.mobilenet_v1, dropout=1.0, match="dropout"),
    bad(MV1.mobilenet_v1_mini, width_mult=0, match="width_mult"),
    bad(MV1.mobilenet_v1_mini, repeated=-1, match="repeated"),
    bad(MV1.mobilenet_v1_mini, num_classes=0, match="num_classes"),
    bad(MV1.MobileNetV1, MV1.MOBILENET_V1_STAGES, width_mult=0, match="width_mult"),
    bad(MV1.MobileNetV1, [], match="layers"),
    # models: mobilenet_v2
    bad(MV2.mobilenet_v2, width_mult=-1, match="width_mult"),
    bad(MV2.mobilenet_v2, num_classes=0, match="num_classes"),
    bad(MV2.mobilenet_v2, dropout=1.0, match="dropout"),
    bad(MV2.MobileNetV2, width_mult=0, match="width_mult"),
    bad(MV2.mobilenet_v2_from_torchvision, {}, width_mult=-1, match="width_mult"),
    bad(MV2.mobilenet_v2_narrow, stem_channels=0, match="stem_channels"),
    bad(MV2.mobilenet_v2_narrow, head_channels=0, match="head_channels"),
    bad(MV2.mobilenet_v2_narrow, num_classes=0, match="num_classes"),
    bad(MV2.mobilenet_v2_narrow, stages=[(6, 16, 1, 3)], match="stages"),
    # models: mobilenet_v3
    bad(MV3.mobilenet_v3, variant="medium", match="variant"),
    bad(MV3.mobilenet_v3, width_mult=0, match="width_mult"),
    bad(MV3.mobilenet_v3, num_classes=0, match="num_classes"),
    bad(MV3.mobilenet_v3, dropout=1.0, match="dropout"),
    bad(MV3.mobilenet_v3, expansion="double", match="expansion"),
    bad(MV3.MobileNetV3, MV3.MOBILENET_V3_STAGES["small"], (576, 1024), width_mult=-1, match="width_mult"),
    bad(MV3.MobileNetV3, MV3.MOBILENET_V3_STAGES["small"], (576, 1024), num_classes=0, match="num_classes"),
    bad(MV3.MobileNetV3, MV3.MOBILENET_V3_STAGES["small"], (576, 1024), dropout=1.0, match="dropout"),
    bad(MV3.MobileNetV3, MV3.MOBILENET_V3_STAGES["small"], (576, 1024), expansion="double", match="expansion"),
    bad(MV3.from_torchvision, {}, width_mult=-1, match="width_mult"),
    # models: resnet
    bad(RN.conv3x3, 0, 8, match="in_channels"),
    bad(RN.conv3x3, 8, 8, stride=0, match="stride"),
    bad(RN.conv1x1, 8, 0, match="out_channels"),
    bad(RN.ZeroPadShortcut, 16, 8, match="out_channels"),
    bad(RN.BasicBlock, 16, 16, shortcut="Z", match="shortcut"),
    bad(RN.BasicBlock, 16, 0, match="channels"),
    bad(RN.Bottleneck, 64, 16, groups=0, match="groups"),
    bad(RN.Bottleneck, 64, 16, base_width=0, match="base_width"),
    bad(RN.PreActBlock, 16, 16, dropout=1.0, match="dropout"),
    bad(RN.PreActBlock, 16, 16, shortcut="Z", match="shortcut"),
    bad(RN.ResNet, RN.BasicBlock, [2, 2, 2, 2], num_classes=0, match="num_classes"),
    bad(RN.ResNet, RN.BasicBlock, [2, 0, 2, 2], match="layers"),
    bad(RN.CifarResNet, RN.BasicBlock, 0, (16, 32, 64), match="blocks_per_stage"),
    bad(RN.CifarResNet, RN.BasicBlock, 3, (16, 32, 64), stem_width=0, match="stem_width"),
    bad(RN.resnet, depth=19, match="depth"),
    bad(RN.resnet, variant="v3", match="variant"),
    bad(RN.resnet, num_classes=0, match="num_classes"),
    *[bad(getattr(RN, f"resnet{d}"), num_classes=0, match="num_classes") for d in (18, 34, 50, 101, 152)],
    bad(RN.resnet_cifar, depth=21, match="depth"),
    bad(RN.resnet_cifar, shortcut="D", match="shortcut"),
    bad(RN.resnet_cifar, width=0, match="width"),
    bad(RN.resnet_cifar, num_classes=0, match="num_classes"),
    bad(RN.resnet_from_torchvision, {}, variant="v3", match="variant"),
    # models: resnext
    bad(RX.resnext, depth=34, match="depth"),
    bad(RX.resnext, cardinality=0, match="cardinality"),
    bad(RX.resnext, width=0, match="width"),
    bad(RX.resnext, num_classes=0, match="num_classes"),
    bad(RX.resnext50_32x4d, num_classes=0, match="num_classes"),
    bad(RX.resnext101_32x8d, num_classes=0, match="num_classes"),
    bad(RX.resnext101_64x4d, num_classes=0, match="num_classes"),
    *[bad(block, channels=0, match="channels") for block in (RX.ResNeXtBlockA, RX.ResNeXtBlockB, RX.ResNeXtBlockC)],
    bad(RX.ResNeXtBlockA, cardinality=0, match="cardinality"),
    bad(RX.ResNeXtBlockB, width=0, match="width"),
    bad(RX.ResNeXtBlockC, cardinality=-2, match="cardinality"),
    bad(RX.resnext_block_params, 0, 4, match="cardinality"),
    bad(RX.resnext_block_params, 32, 0, match="width"),
    bad(RX.resnext_block_params, 32, 4, channels=0, match="channels"),
    bad(RX.template_width, 0, match="cardinality"),
    bad(RX.template_width, 32, reference_width=0, match="reference_width"),
    bad(RX.block_parts, 0, 4, match="cardinality"),
    bad(RX.block_parts, 32, 0, match="width"),
    bad(RX.tiny_resnext, cardinality=0, match="cardinality"),
    bad(RX.tiny_resnext, width=0, match="width"),
    bad(RX.tiny_resnext, stages=(30,), match="stages"),
    bad(RX.tiny_resnext, blocks=0, match="blocks"),
    bad(RX.tiny_resnext, stem=0, match="stem"),
    bad(RX.tiny_resnext, stem_stride=0, match="stem_stride"),
    bad(RX.tiny_resnext, num_classes=0, match="num_classes"),
    # models: senet
    bad(SE.SEBasicBlock, 16, 16, reduction=-1, match="reduction"),
    bad(SE.SEBasicBlock, 16, 16, reduction=32, match="reduction"),
    bad(SE.SEBasicBlock, 16, 16, position="after", match="position"),
    bad(SE.SEBottleneck, 64, 16, reduction=0, match="reduction"),
    bad(SE.SEBottleneck, 64, 16, position="after", match="position"),
    bad(SE.se_resnet, depth=19, match="depth"),
    bad(SE.se_resnet, reduction=0, match="reduction"),
    bad(SE.se_resnet, position="after", match="position"),
    bad(SE.se_resnet, num_classes=0, match="num_classes"),
    bad(SE.se_resnet, variant="v3", match="variant"),
    bad(SE.se_resnet50, reduction=-16, match="reduction"),
    bad(SE.se_block_params, 0, match="channels"),
    bad(SE.se_block_params, 64, reduction=0, match="reduction"),
    bad(SE.se_block_params, 64, reduction=128, match="reduction"),
    # models: vgg
    bad(VGG.vgg, config="F", match="config"),
    bad(VGG.vgg, num_classes=0, match="num_classes"),
    bad(VGG.vgg, dropout=1.0, match="dropout"),
    *[bad(getattr(VGG, f"vgg{d}"), num_classes=0, match="num_classes") for d in (11, 13, 16, 19)],
    bad(VGG.pre_initialise, RGB, RGB, names="conv1_1", match="names"),
    # models: wide_resnet
    bad(WRN.wide_resnet, depth=27, match="depth"),
    bad(WRN.wide_resnet, widen_factor=0, match="widen_factor"),
    bad(WRN.wide_resnet, dropout=1.0, match="dropout"),
    bad(WRN.wide_resnet, num_classes=0, match="num_classes"),
    bad(WRN.wide_resnet50_2, num_classes=0, match="num_classes"),
    bad(WRN.wide_resnet_cost, 27, 10, match="depth"),
    bad(WRN.wide_resnet_cost, 28, -1, match="widen_factor"),
    bad(WRN.wide_resnet_cost, 28, 10, size=0, match="size"),
    bad(WRN.wide_resnet_cost, 28, 10, num_classes=0, match="num_classes"),
    # models: xception
    bad(XC.SeparableConv2d, 0, 8, match="in_channels"),
    bad(XC.SeparableConv2d, 8, 8, kernel_size=0, match="kernel_size"),
    bad(XC.SeparableConv2d, 8, 8, stride=0, match="stride"),
    bad(XC.XceptionBlock, 0, [8], match="in_channels"),
    bad(XC.XceptionBlock, 8, [8], stride=3, match="stride"),
    bad(XC.XceptionBlock, 8, [], match="widths"),
    bad(XC.Xception, num_classes=0, match="num_classes"),
    bad(XC.Xception, dropout=1.0, match="dropout"),
    bad(XC.xception, num_classes=0, match="num_classes"),
    bad(XC.xception, dropout=-0.5, match="dropout"),
    # models: zfnet
    bad(ZF.ZFNet, nn.Sequential(), nn.Sequential(), pool_size=0, match="pool_size"),
    bad(ZF.zfnet, num_classes=0, match="num_classes"),
    bad(ZF.zfnet, dropout=1.0, match="dropout"),
    bad(ZF.zfnet_mini, variant="lenet", match="variant"),
    bad(ZF.zfnet_mini, widths=(32, 64), match="widths"),
    bad(ZF.zfnet_mini, hidden=0, match="hidden"),
    bad(ZF.zfnet_mini, num_classes=0, match="num_classes"),
    bad(ZF.zfnet_mini, image_size=0, match="image_size"),
    # resolution
    bad(RES.RandomResizedCrops, 0, match="size"),
    bad(RES.RandomResizedCrops, 32, scale=(0.5, 0.1), match="scale"),
    bad(RES.expected_zoom, scale=(0, 1.0), match="scale"),
    bad(RES.eval_transform, 0, match="size"),
    bad(RES.eval_transform, 224, crop_ratio=0, match="crop_ratio"),
    bad(RES.eval_views, IMAGES, [0], match="size"),
    bad(RES.eval_views, IMAGES, [8], crop_ratio=1.5, match="crop_ratio"),
    bad(RES.accuracy_by_resolution, RGB, {16: IMAGES}, LABELS, batch_size=0, match="batch_size"),
    # train
    bad(T.fit, RGB, DATA, epochs=0, device="cpu", progress=False, match="epochs"),
    bad(T.fit, RGB, DATA, lr=-0.1, device="cpu", progress=False, match="lr"),
    bad(T.fit, RGB, DATA, optimizer="adagrad2", device="cpu", progress=False, match="optimizer"),
    bad(T.fit, RGB, DATA, momentum=-0.9, device="cpu", progress=False, match="momentum"),
    bad(T.fit, RGB, DATA, weight_decay=-1, device="cpu", progress=False, match="weight_decay"),
    bad(T.fit, RGB, DATA, max_steps=0, device="cpu", progress=False, match="max_steps"),
    bad(T.fit, RGB, DATA, scheduler="sawtooth", device="cpu", progress=False, match="scheduler"),
    bad(T.fit, RGB, DATA, precision="fp8", device="cpu", progress=False, match="precision"),
    bad(T.evaluate, RGB, [], precision="fp8", match="precision"),
    bad(T.compare, {"a": lambda: RGB}, [], metric="speed", match="metric"),
    bad(T.compare, {"a": lambda: RGB}, [None, None], seeds=(), metric="train_acc", match="seeds"),
    bad(TV.torchvision_model, "resnet5", match="name must name one of torchvision's models"),
    bad(TV.load_pretrained, RGB, "resnet5", match="torchvision_name"),
    bad(T.recipe, "cpu", precision="fp8", match="precision"),
    bad(T.claim, "a beats b", {"a": [1.0], "b": [0.5]}, "a", "c", "paper", metric="acc", match=r"\bb\b"),
    bad(T.claim, "a beats b", {"a": [1.0], "b": [0.5]}, "a", "b", "paper", metric="acc", at_most_worse_by=-1,
        match="at_most_worse_by"),
    # viz
    bad(VA.activation, "gelu2", match="name"),
    bad(VA.activation_derivative, "gelu2", [0.0], match="name"),
    bad(VA.activation_curves, names=["gelu2"], match="names"),
    bad(VA.random_mlp, nn.ReLU, width=0, match="width"),
    bad(VA.output_landscape, nn.Linear(2, 1), n=0, match=r"\bn\b"),
    bad(VA.output_landscape, nn.Linear(2, 1), span=0, match="span"),
    bad(VA.output_landscapes, {"flat": torch.zeros(3, 3)}, span=-1, match="span"),
    bad(V.layer_bars, {"conv": 1}, by="block", match="by"),
    bad(V.heatmap, [[1, 2], [3, 4]], cmap="no-such-map", match="cmap"),
    bad(V.heatmap, [[1, 2], [3, 4]], vmin=2, vmax=1, match="vmin"),
    bad(V.scaling_curves, [1, 2], {"a": [1, 2]}, log="z", match="log"),
    bad(V.training_curves, HISTORY, metric="speed", match="metric"),
    bad(V.training_curves, HISTORY, x="batch", match=r"\bx\b"),
    bad(V.se_unit, _fig().subplots(), "after", match="position"),
    bad(V.save_figure, _fig(), "sub/dir", match="name"),
    bad(V.save_figure, _fig(), "", match="name"),
    bad(V.si, 1234, digits=0, match="digits"),
    bad(V.receptive_field_on_image, IMAGE[0], -1, match="size"),
    bad(V.receptive_field_on_image, IMAGE[0], 3, stride=0, match="stride"),
    bad(V.receptive_field_on_image, IMAGE[0], 3, color="no-such-colour", match="color"),
    bad(V.receptive_field_growth, [3, 5], image_size=0, match="image_size"),
    bad(V.filter_grid, WEIGHT, ncols=0, match="ncols"),
    bad(V.filter_grid, WEIGHT, normalize="none", match="normalize"),
    bad(V.feature_maps, IMAGE[0], n=0, match=r"\bn\b"),
    bad(V.feature_maps, IMAGE[0], ncols=0, match="ncols"),
    bad(V.feature_maps, IMAGE[0], cmap="no-such-map", match="cmap"),
    bad(V.image_grid, IMAGES, ncols=0, match="ncols"),
    bad(V.accuracy_vs_resolution, {0: {16: 0.5, 24: 0.6}}, 0, match="train_size"),
    bad(V.accuracy_vs_resolution, {0: {16: 0.5, 24: 0.6}}, 16, highlight=(16, 32), match="highlight"),
    # widgets
    bad(W.FigureRenderer, cache_size=-1, match="cache_size"),
    *[bad(fn, **{name: 0}, match=name) for fn in (W.conv_numbers, W.conv_update)
      for name in ("kernel", "stride", "dilation", "n_layers", "size", "channels")],
    bad(W.conv_numbers, padding=-1, match="padding"),
    bad(W.conv_numbers, in_channels=0, match="in_channels"),
    *[bad(fn, **{name: 0}, match=name) for fn in (W.separable_numbers, W.separable_update)
      for name in ("n", "d_k", "d_f", "m")],
    *[bad(fn, segments=3, match="segments") for fn in (W.segments_numbers, W.segments_update)],
    *[bad(fn, **{name: 0}, match=name) for fn in (W.segments_numbers, W.segments_update, W.segments_widget)
      for name in ("c_in", "c", "size")],
    *[bad(fn, reduction=0, match="reduction") for fn in (W.se_numbers, W.se_update)],
    *[bad(fn, channels=0, match="channels") for fn in (W.se_numbers, W.se_update)],
    bad(W.se_numbers, size=0, match="size"),
    *[bad(fn, alpha=0, match="alpha") for fn in (W.width_numbers, W.width_update)],
    *[bad(fn, resolution=0, match="resolution") for fn in (W.width_numbers, W.width_update)],
    *[bad(fn, **{name: 0}, match=name) for fn in (W.phi_numbers, W.phi_update)
      for name in ("alpha", "beta", "gamma")],
    *[bad(fn, phi=-1, match="phi") for fn in (W.phi_numbers, W.phi_update)],
    *[bad(fn, beta=float("nan"), match="beta") for fn in (W.swish_numbers, W.swish_update)],
    *[bad(fn, **{name: 0}, match=name) for fn in (W.growth_numbers, W.growth_update)
      for name in ("k", "layers", "theta", "k0")],
    *[bad(fn, cardinality=0, match="cardinality") for fn in (W.cardinality_numbers, W.cardinality_update)],
    bad(W.cardinality_numbers, channels=0, match="channels"),
    bad(W.cardinality_numbers, reference_width=0, match="reference_width"),
    *[bad(fn, depth=27, match="depth") for fn in (W.wrn_numbers, W.wrn_update)],
    *[bad(fn, k=0, match=r"\bk\b") for fn in (W.wrn_numbers, W.wrn_update)],
    bad(W.benchmark_updates, n=0, match=r"\bn\b"),
]


@pytest.mark.parametrize("fn, args, kwargs, match", ROWS)
def test_bad_input_raises_a_value_error_naming_the_parameter(fn, args, kwargs, match):
    # models are built on the meta device: a check that comes too late then costs no memory
    where = torch.device("meta") if fn.__module__.startswith("cnnedu.models.") else contextlib.nullcontext()
    with where, pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# The meta-test: every public callable that takes an int, float or str has a row.

# Parameters that take free text (labels, titles): no value of theirs is bad.
FREE_TEXT = {"title", "xlabel", "ylabel", "label", "colorbar_label", "reference_label", "unit", "text", "paper",
             "notebook", "source"}

EXEMPT = {
    # result records (dataclasses and named tuples) built by cnnedu's own functions, not by the reader
    "cnnedu.analysis.Summary", "cnnedu.analysis.ReceptiveField", "cnnedu.deconvnet.TopActivations",
    "cnnedu.deconvnet.OcclusionSquares", "cnnedu.train.History", "cnnedu.train.Comparison",
    "cnnedu.train.Claim", "cnnedu.train.Recipe", "cnnedu.models.mobilenet_v3.Bneck",
    # the live state of a *_widget(): built by the widget functions, which have rows
    "cnnedu.widgets._core.Explorer",
    # every quota is valid: None reads the cgroup, <= 0 means no limit (cgroup v1 writes -1)
    "cnnedu.env.usable_cpus",
    # a lookup: a name outside Table 1 (the auxiliary heads, layers without weights) gives None by design
    "cnnedu.models.googlenet.table_1_row",
}

# Callables that do not yet raise a ValueError naming the parameter, in modules other helpers were editing
# when this file was written (issue 16): each entry says what is missing. Add the row and remove the entry
# when the check lands; the meta-test fails on an entry that has a row. Empty now: every entry has landed.
PENDING: dict[str, str] = {}


def _modules() -> list[str]:
    names = ["cnnedu"]
    for info in pkgutil.walk_packages(cnnedu.__path__, "cnnedu."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _public_callables() -> dict[str, Callable]:
    """Qualified name -> callable for the ``__all__`` (or the public callables defined) of each module."""
    found: dict[str, Callable] = {}
    for name in _modules():
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        if public is None:
            public = [n for n, obj in vars(module).items()
                      if not n.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == name]
        for n in public:
            obj = getattr(module, n)
            if callable(obj) and getattr(obj, "__module__", "").startswith("cnnedu"):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


def _scalar(annotation: Any) -> bool:
    """Whether an annotation (a string: the modules use postponed evaluation) admits an int, float or str."""
    parts = [p.strip() for p in re.split(r"\|(?![^\[]*\])", str(annotation))]
    return any(p in {"int", "float", "str"} for p in parts)


def _takes_scalar(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name not in FREE_TEXT and (_scalar(p.annotation) or (
            isinstance(p.default, (int, float, str)) and not isinstance(p.default, bool)))
        for p in params
    )


def test_every_public_callable_that_takes_a_scalar_has_a_row():
    covered = {row.values[0] for row in ROWS}
    public = _public_callables()
    assert len(public) > 150, "the walk found too few callables: a module failed to import?"
    missing = sorted(name for name, fn in public.items()
                     if _takes_scalar(fn) and fn not in covered and name not in EXEMPT | set(PENDING))
    assert not missing, f"public callables with no row in ROWS (add one, or exempt with a reason): {missing}"
    stale = sorted((EXEMPT | set(PENDING)) - set(public))
    assert not stale, f"EXEMPT or PENDING names callables that no longer exist: {stale}"
    done = sorted(name for name in PENDING if public[name] in covered)
    assert not done, f"PENDING callables that now have a row (remove them from PENDING): {done}"
