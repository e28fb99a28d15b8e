"""Grouped convolutions computed as fewer, wider groups (studies.group_merge) against torch's own grouped
conv: same function, same gradients, same parameters, same training; the merge chosen is the one the
timings given to it say is fastest."""
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectrum import build_network, small_spec
from studies import train
from studies.data import make_synthetic
from studies import group_merge
from studies.group_merge import MergedConv2d, block_diagonal, merge_choices, merge_grouped_convs, merge_label

CPU = torch.device("cpu")


def _assert_merged_equals_torch(conv: nn.Conv2d, merge: int, x: torch.Tensor) -> None:
    """Output and the input, weight and bias gradients of `conv` computed merged, against torch's own."""
    x = x.requires_grad_(True)
    params = (x, conv.weight) + ((conv.bias,) if conv.bias is not None else ())
    reference = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    grad_out = torch.randn_like(reference)
    expected = torch.autograd.grad(reference, params, grad_out)
    out = MergedConv2d.wrapping(conv, merge)(x)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    for got, want in zip(torch.autograd.grad(out, params, grad_out), expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("channels,groups,merge,stride,bias", [
    (42, 21, 7, 1, False), (40, 20, 4, 2, True), (12, 4, 2, 1, True), (8, 8, 8, 1, False), (24, 6, 3, 2, False),
])
@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last])
def test_merged_conv_equals_torchs_grouped_conv_forward_and_backward(channels, groups, merge, stride, bias, fmt):
    torch.manual_seed(0)
    conv = nn.Conv2d(channels, channels, 3, stride, 1, groups=groups, bias=bias).to(memory_format=fmt)
    _assert_merged_equals_torch(conv, merge, torch.randn(3, channels, 11, 11).contiguous(memory_format=fmt))


@pytest.mark.parametrize("cin,cout,groups,merge,kernel,padding,dilation", [
    (12, 24, 4, 2, 3, 1, 1), (16, 8, 8, 4, 3, 2, 2), (6, 12, 3, 3, 5, 2, 1), (8, 8, 4, 2, 1, 0, 1)])
def test_merged_conv_with_other_widths_kernels_and_dilations_equals_torchs(cin, cout, groups, merge, kernel,
                                                                          padding, dilation):
    torch.manual_seed(1)
    conv = nn.Conv2d(cin, cout, kernel, 1, padding, dilation, groups=groups, bias=True)
    _assert_merged_equals_torch(conv, merge, torch.randn(2, cin, 9, 9))


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


class StandInTimes:
    """In place of `time_merged`: ms from a table of merge factors (others 10), and the calls it got."""

    def __init__(self, ms: dict[int, float]):
        self.ms, self.calls = ms, []

    def __call__(self, conv, weight, merge, x, backward):
        self.calls.append((conv.groups, merge, tuple(x.shape), backward))
        return self.ms.get(merge, 10.0)


def test_the_merge_measured_fastest_is_chosen_the_smaller_on_a_tie(monkeypatch):
    key = (16, 16, (3, 3), (1, 1), (1, 1), (1, 1), 8)  # 8 groups of 2 channels: merges 1, 2, 4, 8
    for times, expected in (({1: 3.0, 2: 1.0, 4: 2.0, 8: 5.0}, 2), ({1: 1.0}, 1), ({4: 0.5, 8: 0.5}, 4)):
        fake = StandInTimes(times)
        monkeypatch.setattr(group_merge, "time_merged", fake)
        group_merge.fastest_merge.cache_clear()
        assert group_merge.fastest_merge(key, (4, 16, 8, 8), torch.channels_last, 1) == expected
        assert fake.calls == [(8, m, (4, 16, 8, 8), True) for m in (1, 2, 4, 8)]
    group_merge.fastest_merge.cache_clear()


def test_merges_are_timed_once_per_shape_and_reused(monkeypatch):
    """The first model times each distinct grouped-conv shape; a second model of the same shapes times
    nothing and gets the same merges, the ones its timings favour."""
    fake = StandInTimes({2: 1.0})
    monkeypatch.setattr(group_merge, "time_merged", fake)
    group_merge.fastest_merge.cache_clear()
    sample = torch.randn(16, 1, 16, 16)
    first = _net().to(memory_format=torch.channels_last)
    merged = merge_grouped_convs(first, sample)
    timed = group_merge.fastest_merge.cache_info()
    grouped = {name for name, m in first.named_modules() if isinstance(m, nn.Conv2d) and m.groups > 1}
    assert timed.misses + timed.hits == len(grouped) and timed.misses < len(grouped)  # shapes repeat
    assert merged and set(merged.values()) == {2}
    calls = len(fake.calls)
    again = merge_grouped_convs(_net(seed=4).to(memory_format=torch.channels_last), sample)
    assert again == merged and len(fake.calls) == calls
    assert group_merge.fastest_merge.cache_info().misses == timed.misses
    group_merge.fastest_merge.cache_clear()


def test_a_merge_is_timed_forward_and_backward_on_the_cpu():
    conv = nn.Conv2d(16, 16, 3, padding=1, groups=8, bias=False)
    x = torch.randn(2, 16, 8, 8)
    for backward in (True, False):
        with torch.enable_grad() if backward else torch.no_grad():
            assert group_merge.time_merged(conv, conv.weight.detach(), 4, x, backward) >= 0


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


def test_deterministic_mode_turns_merging_off(monkeypatch):
    """--deterministic (studies.reproducible): no timed choice is left, and the result says so."""
    from studies.reproducible import make_deterministic

    monkeypatch.setenv("KERNELS_AUTOTUNE", "1")  # both restored after the test
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    data = make_synthetic(n_train=64, n_val=32, n_test=32)
    cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    try:
        make_deterministic()
        assert os.environ["KERNELS_AUTOTUNE"] == "0" and os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert not train.uses_group_merge("cpu") and not torch.backends.cudnn.benchmark
        result = train.fit(_net(), data, epochs=1, batch_size=32, seed=0, device=CPU)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn
    assert result.group_merge == "none" and result.deterministic
    assert not train.fit(_net(), data, epochs=1, batch_size=32, seed=0, device=CPU).deterministic
