"""The one walk over a network's layers, and the two layer kinds every family shares: the stem conv and the head.

A network (`NetworkSpec`) is a stem of `StemConv`s, a body of units (`ModuleSpec`: an Xception module;
`BottleneckSpec`: a ResNeXt stage) and a `Head`. `NetworkSpec.layers()` walks them once, carrying channels and
resolution from one to the next, and yields a `Layer` per unit: its role, what comes in, what goes out, and, from
the unit's own type, its cost formula and its modules. Building, the closed-form cost, the widths a position must
divide, the narrowest layer and width matching all read this walk.

A unit type (pycls's habit: each module type knows its own cost) has
    width, out_channels                 the width matching resizes; the channels it hands on
    out_side(site)                      the resolution it hands on
    spatial_widths(site)                channels each grouped kxk conv sees (what the position must divide)
    channels(site)                      the output width of each of its convs (what `min_width` reads)
    block_specs(site)                   (units with spectrum blocks) the BlockSpec of each, in order
    cost(site) -> Cost                  params and MACs from the formulas (no module built)
    build(site, backend) -> [modules]   its modules, in the order their weights are initialised
    resized(width, fit) -> unit         the unit at another width, inner widths at their ratio (`fit` rounds them)
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .analytic import Cost, conv_cost, conv_output_side
from .block import BlockSpec
from .position import Position


@dataclass(frozen=True)
class Site:
    """Where a unit sits: the channels and side coming in, and the network-wide settings of its spectrum blocks."""

    in_channels: int
    side: int
    position: Position
    order: str
    activation: str
    kernel_size: int
    intermediate_norm: bool

    def spatial(self, in_channels: int, out_channels: int) -> int:
        """Channels the grouped step of a block from `in_channels` to `out_channels` sees, in this order."""
        return in_channels if self.order == "spatial_first" else out_channels

    def block(self, in_channels: int, out_channels: int, stride: int = 1) -> BlockSpec:
        """The BlockSpec of a spectrum block here: segments from the position, the rest from the network."""
        groups = self.position.groups(self.spatial(in_channels, out_channels))
        return BlockSpec(in_channels, out_channels, groups, self.order, self.activation, self.kernel_size, stride,
                         self.intermediate_norm)

    def at(self, in_channels: int, side: int) -> "Site":
        return Site(in_channels, side, self.position, self.order, self.activation, self.kernel_size,
                    self.intermediate_norm)


@dataclass(frozen=True)
class Layer:
    """One step of the walk: a unit (`role` "stem", "body" or "head", `index` within its role) at its site."""

    role: str
    index: int
    unit: object
    site: Site

    @property
    def in_channels(self) -> int:
        return self.site.in_channels

    @property
    def side(self) -> int:
        """Input side (square)."""
        return self.site.side

    @property
    def out_channels(self) -> int:
        return self.unit.out_channels

    @property
    def out_side(self) -> int:
        return self.unit.out_side(self.site)

    @property
    def spatial_widths(self) -> tuple[int, ...]:
        return self.unit.spatial_widths(self.site)

    @property
    def channels(self) -> tuple[int, ...]:
        return self.unit.channels(self.site)

    def blocks(self) -> tuple[BlockSpec, ...]:
        """The BlockSpec of every spectrum block of this layer (none in the stem and head)."""
        specs = getattr(self.unit, "block_specs", None)
        return tuple(specs(self.site)) if specs else ()

    def cost(self) -> Cost:
        return self.unit.cost(self.site)

    def build(self, backend: str = "torch") -> list[nn.Module]:
        return self.unit.build(self.site, backend)


def norm_cost(channels: int) -> Cost:
    """A BatchNorm's trainable params (scale and shift); its MACs are not counted (see spectrum.counting)."""
    return Cost(2 * channels, 0)


@dataclass(frozen=True)
class StemConv:
    """A regular conv + BatchNorm + ReLU of the stem."""

    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    padding: int = 0

    @property
    def width(self) -> int:
        return self.out_channels

    def out_side(self, site: Site) -> int:
        return conv_output_side(site.side, self.kernel_size, self.stride, self.padding)

    def spatial_widths(self, site: Site) -> tuple:
        return ()

    def channels(self, site: Site) -> tuple:
        return (self.out_channels,)

    def cost(self, site: Site) -> Cost:
        return conv_cost(site.in_channels, self.out_channels, self.kernel_size, self.out_side(site)) + \
            norm_cost(self.out_channels)

    def build(self, site: Site, backend: str) -> list[nn.Module]:
        conv = nn.Conv2d(site.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding, bias=False)
        return [conv, nn.BatchNorm2d(self.out_channels), nn.ReLU()]

    def resized(self, width: int, fit) -> "StemConv":
        return StemConv(fit(width), self.kernel_size, self.stride, self.padding)


@dataclass(frozen=True)
class Head:
    """Global average pooling and a linear classifier."""

    num_classes: int

    @property
    def out_channels(self) -> int:
        return self.num_classes

    def out_side(self, site: Site) -> int:
        return 1

    def spatial_widths(self, site: Site) -> tuple:
        return ()

    def channels(self, site: Site) -> tuple:
        return ()  # the class count is not a width

    def cost(self, site: Site) -> Cost:
        c, n = site.in_channels, self.num_classes
        return Cost(c * n + n, c * n)

    def build(self, site: Site, backend: str) -> list[nn.Module]:
        return [nn.AdaptiveAvgPool2d(1), nn.Linear(site.in_channels, self.num_classes)]
