"""Grouped convolutions trained on a CPU as fewer, wider groups, where that measures faster.

oneDNN's CPU grouped convolution is slow for narrow groups: a 3x3 with 21 groups of 2 channels (C=42,
14x14, batch 128) took 33 ms forward+backward here, the same layer as 3 groups of 14 channels 21 ms,
with 7x the MACs. A convolution with g groups equals one with g/m groups whose weight is block-diagonal
(zeros between the original groups): the same function and the same gradients for the real weights.
`merge_grouped_convs` times each grouped convolution of a model, forward and backward at its input
shape, for every merge factor m (the divisors of g up to a merged group width of MAX_MERGED_WIDTH) and
swaps in a `MergedConv2d` where an m > 1 is fastest. The swap keeps the layer's weight tensor (its
shape, state dict, optimizer state, `groups`): only how the CPU computes it changes. Nothing else reads
the trained model's modules to count MACs or time latency: both are measured on networks built afresh.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from kernels.timer import measure

MAX_MERGED_WIDTH = 32  # wider merged groups multiply the MACs past any gain the library's kernels give
TIMING_REPEATS = 3  # single runs per merge factor, the fastest counts: a choice made at each new shape


def block_diagonal(weight: torch.Tensor, groups: int, merge: int) -> torch.Tensor:
    """The weight of `groups // merge` groups equivalent to `weight` of `groups` groups: each merged
    group's (out, in) matrix is block-diagonal in its `merge` original groups."""
    out_channels, width, kh, kw = weight.shape
    per_group = out_channels // groups
    blocks = weight.reshape(groups // merge, merge, per_group, width, kh, kw)
    # diag_embed puts the original group index on the diagonal of a new (out group, in group) pair
    dense = torch.diag_embed(blocks.permute(0, 2, 3, 4, 5, 1))  # (G, o, i, kh, kw, m_out, m_in)
    return dense.permute(0, 5, 1, 6, 2, 3, 4).reshape(out_channels, merge * width, kh, kw)


class MergedConv2d(nn.Conv2d):
    """An `nn.Conv2d` with `groups` groups computed as `groups // merge` groups of a block-diagonal weight."""

    merge: int = 1

    @classmethod
    def wrapping(cls, conv: nn.Conv2d, merge: int) -> "MergedConv2d":
        """A MergedConv2d that shares `conv`'s weight and bias tensors."""
        if conv.groups % merge or conv.padding_mode != "zeros":
            raise ValueError(f"merge={merge} does not divide groups={conv.groups} (or padding is not zeros)")
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                  conv.dilation, conv.groups, conv.bias is not None, device="meta")
        new.weight, new.bias, new.merge = conv.weight, conv.bias, merge
        new.train(conv.training)
        return new

    def _conv_forward(self, input, weight, bias):
        return F.conv2d(input, block_diagonal(weight, self.groups, self.merge), bias, self.stride,
                        self.padding, self.dilation, self.groups // self.merge)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, computed as {self.groups // self.merge} groups"


def merge_choices(conv: nn.Conv2d) -> list[int]:
    """The merge factors tried for `conv`: 1 and each divisor m of its groups with a merged group width
    m * in_channels / groups of at most MAX_MERGED_WIDTH."""
    if conv.groups == 1 or conv.padding_mode != "zeros":
        return [1]
    width = conv.in_channels // conv.groups
    return [m for m in range(1, conv.groups + 1) if conv.groups % m == 0 and m * width <= MAX_MERGED_WIDTH]


def time_merged(conv: nn.Conv2d, weight: torch.Tensor, merge: int, x: torch.Tensor, backward: bool) -> float:
    """Milliseconds of `conv` (its weight `weight`) computed as `groups // merge` groups on `x`, forward and
    backward or forward alone: the fastest repeat (a slower one measures what else the machine ran)."""
    weight = weight.contiguous(memory_format=_format_of(x))  # as `model.to(memory_format=...)` leaves it
    x = x.detach().requires_grad_(backward)
    weight.requires_grad_(backward)
    groups = conv.groups // merge

    def step():
        w = block_diagonal(weight, conv.groups, merge) if merge > 1 else weight
        out = F.conv2d(x, w, None, conv.stride, conv.padding, conv.dilation, groups)
        if backward:
            out.backward(torch.ones_like(out))
    # one warm-up call: oneDNN builds its primitive on the first
    return measure(step, "cpu", repeats=TIMING_REPEATS, warmup=1).min_ms


def merge_times(conv_key: tuple, shape: tuple, memory_format: torch.memory_format,
                backward: bool = True) -> dict[int, float]:
    """{merge factor: ms by `time_merged`} for a convolution (`conv_key`: its constructor arguments) on an
    input of `shape`, in ascending factors."""
    in_channels, out_channels, kernel_size, stride, padding, dilation, groups = conv_key
    # on "meta" and with its own generator: the timing must not move the global RNG a seeded trial draws from
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=False,
                     device="meta")
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(conv.weight.shape, generator=generator)
    x = torch.randn(shape, generator=generator).contiguous(memory_format=memory_format)
    with torch.enable_grad() if backward else torch.no_grad():
        return {m: time_merged(conv, weight, m, x, backward) for m in merge_choices(conv)}


@functools.lru_cache(maxsize=256)
def fastest_merge(conv_key: tuple, shape: tuple, memory_format: torch.memory_format, threads: int,
                  backward: bool = True) -> int:
    """The merge factor `merge_times` measured fastest (the smaller on a tie), forward and backward (training)
    or forward alone (inference); cached per process, since each worker trains the same shapes many times."""
    times = merge_times(conv_key, shape, memory_format, backward)
    return min(times, key=times.get)


def _format_of(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last) \
            and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def _key(conv: nn.Conv2d) -> tuple:
    return (conv.in_channels, conv.out_channels, tuple(conv.kernel_size), tuple(conv.stride),
            tuple(conv.padding) if not isinstance(conv.padding, str) else conv.padding,
            tuple(conv.dilation), conv.groups)


def _inputs_seen(model: nn.Module, sample: torch.Tensor, convs: dict) -> dict:
    """{name: (input shape, memory format)} of each of `convs` in a forward pass of `sample`."""
    seen, hooks = {}, []

    def hook(name):
        def remember(module, inputs, output) -> None:  # a hook that returned a value would replace the output
            seen.setdefault(name, (tuple(inputs[0].shape), _format_of(inputs[0])))
        return remember
    for name, conv in convs.items():
        hooks.append(conv.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(sample)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return seen


def merge_grouped_convs(model: nn.Module, sample: torch.Tensor, choose=None, backward: bool = True) -> dict[str, int]:
    """Swap each grouped convolution of `model` (on the CPU) for a `MergedConv2d` where a merge factor
    > 1 measures fastest at the shapes and memory formats a forward pass of `sample` (a training batch,
    in the model's format) gives it, timed forward and backward (`backward` False: forward alone, for
    inference); returns {module name: merge factor} for the swapped ones.
    `choose(conv_key, shape, memory_format, threads, backward) -> merge` replaces the timing (tests)."""
    choose = choose or fastest_merge
    convs = {name: m for name, m in model.named_modules()
             if type(m) is nn.Conv2d and len(merge_choices(m)) > 1}
    if not convs:
        return {}
    seen = _inputs_seen(model, sample, convs)
    merged = {}
    for name, conv in convs.items():
        if name not in seen:
            continue  # not on the forward path
        shape, fmt = seen[name]
        merge = choose(_key(conv), shape, fmt, torch.get_num_threads(), backward)
        if merge > 1:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, MergedConv2d.wrapping(conv, merge))
            merged[name] = merge
    return merged


def merge_label(merged: dict[str, int], model: nn.Module) -> str:
    """'groups->computed groups' per swapped layer, e.g. '21->3 x3, 20->4', or 'none'."""
    counts: dict[str, int] = {}
    for name in merged:
        conv = model.get_submodule(name)
        label = f"{conv.groups}->{conv.groups // conv.merge}"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counts.items()) or "none"
