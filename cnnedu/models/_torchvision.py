"""Interchange with torchvision: load its state dicts into cnnedu models, and its pretrained weights.

cnnedu's models name their layers after the papers, torchvision after its own code, so weights are matched
by order of registration and checked by shape: both implementations register the same tensors in the same
order when they describe the same architecture.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["load_state_dict_by_order", "torchvision_model", "load_pretrained"]


def _tensors(items) -> list[tuple[str, torch.Tensor]]:
    # num_batches_tracked counters are bookkeeping, not weights
    return [(k, v) for k, v in items if not k.endswith("num_batches_tracked")]


def load_state_dict_by_order(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Copy ``state_dict`` (e.g. a torchvision model's) into ``model`` tensor by tensor, in order.

    Raises a ValueError naming the first pair whose shapes differ, or if the counts differ.
    """
    ours = _tensors(model.state_dict().items())
    theirs = _tensors(state_dict.items())
    if len(ours) != len(theirs):
        raise ValueError(
            f"state_dict has {len(theirs)} tensors but the model has {len(ours)}: not the same architecture"
        )
    new = {}
    for (name, mine), (other_name, value) in zip(ours, theirs, strict=True):
        if mine.shape != value.shape:
            raise ValueError(
                f"shape mismatch: model '{name}' {tuple(mine.shape)} vs state_dict '{other_name}' "
                f"{tuple(value.shape)}"
            )
        new[name] = value
    model.load_state_dict(new, strict=False)
    return model


def _check_name(label: str, name: str) -> None:
    import torchvision

    known = torchvision.models.list_models()
    if name not in known:
        raise ValueError(f"{label} must name one of torchvision's models (torchvision.models.list_models(), "
                         f"e.g. resnet50, efficientnet_b0); got {name!r}")


def torchvision_model(name: str, **kwargs) -> nn.Module:
    """Build torchvision's ``name`` model with random weights (no download)."""
    import torchvision

    _check_name("name", name)
    return torchvision.models.get_model(name, weights=None, **kwargs)


def load_pretrained(model: nn.Module, torchvision_name: str) -> nn.Module:
    """Download torchvision's default ImageNet weights for ``torchvision_name`` and load them into ``model``.

    The download is checked against torchvision's hash. Offline, this raises a RuntimeError that says what
    to do instead of hanging or failing with a bare network error.
    """
    import torchvision

    _check_name("torchvision_name", torchvision_name)
    weights = torchvision.models.get_model_weights(torchvision_name).DEFAULT
    try:
        state = weights.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # URLError, socket errors, hash mismatch
        raise RuntimeError(
            f"could not download torchvision's pretrained weights for '{torchvision_name}' ({err}). "
            "Connect to the internet and try again, or build the model with pretrained=False and train it "
            "on cnnedu's embedded data set (cnnedu.data.shapes_dataset)."
        ) from err
    return load_state_dict_by_order(model, state)
