"""Triton kernels for grouped convolution over the whole Inception spectrum (groups 1..C).

Public API:

* ``grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1)``: F.conv2d semantics in
  Triton, differentiable (see ``kernels.grouped_conv`` for algorithms and the custom-op contract).
* ``GROUPED_CONV_OP``: the torch custom-op name a ``torch.jit.trace`` graph shows for it,
  ``"inception_spectrum::grouped_conv2d"``, inputs (x, weight, bias-or-None, stride[2],
  padding[2], groups).
* ``triton_available(device) -> bool``: whether the kernels can run on that device here.
* ``prefer_triton(channels, groups, kernel_size, height, width, dtype, device) -> bool``: the
  ``backend="auto"`` policy, from measured benchmark JSON (see ``kernels.policy``).

``import kernels`` does not import Triton; the kernel modules load on first use, and Triton decides
then, once, between compiled kernels and its CPU interpreter (``TRITON_INTERPRET=1``).
``KERNELS_AUTOTUNE=0`` (also read then) pins each kernel to its default tile config.
Run the GPU benchmark with ``python -m kernels.bench`` (see ``kernels.bench``).

Inside: ``kernels.algorithms`` (the table of kernel algorithms: group widths served, launchers),
one file per Triton kernel with its launcher, ``kernels.launch`` and ``kernels._util`` (launcher
code they share), ``kernels.timer`` (the one timer: do_bench on a GPU, torch.utils.benchmark on a CPU).
"""

from .grouped_conv import GROUPED_CONV_OP, grouped_conv2d, triton_available
from .policy import prefer_triton

__all__ = ["GROUPED_CONV_OP", "grouped_conv2d", "prefer_triton", "triton_available"]
