"""Small helpers shared by the kernel files (no Triton kernels here).

Kept free of a top-level ``import triton`` so that ``import kernels`` works where Triton is absent.
"""

from __future__ import annotations

import os
import weakref

import torch

#: dtypes the kernels accept; accumulation is always fp32.
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def interpret_requested() -> bool:
    """True when TRITON_INTERPRET asks for the CPU interpreter (read from the environment now)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")


def autotune_enabled() -> bool:
    """False when KERNELS_AUTOTUNE=0: each kernel then uses its first (default) GPU config.

    Read when the kernel modules are imported. Tests use it to avoid autotuning every random
    shape; the benchmark leaves it on.
    """
    return os.environ.get("KERNELS_AUTOTUNE", "1").strip().lower() not in ("0", "false", "off", "no")


def pick_configs(gpu_configs, interpreter_config):
    """The config list for ``triton.autotune``: one fixed config under the interpreter (CPU tests
    stay fast), the first GPU config when autotuning is off, else all GPU configs."""
    if interpret_requested():
        return [interpreter_config]
    if not autotune_enabled():
        return list(gpu_configs[:1])
    return list(gpu_configs)


def is_interpreted(jit_fn) -> bool:
    """True when a ``@triton.jit`` function was defined under TRITON_INTERPRET=1.

    Triton decides at decoration time (module import), so this, not the environment, tells how a
    kernel will actually run.
    """
    # an autotuned (or heuristics-wrapped) kernel holds the jit function in ``.fn``
    while type(jit_fn).__name__ not in ("InterpretedFunction", "JITFunction") and hasattr(jit_fn, "fn"):
        jit_fn = jit_fn.fn
    return type(jit_fn).__name__ == "InterpretedFunction"


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision for fp32 operands, following ``torch.backends.cudnn.allow_tf32``.

    F.conv2d on CUDA uses TF32 for fp32 convolutions when ``cudnn.allow_tf32`` is True (the torch
    default), so the Triton path does the same, and true fp32 ("ieee") when it is False. For
    fp16/bf16 operands the value is irrelevant.
    """
    if dtype == torch.float32 and torch.backends.cudnn.allow_tf32:
        return "tf32"
    return "ieee"


def upcast_dot(interpreted: bool, dtype: torch.dtype) -> bool:
    """The CPU interpreter's ``tl.dot`` is wrong for bf16 operands (numpy has no bf16): upcast there.

    On a GPU the operands stay bf16 (tensor cores, fp32 accumulation).
    """
    return interpreted and dtype == torch.bfloat16


def channels_last_like(x: torch.Tensor) -> bool:
    """True when ``x`` is laid out channels_last (and not also plainly contiguous)."""
    return (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    )


def empty_like_format(x: torch.Tensor, shape, dtype=None) -> torch.Tensor:
    """A new tensor of ``shape`` on x's device, in x's memory format (channels_last or NCHW)."""
    fmt = torch.channels_last if channels_last_like(x) else torch.contiguous_format
    return torch.empty(shape, dtype=dtype or x.dtype, device=x.device, memory_format=fmt)


def pow2_align(*values: int, cap: int = 16) -> int:
    """Largest power of two (<= cap) dividing every value: an alignment hint for offsets built
    from these strides (so channels_last loads can be vectorised)."""
    a = cap
    for v in values:
        v = abs(int(v))
        if v == 0:
            continue
        while a > 1 and v % a:
            a //= 2
    return a


def relayout_weight(weight: torch.Tensor) -> torch.Tensor:
    """The weight (OC, CG, KH, KW) re-laid so output channels are contiguous (storage KH, KW, CG, OC).

    Same logical tensor; the kernels read [k, oc] tiles of it, which are then contiguous along oc.
    A weight-sized copy (never of the input), skipped when already in that layout.
    """
    t = weight.permute(2, 3, 1, 0)
    if t.is_contiguous():
        return weight
    return t.contiguous().permute(3, 2, 0, 1)


_RELAYOUT_CACHE: dict = {}


def weight_oc_fastest(weight: torch.Tensor) -> torch.Tensor:
    """``relayout_weight`` remembered per weight tensor, so repeated calls with an unchanged weight
    (inference, benchmarks) launch no copy. A cached copy is used only for the very same tensor
    object with the same storage, strides and version counter (any in-place update, e.g. an
    optimizer step, bumps the version); the entry goes when the weight is freed."""
    if weight.permute(2, 3, 1, 0).is_contiguous():
        return weight
    key = id(weight)
    sig = (weight.data_ptr(), weight._version, tuple(weight.shape), weight.stride(), weight.dtype)
    hit = _RELAYOUT_CACHE.get(key)
    if hit is not None and hit[0]() is weight and hit[1] == sig:
        return hit[2]
    out = relayout_weight(weight)
    try:
        ref = weakref.ref(weight, lambda _r, key=key: _RELAYOUT_CACHE.pop(key, None))
    except TypeError:  # not weak-referenceable: no caching
        return out
    _RELAYOUT_CACHE[key] = (ref, sig, out)
    return out


def next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def sm_count(device: torch.device) -> int:
    """Streaming multiprocessors of a CUDA device (a small constant on CPU, used to size grids)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 1


# --------------------------------------------------------------------------------------------
# host-side launcher helpers shared by the kernel files
# --------------------------------------------------------------------------------------------
def pixel_align(*tensors, extra=()) -> int:
    """Alignment hint for pixel offsets (``pow2_align`` of the batch/row/column strides of every
    tensor and of ``extra``) when all tensors are channels-contiguous (stride 1 on dim 1), else 1."""
    if any(t.stride(1) != 1 for t in tensors):
        return 1
    return pow2_align(*(s for t in tensors for s in (t.stride(0), t.stride(2), t.stride(3))), *extra)


def trivial_output(out: torch.Tensor, bias, reduction: int) -> bool:
    """Fill ``out`` where no kernel is needed: nothing to write, or an empty reduction (a grad_input
    phase with no taps: zeros, or the bias). True when ``out`` is done."""
    if out.numel() == 0:
        return True
    if reduction == 0:
        if bias is None:
            out.zero_()
        else:
            out.copy_(bias.view(1, -1, 1, 1).expand_as(out))
        return True
    return False


def split_count(p_total: int, tiles: int, device: torch.device, interpreted: bool, min_pixels: int, cap: int) -> int:
    """How many programs share a weight gradient's pixel reduction: enough to fill the GPU
    (4 programs per SM over ``tiles`` output tiles), no slice under ``min_pixels``, at most ``cap``;
    1 under the interpreter or off CUDA."""
    if interpreted or device.type != "cuda":
        return 1
    return max(1, min((4 * sm_count(device)) // max(1, tiles), p_total // min_pixels, cap))


def split_partials(p_total: int, split: int, weight_shape, need_bias: bool, device: torch.device):
    """(split, pixels per split, zeroed fp32 partial sums [split, *weight_shape] and [split, OC]).

    The split is recounted so that no split is empty. Without ``need_bias`` the bias buffer is the
    weight buffer (a placeholder the kernel never writes)."""
    per_split = cdiv(max(p_total, 1), split)
    split = cdiv(max(p_total, 1), per_split)
    dwp = torch.zeros((split, *weight_shape), dtype=torch.float32, device=device)
    dbp = torch.zeros((split, weight_shape[0]), dtype=torch.float32, device=device) if need_bias else dwp
    return split, per_split, dwp, dbp


def wgrad_args(x, grad_out, dwp, dbp, per_split: int, split: int, groups: int, stride, padding) -> tuple:
    """The positional arguments every weight-gradient kernel takes, in their order: x, dy, the partial sums,
    the pixel split (P_TOTAL, P_PER_SPLIT, SPLIT), the sizes (H, W, OH, OW, OC, OCG, CG), x's and dy's
    strides, the conv's stride and padding."""
    n, c, h, w = x.shape
    _, oc, oh, ow = grad_out.shape
    return (x, grad_out, dwp, dbp, n * oh * ow, per_split, split, h, w, oh, ow, oc, oc // groups, c // groups,
            *x.stride(), *grad_out.stride(), stride[0], stride[1], padding[0], padding[1])


def reduce_partials(dwp: torch.Tensor, dbp: torch.Tensor, need_bias: bool):
    """(dw, db or None): the split partial sums reduced in a fixed order (deterministic)."""
    dw = dwp.sum(0) if dwp.shape[0] > 1 else dwp[0]
    db = (dbp.sum(0) if dbp.shape[0] > 1 else dbp[0]) if need_bias else None
    return dw, db
