"""The network families and their registry, `NETWORKS`: name -> `Family`.

- `xception`: the paper's network (Figure 5, Keras layout; 22,855,952 trainable params with the defaults), 299x299.
- `small` (the studies' default): a stem conv, then Xception modules of spectrum blocks, for 28x28 and 32x32 images.
- `resnext`: ResNeXt-style bottleneck stages (arXiv 1611.05431), the grouped kxk at any segment count.
- `resnext50`: ResNeXt-50 on ImageNet as torchvision builds it (spectrum.resnext50), with its Table 3 point set.

Every family builds a NetworkSpec through `Family.spec(width, depth, image_size, in_channels, num_classes,
position, order, activation, stem_stride=...)`; `match_width` then resizes it to a budget.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from .block import _positive_int
from .bottleneck import BottleneckSpec
from .layers import StemConv
from .matching import scaled
from .networks import NetworkSpec, SpectrumNet, build_network
from .position import Position
from .resnext50 import resnext50_spec, table3_points
from .xception_module import ModuleSpec


def _position(position, segments, group_width, default: str = "depthwise") -> Position:
    if position is not None:
        return Position.parse(position)
    if segments is None and group_width is None:
        return Position.parse(default)
    return Position.from_arguments(segments, group_width)


def _positives(owner: str, **values) -> None:
    for name, value in values.items():
        _positive_int(owner, name, value)


def _per_stage(owner: str, name: str, values, depth: int, default) -> tuple:
    values = tuple(values) if values is not None else tuple(default(i) for i in range(depth))
    if len(values) != depth:
        raise ValueError(f"{owner}.{name} has {len(values)} entries; expected depth={depth}")
    return values


# ---------------------------------------------------------------- the paper's Xception

XCEPTION_MIDDLE_WIDTH = 728


def xception_spec(num_classes: int = 1000, segments="depthwise", group_width=None, order: str = "spatial_first",
                  activation: str = "none", image_size: int = 299, in_channels: int = 3,
                  intermediate_norm: bool = False, kernel_size: int = 3, middle_repeats: int = 8,
                  position=None) -> NetworkSpec:
    """Xception (Figure 5): entry flow, middle flow x8 at 728, exit flow; Keras padding and shortcuts."""
    _positive_int("xception", "middle_repeats", middle_repeats)
    entry = [ModuleSpec((128, 128), 2, first_relu=False), ModuleSpec((256, 256), 2), ModuleSpec((728, 728), 2)]
    middle = [ModuleSpec((728, 728, 728))] * middle_repeats
    exit_flow = [ModuleSpec((728, 1024), 2), ModuleSpec((1536, 2048), 1, "none", activation="post")]
    return NetworkSpec(
        "xception", in_channels, num_classes, image_size,
        stem=(StemConv(32, 3, 2), StemConv(64, 3, 1)),
        modules=tuple(entry + middle + exit_flow),
        position=_position(position, segments, group_width),
        order=order, activation=activation, kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


def xception(num_classes: int = 1000, segments="depthwise", order: str = "spatial_first", activation: str = "none",
             backend: str = "torch", **kwargs) -> SpectrumNet:
    """The paper's Xception at any spectrum point (`segments` int/'regular'/'depthwise', or `group_width`)."""
    return build_network(xception_spec(num_classes, segments, order=order, activation=activation, **kwargs), backend)


def _xception_family(width=None, depth=None, stem_stride=None, **kwargs) -> NetworkSpec:
    """Xception through the family interface: `depth` is the middle flow's repeat count, `width` its width (every
    layer scaled alike), `stem_stride` the first stem conv's stride."""
    spec = xception_spec(**kwargs, **({} if depth is None else {"middle_repeats": depth}))
    if stem_stride is not None:
        _positive_int("xception", "stem_stride", stem_stride)
        spec = replace(spec, stem=(replace(spec.stem[0], stride=stem_stride),) + spec.stem[1:])
    if width is not None:
        _positive_int("xception", "width", width)
        spec = scaled(spec, width / XCEPTION_MIDDLE_WIDTH)
    return spec


# ---------------------------------------------------------------- the small Xception-style family

def small_spec(width: int = 32, depth: int = 3, reps: int = 2, stem_width: int = 16, stem_stride: int = 2,
               image_size: int = 28, in_channels: int = 1, num_classes: int = 10, widths=None,
               segments="depthwise", group_width=None, position=None, order: str = "spatial_first",
               activation: str = "none", kernel_size: int = 3, intermediate_norm: bool = False) -> NetworkSpec:
    """Stem conv, then `depth` Xception modules of `reps` spectrum blocks (the first at full resolution,
    the others with a 3x3/2 max-pool), then global pooling and a linear classifier.

    `widths` gives each module's width (default: `width` everywhere, like Xception's middle flow).
    """
    _positives("small_net", width=width, depth=depth, reps=reps, stem_width=stem_width, stem_stride=stem_stride)
    widths = _per_stage("small_net", "widths", widths, depth, lambda i: width)
    modules = tuple(ModuleSpec((w,) * reps, 1 if i == 0 else 2) for i, w in enumerate(widths))
    return NetworkSpec(
        "small", in_channels, num_classes, image_size,
        stem=(StemConv(stem_width, 3, stem_stride, 1),), modules=modules,
        position=_position(position, segments, group_width),
        order=order, activation=activation, kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


def small_net(backend: str = "torch", **kwargs) -> SpectrumNet:
    return build_network(small_spec(**kwargs), backend)


# ---------------------------------------------------------------- the ResNeXt-style family

def resnext_spec(width: int = 16, depth: int = 3, blocks=2, expansion: float = 2, stem_width=None,
                 stem_stride: int = 1, image_size: int = 32, in_channels: int = 3, num_classes: int = 10,
                 widths=None, out_widths=None, segments=None, group_width=None, position=None,
                 order: str = "spatial_first", activation: str = "relu", kernel_size: int = 3,
                 intermediate_norm: bool = True) -> NetworkSpec:
    """A 3x3 stem conv, then `depth` stages of `blocks` ResNeXt bottleneck blocks (spectrum.bottleneck), the
    first stage at full resolution and each next one at half, then global pooling and a linear classifier.

    Stage i has grouped width `widths[i]` (default `width` x 2^i, doubling like ResNeXt's stages) and output
    `out_widths[i]` (default `expansion` x its grouped width; ResNeXt-50 32x4d: 128 -> 256, expansion 2). The
    position's segments are the cardinality C; the default is group width 4, the paper's d = 4. `blocks` is one
    count for every stage or one per stage; `stem_width` defaults to `width`.
    """
    stem_width = width if stem_width is None else stem_width
    _positives("resnext", width=width, depth=depth, stem_width=stem_width, stem_stride=stem_stride)
    if not (isinstance(expansion, (int, float)) and not isinstance(expansion, bool) and expansion > 0):
        raise ValueError(f"resnext.expansion={expansion!r} is not allowed; expected a positive number")
    widths = _per_stage("resnext", "widths", widths, depth, lambda i: width * 2**i)
    outs = _per_stage("resnext", "out_widths", out_widths, depth, lambda i: max(1, round(widths[i] * expansion)))
    counts = _per_stage("resnext", "blocks", None if isinstance(blocks, int) else blocks, depth,
                        lambda i: blocks)
    modules = tuple(BottleneckSpec(w, o, n, 1 if i == 0 else 2)
                    for i, (w, o, n) in enumerate(zip(widths, outs, counts)))
    return NetworkSpec(
        "resnext", in_channels, num_classes, image_size,
        stem=(StemConv(stem_width, 3, stem_stride, 1),), modules=modules,
        position=_position(position, segments, group_width, default="group_width=4"),
        order=order, activation=activation, kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class Family:
    """A registered network family. `small_input`: built for 28x28 / 32x32 images by default. `in_studies`: a study
    can train it (`run_study.py --net` takes it, at the study's width, depth and image size). `point_sets`: named
    sets of labelled cost points (name -> function of a base spec -> list of NamedPoint)."""

    name: str
    summary: str
    builder: Callable[..., NetworkSpec]
    small_input: bool = True
    in_studies: bool = True
    point_sets: dict = field(default_factory=dict, compare=False)

    def spec(self, width=None, depth=None, image_size=None, in_channels=None, num_classes=None, position=None,
             order=None, activation=None, stem_stride=None, **options) -> NetworkSpec:
        """The family's NetworkSpec; an argument left None takes the family's own default. `position` is a
        Position or a label (regular, depthwise, segments=N, group_width=N); `options` go to the builder."""
        given = dict(width=width, depth=depth, image_size=image_size, in_channels=in_channels,
                     num_classes=num_classes, position=position, order=order, activation=activation,
                     stem_stride=stem_stride)
        return self.builder(**{k: v for k, v in given.items() if v is not None}, **options)


NETWORKS = {
    "small": Family("small", "Xception-style: stem conv, `depth` modules of 2 spectrum blocks with BN and residual "
                    "shortcuts, 28x28x1 by default (the studies' default)", small_spec),
    "resnext": Family("resnext", "ResNeXt-style: stages of bottlenecks, 1x1 reduce -> grouped 3x3 (cardinality = "
                      "segments) -> 1x1 expand, widths doubling per stage, 32x32x3 by default", resnext_spec),
    "xception": Family("xception", "the paper's Xception (Figure 5), 299x299x3; `depth` is the middle flow's "
                       "repeats, `width` its width", _xception_family, small_input=False, in_studies=False),
    "resnext50": Family("resnext50", "ResNeXt-50 as torchvision builds it, 224x224x3: [3, 4, 6, 3] bottlenecks, "
                        "cardinality x bottleneck width 32x4d (1x64d is ResNet-50); `width` the first stage's "
                        "grouped width, `depth` the stages kept", resnext50_spec, small_input=False,
                        point_sets={"table3": table3_points}),
}
DEFAULT_NETWORK = "small"


def network_spec(name: str, **kwargs) -> NetworkSpec:
    """A registered family's spec by name (see NETWORKS), with its builder's keyword arguments."""
    if name not in NETWORKS:
        raise ValueError(f"network={name!r} is not allowed; expected one of {', '.join(NETWORKS)}")
    return NETWORKS[name].builder(**kwargs)
