"""Your own network across the spectrum: every kxk `nn.Conv2d` of a model replaced by a spectrum block.

`convert(model, position, ...)` returns a new module (a deep copy; the input is left as it was) in which each
selected conv is a `ConvertedBlock`: a 1x1 step and a kxk step grouped into `segments`, in the given order, with the
intermediate nonlinearity between them. `convert_report` returns the same module with a per-layer report
(`Conversion`, `LayerConversion`); `allowed_positions` lists the positions every selected layer allows. BatchNorm,
activations, residual paths and every other module are left as they are.

Definitions
- Selected convs: every `nn.Conv2d` whose kernel is not 1x1 (k > 1, non-square kernels included); with `only`, those
  of them whose qualified module name matches the regex (`re.search`). A 1x1 conv is never converted.
- The two steps. spatial_first: kxk conv C_in -> M in `segments` groups (carrying the conv's stride, padding,
  dilation and padding mode), then 1x1 M -> C_out. pointwise_first: 1x1 C_in -> M, then kxk conv M -> C_out in
  `segments` groups (carrying them). M is the block's inner width. No bias unless the conv had one; then the last
  step carries it.
- The fixed side: the spatial step's channels that the conv fixes, C_in spatial first and C_out pointwise first
  (`BlockSpec.spatial_channels`). A position gives each layer its segment count from the fixed side: regular is 1,
  segments=S is S, group_width=G is fixed/G, depthwise is fixed (group width 1). A layer *allows* a position when
  that count divides its fixed side (and, spatial first at match "none", its C_out too, the inner width then);
  otherwise conversion is a `ConversionError` naming the layer and the counts it allows. With "macs" / "params" M
  is chosen among the multiples of the segment count (torch needs both channel counts of a grouped conv divisible
  by its groups), so matching never narrows which positions a layer allows.
- Inner width by `match`. "none": M is the conv's output channels C_out in both orders (spatial first: kxk C_in ->
  C_out in `segments` groups, then 1x1 C_out -> C_out; pointwise first: 1x1 C_in -> C_out, then kxk C_out -> C_out
  in `segments` groups), so a conv with C_in == C_out becomes exactly the harness's
  `SpectrumBlock(BlockSpec(C, C, segments, order))`, as does any conv pointwise first. "macs" / "params": the
  block's cost is linear in M, so M is the multiple of the segment count (at least one) nearest to the width at
  which the block costs what the conv cost, layer by layer. The report states each layer's ratio (block / conv); it lies within `TOLERANCE` (3%) wherever a
  multiple of the segment count gets there, else it is the closest one (`LayerConversion.tolerance` says which).
- Costs are the closed form for each call of a conv in one forward pass on a zero input of `input_shape` (batch 1,
  eval mode, no gradients): a kxk conv with groups g from C to N channels producing H x W costs
  kh*kw*(C/g)*N*H*W multiply-adds, as fvcore counts them. Pointwise first, the 1x1 step runs at the conv's input
  size. MACs need `input_shape`; params do not.
"""
from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import asdict, dataclass
from fractions import Fraction

import torch
from torch import nn

from common.cli import UsageError, folded
from common.vocabulary import ORDERS, check_one_of, divisors
from .block import ACTIVATIONS
from .counting import eval_mode, first_tensor
from .devices import check_input_shape
from .position import Position

__all__ = ["MATCHES", "TOLERANCE", "Conversion", "ConversionError", "ConvertedBlock", "LayerConversion",
           "allowed_positions", "common_segments", "convert", "convert_report", "convertible", "layer_segments"]

MATCHES = ("macs", "params", "none")
TOLERANCE = 0.03


class ConversionError(UsageError):
    """A model, position or option that cannot be converted: one line naming the layer or option and what is
    allowed (a `common.cli.UsageError`, hence a `ValueError`)."""


# ---------------------------------------------------------------- the convs and their costs


@dataclass(frozen=True)
class Step:
    """One conv's shape: what its params and MACs follow from. `at_input`: it produces the spatial size of the
    replaced conv's input (the 1x1 step before a pointwise-first spatial step), else that of its output."""

    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    groups: int = 1
    bias: bool = False
    at_input: bool = False

    @property
    def weights(self) -> int:
        return self.kernel[0] * self.kernel[1] * (self.in_channels // self.groups) * self.out_channels

    @property
    def params(self) -> int:
        return self.weights + (self.out_channels if self.bias else 0)

    def macs(self, calls) -> int:
        """Multiply-adds over the calls, each `((in_h, in_w), (out_h, out_w))`."""
        return sum(self.weights * hw[0] * hw[1] for hw in (c[0] if self.at_input else c[1] for c in calls))


@dataclass(frozen=True)
class ConvLayer:
    """A selected conv: its qualified name, shape, and the spatial sizes of its calls in the forward pass."""

    name: str
    conv: Step
    stride: tuple
    dilation: tuple
    calls: tuple = ()

    @classmethod
    def of(cls, name: str, conv: nn.Conv2d, calls=()) -> "ConvLayer":
        step = Step(conv.in_channels, conv.out_channels, tuple(conv.kernel_size), conv.groups, conv.bias is not None)
        return cls(name, step, tuple(conv.stride), tuple(conv.dilation), tuple(calls))

    def fixed(self, order: str) -> int:
        """The spatial step's channels the conv fixes: C_in spatial first, C_out pointwise first."""
        return self.conv.in_channels if order == "spatial_first" else self.conv.out_channels

    def allowed(self, order: str, match: str) -> list[int]:
        """The segment counts this layer allows: the divisors of its fixed side, and spatial first at match "none"
        (inner width C_out) those of them that divide C_out too."""
        counts = divisors(self.fixed(order))
        if order == "spatial_first" and match == "none":
            counts = [s for s in counts if self.conv.out_channels % s == 0]
        return counts

    def steps(self, order: str, segments: int, inner: int) -> tuple[Step, Step]:
        """The block's two steps, in order."""
        c, bias = self.conv, self.conv.bias
        if order == "spatial_first":
            return Step(c.in_channels, inner, c.kernel, segments), Step(inner, c.out_channels, (1, 1), bias=bias)
        return Step(c.in_channels, inner, (1, 1), at_input=True), Step(inner, c.out_channels, c.kernel, segments, bias)

    def describe(self) -> str:
        return _describe(self.conv, self.stride, self.dilation)


def _describe(step: Step, stride=(1, 1), dilation=(1, 1)) -> str:
    """'3x3/g4 64->128 s2 d2 +bias': kernel, groups, channels, then only what differs from a plain conv."""
    text = "x".join(map(str, step.kernel)) + (f"/g{step.groups}" if step.groups > 1 else "")
    text += f" {step.in_channels}->{step.out_channels}"
    for mark, pair in (("s", stride), ("d", dilation)):
        if tuple(pair) != (1, 1):
            text += f" {mark}" + (str(pair[0]) if pair[0] == pair[1] else "x".join(map(str, pair)))
    return text + (" +bias" if step.bias else "")


# ---------------------------------------------------------------- selection, positions, shapes


def convertible(model: nn.Module, only: str | None = None) -> list[tuple[str, nn.Conv2d]]:
    """The selected convs as (qualified name, module), in module order, each shared module once; a
    `ConversionError` when the model is not a module, has no kxk conv, or `only` is not a regex or matches none."""
    if not isinstance(model, nn.Module):
        raise ConversionError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) != (1, 1)]
    if not found:
        raise ConversionError(f"{type(model).__name__} has no kxk nn.Conv2d (k > 1) to convert")
    if only is None:
        return found
    try:
        pattern = re.compile(only)
    except (re.error, TypeError) as exc:
        raise ConversionError(f"only={only!r} is not a regular expression: {folded(exc)}") from None
    chosen = [(n, m) for n, m in found if pattern.search(n)]
    if not chosen:
        names = ", ".join(n or "''" for n, _ in found[:8]) + (f", ... ({len(found)} in all)" if len(found) > 8 else "")
        raise ConversionError(f"only={only!r} matches no kxk conv of {type(model).__name__}; its kxk convs: {names}")
    return chosen


def _check_options(order: str, activation: str, match: str) -> None:
    try:
        check_one_of("order", order, ORDERS)
        check_one_of("activation", activation, tuple(ACTIVATIONS))
        check_one_of("match", match, MATCHES)
    except ValueError as exc:
        raise ConversionError(str(exc)) from None


def _position(position) -> Position:
    try:
        return Position.parse(position)
    except ValueError as exc:
        raise ConversionError(str(exc)) from None


def _segments(layer: ConvLayer, position: Position, order: str, match: str = "macs") -> int:
    fixed, allowed = layer.fixed(order), layer.allowed(order, match)
    if fixed % position.value or position.groups(fixed) not in allowed:
        side = (f"{fixed} input channels and its inner width {layer.conv.out_channels} (match none)"
                if order == "spatial_first" and match == "none" else
                f"{fixed} {'input' if order == 'spatial_first' else 'output'} channels")
        counts = allowed if position.kind == "segments" else sorted(fixed // s for s in allowed)
        raise ConversionError(
            f"position {position.label} does not fit layer {layer.name!r} ({layer.describe()}): its spatial step "
            f"({order}) has {side}; allowed {position.kind}: {', '.join(map(str, counts))}")
    return position.groups(fixed)


def layer_segments(model: nn.Module, position, order: str = "spatial_first", only: str | None = None,
                   match: str = "macs") -> dict:
    """{qualified name: segment count} of every selected conv at `position`; a `ConversionError` naming the first
    layer the position does not fit, with the counts that layer allows."""
    _check_options(order, "none", match)
    pos = _position(position)
    return {name: _segments(ConvLayer.of(name, conv), pos, order, match) for name, conv in convertible(model, only)}


def common_segments(model: nn.Module, order: str = "spatial_first", only: str | None = None,
                    match: str = "macs") -> list[int]:
    """The segment counts every selected layer allows, ascending: the divisors of one number, the greatest common
    divisor of the layers' fixed sides (and, spatial first at match "none", of their output channels too)."""
    _check_options(order, "none", match)
    layers = [ConvLayer.of(name, conv) for name, conv in convertible(model, only)]
    return sorted(set.intersection(*(set(layer.allowed(order, match)) for layer in layers)))


def allowed_positions(model: nn.Module, order: str = "spatial_first", only: str | None = None,
                      match: str = "macs") -> list[str]:
    """Every position label every selected layer allows: regular, segments=S for each segment count S > 1 every
    layer allows (`common_segments`; see the module docstring), and depthwise (unless a layer refuses it: spatial
    first at match "none", a conv whose C_out is not a multiple of its C_in). The input size does not enter: with
    "macs" / "params" the inner width is chosen among multiples of the segment count, so matching allows every
    position the fixed sides do. A segment count equal to every layer's fixed side is listed once, as depthwise."""
    layers = [ConvLayer.of(name, conv) for name, conv in convertible(model, only)]
    fixed = {layer.fixed(order) for layer in layers}
    middle = [f"segments={s}" for s in common_segments(model, order, only, match) if s > 1 and fixed != {s}]
    depthwise = all(layer.fixed(order) in layer.allowed(order, match) for layer in layers)
    return ["regular", *middle, *(["depthwise"] if depthwise else [])]


def conv_calls(model: nn.Module, names, input_shape) -> dict:
    """{name: (((in_h, in_w), (out_h, out_w)), ...)}: the spatial sizes of each call of the named convs in one
    forward pass on a zero input of `input_shape` (C, H, W), batch 1, eval mode, no gradients (flags restored)."""
    try:
        shape = check_input_shape(input_shape)
    except ValueError as exc:
        raise ConversionError(str(exc)) from None
    calls = {name: [] for name in names}
    modules = dict(model.named_modules(remove_duplicate=False))

    def hook(name):
        return lambda module, args, out: calls[name].append((tuple(args[0].shape[-2:]), tuple(out.shape[-2:])))

    ref = first_tensor(model)
    x = torch.zeros((1, *shape), device=ref.device if ref is not None else "cpu",
                    dtype=ref.dtype if ref is not None and ref.is_floating_point() else torch.float32)
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.callback(modules[name].register_forward_hook(hook(name)).remove)
        try:
            with eval_mode(model), torch.no_grad():
                model(x)
        except Exception as exc:  # noqa: BLE001 - the user's forward: one line naming the input
            raise ConversionError(f"a forward pass on an input of shape {shape} failed: {type(exc).__name__}: "
                                  f"{folded(exc)}") from None
    silent = [name for name, c in calls.items() if not c]
    if silent:
        raise ConversionError(f"layer {silent[0]!r} is not called by a forward pass on an input of shape {shape}; "
                              f"leave it out with only=")
    return {name: tuple(c) for name, c in calls.items()}


# ---------------------------------------------------------------- sizing


def inner_width(layer: ConvLayer, order: str, segments: int, match: str) -> int:
    """The block's inner width M: the conv's output channels for match "none"; else the multiple of `segments` (at
    least one) whose block cost is nearest the conv's (cost is linear in M, so the nearest width is the nearest
    ratio)."""
    if match == "none":
        return layer.conv.out_channels
    cost = _cost_of(match, layer.calls)
    per_group = sum(cost(s) for s in layer.steps(order, segments, segments))  # at M = segments
    bias = layer.conv.out_channels if (match == "params" and layer.conv.bias) else 0
    multiples = Fraction(cost(layer.conv) - bias, per_group - bias)
    return segments * max(1, round(multiples))


def _cost_of(match: str, calls):
    return (lambda step: step.params) if match == "params" else (lambda step: step.macs(calls))


# ---------------------------------------------------------------- the module


class ConvertedBlock(nn.Module):
    """A converted conv: `first`, `norm` (identity), `act`, `second`, as `SpectrumBlock` names them, but with any
    inner width, the conv's padding, dilation and padding mode on the spatial step, and its bias (if any) on the
    last step. `spatial` and `pointwise` name the two steps."""

    def __init__(self, conv: nn.Conv2d, order: str, segments: int, inner: int, activation: str = "none"):
        super().__init__()
        kw = dict(device=conv.weight.device, dtype=conv.weight.dtype)
        spatial = dict(kernel_size=conv.kernel_size, stride=conv.stride, padding=conv.padding,
                       dilation=conv.dilation, groups=segments, padding_mode=conv.padding_mode, **kw)
        bias = conv.bias is not None
        if order == "spatial_first":
            first = nn.Conv2d(conv.in_channels, inner, bias=False, **spatial)
            second = nn.Conv2d(inner, conv.out_channels, 1, bias=bias, **kw)
        else:
            first = nn.Conv2d(conv.in_channels, inner, 1, bias=False, **kw)
            second = nn.Conv2d(inner, conv.out_channels, bias=bias, **spatial)
        self.first, self.norm, self.act, self.second = first, nn.Identity(), ACTIVATIONS[activation](), second
        self.order, self.segments, self.inner, self.activation = order, segments, inner, activation

    @property
    def spatial(self) -> nn.Conv2d:
        return self.first if self.order == "spatial_first" else self.second

    @property
    def pointwise(self) -> nn.Conv2d:
        return self.second if self.order == "spatial_first" else self.first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.act(self.norm(self.first(x))))

    def extra_repr(self) -> str:
        return f"segments={self.segments}, inner={self.inner}, order={self.order}, activation={self.activation}"


def _replace(model: nn.Module, blocks: dict) -> nn.Module:
    """`model` with each module whose id is a key of `blocks` replaced wherever it is reached (shared ones too)."""
    root = blocks.get(id(model))
    if root is not None:
        return root
    for name, module in list(model.named_modules(remove_duplicate=False)):
        for child_name, child in list(module.named_children()):
            if id(child) in blocks:
                setattr(module, child_name, blocks[id(child)])
    return model


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class LayerConversion:
    """One converted conv. `ratio` is block / conv in what `match` names (MACs for "none" when known, else params);
    `tolerance` the bound |ratio - 1| keeps: TOLERANCE where a multiple of the segment count reaches it, else the
    closest the group constraint allows (None for match "none"). MACs are None without an input shape."""

    name: str
    conv: str
    block: str
    segments: int
    inner_width: int
    params_before: int
    params_after: int
    macs_before: int | None
    macs_after: int | None
    ratio: float
    tolerance: float | None


@dataclass(frozen=True, eq=False)
class Conversion:
    """A converted model and its per-layer report; totals are over the converted layers."""

    model: nn.Module
    position: str
    order: str
    activation: str
    match: str
    input_shape: tuple | None
    layers: tuple[LayerConversion, ...]
    only: str | None = None

    def total(self, field: str) -> int | None:
        """Sum of a LayerConversion count ('macs_before', 'params_after', ...) over the layers."""
        values = [getattr(layer, field) for layer in self.layers]
        return None if None in values else sum(values)

    def rows(self) -> list[dict]:
        """One dict per layer (its name as `layer`), with the position: the rows of layers.csv."""
        return [{"position": self.position, "layer": layer.name,
                 **{k: v for k, v in asdict(layer).items() if k != "name"}} for layer in self.layers]


def _layer_report(layer: ConvLayer, order: str, segments: int, inner: int, match: str) -> LayerConversion:
    steps = layer.steps(order, segments, inner)
    known = bool(layer.calls)
    macs = (layer.conv.macs(layer.calls), sum(s.macs(layer.calls) for s in steps)) if known else (None, None)
    params = (layer.conv.params, sum(s.params for s in steps))
    measure = params if match == "params" or (match == "none" and not known) else macs
    ratio = measure[1] / measure[0]
    tolerance = None if match == "none" else max(TOLERANCE, abs(ratio - 1))
    block = " + ".join(_describe(s, *((layer.stride, layer.dilation) if s.kernel != (1, 1) else ())) for s in steps)
    return LayerConversion(layer.name, layer.describe(), block, segments, inner, *params, *macs, ratio, tolerance)


def convert_report(model: nn.Module, position, order: str = "spatial_first", activation: str = "none",
                   match: str = "macs", only: str | None = None, input_shape=None) -> Conversion:
    """`convert`, with the per-layer report (see the module docstring for every definition)."""
    _check_options(order, activation, match)
    pos = _position(position)
    selected = convertible(model, only)
    segments = {name: _segments(ConvLayer.of(name, conv), pos, order, match) for name, conv in selected}
    if input_shape is None and match == "macs":
        raise ConversionError("match='macs' needs input_shape=(channels, height, width) to size each block")
    new = copy.deepcopy(model)
    convs = dict(convertible(new, only))
    calls = conv_calls(new, list(convs), input_shape) if input_shape is not None else {}
    blocks, reports = {}, []
    for name, conv in convs.items():
        layer = ConvLayer.of(name, conv, calls.get(name, ()))
        inner = inner_width(layer, order, segments[name], match)
        blocks[id(conv)] = ConvertedBlock(conv, order, segments[name], inner, activation)
        reports.append(_layer_report(layer, order, segments[name], inner, match))
    shape = None if input_shape is None else tuple(input_shape)
    return Conversion(_replace(new, blocks), pos.label, order, activation, match, shape, tuple(reports), only)


def convert(model: nn.Module, position, order: str = "spatial_first", activation: str = "none", match: str = "macs",
            only: str | None = None, input_shape=None) -> nn.Module:
    """A new module: `model` deep-copied with every selected kxk conv replaced by a `ConvertedBlock` at `position`
    ("regular", "depthwise", "segments=S", "group_width=G"), in `order`, with `activation` between the steps and
    the inner width sized by `match` ("macs" needs `input_shape`, (C, H, W)). The input model is left as it was.
    Everything (selection, segment counts, inner widths, errors) is defined in the module docstring."""
    return convert_report(model, position, order, activation, match, only, input_shape).model
