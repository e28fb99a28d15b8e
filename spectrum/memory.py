"""Measuring: the peak memory of one training step (`peak_memory`), on the GPU or the CPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import torch
from torch import nn

from .devices import check_input_shape, device_label, environment, resolve_device
from .heap import trim_freed_memory
from .timing import check_run, cudnn_benchmark, make_step

_CPU_HOW = ("cpu: peak resident set size (Linux VmHWM) of a fresh process over two training steps, minus its size "
            "just before the model was loaded (after a batch-1 warm-up step had paged in the code and the freed "
            "heap was trimmed): weights, gradients, momentum, activations, input, oneDNN scratch and allocator "
            "overhead")


def _proc_status(key: str):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cpu_peak_child() -> None:
    """Entry point of the measuring process (`python -c`), arguments as JSON on stdin, the answer as JSON on stdout.

    A batch-1 step first pages in the code of every op (file-backed pages that RSS would otherwise charge to the
    step); then everything is freed, the heap trimmed and VmRSS read as the baseline; then the model is loaded
    again, the high-water mark reset, two steps run, and VmHWM - baseline is the answer."""
    try:
        a = json.loads(sys.stdin.read())
        torch.set_num_threads(a["threads"])
        shape, cpu = tuple(a["input_shape"]), torch.device("cpu")
        args = (a["dtype"], a["memory_format"], "train_step")
        warm = make_step(torch.load(a["path"], weights_only=False), shape, 1, cpu, *args)
        warm()
        del warm
        trim_freed_memory()
        baseline = _proc_status("VmRSS")
        step = make_step(torch.load(a["path"], weights_only=False), shape, a["batch_size"], cpu, *args)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the high-water mark to the current size
        except OSError:
            pass
        step()
        step()
        peak = _proc_status("VmHWM")
        answer = {"peak_bytes": None if peak is None or baseline is None else peak - baseline}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


def _cpu_peak(model, shape, batch_size, dtype, memory_format) -> tuple:
    if not sys.platform.startswith("linux"):
        return None, f"cpu: not measured (needs Linux /proc/self/status; this is {sys.platform})"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        try:
            torch.save(model, path)
        except Exception as exc:  # noqa: BLE001 - an unpicklable model is a reason, not a crash
            return None, f"cpu: not measured (the model cannot be pickled for a fresh process: {exc})"
        request = {"path": path, "input_shape": list(shape), "batch_size": batch_size, "dtype": dtype,
                   "memory_format": memory_format, "threads": torch.get_num_threads()}
        # the child sees the parent's import path, so the model's classes unpickle there too
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            child = "from spectrum.memory import _cpu_peak_child; _cpu_peak_child()"
            done = subprocess.run([sys.executable, "-c", child], input=json.dumps(request), capture_output=True,
                                  text=True, env=env, timeout=3600)
        except subprocess.TimeoutExpired:
            raise RuntimeError("peak_memory on the cpu: the measuring process timed out after 3600 s") from None
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"peak_memory on the cpu: the measuring process failed (exit {done.returncode}): {tail}") \
            from None
    if "error" in answer:
        raise RuntimeError(f"peak_memory on the cpu failed: {answer['error']}")
    if answer["peak_bytes"] is None:
        return None, "cpu: not measured (/proc/self/status has no VmRSS/VmHWM)"
    return answer["peak_bytes"], _CPU_HOW


def peak_memory(model: nn.Module, input_shape, *, batch_size: int = 64, device="cpu", dtype: str = "fp32",
                memory_format: str = "nchw") -> dict:
    """Peak memory of one training step at `batch_size`, in bytes, and how it was measured (`how`).

    GPU: torch.cuda.max_memory_allocated over one steady-state step (after 2 warm-up steps, reset_peak_memory_stats),
    minus what the process held on the device before the model was copied there: weights, gradients, momentum,
    activations and cuDNN workspaces. CPU: see `how` (a fresh process's peak RSS; None where /proc is missing).
    """
    shape = check_input_shape(input_shape)
    check_run(batch_size, dtype, memory_format)
    dev = resolve_device(device)
    if dev.type == "cuda":
        with torch.cuda.device(dev), cudnn_benchmark(dev):
            torch.cuda.synchronize()
            baseline = torch.cuda.memory_allocated(dev)
            step = make_step(model, shape, batch_size, dev, dtype, memory_format, "train_step")
            step()
            step()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(dev)
            step()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated(dev) - baseline
            del step
        how = ("cuda: torch.cuda.max_memory_allocated over one training step after 2 warm-up steps, minus the "
               "allocation before the model copy: weights, gradients, momentum, activations, workspaces")
    else:
        peak, how = _cpu_peak(model, shape, batch_size, dtype, memory_format)
    return {"peak_bytes": peak, "how": how, "device": device_label(dev), "batch_size": batch_size, "dtype": dtype,
            "memory_format": memory_format, "mode": "train_step", "input_shape": list(shape),
            "environment": environment(dev)}

