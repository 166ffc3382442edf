"""Images: conversion, receptive fields drawn on images, filters, feature maps, grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnedu.viz._style import _as_numpy, _axes, _styled

# The normalisation of torchvision's ImageNet models, used to bring normalised images back to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ---------------------------------------------------------------------------------------------------------
# Images: conversion, receptive fields, filters, feature maps, grids.


def _to_hwc(image: Any, mean: Sequence[float] | None = None,
            std: Sequence[float] | None = None) -> np.ndarray:
    """An image as float HWC (or HW) in [0, 1]: from PIL, numpy HWC/CHW, or a tensor CHW / 1CHW.

    Values below zero mean a normalised image, de-normalised with ``mean`` and ``std`` (ImageNet's by
    default); values above 1.5 mean 0-255.
    """
    is_pil = hasattr(image, "convert") and hasattr(image, "getbands")
    if is_pil:
        image = np.asarray(image.convert("RGB"))
    chw = isinstance(image, torch.Tensor)
    arr = image.detach().cpu().float().numpy() if chw else np.asarray(image, dtype=np.float32)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"image must be a single image, got a batch of shape {arr.shape}")
        arr = arr[0]
    if arr.ndim == 3:
        if chw or (arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3)):
            arr = arr.transpose(1, 2, 0)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
        elif arr.shape[-1] != 3:
            raise ValueError(f"image must have 1 or 3 channels, got shape {arr.shape}")
    elif arr.ndim != 2:
        raise ValueError(f"image must be HW, HWC, CHW or 1CHW, got shape {arr.shape}")
    if arr.min() < 0:
        if arr.ndim == 3:
            sd = np.asarray(IMAGENET_STD if std is None else std, dtype=np.float32)
            mu = np.asarray(IMAGENET_MEAN if mean is None else mean, dtype=np.float32)
            arr = arr * sd + mu
        else:
            arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-12)
    elif arr.max() > 1.5:
        arr = arr / 255.0
    return np.clip(arr, 0.0, 1.0)


def _pair_int(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, Sequence) and len(value) == 2:
        return float(value[0]), float(value[1])
    raise ValueError(f"{name} must be a number or an (h, w) pair, got {value!r}")


@_styled
def receptive_field_on_image(
    image: Any,
    size: Any,
    center: tuple[float, float] | None = None,
    stride: Any = None,
    ax: Axes | None = None,
    label: str | None = None,
    color: str = "C1",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """A unit's receptive field drawn as a square on the image, with the grid of its neighbours' centres.

    ``size`` is the field in input pixels (a number, an (h, w) pair or a
    :class:`cnnedu.analysis.ReceptiveField`); ``center`` is (x, y) in pixels, the image centre by default;
    ``stride`` (the effective stride, Araujo et al., Distill 2019) adds dots at the centres of the
    neighbouring units and the dashed field of the next one. A field larger than the image is drawn beyond
    its border: the unit sees padding there. ``mean`` and ``std`` undo a normalisation other than ImageNet's.
    """
    sh, sw = _pair_int(_field_size(size), "size")
    if min(sh, sw) <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    if not is_color_like(color):
        raise ValueError(f"color must be a matplotlib colour ('C1', 'red', '#ff8800'...), got {color!r}")
    img = _to_hwc(image, mean, std)
    h, w = img.shape[:2]
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if center is None else (float(center[0]), float(center[1]))
    a = _axes(ax, figsize=(5.0, 5.0))
    a.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    a.grid(False)
    text = label or (f"receptive field {sh:g} × {sw:g} px" if sh != sw else f"receptive field {sh:g} px")
    a.add_patch(Rectangle((cx - sw / 2, cy - sh / 2), sw, sh, fill=False, lw=2.5, edgecolor=color,
                          label=text))
    a.plot([cx], [cy], marker="+", color=color, ms=12, mew=2)
    if stride is not None:
        jh, jw = _pair_int(stride, "stride")
        if min(jh, jw) <= 0:
            raise ValueError(f"stride must be positive, got {stride!r}")
        xs = cx + jw * np.arange(-math.floor(cx / jw), math.floor((w - 1 - cx) / jw) + 1)
        ys = cy + jh * np.arange(-math.floor(cy / jh), math.floor((h - 1 - cy) / jh) + 1)
        gx, gy = np.meshgrid(xs, ys)
        a.scatter(gx.ravel(), gy.ravel(), s=6, color="white", edgecolor="black", linewidths=0.4,
                  label=f"neighbouring units, every {jh:g} px" if jh == jw
                  else f"unit grid {jh:g} × {jw:g} px")
        # one neighbour's field, dashed, shows how much adjacent units overlap
        a.add_patch(Rectangle((cx + jw - sw / 2, cy - sh / 2), sw, sh, fill=False, lw=1.2, ls="--",
                              edgecolor=color, alpha=0.8))
    a.set_xlim(min(-0.5, cx - sw / 2 - 2), max(w - 0.5, cx + sw / 2 + 2))
    a.set_ylim(max(h - 0.5, cy + sh / 2 + 2), min(-0.5, cy - sh / 2 - 2))
    a.set(xlabel="x (px)", ylabel="y (px)", title=f"Receptive field on a {h} × {w} image")
    a.legend(loc="upper right", fontsize=8, frameon=True)
    return a.figure


def _field_size(v: Any) -> Any:
    """The size of a :class:`cnnedu.analysis.ReceptiveField`, or ``v`` itself when it is a number or pair."""
    if isinstance(v, (int, float, np.number, Sequence, torch.Tensor)):
        return v
    size = getattr(v, "size", None)
    if size is None:
        raise ValueError(f"a receptive field must be a number, an (h, w) pair or a ReceptiveField, got {v!r}")
    return size


def _rf_size(v: Any) -> float:
    s = _field_size(v)
    return float(max(s)) if isinstance(s, Sequence) else float(s)


@_styled
def receptive_field_growth(
    sizes: Mapping[str, Sequence[Any]] | Sequence[Any],
    ax: Axes | None = None,
    image_size: int | None = None,
    log: bool = False,
) -> Figure:
    """Receptive field size per layer, one curve per network (Araujo et al., Distill 2019).

    ``sizes`` is a list of sizes (or of :class:`cnnedu.analysis.ReceptiveField`) or a dict network -> list.
    ``image_size`` adds a dashed line at the input size: fields beyond it see padding.
    """
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, (int, float))
                                   or not image_size > 0):
        raise ValueError(f"image_size must be a positive number of pixels or None, got {image_size!r}")
    series = dict(sizes) if isinstance(sizes, Mapping) else {"": sizes}
    if not series or any(len(v) == 0 for v in series.values()):
        raise ValueError("sizes must hold at least one non-empty list of receptive field sizes")
    a = _axes(ax, figsize=(7.0, 4.0))
    for name, values in series.items():
        y = [_rf_size(v) for v in values]
        a.plot(np.arange(1, len(y) + 1), y, marker="o", ms=3, lw=2, label=name or None)
    if image_size is not None:
        a.axhline(image_size, color="0.4", ls="--", lw=1, label=f"input {image_size} px")
    a.set(xlabel="layer (in execution order)", ylabel="receptive field (px)", title="Receptive field growth")
    if log:
        a.set_yscale("log")
    if any(series) or image_size is not None:
        a.legend()
    return a.figure


def _check_ncols(ncols: int | None) -> None:
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1):
        raise ValueError(f"ncols must be a positive integer or None (a square-ish grid), got {ncols!r}")


def _mosaic(tiles: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Tiles (N, h, w[, 3]) laid out on a grid of ``ncols`` columns with ``pad`` pixels between them."""
    n, th, tw = tiles.shape[:3]
    nrows = math.ceil(n / ncols)
    shape = (nrows * (th + pad) - pad, ncols * (tw + pad) - pad, *tiles.shape[3:])
    out = np.full(shape, fill, dtype=np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[r * (th + pad): r * (th + pad) + th, c * (tw + pad): c * (tw + pad) + tw] = t
    return out


def _normalise_tiles(t: np.ndarray, normalize: str) -> np.ndarray:
    """Min-max to [0, 1] per tile ("each"), over all tiles ("all"), or symmetric around zero ("zero")."""
    axes = tuple(range(1, t.ndim))
    if normalize == "each":
        lo, hi = t.min(axis=axes, keepdims=True), t.max(axis=axes, keepdims=True)
    elif normalize == "all":
        lo, hi = t.min(), t.max()
    elif normalize == "zero":
        # zero stays mid-grey, so positive and negative weights read the same in every tile
        m = np.abs(t).max(axis=axes, keepdims=True)
        lo, hi = -m, m
    else:
        raise ValueError(f"normalize must be 'each', 'all' or 'zero', got {normalize!r}")
    return (t - lo) / np.maximum(hi - lo, 1e-12)


@_styled
def filter_grid(
    weight: Any,
    ncols: int | None = None,
    ax: Axes | None = None,
    normalize: str = "each",
    title: str | None = None,
) -> Figure:
    """Convolution filters (C_out, C_in, k, k) as tiles: RGB when C_in = 3, else input channel 0 in grey.

    Zeiler and Fergus (arXiv:1311.2901, Fig. 5) and AlexNet's Fig. 3 show first-layer filters this way.
    ``weight`` may be a tensor, an array or a conv module; ``normalize`` is "each", "all" or "zero".
    """
    if hasattr(weight, "weight") and not isinstance(weight, (torch.Tensor, np.ndarray)):
        weight = weight.weight
    w = _as_numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, k, k), got {w.shape}")
    c_out, c_in = w.shape[:2]
    rgb = c_in == 3
    tiles = w.transpose(0, 2, 3, 1) if rgb else w[:, 0]
    tiles = _normalise_tiles(tiles, normalize)
    _check_ncols(ncols)
    ncols = ncols or math.ceil(math.sqrt(c_out))
    mosaic = _mosaic(tiles, ncols)
    nrows = math.ceil(c_out / ncols)
    a = _axes(ax, figsize=(min(10.0, 0.6 * ncols + 1), min(10.0, 0.6 * nrows + 1)))
    a.imshow(mosaic, cmap=None if rgb else "gray", vmin=0, vmax=1, interpolation="nearest")
    a.set_axis_off()
    shape = " × ".join(str(s) for s in w.shape)
    a.set_title(title or f"{c_out} filters ({shape}){'' if rgb else ', input channel 0'}")
    return a.figure


@_styled
def feature_maps(
    tensor: Any,
    n: int = 16,
    ax: Axes | None = None,
    ncols: int | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """The first ``n`` channels of an activation (C, H, W) or (1, C, H, W), each scaled to its own range."""
    x = _as_numpy(tensor)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"tensor must hold one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"tensor must have shape (C, H, W) or (1, C, H, W), got {x.shape}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    _check_ncols(ncols)
    maps = _normalise_tiles(x[:n], "each")
    ncols = ncols or min(8, math.ceil(math.sqrt(len(maps))) if len(maps) <= 16 else 8)
    nrows = math.ceil(len(maps) / ncols)
    a = _axes(ax, figsize=(1.3 * ncols + 0.5, 1.3 * nrows + 0.6))
    a.imshow(_mosaic(maps, ncols, pad=max(1, x.shape[-1] // 16), fill=np.nan), cmap=cmap, vmin=0, vmax=1,
             interpolation="nearest")
    a.set_axis_off()
    a.set_title(title or f"First {len(maps)} of {x.shape[0]} feature maps ({x.shape[1]} × {x.shape[2]})")
    return a.figure


@_styled
def image_grid(
    images: Any,
    labels: Sequence[int] | Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 10,
    ax: Axes | None = None,
    predictions: Sequence[int] | Any = None,
    title: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """Images (N, C, H, W), (N, H, W, C) or a list of images on a grid, with their labels above them.

    With ``predictions`` each caption shows the prediction, green when right and red when wrong. Normalised
    images are de-normalised with ``mean`` and ``std`` (ImageNet's by default).
    """
    items = list(images)
    if not items:
        raise ValueError("images must hold at least one image")
    tiles = [_to_hwc(im, mean, std) for im in items]
    if len({t.shape for t in tiles}) != 1:
        raise ValueError(f"images must all have the same shape, got {sorted({t.shape for t in tiles})}")
    if ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols}")
    ncols = min(ncols, len(tiles))
    arr = np.stack(tiles)
    if arr.ndim == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    th, tw = arr.shape[1:3]
    pad = max(1, tw // 8)
    nrows = math.ceil(len(arr) / ncols)
    captions = labels is not None or predictions is not None
    a = _axes(ax, figsize=(1.2 * ncols + 0.4, (1.2 + 0.25 * captions) * nrows + 0.4))
    a.imshow(_mosaic(arr, ncols, pad=pad), interpolation="nearest")
    a.set_axis_off()

    def name(i: Any) -> str:
        i = int(i)
        return class_names[i] if class_names is not None and 0 <= i < len(class_names) else str(i)

    if captions:
        labels_l = None if labels is None else [int(v) for v in _as_numpy(labels).ravel()]
        preds_l = None if predictions is None else [int(v) for v in _as_numpy(predictions).ravel()]
        for i in range(len(arr)):
            r, c = divmod(i, ncols)
            x, y = c * (tw + pad) + tw / 2, r * (th + pad) - 0.5
            if preds_l is None:
                text, colour = name(labels_l[i]), "black"
            else:
                text = name(preds_l[i])
                colour = "black" if labels_l is None else ("green" if preds_l[i] == labels_l[i] else "red")
            a.text(x, y, text, ha="center", va="bottom", fontsize=8, color=colour, clip_on=False)
    if title:
        a.set_title(title, pad=14 if captions else 6)
    return a.figure
