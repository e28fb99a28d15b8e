"""The Xception module (Figure 5 of arXiv 1610.02357): spectrum blocks with BatchNorm and ReLU, an optional 3x3/2
max-pool and a residual shortcut; its description (`ModuleSpec`), its cost formula and its module side by side."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .analytic import Cost, block_cost, conv_cost, conv_output_side
from .block import BlockSpec, SpectrumBlock, _one_of, _positive_int
from .layers import Site, norm_cost

SHORTCUTS = ("auto", "conv", "identity", "none")


@dataclass(frozen=True)
class ModuleSpec:
    """An Xception module: separable convs of `widths`, optional 3x3/2 max-pool, residual shortcut.

    activation "pre": ReLU -> conv -> BN (entry and middle flows; `first_relu` False drops the first ReLU);
    "post": conv -> BN -> ReLU (exit flow). shortcut: "conv" (1x1, pool stride, BN), "identity", "none", or
    "auto" (identity where the channels and the resolution stay, else conv).
    """

    widths: tuple[int, ...]
    pool_stride: int = 1
    shortcut: str = "auto"
    activation: str = "pre"
    first_relu: bool = True

    def __post_init__(self) -> None:
        _one_of("ModuleSpec", "shortcut", self.shortcut, SHORTCUTS)
        _one_of("ModuleSpec", "activation", self.activation, ("pre", "post"))
        _one_of("ModuleSpec", "pool_stride", self.pool_stride, (1, 2))
        if not self.widths:
            raise ValueError("ModuleSpec.widths is empty; expected at least one width")
        for w in self.widths:
            _positive_int("ModuleSpec", "widths", w)

    @property
    def width(self) -> int:
        return self.widths[-1]

    @property
    def out_channels(self) -> int:
        return self.widths[-1]

    def out_side(self, site: Site) -> int:
        return conv_output_side(site.side, 3, 2, 1) if self.pool_stride == 2 else site.side

    def _ins(self, site: Site) -> tuple[int, ...]:
        return (site.in_channels,) + self.widths[:-1]

    def block_specs(self, site: Site) -> list[BlockSpec]:
        return [site.block(c, w) for c, w in zip(self._ins(site), self.widths)]

    def spatial_widths(self, site: Site) -> tuple[int, ...]:
        return tuple(site.spatial(c, w) for c, w in zip(self._ins(site), self.widths))

    def channels(self, site: Site) -> tuple[int, ...]:
        return self.widths

    def shortcut_kind(self, site: Site) -> str:
        """"conv", "identity" or "none" here ("auto" resolved); ValueError for an identity that cannot be."""
        same = site.in_channels == self.width and self.pool_stride == 1
        if self.shortcut == "auto":
            return "identity" if same else "conv"
        if self.shortcut == "identity" and not same:
            raise ValueError(f"ModuleSpec.shortcut='identity' needs equal widths and stride 1, "
                             f"got {site.in_channels}->{self.width}")
        return self.shortcut

    def cost(self, site: Site) -> Cost:
        total = Cost(0, 0)
        for spec in self.block_specs(site):
            total += block_cost(spec, site.side) + norm_cost(spec.out_channels)
        if self.shortcut_kind(site) == "conv":
            total += conv_cost(site.in_channels, self.width, 1, self.out_side(site)) + norm_cost(self.width)
        return total

    def build(self, site: Site, backend: str) -> list[nn.Module]:
        return [XceptionModule(self, site, backend)]

    def resized(self, width: int, fit) -> "ModuleSpec":
        last = self.widths[-1]
        widths = tuple(fit(width) if w == last else fit(w * width / last) for w in self.widths)
        return ModuleSpec(widths, self.pool_stride, self.shortcut, self.activation, self.first_relu)


class XceptionModule(nn.Module):
    """The module a ModuleSpec describes at its site; `ModuleSpec.cost` is its closed-form cost."""

    def __init__(self, module: ModuleSpec, site: Site, backend: str = "torch"):
        super().__init__()
        layers = []
        for i, spec in enumerate(module.block_specs(site)):
            conv = [SpectrumBlock(spec, backend), nn.BatchNorm2d(spec.out_channels)]
            if module.activation == "post":
                layers += conv + [nn.ReLU()]
            else:
                layers += ([nn.ReLU()] if (i or module.first_relu) else []) + conv
        if module.pool_stride == 2:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        kind, out = module.shortcut_kind(site), module.width
        if kind == "conv":
            self.shortcut = nn.Sequential(
                nn.Conv2d(site.in_channels, out, 1, stride=module.pool_stride, bias=False), nn.BatchNorm2d(out)
            )
        else:
            self.shortcut = nn.Identity() if kind == "identity" else None

    def forward(self, x):
        y = self.body(x)
        return y if self.shortcut is None else y + self.shortcut(x)
