"""ResNeXt-50 on ImageNet (arXiv 1611.05431) as torchvision's ResNet template builds it, at any cardinality C and
bottleneck width d, and the paper's Table 3 rows (C x d at preserved complexity) as named cost points.

The template: conv1 7x7/2 + BN + ReLU + max pool 3x3/2 (`PooledStem`), four stages of [3, 4, 6, 3] bottleneck blocks
(spectrum.bottleneck: 1x1 reduce, grouped 3x3 carrying the stride (ResNet v1.5), 1x1 expand, BN after each conv, a
projection shortcut where the shape changes) of grouped width int(planes * d / 64) * C for planes 64, 128, 256, 512
and output 4 x planes, then global pooling and a 2048 -> 1000 linear layer. At 32x4d it is torchvision's
resnext50_32x4d, at 1x64d its resnet50. The position is segments=C: the same cardinality in every stage, so the
group width doubles from stage to stage (d, 2d, 4d, 8d).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn

from .analytic import conv_output_side
from .block import _positive_int
from .bottleneck import BottleneckSpec
from .layers import Site, StemConv
from .networks import NetworkSpec, network_cost
from .position import Position

STAGE_BLOCKS = (3, 4, 6, 3)
STAGE_PLANES = (64, 128, 256, 512)
EXPANSION = 4  # a stage's output is 4 x its planes
TABLE3 = ((1, 64), (2, 40), (4, 24), (8, 14), (32, 4))  # (cardinality C, bottleneck width d), ~same complexity


@dataclass(frozen=True)
class PooledStem:
    """ResNet's stem: a kxk/s conv + BN + ReLU (a StemConv with "same" padding), then a max pool."""

    out_channels: int = 64
    kernel_size: int = 7
    stride: int = 2
    pool_size: int = 3
    pool_stride: int = 2

    @property
    def conv(self) -> StemConv:
        return StemConv(self.out_channels, self.kernel_size, self.stride, self.kernel_size // 2)

    @property
    def width(self) -> int:
        return self.out_channels

    def out_side(self, site: Site) -> int:
        return conv_output_side(self.conv.out_side(site), self.pool_size, self.pool_stride, self.pool_size // 2)

    def spatial_widths(self, site: Site) -> tuple:
        return ()

    def channels(self, site: Site) -> tuple:
        return (self.out_channels,)

    def cost(self, site: Site):
        return self.conv.cost(site)  # max pooling has no params, and its comparisons are no multiply-adds

    def build(self, site: Site, backend: str) -> list[nn.Module]:
        return self.conv.build(site, backend) + [nn.MaxPool2d(self.pool_size, self.pool_stride, self.pool_size // 2)]

    def resized(self, width: int, fit) -> "PooledStem":
        return replace(self, out_channels=fit(width))


def template_width(planes: int, cardinality: int, bottleneck_width: int) -> int:
    """The grouped width of a stage in torchvision's Bottleneck: int(planes * (width_per_group / 64)) * groups."""
    return int(planes * (bottleneck_width / 64.0)) * cardinality


def resnext50_spec(cardinality: int = 32, bottleneck_width: int = 4, width=None, depth: int = 4,
                   stem_width: int = 64, stem_stride: int = 2, image_size: int = 224, in_channels: int = 3,
                   num_classes: int = 1000, segments=None, group_width=None, position=None,
                   order: str = "spatial_first", activation: str = "relu", kernel_size: int = 3,
                   intermediate_norm: bool = True) -> NetworkSpec:
    """ResNeXt-50 (C x d) = torchvision's ResNet(Bottleneck, [3, 4, 6, 3], groups=C, width_per_group=d).

    The position defaults to segments=C (`position`, or `segments`/`group_width`, puts it elsewhere at the same
    widths). `width` (for studies) scales every layer so the first stage's grouped width is `width` (C x d by
    default); `depth` keeps the first `depth` stages (4: ResNeXt-50); `stem_stride` is conv1's stride.
    """
    for name, value in dict(cardinality=cardinality, bottleneck_width=bottleneck_width, depth=depth,
                            stem_width=stem_width, stem_stride=stem_stride).items():
        _positive_int("resnext50", name, value)
    if depth > len(STAGE_BLOCKS):
        raise ValueError(f"resnext50.depth={depth} is not allowed; expected 1 to {len(STAGE_BLOCKS)} stages")
    widths = [template_width(p, cardinality, bottleneck_width) for p in STAGE_PLANES[:depth]]
    outs = [EXPANSION * p for p in STAGE_PLANES[:depth]]
    if width is not None:
        _positive_int("resnext50", "width", width)
        scale = width / widths[0]
        widths, outs = [round(w * scale) for w in widths], [max(1, round(o * scale)) for o in outs]
        stem_width = max(1, round(stem_width * scale))
    if position is None:
        explicit = segments is not None or group_width is not None
        position = Position.from_arguments(segments, group_width) if explicit else Position("segments", cardinality)
    stages = tuple(BottleneckSpec(w, o, n, 1 if i == 0 else 2)
                   for i, (w, o, n) in enumerate(zip(widths, outs, STAGE_BLOCKS)))
    return NetworkSpec(
        "resnext50", in_channels, num_classes, image_size, stem=(PooledStem(stem_width, 7, stem_stride),),
        modules=stages, position=Position.parse(position), order=order, activation=activation,
        kernel_size=kernel_size, intermediate_norm=intermediate_norm,
    )


@dataclass(frozen=True)
class NamedPoint:
    """A cost point with a label of its own ("32x4d") and the first stage's segments and group width beside it."""

    label: str
    spec: NetworkSpec

    def columns(self) -> dict:
        first = self.spec.block_specs()[0]
        return {"position": self.label, "segments": first.segments, "group_width": first.group_width}


def _like(base: NetworkSpec, **kwargs) -> NetworkSpec:
    """ResNeXt-50 with the base's input, classes, order and nonlinearity."""
    return resnext50_spec(image_size=base.image_size, in_channels=base.in_channels, num_classes=base.num_classes,
                          order=base.order, activation=base.activation, kernel_size=base.kernel_size,
                          intermediate_norm=base.intermediate_norm, **kwargs)


def depthwise_match(base: NetworkSpec, macs: int) -> NamedPoint:
    """The depthwise end (group width 1 in every stage) at the stage-1 width W whose MACs come closest to `macs`
    (every stage at W x 2^i, as the template doubles them); labelled "depthwise (Wx1d)"."""
    def spec(w):
        return _like(base, cardinality=w, bottleneck_width=1, position="depthwise")

    def error(w):
        return abs(network_cost(spec(w)).macs - macs)

    low, high = 1, 2
    while network_cost(spec(high)).macs < macs:  # MACs grow with W: bracket, then bisect
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if network_cost(spec(mid)).macs < macs else (low, mid)
    best = min((low, high), key=error)
    return NamedPoint(f"depthwise ({best}x1d)", spec(best))


def table3_points(base: NetworkSpec) -> list[NamedPoint]:
    """ResNeXt's Table 3 rows, 1x64d to 32x4d (ImageNet, ~4.1 GFLOPs each in the paper), then the depthwise end
    matched to 32x4d's MACs; each at the base's image size, input channels, classes, order and nonlinearity."""
    rows = [NamedPoint(f"{c}x{d}d", _like(base, cardinality=c, bottleneck_width=d)) for c, d in TABLE3]
    return rows + [depthwise_match(base, network_cost(rows[-1].spec).macs)]
