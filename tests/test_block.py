"""BlockSpec / SpectrumBlock against the textbook formulas and torch's own convolutions."""
import random

import pytest
import torch
import torch.nn.functional as F

from spectrum import ACTIVATIONS, BlockSpec, SpectrumBlock, block_cost, segment_choices
from tests._reference import hooked_macs, trainable_params


def random_specs(n, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        c_in, c_out = rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 24]), rng.choice([1, 2, 4, 5, 8, 16, 32])
        order = rng.choice(["spatial_first", "pointwise_first"])
        seen = c_in if order == "spatial_first" else c_out
        yield BlockSpec(c_in, c_out, rng.choice([d for d in range(1, seen + 1) if seen % d == 0]), order,
                        rng.choice(list(ACTIVATIONS)), rng.choice([1, 3, 5]), rng.choice([1, 2]),
                        rng.random() < 0.3), rng.choice([5, 7, 8, 11])


@pytest.mark.parametrize("spec,side", list(random_specs(60)), ids=lambda v: str(v) if isinstance(v, int) else
                         f"{v.in_channels}-{v.out_channels}-s{v.segments}-{v.order[0]}-k{v.kernel_size}-st{v.stride}")
def test_block_params_and_macs_follow_the_formulas(spec, side):
    C, N, d, s, g = spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.segments
    out = (side + 2 * (d // 2) - d) // s + 1
    if spec.order == "spatial_first":  # d^2 K^2 C^2/g for the grouped step, K^2 C N for the 1x1
        params, macs, mid = d * d * C * (C // g) + C * N, out**2 * (d * d * C * C // g + C * N), C
    else:
        params, macs, mid = C * N + d * d * N * (N // g), side**2 * C * N + out**2 * d * d * N * N // g, N
    params += 2 * mid if spec.intermediate_norm else 0
    block = SpectrumBlock(spec)
    assert trainable_params(block) == params
    assert hooked_macs(block, torch.randn(1, C, side, side)) == macs
    cost = block_cost(spec, side)
    assert (cost.params, cost.macs) == (params, macs)


@pytest.mark.parametrize("spec,side", list(random_specs(30, seed=1)), ids=str)
def test_block_computes_its_two_steps_in_order_with_torch_conv(spec, side):
    torch.manual_seed(0)
    block = SpectrumBlock(spec).double().eval()
    x = torch.randn(2, spec.in_channels, side, side, dtype=torch.float64)
    sp, pw = block.spatial, block.pointwise
    assert (sp.groups, sp.stride, sp.kernel_size, sp.bias) == (spec.segments, (spec.stride,) * 2, (spec.kernel_size,) * 2, None)
    assert (pw.kernel_size, pw.stride, pw.groups, pw.bias) == ((1, 1), (1, 1), 1, None)
    first, second = (sp, pw) if spec.order == "spatial_first" else (pw, sp)
    assert block.first is first and block.second is second
    act = ACTIVATIONS[spec.activation]()
    def spatial(t):
        return F.conv2d(t, sp.weight, stride=spec.stride, padding=spec.kernel_size // 2, groups=spec.segments)
    def pointwise(t):
        return F.conv2d(t, pw.weight)
    mid = spatial(x) if spec.order == "spatial_first" else pointwise(x)
    mid = act(block.norm(mid))
    ref = pointwise(mid) if spec.order == "spatial_first" else spatial(mid)
    torch.testing.assert_close(block(x), ref)


def test_seed_example_656_params_against_a_regular_conv():
    separable = SpectrumBlock(BlockSpec(16, 32, segments=16))
    assert trainable_params(separable) == 656 == 9 * 16 + 16 * 32
    assert trainable_params(torch.nn.Conv2d(16, 32, 3, bias=False)) == 4608
    assert trainable_params(separable.pointwise) == 512
    regular_end = SpectrumBlock(BlockSpec(16, 32, segments=1))
    assert trainable_params(regular_end) == 9 * 16 * 16 + 512


def test_segment_choices_are_the_divisors():
    for c in (1, 7, 12, 32, 728, 1024):
        assert segment_choices(c) == [d for d in range(1, c + 1) if c % d == 0]
    assert segment_choices(728)[:6] == [1, 2, 4, 7, 8, 13]


@pytest.mark.parametrize("field,value,words", [
    ("in_channels", 0, "in_channels=0"), ("out_channels", -3, "out_channels=-3"), ("in_channels", 2.5, "positive integer"),
    ("segments", 5, "allowed: 1, 2, 4, 8, 16"), ("segments", 0, "segments=0"), ("order", "sideways", "spatial_first, pointwise_first"),
    ("activation", "tanhh", "none, relu, elu, gelu, silu, leaky_relu"), ("kernel_size", 4, "odd"), ("kernel_size", 0, "kernel_size=0"),
    ("stride", 0, "stride=0"), ("intermediate_norm", "yes", "True or False"),
])
def test_every_bad_field_raises_value_error_naming_it(field, value, words):
    fields = dict(in_channels=16, out_channels=32, segments=4)
    fields[field] = value
    with pytest.raises(ValueError) as err:
        BlockSpec(**fields)
    assert f"BlockSpec.{field}" in str(err.value) and words in str(err.value)


def test_segments_are_checked_against_the_channels_the_spatial_step_sees():
    BlockSpec(16, 24, segments=8, order="pointwise_first")
    with pytest.raises(ValueError, match="24 channels of the spatial step.*allowed: 1, 2, 3, 4, 6, 8, 12, 24"):
        BlockSpec(16, 24, segments=16, order="pointwise_first")


def test_bad_backend_and_spec_type_are_value_errors():
    with pytest.raises(ValueError, match="backend='cuda'.*torch, triton, auto"):
        SpectrumBlock(BlockSpec(4, 4, 2), backend="cuda")
    with pytest.raises(ValueError, match="must be a BlockSpec"):
        SpectrumBlock({"in_channels": 4})


def test_spec_is_frozen():
    spec = BlockSpec(4, 4, 2)
    with pytest.raises(AttributeError):
        spec.segments = 4
