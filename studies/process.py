"""`configure_worker`: the process-wide settings of a process that trains trials.

They change the whole process and cannot all be undone (glibc has no way to read its malloc settings
back), so the library never sets them: `fit`, `evaluate` and the cost functions leave the caller's
process as it was, and a worker (studies/workers.py) calls this once when it starts.
"""
from __future__ import annotations

from spectrum.heap import retain_freed_memory


def configure_worker(device) -> dict[str, bool]:
    """On a CPU: subnormal floats flushed to zero (tiny gradients and AdamW moments run orders of magnitude
    slower on x86 otherwise) and freed memory kept in the heap (`spectrum.heap.retain_freed_memory`: no page
    faults for each step's activations); on a GPU nothing. Returns which settings the process took."""
    import torch

    if torch.device(device).type != "cpu":
        return {"flush_denormal": False, "retain_freed_memory": False}
    return {"flush_denormal": torch.set_flush_denormal(True), "retain_freed_memory": retain_freed_memory()}
