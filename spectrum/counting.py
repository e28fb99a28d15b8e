"""Counting: params, MACs and activations of a module (fvcore), with a per-block breakdown.

One jit trace of a batch-1 forward in eval mode, read by fvcore's `JitModelAnalysis` with handles for both
statistics at once (so MACs and activations come from the same trace):

- MACs: multiply-adds of convolutions (`aten::_convolution` and the Triton op `inception_spectrum::grouped_conv2d`)
  and matrix products (`aten::linear`, `addmm`, `matmul`, `mm`, `bmm`, `einsum`), one multiply-add = 1, using
  fvcore's own conv/matmul handles. FLOPs = 2 x MACs. BatchNorm, pooling, additions and nonlinearities are
  deliberately NOT counted (fvcore's FlopCountAnalysis counts batch_norm and adaptive_avg_pool by default; here
  they are dropped), so the count equals `spectrum.network_cost`'s conv+linear formula exactly.
- activations: output elements of the same ops (what fvcore's ActivationCountAnalysis counts).
- params: trainable parameters (`requires_grad`), each shared tensor once.
Counts are per image (batch 1). fvcore's warnings about skipped ops are silenced; ops that were neither counted
nor deliberately skipped are listed in `Counts.uncounted_ops` instead.
"""
from __future__ import annotations

import contextlib
import itertools
import warnings
from collections import Counter
from dataclasses import dataclass, field
from math import prod

import torch
from torch import nn

from .devices import check_choice, check_input_shape

GROUPED_CONV_OP = "inception_spectrum::grouped_conv2d"  # the same name as kernels.GROUPED_CONV_OP
MEMORY_FORMATS = ("nchw", "channels_last")
BREAKDOWN_COLUMNS = ("block", "params", "macs", "activations")

# Ops that do real multiply-adds but are deliberately not counted, and ops with none: skipped without a warning.
# Anything else that appears in a trace and is not counted ends up in Counts.uncounted_ops.
SKIPPED_OPS = (
    "aten::batch_norm", "aten::group_norm", "aten::layer_norm", "aten::instance_norm",
    "aten::adaptive_avg_pool2d", "aten::avg_pool2d", "aten::max_pool2d", "aten::mean",
    "aten::add", "aten::add_", "aten::sub", "aten::mul", "aten::mul_", "aten::div",
    "aten::relu", "aten::relu_", "aten::elu", "aten::elu_", "aten::gelu", "aten::silu", "aten::silu_",
    "aten::leaky_relu", "aten::leaky_relu_", "aten::sigmoid", "aten::hardtanh", "aten::hardtanh_",
    "aten::softmax", "aten::log_softmax", "aten::dropout", "aten::feature_dropout", "aten::flatten",
)


@dataclass(frozen=True, eq=False)
class Counts:
    """Params, MACs and activations of one network at one input size (per image), and where they come from.

    `breakdown` has one row per block (columns block, params, macs, activations) and its rows sum to the totals.
    """

    params: int
    macs: int
    activations: int
    breakdown: "object" = field(repr=False)  # pandas.DataFrame
    uncounted_ops: dict = field(default_factory=dict, repr=False)

    @property
    def flops(self) -> int:
        """2 x MACs."""
        return 2 * self.macs

    def as_dict(self) -> dict:
        return {"params": self.params, "macs": self.macs, "activations": self.activations}


def _grouped_conv_macs(inputs, outputs) -> int:
    """fvcore handle of `inception_spectrum::grouped_conv2d(x, weight, bias, stride, padding, groups)`:
    output elements x (in_channels / groups) x kh x kw, the same as fvcore's conv handle."""
    from fvcore.nn.jit_handles import get_shape

    weight = get_shape(inputs[1])
    return prod(get_shape(outputs[0])) * prod(weight[1:])


def _mac_handles() -> dict:
    from fvcore.nn.jit_handles import (addmm_flop_jit, bmm_flop_jit, conv_flop_jit, einsum_flop_jit, linear_flop_jit,
                                       matmul_flop_jit)

    return {
        "aten::_convolution": conv_flop_jit,
        GROUPED_CONV_OP: _grouped_conv_macs,
        "aten::linear": linear_flop_jit,
        "aten::addmm": addmm_flop_jit,
        "aten::matmul": matmul_flop_jit,
        "aten::mm": matmul_flop_jit,
        "aten::bmm": bmm_flop_jit,
        "aten::einsum": einsum_flop_jit,
    }


def _as_int(value) -> int:
    return int(sum(value.values())) if isinstance(value, Counter) else int(value)


def _both(mac_handle):
    """One handle returning both statistics, so one trace answers MACs and activations."""
    from fvcore.nn.jit_handles import generic_activation_jit

    activations = generic_activation_jit()

    def handle(inputs, outputs):
        return Counter({"macs": _as_int(mac_handle(inputs, outputs)),
                        "activations": _as_int(activations(inputs, outputs))})

    return handle


def _analysis(model: nn.Module, x: torch.Tensor):
    from fvcore.nn.jit_analysis import JitModelAnalysis

    # Built from the bare JitModelAnalysis rather than FlopCountAnalysis: there, set_op_handle(name, None) does not
    # drop a default handle (fvcore 0.1.5 keeps counting aten::batch_norm), so we start from no handles at all.
    analysis = JitModelAnalysis(model, (x,))
    analysis.set_op_handle(**{op: _both(h) for op, h in _mac_handles().items()})
    analysis.set_op_handle(**{op: None for op in SKIPPED_OPS})
    return analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")


def _rows(model: nn.Module) -> list[str]:
    """Top-level children, with the children of a `features` container each a row of their own."""
    rows = []
    for name, child in model.named_children():
        if name == "features" and isinstance(child, (nn.Sequential, nn.ModuleList)):
            rows += [f"{name}.{sub}" for sub, _ in child.named_children()]
        else:
            rows.append(name)
    return rows


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Eval mode for the duration (BatchNorm keeps its running stats), every module's own flag restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def first_tensor(model: nn.Module):
    return next(itertools.chain(model.parameters(), model.buffers()), None)


def count(model: nn.Module, input_shape, *, memory_format: str = "nchw") -> Counts:
    """Params, MACs and activations of `model` on one image of `input_shape` (C, H, W), with a per-block breakdown.

    See the module docstring for what is counted. The model is traced once in eval mode without gradients; its
    train/eval flags and buffers are left as they were. `memory_format` is the traced input's layout only (it
    changes speed, never the counts).
    """
    import pandas as pd

    shape = check_input_shape(input_shape)
    check_choice("memory_format", memory_format, MEMORY_FORMATS)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    ref = first_tensor(model)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    x = torch.zeros((1, *shape), dtype=dtype, device=device)
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    with eval_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = _analysis(model, x)
        stats = analysis.by_module_and_operator()
        uncounted = dict(analysis.unsupported_ops(""))

    names = []
    for row in _rows(model):
        canonical = analysis.canonical_module_name(row)
        if canonical not in names:
            names.append(canonical)
    params = Counter()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            owner = next((r for r in names if pname.startswith(r + ".")), "(other)")
            params[owner] += p.numel()
    records = [(r, params[r], stats[r]["macs"], stats[r]["activations"]) for r in names]
    total = (sum(params.values()), stats[""]["macs"], stats[""]["activations"])
    rest = tuple(t - sum(rec[i + 1] for rec in records) for i, t in enumerate(total))
    if any(rest):
        records.append(("(other)", *rest))
    breakdown = pd.DataFrame.from_records(records, columns=list(BREAKDOWN_COLUMNS))
    breakdown[list(BREAKDOWN_COLUMNS[1:])] = breakdown[list(BREAKDOWN_COLUMNS[1:])].astype("int64")
    return Counts(int(total[0]), int(total[1]), int(total[2]), breakdown, uncounted)


def count_spec(spec) -> Counts:
    """`count` of the network a NetworkSpec describes, at its own image size, built cheaply for counting only.

    The module is the one `build_network(spec)` makes (torch backend: counts do not depend on the backend),
    constructed on the meta device in channels_last, then materialised on the CPU and zero-filled: no random init,
    since values never matter to a count, only shapes and ops; channels_last because oneDNN runs grouped convs
    several times faster in it. The traced ops and shapes are the same, hence the counts (tests/test_cost.py checks
    them against `count(build_network(spec), ...)`). Memory: the weights in fp32 (734 MB for regular Xception).
    """
    from .networks import build_network

    with torch.device("meta"):
        model = build_network(spec, "torch").to(memory_format=torch.channels_last)
    model = model.to_empty(device="cpu")  # keeps the channels_last strides
    with torch.no_grad():
        for t in itertools.chain(model.parameters(), model.buffers()):
            t.zero_()
    return count(model, (spec.in_channels, spec.image_size, spec.image_size), memory_format="channels_last")


