"""Direct grouped convolution for narrow groups, weight gradient (and the bias gradient).

For CG up to about 8 each weight is a reduction over all output pixels of one product:

    dw[oc, c, kh, kw] = sum_p dy[p, oc] * x[p's window (kh, kw), group(oc)*CG + c]

One program owns BLOCK_C output channels, one input-channel offset c (grid axis 2) and a slice of
the pixels (grid axis 1, the split). It loads a dy tile [BLOCK_P, BLOCK_C] once per step and the
whole window at once as a 3-D gather [BLOCK_P, TAPS, BLOCK_C] (TAPS = KH*KW rounded up to a power of
two), accumulating [TAPS, BLOCK_C] in fp32 registers. Partial sums per split go to an fp32 buffer
[SPLIT, OC, CG, KH, KW] reduced by the launcher (deterministic, no atomics); the c == 0 programs
also sum dy, the bias gradient [SPLIT, OC].
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._util import (
    cdiv, is_interpreted, next_pow2, pixel_align, reduce_partials, split_count, split_partials, wgrad_args,
)
from .launch import autotune, pixel_coords, tile_configs


# (BLOCK_P, BLOCK_C, num_warps), all with 2 stages; the first is the default
GPU_CONFIGS = tile_configs(("BLOCK_P", "BLOCK_C"), [
    (16, 32, 4), (32, 32, 4), (8, 64, 4), (16, 64, 4), (32, 64, 8),
    (64, 16, 4), (64, 32, 8), (8, 128, 4), (4, 128, 4), (128, 8, 4),
    (8, 32, 4), (4, 64, 4), (16, 16, 4), (2, 128, 4),
], stages=(2,))
INTERPRETER_CONFIG = triton.Config({"BLOCK_P": 256, "BLOCK_C": 16}, num_warps=4)


def _fits(config, args) -> bool:
    """The 3-D window gather inside a register budget."""
    return config.kwargs["BLOCK_P"] * config.kwargs["BLOCK_C"] * args.get("TAPS", 16) <= 64 * 32 * config.num_warps


@autotune(GPU_CONFIGS, INTERPRETER_CONFIG, "P_TOTAL", "SPLIT", "sxc", keep=_fits)
@triton.jit
def _direct_wgrad_kernel(
    x_ptr, dy_ptr, dwp_ptr, dbp_ptr,
    P_TOTAL, P_PER_SPLIT, SPLIT, H, W, OH, OW, OC, OCG, CG,
    sxn, sxc, sxh, sxw,
    sdn, sdc, sdh, sdw,
    stride_h, stride_w, pad_h, pad_w,
    KH: tl.constexpr, KW: tl.constexpr, TAPS: tl.constexpr, HAS_BIAS: tl.constexpr,
    ALIGN_X: tl.constexpr, ALIGN_D: tl.constexpr,
    BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
):
    pid_c = tl.program_id(0)
    pid_s = tl.program_id(1)
    c = tl.program_id(2)  # input-channel offset inside the group

    offs_c = tl.max_contiguous(tl.multiple_of(pid_c * BLOCK_C + tl.arange(0, BLOCK_C), BLOCK_C), BLOCK_C)
    c_mask = offs_c < OC
    cin = (offs_c // OCG) * CG + c
    taps = tl.arange(0, TAPS)
    t_mask = taps < KH * KW
    kh = taps // KW
    kw = taps % KW

    p_start = pid_s * P_PER_SPLIT
    p_end = tl.minimum(p_start + P_PER_SPLIT, P_TOTAL)

    acc = tl.zeros((TAPS, BLOCK_C), dtype=tl.float32)
    bacc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for p0 in range(p_start, p_end, BLOCK_P):
        offs_p = p0 + tl.arange(0, BLOCK_P)
        p_mask = offs_p < p_end
        nb, oh, ow = pixel_coords(offs_p, OH, OW, True)
        dy_pix = tl.multiple_of(nb * sdn + oh * sdh + ow * sdw, ALIGN_D)
        dy = tl.load(
            dy_ptr + dy_pix[:, None] + (offs_c * sdc)[None, :],
            mask=p_mask[:, None] & c_mask[None, :],
            other=0.0,
        ).to(tl.float32)
        if HAS_BIAS:
            bacc += tl.sum(dy, axis=0)

        ih = (oh * stride_h - pad_h)[:, None] + kh[None, :]  # [P, TAPS]
        iw = (ow * stride_w - pad_w)[:, None] + kw[None, :]
        ok = (p_mask[:, None] & t_mask[None, :]) & ((ih >= 0) & (ih < H)) & ((iw >= 0) & (iw < W))
        pix = tl.multiple_of((nb * sxn)[:, None] + ih * sxh + iw * sxw, [ALIGN_X, ALIGN_X])  # [P, TAPS]
        xv = tl.load(
            x_ptr + pix[:, :, None] + (cin * sxc)[None, None, :],
            mask=ok[:, :, None] & c_mask[None, None, :],
            other=0.0,
        ).to(tl.float32)
        acc += tl.sum(dy[:, None, :] * xv, axis=0)

    KSZ = KH * KW
    dst = (
        dwp_ptr
        + pid_s.to(tl.int64) * OC * CG * KSZ
        + (offs_c * (CG * KSZ))[None, :]
        + c * KSZ
        + taps[:, None]
    )
    tl.store(dst, acc, mask=t_mask[:, None] & c_mask[None, :])
    if HAS_BIAS:
        if c == 0:
            tl.store(dbp_ptr + pid_s * OC + offs_c, bacc, mask=c_mask)


INTERPRETED = is_interpreted(_direct_wgrad_kernel)


def conv_weight_grad_direct(x, grad_out, weight_shape, stride, padding, groups, need_bias):
    """Weight gradient (fp32, shape ``weight_shape``) and, when ``need_bias``, the bias gradient (fp32)."""
    n = x.shape[0]
    oc, cg, kh, kw = weight_shape
    _, _, oh, ow = grad_out.shape
    p_total = n * oh * ow
    tiles = cdiv(oc, 32) * cg
    split = split_count(p_total, tiles, x.device, INTERPRETED, min_pixels=256, cap=1024)
    split, per_split, dwp, dbp = split_partials(p_total, split, weight_shape, need_bias, x.device)
    align_x, align_d = pixel_align(x), pixel_align(grad_out)
    if p_total > 0 and oc > 0 and cg * kh * kw > 0:

        def grid(meta):
            return (cdiv(oc, meta["BLOCK_C"]), split, cg)

        _direct_wgrad_kernel[grid](
            *wgrad_args(x, grad_out, dwp, dbp, per_split, split, groups, stride, padding),
            KH=kh, KW=kw, TAPS=next_pow2(kh * kw), HAS_BIAS=need_bias, ALIGN_X=align_x, ALIGN_D=align_d,
        )
    return reduce_partials(dwp, dbp, need_bias)
