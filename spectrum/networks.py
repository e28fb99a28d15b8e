"""Networks built from data: a stem, a list of Xception-style modules of SpectrumBlocks, a classifier.

`xception()` is the paper's network (Figure 5, Keras layout; 22,855,952 trainable params with the
defaults). `small_net()` is the family the studies train on 28x28 and 32x32 images; `match_width()`
resizes it so every spectrum point costs the same params or MACs.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field, replace

from torch import nn

from .analytic import Cost, conv_cost, conv_output_side
from .block import ACTIVATIONS, ORDERS, BlockSpec, SpectrumBlock, _check_backend, _one_of, _positive_int
from .position import Position, check_fits


@dataclass(frozen=True)
class StemConv:
    """A regular conv + BatchNorm + ReLU of the stem."""

    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class ModuleSpec:
    """An Xception module: separable convs of `widths`, optional 3x3/2 max-pool, residual shortcut.

    activation "pre": ReLU -> conv -> BN (entry and middle flows; `first_relu` False drops the first ReLU);
    "post": conv -> BN -> ReLU (exit flow). shortcut: "conv" (1x1, pool stride, BN), "identity" or "none".
    """

    widths: tuple[int, ...]
    pool_stride: int = 1
    shortcut: str = "identity"
    activation: str = "pre"
    first_relu: bool = True

    def __post_init__(self) -> None:
        _one_of("ModuleSpec", "shortcut", self.shortcut, ("conv", "identity", "none"))
        _one_of("ModuleSpec", "activation", self.activation, ("pre", "post"))
        _one_of("ModuleSpec", "pool_stride", self.pool_stride, (1, 2))
        for w in self.widths:
            _positive_int("ModuleSpec", "widths", w)


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network as data, at one spectrum position; `build_network` turns it into a module."""

    name: str
    in_channels: int
    num_classes: int
    image_size: int
    stem: tuple[StemConv, ...]
    modules: tuple[ModuleSpec, ...]
    position: Position = field(default_factory=lambda: Position.parse("depthwise"))
    order: str = "spatial_first"
    activation: str = "none"
    kernel_size: int = 3
    intermediate_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "image_size", "kernel_size"):
            _positive_int("NetworkSpec", name, getattr(self, name))
        _one_of("NetworkSpec", "order", self.order, ORDERS)
        _one_of("NetworkSpec", "activation", self.activation, tuple(ACTIVATIONS))
        if not isinstance(self.position, Position):
            raise ValueError(f"NetworkSpec.position must be a Position, got {self.position!r}")
        if not self.modules:
            raise ValueError("NetworkSpec.modules is empty; expected at least one module")
        check_fits(self.position, self.spatial_widths(), self.name)
        if self.feature_side() < 1:
            raise ValueError(f"NetworkSpec.image_size={self.image_size} is too small for {self.name}")

    def block_specs(self) -> list[BlockSpec]:
        """The BlockSpec of every separable conv, in network order."""
        specs, width = [], self.stem[-1].out_channels if self.stem else self.in_channels
        for module in self.modules:
            for out in module.widths:
                channels = width if self.order == "spatial_first" else out
                specs.append(
                    BlockSpec(width, out, self.position.groups(channels), self.order, self.activation,
                              self.kernel_size, 1, self.intermediate_norm)
                )
                width = out
        return specs

    def spatial_widths(self) -> list[int]:
        """Channel counts seen by every spatial step (what the position must divide)."""
        width, seen = self.stem[-1].out_channels if self.stem else self.in_channels, []
        for module in self.modules:
            for out in module.widths:
                seen.append(width if self.order == "spatial_first" else out)
                width = out
        return seen

    def feature_side(self) -> int:
        side = self.image_size
        for conv in self.stem:
            side = conv_output_side(side, conv.kernel_size, conv.stride, conv.padding)
        for module in self.modules:
            if module.pool_stride == 2:
                side = conv_output_side(side, 3, 2, 1)
        return side

    @property
    def widths(self) -> tuple[int, ...]:
        """The output width of each module (what width matching resizes)."""
        return tuple(m.widths[-1] for m in self.modules)


class XceptionModule(nn.Module):
    def __init__(self, module: ModuleSpec, blocks: list[BlockSpec], in_channels: int, backend: str):
        super().__init__()
        layers = []
        for i, spec in enumerate(blocks):
            conv = [SpectrumBlock(spec, backend), nn.BatchNorm2d(spec.out_channels)]
            if module.activation == "post":
                layers += conv + [nn.ReLU()]
            else:
                layers += ([nn.ReLU()] if (i or module.first_relu) else []) + conv
        if module.pool_stride == 2:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        out = blocks[-1].out_channels
        if module.shortcut == "conv":
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride=module.pool_stride, bias=False), nn.BatchNorm2d(out)
            )
        elif module.shortcut == "identity":
            if in_channels != out or module.pool_stride != 1:
                raise ValueError(f"ModuleSpec.shortcut='identity' needs equal widths and stride 1, got {in_channels}->{out}")
            self.shortcut = nn.Identity()
        else:
            self.shortcut = None

    def forward(self, x):
        y = self.body(x)
        return y if self.shortcut is None else y + self.shortcut(x)


class SpectrumNet(nn.Module):
    """The module built from a NetworkSpec; `.spec` keeps the data it came from."""

    def __init__(self, spec: NetworkSpec, backend: str = "torch"):
        super().__init__()
        _check_backend(backend)
        self.spec = spec
        stem, width = [], spec.in_channels
        for conv in spec.stem:
            stem += [nn.Conv2d(width, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=False),
                     nn.BatchNorm2d(conv.out_channels), nn.ReLU()]
            width = conv.out_channels
        self.stem = nn.Sequential(*stem)
        blocks = iter(spec.block_specs())
        modules = []
        for module in spec.modules:
            mine = [next(blocks) for _ in module.widths]
            modules.append(XceptionModule(module, mine, width, backend))
            width = module.widths[-1]
        self.features = nn.Sequential(*modules)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, spec.num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(self.stem(x))).flatten(1))


def build_network(spec: NetworkSpec, backend: str = "torch") -> SpectrumNet:
    return SpectrumNet(spec, backend)


def network_cost(spec: NetworkSpec) -> Cost:
    """Params (trainable) and conv/linear MACs of a NetworkSpec, from the formulas alone (no module built)."""
    from .analytic import block_cost

    total, side, width = Cost(0, 0), spec.image_size, spec.in_channels
    for conv in spec.stem:
        side = conv_output_side(side, conv.kernel_size, conv.stride, conv.padding)
        total += conv_cost(width, conv.out_channels, conv.kernel_size, side) + Cost(2 * conv.out_channels, 0)
        width = conv.out_channels
    blocks = iter(spec.block_specs())
    for module in spec.modules:
        in_width = width
        for out in module.widths:
            total += block_cost(next(blocks), side) + Cost(2 * out, 0)
            width = out
        out_side = conv_output_side(side, 3, 2, 1) if module.pool_stride == 2 else side
        if module.shortcut == "conv":
            total += conv_cost(in_width, width, 1, out_side) + Cost(2 * width, 0)
        side = out_side
    return total + Cost(width * spec.num_classes + spec.num_classes, width * spec.num_classes)


# ---------------------------------------------------------------- the paper's Xception

def xception_spec(num_classes: int = 1000, segments="depthwise", group_width=None, order: str = "spatial_first",
                  activation: str = "none", image_size: int = 299, in_channels: int = 3,
                  intermediate_norm: bool = False, kernel_size: int = 3, middle_repeats: int = 8) -> NetworkSpec:
    """Xception (Figure 5): entry flow, middle flow x8 at 728, exit flow; Keras padding and shortcuts."""
    _positive_int("xception", "middle_repeats", middle_repeats)
    entry = [ModuleSpec((128, 128), 2, "conv", first_relu=False),
             ModuleSpec((256, 256), 2, "conv"),
             ModuleSpec((728, 728), 2, "conv")]
    middle = [ModuleSpec((728, 728, 728))] * middle_repeats
    exit_flow = [ModuleSpec((728, 1024), 2, "conv"), ModuleSpec((1536, 2048), 1, "none", activation="post")]
    return NetworkSpec(
        "xception", in_channels, num_classes, image_size,
        stem=(StemConv(32, 3, 2), StemConv(64, 3, 1)),
        modules=tuple(entry + middle + exit_flow),
        position=Position.from_arguments(segments, group_width),
        order=order, activation=activation, kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


def xception(num_classes: int = 1000, segments="depthwise", order: str = "spatial_first", activation: str = "none",
             backend: str = "torch", **kwargs) -> SpectrumNet:
    """The paper's Xception at any spectrum point (`segments` int/'regular'/'depthwise', or `group_width`)."""
    return build_network(xception_spec(num_classes, segments, order=order, activation=activation, **kwargs), backend)


# ---------------------------------------------------------------- the small-input family

def small_spec(width: int = 32, depth: int = 3, reps: int = 2, stem_width: int = 16, stem_stride: int = 2,
               image_size: int = 28, in_channels: int = 1, num_classes: int = 10, widths=None,
               segments="depthwise", group_width=None, position=None, order: str = "spatial_first",
               activation: str = "none", kernel_size: int = 3, intermediate_norm: bool = False) -> NetworkSpec:
    """Stem conv, then `depth` Xception modules of `reps` spectrum blocks (the first at full resolution,
    the others with a 3x3/2 max-pool), then global pooling and a linear classifier.

    `widths` gives each module's width (default: `width` everywhere, like Xception's middle flow).
    """
    for name, value in (("width", width), ("depth", depth), ("reps", reps), ("stem_width", stem_width),
                        ("stem_stride", stem_stride)):
        _positive_int("small_net", name, value)
    widths = tuple(widths) if widths is not None else (width,) * depth
    if len(widths) != depth:
        raise ValueError(f"small_net.widths has {len(widths)} entries; expected depth={depth}")
    modules, prev = [], stem_width
    for i, w in enumerate(widths):
        stride = 1 if i == 0 else 2
        shortcut = "identity" if (w == prev and stride == 1) else "conv"
        modules.append(ModuleSpec((w,) * reps, stride, shortcut))
        prev = w
    pos = Position.parse(position) if position is not None else Position.from_arguments(segments, group_width)
    return NetworkSpec(
        "small", in_channels, num_classes, image_size,
        stem=(StemConv(stem_width, 3, stem_stride, 1),), modules=tuple(modules), position=pos,
        order=order, activation=activation, kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


def small_net(backend: str = "torch", **kwargs) -> SpectrumNet:
    return build_network(small_spec(**kwargs), backend)


def matched_position(segments: int, base_width: int) -> Position:
    """The position to hold fixed while the width changes: the segment count near the regular end,
    the group width near the depthwise end (whichever asks the smaller divisor of every width)."""
    if base_width % segments:
        raise ValueError(f"segments={segments} does not divide base width {base_width}")
    if segments * segments <= base_width:
        return Position("segments", segments)
    return Position("group_width", base_width // segments)


MATCH_METRICS = ("params", "macs")
MATCH_TOLERANCE = 0.03


@functools.lru_cache(maxsize=4096)  # specs are frozen: a study asks for the same match per seed and per check
def match_width(spec: NetworkSpec, target: float, metric: str = "macs", tolerance: float = MATCH_TOLERANCE) -> NetworkSpec:
    """The spec with module widths resized so its `metric` lies within `tolerance` of `target`.

    Widths keep the spec's profile (their ratios) at a common scale; each module is rounded down or up
    to a multiple of what the position needs, and the combination closest to the target wins.
    """
    _one_of("match_width", "metric", metric, MATCH_METRICS)
    if not target > 0:
        raise ValueError(f"match_width.target={target!r} is not allowed; expected a positive number")
    q = spec.position.divisor
    base = spec.widths
    best, best_err = None, math.inf
    for scale in (2 ** (i / 64) for i in range(-6 * 64, 6 * 64 + 1)):
        uniform = [max(q, round(w * scale / q) * q) for w in base]
        err = abs(getattr(network_cost(_with_widths(spec, uniform)), metric) / target - 1)
        if err < best_err - 1e-12:
            best, best_err = uniform, err
        if err > 0.3:
            continue  # far from the target: not worth the 2^depth roundings
        options = []
        for w in base:
            lo = max(q, int(w * scale // q) * q)
            options.append(sorted({lo, lo + q}))
        for widths in itertools.product(*options):
            cost = getattr(network_cost(_with_widths(spec, widths)), metric)
            err = abs(cost - target) / target
            if err < best_err - 1e-12:
                best, best_err = widths, err
        if best_err < tolerance / 4:
            break
    if best_err > tolerance:
        raise ValueError(
            f"match_width: no width brings {spec.position.label} within {tolerance:.0%} of {metric}={target:,.0f} "
            f"(closest: widths {', '.join(map(str, best))} at {best_err:.0%} off)"
        )
    return _with_widths(spec, best)


def narrowest(spec: NetworkSpec) -> NetworkSpec:
    """The spec at the smallest widths its position allows: the cheapest cost `match_width` can reach."""
    return _with_widths(spec, [spec.position.divisor] * len(spec.modules))


def _with_widths(spec: NetworkSpec, widths) -> NetworkSpec:
    modules, prev = [], spec.stem[-1].out_channels
    for module, w in zip(spec.modules, widths):
        shortcut = module.shortcut
        if shortcut != "none":
            shortcut = "identity" if (w == prev and module.pool_stride == 1) else "conv"
        modules.append(replace(module, widths=(w,) * len(module.widths), shortcut=shortcut))
        prev = w
    return replace(spec, modules=tuple(modules))


NETWORKS = {
    "xception": xception_spec,
    "small": small_spec,
    "small32": lambda **kw: small_spec(**{"image_size": 32, "in_channels": 3, **kw}),
}


def network_spec(name: str, **kwargs) -> NetworkSpec:
    """A registered network by name: xception, small (28x28x1), small32 (32x32x3)."""
    if name not in NETWORKS:
        raise ValueError(f"network={name!r} is not allowed; expected one of {', '.join(NETWORKS)}")
    return NETWORKS[name](**kwargs)
