"""One point of the Inception spectrum: a 1x1 pointwise conv plus a kxk conv split into `segments` groups.

`BlockSpec` is the frozen, validated description; `SpectrumBlock` is the module built from it.
1 segment is a regular conv, C segments is depthwise (Xception, arXiv 1610.02357, section 1.2).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from common.vocabulary import ACTIVATION_NAMES, BACKENDS, ORDERS, check_one_of, check_positive
from common.vocabulary import divisors as segment_choices

# the module of each intermediate nonlinearity between the two steps
ACTIVATIONS = dict(zip(ACTIVATION_NAMES, (nn.Identity, nn.ReLU, nn.ELU, nn.GELU, nn.SiLU, nn.LeakyReLU)))


def _positive_int(owner: str, name: str, value) -> None:
    check_positive(f"{owner}.{name}", value)


def _one_of(owner: str, name: str, value, allowed) -> None:
    check_one_of(f"{owner}.{name}", value, allowed)


@dataclass(frozen=True)
class BlockSpec:
    """A spectrum point: channels in/out, segment count, order of the two steps, intermediate nonlinearity."""

    in_channels: int
    out_channels: int
    segments: int
    order: str = "spatial_first"
    activation: str = "none"
    kernel_size: int = 3
    stride: int = 1
    intermediate_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "segments", "kernel_size", "stride"):
            _positive_int("BlockSpec", name, getattr(self, name))
        _one_of("BlockSpec", "order", self.order, ORDERS)
        _one_of("BlockSpec", "activation", self.activation, tuple(ACTIVATIONS))
        if not isinstance(self.intermediate_norm, bool):
            raise ValueError(f"BlockSpec.intermediate_norm={self.intermediate_norm!r} is not allowed; expected True or False")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"BlockSpec.kernel_size={self.kernel_size} is not allowed; expected an odd size (1, 3, 5, 7, ...)")
        if self.spatial_channels % self.segments:
            raise ValueError(
                f"BlockSpec.segments={self.segments} does not divide the {self.spatial_channels} channels of the "
                f"spatial step ({self.order}); allowed: {', '.join(map(str, segment_choices(self.spatial_channels)))}"
            )

    @property
    def spatial_channels(self) -> int:
        """Channels the kxk step sees: the input when spatial first, the output when pointwise first."""
        return self.in_channels if self.order == "spatial_first" else self.out_channels

    @property
    def group_width(self) -> int:
        """Channels per segment (the RegNet form of the spectrum position)."""
        return self.spatial_channels // self.segments

    @property
    def padding(self) -> int:
        return self.kernel_size // 2


def _check_backend(backend: str) -> None:
    _one_of("SpectrumBlock", "backend", backend, BACKENDS)


class TritonConv2d(nn.Conv2d):
    """An nn.Conv2d whose forward runs `kernels.grouped_conv2d`; same parameters, so state dicts swap freely.

    With mode "auto" it asks `kernels.prefer_triton` per input shape (torch on a CPU).
    """

    def __init__(self, *args, mode: str = "triton", **kwargs):
        super().__init__(*args, **kwargs)
        self.mode = mode

    def _use_triton(self, x: torch.Tensor) -> bool:
        if self.mode == "triton":
            return True
        import kernels

        return kernels.prefer_triton(
            channels=self.in_channels, groups=self.groups, kernel_size=self.kernel_size[0],
            height=x.shape[-2], width=x.shape[-1], dtype=x.dtype, device=x.device,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_triton(x):
            return super().forward(x)
        import kernels

        return kernels.grouped_conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding, groups=self.groups)


def spatial_conv(channels: int, spec: BlockSpec, backend: str) -> nn.Conv2d:
    """The kxk step: `segments` groups over `channels`, carrying the block's stride."""
    kwargs = dict(kernel_size=spec.kernel_size, stride=spec.stride, padding=spec.padding, groups=spec.segments, bias=False)
    if backend == "torch":
        return nn.Conv2d(channels, channels, **kwargs)
    return TritonConv2d(channels, channels, mode=backend, **kwargs)


class SpectrumBlock(nn.Module):
    """Exactly the two steps of a BlockSpec, in its order, with the optional intermediate norm and nonlinearity.

    No bias and nothing after the second step: the network adds its own norm and activation.
    """

    def __init__(self, spec: BlockSpec, backend: str = "torch"):
        super().__init__()
        if not isinstance(spec, BlockSpec):
            raise ValueError(f"SpectrumBlock.spec must be a BlockSpec, got {type(spec).__name__}")
        _check_backend(backend)
        self.spec = spec
        self.backend = backend
        mid = spec.spatial_channels if spec.order == "spatial_first" else spec.out_channels
        if spec.order == "spatial_first":
            first = spatial_conv(spec.in_channels, spec, backend)
            second = nn.Conv2d(spec.in_channels, spec.out_channels, kernel_size=1, bias=False)
        else:
            first = nn.Conv2d(spec.in_channels, spec.out_channels, kernel_size=1, bias=False)
            second = spatial_conv(spec.out_channels, spec, backend)
        self.first = first
        self.norm = nn.BatchNorm2d(mid) if spec.intermediate_norm else nn.Identity()
        self.act = ACTIVATIONS[spec.activation]()
        self.second = second

    @property
    def spatial(self) -> nn.Conv2d:
        return self.first if self.spec.order == "spatial_first" else self.second

    @property
    def pointwise(self) -> nn.Conv2d:
        return self.second if self.spec.order == "spatial_first" else self.first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.act(self.norm(self.first(x))))

    def extra_repr(self) -> str:
        s = self.spec
        return f"segments={s.segments}, order={s.order}, activation={s.activation}, backend={self.backend}"
