"""Counting what a network costs: parameters, multiply-accumulates, per-layer tables, receptive fields.

Everything here works on any ``nn.Module`` (cnnedu's, torchvision's or your own) and runs the model on the
``meta`` device, where tensors have shapes but no storage: counting EfficientNet-B7 at 600 px needs no
memory for weights or activations.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call

InputSize = Sequence[int]

__all__ = [
    "count_params",
    "count_macs",
    "mac_breakdown",
    "summary",
    "Summary",
    "conv_output_size",
    "conv_params",
    "conv_macs",
    "receptive_field",
    "receptive_fields",
    "ReceptiveField",
    "effective_receptive_field",
    "output_gradient_norms",
]


# ---------------------------------------------------------------------------------------------------------
# Teaching helpers: the arithmetic of one convolution.


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    for name, value, low in (("size", size, 1), ("kernel", kernel, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"the output vanishes: size {size} with padding {padding} is smaller than the dilated kernel "
            f"{dilation * (kernel - 1) + 1}"
        )
    return out


def _pair(kernel: int | tuple[int, int]) -> tuple[int, int]:
    return (kernel, kernel) if isinstance(kernel, int) else (int(kernel[0]), int(kernel[1]))


def _check_counts(**values: int | tuple[int, int]) -> None:
    """A ValueError naming the first value that is not a positive integer or a pair of them."""
    for name, value in values.items():
        pair = tuple(value) if isinstance(value, (tuple, list, torch.Size)) else (value, value)
        if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                                     for v in pair):
            raise ValueError(f"{name} must be a positive integer or an (h, w) pair of them, got {value!r}")


def conv_params(c_in: int, c_out: int, kernel: int | tuple[int, int], groups: int = 1, bias: bool = True) -> int:
    """Weights of a convolution: k_h * k_w * (C_in / groups) * C_out, plus C_out biases."""
    _check_counts(c_in=c_in, c_out=c_out, groups=groups)
    _check_counts(kernel=kernel)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups must divide both c_in ({c_in}) and c_out ({c_out}), got {groups}")
    kh, kw = _pair(kernel)
    return kh * kw * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(
    c_in: int, c_out: int, kernel: int | tuple[int, int], out_size: int | tuple[int, int], groups: int = 1
) -> int:
    """Multiply-accumulates of a convolution: one k_h * k_w * (C_in / groups) dot product per output value."""
    _check_counts(out_size=out_size)
    oh, ow = _pair(out_size)
    return conv_params(c_in, c_out, kernel, groups=groups, bias=False) * oh * ow


# ---------------------------------------------------------------------------------------------------------
# Running a model on the meta device.


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_input_size(input_size: InputSize) -> tuple[int, ...]:
    size = tuple(int(s) for s in input_size)
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"input_size must be (channels, height, width) with positive entries, got {input_size!r}")
    return size


@contextlib.contextmanager
def _module_tracker(model: nn.Module) -> Iterator[list[str]]:
    """Keeps a stack of the qualified names of the modules currently running."""
    stack: list[str] = []
    handles = []
    for name, module in model.named_modules():
        def pre(_m, _inp, _name=name or "(model)"):
            stack.append(_name)

        def post(_m, _inp, _out):
            if stack:
                stack.pop()

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    try:
        yield stack
    finally:
        for h in handles:
            h.remove()


def _meta_forward(
    model: nn.Module,
    input_size: InputSize,
    mode: contextlib.AbstractContextManager | None = None,
) -> object:
    """Run ``model`` on a meta tensor of shape (1, *input_size) without touching its real weights.

    Parameters and buffers are swapped for meta tensors of the same shapes through ``functional_call``,
    so the model itself is neither copied nor modified. The model runs in eval mode (auxiliary heads and
    drop-path are inference-time), and its previous mode is restored.
    """
    size = _check_input_size(input_size)
    meta = {n: torch.empty_like(t, device="meta") for n, t in model.named_parameters(remove_duplicate=False)}
    meta.update({n: torch.empty_like(t, device="meta") for n, t in model.named_buffers(remove_duplicate=False)})
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.get_default_dtype())
    x = torch.empty((1, *size), device="meta", dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with _module_tracker(model) as stack, (mode or contextlib.nullcontext()):
            try:
                return functional_call(model, meta, (x,), tie_weights=True, strict=False)
            except (RuntimeError, IndexError) as err:
                where = stack[-1] if stack else "(model)"
                text = str(err)
                convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
                if "channel" in text.lower() and convs and convs[0][0] == where:  # the network's first conv
                    layer = convs[0][1]
                    raise ValueError(
                        f"input_size {size} gives {size[0]} channels, but layer '{where}' expects "
                        f"{layer.in_channels}: pass input_size=({layer.in_channels}, height, width)"
                    ) from err
                if "size" in text.lower() or "kernel" in text.lower() or "output" in text.lower():
                    raise ValueError(
                        f"input_size {size} is too small for this network: the feature map vanished at "
                        f"layer '{where}' ({text.splitlines()[0]})"
                    ) from err
                raise
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------------------
# Multiply-accumulates.


def _leaf_macs(module: nn.Module, inputs: tuple, output: object) -> int:
    """MACs of one convolution or linear layer, from its output shape (batch of one)."""
    if not isinstance(output, torch.Tensor):
        return 0
    if isinstance(module, nn.modules.conv._ConvNd):
        if module.transposed:
            # every input value is multiplied by every weight of its group once
            x = inputs[0]
            per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
            return x.numel() // x.shape[0] * per_input
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() // output.shape[0] * per_output
    if isinstance(module, nn.Linear):
        return output.numel() // output.shape[0] * module.in_features
    if isinstance(module, nn.Bilinear):
        return output.numel() // output.shape[0] * module.in1_features * module.in2_features
    return 0


def mac_breakdown(model: nn.Module, input_size: InputSize = (3, 224, 224)) -> dict[str, int]:
    """MACs of every convolution and linear layer, by qualified module name, in execution order.

    A module called twice (weight sharing) is summed over its calls.
    """
    counts: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear)):
            def hook(m, inp, out, _name=name):
                counts[_name] = counts.get(_name, 0) + _leaf_macs(m, inp, out)

            handles.append(module.register_forward_hook(hook))
    try:
        _meta_forward(model, input_size)
    finally:
        for h in handles:
            h.remove()
    return counts


def count_macs(model: nn.Module, input_size: InputSize = (3, 224, 224)) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one image of ``input_size``.

    This is what the papers call "Mult-Adds" (and torchvision's docs "GFLOPS"); it equals half of the
    count of ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply and an add separately.
    Runs on the meta device: no memory for weights or activations.
    """
    return sum(mac_breakdown(model, input_size).values())


# ---------------------------------------------------------------------------------------------------------
# A per-layer table.


@dataclass
class Summary:
    """A per-layer table: name, type, output shape, parameters and MACs. Prints as text, renders as HTML."""

    rows: list[dict] = field(default_factory=list)
    total_params: int = 0
    total_macs: int = 0
    input_size: tuple[int, ...] = (3, 224, 224)

    def _lines(self) -> list[list[str]]:
        out = [["layer", "type", "output shape", "params", "MACs"]]
        for r in self.rows:
            shape = "x".join(str(s) for s in r["output_shape"]) if r["output_shape"] else "-"
            out.append([r["name"], r["type"], shape, f"{r['params']:,}", f"{r['macs']:,}"])
        out.append(["total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}"])
        return out

    def __str__(self) -> str:
        lines = self._lines()
        widths = [max(len(row[i]) for row in lines) for i in range(5)]
        fmt = lambda row: "  ".join(  # noqa: E731
            c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        rule = "-" * len(fmt(lines[0]))
        return "\n".join([fmt(lines[0]), rule, *map(fmt, lines[1:-1]), rule, fmt(lines[-1])])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        lines = self._lines()
        head = "".join(f"<th>{c}</th>" for c in lines[0])
        body = "".join(
            "<tr>" + "".join(
                f"<td style='text-align:{'left' if i < 3 else 'right'}'>{c}</td>" for i, c in enumerate(row)
            ) + "</tr>"
            for row in lines[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def by(self, key: str = "type") -> dict[str, dict[str, int]]:
        """Totals of params and MACs grouped by a row field (e.g. "type") or by the name's first part ("stage")."""
        groups: dict[str, dict[str, int]] = {}
        for r in self.rows:
            g = r["name"].split(".")[0] if key == "stage" else str(r[key])
            acc = groups.setdefault(g, {"params": 0, "macs": 0})
            acc["params"] += r["params"]
            acc["macs"] += r["macs"]
        return groups


def summary(model: nn.Module, input_size: InputSize = (3, 224, 224), depth: int = 3) -> Summary:
    """A per-layer table of ``model``: shapes and parameters from torchinfo, MACs from :func:`count_macs`.

    torchinfo's own "mult-adds" are not used: they are wrong for some layers (grouped convolutions in older
    releases, layers called twice). ``depth`` limits how deep in the module tree rows are listed; MACs of
    deeper layers are summed into their listed ancestor.
    """
    import torchinfo

    size = _check_input_size(input_size)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (1 lists the top-level modules), got {depth!r}")
    macs = mac_breakdown(model, size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    info = torchinfo.summary(
        model, input_size=(1, *size), depth=depth, verbose=0, device=device, mode="eval",
        col_names=("output_size", "num_params"),
    )
    rows = []
    for layer in info.summary_list:
        if layer.depth == 0 or layer.depth > depth:
            continue
        name = _layer_name(model, layer)
        is_leaf = layer.depth == depth or not any(True for _ in layer.module.children())
        if not is_leaf:
            continue
        prefix = name + "."
        layer_macs = sum(v for k, v in macs.items() if k == name or k.startswith(prefix))
        params = sum(p.numel() for p in layer.module.parameters())
        shape = list(layer.output_size[1:]) if isinstance(layer.output_size, (list, tuple)) else []
        rows.append({"name": name, "type": type(layer.module).__name__, "output_shape": shape,
                     "params": params, "macs": layer_macs})
    return Summary(rows=rows, total_params=count_params(model), total_macs=sum(macs.values()), input_size=size)


def _layer_name(model: nn.Module, layer) -> str:
    for name, module in model.named_modules():
        if module is layer.module:
            return name
    return layer.var_name


# ---------------------------------------------------------------------------------------------------------
# Receptive fields (Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks",
# Distill 2019). Per axis, a layer with kernel k, stride s, padding p and dilation d maps
#     r_out = r_in + (d (k - 1)) j_in,   j_out = j_in s,   P_out = P_in + p j_in
# where r is the field size, j the effective stride (jump) and P the effective padding, all in input pixels.


@dataclass(frozen=True)
class _Field:
    """Receptive field along the two spatial axes: sizes, jumps and paddings as (h, w) pairs."""

    size: tuple[float, float]
    stride: tuple[float, float]
    padding: tuple[float, float]
    is_global: bool = False

    def center(self, axis: int) -> float:
        """Centre of the first output unit's field, in input coordinates."""
        return (self.size[axis] - 1) / 2 - self.padding[axis]


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field size, effective stride and effective padding of one feature map (Araujo et al. 2019).

    Each is an ``int`` when the field is square, else an ``(h, w)`` tuple.
    """

    size: int | tuple[int, int]
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    name: str = ""
    layer_type: str = ""
    output_shape: tuple[int, ...] = ()

    @classmethod
    def _from(cls, f: _Field, name: str = "", layer_type: str = "", shape: tuple[int, ...] = ()) -> ReceptiveField:
        def squash(v):
            a, b = (int(round(x)) for x in v)
            return a if a == b else (a, b)

        return cls(squash(f.size), squash(f.stride), squash(f.padding), name, layer_type, shape)

    def __str__(self) -> str:
        return f"{self.name or 'feature map'}: size {self.size}, stride {self.stride}, padding {self.padding}"


_IDENTITY = _Field((1.0, 1.0), (1.0, 1.0), (0.0, 0.0))


def _spatial(t: torch.Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() == 4 else None


def _apply_window(f: _Field, kernel, stride, padding, dilation) -> _Field:
    k, s, p, d = _pair(kernel), _pair(stride), _pair(padding), _pair(dilation)
    size = tuple(f.size[a] + d[a] * (k[a] - 1) * f.stride[a] for a in (0, 1))
    jump = tuple(f.stride[a] * s[a] for a in (0, 1))
    pad = tuple(f.padding[a] + p[a] * f.stride[a] for a in (0, 1))
    return _Field(size, jump, pad)


def _merge(fields: list[_Field], op: str) -> _Field:
    """Fields meeting at an addition or concatenation: the largest, provided the paths are aligned."""
    spatial = [f for f in fields if not f.is_global]
    if not spatial:
        return fields[0]
    first = spatial[0]
    for f in spatial[1:]:
        for a in (0, 1):
            if abs(f.stride[a] - first.stride[a]) > 1e-9 or abs(f.center(a) - first.center(a)) > 1e-9:
                raise ValueError(
                    f"paths meeting at '{op}' are misaligned: strides {first.stride} vs {f.stride}, "
                    f"field centres {first.center(0), first.center(1)} vs {f.center(0), f.center(1)}; "
                    "their receptive fields cannot be combined"
                )
    best = max(spatial, key=lambda f: f.size[0] * f.size[1])
    size = (max(f.size[0] for f in spatial), max(f.size[1] for f in spatial))
    # a larger field centred on the same point has proportionally larger effective padding
    pad = tuple(best.padding[a] + (size[a] - best.size[a]) / 2 for a in (0, 1))
    return _Field(size, first.stride, pad)


_CONV = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_MAX = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
_WINDOW_SPECS: dict = {}
for _f, _spec in (
    (torch.conv2d, _CONV), (torch.nn.functional.conv2d, _CONV),
    (torch.nn.functional.max_pool2d, _MAX), (torch.max_pool2d, _MAX),
    (torch.nn.functional.max_pool2d_with_indices, _MAX),
    (torch.nn.functional.avg_pool2d, _AVG), (torch._C._nn.avg_pool2d, _AVG),
    (torch.nn.functional.lp_pool2d, ("input", "norm_type", "kernel_size", "stride", "ceil_mode")),
):
    _WINDOW_SPECS[_f] = _spec


def _window_args(func, args, kwargs):
    """(kernel, stride, padding, dilation) of a convolution or pooling call, or None for other calls."""
    if func is torch.Tensor.__getitem__:
        return _subsample_args(args[1])
    spec = _WINDOW_SPECS.get(func)
    if spec is None:
        return None
    bound = dict(zip(spec, args, strict=False))
    bound.update(kwargs)
    if "weight" in bound:
        w = bound["weight"]
        kernel = (int(w.shape[-2]), int(w.shape[-1]))
        padding = bound.get("padding", 0)
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            else:  # "same" with stride 1: symmetric padding d(k-1)/2 (odd kernels)
                d = _pair(bound.get("dilation", 1))
                padding = tuple(d[a] * (kernel[a] - 1) // 2 for a in (0, 1))
        return kernel, bound.get("stride", 1), padding, bound.get("dilation", 1)
    kernel = bound["kernel_size"]
    stride = bound.get("stride") or kernel
    return kernel, stride, bound.get("padding", 0), bound.get("dilation", 1)


def _subsample_args(index):
    """A strided slice of the spatial axes, ``x[..., ::s, ::s]`` (ResNet's option-A shortcut), as a 1x1 window.

    Returns None for other indexing (channel slices), which leaves the spatial field unchanged.
    """
    if not isinstance(index, tuple) or len(index) < 2:
        return None
    spatial = index[-2:]
    if not all(isinstance(i, slice) and i.start in (None, 0) and i.stop is None for i in spatial):
        return None
    steps = tuple(i.step or 1 for i in spatial)
    if steps == (1, 1):
        return None
    return (1, 1), steps, 0, 1


class _FieldMode(torch.overrides.TorchFunctionMode):
    """Follows every tensor through the forward pass and attaches its receptive field to it."""

    def __init__(self, stack: list[str]):
        super().__init__()
        self.stack = stack

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in _flatten((args, kwargs)) if isinstance(t, torch.Tensor) and hasattr(t, "_rf")]
        if not inputs:
            return out
        window = _window_args(func, args, kwargs)
        outputs = [t for t in _flatten(out) if isinstance(t, torch.Tensor)]
        for t in outputs:
            if hasattr(t, "_rf") and t is inputs[0] and len(inputs) == 1:
                continue  # an in-place op on one tensor (ReLU): the field does not change
            t._rf = self._field_of(func, window, inputs, t)
        return out

    def _field_of(self, func, window, inputs: list[torch.Tensor], out: torch.Tensor) -> _Field:
        where = self.stack[-1] if self.stack else "(model)"
        fields = [t._rf for t in inputs]
        if window is not None:
            src = inputs[0]._rf
            if src.is_global:
                return src
            return _apply_window(src, *window)
        out_hw = _spatial(out)
        spatial_inputs = [t for t in inputs if not t._rf.is_global and _spatial(t) not in (None, (1, 1))]
        if out_hw is None or out_hw == (1, 1) and spatial_inputs and any(_spatial(t) != (1, 1) for t in spatial_inputs):
            # flatten, global pooling, a mean over the spatial axes: the output sees the whole image
            return _Field(fields[0].size, fields[0].stride, fields[0].padding, is_global=True)
        aligned = [t._rf for t in inputs if _spatial(t) == out_hw and not t._rf.is_global]
        if not aligned:
            if all(t._rf.is_global or _spatial(t) in (None, (1, 1)) for t in inputs):
                return _Field(fields[0].size, fields[0].stride, fields[0].padding, is_global=True)
            name = getattr(func, "__name__", str(func))
            if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "interpolate"):
                raise ValueError(
                    f"layer '{where}' resamples the feature map ({name} from {_spatial(inputs[0])} to {out_hw}); "
                    "its receptive field is not defined by kernel arithmetic"
                )
            raise ValueError(f"layer '{where}' changes the spatial size with '{name}', which is not supported")
        return _merge(aligned, f"{where}: {getattr(func, '__name__', func)}")


def _flatten(obj) -> Iterator:
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _flatten(o)
    else:
        yield obj


def receptive_fields(model: nn.Module, input_size: InputSize = (3, 224, 224)) -> list[ReceptiveField]:
    """Receptive field of the output of every module, in the order they finish (feature maps only).

    A container that hands on its last child's output is not listed again.

    Branches (residual additions, Inception and DenseNet concatenations) take the largest field over their
    paths; paths whose strides or field centres differ raise a ``ValueError``. Layers after global pooling
    are not listed.
    """
    records: list[ReceptiveField] = []
    last: list[torch.Tensor] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            continue  # at most a resampling to a fixed size (identity at the nominal input size)

        def hook(m, inp, out, _name=name):
            if not (isinstance(out, torch.Tensor) and out.dim() == 4 and hasattr(out, "_rf")):
                return
            if out._rf.is_global:
                return  # after global pooling
            if last and last[0] is out and any(True for _ in m.children()):
                return  # a container handing on its last child's output
            last[:] = [out]
            records.append(ReceptiveField._from(out._rf, _name or "(model)", type(m).__name__,
                                                tuple(out.shape[1:])))

        handles.append(module.register_forward_hook(hook))

    # the input tensor is created inside _meta_forward; tag it from a pre-hook on the model itself
    def tag_input(_m, inp):
        inp[0]._rf = _IDENTITY

    handles.append(model.register_forward_pre_hook(tag_input))
    stack: list[str] = []
    try:
        _meta_forward(model, input_size, mode=_FieldMode(stack))
    finally:
        for h in handles:
            h.remove()
    if not records:
        raise ValueError("the model has no spatial output: no layer produced a 4-D feature map")
    return records


def receptive_field(model: nn.Module, input_size: InputSize = (3, 224, 224)) -> ReceptiveField:
    """Receptive field of the last spatial feature map before global pooling (Araujo et al., Distill 2019).

    >>> from torchvision.models import vgg16
    >>> rf = receptive_field(vgg16(), (3, 224, 224))   # pool5
    >>> rf.size, rf.stride, rf.padding
    (212, 32, 90)
    """
    return receptive_fields(model, input_size)[-1]


# ---------------------------------------------------------------------------------------------------------
# Effective receptive field (Luo, Li, Urtasun and Zemel, NeurIPS 2016).


def effective_receptive_field(
    model: nn.Module,
    input_size: InputSize = (3, 224, 224),
    layer: str | None = None,
    n_samples: int = 4,
    seed: int = 0,
) -> torch.Tensor:
    """Gradient-based effective receptive field: |d y_centre / d x| summed over channels, averaged over inputs.

    ``y_centre`` is the centre unit (summed over channels) of the feature map of ``layer`` (by default the
    last spatial feature map). Computed in eval mode on random normal inputs; returns an (H, W) map
    normalised to a maximum of 1.
    """
    size = _check_input_size(input_size)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if layer is None:
        layer = receptive_fields(model, size)[-1].name
    modules = dict(model.named_modules())
    if layer not in modules:
        raise ValueError(f"layer must be one of the model's module names, got {layer!r}")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    captured: dict[str, torch.Tensor] = {}
    handle = modules[layer].register_forward_hook(lambda m, i, o: captured.__setitem__("y", o))
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(size[1:])
    try:
        for _ in range(n_samples):
            x = torch.randn((1, *size), generator=gen).to(device).requires_grad_(True)
            model(x)
            y = captured["y"]
            if y.dim() != 4:
                raise ValueError(f"layer '{layer}' has no spatial output (shape {tuple(y.shape)})")
            h, w = y.shape[-2] // 2, y.shape[-1] // 2
            (grad,) = torch.autograd.grad(y[0, :, h, w].sum(), x)
            total += grad[0].abs().sum(0).cpu()
    finally:
        handle.remove()
        model.train(was_training)
    return total / total.max().clamp_min(1e-12)


# ---------------------------------------------------------------------------------------------------------
# Gradient flow: how strongly the loss reaches each part of a network.


def output_gradient_norms(
    model: nn.Module, modules: Sequence[nn.Module], images: torch.Tensor, labels: torch.Tensor
) -> list[float]:
    """The norm of dL/d(output) of each of ``modules`` (in the order given) for one cross-entropy backward pass.

    The measure of He et al. 2015 (Section 4.1, "vanishing gradients") and of the "strong gradient flow" of
    DenseNet (Huang et al. 2017, Section 1): how much of the loss's signal arrives at each block. Forward
    hooks register a tensor hook on each module's output; the model's parameters' ``.grad`` are left as
    they were. Every module in ``modules`` must be used in the forward pass.
    """
    if not modules:
        raise ValueError("modules must list at least one submodule of model")
    grads: dict[int, float] = {}

    def watch(k: int):
        def hook(_module, _inputs, out):  # returns None: the output is left unchanged
            out.register_hook(lambda g: grads.__setitem__(k, g.norm().item()))

        return hook

    handles = [m.register_forward_hook(watch(k)) for k, m in enumerate(modules)]
    try:
        loss = nn.functional.cross_entropy(model(images), labels)
        torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad] or [images.requires_grad_()],
                            allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    missing = [k for k in range(len(modules)) if k not in grads]
    if missing:
        raise ValueError(f"modules {missing} (by position) were not used in model's forward pass")
    return [grads[k] for k in range(len(modules))]
