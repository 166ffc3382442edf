"""The train-test resolution discrepancy (FixRes): random-resized crops for training, centre crops for testing.

Touvron, Vedaldi, Douze and Jégou 2019, *Fixing the train-test resolution discrepancy*, arXiv:1906.06423.
Training crops a random region of a random fraction ``s`` of the image area (``RandomResizedCrop``) and resizes
it to ``K_train`` pixels; testing resizes the whole image and keeps a centre crop of ``K_test`` pixels. The crop
zooms in by ``1 / sqrt(s)`` on average, so the same object looks larger in training than at test; testing at a
higher resolution than training restores the apparent object size (Section 3, Eq. 5 and Fig. 3).

Everything works on batches of image tensors (N, 3, H, W) with ``torchvision.transforms.v2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from cnnedu.blocks import check_positive

__all__ = ["CROP_RATIO", "RandomResizedCrops", "expected_zoom", "eval_transform", "eval_views",
           "accuracy_by_resolution"]

# The ImageNet test pipeline's Resize(256) + CenterCrop(224): the crop keeps 224 / 256 = 87.5 % of the short side
CROP_RATIO = 224 / 256


def _check_scale(scale: Sequence[float]) -> tuple[float, float]:
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must be a pair 0 < low <= high <= 1, got {scale!r}")
    return float(scale[0]), float(scale[1])


def expected_zoom(scale: Sequence[float] = (0.08, 1.0)) -> float:
    """E[1 / sqrt(s)] for a crop area fraction s ~ U(low, high): the mean linear zoom of RandomResizedCrop.

    In closed form 2 (sqrt(high) - sqrt(low)) / (high - low); the aspect-ratio jitter and the rejection of
    crops larger than the image are ignored (torchvision falls back to a centre crop after ten tries).
    """
    low, high = _check_scale(scale)
    if low == high:
        return 1 / math.sqrt(low)
    return 2 * (math.sqrt(high) - math.sqrt(low)) / (high - low)


class RandomResizedCrops(nn.Module):
    """torchvision's ``RandomResizedCrop``, drawn independently for every image of a batch.

    ``v2.RandomResizedCrop`` applied to a batch tensor crops all its images alike; the training pipelines of
    the papers crop each image on its own (the transform runs per image in the data loader). This module does
    that on a batch already in memory, so it can serve as ``cnnedu.train.fit(augment=...)``. The crop
    parameters come from ``RandomResizedCrop.get_params`` and torch's global generator, so a seeded run repeats.
    """

    def __init__(self, size: int, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        super().__init__()
        check_positive("size", size, integer=True)
        self.crop = T.RandomResizedCrop(int(size), scale=_check_scale(scale), ratio=tuple(ratio), antialias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
        size = list(self.crop.size)
        return torch.stack([self._one(img, size) for img in x])

    def _one(self, img: torch.Tensor, size: list[int]) -> torch.Tensor:
        top, left, h, w = T.RandomResizedCrop.get_params(img, list(self.crop.scale), list(self.crop.ratio))
        return TF.resized_crop(img, top, left, h, w, size=size, antialias=True)

    def extra_repr(self) -> str:
        ratio = tuple(round(r, 3) for r in self.crop.ratio)
        return f"size={tuple(self.crop.size)}, scale={self.crop.scale}, ratio={ratio}"


def eval_transform(size: int, crop_ratio: float = CROP_RATIO) -> T.Compose:
    """The test pipeline at ``size`` pixels: Resize(round(size / crop_ratio)) then CenterCrop(size).

    At ``size`` = 224 this is ImageNet's Resize(256) + CenterCrop(224); every ``size`` sees the same central
    region of the image, only at another resolution (FixRes, Section 3.1).
    """
    check_positive("size", size, integer=True)
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"crop_ratio must be in (0, 1], got {crop_ratio!r}")
    return T.Compose([T.Resize(round(size / crop_ratio), antialias=True), T.CenterCrop(int(size))])


def eval_views(images: torch.Tensor, sizes: Sequence[int], crop_ratio: float = CROP_RATIO) -> dict[int, torch.Tensor]:
    """The test images at each of ``sizes``: {size: (N, C, size, size)} through :func:`eval_transform`."""
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, C, H, W), got shape {tuple(images.shape)}")
    return {int(s): eval_transform(s, crop_ratio)(images) for s in sizes}


@torch.no_grad()
def accuracy_by_resolution(model: nn.Module, views: dict[int, torch.Tensor], labels: torch.Tensor,
                           batch_size: int = 100) -> dict[int, float]:
    """Test accuracy (a fraction) of ``model`` at each resolution of ``views`` (from :func:`eval_views`).

    The model must accept any input size (global average pooling before its classifier); it runs in eval mode
    on its own device, and its train/eval mode is restored afterwards.
    """
    check_positive("batch_size", batch_size, integer=True)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = {}
    try:
        for size, x in views.items():
            correct = 0
            for i in range(0, len(x), batch_size):
                logits = model(x[i:i + batch_size].to(device))
                correct += (logits.argmax(1).cpu() == labels[i:i + batch_size]).sum().item()
            result[size] = correct / len(x)
    finally:
        model.train(was_training)
    return result
