"""A network as data (`NetworkSpec`: stem, body units, head, one spectrum position) and the module built from it.

Everything about a network reads its one walk, `NetworkSpec.layers()` (see spectrum.layers): `build_network`
builds each layer's modules, `network_cost` adds each layer's cost formula, `spatial_widths` and `min_width` read
each layer's widths. The families (the paper's Xception, the small Xception-style net, the ResNeXt-style net) are
in spectrum.families; width matching is in spectrum.matching.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import nn

from .analytic import Cost
from .block import ACTIVATIONS, ORDERS, BlockSpec, _check_backend, _one_of, _positive_int
from .layers import Head, Layer, Site, StemConv
from .model_spec import ModelSpec
from .position import Position, check_fits


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network as data, at one spectrum position; `build_network` turns it into a module.

    `stem` is a tuple of StemConv, `modules` a tuple of body units (ModuleSpec, BottleneckSpec), each resized by
    width matching through its `width`.
    """

    name: str
    in_channels: int
    num_classes: int
    image_size: int
    stem: tuple[StemConv, ...]
    modules: tuple
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
        spatial, side = [], self.image_size
        for layer in self.layers():  # one walk checks both: the position fits, the image is large enough
            spatial += layer.spatial_widths
            side = min(side, layer.side)
        check_fits(self.position, spatial, self.name)
        if side < 1:
            raise ValueError(f"NetworkSpec.image_size={self.image_size} is too small for {self.name}")

    def layers(self) -> Iterator[Layer]:
        """Every layer in network order (stem convs, body units, head), each with the channels and side it gets."""
        site = Site(self.in_channels, self.image_size, self.position, self.order, self.activation, self.kernel_size,
                    self.intermediate_norm)
        for role, units in (("stem", self.stem), ("body", self.modules), ("head", (Head(self.num_classes),))):
            for index, unit in enumerate(units):
                layer = Layer(role, index, unit, site)
                yield layer
                site = site.at(layer.out_channels, layer.out_side)

    def block_specs(self) -> list[BlockSpec]:
        """The BlockSpec of every spectrum block, in network order."""
        return [spec for layer in self.layers() for spec in layer.blocks()]

    def spatial_widths(self) -> list[int]:
        """Channel counts seen by every grouped kxk step (what the position must divide)."""
        return [w for layer in self.layers() for w in layer.spatial_widths]

    def feature_side(self) -> int:
        """The side of the feature map the head pools."""
        return next(layer.side for layer in self.layers() if layer.role == "head")

    @property
    def widths(self) -> tuple[int, ...]:
        """The width of each body unit (what width matching resizes)."""
        return tuple(m.width for m in self.modules)


def network_cost(spec: NetworkSpec) -> Cost:
    """Params (trainable) and conv/linear MACs of a NetworkSpec, from the formulas alone (no module built)."""
    return sum((layer.cost() for layer in spec.layers()), Cost(0, 0))


def min_width(spec: NetworkSpec | ModelSpec) -> int:
    """The fewest channels of any conv in the network (stem, body; the classifier's class count aside); of your
    own network (a ModelSpec), the narrowest inner width of its converted blocks."""
    if isinstance(spec, ModelSpec):
        return spec.min_channels
    return min(c for layer in spec.layers() for c in layer.channels)


class SpectrumNet(nn.Module):
    """The module built from a NetworkSpec: `stem`, `features` (one entry per body unit), `pool`, `classifier`;
    `.spec` keeps the data it came from."""

    def __init__(self, spec: NetworkSpec, backend: str = "torch"):
        super().__init__()
        _check_backend(backend)
        self.spec = spec
        parts = {"stem": [], "body": [], "head": []}
        for layer in spec.layers():
            parts[layer.role] += layer.build(backend)
        self.stem = nn.Sequential(*parts["stem"])
        self.features = nn.Sequential(*parts["body"])
        self.pool, self.classifier = parts["head"]

    def forward(self, x):
        return self.classifier(self.pool(self.features(self.stem(x))).flatten(1))


def build_network(spec: NetworkSpec | ModelSpec, backend: str = "torch") -> nn.Module:
    """The module a spec describes: a SpectrumNet, or your own network converted (a ModelSpec)."""
    if isinstance(spec, ModelSpec):
        return spec.build(backend)
    return SpectrumNet(spec, backend)
