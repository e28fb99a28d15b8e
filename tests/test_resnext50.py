"""ResNeXt-50 on ImageNet against torchvision's published figures, a count written here from torchvision's
Bottleneck, fvcore, and the Table 3 rows of arXiv 1611.05431 at preserved complexity."""
import pandas as pd
import pytest
import torch

from spectrum import NETWORKS, BottleneckBlock, build_network, match_width, matched_position, network_cost
from spectrum.cost import count_spec, main, spectrum_points
from spectrum.resnext50 import resnext50_spec, table3_points
from tests._reference import trainable_params

# torchvision.models ResNet50_Weights / ResNeXt50_32X4D_Weights meta: num_params and _ops (GMACs at 224x224)
TORCHVISION = {(1, 64): (25_557_032, 4.089), (32, 4): (25_028_904, 4.23)}
TABLE3 = [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)]


def torchvision_cost(groups, width_per_group, side=224, layers=(3, 4, 6, 3), classes=1000):
    """(params, MACs) of torchvision's ResNet(Bottleneck, layers, groups, width_per_group), from its code: conv1
    7x7/2 + bn1, max pool /2, each Bottleneck conv1 1x1, conv2 3x3 (stride), conv3 1x1 (x4), bn after each, a
    downsample 1x1 (stride) + bn where the shape changes, then fc. BN: 2 params a channel, no MACs."""
    side = side // 2  # conv1
    params, macs = 3 * 64 * 49 + 2 * 64, side * side * 3 * 64 * 49
    side, inplanes = side // 2, 64  # max pool
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
        width, out = int(planes * (width_per_group / 64.0)) * groups, planes * 4
        for b in range(blocks):
            stride = 2 if i > 0 and b == 0 else 1
            out_side = side // stride
            weights = [(inplanes * width, side), (9 * width * width // groups, out_side), (width * out, out_side)]
            if stride != 1 or inplanes != out:
                weights.append((inplanes * out, out_side))
            params += sum(w for w, _ in weights) + 2 * (2 * width + out * (len(weights) - 2))
            macs += sum(w * s * s for w, s in weights)
            side, inplanes = out_side, out
    return params + 2048 * classes + classes, macs + 2048 * classes


def meta_model(spec):
    with torch.device("meta"):
        return build_network(spec)


@pytest.mark.parametrize("cd", TORCHVISION, ids=lambda cd: f"{cd[0]}x{cd[1]}d")
def test_32x4d_and_1x64d_are_torchvisions_resnext50_and_resnet50(cd):
    params, gmacs = TORCHVISION[cd]
    spec = resnext50_spec(*cd)
    assert trainable_params(meta_model(spec)) == network_cost(spec).params == params
    assert round(network_cost(spec).macs / 1e9, 3) == pytest.approx(gmacs, abs=1e-9)


@pytest.mark.parametrize("cd", TABLE3, ids=lambda cd: f"{cd[0]}x{cd[1]}d")
def test_every_table_3_row_counts_what_torchvisions_bottleneck_formula_gives(cd):
    spec = resnext50_spec(*cd)
    cost = network_cost(spec)
    assert (trainable_params(meta_model(spec)), cost.macs) == torchvision_cost(*cd)
    assert (cost.params, cost.macs) == torchvision_cost(*cd)
    blocks = [m for m in meta_model(spec).modules() if isinstance(m, BottleneckBlock)]
    assert len(blocks) == 16 and {b.spectrum.spatial.groups for b in blocks} == {cd[0]}
    assert [b.spectrum.spatial.stride[0] for b in blocks if b.spectrum.spatial.stride[0] > 1] == [2, 2, 2]


@pytest.fixture
def one_thread():
    """One CPU thread: a batch-1 trace of many small ops runs faster so on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_fvcore_counts_32x4d_at_224_as_the_formula_does(one_thread):
    c = count_spec(resnext50_spec())
    assert (c.params, c.macs) == torchvision_cost(32, 4) and c.uncounted_ops == {}


def test_a_forward_gives_one_row_of_1000_logits_per_image_after_a_7x7_feature_map(one_thread):
    spec = resnext50_spec()
    assert [layer.side for layer in spec.layers()] == [224, 56, 56, 28, 14, 7]
    model = meta_model(spec).to_empty(device="cpu").eval()  # shapes only: the values never matter here
    with torch.no_grad():
        for t in model.state_dict().values():
            t.zero_()
        assert model(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


def test_the_table_3_point_set_holds_complexity_and_ends_at_the_closest_depthwise_match():
    points = table3_points(NETWORKS["resnext50"].spec())
    cols = [p.columns() for p in points]
    assert [c["position"] for c in cols][:5] == ["1x64d", "2x40d", "4x24d", "8x14d", "32x4d"]
    assert [(c["segments"], c["group_width"]) for c in cols[:5]] == TABLE3
    macs = [network_cost(p.spec).macs for p in points]
    assert max(macs) / min(macs) < 1.05  # the paper: all ~4.1 GFLOPs (multiply-adds)
    depthwise = points[-1].spec
    width = depthwise.widths[0]
    assert cols[-1] == {"position": f"depthwise ({width}x1d)", "segments": width, "group_width": 1}
    assert {b.group_width for b in depthwise.block_specs()} == {1}
    assert depthwise.widths == tuple(width * 2**i for i in range(4))
    neighbours = [resnext50_spec(w, 1, position="depthwise") for w in (width - 1, width + 1)]
    assert all(abs(network_cost(n).macs - macs[4]) > abs(macs[-1] - macs[4]) for n in neighbours)


def test_cost_cli_writes_the_table_3_rows_with_their_segments_and_group_widths(tmp_path, capsys, one_thread):
    rc = main(["--net", "resnext50", "--points", "table3", "--image-size", "32", "--out", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "cost.csv")
    assert list(table.columns[:5]) == ["position", "segments", "group_width", "params", "macs"]
    assert list(table.position[:5]) == ["1x64d", "2x40d", "4x24d", "8x14d", "32x4d"]
    assert table.position[5].startswith("depthwise (") and table.group_width[5] == 1
    for (c, d), row in zip(TABLE3, table.itertuples()):  # params do not depend on the image size
        assert (row.params, row.macs) == torchvision_cost(c, d, side=32)
    assert table.params[0] == 25_557_032 and table.params[4] == 25_028_904


def test_all_points_are_the_spectrum_at_32x4d_widths():
    labels = [s.position.label for s in spectrum_points(NETWORKS["resnext50"].spec(), "all")]
    assert labels[:8] == ["regular"] + [f"segments={2**i}" for i in range(1, 8)] and labels[-1] == "depthwise"


def test_a_study_scales_it_by_the_first_stage_width_and_matches_its_cost():
    family = NETWORKS["resnext50"]
    assert not family.small_input and family.spec().activation == "relu"
    spec = family.spec(width=16, depth=3, image_size=28, in_channels=1, num_classes=10,
                       position=matched_position(4, 16), stem_stride=2)
    assert spec.widths == (16, 32, 64) and [m.out for m in spec.modules] == [32, 64, 128]
    assert spec.stem[0].out_channels == 8 and spec.feature_side() == 2
    matched = match_width(spec, 2 * network_cost(spec).macs, "macs")
    assert abs(network_cost(matched).macs / (2 * network_cost(spec).macs) - 1) <= 0.03
    model = build_network(matched)
    assert trainable_params(model) == network_cost(matched).params
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_run_study_takes_resnext50_and_still_keeps_xception_out(tmp_path):
    from studies.checks import check_usage
    from studies.config import StudyConfig
    from studies.spaces import listing

    check_usage(StudyConfig(space="segments", net="resnext50", dataset="synthetic", device="cpu", out=tmp_path))
    with pytest.raises(ValueError, match="--net 'xception' is not allowed.*resnext50"):
        check_usage(StudyConfig(space="segments", net="xception", dataset="synthetic", device="cpu", out=tmp_path))
    studied = [name for name, family in NETWORKS.items() if family.in_studies]
    assert "resnext50" in studied and [line.split()[0] for line in listing("net").splitlines()] == studied


def test_bad_resnext50_arguments_are_value_errors():
    with pytest.raises(ValueError, match="resnext50.depth=5"):
        resnext50_spec(depth=5)
    with pytest.raises(ValueError, match="resnext50.cardinality=0"):
        resnext50_spec(cardinality=0)
    with pytest.raises(ValueError, match="segments=3 does not fit"):
        resnext50_spec(segments=3)
