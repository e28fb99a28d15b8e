"""Direct (memory-bound) grouped convolution for narrow groups, forward (also used for grad_input).

Near the depthwise end (CG = input channels per group up to about 8) a GEMM has too little
reduction per output to use tensor cores well, and the work is bounded by moving x and y. This
kernel computes a [BLOCK_P pixels x BLOCK_C output channels] tile with fp32 FMAs:

    y[p, oc] = b[oc] + sum_{c < CG, kh, kw} x[p's window (kh, kw), group(oc)*CG + c] * w[oc, c, kh, kw]

The loops over kh, kw, c are unrolled (CG, KH, KW are compile-time constants); every window load
is a [BLOCK_P, BLOCK_C] gather that overlapping windows serve from L1/L2, so x is read from DRAM
about once and y written once. With channels_last tensors the loads are contiguous along the
channel axis (ALIGN hints the pixel offsets' alignment so they vectorise), with NCHW along the
pixel axis; the weight is passed with output channels contiguous; strides are runtime arguments (any layout, including
a strided output view). Output channels with a channel multiplier (OCG > 1) are handled by the
group index of each output channel. Padding may be negative internally (bounds are masks).
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._util import cdiv, is_interpreted, pixel_align, trivial_output, weight_oc_fastest
from .launch import autotune, store_output, tile_configs, window_coords


# (BLOCK_P, BLOCK_C, num_warps), each with 1 then 2 stages; the first is the default
GPU_CONFIGS = tile_configs(("BLOCK_P", "BLOCK_C"), [
    (32, 64, 4), (32, 32, 4), (64, 32, 4), (16, 64, 4), (64, 64, 8),
    (128, 32, 8), (8, 128, 4), (16, 128, 8), (128, 16, 4), (256, 16, 8),
], stages=(1, 2))
INTERPRETER_CONFIG = triton.Config({"BLOCK_P": 256, "BLOCK_C": 16}, num_warps=4)


@autotune(GPU_CONFIGS, INTERPRETER_CONFIG, "M", "sxc", "syc")
@triton.jit
def _direct_fwd_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    M, H, W, OH, OW, OC, OCG,
    sxn, sxc, sxh, sxw,
    swo, swc, swh, sww,
    syn, syc, syh, syw,
    stride_h, stride_w, pad_h, pad_w,
    CG: tl.constexpr, KH: tl.constexpr, KW: tl.constexpr, HAS_BIAS: tl.constexpr, ALIGN: tl.constexpr,
    BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
):
    pid_p = tl.program_id(0)
    pid_c = tl.program_id(1)
    offs_p = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
    offs_c = tl.max_contiguous(tl.multiple_of(pid_c * BLOCK_C + tl.arange(0, BLOCK_C), BLOCK_C), BLOCK_C)
    p_mask = offs_p < M
    c_mask = offs_c < OC

    nb, oh, ow, ih0, iw0 = window_coords(offs_p, OH, OW, stride_h, stride_w, pad_h, pad_w)
    x_row = nb.to(tl.int64) * sxn
    cin0 = (offs_c // OCG) * CG  # first input channel of each output channel's group

    acc = tl.zeros((BLOCK_P, BLOCK_C), dtype=tl.float32)
    x_cb = x_ptr + (cin0 * sxc)[None, :]  # [1, BLOCK_C] group base of each output channel
    w_base = w_ptr + offs_c * swo
    for kh in tl.static_range(KH):
        ih = ih0 + kh
        h_ok = p_mask & (ih >= 0) & (ih < H)
        x_row_h = x_row + ih * sxh
        for kw in tl.static_range(KW):
            iw = iw0 + kw
            ok = h_ok & (iw >= 0) & (iw < W)
            pix = tl.multiple_of(x_row_h + iw * sxw, ALIGN)
            xp = x_cb + pix[:, None]  # window tap (kh, kw) for every (pixel, oc)
            m2 = ok[:, None] & c_mask[None, :]
            wp = w_base + (kh * swh + kw * sww)
            for c in tl.static_range(CG):
                xv = tl.load(xp + c * sxc, mask=m2, other=0.0)
                wv = tl.load(wp + c * swc, mask=c_mask, other=0.0)
                acc += xv.to(tl.float32) * wv.to(tl.float32)[None, :]

    store_output(acc, y_ptr, b_ptr, nb, oh, ow, offs_c, p_mask, c_mask, syn, syc, syh, syw, HAS_BIAS, ALIGN)


INTERPRETED = is_interpreted(_direct_fwd_kernel)


def conv_forward_direct(x, weight, bias, out, stride, padding, groups):
    """Launch the direct convolution into the preallocated ``out`` (any strides). Returns ``out``."""
    n, c, h, w = x.shape
    oc, cg, kh, kw = weight.shape
    _, _, oh, ow = out.shape
    m = n * oh * ow
    if trivial_output(out, bias, cg * kh * kw):
        return out
    wk = weight_oc_fastest(weight)  # per-tap weight vectors contiguous along output channels
    b_arg = bias if bias is not None else wk
    align = pixel_align(x, out)  # channels_last: hint pixel-offset alignment

    def grid(meta):
        return (cdiv(m, meta["BLOCK_P"]), cdiv(oc, meta["BLOCK_C"]))

    _direct_fwd_kernel[grid](
        x, wk, b_arg, out,
        m, h, w, oh, ow, oc, oc // groups,
        *x.stride(), *wk.stride(), *out.stride(),
        stride[0], stride[1], padding[0], padding[1],
        CG=cg, KH=kh, KW=kw, HAS_BIAS=bias is not None, ALIGN=align,
    )
    return out
