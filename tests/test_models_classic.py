"""AlexNet, ZFNet, VGG, GoogLeNet: paper counts, torchvision interchange, training-time behaviour."""

from __future__ import annotations

import math
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from cnnedu.analysis import count_macs, count_params, mac_breakdown, receptive_field
from cnnedu.models import alexnet, googlenet, googlenet_loss, vgg, vgg11, vgg13, vgg16, vgg19, zfnet
from cnnedu.models.alexnet import alexnet_from_torchvision, paper_lrn
from cnnedu.models.googlenet import (
    INCEPTION_TABLE,
    TABLE_1_REPORTED,
    GoogLeNetOutputs,
    Inception,
    googlenet_from_torchvision,
)
from cnnedu.models.vgg import VGG_CONFIGS, vgg_from_torchvision


def meta(build, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build(*args, **kwargs)


def random_torchvision(name: str, seed: int = 0, **kwargs) -> nn.Module:
    """A torchvision model with random weights, built without its (slow) init: meta, then one fill.

    BN statistics are random too (variance down to 0.01), so a wrong BN eps would show in the logits.
    """
    with torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    model = model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = math.sqrt(6 / fan_in)  # He-uniform keeps activations of the order of one
                w = module.weight.view(module.weight.shape[0], -1)
                if w.shape[0] % 64 or w.numel() < 2**22:
                    w.uniform_(-bound, bound, generator=g)
                else:  # VGG's 100 M FC weights: 64 random rows tiled, a fraction of the random numbers
                    block = torch.empty(64, w.shape[1]).uniform_(-bound, bound, generator=g)
                    w.view(-1, 64, w.shape[1]).copy_(block)
                if module.bias is not None:
                    module.bias.uniform_(-0.1, 0.1, generator=g)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_var.uniform_(0.01, 1.0, generator=g)
                module.running_mean.uniform_(-0.1, 0.1, generator=g)
                module.weight.copy_(module.running_var.sqrt() * torch.empty_like(module.weight).uniform_(
                    0.8, 1.2, generator=g))
                module.bias.uniform_(-0.1, 0.1, generator=g)
                module.num_batches_tracked.zero_()
    return model.eval()


def assert_same_logits(tv: nn.Module, ours: nn.Module, x: torch.Tensor) -> None:
    ours.eval()
    with torch.no_grad():
        expected, got = tv(x), ours(x)
    assert expected.abs().max() > 1e-3  # not a trivially dead network
    assert (expected - got).abs().max().item() <= 1e-4


# ------------------------------------------------------------------------------------------------------
# Parameter counts and MACs (numbers.md).

@pytest.mark.parametrize(("build", "params"), [
    (lambda: alexnet(), 60_965_224),
    (lambda: alexnet(variant="torchvision"), 61_100_840),
    (lambda: zfnet(), 62_357_608),
    (lambda: vgg("A"), 132_863_336),
    (lambda: vgg("A-LRN"), 132_863_336),
    (lambda: vgg("B"), 133_047_848),
    (lambda: vgg("C"), 133_638_952),
    (lambda: vgg("D"), 138_357_544),
    (lambda: vgg("E"), 143_667_240),
    (lambda: vgg("D", batch_norm=True), 138_365_992),
    (lambda: googlenet(variant="torchvision", aux_logits=False), 6_624_904),
])
def test_exact_params(build, params):
    assert count_params(meta(build)) == params


@pytest.mark.parametrize(("build", "gmacs"), [
    (lambda: alexnet(variant="torchvision"), 0.714),
    (lambda: vgg11(), 7.609),
    (lambda: vgg13(), 11.308),
    (lambda: vgg16(), 15.470),
    (lambda: vgg19(), 19.632),
    (lambda: vgg16(batch_norm=True), 15.470),
    (lambda: googlenet(variant="torchvision", aux_logits=False), 1.498),
])
def test_macs_match_torchvision(build, gmacs):
    assert count_macs(meta(build)) / 1e9 == pytest.approx(gmacs, rel=0.005)


def test_two_towers_are_groups_in_conv2_4_5():
    paper, dense = meta(alexnet), meta(alexnet, two_towers=False)
    groups = {n: m.groups for n, m in paper.features.named_children() if isinstance(m, nn.Conv2d)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert all(m.groups == 1 for m in dense.modules() if isinstance(m, nn.Conv2d))
    # halving the cross-tower weights of conv2, conv4, conv5
    saved = (256 * 96 * 25 + 384 * 384 * 9 + 256 * 384 * 9) // 2
    assert count_params(dense) - count_params(paper) == saved


def _feature_sizes(model: nn.Module, size: int = 224) -> dict[str, int]:
    x, sizes = torch.empty(1, 3, size, size, device="meta"), {}
    for name, layer in model.features.named_children():
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            sizes[name] = x.shape[-1]
    return sizes


def test_alexnet_feature_maps_55_27_13_13_13_6():
    for model in (meta(alexnet), meta(alexnet, variant="torchvision")):
        assert _feature_sizes(model) == {"conv1": 55, "pool1": 27, "conv2": 27, "pool2": 13, "conv3": 13,
                                         "conv4": 13, "conv5": 13, "pool5": 6}


def test_zfnet_feature_maps_follow_figure_3():
    model = meta(zfnet)
    assert _feature_sizes(model) == {"conv1": 110, "pool1": 55, "conv2": 26, "pool2": 13, "conv3": 13,
                                     "conv4": 13, "conv5": 13, "pool5": 6}
    assert model.features.conv1.kernel_size == (7, 7) and model.features.conv1.stride == (2, 2)
    assert all(m.groups == 1 for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("build", [alexnet, zfnet, lambda: vgg("A-LRN")])
def test_features_hold_only_walkable_layers(build):
    model = meta(build)
    allowed = (nn.Conv2d, nn.ReLU, nn.LocalResponseNorm, nn.MaxPool2d)
    assert all(isinstance(m, allowed) for m in model.features)
    assert isinstance(model.classifier.fc6, nn.Linear) and model.classifier.fc8.out_features == 1000


def test_alexnet_lrn_follows_the_papers_equation():
    # b = a / (k + alpha * sum over 5 neighbouring channels of a^2)^beta, Section 3.3
    a = torch.randn(1, 7, 2, 2) * 30
    k, alpha, beta, n = 2.0, 1e-4, 0.75, 5
    sq = torch.nn.functional.pad(a.pow(2), (0, 0, 0, 0, n // 2, n // 2))
    sums = torch.stack([sq[:, c:c + n].sum(1) for c in range(a.shape[1])], dim=1)
    expected = a / (k + alpha * sums).pow(beta)
    torch.testing.assert_close(paper_lrn()(a), expected)
    names = [n for n, _ in meta(alexnet).features.named_children()]
    assert names[:8] == ["conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2"]


def test_vgg_configs_follow_table_1():
    convs = {c: sum(e.startswith("conv") for stage in t for e in stage) for c, t in VGG_CONFIGS.items()}
    # weight layers = convolutions + 3 FC: 11, 11, 13, 16, 16, 19
    assert {c: n + 3 for c, n in convs.items()} == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    c = meta(vgg, "C")
    assert [c.features.get_submodule(f"conv{s}_3").kernel_size for s in (3, 4, 5)] == [(1, 1)] * 3
    assert isinstance(meta(vgg, "A-LRN").features.lrn1, nn.LocalResponseNorm)
    # C's 1x1 layers cost less than D's 3x3 ones: D - C = 8 * (256^2 + 2 * 512^2)
    assert count_params(meta(vgg, "D")) - count_params(c) == 8 * (256**2 + 2 * 512**2)


def test_receptive_fields_match_araujo():
    rf = receptive_field(meta(alexnet, variant="torchvision"))
    assert (rf.size, rf.stride, rf.padding) == (195, 32, 66)
    rf = receptive_field(meta(vgg16))
    assert (rf.size, rf.stride, rf.padding) == (212, 32, 90)


# ------------------------------------------------------------------------------------------------------
# GoogLeNet against Table 1.

def _table_1_rows(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Weights (biases not counted, as in Table 1) and MACs per Table 1 row."""
    groups = {"conv1": ["conv1"], "conv2": ["conv2_reduce", "conv2"], "linear": ["fc"]}
    groups.update({n: [f"inception{n}"] for n in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")})
    macs = mac_breakdown(model)

    def under(name, prefixes):
        return any(name == p or name.startswith(p + ".") for p in prefixes)

    weights = {n: p.numel() for n, p in model.named_parameters() if n.endswith("weight")}
    return {row: (sum(v for n, v in weights.items() if under(n, pre)),
                  sum(v for n, v in macs.items() if under(n, pre))) for row, pre in groups.items()}


def test_googlenet_matches_table_1():
    rows = _table_1_rows(meta(googlenet, aux_logits=False))
    # rows whose printed params and ops agree with the table's channel numbers: within rounding (2 %)
    for row in ("conv2", "3a", "3b", "4a", "4b", "4d", "4e", "5b", "linear"):
        params_k, ops_m = TABLE_1_REPORTED[row]
        assert rows[row][0] / 1024 == pytest.approx(params_k, rel=0.02), row
        assert rows[row][1] / 1e6 == pytest.approx(ops_m, rel=0.02, abs=0.5), row
    assert int(rows["3a"][0] / 1024) == 159 and round(rows["3a"][1] / 1e6) == 128  # 159.5K, truncated
    # the rows the paper misprints (see TABLE_1_REPORTED): exact values from the design
    assert rows["conv1"] == (7 * 7 * 3 * 64, 7 * 7 * 3 * 64 * 112 * 112)
    assert rows["5b"][0] == 1_442_816 and rows["4c"][0] == 509_440
    total = count_macs(meta(googlenet))
    assert 1.5e9 <= total <= 1.6e9  # "about 1.5 billion multiply-adds"
    assert total - rows["conv1"][1] + 34e6 == pytest.approx(1.5e9, rel=0.005)


def test_googlenet_paper_vs_torchvision_difference():
    paper, tv = meta(googlenet, aux_logits=False), meta(googlenet, aux_logits=False, variant="torchvision")
    five = sum(r[3] * r[4] for r in INCEPTION_TABLE.values())  # #5x5 reduce * #5x5
    channels = 64 + 64 + 192 + sum(sum(r) for r in INCEPTION_TABLE.values())
    assert count_params(paper) - count_params(tv) == five * (25 - 9) - channels == 373_648
    assert count_macs(paper) - count_macs(tv) == pytest.approx(84.2e6, rel=0.005)


def test_inception_module_branches():
    block = Inception(192, *(64, 96, 128, 16, 32, 32))
    assert block(torch.randn(1, 192, 8, 8)).shape == (1, 256, 8, 8)
    assert block.branch5x5[1][0].kernel_size == (5, 5) and block.branch1x1[0].bias is not None
    tv_block = Inception(192, 64, 96, 128, 16, 32, 32, batch_norm=True, kernel_5x5=3)
    assert tv_block.branch5x5[1][0].kernel_size == (3, 3) and tv_block.branch1x1[1].eps == 1e-3


def test_googlenet_aux_heads_only_in_training():
    torch.manual_seed(0)
    model = googlenet(num_classes=10)
    x, y = torch.randn(1, 3, 224, 224), torch.tensor([7])  # the 5x5/3 aux pools need 14x14 maps at 4a
    with torch.no_grad():
        out = model.train()(x)
        logits = model.eval()(x)
    assert isinstance(out, GoogLeNetOutputs) and all(t.shape == (1, 10) for t in out)
    assert isinstance(logits, torch.Tensor) and logits.shape == (1, 10)
    ce = nn.functional.cross_entropy
    expected = ce(out.logits, y) + 0.3 * (ce(out.aux1, y) + ce(out.aux2, y))
    torch.testing.assert_close(googlenet_loss(out, y), expected)
    torch.testing.assert_close(googlenet_loss(out, y, aux_weight=0.0), ce(out.logits, y))
    torch.testing.assert_close(googlenet_loss(logits, y), ce(logits, y))
    # gradients reach the auxiliary heads through the weighted loss
    features = torch.randn(2, 512, 14, 14, requires_grad=True)
    aux_logits = model.train().aux1(features)
    googlenet_loss(GoogLeNetOutputs(aux_logits, aux_logits, aux_logits), torch.tensor([1, 2])).backward()
    assert model.aux1.fc2.weight.grad is not None and features.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------------
# torchvision interchange (random weights, no download).

def test_alexnet_loads_torchvision():
    tv = random_torchvision("alexnet")
    ours = alexnet_from_torchvision(tv)
    assert_same_logits(tv, ours, torch.randn(2, 3, 224, 224))
    assert isinstance(ours.features.conv1, nn.Conv2d)


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn"])  # the others: same builder, shapes checked below
def test_vgg_loads_torchvision_same_logits(name):
    tv = random_torchvision(name)
    assert_same_logits(tv, vgg_from_torchvision(tv), torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize(("name", "config", "bn"), [
    ("vgg11", "A", False), ("vgg13", "B", False), ("vgg16", "D", False), ("vgg19", "E", False),
    ("vgg11_bn", "A", True), ("vgg13_bn", "B", True), ("vgg16_bn", "D", True), ("vgg19_bn", "E", True),
])
def test_vgg_recognises_torchvision_configs(name, config, bn):
    with torch.device("meta"):
        tv = torchvision.models.get_model(name, weights=None, num_classes=10)
    ours = vgg_from_torchvision(tv.state_dict())
    assert count_params(ours) == count_params(meta(vgg, config, batch_norm=bn, num_classes=10))
    assert any(isinstance(m, nn.BatchNorm2d) for m in ours.modules()) == bn


def test_googlenet_loads_torchvision():
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval()
    with torch.no_grad():  # random BN statistics, so that a wrong eps would show
        for m in tv.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.01, 1.0)
                m.weight.copy_(m.running_var.sqrt())
    ours = googlenet_from_torchvision(tv)
    assert ours.aux1 is None
    assert_same_logits(tv, ours, torch.randn(2, 3, 64, 64))


def test_googlenet_loads_torchvision_with_aux_heads():
    tv = random_torchvision("googlenet", aux_logits=True, init_weights=False)
    ours = googlenet_from_torchvision(tv)
    assert ours.aux1 is not None
    assert_same_logits(tv, ours, torch.randn(2, 3, 64, 64))
    features = torch.randn(1, 528, 14, 14)
    with torch.no_grad():
        torch.testing.assert_close(ours.aux2.eval()(features), tv.aux2.eval()(features))


# ------------------------------------------------------------------------------------------------------
# Training on a CPU, pretrained weights offline, bad arguments.

@pytest.mark.parametrize(("build", "size"), [
    (lambda: alexnet(num_classes=10), 64),
    (lambda: zfnet(num_classes=10), 64),
    (lambda: vgg("C", batch_norm=True, num_classes=10), 32),
    (lambda: googlenet(aux_logits=False, num_classes=10), 64),
    (lambda: googlenet(aux_logits=False, variant="torchvision", num_classes=10), 64),
])
def test_forward_backward_small_input(build, size):
    torch.manual_seed(0)
    model = build().train()
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_pretrained_offline_raises_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="pretrained=False"):
        alexnet(variant="torchvision", pretrained=True)
    with pytest.raises(RuntimeError, match="pretrained=False"):
        googlenet(variant="torchvision", pretrained=True)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: alexnet(num_classes=0), "num_classes"),
    (lambda: alexnet(num_classes=2.5), "num_classes"),
    (lambda: alexnet(variant="caffe"), "variant"),
    (lambda: alexnet(dropout=1.0), "dropout"),
    (lambda: alexnet(pretrained=True), "pretrained"),
    (lambda: zfnet(num_classes=-3), "num_classes"),
    (lambda: vgg("F"), "config"),
    (lambda: vgg("D", num_classes=0), "num_classes"),
    (lambda: vgg("C", pretrained=True), "pretrained"),
    (lambda: googlenet(variant="inception_v3"), "variant"),
    (lambda: googlenet(num_classes=0), "num_classes"),
    (lambda: googlenet(pretrained=True), "pretrained"),
])
def test_bad_arguments_raise_value_error(call, name):
    with torch.device("meta"), pytest.raises(ValueError, match=name):
        call()


def test_unknown_vgg_config_lists_the_accepted_names():
    with pytest.raises(ValueError) as err:
        vgg("vgg16")
    assert all(repr(c) in str(err.value) for c in ("A", "A-LRN", "B", "C", "D", "E"))


def test_baselines_counts_field_and_errors():
    from cnnedu.models import linear_classifier, small_cnn

    net = small_cnn()
    assert count_params(net) == 61_338 and count_macs(net, (3, 32, 32)) == 3_392_128
    assert receptive_field(net, (3, 32, 32)).size == 38
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert small_cnn(1, 4, widths=(8,))(torch.randn(1, 1, 16, 16)).shape == (1, 4)
    assert count_params(linear_classifier()) == 3 * 32 * 32 * 10 + 10
    with pytest.raises(ValueError, match="widths"):
        small_cnn(widths=(16, 0))
    with pytest.raises(ValueError, match="in_channels"):
        small_cnn(in_channels=0)
    with pytest.raises(ValueError, match="size"):
        linear_classifier(size=-1)


def test_vgg_builds_a_column_of_ones_own():
    """Section 4.1's B with each pair of 3x3 convolutions replaced by one 5x5: more weights, one ReLU per stage."""
    b_5x5 = tuple((stage[0].replace("conv3-", "conv5-"),) for stage in VGG_CONFIGS["B"])
    with torch.device("meta"):
        b, custom = vgg("B"), vgg(b_5x5)
    assert count_params(custom) == 134_503_528 > count_params(b)
    assert [n for n, _ in custom.features.named_children()][:3] == ["conv1_1", "relu1_1", "pool1"]
    assert receptive_field(custom).size == receptive_field(b).size


@pytest.mark.parametrize(("config", "message"), [
    ((("conv3-64",), ("conv3-128",), ("conv3-256",), ("conv3-512",), ("conv3-256",)), "512 channels"),
    ((("conv3-64",), ("conv3-128",), ("conv3-256",), ("conv3-512",)), "5 stages"),
    ((("conv3-64",), ("conv3-128",), ("pool",), ("conv3-512",), ("conv3-512",)), "conv<kernel>-<channels>"),
])
def test_vgg_rejects_a_malformed_column(config, message):
    with torch.device("meta"), pytest.raises(ValueError, match=message):
        vgg(config)
