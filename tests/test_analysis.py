"""cnnedu.analysis against torchvision models, real nn.Conv2d layers and FlopCounterMode."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnedu import analysis
from cnnedu.analysis import (
    conv_macs,
    conv_output_size,
    conv_params,
    count_macs,
    count_params,
    effective_receptive_field,
    mac_breakdown,
    receptive_field,
    receptive_fields,
    summary,
)

# numbers.md: torchvision 0.29, exact parameters; MACs to the three decimals given there (GMACs)
REFERENCE = {
    "resnet50": (25_557_032, 4.089, 224),
    "mobilenet_v2": (3_504_872, 0.301, 224),
    "efficientnet_b0": (5_288_548, 0.386, 224),
    "densenet121": (7_978_856, 2.834, 224),
    "vgg16": (138_357_544, 15.470, 224),
    "alexnet": (61_100_840, 0.714, 224),
    "mobilenet_v3_small": (2_542_856, 0.057, 224),
    "efficientnet_b7": (66_347_960, 37.746, 600),
}


def meta_model(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, **kwargs)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_counts_match_numbers_md(name):
    params, gmacs, size = REFERENCE[name]
    model = meta_model(name)
    assert count_params(model) == params
    assert count_macs(model, (3, size, size)) / 1e9 == pytest.approx(gmacs, abs=0.0006)


def test_googlenet_counts():
    model = meta_model("googlenet", aux_logits=False, init_weights=False)
    assert count_params(model) == 6_624_904
    assert count_macs(model) / 1e9 == pytest.approx(1.498, abs=0.0006)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "densenet121", "googlenet"])
def test_macs_are_half_of_flop_counter_on_the_real_model(name):
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    assert count_macs(model, (3, 64, 64)) * 2 == counter.get_total_flops()


def test_count_macs_leaves_the_model_untouched():
    model = torchvision.models.resnet18().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs(model, (3, 32, 32))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"


def test_b7_at_600px_is_counted_fast():
    model = meta_model("efficientnet_b7")
    start = time.perf_counter()
    count_macs(model, (3, 600, 600))
    assert time.perf_counter() - start < 5  # about 0.5 s here; generous for a loaded CI machine


def test_breakdown_sums_to_total_and_names_layers():
    model = meta_model("resnet18")
    parts = mac_breakdown(model, (3, 224, 224))
    assert parts["conv1"] == 64 * 3 * 7 * 7 * 112 * 112
    assert parts["fc"] == 512 * 1000
    assert sum(parts.values()) == count_macs(model)


def test_shared_layer_counted_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    assert count_macs(Twice(), (4, 8, 8)) == 2 * 4 * 4 * 9 * 64
    assert count_params(Twice()) == 4 * 4 * 9 + 4


# ----- teaching helpers against real layers


@pytest.mark.parametrize(
    "size, kernel, stride, padding, dilation",
    [(224, 11, 4, 2, 1), (227, 11, 4, 0, 1), (55, 3, 2, 0, 1), (32, 3, 1, 1, 2), (7, 7, 1, 0, 1), (13, 5, 3, 1, 1)],
)
def test_conv_output_size_matches_conv2d(size, kernel, stride, padding, dilation):
    conv = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == conv_output_size(size, kernel, stride, padding, dilation)


def test_conv_output_size_errors():
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(32, 3, stride=0)
    with pytest.raises(ValueError, match="vanishes"):
        conv_output_size(2, 5)


@pytest.mark.parametrize("c_in, c_out, kernel, groups, bias", [(3, 64, 3, 1, True), (3, 64, 5, 1, True),
                                                               (96, 256, 5, 2, True), (32, 32, 3, 32, False)])
def test_conv_params_matches_conv2d(c_in, c_out, kernel, groups, bias):
    conv = nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias)
    assert conv_params(c_in, c_out, kernel, groups, bias) == count_params(conv)


def test_seed_examples():
    assert conv_params(3, 64, 3) == 1_792  # 3x3x3x64 = 1,728 + 64
    assert conv_params(3, 64, 5) == 4_864  # 5x5x3x64 = 4,800 + 64
    with pytest.raises(ValueError, match="groups"):
        conv_params(3, 64, 3, groups=2)


def test_conv_macs_matches_count_macs():
    conv = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    assert conv_macs(96, 256, 5, 27, groups=2) == count_macs(conv, (96, 27, 27))


# ----- summary


def test_summary_rows_add_up():
    model = meta_model("resnet18")
    table = summary(model, (3, 224, 224), depth=2)
    assert table.total_params == 11_689_512
    assert sum(r["params"] for r in table.rows) == table.total_params
    assert sum(r["macs"] for r in table.rows) == table.total_macs == count_macs(model)
    rows = {r["name"]: r for r in table.rows}
    assert rows["layer4.1"]["output_shape"] == [512, 7, 7]
    assert "layer4.1" in str(table) and "<table>" in table._repr_html_()
    assert table.by("stage")["layer1"]["params"] == 2 * 73_984


# ----- receptive fields


def test_vgg16_and_alexnet_receptive_fields():
    rf = receptive_field(meta_model("vgg16"))
    assert (rf.size, rf.stride, rf.padding) == (212, 32, 90)
    conv5_3 = [r for r in receptive_fields(meta_model("vgg16")) if r.name == "features.28"][0]
    assert conv5_3.size == 196
    rf = receptive_field(meta_model("alexnet"))
    assert (rf.size, rf.stride, rf.padding) == (195, 32, 66)


def test_three_3x3_equal_one_7x7():
    three = nn.Sequential(*[nn.Conv2d(1, 1, 3) for _ in range(3)])
    assert receptive_field(three, (1, 32, 32)).size == receptive_field(nn.Conv2d(1, 1, 7), (1, 32, 32)).size == 7


def test_dilation_pooling_and_ceil_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                          nn.Conv2d(4, 4, 3, padding=1))
    fields = receptive_fields(model, (3, 32, 32))
    assert [f.size for f in fields] == [5, 5, 7, 11]
    assert fields[-1].stride == 2 and fields[-1].padding == 2
    assert fields[2].output_shape == (4, 14, 14)  # ceil_mode: ceil(27/2) = 14 rows


def test_branches_take_the_largest_field():
    class TwoPaths(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 5, padding=2)
            self.b = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1) + 0

    rf = receptive_field(TwoPaths(), (3, 16, 16))
    assert (rf.size, rf.stride, rf.padding) == (5, 1, 2)


def test_residual_and_inception_networks():
    rf = receptive_field(meta_model("resnet18"))
    assert rf.stride == 32 and rf.size > 224
    rf = receptive_field(meta_model("googlenet", aux_logits=False, init_weights=False))
    assert rf.name == "inception5b" and rf.stride == 32


def test_misaligned_paths_raise():
    class Misaligned(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)  # field centre 0
            self.b = nn.Conv2d(3, 4, 2, stride=2)  # field centre 0.5, same output size

        def forward(self, x):
            return self.a(x) + self.b(x)

    with pytest.raises(ValueError, match="misaligned"):
        receptive_field(Misaligned(), (3, 8, 8))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="features.12"):
        count_macs(meta_model("alexnet"), (3, 32, 32))
    with pytest.raises(ValueError, match="no spatial output"):
        receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), (3, 2, 2))
    with pytest.raises(ValueError, match="input_size"):
        count_macs(nn.Conv2d(3, 3, 1), (3, 32))


def test_effective_receptive_field_is_centred_and_smaller_than_theoretical():
    torch.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())],
                        nn.Conv2d(2, 2, 3, padding=1))
    erf = effective_receptive_field(net, (2, 21, 21), n_samples=2)
    assert erf.shape == (21, 21) and erf.max() == 1
    assert erf[10, 10] > 0 and erf[0, 0] == 0  # theoretical field 9x9 around the centre
    assert erf[6:15, 6:15].sum() == pytest.approx(erf.sum())


def test_strided_slice_shortcut_is_a_subsampling():
    from cnnedu.models import resnet_cifar

    # option A subsamples the identity with x[:, :, ::2, ::2]; its field must align with the 3x3 stride-2 path
    with torch.device("meta"):
        a, b = resnet_cifar(20, shortcut="A"), resnet_cifar(20, shortcut="B")
    rf_a, rf_b = receptive_field(a, (3, 32, 32)), receptive_field(b, (3, 32, 32))
    assert (rf_a.size, rf_a.stride, rf_a.padding) == (rf_b.size, rf_b.stride, rf_b.padding)
    assert rf_a.stride == 4


def test_output_gradient_norms_match_autograd_and_leave_grads_alone():
    torch.manual_seed(0)
    a, b = nn.Linear(4, 6), nn.Linear(6, 3)
    model = nn.Sequential(a, nn.ReLU(), b)
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    got = analysis.output_gradient_norms(model, [a, b], x, y)
    h = a(x)
    h.retain_grad()
    logits = b(torch.relu(h))
    logits.retain_grad()
    nn.functional.cross_entropy(logits, y).backward()
    assert got == pytest.approx([h.grad.norm().item(), logits.grad.norm().item()])
    model.zero_grad(set_to_none=True)
    analysis.output_gradient_norms(model, [b], x, y)
    assert all(p.grad is None for p in model.parameters())


def test_output_gradient_norms_rejects_empty_and_unused_modules():
    model = nn.Sequential(nn.Linear(4, 3))
    x, y = torch.randn(2, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="modules"):
        analysis.output_gradient_norms(model, [], x, y)
    with pytest.raises(ValueError, match="not used"):
        analysis.output_gradient_norms(model, [nn.Linear(4, 3)], x, y)


def test_count_params_trainable_only_skips_frozen_parameters():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    total = 3 * 8 * 9 + 8 + 2 * 8 + 8 * 2 + 2
    assert count_params(model) == total
    assert count_params(model, trainable_only=True) == total - (3 * 8 * 9 + 8)


@pytest.mark.parametrize(("stride", "groups"), [(1, 1), (2, 1), (2, 4)])
def test_transposed_convolution_macs_match_the_flop_counter(stride, groups):
    layer = nn.ConvTranspose2d(8, 12, 3, stride=stride, padding=1, groups=groups)
    x = torch.randn(1, 8, 7, 5)  # not square, so height and width cannot be swapped unnoticed
    with FlopCounterMode(display=False) as counter:
        layer(x)
    assert count_macs(layer, (8, 7, 5)) == counter.get_total_flops() // 2


def test_count_macs_names_input_size_when_the_channels_are_wrong():
    with pytest.raises(ValueError, match=r"input_size \(1, 224, 224\) gives 1 channels.*expects 3"):
        count_macs(torchvision.models.resnet18(), (1, 224, 224))
