"""The process heap under glibc (elsewhere both calls are no-ops): trim it, or keep what is freed.

`trim_freed_memory` gives freed heap back to the OS (malloc_trim), so a peak-memory baseline holds no
reusable free memory (spectrum/memory.py). `retain_freed_memory` does the opposite for a training
process: glibc serves every allocation over its mmap threshold (128 KiB, raised dynamically up to 32 MiB)
with a fresh `mmap` and unmaps it on `free`, so each activation tensor of a training step costs page
faults and zeroing of new pages, the wider networks of a MAC budget most (benchmarks/bench_train.py
measures it). Raising the mmap and trim thresholds keeps those pages in the heap for the next step: what
the jemalloc/tcmalloc preload of PyTorch's CPU tuning guide gives, without a preload, at the cost of
holding the peak heap until the process exits. A process setting: only a worker calls it
(studies/process.py).
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
def glibc():
    """glibc's handle, or None (musl, macOS, Windows: their allocators are left as they are)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        libc.mallopt  # noqa: B018
        libc.malloc_trim  # noqa: B018
    except (OSError, TypeError, AttributeError):
        return None
    return libc


def trim_freed_memory() -> bool:
    """Collect Python's garbage and give the freed heap back to the OS; whether glibc released any."""
    import gc

    gc.collect()
    libc = glibc()
    return libc is not None and libc.malloc_trim(0) == 1


def retain_freed_memory() -> bool:
    """Keep freed memory in this process's heap from now on; whether glibc took the setting."""
    libc = glibc()
    return libc is not None and all(libc.mallopt(param, value) == 1 for param, value in RETAINED.items())
