"""The ResNeXt bottleneck stage (arXiv 1611.05431, Figure 3c and Table 3): 1x1 reduce -> grouped kxk -> 1x1
expand, BatchNorm and ReLU after each, a residual add; its description (`BottleneckSpec`), its cost formula and its
module side by side.

The grouped kxk has `width` channels (cardinality C x bottleneck width d in the paper's terms); its segment count
is the network's position, so C = segments. The kxk and one of the two 1x1s form a `SpectrumBlock`, in the
network's order: spatial first, the kxk with the expand after it; pointwise first, the reduce with the kxk after
it. The block's intermediate norm and nonlinearity sit between those two (ResNeXt: BatchNorm and ReLU), so with
`intermediate_norm=True, activation="relu"` both orders are the paper's block, and `activation="none"` removes
the one ReLU between the grouped conv and its paired 1x1, as the Xception paper does (its Figure 10).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .analytic import Cost, block_cost, conv_cost, conv_output_side
from .block import BlockSpec, SpectrumBlock, _positive_int
from .layers import Site, norm_cost


@dataclass(frozen=True)
class BottleneckSpec:
    """A ResNeXt stage: `blocks` bottleneck blocks of grouped width `width` and output `out`; the first carries
    `stride` (on its grouped conv) and a 1x1 projection shortcut where the channels or the resolution change."""

    width: int
    out: int
    blocks: int = 1
    stride: int = 1

    def __post_init__(self) -> None:
        for name in ("width", "out", "blocks"):
            _positive_int("BottleneckSpec", name, getattr(self, name))
        if self.stride not in (1, 2):
            raise ValueError(f"BottleneckSpec.stride={self.stride!r} is not allowed; expected one of 1, 2")

    @property
    def out_channels(self) -> int:
        return self.out

    def plan(self, site: Site) -> list[tuple[int, int, BlockSpec]]:
        """(input channels, input side, spectrum block) of each bottleneck block, in order."""
        sf = site.order == "spatial_first"
        plan, c, side = [], site.in_channels, site.side
        for i in range(self.blocks):
            stride = self.stride if i == 0 else 1
            spec = site.block(self.width, self.out, stride) if sf else site.block(c, self.width, stride)
            plan.append((c, side, spec))
            c, side = self.out, conv_output_side(side, site.kernel_size, stride, site.kernel_size // 2)
        return plan

    def out_side(self, site: Site) -> int:
        return conv_output_side(site.side, site.kernel_size, self.stride, site.kernel_size // 2)

    def block_specs(self, site: Site) -> list[BlockSpec]:
        return [spec for _, _, spec in self.plan(site)]

    def spatial_widths(self, site: Site) -> tuple[int, ...]:
        return (self.width,) * self.blocks

    def channels(self, site: Site) -> tuple[int, ...]:
        return (self.width, self.out)

    def cost(self, site: Site) -> Cost:
        total, b, out = Cost(0, 0), self.width, self.out
        for c, side, spec in self.plan(site):
            out_side = conv_output_side(side, spec.kernel_size, spec.stride, spec.padding)
            if spec.order == "spatial_first":  # reduce at the input side, then the block
                total += conv_cost(c, b, 1, side) + norm_cost(b) + block_cost(spec, side) + norm_cost(out)
            else:  # the block (its 1x1 is the reduce), then the expand at the output side
                total += block_cost(spec, side) + norm_cost(b) + conv_cost(b, out, 1, out_side) + norm_cost(out)
            if c != out or spec.stride != 1:
                total += conv_cost(c, out, 1, out_side) + norm_cost(out)
        return total

    def build(self, site: Site, backend: str) -> list[nn.Module]:
        return [nn.Sequential(*(BottleneckBlock(spec, c, self.width, self.out, backend)
                                for c, _, spec in self.plan(site)))]

    def resized(self, width: int, fit) -> "BottleneckSpec":
        return BottleneckSpec(fit(width), fit(self.out * width / self.width), self.blocks, self.stride)


class BottleneckBlock(nn.Module):
    """One ResNeXt bottleneck block around a SpectrumBlock (see the module docstring); `BottleneckSpec.cost` is the
    closed-form cost of a stage of them."""

    def __init__(self, spec: BlockSpec, in_channels: int, width: int, out: int, backend: str = "torch"):
        super().__init__()
        block = SpectrumBlock(spec, backend)
        if spec.order == "spatial_first":
            body = [nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), block,
                    nn.BatchNorm2d(out)]
        else:
            body = [block, nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, out, 1, bias=False),
                    nn.BatchNorm2d(out)]
        self.body = nn.Sequential(*body)
        if in_channels != out or spec.stride != 1:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=spec.stride, bias=False),
                                          nn.BatchNorm2d(out))
        else:
            self.shortcut = nn.Identity()
        self.act = nn.ReLU()

    @property
    def spectrum(self) -> SpectrumBlock:
        return self.body[3] if isinstance(self.body[3], SpectrumBlock) else self.body[0]

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))
