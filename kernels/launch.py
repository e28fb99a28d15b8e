"""Launcher pieces shared by the kernel files: tile-config tables, the autotune decorator, and the
``@triton.jit`` helpers every convolution kernel uses (output-pixel decode, the forward epilogue).

Imports Triton (only the kernel modules import this file; ``kernels._util`` holds the Triton-free
host helpers).
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._util import pick_configs


def tile_configs(keys, rows, stages=None) -> list:
    """``triton.Config`` list from rows of block sizes then ``num_warps`` (then ``num_stages``).

    ``keys`` names the block sizes (e.g. ``("BLOCK_M", "BLOCK_N", "BLOCK_K")``). Without ``stages``
    each row ends in (num_warps, num_stages); with ``stages`` (a tuple) each row ends in num_warps
    and is repeated for every stage count, in that order. The first config is the default when
    autotuning is off.
    """
    n = len(keys)
    return [
        triton.Config(dict(zip(keys, row[:n])), num_warps=row[n], num_stages=st)
        for row in rows
        for st in (stages if stages is not None else (row[n + 1],))
    ]


#: autotune key arguments every convolution kernel shares: sizes, group width, kernel, stride
CONV_KEY = ("OC", "CG", "OCG", "H", "W", "KH", "KW", "stride_h", "stride_w")


def autotune(gpu_configs, interpreter_config, size, *extra_key, keep=None):
    """``triton.autotune`` over ``gpu_configs`` (one fixed ``interpreter_config`` under the CPU
    interpreter, the first GPU config with KERNELS_AUTOTUNE=0; see ``_util.pick_configs``),
    re-tuned per value of ``size`` (the GEMM extent: pixels), ``CONV_KEY`` and ``extra_key``
    (split count, layout strides); ``keep(config, args)``: the configs worth timing (``pruner``)."""
    return triton.autotune(
        configs=pick_configs(gpu_configs, interpreter_config),
        key=[size, *CONV_KEY, *extra_key],
        prune_configs_by={"early_config_prune": pruner(keep)} if keep is not None else None,
    )


def pruner(keep):
    """Triton's early config pruner from ``keep(config, args) -> bool`` (``args``: the kernel's arguments by
    name, constexprs included): the configs it keeps, else the first (a launch always has one)."""
    def prune(configs, named_args, **kwargs):
        args = {**kwargs, **named_args}
        return [c for c in configs if keep(c, args)] or configs[:1]
    return prune


@triton.jit
def pixel_coords(offs, OH, OW, NB_INT64: tl.constexpr):
    """Output-pixel indices ``offs`` = (batch, oh, ow) flattened -> (nb, oh, ow).

    ``NB_INT64``: nb comes as int64 (else int32; cast it where it scales a stride). Either way the
    same arithmetic; the flag keeps int32 kernels free of 64-bit index math."""
    ow = offs % OW
    t = offs // OW
    oh = t % OH
    nb = t // OH
    if NB_INT64:
        nb = nb.to(tl.int64)
    return nb, oh, ow


@triton.jit
def window_coords(offs, OH, OW, stride_h, stride_w, pad_h, pad_w):
    """``pixel_coords`` (nb int32) and the top-left input row and column of each output pixel's
    window: (nb, oh, ow, ih0, iw0), ih0/iw0 negative inside the padding."""
    nb, oh, ow = pixel_coords(offs, OH, OW, False)
    return nb, oh, ow, oh * stride_h - pad_h, ow * stride_w - pad_w


@triton.jit
def tile_groups(oc_first, BLOCK: tl.constexpr, OC, OCG, CG):
    """The groups a tile of BLOCK output channels from ``oc_first`` spans -> (first group, its first
    input channel, CT = the input channels of all the groups spanned)."""
    oc_last = tl.minimum(oc_first + BLOCK, OC) - 1
    g_first = oc_first // OCG
    g_last = oc_last // OCG
    return g_first, g_first * CG, (g_last - g_first + 1) * CG


@triton.jit
def store_output(acc, y_ptr, b_ptr, nb, oh, ow, offs_c, p_mask, c_mask, syn, syc, syh, syw,
                 HAS_BIAS: tl.constexpr, ALIGN: tl.constexpr):
    """Forward epilogue: add the bias (fp32) to the [pixels, channels] tile and store it in y's dtype."""
    if HAS_BIAS:
        bias = tl.load(b_ptr + offs_c, mask=c_mask, other=0.0).to(tl.float32)
        acc = acc + bias[None, :]
    y_pix = tl.multiple_of(nb.to(tl.int64) * syn + oh * syh + ow * syw, ALIGN)
    y_ptrs = y_ptr + y_pix[:, None] + (offs_c * syc)[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=p_mask[:, None] & c_mask[None, :])
