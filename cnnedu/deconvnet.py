"""Zeiler and Fergus' deconvnet: project one unit of a conv / ReLU / max-pool network back to pixel space.

Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, arXiv:1311.2901.
Section 2.1 (the deconvnet), Fig. 2 (top-9 activations per feature map), Fig. 4 (features during training:
weight snapshots), Fig. 5 (first-layer filters), Fig. 7 (occlusion sensitivity, and as a test: the object
against the same area of background).

The deconvnet walks a ``features`` ``nn.Sequential`` backwards from one unit. Per layer, in reverse order:

- max pool  -> *unpool*: each pooled value goes back to the input position that won its window (the
  "switch" recorded in the forward pass). With overlapping pooling (AlexNet's 3x3 windows, stride 2) one
  input position can win two windows, so the values are *added* (``scatter_add``). ``nn.MaxUnpool2d``
  writes instead of adding: where two windows chose the same position only one value survives.
- ReLU      -> *rectify*: ReLU of the backward signal (not of the forward activation, as in a gradient).
- conv      -> *filter* with the transposed filters: ``conv_transpose2d`` with the layer's weight, stride,
  padding, dilation and groups, and no bias. This is exactly the input gradient of the convolution.
- LocalResponseNorm, Dropout, Identity -> passed through unchanged. The paper's deconvnet has no inverse
  for contrast normalization and skips it; dropout is the identity at inference.

Together, unpooling and filtering are the gradient of pooling and convolution; only the ReLU rule differs
from backpropagation. So for a network without ReLUs the projection *is* the input gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn
from torch.nn.modules.utils import _pair

__all__ = [
    "Deconvnet",
    "TopActivations",
    "project",
    "top9",
    "plot_top9",
    "occlusion_map",
    "first_layer_filters",
    "plot_projection",
    "normalize_projection",
    "unpool",
    "conv_transpose",
    "unit_receptive_field",
    "object_mask",
    "OcclusionSquares",
    "occlusion_squares",
    "occlude",
    "class_probability",
    "WeightSnapshots",
    "distance_to_final",
    "settle_step",
]

# Layers the deconvnet can walk back through, and those whose output can be projected.
PASS_THROUGH = (nn.LocalResponseNorm, nn.Dropout, nn.Identity)
SUPPORTED = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, *PASS_THROUGH)
PROJECTABLE = (nn.Conv2d, nn.ReLU, nn.MaxPool2d)


# ---------------------------------------------------------------------------------------------------------
# The two backward steps, usable on their own.


def unpool(values: torch.Tensor, switches: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """Put each pooled value back at its switch (argmax) position, adding where windows share a winner.

    Zeiler and Fergus 2014, Section 2.1 ("Unpooling"). ``values`` and ``switches`` are (N, C, H', W') as
    returned by ``max_pool2d(..., return_indices=True)``; ``input_size`` ends with the pooled input's
    (H, W), which ceil_mode and odd sizes make impossible to infer from H', W'. Equals the gradient of
    max pooling with respect to its input.
    """
    n, c = values.shape[:2]
    h, w = int(input_size[-2]), int(input_size[-1])
    out = values.new_zeros(n, c, h * w)
    # scatter_add, not nn.MaxUnpool2d: a position that wins two overlapping windows receives both values
    out.scatter_add_(2, switches.reshape(n, c, -1), values.reshape(n, c, -1))
    return out.view(n, c, h, w)


def conv_transpose(signal: torch.Tensor, conv: nn.Conv2d, input_size: Sequence[int]) -> torch.Tensor:
    """Filter a signal with the transposed (flipped) filters of ``conv``, back to its input's size.

    Zeiler and Fergus 2014, Section 2.1 ("Filtering"): the same weight, stride, padding, dilation and
    groups, no bias. A strided convolution maps several input sizes to one output size; ``output_padding``
    restores the recorded one.
    """
    stride, padding, dilation = _pair(conv.stride), _conv_padding(conv), _pair(conv.dilation)
    kernel = conv.weight.shape[-2:]
    out_padding = []
    for a in (0, 1):
        natural = (signal.shape[-2 + a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1) + 1
        out_padding.append(int(input_size[-2 + a]) - natural)
    return F.conv_transpose2d(signal, conv.weight, None, stride, padding, tuple(out_padding), conv.groups,
                              dilation)


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0)
        # "same" (stride 1): symmetric only for odd dilated kernels
        k, d = conv.weight.shape[-2:], _pair(conv.dilation)
        if any(d[a] * (k[a] - 1) % 2 for a in (0, 1)):
            raise ValueError(f"padding='same' with an even kernel {tuple(k)} pads asymmetrically; "
                             "the deconvnet supports symmetric padding only")
        return (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
    return _pair(conv.padding)


# ---------------------------------------------------------------------------------------------------------
# Receptive field of one unit, by conv arithmetic.


def unit_receptive_field(layers: Sequence[nn.Module]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Receptive field (size, jump, padding), each (h, w), of the last output of ``layers``.

    Per axis and layer with kernel k, stride s, padding p, dilation d (Araujo et al., Distill 2019):
    ``r += d (k - 1) j``, ``P += p j``, ``j *= s``. Unit (y, x) then sees input rows
    ``y j - P .. y j - P + r - 1`` (and likewise columns), part of which may lie in the padding.
    """
    size, jump, pad = [1, 1], [1, 1], [0, 0]
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            k, s, p, d = layer.weight.shape[-2:], _pair(layer.stride), _conv_padding(layer), _pair(layer.dilation)
        elif isinstance(layer, nn.MaxPool2d):
            k, p, d = _pair(layer.kernel_size), _pair(layer.padding), _pair(layer.dilation)
            s = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
        else:
            continue
        for a in (0, 1):
            size[a] += d[a] * (int(k[a]) - 1) * jump[a]
            pad[a] += p[a] * jump[a]
            jump[a] *= s[a]
    return (size[0], size[1]), (jump[0], jump[1]), (pad[0], pad[1])


# ---------------------------------------------------------------------------------------------------------
# The deconvnet.


def _features_of(model: nn.Module) -> nn.Sequential:
    features = getattr(model, "features", model)
    if not isinstance(features, nn.Sequential):
        raise ValueError(
            "model must be an nn.Sequential of Conv2d / ReLU / MaxPool2d layers or have such a `.features` "
            f"attribute, got {type(features).__name__}"
        )
    for name, layer in features.named_children():
        if not isinstance(layer, SUPPORTED):
            raise ValueError(
                f"layer '{name}' ({type(layer).__name__}) is not supported by the deconvnet, which walks only "
                f"{', '.join(t.__name__ for t in SUPPORTED)}"
            )
        if isinstance(layer, nn.Conv2d) and layer.padding_mode != "zeros":
            raise ValueError(f"layer '{name}' pads with '{layer.padding_mode}'; the deconvnet needs zero padding")
        if isinstance(layer, nn.Conv2d):
            _conv_padding(layer)
    return features


class Deconvnet(nn.Module):
    """A deconvnet attached to a conv / ReLU / max-pool ``nn.Sequential`` (or a model's ``.features``).

    Zeiler and Fergus 2014, arXiv:1311.2901, Section 2.1 and Fig. 1. ``forward(x)`` runs the network,
    recording every layer's output (the rectified maps after each ReLU) and the switches of every max
    pool; ``project(layer, channel)`` then maps one unit back to pixel space. The wrapped layers are
    shared, not copied; they run as at inference (dropout off).

    >>> from torchvision.models import alexnet
    >>> net = Deconvnet(alexnet())          # its `features`
    >>> _ = net(torch.randn(1, 3, 224, 224))
    >>> net.project("10", channel=3).shape  # conv5
    torch.Size([1, 3, 224, 224])
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.features = _features_of(model)
        self.names = [name for name, _ in self.features.named_children()]
        self.prefix = "features." if getattr(model, "features", None) is self.features else ""
        self.outputs: list[torch.Tensor] = []
        self.input_sizes: list[torch.Size] = []
        self.switches: dict[int, torch.Tensor] = {}

    @property
    def device(self) -> torch.device:
        return next((p.device for p in self.features.parameters()), torch.device("cpu"))

    def layer_index(self, layer: int | str) -> int:
        """Index into ``features`` of a layer given by index, by name ("conv5", "10") or as "features.10"."""
        if isinstance(layer, int) and not isinstance(layer, bool):
            if not 0 <= layer < len(self.names):
                raise ValueError(f"layer must be an index in [0, {len(self.names)}), got {layer}")
            return layer
        if isinstance(layer, str):
            name = layer.removeprefix(self.prefix) if self.prefix else layer
            if name in self.names:
                return self.names.index(name)
        raise ValueError(f"layer must be an index or one of the names {self.names}, got {layer!r}")

    @torch.no_grad()
    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Run the layers (up to and including index ``upto``), recording outputs and pooling switches."""
        first = next(self.features.parameters(), None)
        x = x.to(device=self.device, dtype=first.dtype if first is not None else x.dtype)
        self.outputs, self.input_sizes, self.switches = [], [], {}
        last = len(self.names) - 1 if upto is None else upto
        for i, layer in enumerate(self.features):
            if i > last:
                break
            self.input_sizes.append(x.shape)
            if isinstance(layer, nn.MaxPool2d):
                x, self.switches[i] = F.max_pool2d(
                    x, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                    ceil_mode=layer.ceil_mode, return_indices=True,
                )
            elif isinstance(layer, nn.ReLU):
                x = F.relu(x)  # never in place: the recorded conv output must keep its negative values
            elif isinstance(layer, (nn.Dropout, nn.Identity)):
                pass  # dropout is the identity at inference
            else:
                x = layer(x)
            self.outputs.append(x)
        return x

    def max_positions(self, layer: int | str, channel: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per recorded image, the strongest activation of ``channel`` at ``layer`` and its (y, x) position."""
        i = self._check_unit(layer, channel)
        maps = self.outputs[i][:, channel]
        values, flat = maps.flatten(1).max(dim=1)
        positions = torch.stack([flat // maps.shape[-1], flat % maps.shape[-1]], dim=1)
        return values, positions

    def _check_unit(self, layer: int | str, channel: int) -> int:
        i = self.layer_index(layer)
        if not isinstance(self.features[i], PROJECTABLE):
            raise ValueError(
                f"layer '{self.names[i]}' is a {type(self.features[i]).__name__}; project from the output of a "
                "Conv2d, ReLU or MaxPool2d"
            )
        if i >= len(self.outputs):
            raise ValueError(f"layer '{self.names[i]}' was not recorded: call forward(x) first")
        c = self.outputs[i].shape[1]
        if not isinstance(channel, int) or not 0 <= channel < c:
            raise ValueError(f"channel must be an integer in [0, {c}) for layer '{self.names[i]}', got {channel!r}")
        return i

    @torch.no_grad()
    def project(
        self, layer: int | str, channel: int, position: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """Project one unit of the recorded forward pass back to pixel space, one projection per image.

        Zeiler and Fergus 2014, Section 2.1: all other activations of the layer are set to zero and the
        map is passed down through unpooling, rectification and transposed filtering. ``position`` (y, x)
        picks the unit; by default each image's strongest activation of ``channel``. Returns a tensor of
        the input's shape (N, C, H, W) on the model's device.
        """
        i = self._check_unit(layer, channel)
        out = self.outputs[i]
        signal = torch.zeros_like(out)
        n = out.shape[0]
        if position is None:
            _, pos = self.max_positions(i, channel)
        else:
            y, x = position
            if not (0 <= y < out.shape[-2] and 0 <= x < out.shape[-1]):
                raise ValueError(f"position must lie in the {tuple(out.shape[-2:])} map of layer "
                                 f"'{self.names[i]}', got {position!r}")
            pos = torch.tensor([[y, x]] * n, device=out.device)
        rows = torch.arange(n, device=out.device)
        signal[rows, channel, pos[:, 0], pos[:, 1]] = out[rows, channel, pos[:, 0], pos[:, 1]]
        return self.backward_from(i, signal)

    @torch.no_grad()
    def backward_from(self, layer: int, signal: torch.Tensor) -> torch.Tensor:
        """Pass a signal shaped like the output of layer index ``layer`` down the deconvnet to the input."""
        for j in range(layer, -1, -1):
            module = self.features[j]
            if isinstance(module, nn.MaxPool2d):
                signal = unpool(signal, self.switches[j], self.input_sizes[j])
            elif isinstance(module, nn.ReLU):
                signal = F.relu(signal)
            elif isinstance(module, nn.Conv2d):
                signal = conv_transpose(signal, module, self.input_sizes[j])
            # LocalResponseNorm, Dropout, Identity: passed through (no inverse in the paper)
        return signal

    def receptive_field(self, layer: int | str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """(size, jump, padding) of the units of a layer; see :func:`unit_receptive_field`."""
        i = self.layer_index(layer)
        return unit_receptive_field(list(self.features)[: i + 1])


def _as_batch(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4):
        raise ValueError(f"image must be a (C, H, W) or (N, C, H, W) tensor, got {getattr(image, 'shape', image)!r}")
    return image.unsqueeze(0) if image.dim() == 3 else image


def project(
    model: nn.Module, image: torch.Tensor, layer: int | str, channel: int, position: tuple[int, int] | None = None
) -> torch.Tensor:
    """Deconvnet projection of one unit (by default the channel's strongest activation) of ``image``.

    Zeiler and Fergus 2014, Section 2.1. ``layer`` is an index into ``model.features`` or a name
    ("conv5", "features.10"). Returns a CPU tensor of the image's shape, (C, H, W) or (N, C, H, W).
    """
    net = Deconvnet(model)
    batch = _as_batch(image)
    net(batch, upto=net.layer_index(layer))
    out = net.project(layer, channel, position).cpu()
    return out[0] if image.dim() == 3 else out


# ---------------------------------------------------------------------------------------------------------
# Top-9 activations over a data set (Fig. 2).


@dataclass
class TopActivations:
    """The k strongest activations of one channel over a data set, with their deconvnet projections.

    ``indices`` index the data set, ``activations`` are in descending order, ``positions`` are the (y, x)
    units in the layer's map, ``boxes`` the (top, left, height, width) receptive field of each unit in
    image pixels (it may reach into the padding). ``images`` and ``projections`` are cropped to the boxes
    (zeros outside the image) when ``crop=True``, else whole. All tensors on the CPU.
    """

    layer: str
    channel: int
    indices: torch.Tensor
    activations: torch.Tensor
    positions: torch.Tensor
    boxes: torch.Tensor
    images: torch.Tensor
    projections: torch.Tensor


def _batches(images, batch_size: int) -> Iterator[torch.Tensor]:
    """Image batches from a tensor, a Dataset of images or (image, label) pairs, or an iterable of batches."""
    if isinstance(images, torch.Tensor):
        yield from _as_batch(images).split(batch_size)
        return
    if isinstance(images, torch.utils.data.Dataset) and hasattr(images, "__len__"):
        images = torch.utils.data.DataLoader(images, batch_size=batch_size, shuffle=False)
    if not isinstance(images, Iterable):
        raise ValueError(f"images must be a tensor, a Dataset or an iterable of batches, got {type(images).__name__}")
    for batch in images:
        yield _as_batch(batch[0] if isinstance(batch, (tuple, list)) else batch)


def _crop(t: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """A (C, height, width) window of a (C, H, W) tensor, zero where it leaves the tensor."""
    out = t.new_zeros(t.shape[0], height, width)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, t.shape[-2]), min(left + width, t.shape[-1])
    if y1 > y0 and x1 > x0:
        out[:, y0 - top:y1 - top, x0 - left:x1 - left] = t[:, y0:y1, x0:x1]
    return out


def top9(
    model: nn.Module,
    images,
    layer: int | str,
    channel: int,
    k: int = 9,
    crop: bool = True,
    batch_size: int = 64,
) -> TopActivations:
    """The ``k`` images with the strongest activation of ``channel`` at ``layer``, projected and cropped.

    Zeiler and Fergus 2014, Fig. 2: for each feature map, the top 9 activations over the data set, each
    projected separately to pixel space and shown beside the image patch of its receptive field.
    ``images``: an (N, C, H, W) tensor, a Dataset (of images or (image, label) pairs) or a DataLoader.
    """
    net = Deconvnet(model)
    i = net.layer_index(layer)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    # one pass over the data keeping a running top-k, so a Dataset is read once and never indexed
    best_values = torch.empty(0)
    best_indices = torch.empty(0, dtype=torch.long)
    best_images: torch.Tensor | None = None
    seen = 0
    for batch in _batches(images, batch_size):
        net(batch, upto=i)
        values, _ = net.max_positions(i, channel)
        values = values.cpu()
        pool_values = torch.cat([best_values, values])
        pool_indices = torch.cat([best_indices, torch.arange(seen, seen + len(batch))])
        pool_images = batch.cpu() if best_images is None else torch.cat([best_images, batch.cpu()])
        order = pool_values.argsort(descending=True, stable=True)[:k]
        best_values, best_indices, best_images = pool_values[order], pool_indices[order], pool_images[order]
        seen += len(batch)
    if best_images is None:
        raise ValueError("images is empty")
    if seen < k:
        raise ValueError(f"k must be at most the number of images ({seen}), got {k}")

    net(best_images, upto=i)
    activations, positions = net.max_positions(i, channel)
    projections = net.project(i, channel).cpu()
    (rh, rw), (jh, jw), (ph, pw) = net.receptive_field(i)
    positions = positions.cpu()
    boxes = torch.stack([positions[:, 0] * jh - ph, positions[:, 1] * jw - pw,
                         torch.full_like(positions[:, 0], rh), torch.full_like(positions[:, 0], rw)], dim=1)
    shown_images = best_images.to(projections.dtype)
    if crop:
        shown_images = torch.stack([_crop(im, *map(int, b)) for im, b in zip(shown_images, boxes, strict=True)])
        projections = torch.stack([_crop(p, *map(int, b)) for p, b in zip(projections, boxes, strict=True)])
    return TopActivations(net.names[i], channel, best_indices, activations.cpu(), positions, boxes,
                          shown_images, projections)


# ---------------------------------------------------------------------------------------------------------
# Display.


def normalize_projection(t: torch.Tensor) -> np.ndarray:
    """A (C, H, W) projection as an (H, W, 3) array in [0, 1]: zero is mid grey, the largest |value| 0 or 1.

    Projections are signed, so they are scaled symmetrically about zero rather than min-max stretched.
    """
    t = t.detach().float().cpu()
    if t.dim() != 3:
        raise ValueError(f"the projection must be a (C, H, W) tensor, got shape {tuple(t.shape)}")
    scale = t.abs().max().clamp_min(1e-12)
    out = (0.5 + 0.5 * t / scale).clamp(0, 1)
    out = out.expand(3, -1, -1) if out.shape[0] == 1 else out[:3]
    return out.permute(1, 2, 0).numpy()


def _normalize_image(t: torch.Tensor) -> np.ndarray:
    """A (C, H, W) image (normalized or not) min-max stretched to an (H, W, 3) array in [0, 1]."""
    t = t.detach().float().cpu()
    t = (t - t.min()) / (t.max() - t.min()).clamp_min(1e-12)
    t = t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3]
    return t.permute(1, 2, 0).numpy()


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size)
    return fig, ax


def plot_projection(tensor: torch.Tensor, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Show a (C, H, W) or (1, C, H, W) projection, grey at zero (see :func:`normalize_projection`)."""
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    fig, ax = _new_axes(ax, (3, 3))
    ax.imshow(normalize_projection(tensor))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def _mosaic(tiles: list[np.ndarray], cols: int, gap: int) -> np.ndarray:
    rows = math.ceil(len(tiles) / cols)
    h, w = tiles[0].shape[:2]
    out = np.ones((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3))
    for n, tile in enumerate(tiles):
        r, c = divmod(n, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


def plot_top9(result: TopActivations, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Projections (left) beside the image patches (right), each a 3x3 grid, as in Zeiler and Fergus' Fig. 2."""
    k = len(result.indices)
    cols = math.ceil(math.sqrt(k))
    gap = max(1, result.images.shape[-1] // 16)
    left = _mosaic([normalize_projection(p) for p in result.projections], cols, gap)
    right = _mosaic([_normalize_image(im) for im in result.images], cols, gap)
    spacer = np.ones((left.shape[0], 4 * gap, 3))
    fig, ax = _new_axes(ax, (6, 3))
    ax.imshow(np.concatenate([left, spacer, right], axis=1))
    ax.set_axis_off()
    ax.set_title(title or f"layer {result.layer}, channel {result.channel}: top {k}")
    return fig


# ---------------------------------------------------------------------------------------------------------
# Occlusion sensitivity (Fig. 7) and first-layer filters (Fig. 5).


@torch.no_grad()
def occlusion_map(
    model: nn.Module,
    image: torch.Tensor,
    target: int,
    patch: int | None = None,
    stride: int | None = None,
    fill: float | str = 0.0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Probability of class ``target`` as a grey square of side ``patch`` slides over the image.

    Zeiler and Fergus 2014, Section 4.2 and Fig. 7. Entry (i, j) has the square's top-left corner at
    (i * stride, j * stride), so the map is ((H - patch) // stride + 1, (W - patch) // stride + 1).
    ``fill`` is the square's value (0.0 is the data set's mean for normalized inputs) or "mean" for the
    image's per-channel mean. Defaults: ``patch`` a seventh of the shorter side (32 at 224 px),
    ``stride`` half the patch. The model runs in eval mode, ``batch_size`` occluded images at a time.
    Returns a CPU tensor.
    """
    batch = _as_batch(image)
    if batch.shape[0] != 1:
        raise ValueError(f"image must be one image, got a batch of {batch.shape[0]}")
    _, c, h, w = batch.shape
    patch = max(1, min(h, w) // 7) if patch is None else patch
    if not isinstance(patch, int) or not 1 <= patch <= min(h, w):
        raise ValueError(f"patch must be an integer in [1, {min(h, w)}] (the image side), got {patch!r}")
    stride = max(1, patch // 2) if stride is None else stride
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if fill == "mean":
        value = batch.mean(dim=(0, 2, 3)).view(c, 1, 1)
    elif isinstance(fill, (int, float)) and not isinstance(fill, bool):
        value = torch.full((c, 1, 1), float(fill))
    else:
        raise ValueError(f"fill must be a number or 'mean', got {fill!r}")

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    batch, value = batch.to(device), value.to(device=device, dtype=batch.dtype)
    corners = [(y, x) for y in range(0, h - patch + 1, stride) for x in range(0, w - patch + 1, stride)]
    was_training = model.training
    model.eval()
    probs = []
    try:
        for start in range(0, len(corners), batch_size):
            chunk = corners[start:start + batch_size]
            occluded = batch.repeat(len(chunk), 1, 1, 1)
            for n, (y, x) in enumerate(chunk):
                occluded[n, :, y:y + patch, x:x + patch] = value
            logits = model(occluded)
            if not isinstance(target, int) or not 0 <= target < logits.shape[1]:
                raise ValueError(f"target must be a class index in [0, {logits.shape[1]}), got {target!r}")
            probs.append(logits.float().softmax(dim=1)[:, target].cpu())
    finally:
        model.train(was_training)
    return torch.cat(probs).view((h - patch) // stride + 1, (w - patch) // stride + 1)


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The weight of the model's first convolution, (C_out, C_in, k, k), as a detached CPU copy.

    Zeiler and Fergus 2014, Fig. 5 and Section 4.1: AlexNet's 11x11 stride-4 filters show aliasing and
    dead filters, which led ZFNet to 7x7 stride 2.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.weight.detach().cpu().clone()
    raise ValueError(f"model has no Conv2d layer ({type(model).__name__})")


# ---------------------------------------------------------------------------------------------------------
# Occlusion as an experiment (Fig. 7): the object against the same area of background.


def object_mask(images: torch.Tensor, threshold: float = 0.175, border: int = 2, refits: int = 2) -> torch.Tensor:
    """Pixels that differ from the background, for images of one object on a plain, gently shaded background.

    The background is predicted per colour channel by a least-squares plane through the pixels within
    ``border`` of the edge, refitted ``refits`` times without the edge pixels it does not explain (an object
    or a dot that reaches the edge). A pixel whose colour lies more than ``threshold`` (Euclidean, in the
    images' scale) from the plane is object. The default suits ``cnnedu.data.shapes_dataset``: half the
    smallest colour distance (0.35) between an object and its background there. ``images`` is (N, C, H, W);
    returns a bool (N, H, W) tensor.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be an (N, C, H, W) tensor, got {getattr(images, 'shape', images)!r}")
    _, c, h, w = images.shape
    if not isinstance(border, int) or not 1 <= border <= min(h, w) // 2:
        raise ValueError(f"border must be an integer in [1, {min(h, w) // 2}], got {border!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    if isinstance(refits, bool) or not isinstance(refits, int) or refits < 0:
        raise ValueError(f"refits must be a non-negative integer, got {refits!r}")
    ys, xs = torch.meshgrid(torch.linspace(-0.5, 0.5, h), torch.linspace(-0.5, 0.5, w), indexing="ij")
    design = torch.stack([torch.ones_like(xs), xs, ys], dim=-1).view(1, h * w, 3).double()
    edge = torch.ones(h, w, dtype=torch.bool)
    edge[border:h - border, border:w - border] = False
    masks = []
    for chunk in images.detach().split(256):                     # 256 images at a time: little memory
        pixels = chunk.double().cpu().reshape(len(chunk), c, h * w).transpose(1, 2)    # (n, HW, C)
        use = edge.view(1, -1).expand(len(chunk), -1)
        for _ in range(refits + 1):
            weight = use.double().unsqueeze(-1)
            plane = torch.linalg.lstsq(design * weight, pixels * weight).solution        # (n, 3, C)
            distance = (pixels - design @ plane).norm(dim=2)                               # (n, HW)
            use = edge.view(1, -1) & (distance < threshold)
        masks.append((distance > threshold).view(len(chunk), h, w))
    return torch.cat(masks)


@dataclass
class OcclusionSquares:
    """Where to put one square of side ``patch`` per image: on the object, and on the background.

    ``object`` and ``background`` are (N, 2) (top, left) corners; ``object_cover`` the fraction of the object
    square that is object; ``clear`` whether the image has a square free of object (only those images
    have a background square; elsewhere its corner is (-1, -1)).
    """

    patch: int
    object: torch.Tensor
    background: torch.Tensor
    object_cover: torch.Tensor
    clear: torch.Tensor


def occlusion_squares(mask: torch.Tensor, patch: int, margin: int = 1, seed: int = 0) -> OcclusionSquares:
    """For each (H, W) object mask, the square covering the most object and one covering none of it.

    Zeiler and Fergus 2014, Section 4.2 and Fig. 7, turned into a test: the object square is the position
    with the most object pixels under it (the first in raster order on ties); the background square is
    drawn at random (by ``seed``) among the positions that cover no object pixel, after growing the mask by
    ``margin`` pixels so that the square keeps clear of the object's blurred edge.
    """
    if not isinstance(mask, torch.Tensor) or mask.dim() != 3:
        raise ValueError(f"mask must be an (N, H, W) tensor, got {getattr(mask, 'shape', mask)!r}")
    n, h, w = mask.shape
    if not isinstance(patch, int) or not 1 <= patch <= min(h, w):
        raise ValueError(f"patch must be an integer in [1, {min(h, w)}], got {patch!r}")
    if not isinstance(margin, int) or margin < 0:
        raise ValueError(f"margin must be a non-negative integer, got {margin!r}")
    m = mask.detach().cpu().float().unsqueeze(1)
    cover = F.avg_pool2d(m, patch, stride=1)[:, 0].flatten(1)                                # (N, positions)
    grown = F.max_pool2d(m, 2 * margin + 1, stride=1, padding=margin) if margin else m
    free = F.avg_pool2d(grown, patch, stride=1)[:, 0].flatten(1) == 0
    cols = w - patch + 1
    object_cover, best = cover.max(dim=1)
    # a random free position per image: the free one with the largest random key
    keys = torch.rand(free.shape, generator=torch.Generator().manual_seed(seed)).masked_fill(~free, -1.0)
    pick = keys.argmax(dim=1)
    clear = free.any(dim=1)
    corner = lambda flat: torch.stack([flat // cols, flat % cols], dim=1)  # noqa: E731
    background = torch.where(clear[:, None], corner(pick), torch.full_like(corner(pick), -1))
    return OcclusionSquares(patch, corner(best), background, object_cover, clear)


def occlude(images: torch.Tensor, corners: torch.Tensor, patch: int, fill: float = 0.0) -> torch.Tensor:
    """A copy of ``images`` (N, C, H, W) with a square of side ``patch`` at each (top, left) corner set to ``fill``."""
    if images.dim() != 4 or corners.shape != (images.shape[0], 2):
        raise ValueError(f"need images (N, C, H, W) and corners (N, 2), got {tuple(images.shape)} and "
                         f"{tuple(corners.shape)}")
    h, w = images.shape[-2:]
    if isinstance(patch, bool) or not isinstance(patch, int) or not 1 <= patch <= min(h, w):
        raise ValueError(f"patch must be an integer in [1, {min(h, w)}] (the image side), got {patch!r}")
    top, left = corners[:, 0].view(-1, 1, 1).to(images.device), corners[:, 1].view(-1, 1, 1).to(images.device)
    rows = torch.arange(h, device=images.device).view(1, -1, 1)
    cols = torch.arange(w, device=images.device).view(1, 1, -1)
    square = (rows >= top) & (rows < top + patch) & (cols >= left) & (cols < left + patch)
    return images.masked_fill(square.unsqueeze(1), fill)


@torch.no_grad()
def class_probability(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      batch_size: int = 500) -> torch.Tensor:
    """Softmax probability of each image's class in ``labels``, the model in eval mode; a CPU tensor (N,)."""
    if len(images) != len(labels):
        raise ValueError(f"need one label per image, got {len(images)} images and {len(labels)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        out = [model(x.to(device)).float().softmax(dim=1).cpu() for x in images.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).gather(1, labels.view(-1, 1).long().cpu())[:, 0]


# ---------------------------------------------------------------------------------------------------------
# Weights during training (Fig. 4): snapshots and how far each layer still has to go.


class WeightSnapshots:
    """CPU copies of a model's ``state_dict`` at chosen numbers of optimizer steps, taken while it trains.

    Zeiler and Fergus 2014, Fig. 4 watch features evolve during one training run. A forward pre-hook counts
    the model's forward passes in training mode (one per step in ``cnnedu.train.fit``; evaluation runs in
    eval mode and is not counted): before pass number t the weights have had t updates. Use as a context
    manager around the training; ``states`` then maps each step reached (0 is the initial weights) to a
    state dict, and the weights after the last update are stored under the number of steps taken.
    """

    def __init__(self, model: nn.Module, steps: Iterable[int]) -> None:
        self.steps = sorted({int(s) for s in steps})
        if not self.steps or self.steps[0] < 0:
            raise ValueError(f"steps must be non-negative integers, at least one, got {self.steps!r}")
        self.model = model
        self.states: dict[int, dict[str, torch.Tensor]] = {}
        self.taken = 0
        self._wanted = set(self.steps)
        self._handle = None

    def _copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in self.model.state_dict().items()}

    def _hook(self, module: nn.Module, args) -> None:
        if module.training:
            if self.taken in self._wanted:
                self.states[self.taken] = self._copy()
            self.taken += 1

    def __enter__(self) -> WeightSnapshots:
        self._handle = self.model.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self.states[self.taken] = self._copy()


def distance_to_final(states: dict[int, dict[str, torch.Tensor]], name: str) -> tuple[list[int], list[float]]:
    """Steps and, per step t, ||W_t - W_T|| / ||W_0 - W_T|| for the tensor ``name`` (T the last step).

    1 at the start, 0 at the end: the fraction of its way to its final value that the tensor still has to
    go, so that layers of different sizes and initial scales compare (Fig. 4's "settling", measured).
    """
    steps = sorted(states)
    if len(steps) < 2:
        raise ValueError("need snapshots at two steps at least")
    if name not in states[steps[0]]:
        raise ValueError(f"name must be one of the state dict's keys, got {name!r}")
    final = states[steps[-1]][name].double()
    scale = (states[steps[0]][name].double() - final).norm().clamp_min(1e-30)
    return steps, [float((states[s][name].double() - final).norm() / scale) for s in steps]


def settle_step(steps: Sequence[int], distances: Sequence[float], fraction: float = 0.5) -> float:
    """The step from which ``distances`` stay below ``fraction``, interpolated linearly between snapshots.

    The crossing after the last snapshot at or above ``fraction``; the first step if none is.
    """
    if len(steps) != len(distances) or not steps:
        raise ValueError("need one distance per step, at least one")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    above = [i for i, d in enumerate(distances) if d >= fraction]
    if not above:
        return float(steps[0])
    i = above[-1]
    if i == len(steps) - 1:
        return float(steps[-1])
    d0, d1 = distances[i], distances[i + 1]
    return float(steps[i] + (d0 - fraction) / (d0 - d1) * (steps[i + 1] - steps[i]))
