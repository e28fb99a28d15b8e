"""Networks against the paper's numbers, torch's own counts and the cost formulas."""
import pytest
import torch

from spectrum import (NETWORKS, BlockSpec, Position, SpectrumBlock, build_network, fitting_positions, match_width,
                      matched_position, network_cost, network_spec, segment_choices, small_spec, xception,
                      xception_spec)
from tests._reference import hooked_macs, trainable_params

XCEPTION_PARAMS = 22_855_952  # the paper's Table 3


def test_xception_defaults_have_the_papers_22855952_trainable_params():
    model = xception()
    assert trainable_params(model) == XCEPTION_PARAMS
    assert network_cost(xception_spec()).params == XCEPTION_PARAMS


def test_xception_is_the_figure_5_layout():
    model = xception()
    blocks = [m for m in model.modules() if isinstance(m, SpectrumBlock)]
    assert len(blocks) == 2 + 2 + 2 + 8 * 3 + 2 + 2  # entry 3 modules x2, middle 8x3, exit 2 + 2
    assert all(b.spec.segments == b.spec.in_channels for b in blocks)  # depthwise everywhere
    assert [b.spec.out_channels for b in blocks[:6]] == [128, 128, 256, 256, 728, 728]
    assert [b.spec.out_channels for b in blocks[-4:]] == [728, 1024, 1536, 2048]
    stem = [m for m in model.stem if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride, c.padding) for c in stem] == [(32, (2, 2), (0, 0)), (64, (1, 1), (0, 0))]
    shortcuts = [m.shortcut[0] for m in model.features if isinstance(m.shortcut, torch.nn.Sequential)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in shortcuts] == [(128, (1, 1), (2, 2)), (256, (1, 1), (2, 2)),
                                                                              (728, (1, 1), (2, 2)), (1024, (1, 1), (2, 2))]
    assert model.classifier.in_features == 2048 and model.classifier.out_features == 1000


def test_xception_forward_at_299_gives_logits_and_19x19_middle_flow():
    model = xception(num_classes=7).eval()
    sides = []
    model.features[5].register_forward_hook(lambda m, i, o: sides.append(o.shape[-1]))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 299, 299)).shape == (1, 7)
    assert sides == [19]


@pytest.mark.parametrize("position", fitting_positions(xception_spec().spatial_widths()), ids=lambda p: p.label)
def test_xception_params_at_every_point_match_the_formula(position):
    kw = {"segments": position.value} if position.kind == "segments" else {"group_width": position.value}
    spec = xception_spec(**kw)
    model = build_network(spec)
    assert trainable_params(model) == network_cost(spec).params
    groups = [b.spatial.groups for b in model.modules() if isinstance(b, SpectrumBlock)]
    widths = [b.spatial.in_channels for b in model.modules() if isinstance(b, SpectrumBlock)]
    if position.kind == "segments":
        assert set(groups) == {position.value}
    else:
        assert all(w // g == position.value for w, g in zip(widths, groups))


def test_xception_regular_end_replaces_each_depthwise_conv_by_a_full_one():
    # every 3x3 step goes from C/C weights to C*C: the difference is sum 9*C*(C-1) over the 36 spatial steps
    widths = xception_spec().spatial_widths()
    extra = sum(9 * c * (c - 1) for c in widths)
    assert trainable_params(xception(segments="regular")) == XCEPTION_PARAMS + extra


def test_xception_positions_that_do_not_fit_list_the_ones_that_do():
    with pytest.raises(ValueError, match=r"segments=7 does not fit .*allowed segments: 1, 2, 4, 8"):
        xception_spec(segments=7)
    with pytest.raises(ValueError, match=r"group_width=16 does not fit .*allowed group_width: 8, 4, 2, 1"):
        xception_spec(group_width=16)
    with pytest.raises(ValueError, match="segments='half'"):
        xception_spec(segments="half")
    with pytest.raises(ValueError, match="both given"):
        xception_spec(segments=2, group_width=4)


def test_small_net_params_and_macs_match_torch_counts():
    for kw in [dict(), dict(segments="regular"), dict(segments=4, order="pointwise_first", activation="relu"),
               dict(group_width=2, image_size=32, in_channels=3, intermediate_norm=True, widths=(16, 32, 64))]:
        spec = small_spec(**kw)
        model = build_network(spec)
        cost = network_cost(spec)
        assert trainable_params(model) == cost.params
        assert hooked_macs(model, torch.randn(1, spec.in_channels, spec.image_size, spec.image_size)) == cost.macs


@pytest.mark.parametrize("metric,target", [("macs", 3e6), ("params", 2.5e4), ("macs", 1.2e7)])
def test_width_matching_brings_every_segment_count_within_3_percent(metric, target):
    base_width = 32
    for segments in segment_choices(base_width):
        spec = match_width(small_spec(width=base_width, position=matched_position(segments, base_width)), target, metric)
        model = build_network(spec)
        x = torch.randn(1, 1, 28, 28)
        measured = trainable_params(model) if metric == "params" else hooked_macs(model, x)
        assert abs(measured / target - 1) <= 0.03, (segments, spec.widths, measured)


def test_matched_position_keeps_the_smaller_divisor():
    assert matched_position(1, 32).label == "regular"
    assert matched_position(4, 32) == Position("segments", 4)
    assert matched_position(8, 32) == Position("group_width", 4)
    assert matched_position(32, 32).label == "depthwise"


def test_registry_builds_every_network_and_rejects_unknown_names():
    for name in NETWORKS:
        assert network_spec(name).name == name == NETWORKS[name].spec().name
    with pytest.raises(ValueError, match="network='resnet'.*small, resnext, xception"):
        network_spec("resnet")


def test_bad_network_arguments_are_value_errors():
    with pytest.raises(ValueError, match="small_net.depth=0"):
        small_spec(depth=0)
    with pytest.raises(ValueError, match="widths has 2 entries"):
        small_spec(widths=(8, 8))
    with pytest.raises(ValueError, match="image_size=4 is too small for xception"):
        xception_spec(image_size=4)
    with pytest.raises(ValueError, match="match_width.metric='flops'"):
        match_width(small_spec(), 1e6, "flops")
    with pytest.raises(ValueError, match="position='middle'"):
        Position.parse("middle")
