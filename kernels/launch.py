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


def autotune(gpu_configs, interpreter_config, key, prune=None):
    """``triton.autotune`` over ``gpu_configs`` (one fixed ``interpreter_config`` under the CPU
    interpreter, the first GPU config with KERNELS_AUTOTUNE=0; see ``_util.pick_configs``),
    re-tuned per value of the ``key`` arguments, with an optional early config pruner."""
    return triton.autotune(
        configs=pick_configs(gpu_configs, interpreter_config),
        key=list(key),
        prune_configs_by={"early_config_prune": prune} if prune is not None else None,
    )


@triton.jit
def pixel_coords(offs, OH, OW, stride_h, stride_w, pad_h, pad_w):
    """Output-pixel indices ``offs`` = (batch, oh, ow) flattened -> (nb as int64, oh, ow, and the
    top-left input row/column of each pixel's window, ih0 and iw0; negative inside the padding)."""
    ow = offs % OW
    t = offs // OW
    oh = t % OH
    nb = (t // OH).to(tl.int64)
    return nb, oh, ow, oh * stride_h - pad_h, ow * stride_w - pad_w


@triton.jit
def store_output(acc, y_ptr, b_ptr, nb, oh, ow, offs_c, p_mask, c_mask, syn, syc, syh, syw,
                 HAS_BIAS: tl.constexpr, ALIGN: tl.constexpr):
    """Forward epilogue: add the bias (fp32) to the [pixels, channels] tile and store it in y's dtype."""
    if HAS_BIAS:
        bias = tl.load(b_ptr + offs_c, mask=c_mask, other=0.0).to(tl.float32)
        acc = acc + bias[None, :]
    y_pix = tl.multiple_of(nb * syn + oh * syh + ow * syw, ALIGN)
    y_ptrs = y_ptr + y_pix[:, None] + (offs_c * syc)[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=p_mask[:, None] & c_mask[None, :])
