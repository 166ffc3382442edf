"""Data for the course: an embedded shapes data set, CIFAR-10 / Fashion-MNIST when online, real photographs.

The embedded data set is drawn on the fly (no download) so that every notebook runs offline in seconds. Its
ten classes are designed so that architecture choices show: a linear model on pixels fails (random colours,
positions, scales and phases cancel out), a small CNN with pooling succeeds. A second generated task,
"bars_dots", needs a statistic of the whole image (notebook 12, squeeze-and-excitation). ImageNet preprocessing and
AlexNet's augmentations (Krizhevsky et al. 2012, Section 4.1) work on scikit-image's photographs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset
from torchvision import transforms

from cnnedu.blocks import check_positive

__all__ = [
    "CLASSES",
    "shapes_dataset",
    "BARS_DOTS_CLASSES",
    "bars_dots_dataset",
    "loaders",
    "tensor_loader",
    "DATASETS",
    "PHOTOS",
    "photo",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGENET_EIGVALS",
    "IMAGENET_EIGVECS",
    "PCAColorAugment",
    "imagenet_eval_transform",
    "alexnet_train_transform",
    "to_tensor_photo",
]

# ----------------------------------------------------------------------------------------------------------
# The embedded "shapes" data set
# ----------------------------------------------------------------------------------------------------------

CLASSES: list[tuple[str, str]] = [
    ("disk", "a filled disk"),
    ("ring", "a ring: the disk with a hole; only the centre differs from 'disk'"),
    ("square", "a filled square, tilted at most 15 degrees"),
    ("plus", "a plus sign '+' (arms along the axes)"),
    ("cross", "a cross 'x' (the plus turned 45 degrees): same strokes, other orientation"),
    ("h_stripes", "a square patch of horizontal stripes"),
    ("v_stripes", "a square patch of vertical stripes: the same texture turned 90 degrees"),
    ("checkerboard", "a square patch of checkerboard texture"),
    ("side_by_side", "two small disks side by side (left and right)"),
    ("stacked", "two small disks one above the other: same parts as 'side_by_side', other arrangement"),
]

# Each image: a background of random colour with a random linear gradient, the object in another random colour
# (in 15 % of the images at about the background's luminance, so that only colour-opponent filters see it),
# two small distractor dots of random colours, and pixel noise.
_ISOLUMINANT = 0.15
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights
_MAX_TILT = math.radians(15)


def _rand(g: np.random.Generator, *shape: int) -> torch.Tensor:
    # NumPy's PCG64 draws uniforms several times faster than torch's CPU generator (Mersenne twister)
    return torch.from_numpy(g.random(shape, dtype=np.float32))


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    return rgb @ torch.tensor(_LUMA)


def _object_colours(n: int, g: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random background and object colours, far enough apart; some isoluminant (colour relation only)."""
    bg = _rand(g, n, 3)
    fg = _rand(g, n, 3)
    iso = _rand(g, n) < _ISOLUMINANT
    todo = torch.arange(n)
    for _ in range(100):  # rejection sampling, vectorised over the images still failing
        f = fg[todo]
        f = torch.where(iso[todo, None], (f + (_luma(bg[todo]) - _luma(f))[:, None]).clamp(0, 1), f)
        fg[todo] = f
        bad = (fg[todo] - bg[todo]).norm(dim=1) < 0.35
        todo = todo[bad]
        if len(todo) == 0:
            break
        fg[todo] = _rand(g, len(todo), 3)
    return bg, fg


def _signed_distance(label: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside, in units of the object's radius) of the shape classes 0-4, 8, 9."""
    if label == 0:
        return torch.sqrt(u * u + v * v) - 1.0
    if label == 1:
        return (torch.sqrt(u * u + v * v) - 0.75).abs() - 0.25
    if label == 2:
        return torch.maximum(u.abs(), v.abs()) - 0.85
    if label in (3, 4):
        if label == 4:
            u, v = (u + v) / math.sqrt(2), (v - u) / math.sqrt(2)
        w = 0.3  # half-width of an arm
        au, av = u.abs(), v.abs()
        return torch.minimum(torch.maximum(au - 1.0, av - w), torch.maximum(au - w, av - 1.0))
    if label == 8:
        return torch.sqrt((u.abs() - 0.6) ** 2 + v * v) - 0.4
    if label == 9:
        return torch.sqrt(u * u + (v.abs() - 0.6) ** 2) - 0.4
    raise ValueError(f"label {label} is not a shape class")


def _texture_mask(label: int, u: torch.Tensor, v: torch.Tensor, r: torch.Tensor, phase: torch.Tensor,
                  period: torch.Tensor) -> torch.Tensor:
    """Coverage in [0, 1] of the texture classes 5-7: a square patch filled with stripes or checks."""
    x, y = u * r, v * r  # pixels, in the patch's (tilted) frame
    if label == 5:
        wave = torch.sin(2 * math.pi * (y / period + phase))
    elif label == 6:
        wave = torch.sin(2 * math.pi * (x / period + phase))
    else:
        wave = torch.sin(math.pi * (x / period + phase)) * torch.sin(math.pi * (y / period + phase)) * 2.0
    patch = (0.5 - (torch.maximum(u.abs(), v.abs()) - 1.0) * r).clamp(0, 1)
    return patch * (0.5 + 2.0 * wave).clamp(0, 1)


def _render(labels: torch.Tensor, size: int, g: np.random.Generator, out: torch.Tensor) -> None:
    """Draw the images of ``labels`` into ``out`` (len(labels), 3, size, size), in place."""
    n = len(labels)
    s = size / 32  # every length below is given for 32-pixel images and scales with the size
    # Random parameters, all drawn up front in one fixed order so that the images depend only on the seed.
    is_texture = (labels >= 5) & (labels <= 7)
    r = s * torch.where(is_texture, 8.0 + 4.0 * _rand(g, n), 7.0 + 5.0 * _rand(g, n))
    margin = 0.9 * r
    cx = margin + (size - 2 * margin) * _rand(g, n)
    cy = margin + (size - 2 * margin) * _rand(g, n)
    tilt = _MAX_TILT * (2 * _rand(g, n) - 1)
    bg, fg = _object_colours(n, g)
    grad_dir = 2 * math.pi * _rand(g, n)
    grad_amp = 0.3 * _rand(g, n)
    noise_std = 0.02 + 0.04 * _rand(g, n)
    phase = _rand(g, n)
    period = s * (4.0 + 2.0 * _rand(g, n))
    dots_xy = size * _rand(g, n, 2, 2)
    dots_r = s * (0.7 + 0.5 * _rand(g, n, 2))
    dots_rgb = _rand(g, n, 2, 3)
    # uniform pixel noise (zero mean, unit variance, then scaled): cheaper than Gaussian, looks the same
    noise = _rand(g, n, 3, size, size).sub_(0.5).mul_(math.sqrt(12))

    coords = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = coords[:, None], coords[None, :]
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    cos, sin = torch.cos(tilt)[:, None, None], torch.sin(tilt)[:, None, None]
    rr = r[:, None, None]
    u, v = (cos * dx + sin * dy) / rr, (-sin * dx + cos * dy) / rr

    cover = torch.empty(n, size, size)
    for label in range(len(CLASSES)):
        idx = (labels == label).nonzero().squeeze(1)
        if len(idx) == 0:
            continue
        ui, vi, ri = u[idx], v[idx], rr[idx]
        if 5 <= label <= 7:
            cover[idx] = _texture_mask(label, ui, vi, ri, phase[idx, None, None], period[idx, None, None])
        else:  # anti-aliased edge: coverage goes from 1 to 0 over one pixel across the boundary
            cover[idx] = (0.5 - _signed_distance(label, ui, vi) * ri).clamp(0, 1)

    cos_g, sin_g = torch.cos(grad_dir)[:, None, None], torch.sin(grad_dir)[:, None, None]
    ramp = grad_amp[:, None, None] * (cos_g * (xs - size / 2) + sin_g * (ys - size / 2)) / size
    img = torch.add(bg[:, :, None, None], ramp[:, None], out=out)
    _paint(img, fg, cover)
    for k in range(dots_xy.shape[1]):
        d = torch.sqrt((xs - dots_xy[:, k, 0, None, None]) ** 2 + (ys - dots_xy[:, k, 1, None, None]) ** 2)
        _paint(img, dots_rgb[:, k], (0.5 - (d - dots_r[:, k, None, None])).clamp_(0, 1))
    img.addcmul_(noise, noise_std[:, None, None, None]).clamp_(0, 1)


def _paint(img: torch.Tensor, rgb: torch.Tensor, cover: torch.Tensor) -> None:
    """img <- (1 - cover) img + cover rgb, in place (cheaper than torch.lerp with broadcast colours)."""
    img.addcmul_(rgb[:, :, None, None] - img, cover[:, None])


def shapes_dataset(n: int = 10000, size: int = 32, seed: int = 0) -> TensorDataset:
    """The embedded data set: ``n`` RGB images of the ten ``CLASSES`` at ``size`` pixels, balanced, by seed.

    Returns a TensorDataset of float images in [0, 1], shape (n, 3, size, size), and long labels. Colour,
    position, scale (7-12 px radius at 32 px), tilt (+-15 degrees), stripe phase and background are random
    per image, so no single pixel or colour predicts the class; the pairs ring/disk, plus/cross,
    h_stripes/v_stripes and side_by_side/stacked differ only in spatial arrangement.
    """
    for name, value, low in (("n", n, 1), ("size", size, 8)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    g = np.random.default_rng(seed)
    labels = torch.from_numpy(g.permutation(n)) % len(CLASSES)
    images = torch.empty(n, 3, size, size)
    threads = torch.get_num_threads()
    # One thread: these element-wise ops on 1024-image chunks are memory-bound, and on a shared CPU OpenMP
    # threads waiting for each other made generation several times slower (measured: 21 s vs 3 s).
    torch.set_num_threads(1)
    try:
        for i in range(0, n, 1024):  # chunks keep the temporaries small
            _render(labels[i:i + 1024], size, g, images[i:i + 1024])
    finally:
        torch.set_num_threads(threads)
    return TensorDataset(images, labels)


# ----------------------------------------------------------------------------------------------------------
# "bars_dots": a task that needs global context (notebook 12, SENet)
# ----------------------------------------------------------------------------------------------------------

BARS_DOTS_CLASSES: list[tuple[str, str]] = [
    ("H few / V many", "a horizontal bar with few red dots, or a vertical bar with many"),
    ("H many / V few", "a horizontal bar with many red dots, or a vertical bar with few"),
]


def bars_dots_dataset(n: int = 4000, size: int = 24, few: int = 4, many: int = 8, length: int = 7,
                      noise: float = 0.1, seed: int = 0,
                      factors: bool = False) -> TensorDataset | tuple[TensorDataset, torch.Tensor, torch.Tensor]:
    """Images whose label needs a local feature AND a global count: (bar orientation) XOR (many dots).

    Each ``size`` x ``size`` RGB image is mid-grey with Gaussian pixel noise (std ``noise``), one white bar
    (``length`` px long, 1 px wide, horizontal or vertical) and ``few`` or ``many`` red 2 x 2 dots, all at
    random places. Label 1 = (vertical) XOR (many dots), ``BARS_DOTS_CLASSES``. The orientation is visible
    in a 3 x 3 window; the dot count is a statistic of the whole image that a small window cannot estimate
    (it sees a dot or two, for either count). A network that classifies globally pooled features
    linearly adds the evidence of its windows, so unless one window sees the bar and enough of the dots it
    cannot form the XOR; a gate fed by the squeezed (globally pooled) features can switch the bar detectors
    with the count (Hu et al., arXiv:1709.01507, Section 3.1: the squeeze embeds global information).

    The four (orientation, count) combinations are balanced. With ``factors=True`` returns also two long
    tensors: ``vertical`` (1 = vertical bar) and ``many`` (1 = many dots).
    """
    for name, value, low in (("n", n, 1), ("size", size, 8), ("few", few, 0), ("many", many, 1),
                             ("length", length, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not few < many:
        raise ValueError(f"few must be smaller than many, got few={few}, many={many}")
    if length > size:
        raise ValueError(f"length must be at most size ({size}), got {length}")
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    g = np.random.default_rng(seed)
    combo = torch.from_numpy(g.permutation(n)) % 4  # balanced: (vertical, many) = (c % 2, c // 2)
    vertical, many_dots = combo % 2, combo // 2
    images = torch.from_numpy(g.standard_normal((n, 3, size, size), dtype=np.float32)).mul_(noise).add_(0.5)
    idx = torch.arange(n)
    half = length // 2
    # the bar's centre keeps the whole bar inside the image
    along = torch.from_numpy(g.integers(half, size - (length - half) + 1, n))
    across = torch.from_numpy(g.integers(0, size, n))
    for k in range(-half, length - half):
        row = torch.where(vertical == 1, along + k, across)
        col = torch.where(vertical == 1, across, along + k)
        images[idx, :, row, col] = 0.95
    dots = torch.from_numpy(g.integers(0, size - 1, (n, many, 2)))  # top-left corners of the 2 x 2 dots
    count = torch.where(many_dots == 1, many, few)
    red = torch.tensor([0.95, 0.15, 0.15])
    for k in range(many):
        sel = idx[count > k]
        for dy in (0, 1):
            for dx in (0, 1):
                images[sel, :, dots[sel, k, 0] + dy, dots[sel, k, 1] + dx] = red
    images.clamp_(0, 1)
    ds = TensorDataset(images, (vertical ^ many_dots).long())
    return (ds, vertical.long(), many_dots.long()) if factors else ds


# ----------------------------------------------------------------------------------------------------------
# Loaders: the embedded data or a real data set
# ----------------------------------------------------------------------------------------------------------

DATASETS = ("shapes", "cifar10", "fashion_mnist", "bars_dots")


def tensor_loader(dataset: TensorDataset, batch_size: int = 128, shuffle: bool = True, seed: int = 0,
                  drop_last: bool = False) -> DataLoader:
    """A DataLoader that slices a TensorDataset one batch at a time (fast), shuffled by a seeded generator.

    ``loader.generator`` drives the shuffling; ``cnnedu.train.fit`` re-seeds it so that runs repeat exactly.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    g = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, generator=g) if shuffle else SequentialSampler(dataset)
    # batch_size=None: BatchSampler hands a list of indices to TensorDataset, which slices the tensors at once
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None,
                      num_workers=0, generator=g)


def _torchvision_tensors(name: str, root: Path, train: bool, download: bool, size: int) -> TensorDataset:
    """The whole split of a torchvision data set as float tensors (3 channels, ``size`` pixels)."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.FashionMNIST
    ds = cls(str(root), train=train, download=download)
    x = torch.as_tensor(np.asarray(ds.data))
    if x.ndim == 3:  # Fashion-MNIST: (N, 28, 28) grey -> three equal channels
        x = x[:, None].expand(-1, 3, -1, -1)
    else:  # CIFAR-10: (N, 32, 32, 3) -> (N, 3, 32, 32)
        x = x.permute(0, 3, 1, 2)
    x = x.float().div_(255)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True).clamp_(0, 1)
    return TensorDataset(x.contiguous(), torch.as_tensor(ds.targets, dtype=torch.long))


def _subset(ds: TensorDataset, n: int | None, seed: int) -> TensorDataset:
    if n is None or n >= len(ds):
        return ds
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorDataset(*(t[idx] for t in ds.tensors))


def loaders(name: str = "shapes", batch_size: int = 128, n_train: int | None = 8000,
            n_test: int | None = 2000, size: int = 32, seed: int = 0, download: bool = False,
            root: str | Path = "~/.cache/cnnedu") -> tuple[DataLoader, DataLoader]:
    """Train and test loaders for ``name`` in {"shapes", "cifar10", "fashion_mnist", "bars_dots"}.

    Real data sets come through torchvision when ``download=True`` or already cached under ``root``; when
    they cannot be had (offline, or no cache and ``download=False``) one message says so and the embedded
    shapes data set is used instead. ``n_train`` / ``n_test`` take a seeded random subset (None: all).
    "bars_dots" is :func:`bars_dots_dataset` (drawn, like "shapes", from ``seed``).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {', '.join(DATASETS)}; got {name!r}")
    for label, value in (("batch_size", batch_size), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{label} must be a positive integer or None (all), got {value!r}")
    if name not in ("shapes", "bars_dots"):
        try:
            root = Path(root).expanduser()
            train = _subset(_torchvision_tensors(name, root, True, download, size), n_train, seed)
            test = _subset(_torchvision_tensors(name, root, False, download, size), n_test, seed + 1)
        except Exception as err:  # offline, not cached, corrupt: all mean "use the embedded data"
            how = "could not be downloaded" if download else "is not cached (pass download=True)"
            print(f"cnnedu.data: {name} {how} ({type(err).__name__}: {err}); "
                  f"using the embedded shapes data set instead.")
            name = "shapes"
    if name in ("shapes", "bars_dots"):
        n_train = 8000 if n_train is None else n_train
        n_test = 2000 if n_test is None else n_test
        make = shapes_dataset if name == "shapes" else bars_dots_dataset
        full = make(n_train + n_test, size=size, seed=seed)
        train = TensorDataset(*(t[:n_train] for t in full.tensors))
        test = TensorDataset(*(t[n_train:] for t in full.tensors))
    return (tensor_loader(train, batch_size, shuffle=True, seed=seed),
            tensor_loader(test, batch_size, shuffle=False, seed=seed))


# ----------------------------------------------------------------------------------------------------------
# Photographs and ImageNet preprocessing
# ----------------------------------------------------------------------------------------------------------

# Photographs that scikit-image ships inside its package (no download); name -> skimage.data function
PHOTOS = ("astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "horse",
          "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text")

# Channel statistics of ImageNet's training images (RGB in [0, 1]), as used by torchvision's pretrained models
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Eigen-decomposition of ImageNet's RGB covariance (pixels in [0, 1]) as published with fb.resnet.torch
# (datasets/imagenet.lua, "pca"), the values used by AlexNet-style "Lighting" augmentation ever since.
# Columns of IMAGENET_EIGVECS are the eigenvectors p_1, p_2, p_3.
IMAGENET_EIGVALS = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVECS = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def photo(name: str = "chelsea") -> Image.Image:
    """A photograph shipped with scikit-image (``PHOTOS``) as an RGB PIL image (grey ones get 3 channels)."""
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {', '.join(PHOTOS)}; got {name!r}")
    from skimage import data as skdata

    a = np.asarray(getattr(skdata, name)())
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:  # float images in [0, 1]
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(a[..., :3]), mode="RGB")


class PCAColorAugment(torch.nn.Module):
    """AlexNet's colour augmentation: add sum_i alpha_i lambda_i p_i to every pixel, alpha_i ~ N(0, std²).

    Krizhevsky, Sutskever, Hinton 2012, "ImageNet Classification with Deep Convolutional Neural Networks",
    Section 4.1: p_i and lambda_i are the eigenvectors and eigenvalues of the 3x3 covariance of RGB pixel
    values over the training set; one alpha is drawn per image (per call), so the shift is the same for all
    its pixels: it changes the intensity and colour of the illumination, not the object. Works on tensors in
    [0, 1] of shape (3, H, W) or (N, 3, H, W), before normalization.
    """

    def __init__(self, std: float = 0.1, eigvals: Sequence[float] | torch.Tensor | None = None,
                 eigvecs: Sequence[Sequence[float]] | torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(std, (int, float)) or std < 0:
            raise ValueError(f"std must be a number >= 0, got {std!r}")
        self.std = float(std)
        self.eigvals = torch.as_tensor(IMAGENET_EIGVALS if eigvals is None else eigvals, dtype=torch.float32)
        self.eigvecs = torch.as_tensor(IMAGENET_EIGVECS if eigvecs is None else eigvecs, dtype=torch.float32)
        if self.eigvals.shape != (3,) or self.eigvecs.shape != (3, 3):
            raise ValueError("eigvals must have 3 values and eigvecs be 3x3 (one eigenvector per column)")
        self.covariance: torch.Tensor | None = None  # set by fit()
        self.generator = generator

    def fit(self, images: torch.Tensor | Sequence[torch.Tensor]) -> PCAColorAugment:
        """RGB covariance of ``images`` (each (3, H, W) or (N, 3, H, W)) and its eigen-decomposition."""
        if isinstance(images, torch.Tensor):
            images = [images]
        pixels = torch.cat([im.reshape(-1, 3, im.shape[-2] * im.shape[-1]).transpose(1, 2).reshape(-1, 3)
                            for im in images]).double()
        centred = pixels - pixels.mean(0)
        self.covariance = (centred.T @ centred / (len(pixels) - 1)).float()
        vals, vecs = torch.linalg.eigh(self.covariance.double())  # ascending; the covariance is symmetric
        order = vals.argsort(descending=True)
        self.eigvals, self.eigvecs = vals[order].float(), vecs[:, order].float()
        return self

    def shift(self, alpha: torch.Tensor) -> torch.Tensor:
        """The RGB offset [p_1 p_2 p_3] [alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T per row."""
        return (alpha * self.eigvals) @ self.eigvecs.T

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if self.std == 0:
            return img
        batch = img.shape[:-3]
        alpha = torch.randn(*batch, 3, generator=self.generator) * self.std
        return img + self.shift(alpha).to(img)[..., :, None, None]

    def extra_repr(self) -> str:
        vals = ", ".join(f"{v:.4f}" for v in self.eigvals.tolist())
        return f"std={self.std}, eigvals=[{vals}]"


def imagenet_eval_transform(size: int = 224, resize: int = 256) -> transforms.Compose:
    """ImageNet evaluation preprocessing: short side to ``resize``, centre crop ``size``, normalize."""
    check_positive("size", size, integer=True)
    check_positive("resize", resize, integer=True)
    return transforms.Compose([
        transforms.Resize(resize),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def alexnet_train_transform(size: int = 224, resize: int = 256, pca_std: float = 0.1) -> transforms.Compose:
    """AlexNet's training augmentation: random ``size`` crops of ``resize`` images, flips, PCA colour noise.

    Krizhevsky et al. 2012, Section 4.1: images rescaled to 256 x 256 (short side, then centre crop), random
    224 x 224 patches and their horizontal reflections, and the PCA colour augmentation (``PCAColorAugment``).
    """
    check_positive("size", size, integer=True)
    check_positive("resize", resize, integer=True)
    if size > resize:
        raise ValueError(f"size must be at most resize ({resize}): the random crops are cut from the resized "
                         f"image, got {size}")
    if isinstance(pca_std, bool) or not isinstance(pca_std, (int, float)) or not 0 <= pca_std < math.inf:
        raise ValueError(f"pca_std must be a number >= 0 (the std of the colour noise; 0 turns it off), "
                         f"got {pca_std!r}")
    return transforms.Compose([
        transforms.Resize(resize),
        transforms.CenterCrop(resize),
        transforms.RandomCrop(size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        PCAColorAugment(pca_std),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def to_tensor_photo(name: str = "chelsea", size: int = 224) -> torch.Tensor:
    """``photo(name)`` preprocessed for an ImageNet model: a normalized (1, 3, size, size) tensor."""
    return imagenet_eval_transform(size=size, resize=round(size * 256 / 224))(photo(name)).unsqueeze(0)
