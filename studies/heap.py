"""Keep freed memory in the process heap while training on a CPU (glibc only; elsewhere a no-op).

glibc serves every allocation over its mmap threshold (128 KiB, raised dynamically up to 32 MiB) with a
fresh `mmap` and gives it back on `free`: each activation tensor of a training step then costs page
faults and zeroing of new pages once glibc trims the freed heap, and the wider networks a MAC budget
gives the intermediate points pay the most (benchmarks/bench_train.py, points with no merged groups,
"format" against "new": depthwise at 2.34M MACs 1.36-1.42x faster a step; at 779k 1.56x in one run and
unchanged in another, as is the regular end: how much glibc trims depends on the machine). Raising the
mmap and trim thresholds keeps those pages in the heap for the next step: the effect of the
jemalloc/tcmalloc preload that PyTorch's CPU tuning guide recommends, without a preload. The cost is that
a worker keeps its peak heap until it exits.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit (4 * 1024 * 1024 * sizeof(long))
RETAINED = {M_MMAP_THRESHOLD: MMAP_THRESHOLD_MAX, M_TRIM_THRESHOLD: 2 ** 31 - 1}


@functools.lru_cache(maxsize=1)
def _glibc():
    """glibc's handle, or None (musl, macOS, Windows: their allocators are left as they are)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        libc.mallopt
    except (OSError, TypeError, AttributeError):
        return None
    return libc


def retain_freed_memory() -> bool:
    """Keep freed memory in this process's heap from now on; whether glibc took the setting."""
    libc = _glibc()
    return libc is not None and all(libc.mallopt(param, value) == 1 for param, value in RETAINED.items())
