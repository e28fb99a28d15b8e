"""Argument checking of ``grouped_conv2d``: a ValueError (TypeError for non-tensors) that says what is
wrong and what is allowed, raised before any kernel runs."""

from __future__ import annotations

import torch

from ._util import SUPPORTED_DTYPES


def pair(value, name: str, minimum: int) -> list:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as a two-item list."""
    what = "positive" if minimum == 1 else "non-negative"
    if isinstance(value, bool) or not isinstance(value, (int, tuple, list, torch.Size)):
        raise ValueError(
            f"grouped_conv2d: {name} must be a {what} int or a pair of {what} ints, got {value!r}"
        )
    items = [value, value] if isinstance(value, int) else list(value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in items):
        raise ValueError(
            f"grouped_conv2d: {name} must be a {what} int or a pair of {what} ints, got {value!r}"
        )
    if any(v < minimum for v in items):
        raise ValueError(f"grouped_conv2d: {name} must be {what} (>= {minimum}), got {value!r}")
    return items


def output_hw(h, w, kh, kw, stride, padding):
    """Output height and width of a dilation-1 convolution."""
    return (h + 2 * padding[0] - kh) // stride[0] + 1, (w + 2 * padding[1] - kw) // stride[1] + 1


def check_types(x, weight, bias):
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"grouped_conv2d: {name} must be a torch.Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, torch.Tensor):
        raise TypeError(f"grouped_conv2d: bias must be a torch.Tensor or None, got {type(bias).__name__}")


def check_groups(groups):
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"grouped_conv2d: groups must be a positive int, got {groups!r}")


def _check_ranks(x, weight):
    if x.dim() != 4:
        raise ValueError(
            f"grouped_conv2d: x must be 4-D (N, C, H, W), got {x.dim()}-D with shape {tuple(x.shape)}"
        )
    if weight.dim() != 4:
        raise ValueError(
            "grouped_conv2d: weight must be 4-D (out_channels, in_channels/groups, kH, kW), got "
            f"{weight.dim()}-D with shape {tuple(weight.shape)}"
        )


def _check_dtypes_and_devices(x, weight, bias):
    allowed = ", ".join(str(d).replace("torch.", "") for d in SUPPORTED_DTYPES)
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"grouped_conv2d: x has dtype {x.dtype}; allowed: {allowed}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise ValueError(
                f"grouped_conv2d: {name} dtype {t.dtype} differs from x dtype {x.dtype}; they must match"
            )
    if weight.device != x.device or (bias is not None and bias.device != x.device):
        devs = f"x on {x.device}, weight on {weight.device}" + (
            f", bias on {bias.device}" if bias is not None else ""
        )
        raise ValueError(f"grouped_conv2d: all tensors must be on one device, got {devs}")


def _check_channels(x, weight, bias, groups):
    c = x.shape[1]
    oc, cg, kh, kw = weight.shape
    if c % groups != 0 or oc % groups != 0:
        raise ValueError(
            f"grouped_conv2d: groups={groups} must divide both in_channels={c} and "
            f"out_channels={oc}; allowed groups: the common divisors "
            f"{[g for g in range(1, max(c, 1) + 1) if c % g == 0 and oc % g == 0]}"
        )
    if cg != c // groups:
        raise ValueError(
            f"grouped_conv2d: weight has {cg} input channels per group (shape {tuple(weight.shape)}) but "
            f"x has {c} channels / groups={groups} = {c // groups}; weight must be "
            f"({oc}, {c // groups}, kH, kW)"
        )
    if kh < 1 or kw < 1 or oc < 1 or c < 1:
        raise ValueError(
            f"grouped_conv2d: channels and kernel size must be >= 1, got x {tuple(x.shape)}, "
            f"weight {tuple(weight.shape)}"
        )
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != oc):
        raise ValueError(
            f"grouped_conv2d: bias must be None or 1-D of length out_channels={oc}, got shape {tuple(bias.shape)}"
        )


def _check_output_size(x, weight, stride, padding):
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    oh, ow = output_hw(h, w, kh, kw, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"grouped_conv2d: kernel {kh}x{kw} is larger than the padded input "
            f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input {h}x{w}, padding {tuple(padding)}); "
            "the padded input must be at least the kernel size"
        )


def check_args(x, weight, bias, stride, padding, groups):
    """Validate the arguments; return ``(stride_pair, padding_pair)``. Raises ValueError/TypeError."""
    check_types(x, weight, bias)
    _check_ranks(x, weight)
    _check_dtypes_and_devices(x, weight, bias)
    check_groups(groups)
    _check_channels(x, weight, bias, groups)
    stride = pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    _check_output_size(x, weight, stride, padding)
    return stride, padding
