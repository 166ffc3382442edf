"""VGG's pre-initialisation (Simonyan and Zisserman 2015, Section 3.1): copy A's layers into a deeper net by name."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from cnnedu.models import vgg
from cnnedu.models.vgg import PRE_INIT_LAYERS, VGG_CONFIGS, pre_initialise

COPIED = ["features.conv1_1", "features.conv2_1", "features.conv3_1", "features.conv3_2",
          "classifier.fc6", "classifier.fc7", "classifier.fc8"]


def small_vgg(config: str, width_div: int = 64, seed: int = 0) -> nn.Module:
    """Table 1's stages with channels / width_div and FC-16, named like cnnedu.models.vgg (32 px input)."""
    torch.manual_seed(seed)
    layers, c_in = OrderedDict(), 3
    for s, stage in enumerate(VGG_CONFIGS[config], start=1):
        for i, entry in enumerate(stage, start=1):
            c = int(entry.split("-")[1]) // width_div
            layers[f"conv{s}_{i}"] = nn.Conv2d(c_in, c, 3, padding=1)
            layers[f"relu{s}_{i}"] = nn.ReLU()
            c_in = c
        layers[f"pool{s}"] = nn.MaxPool2d(2)
    fcs = OrderedDict(fc6=nn.Linear(c_in, 16), relu6=nn.ReLU(), fc7=nn.Linear(16, 16), relu7=nn.ReLU(),
                      fc8=nn.Linear(16, 10))
    return nn.Sequential(OrderedDict(features=nn.Sequential(layers), flatten=nn.Flatten(),
                                     classifier=nn.Sequential(fcs)))


def test_the_papers_layers():
    # the first four conv layers of A (one per early stage, then two) and the three FC layers
    convs_a = [f"conv{s}_{i}" for s, stage in enumerate(VGG_CONFIGS["A"], 1) for i in range(1, len(stage) + 1)]
    assert PRE_INIT_LAYERS == (*convs_a[:4], "fc6", "fc7", "fc8")


@pytest.mark.parametrize("config", ["B", "C", "D", "E"])
def test_copies_the_named_layers_and_leaves_the_rest(config):
    shallow, deep = small_vgg("A", seed=0), small_vgg(config, seed=1)
    before = {k: v.clone() for k, v in deep.state_dict().items()}
    copied = pre_initialise(deep, shallow)
    assert copied == COPIED
    layers_a = dict(shallow.named_modules())
    for name, module in deep.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if name in copied:
                assert torch.equal(module.weight, layers_a[name].weight)
                assert torch.equal(module.bias, layers_a[name].bias)
                assert module.weight.data_ptr() != layers_a[name].weight.data_ptr()  # a copy, not shared
            else:
                assert torch.equal(module.weight, before[f"{name}.weight"])
                assert torch.equal(module.bias, before[f"{name}.bias"])


def test_copied_layers_keep_training():
    shallow, deep = small_vgg("A"), small_vgg("D", seed=1)
    pre_initialise(deep, shallow)
    assert all(p.requires_grad for p in deep.parameters())
    deep(torch.randn(2, 3, 32, 32)).sum().backward()
    assert deep.features.conv1_1.weight.grad is not None and shallow.features.conv1_1.weight.grad is None


def test_full_size_vgg_on_meta():
    with torch.device("meta"):
        shallow, deep = vgg("A"), vgg("E")
        assert pre_initialise(deep, shallow) == COPIED


def test_names_choose_the_layers():
    shallow, deep = small_vgg("A"), small_vgg("D", seed=1)
    assert pre_initialise(deep, shallow, names=["fc8", "conv1_1"]) == ["features.conv1_1", "classifier.fc8"]
    assert not torch.equal(deep.features.conv2_1.weight, shallow.features.conv2_1.weight)


def test_errors():
    shallow, deep = small_vgg("A"), small_vgg("D", seed=1)
    with pytest.raises(ValueError, match="conv1_2"):  # A has no conv1_2
        pre_initialise(deep, shallow, names=["conv1_2"])
    with pytest.raises(ValueError, match="weight of deep"):  # 1/32 of the widths against 1/64
        pre_initialise(small_vgg("D", width_div=32), shallow)
    with pytest.raises(ValueError, match="relu1_1"):
        pre_initialise(deep, shallow, names=["relu1_1"])
    with pytest.raises(ValueError, match="string"):
        pre_initialise(deep, shallow, names="fc8")
    twice = nn.Sequential(OrderedDict(a=small_vgg("A"), b=small_vgg("A")))
    with pytest.raises(ValueError, match="2 layers"):
        pre_initialise(deep, twice)
    no_bias = small_vgg("D", seed=1)
    no_bias.classifier.fc8 = nn.Linear(16, 10, bias=False)
    with pytest.raises(ValueError, match="bias"):
        pre_initialise(no_bias, shallow)
