"""The experiment of notebook 11 (Sandler et al. 2018, Fig. 6a): linear against ReLU6 thin bottlenecks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnedu import data, train
from cnnedu.blocks import InvertedResidual
from cnnedu.models import MOBILENET_V2_NARROW_STAGES, mobilenet_v2_narrow


def blocks(model: nn.Module) -> list[InvertedResidual]:
    return [m for m in model.modules() if isinstance(m, InvertedResidual)]


def test_narrow_has_thin_bottlenecks_and_runs_on_16_px():
    torch.manual_seed(0)
    model = mobilenet_v2_narrow()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    bs = blocks(model)
    assert len(bs) == sum(n for _, _, n, _ in MOBILENET_V2_NARROW_STAGES) == 7
    assert max(b.out_channels for b in bs) <= 6  # the tensors between blocks are thin
    assert sum(b.use_residual for b in bs) == 5  # the two blocks that change width have none


def test_relu_bottleneck_changes_only_the_projection():
    torch.manual_seed(0)
    linear = mobilenet_v2_narrow()
    torch.manual_seed(0)
    relu = mobilenet_v2_narrow(relu_bottleneck=True)
    assert all(not isinstance(b.project[-1], nn.ReLU6) for b in blocks(linear))
    assert all(isinstance(b.project[-1], nn.ReLU6) for b in blocks(relu))
    # same parameters and, for one seed, the same initial weights
    for (n1, p1), (n2, p2) in zip(linear.state_dict().items(), relu.state_dict().items(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2)
    # the ReLU6 leaves every block's output non-negative where there is no skip
    outputs = []
    hooks = [b.register_forward_hook(lambda _m, _i, o: outputs.append(o)) for b in blocks(relu) if not b.use_residual]
    relu(torch.randn(2, 3, 16, 16))
    for h in hooks:
        h.remove()
    assert outputs and all((o >= 0).all() for o in outputs)


@pytest.mark.parametrize("kwargs, match", [
    ({"relu_bottleneck": 1}, "relu_bottleneck"), ({"stages": []}, "stages"), ({"stages": [(6, 4, 1)]}, "stages"),
    ({"stages": [(6, 4, 1, 3)]}, "stages"), ({"stages": [(6, 0, 1, 1)]}, "stages c"),
    ({"stages": [(6, 4, 1.5, 1)]}, "stages n"), ({"stem_channels": 0}, "stem_channels"),
    ({"head_channels": 2.5}, "head_channels"), ({"num_classes": 0}, "num_classes"),
])
def test_narrow_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mobilenet_v2_narrow(**kwargs)


def test_the_notebook_recipe_trains_and_claims():
    # Section 6's recipe (a fixed set, Adam at a constant rate, training error), a few steps only
    subset = data.shapes_dataset(32, size=16, seed=0)
    fit_data = (data.tensor_loader(subset, 16, seed=0), None)
    comp = train.compare({"linear": mobilenet_v2_narrow, "ReLU6": lambda: mobilenet_v2_narrow(relu_bottleneck=True)},
                         fit_data, seeds=(0, 1), metric="train_acc", epochs=1, optimizer="adam", lr=3e-3,
                         weight_decay=0.0, device="cpu")
    error = {k: [100 * (1 - v) for v in vs] for k, vs in comp.results.items()}
    assert all(len(v) == 2 and 0 <= min(v) <= max(v) <= 100 for v in error.values())
    claim = train.claim("linear fits better", error, "linear", "ReLU6", paper="Sandler et al. 2018, Fig. 6(a)",
                        metric="training error", unit="%", seeds=(0, 1))
    assert not claim.higher_is_better and claim.verdict in ("shown", "within noise", "opposite")
