"""``grouped_conv2d``: ``torch.nn.functional.conv2d`` semantics in Triton over the whole spectrum.

Public entry point::

    grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1) -> Tensor

x (N, C, H, W) in NCHW or channels_last (read through its strides, never copied), weight
(OC, C/groups, KH, KW), bias (OC,) or None; stride and padding an int or an (h, w) pair; every
``groups`` dividing both C and OC; dilation 1. fp32, fp16 and bf16 with fp32 accumulation; fp32
uses TF32 tensor cores exactly when ``torch.backends.cudnn.allow_tf32`` is True (as F.conv2d on
CUDA does). The output has x's memory format. Differentiable in x, weight and bias (first order;
no double backward).

Torch custom op (what a tracer sees)
------------------------------------
The call goes through the custom op ``inception_spectrum::grouped_conv2d`` (``GROUPED_CONV_OP``),
so ``torch.jit.trace`` (fvcore) records ONE node of that kind instead of tracing into Triton. Its
inputs, in this order::

    0 x        Tensor  (N, C, H, W)
    1 weight   Tensor  (OC, C/groups, KH, KW)
    2 bias     Tensor (OC,) or None
    3 stride   int[2]  (sh, sw)
    4 padding  int[2]  (ph, pw)
    5 groups   int

and one output (N, OC, OH, OW). A cost counter reads the shapes of inputs 0 and 1 and the output:
MACs = N * OH * OW * OC * (C/groups) * KH * KW. The backward runs through two more custom ops,
``inception_spectrum::grouped_conv2d_grad_input`` and ``inception_spectrum::grouped_conv2d_grad_weight``
(fake implementations registered, so torch.compile can trace around them).

Algorithms (chosen by the group width CG = C/groups; the table is ``kernels.algorithms.TABLE``)
----------------------------------------------------------------------------------------------
* CG <= ``DIRECT_MAX_CG`` (8): ``direct_depthwise.py``, a memory-bound direct kernel (fp32 FMAs).
* otherwise: ``implicit_gemm.py``, an implicit GEMM with K = KH*KW*CG, several groups packed into
  one tensor-core tile when the groups are narrow; K loops flattened over (tap, channel) below
  CG = 32 ("gemm_flat"), tap-outer with contiguous channel chunks from CG = 32 ("gemm_window",
  vectorised channels_last loads).
* grad_input: a transposed convolution, computed as stride**2 stride-1 convolutions of grad_output,
  one per output phase (ih mod sh, iw mod sw), each with the flipped sub-kernel w[..., kh0::sh, kw0::sw]
  and written straight into a strided view of grad_input; each phase runs on the forward kernel
  chosen by its own group width (OC/groups). No zero-stuffing, no wasted taps.
* grad_weight (+ grad_bias): ``direct_depthwise_wgrad.py`` or ``implicit_gemm_wgrad.py`` (the
  same table row), split-K over output pixels with a deterministic fp32 reduction.

Tuning: each kernel is ``triton.autotune``d over a list of tile configs per shape class (keys:
problem sizes, group width, kernel size, stride, layout). Under the interpreter there is one fixed
config; ``KERNELS_AUTOTUNE=0`` (read at first use) also pins the first GPU config (tests). Weights
are re-laid once per call with output channels contiguous (a weight-sized copy, never the input).

Devices
-------
CUDA tensors run compiled Triton kernels. CPU tensors run only under the Triton interpreter
(``TRITON_INTERPRET=1`` in the environment before the kernels are first used; slow, for tests);
otherwise a ``RuntimeError`` says so. ``triton_available(device)`` tells in advance.
"""

from __future__ import annotations

import importlib
from typing import Optional, Sequence

import torch

from . import algorithms
from ._util import empty_like_format, interpret_requested, relayout_weight
from .algorithms import ALGORITHMS, DIRECT_MAX_CG  # noqa: F401 - re-exported (benchmark, tests)
from .conv_args import check_args, check_groups, check_types, output_hw, pair

GROUPED_CONV_OP = "inception_spectrum::grouped_conv2d"
GRAD_INPUT_OP = "inception_spectrum::grouped_conv2d_grad_input"
GRAD_WEIGHT_OP = "inception_spectrum::grouped_conv2d_grad_weight"


# --------------------------------------------------------------------------------------------
# Triton availability (kernel modules import triton; they are loaded on first use)
# --------------------------------------------------------------------------------------------
_KERNEL_MODULES = {}


def _kernels():
    """Import the kernel modules once. Triton fixes interpreter vs compiled at this moment."""
    if not _KERNEL_MODULES:
        for name in algorithms.modules():
            _KERNEL_MODULES[name] = importlib.import_module(f"{__package__}.{name}")
    return _KERNEL_MODULES


def _triton_importable() -> bool:
    try:
        importlib.import_module("triton")
    except Exception:  # ImportError, or a broken install raising anything at import
        return False
    return True


def _interpreted() -> bool:
    """Whether the kernels run (or, if not loaded yet, would run) under the CPU interpreter."""
    if _KERNEL_MODULES:
        return bool(next(iter(_KERNEL_MODULES.values())).INTERPRETED)
    return interpret_requested()


def triton_available(device) -> bool:
    """True when ``grouped_conv2d`` can run on tensors of ``device`` here.

    CUDA: Triton importable and a CUDA device present. CPU: Triton importable and the kernels run
    under the interpreter (TRITON_INTERPRET=1 set before their first use). Anything else: False.
    """
    dev = torch.device(device)
    if not _triton_importable():
        return False
    if dev.type == "cuda":
        return torch.cuda.is_available()
    if dev.type == "cpu":
        return _interpreted()
    return False


def _require_backend(device: torch.device) -> None:
    if not _triton_importable():
        raise RuntimeError(
            "grouped_conv2d needs Triton, which is not importable here; install triton (Linux x86_64) "
            "or use the torch backend"
        )
    if device.type == "cuda":
        return
    if device.type == "cpu":
        if _interpreted():
            return
        if _KERNEL_MODULES:
            raise RuntimeError(
                "grouped_conv2d got CPU tensors but its Triton kernels were loaded without "
                "TRITON_INTERPRET=1; set TRITON_INTERPRET=1 before the first call (it is read "
                "once), or use CUDA tensors"
            )
        raise RuntimeError(
            "grouped_conv2d got CPU tensors: Triton runs on CPU only through its interpreter; set "
            "TRITON_INTERPRET=1 in the environment (slow, for tests) or use CUDA tensors"
        )
    raise RuntimeError(f"grouped_conv2d runs on CUDA (or CPU with TRITON_INTERPRET=1), not on {device.type!r}")


# --------------------------------------------------------------------------------------------
# launchers over the kernel files
# --------------------------------------------------------------------------------------------
def _run_forward(x, weight, bias, out, stride, padding, groups, algo="auto"):
    row = algorithms.pick(algo, weight.shape[1])
    _kernels()
    return row.run_forward(x, weight, bias, out, stride, padding, groups)


def conv_forward(x, weight, bias, stride, padding, groups, algo="auto"):
    """Forward convolution (validated pairs expected). ``algo``: one of ``ALGORITHMS`` ("auto", a
    family or a row of ``kernels.algorithms.TABLE``), picked by the group width of each launch."""
    n, _, h, w = x.shape
    oc, _, kh, kw = weight.shape
    oh, ow = output_hw(h, w, kh, kw, stride, padding)
    out = empty_like_format(x, (n, oc, oh, ow))
    return _run_forward(x, weight, bias, out, stride, padding, groups, algo)


def conv_grad_input(grad_out, weight, x_like, stride, padding, groups, algo="auto"):
    """Input gradient: a transposed convolution, as stride_h*stride_w stride-1 phase convolutions.

    For output row phase a (input rows ih = a + sh*t) only the taps kh = kh0 + sh*j with
    kh0 = (a + ph) mod sh reach it, from grad_out rows t + d - j, d = (a + ph - kh0) / sh. Flipping j
    makes that a plain stride-1 correlation with padding J-1-d (possibly negative) and weight
    w'[g*CG + c, o, j', i'] = w[g*OCG + o, c, kh0 + sh*(J-1-j'), kw0 + sw*(I-1-i')].
    ``x_like`` gives the shape, dtype, device and memory format of the result.
    """
    n, c, h, w = x_like.shape
    oc, cg, kh, kw = weight.shape
    ocg = oc // groups
    sh, sw = stride
    ph, pw = padding
    dx = empty_like_format(x_like, (n, c, h, w), dtype=grad_out.dtype)
    # (groups, OCG, CG, KH, KW) -> per phase: slice taps, flip, swap OCG/CG, -> (C, OCG, J, I)
    w5 = weight.reshape(groups, ocg, cg, kh, kw)
    for a in range(min(sh, h)):
        kh0 = (a + ph) % sh
        jn = max(0, -(-(kh - kh0) // sh))
        d_h = (a + ph - kh0) // sh
        for b in range(min(sw, w)):
            kw0 = (b + pw) % sw
            im = max(0, -(-(kw - kw0) // sw))
            d_w = (b + pw - kw0) // sw
            view = dx[:, :, a::sh, b::sw]
            if jn == 0 or im == 0:
                view.zero_()
                continue
            wp = w5[:, :, :, kh0::sh, kw0::sw].flip(3, 4).transpose(1, 2).reshape(c, ocg, jn, im)
            wp = relayout_weight(wp)  # a fresh temporary: laid out for the kernels, never cached
            _run_forward(grad_out, wp, None, view, (1, 1), (jn - 1 - d_h, im - 1 - d_w), groups, algo)
    return dx


def conv_grad_weight(grad_out, x, weight_shape, stride, padding, groups, need_bias, algo="auto"):
    """Weight gradient (in x's dtype) and the bias gradient (or None), fp32-accumulated."""
    row = algorithms.pick(algo, weight_shape[1])
    _kernels()
    dw, db = row.run_weight_grad(x, grad_out, weight_shape, stride, padding, groups, need_bias)
    return dw.to(x.dtype), (db.to(x.dtype) if db is not None else None)


# --------------------------------------------------------------------------------------------
# the custom ops: forward, grad_input, grad_weight; autograd ties them together
# --------------------------------------------------------------------------------------------
@torch.library.custom_op(GROUPED_CONV_OP, mutates_args=())
def _grouped_conv2d_op(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    stride: Sequence[int],
    padding: Sequence[int],
    groups: int,
) -> torch.Tensor:
    stride, padding = check_args(x, weight, bias, stride, padding, groups)
    _require_backend(x.device)
    return conv_forward(x, weight, bias, stride, padding, groups)


@_grouped_conv2d_op.register_fake
def _grouped_conv2d_fake(x, weight, bias, stride, padding, groups):
    stride, padding = check_args(x, weight, bias, stride, padding, groups)
    n, _, h, w = x.shape
    oc, _, kh, kw = weight.shape
    oh, ow = output_hw(h, w, kh, kw, stride, padding)
    return empty_like_format(x, (n, oc, oh, ow))


@torch.library.custom_op(GRAD_INPUT_OP, mutates_args=())
def _grad_input_op(
    grad_out: torch.Tensor,
    weight: torch.Tensor,
    x: torch.Tensor,
    stride: Sequence[int],
    padding: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """``x`` is read only for its shape/format (a fake or the saved input)."""
    _require_backend(grad_out.device)
    return conv_grad_input(grad_out, weight, x, list(stride), list(padding), groups)


@_grad_input_op.register_fake
def _grad_input_fake(grad_out, weight, x, stride, padding, groups):
    return empty_like_format(x, tuple(x.shape), dtype=grad_out.dtype)


@torch.library.custom_op(GRAD_WEIGHT_OP, mutates_args=())
def _grad_weight_op(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: Sequence[int],
    padding: Sequence[int],
    groups: int,
    need_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (grad_weight, grad_bias); grad_bias is an empty tensor when ``need_bias`` is False."""
    _require_backend(grad_out.device)
    dw, db = conv_grad_weight(
        grad_out, x, tuple(weight.shape), list(stride), list(padding), groups, need_bias
    )
    if db is None:
        db = grad_out.new_empty((0,))
    return dw, db


@_grad_weight_op.register_fake
def _grad_weight_fake(grad_out, x, weight, stride, padding, groups, need_bias):
    dw = torch.empty(tuple(weight.shape), dtype=x.dtype, device=x.device)
    db = grad_out.new_empty((weight.shape[0],) if need_bias else (0,))
    return dw, db


def _setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, groups = inputs
    ctx.save_for_backward(x, weight)
    ctx.conv = (list(stride), list(padding), groups, bias is not None)


def _backward(ctx, grad_out):
    x, weight = ctx.saved_tensors
    stride, padding, groups, has_bias = ctx.conv
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    dx = dw = db = None
    if need_x:
        dx = torch.ops.inception_spectrum.grouped_conv2d_grad_input(grad_out, weight, x, stride, padding, groups)
    if need_w or (need_b and has_bias):
        dw_, db_ = torch.ops.inception_spectrum.grouped_conv2d_grad_weight(
            grad_out, x, weight, stride, padding, groups, bool(need_b and has_bias)
        )
        dw = dw_ if need_w else None
        db = db_ if (need_b and has_bias) else None
    return dx, dw, db, None, None, None


_grouped_conv2d_op.register_autograd(_backward, setup_context=_setup_context)


# --------------------------------------------------------------------------------------------
# public function
# --------------------------------------------------------------------------------------------
def grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    """``F.conv2d(x, weight, bias, stride, padding, dilation=1, groups)`` in Triton.

    Raises ValueError (TypeError for non-tensors) on invalid arguments, naming what is wrong and
    what is allowed, and RuntimeError when Triton cannot run on x's device (see
    ``triton_available``). The result has x's memory format (channels_last in, channels_last out).
    """
    # only what the op schema needs here (types, int pairs); the op itself validates the rest
    # (shapes, dtypes, devices), once, also when called as torch.ops.inception_spectrum.grouped_conv2d
    check_types(x, weight, bias)
    stride = pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    check_groups(groups)
    return _grouped_conv2d_op(x, weight, bias, stride, padding, groups)
