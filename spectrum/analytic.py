"""Closed-form params and MACs, written from the textbook formulas, as an independent check on fvcore's counts.

A kxk conv with groups g from C to N channels at output side K costs d^2*K^2*(C/g)*N multiply-adds
(g=1: the regular d^2*K^2*C*N; g=C=N: the depthwise d^2*K^2*C), and has d^2*(C/g)*N weights.
"""
from __future__ import annotations

from dataclasses import dataclass

from .block import BlockSpec


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.params + other.params, self.macs + other.macs)


def conv_output_side(side: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output side of a conv or pool: floor((side + 2p - k) / s) + 1."""
    return (side + 2 * padding - kernel_size) // stride + 1


def conv_cost(in_channels: int, out_channels: int, kernel_size: int, out_side: int, groups: int = 1, bias: bool = False) -> Cost:
    """Params and MACs of one square conv at a square output of side `out_side`."""
    weights = kernel_size**2 * (in_channels // groups) * out_channels
    params = weights + (out_channels if bias else 0)
    return Cost(params, out_side**2 * weights)


def block_cost(spec: BlockSpec, side: int) -> Cost:
    """Cost of a SpectrumBlock on a `side` x `side` input (intermediate BatchNorm adds 2 params a channel, 0 MACs)."""
    out_side = conv_output_side(side, spec.kernel_size, spec.stride, spec.padding)
    C, N, d = spec.in_channels, spec.out_channels, spec.kernel_size
    if spec.order == "spatial_first":
        spatial = conv_cost(C, C, d, out_side, spec.segments)
        pointwise = conv_cost(C, N, 1, out_side)
        mid = C
    else:
        pointwise = conv_cost(C, N, 1, side)
        spatial = conv_cost(N, N, d, out_side, spec.segments)
        mid = N
    norm = Cost(2 * mid if spec.intermediate_norm else 0, 0)
    return spatial + pointwise + norm
