"""Tests of cnnedu.deconvnet against independent computations with autograd (Zeiler and Fergus 2014)."""

from __future__ import annotations

import copy
from collections import OrderedDict

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn
from torchvision.models import alexnet

from cnnedu.analysis import receptive_fields
from cnnedu.deconvnet import (
    Deconvnet,
    conv_transpose,
    first_layer_filters,
    occlusion_map,
    plot_projection,
    plot_top9,
    project,
    top9,
    unit_receptive_field,
    unpool,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tv_features() -> nn.Sequential:
    # only the features get real weights: the 58M-parameter classifier stays on the meta device
    with torch.device("meta"):
        features = alexnet().features
    features = features.to_empty(device="cpu").double().eval()
    torch.manual_seed(0)
    for m in features:
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    return features


def small_features(relu: bool = True) -> nn.Sequential:
    """Overlapping pools, ceil_mode, odd sizes, groups, dilation, LRN, dropout: every case in one network."""
    torch.manual_seed(1)
    act = nn.ReLU if relu else nn.Identity
    layers = OrderedDict(
        conv1=nn.Conv2d(3, 8, 5, stride=2, padding=2), relu1=act(), lrn1=nn.LocalResponseNorm(3),
        pool1=nn.MaxPool2d(3, 2, ceil_mode=True),
        conv2=nn.Conv2d(8, 12, 3, padding=1, groups=2), relu2=act(), drop2=nn.Dropout(0.5),
        pool2=nn.MaxPool2d(3, 2, padding=1),
        conv3=nn.Conv2d(12, 6, 3, padding=2, dilation=2), relu3=act(),
    )
    return nn.Sequential(layers).double().eval()


class _LRNIdentityBackward(torch.autograd.Function):
    """LRN forward, identity backward: the deconvnet passes contrast normalization through."""

    @staticmethod
    def forward(ctx, x, module):
        return module(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def reference_projection(features: nn.Sequential, x: torch.Tensor, layer: int, signal: torch.Tensor) -> torch.Tensor:
    """Input gradient where every ReLU's backward is replaced by ReLU of the upstream signal (autograd hooks).

    Max pooling and convolution keep their true gradients (scatter-add into the switches, transposed
    convolution), so this is an independent route to the deconvnet projection.
    """
    features = copy.deepcopy(features).eval()
    handles = []
    for m in features:
        if isinstance(m, nn.ReLU):
            m.inplace = False  # full backward hooks reject in-place modules
            handles.append(m.register_full_backward_hook(lambda _m, gin, gout: (F.relu(gout[0]),)))
    x = x.clone().requires_grad_(True)
    h = x
    for m in list(features)[: layer + 1]:
        h = _LRNIdentityBackward.apply(h, m) if isinstance(m, nn.LocalResponseNorm) else m(h)
    (grad,) = torch.autograd.grad(h, x, grad_outputs=signal)
    for handle in handles:
        handle.remove()
    return grad


def unit_signal(out: torch.Tensor, channel: int, position: tuple[int, int]) -> torch.Tensor:
    signal = torch.zeros_like(out)
    signal[:, channel, position[0], position[1]] = out[:, channel, position[0], position[1]]
    return signal


# ---------------------------------------------------------------------------------------------------------
# The two backward steps.


@pytest.mark.parametrize("size, padding, ceil_mode", [(13, 0, False), (14, 1, False), (14, 0, True), (8, 1, True)])
def test_unpool_equals_max_pool_gradient(size, padding, ceil_mode):
    torch.manual_seed(0)
    x = torch.randn(2, 4, size, size, dtype=torch.double).requires_grad_(True)
    pooled, switches = F.max_pool2d(x, 3, 2, padding, ceil_mode=ceil_mode, return_indices=True)
    upstream = torch.randn_like(pooled)
    (expected,) = torch.autograd.grad(pooled, x, grad_outputs=upstream)
    torch.testing.assert_close(unpool(upstream, switches, x.shape), expected, rtol=0, atol=1e-12)


def test_max_unpool2d_loses_values_where_windows_overlap():
    # 5x5 input, 3x3 windows at stride 2: the centre (2, 2) lies in all four windows and wins each of them
    x = torch.zeros(1, 1, 5, 5, dtype=torch.double)
    x[0, 0, 2, 2] = 1.0
    x.requires_grad_(True)
    pooled, switches = F.max_pool2d(x, 3, 2, return_indices=True)
    assert (switches == 12).all()
    upstream = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.double)
    (expected,) = torch.autograd.grad(pooled, x, grad_outputs=upstream)
    ours = unpool(upstream, switches, x.shape)
    torch.testing.assert_close(ours, expected)
    assert ours[0, 0, 2, 2] == 10.0
    overwritten = nn.MaxUnpool2d(3, 2)(upstream, switches, output_size=x.shape[-2:])
    assert overwritten[0, 0, 2, 2] in (1.0, 2.0, 3.0, 4.0)  # one window's value survives
    assert not torch.allclose(overwritten, expected)


@pytest.mark.parametrize(
    "kwargs, size",
    [(dict(stride=4, padding=2), 31), (dict(stride=2, padding=1, groups=2), 14), (dict(padding=2, dilation=2), 9),
     (dict(stride=3, padding="valid"), 17), (dict(padding="same"), 10)],
)
def test_conv_transpose_equals_conv_input_gradient(kwargs, size):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 5 if kwargs.get("stride") != 4 else 11, **kwargs).double()
    x = torch.randn(2, 4, size, size, dtype=torch.double).requires_grad_(True)
    out = conv(x)
    upstream = torch.randn_like(out)
    (expected,) = torch.autograd.grad(out, x, grad_outputs=upstream)
    ours = conv_transpose(upstream, conv, x.shape)
    assert ours.shape == x.shape
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------------------
# Whole projections.


def test_projection_without_relus_is_the_input_gradient():
    features = nn.Sequential(*[m for m in small_features(relu=False) if isinstance(m, (nn.Conv2d, nn.MaxPool2d))])
    x = torch.randn(2, 3, 33, 33, dtype=torch.double).requires_grad_(True)
    net = Deconvnet(features)
    net(x)
    layer, channel = len(features) - 1, 4
    ours = net.project(layer, channel)
    _, pos = net.max_positions(layer, channel)
    out = features(x)
    signal = torch.zeros_like(out)
    for n in range(2):
        signal[n, channel, pos[n, 0], pos[n, 1]] = out[n, channel, pos[n, 0], pos[n, 1]]
    (expected,) = torch.autograd.grad(out, x, grad_outputs=signal)
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-12)
    assert ours.abs().sum() > 0


@pytest.mark.parametrize("name", ["conv3", "relu3", "pool2", "relu2", "conv1"])
def test_projection_equals_deconvnet_relu_gradient(name):
    features = small_features()
    torch.manual_seed(2)
    x = torch.randn(1, 3, 35, 35, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    i = net.layer_index(name)
    out = net.outputs[i]
    pos = (out.shape[-2] // 2, out.shape[-1] // 3)
    channel = int(out[0, :, pos[0], pos[1]].abs().argmax())
    ours = net.project(name, channel, position=pos)
    expected = reference_projection(features, x, i, unit_signal(out, channel, pos))
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-12)
    assert ours.abs().sum() > 0
    # deconvnet ReLU differs from backpropagation through the ReLU masks
    (plain,) = torch.autograd.grad(features[: i + 1](x.requires_grad_(True)), x,
                                   grad_outputs=unit_signal(out, channel, pos))
    if name in ("conv3", "relu3", "pool2"):
        assert not torch.allclose(ours, plain)


def test_alexnet_projection_equals_reference(tv_features):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 99, 99, dtype=torch.double)
    net = Deconvnet(tv_features)
    net(x)
    for layer, channel in ((12, 7), (9, 100), (2, 5)):  # pool5, relu4, pool1
        ours = net.project(layer, channel)
        values, pos = net.max_positions(layer, channel)
        out = net.outputs[layer]
        signal = torch.zeros_like(out)
        for n in range(2):
            signal[n, channel, pos[n, 0], pos[n, 1]] = values[n]
        torch.testing.assert_close(ours, reference_projection(tv_features, x, layer, signal), rtol=1e-9, atol=1e-12)


def test_default_unit_is_the_channel_maximum_with_others_zeroed():
    features = small_features()
    x = torch.randn(1, 3, 35, 35, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    out = net.outputs[net.layer_index("relu3")]
    flat = int(out[0, 2].argmax())
    pos = (flat // out.shape[-1], flat % out.shape[-1])
    torch.testing.assert_close(net.project("relu3", 2), net.project("relu3", 2, position=pos))
    assert not torch.allclose(net.project("relu3", 2), net.project("relu3", 2, position=(0, 0)))


def test_forward_matches_the_sequential_and_records_switches(tv_features):
    x = torch.randn(1, 3, 127, 127, dtype=torch.double)
    net = Deconvnet(tv_features)
    torch.testing.assert_close(net(x), tv_features(x))
    assert sorted(net.switches) == [2, 5, 12]
    assert all((o >= 0).all() for m, o in zip(tv_features, net.outputs, strict=True) if isinstance(m, nn.ReLU))
    assert (net.outputs[0] < 0).any()  # the conv output is kept before rectification


def test_module_project_shapes_and_layer_names(tv_features):
    torch.manual_seed(0)
    image = torch.randn(3, 99, 99, dtype=torch.double)
    model = nn.Module()
    model.features = tv_features
    by_index = project(tv_features, image, 10, channel=3)
    assert by_index.shape == image.shape
    torch.testing.assert_close(project(model, image, "features.10", 3), by_index)
    torch.testing.assert_close(project(model, image, "10", 3), by_index)
    assert project(tv_features, image.expand(2, -1, -1, -1), 10, 3).shape == (2, 3, 99, 99)
    named = small_features()
    assert project(named, image, "pool2", 0).shape == image.shape


def test_projection_stays_inside_the_receptive_field():
    features = small_features()
    net = Deconvnet(features)
    torch.manual_seed(4)
    x = torch.randn(1, 3, 41, 41, dtype=torch.double)
    net(x)
    (rh, rw), (jh, jw), (ph, pw) = net.receptive_field("pool2")
    pos = (2, 3)
    channel = int(net.outputs[net.layer_index("pool2")][0, :, 2, 3].argmax())
    proj = net.project("pool2", channel, position=pos)[0].abs().sum(0)
    top, left = pos[0] * jh - ph, pos[1] * jw - pw
    inside = proj[max(top, 0):top + rh, max(left, 0):left + rw].sum()
    assert proj.sum() > 0
    torch.testing.assert_close(inside, proj.sum())


def test_receptive_field_arithmetic_agrees_with_analysis(tv_features):
    fields = receptive_fields(copy.deepcopy(tv_features).float(), (3, 224, 224))
    assert len(fields) == len(tv_features)
    for i, rf in enumerate(fields):
        size, jump, pad = unit_receptive_field(list(tv_features)[: i + 1])
        assert (size[0], jump[0], pad[0]) == (rf.size, rf.stride, rf.padding), rf.name


# ---------------------------------------------------------------------------------------------------------
# Top 9, occlusion, filters, plots.


def test_top9_orders_by_activation_and_crops_to_the_field():
    features = small_features()
    torch.manual_seed(3)
    images = torch.randn(23, 3, 33, 33, dtype=torch.double)
    layer, channel = "relu3", 4
    acts = features[:10](images)[:, channel].amax(dim=(1, 2))
    result = top9(features, images, layer, channel, batch_size=5)
    expected = acts.argsort(descending=True)[:9]
    assert result.indices.tolist() == expected.tolist()
    torch.testing.assert_close(result.activations, acts[expected])
    assert (result.activations[:-1] >= result.activations[1:]).all()
    (rh, rw), _, _ = unit_receptive_field(list(features))
    assert result.images.shape == (9, 3, rh, rw) and result.projections.shape == (9, 3, rh, rw)
    full = top9(features, images, layer, channel, crop=False)
    assert full.images.shape == (9, 3, 33, 33)
    torch.testing.assert_close(full.images, images[expected])
    # the projection lives inside the unit's field, so cropping keeps all of it
    torch.testing.assert_close(result.projections.abs().sum(dim=(1, 2, 3)), full.projections.abs().sum(dim=(1, 2, 3)))
    # crops of the images: the pixel at the field's centre sits at the crop's centre
    for n in range(9):
        top, left, h, w = result.boxes[n].tolist()
        cy, cx = top + h // 2, left + w // 2
        if 0 <= cy < 33 and 0 <= cx < 33:
            assert result.images[n, :, h // 2, w // 2].tolist() == images[expected[n], :, cy, cx].tolist()


def test_top9_reads_a_dataset_of_pairs():
    features = small_features().float()
    images = torch.randn(12, 3, 33, 33)
    data = torch.utils.data.TensorDataset(images, torch.zeros(12, dtype=torch.long))
    from_data = top9(features, data, "conv2", 1, k=4, batch_size=5)
    from_tensor = top9(features, images, "conv2", 1, k=4)
    assert from_data.indices.tolist() == from_tensor.indices.tolist()
    fig = plot_top9(from_data)
    assert isinstance(fig, Figure)
    matplotlib.pyplot.close(fig)


class _TopLeftDetector(nn.Module):
    """Toy classifier: class 1's logit is the mean of the red channel in the top-left 8x8 corner."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        evidence = x[:, 0, :8, :8].mean(dim=(1, 2)) * self.scale
        return torch.stack([torch.zeros_like(evidence), evidence], dim=1)


def test_occlusion_map_drops_where_the_evidence_is():
    image = torch.zeros(3, 32, 32)
    image[0, :8, :8] = 1.0
    model = _TopLeftDetector()
    heat = occlusion_map(model, image, target=1, patch=8, stride=4, batch_size=7)
    assert heat.shape == ((32 - 8) // 4 + 1, (32 - 8) // 4 + 1)
    clean = model(image[None]).softmax(1)[0, 1]
    assert clean > 0.99
    torch.testing.assert_close(heat[0, 0], torch.tensor(0.5))  # evidence fully hidden: logits tie
    torch.testing.assert_close(heat[2:, 2:], clean.expand(5, 5))  # off the corner: unchanged
    assert heat[0, 0] < heat[0, 1] < heat[0, 2] == clean  # all, half, none of the evidence hidden
    # against a direct, unbatched occlusion
    occluded = image.clone()
    occluded[:, 4:12, 0:8] = 0.0
    torch.testing.assert_close(heat[1, 0], model(occluded[None]).softmax(1)[0, 1])
    by_mean = occlusion_map(model, image, 1, patch=8, stride=8, fill="mean")
    assert by_mean.shape == (4, 4) and by_mean[0, 0] < clean
    assert model.training  # mode restored


def test_first_layer_filters(tv_features):
    model = nn.Module()
    model.features, model.classifier = tv_features, nn.Linear(9216, 10)
    w = first_layer_filters(model)
    assert w.shape == (64, 3, 11, 11)
    torch.testing.assert_close(w, tv_features[0].weight.detach())
    w.zero_()  # a copy: the model is untouched
    assert tv_features[0].weight.abs().sum() > 0


def test_plot_projection_returns_figure():
    t = torch.randn(1, 3, 20, 20)
    fig = plot_projection(t, title="unit")
    assert isinstance(fig, Figure)
    data = fig.axes[0].images[0].get_array()
    assert data.shape == (20, 20, 3) and data.min() >= 0 and data.max() <= 1
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------------------------------------
# Errors.


def test_errors():
    features = small_features()
    with pytest.raises(ValueError, match="BatchNorm2d"):
        Deconvnet(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    with pytest.raises(ValueError, match="'1'"):
        Deconvnet(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    with pytest.raises(ValueError, match="padding_mode|pads with"):
        Deconvnet(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")))
    with pytest.raises(ValueError, match="features"):
        Deconvnet(nn.Linear(3, 4))
    x = torch.randn(1, 3, 33, 33, dtype=torch.double)
    with pytest.raises(ValueError, match="lrn1.*LocalResponseNorm"):
        project(features, x, "lrn1", 0)
    with pytest.raises(ValueError, match="drop2"):
        project(features, x, 6, 0)
    with pytest.raises(ValueError, match="layer must be"):
        project(features, x, "conv9", 0)
    with pytest.raises(ValueError, match="layer must be"):
        project(features, x, 10, 0)
    with pytest.raises(ValueError, match="channel"):
        project(features, x, "conv1", 8)
    with pytest.raises(ValueError, match="position"):
        project(features, x, "conv1", 0, position=(40, 0))
    net = Deconvnet(features)
    with pytest.raises(ValueError, match="forward"):
        net.project("conv1", 0)
    with pytest.raises(ValueError, match="k must"):
        top9(features, x.expand(3, -1, -1, -1), "conv1", 0, k=4)
    model = _TopLeftDetector()
    with pytest.raises(ValueError, match="patch"):
        occlusion_map(model, torch.zeros(3, 16, 16), 1, patch=17)
    with pytest.raises(ValueError, match="fill"):
        occlusion_map(model, torch.zeros(3, 16, 16), 1, patch=4, fill="grey")
    with pytest.raises(ValueError, match="target"):
        occlusion_map(model, torch.zeros(3, 16, 16), 2, patch=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_projection_on_cuda_matches_cpu():
    features = small_features()
    x = torch.randn(2, 3, 35, 35, dtype=torch.double)
    on_cpu = project(features, x, "relu3", 2)
    on_gpu = project(copy.deepcopy(features).cuda(), x, "relu3", 2)  # the image moves to the model's device
    assert on_gpu.device.type == "cpu"
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-9, atol=1e-12)


def test_max_positions_and_projection_on_a_non_square_map():
    """Rows and columns must not be swapped: a single bright pixel at (2, 9) of a 5 x 12 image."""
    from cnnedu.deconvnet import Deconvnet, project, top9

    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    features = nn.Sequential(conv, nn.ReLU())
    image = torch.zeros(1, 1, 5, 12)
    image[0, 0, 2, 9] = 1.0
    net = Deconvnet(features)
    net(image)
    values, positions = net.max_positions(1, 0)
    assert positions.tolist() == [[2, 9]] and values.tolist() == [1.0]
    back = project(features, image[0], 1, 0)
    assert back.shape == (1, 5, 12) and back[0].abs().argmax().item() == 2 * 12 + 9
    result = top9(features, torch.cat([image.flip(-1) * 0.5, image]), 1, 0, k=2, crop=False)
    assert result.indices.tolist() == [1, 0] and result.positions.tolist() == [[2, 9], [2, 2]]
    assert result.projections.shape[-2:] == (5, 12)
