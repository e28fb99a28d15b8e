"""Implicit-GEMM grouped convolution, weight gradient (and the bias gradient on the side).

Per group g the weight gradient is a GEMM whose reduction runs over all output pixels:

    dw[oc, (kh, kw, c)] = sum_p dy[p, oc] * x[p's window (kh, kw), g*CG + c]      p = (batch, oh, ow)

    rows  = output channels (tile BLOCK_M)
    cols  = (kh, kw, c) over the window and the group's channels together (tile BLOCK_N)
    K     = N * OH * OW output pixels (tile BLOCK_K), split across SPLIT programs

Column order, as in the forward kernel (constexpr WINDOW_OUTER): flattened (kh, kw, c) for narrow
groups, or for wide groups one tap (kh, kw) per column tile with a contiguous channel range (the x
gather then loads contiguous channels in channels_last, vectorised with the ALIGN hint).

As in the forward kernel, a row tile may span several groups when OCG < BLOCK_M: its columns then
run over the channels of all those groups and only the block-diagonal part (column channel in the
row's group) is stored. The split-K partial sums go to an fp32 buffer [SPLIT, OC, CG, KH, KW]
that the launcher reduces with one ``sum`` (deterministic, no atomics). The programs of the first
column tile also sum dy over their pixels: the bias gradient, [SPLIT, OC].
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._util import (
    cdiv, dot_precision, is_interpreted, next_pow2, pixel_align, reduce_partials, split_count, split_partials,
    upcast_dot, wgrad_args,
)
from .launch import autotune, pixel_coords, tile_configs, tile_groups


# (BLOCK_M, BLOCK_N, BLOCK_K, num_warps); all with 3 stages; the first is the default
GPU_CONFIGS = tile_configs(("BLOCK_M", "BLOCK_N", "BLOCK_K"), [
    (64, 64, 64, 4), (128, 64, 32, 4), (64, 128, 32, 4), (128, 128, 32, 8), (32, 64, 64, 4),
    (32, 128, 64, 4), (16, 64, 128, 4), (16, 128, 64, 4), (32, 32, 128, 4),
], stages=(3,))
# interpreter: one config; 8 output channels per tile so small tests cross group boundaries
INTERPRETER_CONFIG = triton.Config({"BLOCK_M": 8, "BLOCK_N": 32, "BLOCK_K": 256}, num_warps=4)


def _fits(config, args) -> bool:
    """No row tile much taller than a group's output channels."""
    return config.kwargs["BLOCK_M"] <= max(16, next_pow2(args["OCG"]))


@autotune(GPU_CONFIGS, INTERPRETER_CONFIG, "P_TOTAL", "SPLIT", "sxc", keep=_fits)
@triton.jit
def _igemm_wgrad_kernel(
    x_ptr, dy_ptr, dwp_ptr, dbp_ptr,
    P_TOTAL, P_PER_SPLIT, SPLIT, H, W, OH, OW, OC, OCG, CG,
    sxn, sxc, sxh, sxw,
    sdn, sdc, sdh, sdw,
    stride_h, stride_w, pad_h, pad_w,
    KH: tl.constexpr, KW: tl.constexpr,
    HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    WINDOW_OUTER: tl.constexpr, ALIGN_X: tl.constexpr, ALIGN_D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    pid_s = tl.program_id(2)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # output channels
    m_mask = offs_m < OC
    _, c_base, CT = tile_groups(pid_m * BLOCK_M, BLOCK_M, OC, OCG, CG)

    if WINDOW_OUTER:
        # column tile = one tap (kh, kw) x a contiguous range of the tile's channels; the chunk
        # count per tap is the launcher's: channels of the widest possible row tile
        CT_MAX = tl.minimum(OC // OCG, (BLOCK_M - 1 + OCG - 1) // OCG + 1) * CG
        n_chunks = tl.cdiv(CT_MAX, BLOCK_N)
        r = pid_n // n_chunks
        c = (pid_n % n_chunks) * BLOCK_N + tl.arange(0, BLOCK_N)
        n_mask = c < CT
        kh = r // KW + tl.zeros((BLOCK_N,), dtype=tl.int32)
        kw = r % KW + tl.zeros((BLOCK_N,), dtype=tl.int32)
        has_work = r < KH * KW
    else:
        NCOLS = CT * KH * KW
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # (kh, kw, c) columns
        n_mask = offs_n < NCOLS
        c = offs_n % CT
        r = offs_n // CT
        kh = r // KW
        kw = r % KW
        has_work = pid_n * BLOCK_N < NCOLS
    x_chan = (c_base + c) * sxc

    p_start = pid_s * P_PER_SPLIT
    p_end = tl.minimum(p_start + P_PER_SPLIT, P_TOTAL)
    p_end = tl.where(has_work, p_end, p_start)  # column tile past this row tile: no work

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    bacc = tl.zeros((BLOCK_M,), dtype=tl.float32)
    for p0 in range(p_start, p_end, BLOCK_K):
        offs_k = p0 + tl.arange(0, BLOCK_K)
        k_mask = offs_k < p_end
        nb, oh, ow = pixel_coords(offs_k, OH, OW, True)
        dy_pix = tl.multiple_of(nb * sdn + oh * sdh + ow * sdw, ALIGN_D)
        a_ptrs = dy_ptr + (offs_m * sdc)[:, None] + dy_pix[None, :]
        a = tl.load(a_ptrs, mask=m_mask[:, None] & k_mask[None, :], other=0.0)

        ih = (oh * stride_h - pad_h)[:, None] + kh[None, :]
        iw = (ow * stride_w - pad_w)[:, None] + kw[None, :]
        b_mask = (k_mask[:, None] & n_mask[None, :]) & ((ih >= 0) & (ih < H)) & ((iw >= 0) & (iw < W))
        pix = tl.multiple_of((nb * sxn)[:, None] + ih * sxh + iw * sxw, [ALIGN_X, ALIGN_X])
        b = tl.load(x_ptr + pix + x_chan[None, :], mask=b_mask, other=0.0)

        if HAS_BIAS:
            bacc += tl.sum(a.to(tl.float32), axis=1)
        if UPCAST:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)

    # keep the block-diagonal part: column channel in the row's group
    cl = (c_base + c)[None, :] - ((offs_m // OCG) * CG)[:, None]
    keep = (m_mask[:, None] & n_mask[None, :]) & ((cl >= 0) & (cl < CG))
    KSZ = KH * KW
    dst = (
        dwp_ptr
        + pid_s.to(tl.int64) * OC * CG * KSZ
        + (offs_m * (CG * KSZ))[:, None]
        + cl * KSZ
        + (kh * KW + kw)[None, :]
    )
    tl.store(dst, acc, mask=keep)
    if HAS_BIAS:
        if pid_n == 0:
            tl.store(dbp_ptr + pid_s * OC + offs_m, bacc, mask=m_mask)


INTERPRETED = is_interpreted(_igemm_wgrad_kernel)


def conv_weight_grad_gemm(x, grad_out, weight_shape, stride, padding, groups, need_bias, *, window_outer: bool):
    """Weight gradient (fp32, shape ``weight_shape``) and, when ``need_bias``, the bias gradient (fp32).

    ``window_outer``: the column order (``kernels.algorithms`` chooses it by group width).
    """
    n = x.shape[0]
    oc, cg, kh, kw = weight_shape
    _, _, oh, ow = grad_out.shape
    p_total = n * oh * ow
    ocg = oc // groups
    # most channels a row tile can span (groups touched by 128 rows), for the split heuristic
    tiles = cdiv(oc, 64) * cdiv(min(groups, cdiv(128, max(ocg, 1)) + 1) * cg * kh * kw, 64)
    split = split_count(p_total, tiles, x.device, INTERPRETED, min_pixels=512, cap=512)
    split, per_split, dwp, dbp = split_partials(p_total, split, weight_shape, need_bias, x.device)
    # alignment hints for channels_last (channel stride 1): pixel offsets, first channel of a group
    align_x, align_d = pixel_align(x, extra=(cg,)), pixel_align(grad_out)
    if p_total > 0 and oc > 0 and cg * kh * kw > 0:

        def ct_max(bm):  # channels of the widest row tile: groups it can touch x CG
            return min(groups, cdiv(bm - 1, max(ocg, 1)) + 1) * cg

        def grid(meta):
            bm, bn = meta["BLOCK_M"], meta["BLOCK_N"]
            cols = kh * kw * cdiv(ct_max(bm), bn) if window_outer else cdiv(ct_max(bm) * kh * kw, bn)
            return (cdiv(oc, bm), cols, split)

        _igemm_wgrad_kernel[grid](
            *wgrad_args(x, grad_out, dwp, dbp, per_split, split, groups, stride, padding),
            KH=kh, KW=kw, HAS_BIAS=need_bias,
            PRECISION=dot_precision(x.dtype), UPCAST=upcast_dot(INTERPRETED, x.dtype),
            WINDOW_OUTER=bool(window_outer), ALIGN_X=align_x, ALIGN_D=align_d,
        )
    return reduce_partials(dwp, dbp, need_bias)
