"""The ResNeXt-style family (arXiv 1611.05431) against formulas written here, torch's own convs and fvcore."""
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectrum import (NETWORKS, BottleneckBlock, BottleneckSpec, SpectrumBlock, build_network, match_width,
                      matched_position, min_width, network_cost, resnext_spec, segment_choices)
from spectrum.cost import count_spec
from tests._reference import hooked_macs, trainable_params


def block_params(c_in, b, out, groups, k=3, stride=1, norm=True):
    """1x1 reduce + BN, grouped kxk (+ intermediate BN), 1x1 expand + BN, projection + BN where shapes change."""
    params = c_in * b + 2 * b + k * k * b * (b // groups) + (2 * b if norm else 0) + b * out + 2 * out
    return params + (c_in * out + 2 * out if (c_in != out or stride != 1) else 0)


def random_blocks(n, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        b = rng.choice([4, 6, 8, 12, 16])
        yield (rng.choice([4, 8, 12, 16]), b, rng.choice([8, 12, 16]), rng.choice(segment_choices(b)),
               rng.choice([1, 3, 5]), rng.choice([1, 2]), rng.choice(["spatial_first", "pointwise_first"]),
               rng.choice(["relu", "none", "elu"]), rng.random() < 0.7)


def _bn(t, bn):
    return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _randomise_norms(module):
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("c_in,b,out,groups,k,stride,order,activation,norm", list(random_blocks(24)), ids=str)
def test_a_bottleneck_block_has_the_formulas_params_and_computes_torchs_conv_composition(
        c_in, b, out, groups, k, stride, order, activation, norm):
    stage = BottleneckSpec(b, out, 1, stride)
    spec = resnext_spec(depth=1, widths=(b,), out_widths=(out,), blocks=1, stem_width=c_in, image_size=9,
                        segments=groups, order=order, activation=activation, kernel_size=k, intermediate_norm=norm)
    assert spec.modules == (BottleneckSpec(b, out, 1, 1),)
    layer = next(layer for layer in spec.layers() if layer.role == "body")
    layer = type(layer)("body", 0, stage, layer.site)  # the same site, with the stride under test
    (block_spec,) = layer.blocks()
    torch.manual_seed(0)
    block = BottleneckBlock(block_spec, c_in, b, out).double().eval()
    _randomise_norms(block)
    assert trainable_params(block) == block_params(c_in, b, out, groups, k, stride, norm) == layer.cost().params

    x = torch.randn(2, c_in, 9, 9, dtype=torch.float64)
    sb = block.spectrum
    assert isinstance(sb, SpectrumBlock) and sb.spatial.groups == groups and sb.spatial.stride == (stride, stride)
    convs = [m for m in block.body if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in block.body if isinstance(m, torch.nn.BatchNorm2d)]
    act = {"relu": F.relu, "elu": F.elu, "none": lambda t: t}[activation]
    mid = sb.norm if norm else (lambda t: t)

    def grouped(t):
        return F.conv2d(t, sb.spatial.weight, stride=stride, padding=k // 2, groups=groups)

    if order == "spatial_first":  # reduce, BN, ReLU | grouped, [BN], act, expand | BN
        y = F.relu(_bn(F.conv2d(x, convs[0].weight), bns[0]))
        y = F.conv2d(act(mid(grouped(y))), sb.pointwise.weight)
        y = _bn(y, bns[1])
    else:  # reduce, [BN], act, grouped | BN, ReLU, expand, BN
        y = grouped(act(mid(F.conv2d(x, sb.pointwise.weight))))
        y = _bn(F.conv2d(F.relu(_bn(y, bns[0])), convs[0].weight), bns[1])
    if c_in != out or stride != 1:
        shortcut = _bn(F.conv2d(x, block.shortcut[0].weight, stride=stride), block.shortcut[1])
    else:
        shortcut = x
    torch.testing.assert_close(block(x), F.relu(y + shortcut))
    assert hooked_macs(block, x[:1]) == layer.cost().macs


TABLE_3 = [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)]  # (cardinality C, bottleneck width d) at conv2, ~same cost


@pytest.mark.parametrize("cardinality,d", TABLE_3, ids=lambda v: str(v))
def test_a_table_3_like_conv2_stage_has_the_hand_formulas_params_and_macs(cardinality, d):
    """ResNeXt-50's conv2 stage at 56x56: 3 blocks 256 -> (C x d) -> grouped 3x3 -> 256, behind a 3x3 stem to 256."""
    b, side, classes = cardinality * d, 56, 1000
    spec = resnext_spec(depth=1, widths=(b,), out_widths=(256,), blocks=3, stem_width=256, stem_stride=1,
                        image_size=side, in_channels=3, num_classes=classes, segments=cardinality)
    block_convs = 256 * b + 9 * b * d + b * 256  # per block, as the paper counts (BN aside)
    params = (9 * 3 * 256 + 2 * 256) + 3 * (block_convs + 2 * b + 2 * b + 2 * 256) + (256 * classes + classes)
    macs = side**2 * 9 * 3 * 256 + 3 * side**2 * block_convs + 256 * classes
    assert network_cost(spec).params == params == trainable_params(build_network(spec))
    assert network_cost(spec).macs == macs
    assert abs(block_convs / (256 * 64 * 2 + 9 * 64 * 64) - 1) < 0.03  # Table 3: every row costs what 1x64d costs


@pytest.mark.parametrize("position", ["regular", "segments=2", "group_width=4", "depthwise"])
@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_the_family_counts_the_same_by_formula_by_torch_and_by_fvcore(position, order):
    spec = NETWORKS["resnext"].spec(width=8, depth=2, image_size=12, in_channels=1, num_classes=5, position=position,
                                    order=order, activation="none", stem_stride=1)
    model = build_network(spec)
    cost = network_cost(spec)
    assert trainable_params(model) == cost.params
    assert hooked_macs(model, torch.randn(1, 1, 12, 12)) == cost.macs
    c = count_spec(spec)
    assert (c.params, c.macs) == (cost.params, cost.macs) and c.uncounted_ops == {}
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 5)


def test_the_default_family_network_is_resnext_shaped():
    spec = NETWORKS["resnext"].spec()
    assert spec.position.label == "group_width=4"  # the paper's d = 4
    assert spec.widths == (16, 32, 64) and [m.out for m in spec.modules] == [32, 64, 128]
    assert [m.stride for m in spec.modules] == [1, 2, 2] and spec.feature_side() == 8
    assert spec.activation == "relu" and spec.intermediate_norm  # BN and ReLU between all three convs


@pytest.mark.parametrize("net,activation,modules", [("resnext", "relu", nn.ReLU), ("small", "none", nn.Identity)])
@pytest.mark.parametrize("space", ["segments", "order"])
def test_a_study_trains_each_family_with_its_own_intermediate_nonlinearity(space, net, activation, modules, tmp_path):
    """A ResNeXt study keeps the bottleneck's BN-ReLU between the grouped conv and its 1x1 (ResNeXt's block);
    the Xception-style net leaves it out (the paper's finding)."""
    from studies.config import StudyConfig
    from studies.spaces import Run, get_space, network_for

    config = StudyConfig(space=space, net=net, match="none", width=8, depth=2, seeds=1, out=tmp_path)
    assert get_space(space).choices(config)["activation"] == [activation]
    spec = network_for(Run(2, "spatial_first", activation, None, 0), config, 1, 12, 5)
    blocks = [m for m in build_network(spec).modules() if isinstance(m, SpectrumBlock)]
    assert blocks and all(type(block.act) is modules for block in blocks)


@pytest.mark.parametrize("metric,target", [("macs", 3e6), ("params", 5e4)])
def test_width_matching_brings_every_resnext_segment_count_within_3_percent(metric, target):
    base = 16
    for segments in segment_choices(base):
        spec = NETWORKS["resnext"].spec(width=base, image_size=28, in_channels=1, stem_stride=2, activation="none",
                                        position=matched_position(segments, base))
        matched = match_width(spec, target, metric)
        model = build_network(matched)
        measured = trainable_params(model) if metric == "params" else hooked_macs(model, torch.randn(1, 1, 28, 28))
        assert abs(measured / target - 1) <= 0.03, (segments, matched.widths, measured)
        assert min_width(matched) >= 8
        assert matched.stem[0].out_channels == matched.widths[0]  # the stem keeps its ratio (1) to stage 1
        assert [m.out for m in matched.modules] == [2 * w for w in matched.widths]  # and each stage its expansion


def test_bad_resnext_arguments_are_value_errors():
    with pytest.raises(ValueError, match="resnext.widths has 2 entries"):
        resnext_spec(widths=(8, 8))
    with pytest.raises(ValueError, match="resnext.expansion"):
        resnext_spec(expansion=0)
    with pytest.raises(ValueError, match="BottleneckSpec.stride=3"):
        BottleneckSpec(8, 8, 1, 3)
    with pytest.raises(ValueError, match="segments=3 does not fit"):
        resnext_spec(segments=3)
