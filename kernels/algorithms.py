"""The kernel algorithms, one table: what each is, which group widths it serves, what it launches.

``TABLE`` holds one frozen ``Algorithm`` per concrete algorithm. It is read by the dispatcher
(``grouped_conv``: which launcher runs a forward, grad_input phase or weight gradient), by the
benchmark (``kernels.bench --compare-algos`` times each one forced) and by the parametrised tests
(which algorithms to force, which kernels' configs to check). A new algorithm is one row here.

=============  ======  =============  ============================================================
name           family  auto for C/g   kernels (forward launcher / weight-gradient launcher)
=============  ======  =============  ============================================================
direct         direct  1 .. 8         direct_depthwise / direct_depthwise_wgrad: fp32 FMAs
gemm_flat      gemm    9 .. 31        implicit_gemm / implicit_gemm_wgrad, K loop over (tap, chan)
gemm_window    gemm    32 ..          the same kernels, tap-outer with contiguous channel chunks
=============  ======  =============  ============================================================

``pick(algo, cg)``: ``"auto"`` takes the row whose C/g range holds ``cg`` (the group width of the
convolution being run: C/groups forward, OC/groups for a grad_input phase); a family name
(``"gemm"``) takes the family's row for that ``cg`` (its first row below its ranges); a row's
own name forces that row. ``ALGORITHMS`` lists every accepted name.

Launchers are named as ``"module.function"`` and imported on first use (the kernel modules import
Triton, ``import kernels`` does not).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Algorithm:
    """One concrete algorithm: its C/g range under ``"auto"`` and the launchers it calls."""

    name: str
    family: str  # forcing the family name picks its member by group width
    min_cg: int  # "auto" gives it group widths min_cg .. max_cg
    max_cg: Optional[int]  # None: no upper bound
    forward: str  # "module.function": (x, weight, bias, out, stride, padding, groups, **options) -> out
    weight_grad: str  # "module.function": (x, grad_out, weight_shape, stride, padding, groups, need_bias,
    #                   **options) -> (dw fp32, db fp32 or None)
    forward_kernel: str  # "module.kernel": the Triton kernels launched (tests force their configs)
    weight_grad_kernel: str
    options: tuple = ()  # (keyword, value) pairs given to both launchers

    def serves(self, cg: int) -> bool:
        return cg >= self.min_cg and (self.max_cg is None or cg <= self.max_cg)

    def run_forward(self, x, weight, bias, out, stride, padding, groups):
        return resolve(self.forward)(x, weight, bias, out, stride, padding, groups, **dict(self.options))

    def run_weight_grad(self, x, grad_out, weight_shape, stride, padding, groups, need_bias):
        return resolve(self.weight_grad)(x, grad_out, weight_shape, stride, padding, groups, need_bias,
                                         **dict(self.options))


_GEMM = dict(
    family="gemm",
    forward="implicit_gemm.conv_forward_gemm",
    weight_grad="implicit_gemm_wgrad.conv_weight_grad_gemm",
    forward_kernel="implicit_gemm._igemm_fwd_kernel",
    weight_grad_kernel="implicit_gemm_wgrad._igemm_wgrad_kernel",
)

TABLE = (
    Algorithm(
        "direct", family="direct", min_cg=1, max_cg=8,
        forward="direct_depthwise.conv_forward_direct",
        weight_grad="direct_depthwise_wgrad.conv_weight_grad_direct",
        forward_kernel="direct_depthwise._direct_fwd_kernel",
        weight_grad_kernel="direct_depthwise_wgrad._direct_wgrad_kernel",
    ),
    Algorithm("gemm_flat", min_cg=9, max_cg=31, options=(("window_outer", False),), **_GEMM),
    Algorithm("gemm_window", min_cg=32, max_cg=None, options=(("window_outer", True),), **_GEMM),
)

BY_NAME = {a.name: a for a in TABLE}
FAMILIES = tuple(dict.fromkeys(a.family for a in TABLE))
#: every accepted ``algo``: "auto", the families, the rows
ALGORITHMS = ("auto",) + tuple(dict.fromkeys(FAMILIES + tuple(BY_NAME)))
#: group widths up to this use the direct kernels under "auto", wider ones the implicit GEMM
DIRECT_MAX_CG = BY_NAME["direct"].max_cg


def pick(algo: str, cg: int) -> Algorithm:
    """The row that runs ``algo`` ("auto", a family or a row name) at group width ``cg``."""
    if algo not in ALGORITHMS:
        raise ValueError(f"grouped_conv2d: algo must be one of {ALGORITHMS}, got {algo!r}")
    if algo in BY_NAME:
        return BY_NAME[algo]
    rows = [a for a in TABLE if algo == "auto" or a.family == algo]
    return next((a for a in rows if a.serves(cg)), rows[0])


def modules() -> tuple:
    """The kernel modules the table launches, in table order (``grouped_conv`` imports them at once)."""
    refs = [r for a in TABLE for r in (a.forward, a.weight_grad)]
    return tuple(dict.fromkeys(r.rsplit(".", 1)[0] for r in refs))


def kernels() -> dict:
    """``{"module.kernel": (names of the rows launching it)}``, forward and weight-gradient kernels."""
    out: dict = {}
    for a in TABLE:
        for ref in (a.forward_kernel, a.weight_grad_kernel):
            out.setdefault(ref, []).append(a.name)
    return {ref: tuple(names) for ref, names in out.items()}


@functools.lru_cache(maxsize=None)
def resolve(ref: str):
    """The object ``"module.attr"`` names in this package (imports the module)."""
    module, attr = ref.rsplit(".", 1)
    return getattr(importlib.import_module(f"{__package__}.{module}"), attr)
