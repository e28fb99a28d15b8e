"""One walk over a network's layers (build, cost, widths), the family registry, and every layer scaling with the
matched width (no layer under 8 channels at a study's default budget)."""
import pytest

from spectrum import (DEFAULT_NETWORK, MIN_WIDTH, NETWORKS, Family, build_network, match_width, matched_position,
                      min_width, narrowest, network_cost, segment_choices, small_spec, xception_spec)
from spectrum.cost import count
from tests._reference import trainable_params

STUDY = dict(width=16, depth=3, image_size=28, in_channels=1, num_classes=10, stem_stride=2)  # a study's defaults
SMALL_INPUT = [name for name, family in NETWORKS.items() if family.small_input]  # every family a small study builds


def test_the_walk_gives_each_layer_its_input_and_the_formula_cost_of_each_breakdown_row():
    spec = small_spec(width=16, widths=(16, 24, 32), image_size=28, position="segments=2", activation="relu")
    layers = list(spec.layers())
    assert [(l.role, l.index) for l in layers] == [("stem", 0), ("body", 0), ("body", 1), ("body", 2), ("head", 0)]
    assert [l.side for l in layers] == [28, 14, 14, 7, 4]
    assert [l.in_channels for l in layers] == [1, 16, 16, 24, 32] and layers[-1].out_channels == 10
    assert [l.out_channels for l in layers[:-1]] == [l.in_channels for l in layers[1:]]
    counts = count(build_network(spec), (1, 28, 28)).breakdown.set_index("block")
    rows = ["stem", "features.0", "features.1", "features.2"]
    for row, layer in zip(rows, layers):
        assert (counts.loc[row, "params"], counts.loc[row, "macs"]) == (layer.cost().params, layer.cost().macs), row
    head = counts.loc["pool"] + counts.loc["classifier"]
    assert (head.params, head.macs) == (layers[-1].cost().params, layers[-1].cost().macs)
    assert sum(l.cost().params for l in layers) == network_cost(spec).params
    assert [b for l in layers for b in l.blocks()] == spec.block_specs()
    assert spec.spatial_widths() == [16, 16, 16, 24, 24, 32] and spec.feature_side() == 4


def test_the_registry_serves_the_studies():
    assert DEFAULT_NETWORK == "small" and list(NETWORKS)[0] == "small"
    for name, family in NETWORKS.items():
        assert isinstance(family, Family) and family.name == name and family.summary and "\n" not in family.summary
    assert "small" in SMALL_INPUT and not NETWORKS["xception"].small_input
    for name in SMALL_INPUT:
        spec = NETWORKS[name].spec(**STUDY, position="segments=4", order="pointwise_first", activation="elu")
        assert (spec.name, spec.in_channels, spec.image_size, spec.num_classes) == (name, 1, 28, 10)
        assert (spec.position.label, spec.order, spec.activation, spec.widths[0]) == ("segments=4", "pointwise_first",
                                                                                       "elu", 16)
        assert spec.stem[0].stride == 2 and spec.feature_side() >= 1
    assert NETWORKS["small"].spec() == small_spec()


def test_xception_in_the_registry_is_the_paper_and_scales_by_its_middle_width():
    xc = NETWORKS["xception"]
    assert not xc.small_input
    spec = xc.spec()
    assert spec == xception_spec() and network_cost(spec).params == 22_855_952
    half = xc.spec(width=364, depth=2, image_size=71, num_classes=10, position="regular", stem_stride=1)
    assert len(half.modules) == 3 + 2 + 2 and half.widths[3:5] == (364, 364)
    assert [c.out_channels for c in half.stem] == [16, 32] and half.stem[0].stride == 1
    assert half.modules[-1].widths == (768, 1024)  # the exit flow keeps its 1536:2048 profile
    assert trainable_params(build_network(half)) == network_cost(half).params


@pytest.mark.parametrize("family", SMALL_INPUT)
@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_narrowest_keeps_every_layer_at_8_channels_or_more(family, order):
    for segments in segment_choices(16):
        spec = NETWORKS[family].spec(**STUDY, position=matched_position(segments, 16), order=order)
        thin = narrowest(spec)
        assert min_width(thin) == max(MIN_WIDTH, spec.position.divisor)
        assert all(w >= MIN_WIDTH for layer in thin.layers() for w in layer.channels)
        with pytest.raises(ValueError, match="no width brings"):
            match_width(spec, 0.9 * network_cost(thin).macs, "macs")


@pytest.mark.parametrize("family", SMALL_INPUT)
def test_the_default_budget_rule_keeps_every_layer_of_every_point_at_8_channels(family):
    """A study's default budget: at least 1.25 x the narrowest cost of every point; every matched layer >= 8."""
    points = [NETWORKS[family].spec(**STUDY, position=matched_position(s, 16), order=o, activation="none")
              for s in segment_choices(16) for o in ("spatial_first", "pointwise_first")]
    budget = max(1.25 * network_cost(narrowest(p)).macs for p in points)
    for point in points:
        matched = match_width(point, budget, "macs")
        assert min_width(matched) >= MIN_WIDTH, (point.position.label, matched.widths, matched.stem)
        assert abs(network_cost(matched).macs / budget - 1) <= 0.03


def test_the_stem_scales_with_the_first_module():
    regular = small_spec(**STUDY, position="regular")
    low = match_width(regular, 1.3 * network_cost(narrowest(regular)).macs, "macs")
    assert low.stem[0].out_channels == low.widths[0] < 16  # no longer a fixed 16-channel stem at a low budget
    wide = small_spec(width=32, stem_width=16, position="group_width=4")  # stem at half the module width
    for target in (2e6, 8e6):
        matched = match_width(wide, target, "macs")
        w = matched.widths[0]
        assert matched.stem[0].out_channels == max(8, round(w / 2 / 4) * 4)
        assert matched.stem[0].out_channels % 4 == 0  # the first spatial step sees it: a multiple of the group width
