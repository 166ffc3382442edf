"""Tests for cnnedu.data: the embedded shapes data set, loaders and fallback, photos, ImageNet transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets

from cnnedu.data import (
    CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PCAColorAugment,
    alexnet_train_transform,
    imagenet_eval_transform,
    loaders,
    photo,
    shapes_dataset,
    to_tensor_photo,
)
from cnnedu.models import linear_classifier, small_cnn
from cnnedu.train import QUICK, fit


@pytest.fixture(scope="module")
def shapes() -> torch.utils.data.TensorDataset:
    return shapes_dataset(2000, seed=0)


def test_shapes_dataset_format(shapes):
    x, y = shapes.tensors
    assert x.shape == (2000, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.long
    assert 0 <= x.min() and x.max() <= 1
    assert torch.equal(y.bincount(), torch.full((10,), 200))  # balanced
    assert len(CLASSES) == 10 and all(isinstance(n, str) and isinstance(d, str) for n, d in CLASSES)
    assert len({n for n, _ in CLASSES}) == 10


def test_shapes_dataset_is_deterministic_by_seed(shapes):
    again = shapes_dataset(2000, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(again.tensors, shapes.tensors, strict=True))
    other = shapes_dataset(2000, seed=1)
    assert not torch.equal(other.tensors[0], shapes.tensors[0])


def test_shapes_dataset_other_size_and_bad_arguments():
    x, _ = shapes_dataset(20, size=64, seed=3).tensors
    assert x.shape == (20, 3, 64, 64)
    with pytest.raises(ValueError, match="n must be"):
        shapes_dataset(0)
    with pytest.raises(ValueError, match="size must be"):
        shapes_dataset(10, size=4)


def test_colour_is_not_a_shortcut(shapes):
    # every class has about the same mean colour: random colours per image, never per class
    x, y = shapes.tensors
    per_image = x.mean(dim=(2, 3))
    overall = per_image.mean(0)
    for label in range(10):
        assert (per_image[y == label].mean(0) - overall).abs().max() < 0.05, CLASSES[label][0]


def test_loaders_shapes_split_and_seeded_shuffle():
    train, test = loaders(n_train=300, n_test=100, batch_size=64)
    assert len(train.dataset) == 300 and len(test.dataset) == 100 and len(train) == 5
    x, y = next(iter(train))
    assert x.shape == (64, 3, 32, 32) and y.shape == (64,)
    # test images are not training images
    assert not any(torch.equal(test.dataset.tensors[0][0], img) for img in train.dataset.tensors[0])
    # the same seed gives the same order; the test loader is not shuffled
    train2, _ = loaders(n_train=300, n_test=100, batch_size=64)
    assert torch.equal(next(iter(train2))[1], y)
    assert torch.equal(next(iter(test))[1], test.dataset.tensors[1][:64])


def test_loaders_unknown_name_lists_the_accepted_ones():
    with pytest.raises(ValueError, match="shapes, cifar10, fashion_mnist"):
        loaders("imagenet")


def test_loaders_not_cached_falls_back_to_shapes(tmp_path, capsys):
    # download=False and an empty cache: torchvision refuses without touching the network
    train, _ = loaders("cifar10", n_train=50, n_test=20, root=tmp_path)
    out = capsys.readouterr().out
    assert "cifar10 is not cached" in out and "shapes" in out and out.count("\n") == 1
    assert torch.equal(train.dataset.tensors[0], shapes_dataset(70).tensors[0][:50])


def test_loaders_offline_download_falls_back(monkeypatch, tmp_path, capsys):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(datasets, "FashionMNIST", offline)
    train, test = loaders("fashion_mnist", n_train=30, n_test=10, download=True, root=tmp_path)
    out = capsys.readouterr().out
    assert "fashion_mnist could not be downloaded" in out and "network is unreachable" in out
    assert train.dataset.tensors[0].shape == (30, 3, 32, 32)


def test_loaders_real_dataset_path(monkeypatch, tmp_path):
    class FakeFashion:  # what torchvision.datasets.FashionMNIST exposes
        def __init__(self, root, train, download):
            n = 40 if train else 12
            self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
            self.targets = torch.arange(n) % 10

    monkeypatch.setattr(datasets, "FashionMNIST", FakeFashion)
    train, test = loaders("fashion_mnist", n_train=None, n_test=5, size=32, root=tmp_path, batch_size=8)
    x = train.dataset.tensors[0]
    assert x.shape == (40, 3, 32, 32) and len(test.dataset) == 5
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])  # grey copied to three channels
    assert 0 <= x.min() and x.max() <= 1


def test_photo_names_and_modes():
    cat = photo("chelsea")
    assert isinstance(cat, Image.Image) and cat.mode == "RGB" and cat.size == (451, 300)
    grey = np.asarray(photo("camera"))
    assert grey.shape[-1] == 3 and np.array_equal(grey[..., 0], grey[..., 2])
    with pytest.raises(ValueError, match="chelsea"):
        photo("lena")


def test_imagenet_eval_transform_normalizes():
    img = Image.new("RGB", (300, 400), (255, 128, 0))
    out = imagenet_eval_transform()(img)
    assert out.shape == (3, 224, 224)
    expected = (torch.tensor([255, 128, 0]) / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(out[:, 100, 100], expected, atol=1e-5)
    assert imagenet_eval_transform(size=112, resize=128)(img).shape == (3, 112, 112)


def test_to_tensor_photo_shape():
    assert to_tensor_photo("chelsea").shape == (1, 3, 224, 224)
    assert to_tensor_photo("coffee", size=112).shape == (1, 3, 112, 112)


def test_alexnet_train_transform_is_random_crop_of_right_size():
    torch.manual_seed(0)
    img = photo("astronaut")
    t = alexnet_train_transform()
    a, b = t(img), t(img)
    assert a.shape == b.shape == (3, 224, 224)
    assert not torch.equal(a, b)
    assert any(isinstance(s, PCAColorAugment) for s in t.transforms)


def test_pca_defaults_are_the_published_imagenet_values():
    pca = PCAColorAugment()
    assert torch.allclose(pca.eigvals, torch.tensor([0.2175, 0.0188, 0.0045]))
    # the published eigenvectors are orthonormal columns (to their 4 printed digits)
    assert torch.allclose(pca.eigvecs.T @ pca.eigvecs, torch.eye(3), atol=2e-3)


def test_pca_fit_recovers_a_known_covariance():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[0.3, 0.0, 0.0], [0.2, 0.1, 0.0], [0.1, 0.05, 0.02]])
    pixels = torch.randn(200_000, 3, generator=g, dtype=torch.float64) @ mix.double().T
    images = pixels.T.reshape(3, 400, 500).float()
    pca = PCAColorAugment().fit(images)
    true_cov = mix @ mix.T
    assert torch.allclose(pca.covariance, true_cov, atol=2e-3)
    assert torch.all(pca.eigvals[:-1] >= pca.eigvals[1:])  # sorted, largest first
    rebuilt = pca.eigvecs @ torch.diag(pca.eigvals) @ pca.eigvecs.T
    assert torch.allclose(rebuilt, pca.covariance, atol=1e-5)
    # numpy's eigen-decomposition agrees on the eigenvalues
    numpy_vals = np.linalg.eigvalsh(pca.covariance.numpy())[::-1]
    assert np.allclose(numpy_vals, pca.eigvals.numpy(), atol=1e-6)


def test_pca_augment_adds_one_shift_per_image_along_the_eigenvectors():
    img = torch.rand(2, 3, 8, 8)
    pca = PCAColorAugment(std=0.1, generator=torch.Generator().manual_seed(5))
    out = pca(img)
    delta = out - img
    # the same RGB offset at every pixel of an image, a different one per image
    assert torch.allclose(delta, delta[..., :1, :1].expand_as(delta), atol=1e-6)
    assert not torch.allclose(delta[0, :, 0, 0], delta[1, :, 0, 0])
    alpha = torch.randn(2, 3, generator=torch.Generator().manual_seed(5)) * 0.1
    expected = sum(alpha[:, i, None] * pca.eigvals[i] * pca.eigvecs[:, i] for i in range(3))
    assert torch.allclose(delta[:, :, 0, 0], expected, atol=1e-6)
    assert torch.equal(PCAColorAugment(std=0)(img), img)
    with pytest.raises(ValueError, match="std"):
        PCAColorAugment(std=-1)


@pytest.fixture(scope="module")
def small_data():
    return loaders(n_train=3000, n_test=500, batch_size=32)


def test_small_cnn_learns(small_data):
    torch.manual_seed(0)
    hist = fit(small_cnn(), small_data, epochs=3, progress=False, **QUICK)
    assert hist.test_acc[-1] > 0.6  # chance is 0.1; the full recipe (8k images, 4 epochs) reaches over 95 %


def test_linear_model_is_clearly_worse(small_data):
    torch.manual_seed(0)
    hist = fit(linear_classifier(), small_data, epochs=3, progress=False, **QUICK)
    assert hist.test_acc[-1] < 0.3


def test_plus_and_cross_are_drawn_differently():
    from cnnedu.data import CLASSES, _signed_distance

    names = [name for name, _ in CLASSES]
    plus, cross = names.index("plus"), names.index("cross")
    on_axis, on_diagonal = torch.tensor([0.8, 0.0]), torch.tensor([0.55, 0.55])
    # the plus's arms run along the axes, the cross's along the diagonals (negative: inside)
    assert _signed_distance(plus, *on_axis) < 0 < _signed_distance(cross, *on_axis)
    assert _signed_distance(cross, *on_diagonal) < 0 < _signed_distance(plus, *on_diagonal)
    # same strokes: the cross is the plus turned 45 degrees
    a = torch.tensor(0.7)
    turned = torch.stack([a * torch.cos(torch.tensor(math.pi / 4)), a * torch.sin(torch.tensor(math.pi / 4))])
    assert torch.isclose(_signed_distance(cross, *turned), _signed_distance(plus, a, torch.tensor(0.0)), atol=1e-6)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"n_train": -1}, "n_train"), ({"n_train": 0}, "n_train"), ({"n_test": -5}, "n_test"),
    ({"batch_size": 0}, "batch_size"), ({"size": 0}, "size"), ({"n_train": 2.5}, "n_train"),
])
def test_loaders_reject_sizes_that_are_not_positive(kwargs, name):
    from cnnedu.data import loaders

    with pytest.raises(ValueError, match=name):
        loaders(**kwargs)
