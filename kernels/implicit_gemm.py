"""Implicit-GEMM grouped convolution, forward (also used for grad_input, see grouped_conv.py).

Per group g the convolution is a GEMM

    out[m, n] = sum_k A[m, k] * B[k, n]
    m = (batch, oh, ow)                      M = N * OH * OW   output pixels
    n = output channel                       OC (OCG per group)
    k = (kh, kw, c) over the window AND the group's channels together, K = KH * KW * CG

with A[m, (kh, kw, c)] = x[batch, g*CG + c, oh*s - p + kh, ow*s - p + kw] gathered on the fly (never
materialised) and B[(kh, kw, c), n] = w[n, c, kh, kw].

Packing several groups into one tile: a tile of BLOCK_N output channels may span several groups
(when OCG < BLOCK_N). Its reduction then runs over the channels of all the groups it spans
(K_tile = KH * KW * CG * groups_in_tile) and B is loaded block-diagonally (zero where the input
channel's group differs from the output channel's group). That wastes groups_in_tile x the MACs
but keeps the tensor cores fed when CG is small; autotuning (and the pruning below) keeps
groups_in_tile small. Near the depthwise end the direct kernel (direct_depthwise.py) is used instead.

Two orders of the same K loop (constexpr WINDOW_OUTER; kernels.algorithms picks it by group width):
* flattened (narrow groups): one loop over k = (kh*KW + kw) * CT + c in BLOCK_K steps, no padding
  waste however small CT (the channels of the tile) is;
* window outer (wide groups, CG >= 32): for each tap (kh, kw) a loop over channel chunks
  c0 .. c0 + BLOCK_K. Pixel masks are computed once per tap and the channel offsets are a
  contiguous range, so channels_last loads vectorise (ALIGN hints the offsets' alignment).

Any strides work (including a strided output view, which the grad_input phases use). The launcher
passes the weight with output channels contiguous (``weight_oc_fastest``), so B tiles load
contiguously along n. Padding may be negative internally: all bounds are masks.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._util import (
    cdiv, dot_precision, is_interpreted, next_pow2, pixel_align, trivial_output, upcast_dot, weight_oc_fastest,
)
from .launch import autotune, store_output, tile_configs, tile_groups, window_coords


# (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages); the first is the default without autotuning
GPU_CONFIGS = tile_configs(("BLOCK_M", "BLOCK_N", "BLOCK_K"), [
    (128, 64, 32, 4, 4), (128, 128, 32, 8, 3), (64, 128, 32, 4, 4), (128, 64, 64, 8, 3),
    (64, 64, 32, 4, 4), (256, 64, 32, 8, 3), (128, 32, 32, 4, 4), (64, 32, 64, 4, 3),
    (256, 32, 32, 8, 3), (128, 16, 32, 4, 4), (64, 16, 64, 4, 3), (256, 16, 32, 8, 3),
])
# the CPU interpreter: one fixed config, large pixel tiles (few programs) but only 8 output
# channels so that small tests still cross tile and group boundaries (the interpreter has no
# 16-minimum for tl.dot; every GPU config uses >= 16)
INTERPRETER_CONFIG = triton.Config({"BLOCK_M": 256, "BLOCK_N": 8, "BLOCK_K": 64}, num_warps=4)


def _fits(config, args) -> bool:
    """No tile much wider than a group: each extra group in a tile multiplies the MACs."""
    return config.kwargs["BLOCK_N"] <= max(16, min(next_pow2(args["OCG"]), next_pow2(args["OC"])))


@autotune(GPU_CONFIGS, INTERPRETER_CONFIG, "M", "sxc", keep=_fits)
@triton.jit
def _igemm_fwd_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    M, H, W, OH, OW, OC, CG, OCG,
    sxn, sxc, sxh, sxw,
    swo, swc, swh, sww,
    syn, syc, syh, syw,
    stride_h, stride_w, pad_h, pad_w,
    KH: tl.constexpr, KW: tl.constexpr,
    HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    WINDOW_OUTER: tl.constexpr, ALIGN: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    # 1-D grid, output-channel tiles fastest: neighbouring programs share the pixel tile in L2.
    pid = tl.program_id(0)
    num_n = tl.cdiv(OC, BLOCK_N)
    pid_m = pid // num_n
    pid_n = pid % num_n

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    m_mask = offs_m < M
    n_mask = offs_n < OC

    nb, oh, ow, ih0, iw0 = window_coords(offs_m, OH, OW, stride_h, stride_w, pad_h, pad_w)
    x_row = nb.to(tl.int64) * sxn

    # groups spanned by this tile of output channels -> its slice of input channels
    g_first, c_base, CT = tile_groups(pid_n * BLOCK_N, BLOCK_N, OC, OCG, CG)
    c_shift = (offs_n // OCG - g_first) * CG  # column n uses tile channels [c_shift, c_shift + CG)
    w_cols = w_ptr + offs_n * swo

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if WINDOW_OUTER:
        x_base = x_ptr + tl.multiple_of(c_base * sxc, ALIGN)
        for r in range(0, KH * KW):
            kh = r // KW
            kw = r % KW
            ih = ih0 + kh
            iw = iw0 + kw
            ok_m = m_mask & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            pix = tl.multiple_of(x_row + ih * sxh + iw * sxw, ALIGN)
            w_tap = w_cols + kh * swh + kw * sww
            for c0 in range(0, CT, BLOCK_K):
                offs_c = c0 + tl.arange(0, BLOCK_K)
                c_ok = offs_c < CT
                a = tl.load(x_base + pix[:, None] + (offs_c * sxc)[None, :],
                            mask=ok_m[:, None] & c_ok[None, :], other=0.0)
                cl = offs_c[:, None] - c_shift[None, :]
                b = tl.load(w_tap[None, :] + cl * swc,
                            mask=(c_ok[:, None] & n_mask[None, :]) & ((cl >= 0) & (cl < CG)), other=0.0)
                if UPCAST:
                    a = a.to(tl.float32)
                    b = b.to(tl.float32)
                acc = tl.dot(a, b, acc, input_precision=PRECISION)
    else:
        K_tile = CT * KH * KW
        for k0 in range(0, K_tile, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            k_mask = offs_k < K_tile
            c = offs_k % CT
            r = offs_k // CT
            kh = r // KW
            kw = r % KW

            ih = ih0[:, None] + kh[None, :]
            iw = iw0[:, None] + kw[None, :]
            a_mask = (m_mask[:, None] & k_mask[None, :]) & ((ih >= 0) & (ih < H)) & ((iw >= 0) & (iw < W))
            a_ptrs = x_ptr + x_row[:, None] + (c_base + c)[None, :] * sxc + ih * sxh + iw * sxw
            a = tl.load(a_ptrs, mask=a_mask, other=0.0)

            cl = c[:, None] - c_shift[None, :]
            b_mask = (k_mask[:, None] & n_mask[None, :]) & ((cl >= 0) & (cl < CG))
            b_ptrs = w_cols[None, :] + cl * swc + (kh * swh + kw * sww)[:, None]
            b = tl.load(b_ptrs, mask=b_mask, other=0.0)

            if UPCAST:
                a = a.to(tl.float32)
                b = b.to(tl.float32)
            acc = tl.dot(a, b, acc, input_precision=PRECISION)

    store_output(acc, y_ptr, b_ptr, nb, oh, ow, offs_n, m_mask, n_mask, syn, syc, syh, syw, HAS_BIAS, ALIGN)


INTERPRETED = is_interpreted(_igemm_fwd_kernel)


def conv_forward_gemm(x, weight, bias, out, stride, padding, groups, *, window_outer: bool):
    """Launch the implicit-GEMM convolution into the preallocated ``out`` (any strides).

    ``stride``/``padding`` are (h, w) pairs; padding may be negative (used by grad_input).
    ``window_outer``: the loop order (``kernels.algorithms`` chooses it by group width).
    Returns ``out``.
    """
    n, c, h, w = x.shape
    oc, cg, kh, kw = weight.shape
    _, _, oh, ow = out.shape
    m = n * oh * ow
    if trivial_output(out, bias, cg * kh * kw):  # nothing to write, or a grad_input phase with no taps
        return out
    wk = weight_oc_fastest(weight)
    b_arg = bias if bias is not None else wk  # never read when HAS_BIAS is False
    # alignment of pixel offsets (and of the group's first channel) when channels are contiguous
    align = pixel_align(x, out, extra=(cg,))

    def grid(meta):
        return (cdiv(m, meta["BLOCK_M"]) * cdiv(oc, meta["BLOCK_N"]),)

    _igemm_fwd_kernel[grid](
        x, wk, b_arg, out,
        m, h, w, oh, ow, oc, cg, oc // groups,
        *x.stride(), *wk.stride(), *out.stride(),
        stride[0], stride[1], padding[0], padding[1],
        KH=kh, KW=kw,
        HAS_BIAS=bias is not None, PRECISION=dot_precision(x.dtype),
        UPCAST=upcast_dot(INTERPRETED, x.dtype), WINDOW_OUTER=bool(window_outer), ALIGN=align,
    )
    return out
