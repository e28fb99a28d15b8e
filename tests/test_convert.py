"""`spectrum.convert` on networks written without the spectrum package (tests/_user_models.py): the
input untouched, shapes kept at every position in both orders, MACs equal to fvcore's and to the closed form
written here, matched costs within the stated tolerance, a converted ResNet-18 that trains, the harness's own
block reproduced, and one-line usage errors; `spectrum.user_model` loading and its errors."""
import hashlib
import re

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from common.cli import UsageError
from spectrum import BlockSpec, ConvertedBlock, SpectrumBlock, allowed_positions, convert, convert_report
from spectrum.convert import TOLERANCE, layer_segments
from spectrum.user_model import load_model, model_source
from tests._user_models import mobilenet, resnet18

MODELS = "tests/_user_models.py"
POSITIONS = ("regular", "segments=2", "segments=4", "group_width=16", "depthwise")



@pytest.fixture(scope="module")
def r18():
    torch.manual_seed(0)
    return resnet18(width=16)


@pytest.fixture(scope="module")
def mob():
    torch.manual_seed(0)
    return mobilenet()


def closed_form_macs(model: nn.Module, shape) -> dict:
    """{conv name: k*k*Cin/g*Cout*H*W summed over its calls} from the output shapes of one forward pass."""
    macs, handles = {}, []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            def hook(mod, inp, out, name=name):
                kh, kw = mod.kernel_size
                macs[name] = macs.get(name, 0) + kh * kw * mod.in_channels // mod.groups * mod.out_channels * \
                    out.shape[-2] * out.shape[-1]
            handles.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return macs


def fvcore_conv_macs(model: nn.Module, shape) -> dict:
    """{module name: conv multiply-adds under it}, fvcore's FlopCountAnalysis directly."""
    analysis = FlopCountAnalysis(model.eval(), torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return {name: ops.get("conv", 0) for name, ops in analysis.by_module_and_operator().items()}


def only_for(order):
    """spatial first, a ResNet's 3-channel stem allows no segment count but 1 and 3: convert the stages alone."""
    return "layer" if order == "spatial_first" else None


# ---------------------------------------------------------------- the model, its shapes, its layers


@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_the_input_is_untouched_and_the_copy_shares_nothing(r18, order):
    before = {k: v.clone() for k, v in r18.state_dict().items()}
    kinds = [type(m) for m in r18.modules()]
    r18.train()
    out = convert(r18, "segments=4", order, "relu", only=only_for(order), input_shape=(3, 16, 16))
    assert r18.training and out.training and [type(m) for m in r18.modules()] == kinds
    assert all(torch.equal(before[k], v) for k, v in r18.state_dict().items())
    mine = {id(p) for p in r18.parameters()}
    assert not mine & {id(p) for p in out.parameters()}


@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
@pytest.mark.parametrize("position", POSITIONS)
def test_every_position_keeps_the_output_shape_and_replaces_every_kxk_conv(r18, mob, order, position):
    x = torch.randn(2, 3, 16, 16)
    for model, only in ((r18, only_for(order)), (mob, r"\.dw\." if order == "spatial_first" else None)):
        report = convert_report(model, position, order, match="none", only=only)
        new = report.model
        with torch.no_grad():
            assert new.eval()(x).shape == model.eval()(x).shape
        blocks = {n for n, m in new.named_modules() if isinstance(m, ConvertedBlock)}
        assert blocks == {layer.name for layer in report.layers}
        left = [n for n, m in new.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)
                and not any(n.startswith(b + ".") for b in blocks)]
        assert all(only and not re.search(only, n) for n in left)
        shortcut = dict(new.named_modules()).get("layer2.0.shortcut.0")
        assert shortcut is None or type(shortcut) is nn.Conv2d  # 1x1 convs stay as they were


@pytest.mark.parametrize("case", [
    ("r18", "segments=4", "pointwise_first", "macs", None),
    ("mob", "depthwise", "spatial_first", "none", r"\.dw\."),
    ("mob", "group_width=16", "pointwise_first", "params", None),
])
def test_macs_per_layer_and_in_total_equal_fvcore_and_the_closed_form(r18, mob, case):
    name, position, order, match, only = case
    model, shape = (r18, (3, 16, 16)) if name == "r18" else (mob, (3, 32, 32))
    report = convert_report(model, position, order, match=match, only=only, input_shape=shape)
    fv_before, fv_after = fvcore_conv_macs(model, shape), fvcore_conv_macs(report.model, shape)
    cf_before, cf_after = closed_form_macs(model, shape), closed_form_macs(report.model, shape)
    for layer in report.layers:
        assert layer.macs_before == fv_before[layer.name] == cf_before[layer.name]
        under = sum(v for n, v in cf_after.items() if n.startswith(layer.name + "."))
        assert layer.macs_after == fv_after[layer.name] == under
        assert layer.params_after == sum(p.numel() for p in dict(report.model.named_modules())[layer.name].parameters())
    total = sum(cf_before.values()) - report.total("macs_before") + report.total("macs_after")
    assert fv_after[""] == sum(cf_after.values()) == total


def _neighbours_no_closer(layer):
    """MACs are proportional to the inner width, so the widths one segment count away would be no closer."""
    dev = abs(layer.ratio - 1)
    for width in (layer.inner_width - layer.segments, layer.inner_width + layer.segments):
        if width >= layer.segments:
            assert abs(layer.ratio * width / layer.inner_width - 1) >= dev - 1e-12
    return dev


@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_matched_macs_hold_each_layer_to_its_stated_tolerance_and_the_network_within_3_percent(order):
    torch.manual_seed(0)
    model, shape = resnet18(width=64), (3, 32, 32)
    whole = sum(closed_form_macs(model, shape).values())
    for position in ("regular", "segments=4", "depthwise"):
        report = convert_report(model, position, order, only=only_for(order), input_shape=shape)
        for layer in report.layers:
            dev = _neighbours_no_closer(layer)
            assert layer.tolerance == max(TOLERANCE, dev) and dev <= layer.tolerance
        after = whole - report.total("macs_before") + report.total("macs_after")
        assert abs(after / whole - 1) <= TOLERANCE, (position, after / whole)


def test_matched_params_hold_each_layer_and_the_network(r18):
    original = sum(p.numel() for p in r18.parameters())
    for position in ("regular", "segments=4", "group_width=16", "depthwise"):
        report = convert_report(r18, position, "pointwise_first", match="params")
        assert all(layer.macs_before is None for layer in report.layers)  # no input shape, no MACs
        for layer in report.layers:
            assert layer.ratio == layer.params_after / layer.params_before
            assert abs(layer.ratio - 1) <= layer.tolerance
        converted = sum(p.numel() for p in report.model.parameters())
        assert converted == original - report.total("params_before") + report.total("params_after")
        assert abs(converted / original - 1) <= TOLERANCE


def test_mobilenet_depthwise_convs_are_converted_too_or_left_by_only(mob):
    dw = [n for n, m in mob.named_modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert len(dw) == 5
    every = convert_report(mob, "depthwise", match="macs", input_shape=(3, 32, 32))
    assert {layer.name for layer in every.layers} == {"0.0", *dw}
    for layer in every.layers[1:]:  # a depthwise conv costs less than any block can: the narrowest, stated
        assert layer.inner_width == layer.segments and layer.ratio > 1 + TOLERANCE == 1.03
        assert layer.tolerance == pytest.approx(layer.ratio - 1)
    stem = convert(mob, "regular", only=r"^0\.", input_shape=(3, 32, 32))
    modules = dict(stem.named_modules())
    assert isinstance(modules["0.0"], ConvertedBlock)
    assert all(type(modules[n]) is nn.Conv2d and modules[n].groups > 1 for n in dw)


def test_a_converted_resnet18_trains():
    torch.manual_seed(0)
    model = convert(resnet18(width=8), "segments=2", "pointwise_first", "relu", input_shape=(3, 16, 16))
    x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    model.train()
    for _ in range(20):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("segments", [1, 4, 32])
@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_a_plain_conv_at_match_none_is_the_harness_own_spectrum_block(order, segments):
    """The small Xception-style net's middle: a 3x3 conv 32 -> 32 at segments=S is SpectrumBlock(BlockSpec(32, 32,
    S)), with 32*32 + 9*(32/S)*32 parameters in either order."""
    conv = nn.Conv2d(32, 32, 3, padding=1, bias=False)
    block = convert(nn.Sequential(conv), f"segments={segments}", order, "relu", match="none")[0]
    ref = SpectrumBlock(BlockSpec(32, 32, segments, order=order, activation="relu"))
    assert isinstance(block, ConvertedBlock) and block.inner == 32
    assert [n for n, _ in block.named_modules()] == [n for n, _ in ref.named_modules()]
    for mine, theirs in ((block.first, ref.first), (block.second, ref.second), (block.spatial, ref.spatial)):
        keys = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")
        assert [getattr(mine, k) for k in keys] == [getattr(theirs, k) for k in keys] and mine.bias is None
    assert type(block.act) is type(ref.act)
    params = sum(p.numel() for p in block.parameters())
    assert params == sum(p.numel() for p in ref.parameters()) == 32 * 32 + 9 * (32 // segments) * 32
    block.load_state_dict(ref.state_dict())
    x = torch.randn(2, 32, 8, 8)
    assert torch.equal(block(x), ref(x))
    assert isinstance(convert(conv, "depthwise", match="none"), ConvertedBlock)  # a bare conv is its own block


def test_match_none_keeps_the_inner_width_at_the_output_channels_in_both_orders():
    conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
    spatial = convert(conv, "segments=4", "spatial_first", match="none")
    assert (spatial.first.in_channels, spatial.first.out_channels, spatial.first.groups) == (16, 32, 4)
    assert (spatial.second.in_channels, spatial.second.out_channels, spatial.second.kernel_size) == (32, 32, (1, 1))
    pointwise = convert(conv, "segments=4", "pointwise_first", match="none")
    assert (pointwise.first.out_channels, pointwise.second.in_channels, pointwise.second.groups) == (32, 32, 4)
    # spatial first, the inner width C_out must take the segment count too: 32 -> 16 allows 1, 2, 4, 8, 16 of 32
    wide = nn.Sequential(nn.Conv2d(32, 16, 3))
    assert allowed_positions(wide, match="none")[-1] == "segments=16"
    assert allowed_positions(wide)[-1] == "depthwise"
    with pytest.raises(UsageError, match=r"inner width 16 \(match none\); allowed segments: 1, 2, 4, 8, 16$"):
        convert(wide, "segments=32", match="none")


@pytest.mark.parametrize("order", ["spatial_first", "pointwise_first"])
def test_the_spatial_step_carries_stride_padding_dilation_and_the_last_step_the_bias(order):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, (3, 5), stride=2, padding=(2, 4), dilation=2, bias=True, padding_mode="reflect")
    report = convert_report(nn.Sequential(conv), "segments=4", order, match="params", input_shape=(8, 17, 19))
    block = report.model[0]
    for k in ("kernel_size", "stride", "padding", "dilation", "padding_mode"):
        assert getattr(block.spatial, k) == getattr(conv, k)
    assert block.first.bias is None and block.second.bias.shape == (12,)
    assert block.pointwise.kernel_size == (1, 1) and block.pointwise.stride == (1, 1)
    x = torch.randn(1, 8, 17, 19)
    assert block(x).shape == conv(x).shape
    (layer,) = report.layers
    assert layer.tolerance == max(TOLERANCE, abs(layer.ratio - 1)) and layer.conv == "3x5 8->12 s2 d2 +bias"
    assert layer.ratio == layer.params_after / layer.params_before == pytest.approx(1, abs=0.05)


def test_allowed_positions_are_the_common_divisors_of_the_fixed_sides(r18):
    assert allowed_positions(r18) == ["regular", "depthwise"]  # the stem's 3 input channels
    expected = ["regular", "segments=2", "segments=4", "segments=8", "segments=16", "depthwise"]
    assert allowed_positions(r18, "pointwise_first") == expected == allowed_positions(r18, only="layer")
    segments = layer_segments(r18, "group_width=16", "pointwise_first")
    assert segments["conv1"] == 1 and segments["layer4.1.conv2"] == 8
    for position in allowed_positions(r18, "pointwise_first"):
        convert(r18, position, "pointwise_first", match="none")


@pytest.mark.parametrize("call, words", [
    (lambda m: convert(m, "segments=2", match="params"), ("layer 'conv1' (3x3 3->16)", "allowed segments: 1, 3")),
    (lambda m: convert(m, "depthwise", match="none"), ("layer 'conv1'", "inner width 16", "allowed group_width: 3")),
    (lambda m: convert(m, "segments=3", "pointwise_first", match="none"),
     ("layer 'conv1'", "allowed segments: 1, 2, 4, 8, 16")),
    (lambda m: convert(m, "halfway"), ("position='halfway'", "segments=N")),
    (lambda m: convert(m, "regular", order="sideways"), ("order='sideways'", "spatial_first")),
    (lambda m: convert(m, "regular", activation="tanh"), ("activation='tanh'", "relu")),
    (lambda m: convert(m, "regular", match="flops"), ("match='flops'", "macs, params, none")),
    (lambda m: convert(m, "regular"), ("match='macs' needs input_shape", "(channels, height, width)")),
    (lambda m: convert(m, "regular", only="("), ("only='(' is not a regular expression",)),
    (lambda m: convert(m, "regular", only="zzz"), ("only='zzz' matches no kxk conv", "layer1.0.conv1")),
    (lambda m: convert(m, "regular", input_shape=(1, 8, 8)),
     ("forward pass on an input of shape (1, 8, 8)", "RuntimeError")),
    (lambda m: convert(nn.Sequential(nn.Conv2d(3, 8, 1)), "regular"), ("no kxk nn.Conv2d",)),
    (lambda m: convert("resnet", "regular"), ("must be a torch.nn.Module", "str")),
], ids=lambda v: v[0] if isinstance(v, tuple) else "")
def test_bad_input_is_one_usage_error_line(r18, call, words):
    with pytest.raises(UsageError) as err:
        call(r18)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


# ---------------------------------------------------------------- spectrum.user_model


def test_load_model_passes_in_channels_only_when_the_function_takes_it():
    model = load_model(f"{MODELS}:resnet18", num_classes=7, in_channels=1)
    assert model.conv1.in_channels == 1 and model.fc.out_features == 7
    assert load_model(f"{MODELS}:no_in_channels", num_classes=4, in_channels=1)[-1].out_features == 4
    assert isinstance(load_model("tests._user_models:mobilenet"), nn.Sequential)


def test_model_source_names_the_file_function_and_hash():
    source = model_source(f"{MODELS}:resnet18")
    with open(MODELS, "rb") as f:
        assert source == {"file": MODELS, "function": "resnet18", "sha256": hashlib.sha256(f.read()).hexdigest()}
    assert model_source("tests._user_models:mobilenet")["sha256"] == source["sha256"]


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "broken.py").write_text("def f(num_classes=10):\n    return (\n")
    (tmp_path / "nokw.py").write_text("from torch import nn\ndef f():\n    return nn.Conv2d(3, 8, 3)\n")
    return tmp_path


@pytest.mark.parametrize("ref, words", [
    ("tests/missing.py:f", ("'tests/missing.py' does not exist",)),
    (f"{MODELS}:resnet99", ("no function 'resnet99'", "resnet18")),
    (f"{MODELS}:NOT_CALLABLE", ("not a function",)),
    (f"{MODELS}:not_a_module", ("returned a str, not a torch.nn.Module",)),
    (f"{MODELS}:raises", ("raises(num_classes=10, in_channels=3)", "RuntimeError: no weights for 10 classes")),
    ("no_such_package.models:f", ("'no_such_package.models' does not exist",)),
    ("resnet18", ("not FILE.py:FUNCTION",)),
    ("{tmp}/broken.py:f", ("failed to import: SyntaxError",)),
    ("{tmp}/nokw.py:f", ("takes no num_classes",)),
])
def test_load_model_errors_are_one_line(bad_files, ref, words):
    with pytest.raises(UsageError) as err:
        load_model(ref.format(tmp=bad_files))
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)
