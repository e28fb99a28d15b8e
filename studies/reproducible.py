"""`--deterministic`: a trial rerun on the same machine, thread count and versions gives the same
accuracies to the last digit.

Off by default because the fast paths are timed choices whose float rounding can differ between runs:
grouped convolutions merged where faster on a CPU (studies/group_merge.py), cuDNN's benchmarked
algorithms, the Triton kernels' autotuned tiles. Each changes rounding only, not the function, so a
default study's comparisons are as valid; this is for reproducing one trial exactly.
"""
from __future__ import annotations

import os

# cuBLAS is deterministic only with a fixed workspace; it reads this when it makes a handle, so it is set
# before any CUDA work of the process
CUBLAS_WORKSPACE = ":4096:8"


def make_deterministic() -> None:
    """Torch's deterministic algorithms on (which turns grouped merging off, `train.uses_group_merge`),
    cuDNN not benchmarked, Triton kernels on their default tiles (KERNELS_AUTOTUNE=0). On a GPU an op
    with no deterministic kernel runs anyway, and torch warns naming it."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    os.environ["KERNELS_AUTOTUNE"] = "0"
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

