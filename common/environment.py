"""``environment(device="cpu", argv=None) -> dict``: where a measurement was taken.

One record for every measurement of the project (``python -m kernels.bench`` and ``spectrum.cost``):

* always: ``device`` (GPU name, or ``"cpu (N threads)"``), ``device_name`` (GPU name, or the CPU's
  model name), ``device_type``, ``cpu`` (CPU model name), ``torch``, ``triton``, ``fvcore`` (installed
  versions, None when absent), ``cuda``, ``cudnn``, ``torch_threads``, ``python``, ``platform``,
  ``git_commit``, ``git_dirty``, ``date`` (ISO 8601, UTC, seconds);
* on a CUDA device also ``compute_capability`` (= ``gpu_capability``), ``sm_count``, ``memory_gib``,
  ``gpu_memory_bytes``, ``cudnn_allow_tf32``, ``matmul_allow_tf32``;
* with ``argv`` (the command line as a list) also ``command``, its words joined by spaces.

``device`` is a ``torch.device`` or a string (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``).
Imports torch only when called (so the package imports without it), never spectrum, studies or reports,
and not Triton itself (its version is read from the installed distribution).
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import subprocess



@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_label(device) -> str:
    """A GPU's name, or ``"cpu (N threads)"``."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"


OUTPUT_PATHS = ("benchmarks/results", "runs")


@functools.lru_cache(maxsize=4)
def git_state(here: str | None = None) -> tuple:
    """(commit, dirty) of the checkout holding `here` (default: this file); (None, None) outside git."""
    here = here or os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode:
            return None, None
        # measured results written into the checkout (benchmarks/results, runs) are outputs, not the code
        # that measured them: rewriting a result file must not mark the next measurement dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                *(f":(top,exclude){path}" for path in OUTPUT_PATHS)],
                               cwd=here, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), (bool(dirty.stdout.strip()) if dirty.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def version(dist: str):
    """The installed version of a distribution, or None."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _device(device):
    import torch

    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def environment(device="cpu", argv=None) -> dict:
    """Device, versions, threads, platform, git commit, ISO date (UTC); see the module docstring."""
    import torch

    dev = _device(device)
    commit, dirty = git_state()
    env = {
        "device": device_label(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name(),
        "device_type": dev.type,
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "triton": version("triton"),
        "fvcore": version("fvcore"),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "git_dirty": dirty,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        capability = f"{props.major}.{props.minor}"
        env.update({
            "compute_capability": capability,
            "gpu_capability": capability,
            "sm_count": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "gpu_memory_bytes": props.total_memory,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        })
    if argv is not None:
        env["command"] = " ".join(str(a) for a in argv)
    return env
