"""Grouped convolutions computed as fewer, wider groups (studies.group_merge) against torch's own grouped
conv, and the heap setting (studies.heap): same function, same gradients, same parameters, same training."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectrum import build_network, small_spec
from studies import train
from studies.data import make_synthetic
from studies.group_merge import MergedConv2d, block_diagonal, merge_choices, merge_grouped_convs, merge_label

CPU = torch.device("cpu")


@pytest.mark.parametrize("channels,groups,merge,stride,bias", [
    (42, 21, 7, 1, False), (40, 20, 4, 2, True), (12, 4, 2, 1, True), (8, 8, 8, 1, False), (24, 6, 3, 2, False),
])
@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last])
def test_merged_conv_equals_torchs_grouped_conv_forward_and_backward(channels, groups, merge, stride, bias, fmt):
    torch.manual_seed(0)
    conv = nn.Conv2d(channels, channels, 3, stride, 1, groups=groups, bias=bias).to(memory_format=fmt)
    x = torch.randn(3, channels, 11, 11).contiguous(memory_format=fmt).requires_grad_(True)
    grad_out = torch.randn_like(conv(x))
    reference = F.conv2d(x, conv.weight, conv.bias, stride, 1, 1, groups)
    ref_dx, ref_dw = torch.autograd.grad(reference, (x, conv.weight), grad_out)

    merged = MergedConv2d.wrapping(conv, merge)
    out = merged(x)
    dx, dw = torch.autograd.grad(out, (x, merged.weight), grad_out)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dx, ref_dx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dw, ref_dw, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("cin,cout,groups,merge,kernel,padding,dilation", [
    (12, 24, 4, 2, 3, 1, 1), (16, 8, 8, 4, 3, 2, 2), (6, 12, 3, 3, 5, 2, 1), (8, 8, 4, 2, 1, 0, 1)])
def test_merged_conv_with_other_widths_kernels_and_dilations_equals_torchs(cin, cout, groups, merge, kernel,
                                                                          padding, dilation):
    torch.manual_seed(1)
    conv = nn.Conv2d(cin, cout, kernel, 1, padding, dilation, groups=groups, bias=True)
    x = torch.randn(2, cin, 9, 9, requires_grad=True)
    reference = conv(x)
    grad_out = torch.randn_like(reference)
    ref_dx, ref_dw = torch.autograd.grad(reference, (x, conv.weight), grad_out)
    merged = MergedConv2d.wrapping(conv, merge)
    out = merged(x)
    dx, dw = torch.autograd.grad(out, (x, merged.weight), grad_out)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dx, ref_dx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dw, ref_dw, rtol=1e-5, atol=1e-4)


def test_block_diagonal_weight_holds_each_group_on_its_diagonal_and_zeros_elsewhere():
    groups, merge, width, out_per_group = 6, 3, 2, 2
    weight = torch.arange(1, groups * out_per_group * width * 9 + 1, dtype=torch.float32).reshape(
        groups * out_per_group, width, 3, 3)
    dense = block_diagonal(weight, groups, merge)
    assert dense.shape == (groups * out_per_group, merge * width, 3, 3)
    for out in range(groups * out_per_group):
        group = out // out_per_group
        slot = group % merge  # which original group of its merged group
        for col in range(merge * width):
            expected = weight[out, col - slot * width] if col // width == slot else torch.zeros(3, 3)
            assert torch.equal(dense[out, col], expected)


def test_merged_conv_shares_the_weight_tensor_state_dict_and_groups():
    conv = nn.Conv2d(16, 16, 3, padding=1, groups=8, bias=True)
    merged = MergedConv2d.wrapping(conv, 4)
    assert merged.weight is conv.weight and merged.bias is conv.bias
    assert merged.groups == 8 and merged.weight.shape == (16, 2, 3, 3)
    assert merged.state_dict().keys() == conv.state_dict().keys()
    assert "computed as 2 groups" in repr(merged)
    with pytest.raises(ValueError, match="merge=3"):
        MergedConv2d.wrapping(conv, 3)


def test_merge_choices_are_divisors_up_to_the_width_cap():
    assert merge_choices(nn.Conv2d(42, 42, 3, groups=21)) == [1, 3, 7]  # 21 -> 42 channels, over 32
    assert merge_choices(nn.Conv2d(16, 16, 3)) == [1]
    assert merge_choices(nn.Conv2d(8, 8, 3, groups=8)) == [1, 2, 4, 8]
    assert merge_choices(nn.Conv2d(8, 8, 3, groups=8, padding=1, padding_mode="reflect")) == [1]


def _widest(key, shape, fmt, threads, backward):
    """The widest merge a layer allows, in place of the timed choice (so the swap always happens)."""
    return merge_choices(nn.Conv2d(*key[:2], key[2], groups=key[6]))[-1]


def _net(segments=8, seed=3):
    torch.manual_seed(seed)
    return build_network(small_spec(width=16, depth=2, image_size=16, num_classes=4, segments=segments))


def test_merging_a_network_leaves_its_outputs_and_parameters_as_they_were():
    model = _net().to(memory_format=torch.channels_last).eval()
    x = torch.randn(8, 1, 16, 16)
    before = model(x)
    params = dict(model.named_parameters())
    merged = merge_grouped_convs(model, x, choose=_widest)
    assert merged and all(isinstance(model.get_submodule(name), MergedConv2d) for name in merged)
    assert dict(model.named_parameters()) == params  # the same tensors, so the optimizer sees no change
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)
    assert "->" in merge_label(merged, model)


def test_the_timed_choice_is_one_of_the_choices_and_kept_for_the_shape():
    model = _net().to(memory_format=torch.channels_last)
    merged = merge_grouped_convs(model, torch.randn(16, 1, 16, 16))
    for name, factor in merged.items():
        conv = model.get_submodule(name)
        assert factor in merge_choices(conv) and factor > 1


def test_fit_with_merged_groups_trains_to_the_same_accuracies(monkeypatch):
    """Merged groups change only float rounding: a whole fit reaches the same validation accuracies as
    torch's grouped conv, epoch losses within 1e-4."""
    data = make_synthetic(n_train=256, n_val=128, n_test=64)
    plain = train.fit(_net(), data, epochs=2, batch_size=32, seed=7, device=CPU, merge_groups=False)
    timed = train.merge_grouped_convs
    monkeypatch.setattr(train, "merge_grouped_convs", lambda model, sample: timed(model, sample, choose=_widest))
    merged = train.fit(_net(), data, epochs=2, batch_size=32, seed=7, device=CPU)
    assert plain.group_merge == "none" and merged.group_merge != "none"
    assert merged.accuracy_per_epoch == plain.accuracy_per_epoch
    assert merged.loss_per_epoch == pytest.approx(plain.loss_per_epoch, rel=1e-4)


def test_deterministic_mode_turns_merging_off():
    data = make_synthetic(n_train=64, n_val=32, n_test=32)
    torch.use_deterministic_algorithms(True)
    try:
        result = train.fit(_net(), data, epochs=1, batch_size=32, seed=0, device=CPU)
    finally:
        torch.use_deterministic_algorithms(False)
    assert result.group_merge == "none"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_heap_retention_is_taken_by_glibc_and_reverts():
    code = ("from studies.heap import retain_freed_memory as r; import torch; "
            "a = r(True); [torch.empty(2**22) for _ in range(3)]; b = r(False); print(a, b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_timing_the_merges_leaves_the_global_rng_where_it_was():
    """A seeded trial draws from the global RNG after fit picks its merges: the timing must not move it."""
    from studies.group_merge import fastest_merge

    fastest_merge.cache_clear()  # so the timing runs here
    model = _net(segments=4).to(memory_format=torch.channels_last)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    merge_grouped_convs(model, torch.zeros(8, 1, 16, 16), choose=None)
    assert torch.equal(torch.rand(3), expected)
