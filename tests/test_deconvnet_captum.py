"""Cross-check of cnnedu.deconvnet against a peer library: Captum's ``NeuronDeconvolution`` (issue 16).

Both implement Zeiler and Fergus' deconvnet (arXiv:1311.2901, Section 2.1) the same way: Captum takes the input
gradient of one neuron with every ``nn.ReLU``'s backward replaced by ReLU of the upstream signal, so
unpooling is max pooling's own gradient (a scatter-add into the forward pass's switches, which is what
``cnnedu.deconvnet.unpool`` does: overlapping windows add, ceil_mode windows keep their switches) and
filtering is the convolution's input gradient (transposed filters, no bias: the bias only moves the forward
activations, hence the switches and which units fire, and both libraries see the same forward pass).

What agrees, to about 1e-6 relative (in practice bit for bit in float64): ``Deconvnet.backward_from`` seeded
with 1 at one unit equals Captum's attribution of that unit, from the output of any Conv2d, ReLU or
MaxPool2d, through (a) conv-ReLU-maxpool(3, 2) (overlapping windows), (b) maxpool(2, 2, ceil_mode=True) on
odd sizes, (c) two such stages with in-place ReLUs and a padded pool, and AlexNet's own ``features``.

Differences by design, tested as such:

- The seed. Captum differentiates the neuron (a seed of 1); ``project`` seeds the unit with its *activation*
  a, as the paper does. The deconvnet is positively homogeneous, not linear, in the seed (ReLU(a g) = a ReLU(g)
  only for a >= 0), so ``project`` = a * Captum for a >= 0 (every ReLU or pool output, and positive conv
  outputs), while for a negative conv output ``project`` = |a| * Captum's attribution of *minus* the neuron.
- LocalResponseNorm. ``cnnedu.deconvnet`` passes contrast normalization through (the paper has no inverse
  for it); Captum takes its true gradient, so the two part as soon as an LRN lies below the unit.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import alexnet

from cnnedu.deconvnet import Deconvnet

captum_attr = pytest.importorskip("captum.attr")

# Captum warns that the input did not require gradients and that it hooks the ReLUs: both expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RTOL = 1e-6


def _net(name: str) -> nn.Sequential:
    torch.manual_seed(0)
    nets = {
        # (a) 3x3 windows at stride 2: neighbouring windows share a row / column, a position can win both
        "overlapping": lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)),
        # (b) 13x13 conv output: ceil_mode adds a last, clipped window per axis
        "ceil_mode": lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True)),
        # (c) two stages: strided conv, in-place ReLUs, an overlapping ceil_mode pool and a padded one
        "two_stages": lambda: nn.Sequential(
            nn.Conv2d(3, 6, 5, stride=2, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.MaxPool2d(3, 2, padding=1),
        ),
    }
    return nets[name]().double().eval()


def _relative_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    assert theirs.abs().max() > 0, "a zero projection would make the comparison vacuous"
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


def _units(features: nn.Sequential):
    for i, module in enumerate(features):
        if isinstance(module, (nn.Conv2d, nn.ReLU, nn.MaxPool2d)):
            yield i, module


@pytest.mark.parametrize("name", ["overlapping", "ceil_mode", "two_stages"])
def test_unit_seed_matches_captum_at_every_layer(name):
    features = _net(name)
    x = torch.randn(2, 3, 15, 15, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    compared = 0
    for i, module in _units(features):
        out = net.outputs[i]
        c, y, w = 1, out.shape[-2] - 1, out.shape[-1] - 1  # the last row / column: ceil_mode's clipped windows
        for pos in [(y // 2, w // 2), (y, w)]:
            signal = torch.zeros_like(out)
            signal[:, c, pos[0], pos[1]] = 1.0
            theirs = captum_attr.NeuronDeconvolution(features, module).attribute(x.clone(), (c, *pos))
            if theirs.abs().max() == 0:  # a pooled unit over dead ReLUs: nothing to compare
                continue
            ours = net.backward_from(i, signal)
            assert _relative_error(ours, theirs) <= RTOL, (name, i, pos)
            compared += 1
    assert compared >= len(list(_units(features)))


@pytest.mark.parametrize("name", ["overlapping", "ceil_mode", "two_stages"])
def test_projection_is_activation_times_captum(name):
    """``project`` seeds the unit with its activation a; per image at its strongest unit (a > 0 there)."""
    features = _net(name)
    x = torch.randn(3, 3, 17, 17, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    layer, module = list(_units(features))[-1]
    values, pos = net.max_positions(layer, 2)
    assert (values > 0).all()
    rows = torch.arange(len(x))

    def strongest(out: torch.Tensor) -> torch.Tensor:  # one neuron per image, at that image's own maximum
        return out[rows, 2, pos[:, 0], pos[:, 1]]

    theirs = captum_attr.NeuronDeconvolution(features, module).attribute(x.clone(), strongest)
    ours = net.project(layer, 2)
    assert _relative_error(ours, values.view(-1, 1, 1, 1) * theirs) <= RTOL


def test_negative_conv_unit_is_projected_as_its_magnitude_times_minus_the_neuron():
    features = _net("two_stages")
    x = torch.randn(4, 3, 15, 15, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    conv2 = features[3]
    out = net.outputs[3][:, 0]
    flat = out.flatten(1).argmin(dim=1)  # each image's most negative conv2 output of channel 0
    y, w = flat // out.shape[-1], flat % out.shape[-1]
    rows = torch.arange(len(x))
    a = out[rows, y, w]
    assert (a < 0).all()
    ours = torch.stack([net.project(3, 0, (int(y[n]), int(w[n])))[n] for n in rows])
    deconv = captum_attr.NeuronDeconvolution(features, conv2)
    minus = deconv.attribute(x.clone(), lambda o: -o[rows, 0, y, w])
    assert _relative_error(ours, a.abs().view(-1, 1, 1, 1) * minus) <= RTOL
    # and not a times the neuron's own deconvnet: the ReLU below conv2 rectifies a signal of the other sign
    plus = deconv.attribute(x.clone(), lambda o: o[rows, 0, y, w])
    assert _relative_error(ours, a.view(-1, 1, 1, 1) * plus) > 0.01


def test_alexnet_features_match_captum():
    with torch.device("meta"):
        features = alexnet().features  # in-place ReLUs, 3x3 stride-2 pools
    features = features.to_empty(device="cpu").double().eval()
    torch.manual_seed(0)
    for m in features:
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    x = torch.randn(1, 3, 99, 99, dtype=torch.double)  # conv5: 5x5, pool5: 2x2
    net = Deconvnet(features)
    net(x)
    for layer in (11, 12):  # relu5, pool5
        values, pos = net.max_positions(layer, 7)
        theirs = captum_attr.NeuronDeconvolution(features, features[layer]).attribute(x.clone(), (7, *pos[0].tolist()))
        assert _relative_error(net.project(layer, 7), values.view(-1, 1, 1, 1) * theirs) <= RTOL


class _LRNPassThroughBackward(nn.LocalResponseNorm):
    """LRN forward, identity backward: the deconvnet's rule for contrast normalization, for Captum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (super().forward(x) - x).detach()


def test_local_response_norm_is_passed_through_not_differentiated():
    torch.manual_seed(0)
    lrn = nn.LocalResponseNorm(3, alpha=1.0, k=1.0)  # strong normalization, so its gradient is far from 1
    features = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), lrn, nn.MaxPool2d(3, 2), nn.Conv2d(6, 4, 3), nn.ReLU())
    features = features.double().eval()
    x = torch.randn(1, 3, 15, 15, dtype=torch.double)
    net = Deconvnet(features)
    net(x)
    signal = torch.zeros_like(net.outputs[5])
    signal[:, 0, 2, 2] = 1.0
    ours = net.backward_from(5, signal)
    theirs = captum_attr.NeuronDeconvolution(features, features[5]).attribute(x.clone(), (0, 2, 2))
    assert _relative_error(ours, theirs) > 0.01
    # the same forward pass (same switches), LRN's backward made the identity: the two agree again
    features[2] = _LRNPassThroughBackward(3, alpha=1.0, k=1.0)
    theirs = captum_attr.NeuronDeconvolution(features, features[5]).attribute(x.clone(), (0, 2, 2))
    assert _relative_error(ours, theirs) <= RTOL
