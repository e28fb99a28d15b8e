"""Which device each worker trains on, torch-free: `--device cuda` (or `auto` on a GPU machine) deals
the workers round-robin over the GPUs this process sees, at most `--trials-per-gpu` on one at a time;
`cuda:K` puts every worker on that GPU; `cpu` on the CPU. A request that cannot be met is a UsageError
of one line naming the flag.

Indices are torch's: `cuda:K` is the K-th GPU CUDA_VISIBLE_DEVICES leaves visible, so the variable
chooses the GPUs and the workers share what it leaves.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from common.cli import UsageError


def visible_gpus(cuda_visible_devices: str | None, device_count: int) -> tuple[str, ...]:
    """The physical GPUs behind cuda:0..cuda:N-1 as CUDA_VISIBLE_DEVICES names them (an index, or a
    GPU-/MIG- UUID); unset, 0..device_count-1. As CUDA does, the list ends at its first invalid entry
    (a negative index, an empty or unknown name); torch's `device_count` bounds it."""
    if cuda_visible_devices is None:
        return tuple(str(i) for i in range(device_count))
    names = []
    for entry in (part.strip() for part in cuda_visible_devices.split(",")):
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))) or entry in names:
            break
        names.append(entry)
    return tuple(names[:device_count])


def _spreads(device: str, gpus: Sequence[str]) -> bool:
    return device == "cuda" or (device == "auto" and bool(gpus))


def _pinned_index(device: str, gpus: Sequence[str]) -> int | None:
    """K for `cuda:K` (checked against the visible GPUs), None for cpu/auto/cuda; UsageError otherwise."""
    if device in ("cpu", "auto", "cuda"):
        return None
    index = device.removeprefix("cuda:")
    if not device.startswith("cuda:") or not index.isdigit():
        raise UsageError(f"--device {device!r} is not allowed; expected auto, cpu, cuda or cuda:N")
    if int(index) >= len(gpus):
        raise UsageError(f"--device {device}: {_seen(gpus)}; expected cuda:0..cuda:{len(gpus) - 1}"
                         if gpus else f"--device {device}: {_seen(gpus)}; expected --device cpu or auto")
    return int(index)


def _seen(gpus: Sequence[str]) -> str:
    return f"{len(gpus)} GPU(s) visible" if gpus else "no CUDA GPU is visible (see CUDA_VISIBLE_DEVICES)"


def default_workers(device: str, gpus: Sequence[str], per_gpu: int, cpu_count: int) -> int:
    """Every trial slot of the GPUs in use; on a CPU, two single-threaded workers where there are two cores."""
    if _pinned_index(device.strip().lower(), gpus) is not None:
        return per_gpu
    return len(gpus) * per_gpu if _spreads(device.strip().lower(), gpus) else min(2, max(1, cpu_count))


def worker_devices(device: str, workers: int, gpus: Sequence[str], per_gpu: int = 1) -> list[str]:
    """Worker i's device ("cpu" or "cuda:K"), for `workers` workers under --device `device` with
    `gpus` visible and `per_gpu` trial slots on each."""
    text = device.strip().lower()
    pinned = _pinned_index(text, gpus)
    if text == "cuda" and not gpus:
        raise UsageError(f"--device cuda: {_seen(gpus)}; expected --device cpu or auto")
    if pinned is not None:
        if workers > per_gpu:
            raise UsageError(f"--workers {workers}: --device {text} runs at most --trials-per-gpu {per_gpu} "
                             f"trial(s) at a time; expected --workers {per_gpu} or fewer, a larger "
                             f"--trials-per-gpu, or --device cuda to spread over the {len(gpus)} visible GPU(s)")
        return [text] * workers
    if not _spreads(text, gpus):
        return ["cpu"] * workers
    slots = len(gpus) * per_gpu
    if workers > slots:
        raise UsageError(f"--workers {workers}: {len(gpus)} visible GPU(s) x --trials-per-gpu {per_gpu} = {slots} "
                         f"trial slot(s); expected --workers {slots} or fewer, or a larger --trials-per-gpu")
    return [f"cuda:{i % len(gpus)}" for i in range(workers)]


def describe(devices: Sequence[str], gpus: Sequence[str]) -> str:
    """One line for the log: each device with its worker count and, for a GPU, the physical one behind it."""
    def name(d: str) -> str:
        return f"{d} (GPU {gpus[int(d[5:])]})" if d.startswith("cuda:") and int(d[5:]) < len(gpus) else d

    return ", ".join(f"{name(d)} x{n}" for d, n in Counter(devices).items())
