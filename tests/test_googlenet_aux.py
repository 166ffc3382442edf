"""GoogLeNet for 32 px images, the Table 1 row of a parameter, the auxiliary heads' share of the gradient."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from cnnedu import viz
from cnnedu.analysis import count_params
from cnnedu.models import googlenet, googlenet_cifar
from cnnedu.models.googlenet import (
    INCEPTION_TABLE,
    TABLE_1_ROWS,
    GoogLeNetOutputs,
    aux_gradient_norms,
    googlenet_loss,
    table_1_row,
)


def _depth(model: torch.nn.Module) -> int:
    # layers with weights along the deepest path: stem 3, two per module, the linear layer
    stem = sum(isinstance(m, torch.nn.Conv2d) for m in (model.conv1[0], model.conv2_reduce[0], model.conv2[0]))
    return stem + 2 * len(INCEPTION_TABLE) + 1


def test_googlenet_cifar_shapes_and_widths():
    torch.manual_seed(0)
    model = googlenet_cifar(width_div=8)
    assert _depth(model) == 22
    assert model.inception3a.out_channels == 256 // 8 and model.inception5b.out_channels == 1024 // 8
    assert model.aux1.fc1.in_features == 128 // 8 * 2 * 2 and model.aux1.fc1.out_features == 1024 // 8
    out = model.train()(torch.randn(2, 3, 32, 32))
    assert isinstance(out, GoogLeNetOutputs) and all(t.shape == (2, 10) for t in out)
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # the paper's choices stay: LRN without BN, BN without LRN and biases
    assert isinstance(model.lrn1, torch.nn.LocalResponseNorm)
    bn = googlenet_cifar(width_div=8, batch_norm=True)
    assert isinstance(bn.lrn1, torch.nn.Identity) and isinstance(bn.conv1[1], torch.nn.BatchNorm2d)


def test_googlenet_cifar_full_width_matches_paper_modules():
    # width_div=1 keeps every module of Table 1; only the stem's first conv (3x3 instead of 7x7) differs
    with torch.device("meta"):
        small, paper = googlenet_cifar(width_div=1, aux_logits=False, num_classes=1000), googlenet(aux_logits=False)
    diff = count_params(paper) - count_params(small)
    assert diff == (7 * 7 - 3 * 3) * 3 * 64


@pytest.mark.parametrize("bad", [0, 3, 16, 2.5, True])
def test_googlenet_cifar_rejects_bad_width_div(bad):
    with pytest.raises(ValueError, match="width_div"):
        googlenet_cifar(width_div=bad)


def test_googlenet_paper_unchanged_by_width_knobs():
    with torch.device("meta"):
        assert count_params(googlenet(aux_logits=True)) == 13_378_280
        assert count_params(googlenet(aux_logits=False, variant="torchvision")) == 6_624_904


def test_table_1_row():
    assert table_1_row("conv1.0.weight") == "conv1"
    assert table_1_row("conv2_reduce.0.weight") == table_1_row("conv2.0.bias") == "conv2"
    assert table_1_row("inception4a.branch3x3.1.0.weight") == "4a"
    assert table_1_row("fc.weight") == "linear"
    assert table_1_row("aux1.fc1.weight") is None and table_1_row("lrn1") is None
    model = googlenet_cifar()
    rows = {table_1_row(n) for n, _ in model.named_parameters()} - {None}
    assert rows == set(TABLE_1_ROWS)


def test_aux_gradient_norms_against_backward():
    torch.manual_seed(0)
    model = googlenet_cifar(width_div=8).train()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    state = torch.random.get_rng_state()
    norms = aux_gradient_norms(model, x, y, aux_weight=0.3)
    assert set(norms) == {"without aux", "with aux"} and all(set(v) == set(TABLE_1_ROWS) for v in norms.values())
    assert all(p.grad is None for p in model.parameters())  # nothing accumulated
    for weight, key in ((0.3, "with aux"), (0.0, "without aux")):
        torch.random.set_rng_state(state)  # the same dropout masks
        model.zero_grad()
        googlenet_loss(model(x), y, aux_weight=weight).backward()
        expected = sum(p.grad.pow(2).sum() for n, p in model.named_parameters()
                       if table_1_row(n) == "conv1" and p.dim() > 1) ** 0.5
        assert norms[key]["conv1"] == pytest.approx(expected.item(), rel=1e-4)
    # above 4d the heads add nothing: the rows 4e..linear get the same gradient either way
    for row in ("4e", "5a", "5b", "linear"):
        assert norms["with aux"][row] == pytest.approx(norms["without aux"][row], rel=1e-6)


def test_aux_gradient_norms_restores_mode_and_needs_heads():
    model = googlenet_cifar().eval()
    aux_gradient_norms(model, torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    assert not model.training
    with pytest.raises(ValueError, match="auxiliary heads"):
        aux_gradient_norms(googlenet_cifar(aux_logits=False), torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="aux_weight"):
        aux_gradient_norms(model, torch.randn(2, 3, 32, 32), torch.tensor([0, 1]), aux_weight=-1)


def test_aux_gradient_norms_zero_weight_is_main_loss():
    torch.manual_seed(1)
    model = googlenet_cifar(width_div=8, batch_norm=True)
    norms = aux_gradient_norms(model, torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]), aux_weight=0.0)
    assert norms["with aux"] == pytest.approx(norms["without aux"])


def test_depth_profile():
    layers = ["a", "b", "c"]
    fig = viz.depth_profile(layers, {"x": [[1, 2, 3], [2, 3, 4]], "y": [[1, 1, 1]]}, marks={"head": "b"},
                            ylabel="gradient norm")
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].lines) == 2 + 1 + 1 + 1 + 1  # seeds, means, the mark
    plt.close(fig)
    _, ax = plt.subplots()
    assert viz.depth_profile(layers, {"x": [[-1, 0, 1]]}, ax=ax, log=False) is ax.figure
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="one sequence of 3 values"):
        viz.depth_profile(layers, {"x": [[1, 2]]})
    with pytest.raises(ValueError, match="positive"):
        viz.depth_profile(layers, {"x": [[0, 1, 2]]})
    with pytest.raises(ValueError, match="marks"):
        viz.depth_profile(layers, {"x": [[1, 2, 3]]}, marks={"head": "z"})
    with pytest.raises(ValueError, match="layers"):
        viz.depth_profile([], {"x": [[1]]})
