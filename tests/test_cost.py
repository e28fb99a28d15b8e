"""Counting (params, MACs, activations) against the closed-form formulas, fvcore's own analyses and torch hooks."""
import random
from dataclasses import replace
from typing import List, Optional

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectrum import build_network, fitting_positions, network_cost, small_spec, xception_spec
from spectrum.cost import BREAKDOWN_COLUMNS, Counts, count, count_spec, spectrum_points
from tests._reference import hooked_macs, trainable_params

XCEPTION_PARAMS = 22_855_952
XCEPTION_MACS = 8_357_403_496  # conv + linear multiply-adds at 299x299, from spectrum.network_cost


def random_small_spec(rng: random.Random):
    base = rng.choice([8, 12, 16, 24])
    depth = rng.randint(1, 3)
    spec = small_spec(
        widths=[base * rng.randint(1, 3) for _ in range(depth)], depth=depth, reps=rng.randint(1, 2),
        stem_width=rng.choice([4, 8, 12]), stem_stride=rng.choice([1, 2]), image_size=rng.randint(12, 33),
        in_channels=rng.choice([1, 3]), num_classes=rng.randint(2, 12),
        order=rng.choice(["spatial_first", "pointwise_first"]), activation=rng.choice(["none", "relu", "elu"]),
        kernel_size=rng.choice([1, 3, 5]), intermediate_norm=rng.random() < 0.5,
    )
    return replace(spec, position=rng.choice(fitting_positions(spec.spatial_widths())))


@pytest.mark.parametrize("seed", range(12))
def test_counts_equal_the_formulas_and_torchs_own_shapes_on_random_small_networks(seed):
    spec = random_small_spec(random.Random(seed))
    model = build_network(spec)
    shape = (spec.in_channels, spec.image_size, spec.image_size)
    c = count(model, shape)
    ref = network_cost(spec)
    assert (c.params, c.macs) == (ref.params, ref.macs), spec
    assert c.params == trainable_params(model)
    assert c.macs == hooked_macs(model, torch.zeros(1, *shape))
    assert c.uncounted_ops == {}
    fast = count_spec(spec)  # meta build, zero fill, channels_last: same counts
    assert (fast.params, fast.macs, fast.activations) == (c.params, c.macs, c.activations)


@pytest.mark.parametrize("seed", range(4))
def test_counts_equal_the_formulas_on_random_xception_points(seed):
    rng = random.Random(100 + seed)
    base = xception_spec(num_classes=rng.randint(2, 50), image_size=rng.randint(40, 96), middle_repeats=1,
                         order=rng.choice(["spatial_first", "pointwise_first"]),
                         activation=rng.choice(["none", "relu"]))
    spec = rng.choice(spectrum_points(base, "all"))
    c = count_spec(spec)
    ref = network_cost(spec)
    assert (c.params, c.macs) == (ref.params, ref.macs), spec.position.label


def test_the_papers_xception_has_22855952_params_at_299():
    c = count_spec(xception_spec())
    assert c.params == XCEPTION_PARAMS
    assert c.macs == XCEPTION_MACS == network_cost(xception_spec()).macs
    assert c.flops == 2 * XCEPTION_MACS
    assert c.uncounted_ops == {}


def test_breakdown_rows_are_stem_each_feature_module_pool_classifier_and_sum_to_the_totals():
    spec = small_spec(depth=3)
    c = count(build_network(spec), (1, 28, 28))
    df = c.breakdown
    assert tuple(df.columns) == BREAKDOWN_COLUMNS
    assert list(df.block) == ["stem", "features.0", "features.1", "features.2", "pool", "classifier"]
    for column, total in (("params", c.params), ("macs", c.macs), ("activations", c.activations)):
        assert int(df[column].sum()) == total
    assert df.set_index("block").loc["classifier", "macs"] == 32 * 10


def test_breakdown_keeps_ops_of_the_root_forward_in_an_other_row():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.head = nn.Parameter(torch.randn(4 * 6 * 6, 5))

        def forward(self, x):
            return self.conv(x).flatten(1) @ self.head  # a matmul owned by no child

    c = count(Net(), (3, 8, 8))
    rows = c.breakdown.set_index("block")
    assert list(rows.index) == ["conv", "(other)"]
    assert rows.loc["conv", "macs"] == 4 * 6 * 6 * 3 * 9
    assert rows.loc["(other)", "macs"] == 4 * 6 * 6 * 5 and rows.loc["(other)", "params"] == 4 * 6 * 6 * 5
    assert int(rows.macs.sum()) == c.macs and int(rows.params.sum()) == c.params


def test_counting_agrees_with_fvcores_own_analyses_restricted_to_conv_and_linear():
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis
    from fvcore.nn.jit_handles import conv_flop_jit, linear_flop_jit

    spec = small_spec(intermediate_norm=True, activation="relu")
    model = build_network(spec).eval()
    x = torch.zeros(1, 1, 28, 28)
    c = count(model, (1, 28, 28))
    fvcore_default = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    conv_linear = (FlopCountAnalysis(model, x).clear_op_handles().unsupported_ops_warnings(False)
                   .uncalled_modules_warnings(False)
                   .set_op_handle("aten::_convolution", conv_flop_jit, "aten::linear", linear_flop_jit))
    activations = ActivationCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert c.macs == conv_linear.total()
    assert fvcore_default.total() > c.macs  # fvcore's default also counts batch_norm and adaptive_avg_pool2d
    assert set(fvcore_default.by_operator()) >= {"batch_norm", "adaptive_avg_pool2d"}
    assert c.activations == activations.total()


def test_count_leaves_the_models_mode_and_running_stats_alone():
    model = build_network(small_spec()).train()
    model.features[1].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    count(model, (1, 28, 28))
    assert [m.training for m in model.modules()] == modes
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_frozen_params_are_not_counted():
    model = build_network(small_spec())
    model.stem.requires_grad_(False)
    c = count(model, (1, 28, 28))
    frozen = sum(p.numel() for p in model.stem.parameters())
    assert c.params == trainable_params(model) == network_cost(small_spec()).params - frozen
    assert c.breakdown.set_index("block").loc["stem", "params"] == 0


def _registered(qualname: str) -> bool:
    namespace, op = qualname.split("::")
    try:
        getattr(getattr(torch.ops, namespace), op)
        return True
    except AttributeError:
        return False


def test_a_custom_grouped_conv_op_is_counted_like_a_conv(monkeypatch):
    """The handle for the Triton op, exercised through a stand-in op of the same signature in another namespace."""
    import spectrum.counting as counting

    name = "cost_test::grouped_conv2d"
    if not _registered(name):
        @torch.library.custom_op(name, mutates_args=())
        def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: List[int],
                           padding: List[int], groups: int) -> torch.Tensor:
            return F.conv2d(x, weight, bias, stride, padding, 1, groups)

    op = torch.ops.cost_test.grouped_conv2d

    class StandIn(nn.Conv2d):
        def forward(self, x):
            return op(x, self.weight, self.bias, list(self.stride), list(self.padding), self.groups)

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4), nn.Conv2d(12, 6, 1))
    standin = nn.Sequential(StandIn(8, 12, 3, stride=2, padding=1, groups=4), nn.Conv2d(12, 6, 1))
    standin.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 9, 9)
    torch.testing.assert_close(standin(x), plain(x))
    expected = count(plain, (8, 9, 9))
    unhandled = count(standin, (8, 9, 9))
    assert unhandled.macs < expected.macs and name in unhandled.uncounted_ops
    monkeypatch.setattr(counting, "GROUPED_CONV_OP", name)
    handled = count(standin, (8, 9, 9))
    assert (handled.params, handled.macs, handled.activations) == (expected.params, expected.macs, expected.activations)
    assert handled.uncounted_ops == {}


@pytest.mark.parametrize("shape", [(1, 28), (0, 28, 28), (1, 28, 28.0), "1x28x28", None])
def test_bad_input_shapes_are_value_errors_naming_the_argument(shape):
    with pytest.raises(ValueError, match="input_shape"):
        count(build_network(small_spec()), shape)


def test_spectrum_points_all_is_every_fitting_position_both_ends_included():
    base = xception_spec()
    labels = [s.position.label for s in spectrum_points(base, "all")]
    assert labels[0] == "regular" and labels[-1] == "depthwise"
    assert labels == [p.label for p in fitting_positions(base.spatial_widths())]
    assert [s.position.label for s in spectrum_points(base, "regular, segments=4,depthwise")] == \
        ["regular", "segments=4", "depthwise"]
    with pytest.raises(ValueError, match="segments=3 does not fit"):
        spectrum_points(base, "segments=3")
    with pytest.raises(ValueError, match="position="):
        spectrum_points(base, "half")


def test_counts_is_a_frozen_record():
    c = count(build_network(small_spec()), (1, 28, 28))
    assert isinstance(c, Counts) and c.as_dict() == {"params": c.params, "macs": c.macs, "activations": c.activations}
    with pytest.raises(AttributeError):
        c.params = 1
