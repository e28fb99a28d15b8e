"""What a point of the spectrum costs: params, MACs and activations (fvcore), latency and peak memory, and the
environment every measurement was taken in.

Counting (`count`, `count_spec`)
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

Timing (`latency`) and memory (`peak_memory`) work on a deep copy of the model, so the caller's module keeps its
mode, parameters and device. `environment()` is attached to every measurement.

`python -m spectrum.cost --net NAME --points all --out DIR [--latency]` writes DIR/cost.csv and DIR/cost.json
(contract 7 of the design). On a CPU shared with other processes, `--threads 1` often counts faster: a batch-1
trace is many small ops, and OpenMP threads that wait for a descheduled sibling lose more than they gain.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import functools
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from math import prod

import torch
from torch import nn

GROUPED_CONV_OP = "inception_spectrum::grouped_conv2d"  # the same name as kernels.GROUPED_CONV_OP
DTYPES = ("fp32", "bf16")
MEMORY_FORMATS = ("nchw", "channels_last")
MODES = ("forward", "train_step")
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


# ----------------------------------------------------------------------------------------------- validation

def _check_input_shape(input_shape) -> tuple[int, int, int]:
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape={input_shape!r} is not allowed; expected (channels, height, width), "
                         f"positive ints")
    return shape


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; expected one of {', '.join(allowed)}")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected a positive integer")


# ----------------------------------------------------------------------------------------------- counting

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
def _eval_mode(model: nn.Module):
    """Eval mode for the duration (BatchNorm keeps its running stats), every module's own flag restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def _first_tensor(model: nn.Module):
    return next(itertools.chain(model.parameters(), model.buffers()), None)


def count(model: nn.Module, input_shape, *, memory_format: str = "nchw") -> Counts:
    """Params, MACs and activations of `model` on one image of `input_shape` (C, H, W), with a per-block breakdown.

    See the module docstring for what is counted. The model is traced once in eval mode without gradients; its
    train/eval flags and buffers are left as they were. `memory_format` is the traced input's layout only (it
    changes speed, never the counts).
    """
    import pandas as pd

    shape = _check_input_shape(input_shape)
    _check_choice("memory_format", memory_format, MEMORY_FORMATS)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    ref = _first_tensor(model)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    x = torch.zeros((1, *shape), dtype=dtype, device=device)
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    with _eval_mode(model), torch.no_grad(), warnings.catch_warnings():
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


# ----------------------------------------------------------------------------------------------- devices, environment

def resolve_device(name="auto") -> torch.device:
    """"cpu", "cuda", "cuda:N" or "auto" (cuda if available, else cpu); an absent device is a ValueError."""
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto")
    text = name.strip().lower()
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = "cpu" + (f", cuda (cuda:0..cuda:{n_gpus - 1})" if n_gpus else "; no CUDA GPU is visible")
    if text == "auto":
        return torch.device("cuda:0" if n_gpus else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        index = text.partition(":")[2]
        if index and not index.isdigit():
            raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto")
        i = int(index) if index else 0
        if i >= n_gpus:
            raise ValueError(f"device={name!r} is not available; available: {available}")
        return torch.device("cuda", i)
    raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto (available: {available})")


@functools.lru_cache(maxsize=1)
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"


@functools.lru_cache(maxsize=1)
def _git() -> tuple:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode:
            return None, None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), (bool(dirty.stdout.strip()) if dirty.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def _version(dist: str):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment(device="cpu") -> dict:
    """Where a measurement was taken: device, versions, threads, platform, git commit, ISO date (UTC)."""
    dev = resolve_device(device)
    commit, dirty = _git()
    env = {
        "device": _device_label(dev),
        "device_type": dev.type,
        "cpu": _cpu_name(),
        "torch": torch.__version__,
        "triton": _version("triton"),
        "fvcore": _version("fvcore"),
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
        env.update({
            "gpu_memory_bytes": props.total_memory,
            "gpu_capability": f"{props.major}.{props.minor}",
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        })
    return env


# ----------------------------------------------------------------------------------------------- timing

def _check_run(batch_size, dtype, memory_format, mode="train_step") -> None:
    _check_positive_int("batch_size", batch_size)
    _check_choice("dtype", dtype, DTYPES)
    _check_choice("memory_format", memory_format, MEMORY_FORMATS)
    _check_choice("mode", mode, MODES)


def _make_step(model: nn.Module, input_shape, batch_size: int, device: torch.device, dtype: str,
               memory_format: str, mode: str):
    """A callable running one forward (eval, no grad) or one training step (train mode; cross-entropy on fixed
    random labels; backward; SGD with momentum 0.9 step) of a private copy of `model`, with its input on `device`."""
    fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    net = copy.deepcopy(model).to(device)
    net = net.to(memory_format=fmt)
    ref = _first_tensor(net)
    x_dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32  # autocast does bf16
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *input_shape), generator=generator).to(device, x_dtype).contiguous(memory_format=fmt)

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")

    if mode == "forward":
        net.eval()

        def forward():
            with torch.no_grad(), autocast():
                return net(x)

        return forward

    net.train()
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    labels = {}

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            out = net(x)
            if out.dim() == 2:
                if "y" not in labels:
                    labels["y"] = torch.randint(0, out.shape[1], (out.shape[0],), generator=generator).to(device)
                loss = nn.functional.cross_entropy(out.float(), labels["y"])
            else:
                loss = out.float().square().mean()
        loss.backward()
        optimizer.step()

    return train_step


def _quartiles(times_ms: list[float]) -> dict:
    t = torch.tensor(times_ms, dtype=torch.float64)
    p25, median, p75 = (torch.quantile(t, q).item() for q in (0.25, 0.5, 0.75))
    return {"median_ms": median, "iqr_ms": p75 - p25, "p25_ms": p25, "p75_ms": p75, "repeats": len(times_ms)}


def _cpu_times(step, min_run_time: float) -> tuple[list[float], dict]:
    """torch.utils.benchmark: two warm-up calls, then Timer.adaptive_autorange, which times blocks of runs (a block
    is 1 run of a step slower than 50 ms, else a power of 10 of runs, up to ~0.5 s) until at least 4 blocks and
    min_run_time are done and IQR/median < 10%; capped at max(10 x min_run_time, about 6 blocks)."""
    from torch.utils import benchmark

    start = time.perf_counter()
    step()
    step()
    one = (time.perf_counter() - start) / 2
    longest_block = one if one > 0.05 else min(0.5, 100 * one)
    timer = benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=torch.get_num_threads())
    m = timer.adaptive_autorange(threshold=0.1, min_run_time=min_run_time,
                                 max_run_time=max(10 * min_run_time, 6 * longest_block))
    times_ms = [t * 1e3 for t in m.times]
    return times_ms, {"runs_per_repeat": m.number_per_run,
                      "timer": "torch.utils.benchmark.Timer.adaptive_autorange after 2 warm-up runs"}


def _l2_flush_bytes(device: torch.device) -> int:
    l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0
    return max(256 * 2**20, 4 * l2)


def _cuda_times(step, device: torch.device, min_run_time: float) -> tuple[list[float], dict]:
    """CUDA events around each run, the L2 cache flushed (a buffer 4x its size, at least 256 MiB, zeroed) before
    each; warm-up until 3 runs and 0.1 s; repeats to fill min_run_time (10 to 1000)."""
    with torch.cuda.device(device):
        flush = torch.empty(_l2_flush_bytes(device), dtype=torch.int8, device=device)
        torch.cuda.synchronize()
        start, n = time.perf_counter(), 0
        while n < 3 or time.perf_counter() - start < 0.1:
            step()
            torch.cuda.synchronize()
            n += 1
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(5):
            flush.zero_()
            step()
        end.record()
        torch.cuda.synchronize()
        estimate_ms = max(begin.elapsed_time(end) / 5, 1e-3)
        repeats = int(min(1000, max(10, min_run_time * 1e3 / estimate_ms)))
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
        for s, e in zip(starts, ends):
            flush.zero_()
            s.record()
            step()
            e.record()
        torch.cuda.synchronize()
        times_ms = [s.elapsed_time(e) for s, e in zip(starts, ends)]
        del flush
    return times_ms, {"runs_per_repeat": 1, "timer": "CUDA events, L2 flushed before each run, cudnn.benchmark on"}


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device):
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def latency(model: nn.Module, input_shape, *, batch_size: int = 64, device="cpu", dtype: str = "fp32",
            memory_format: str = "nchw", mode: str = "forward", min_run_time: float = 0.3) -> dict:
    """Median and spread (IQR) in ms of a forward (eval, no grad) or a full training step (forward, cross-entropy,
    backward, SGD step) at `batch_size`, after warm-up, on a deep copy of `model` (the caller's module is untouched).

    GPU: CUDA events, L2 flushed between repeats, cudnn.benchmark on. CPU: torch.utils.benchmark with the current
    torch thread count. dtype "bf16" runs under torch.autocast(bfloat16); memory_format "channels_last" converts
    model and input.
    """
    shape = _check_input_shape(input_shape)
    _check_run(batch_size, dtype, memory_format, mode)
    if not (isinstance(min_run_time, (int, float)) and min_run_time > 0):
        raise ValueError(f"min_run_time={min_run_time!r} is not allowed; expected a positive number of seconds")
    dev = resolve_device(device)
    with _cudnn_benchmark(dev):
        step = _make_step(model, shape, batch_size, dev, dtype, memory_format, mode)
        if dev.type == "cuda":
            times_ms, how = _cuda_times(step, dev, min_run_time)
        else:
            times_ms, how = _cpu_times(step, min_run_time)
        del step
    return {
        **_quartiles(times_ms), **how,
        "device": _device_label(dev), "batch_size": batch_size, "dtype": dtype, "memory_format": memory_format,
        "mode": mode, "input_shape": list(shape), "environment": environment(dev),
    }


# ----------------------------------------------------------------------------------------------- memory

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


def _trim_heap() -> None:
    """Give freed heap back to the OS (glibc malloc_trim), so the baseline holds no reusable free memory."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
        warm = _make_step(torch.load(a["path"], weights_only=False), shape, 1, cpu, *args)
        warm()
        del warm
        _trim_heap()
        baseline = _proc_status("VmRSS")
        step = _make_step(torch.load(a["path"], weights_only=False), shape, a["batch_size"], cpu, *args)
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
            child = "from spectrum.cost import _cpu_peak_child; _cpu_peak_child()"
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
    shape = _check_input_shape(input_shape)
    _check_run(batch_size, dtype, memory_format)
    dev = resolve_device(device)
    if dev.type == "cuda":
        with torch.cuda.device(dev), _cudnn_benchmark(dev):
            torch.cuda.synchronize()
            baseline = torch.cuda.memory_allocated(dev)
            step = _make_step(model, shape, batch_size, dev, dtype, memory_format, "train_step")
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
    return {"peak_bytes": peak, "how": how, "device": _device_label(dev), "batch_size": batch_size, "dtype": dtype,
            "memory_format": memory_format, "mode": "train_step", "input_shape": list(shape),
            "environment": environment(dev)}


# ----------------------------------------------------------------------------------------------- the spectrum sweep

def spectrum_points(spec, points="all") -> list:
    """The NetworkSpec at each requested position: "all" (every position that fits all layers, both ends
    included) or labels, as a comma string or a list (`regular`, `segments=4`, `group_width=8`, `depthwise`)."""
    from .position import Position, fitting_positions

    if points == "all":
        positions = fitting_positions(spec.spatial_widths())
    else:
        labels = [p.strip() for p in points.split(",")] if isinstance(points, str) else list(points)
        if not labels or any(label in ("", "all") for label in labels):
            raise ValueError(f"points={points!r} is not allowed; expected 'all' or a comma list of regular, "
                             f"depthwise, segments=N, group_width=N")
        positions = []
        for label in labels:
            pos = Position.parse(label)
            if pos.label not in [p.label for p in positions]:
                positions.append(pos)
    return [replace(spec, position=pos) for pos in positions]


def cost_table(specs, *, latency_device=None, batch_size: int = 64, dtype: str = "fp32",
               memory_format: str = "nchw", backend: str = "torch", memory: bool = False,
               min_run_time: float = 0.3):
    """One row per spec: position, params, macs, activations; with `latency_device`, forward and train-step
    median/IQR ms (and train_step_peak_bytes when `memory`) measured on networks built with `backend`."""
    import pandas as pd

    from .networks import build_network

    rows = []
    for spec in specs:
        c = count_spec(spec)
        row = {"position": spec.position.label, "params": c.params, "macs": c.macs, "activations": c.activations}
        if latency_device is not None:
            model = build_network(spec, backend)
            shape = (spec.in_channels, spec.image_size, spec.image_size)
            for mode in MODES:
                t = latency(model, shape, batch_size=batch_size, device=latency_device, dtype=dtype,
                            memory_format=memory_format, mode=mode, min_run_time=min_run_time)
                row[f"{mode}_median_ms"] = round(t["median_ms"], 4)
                row[f"{mode}_iqr_ms"] = round(t["iqr_ms"], 4)
                row[f"{mode}_repeats"] = t["repeats"]
            if memory:
                row["train_step_peak_bytes"] = peak_memory(model, shape, batch_size=batch_size, device=latency_device,
                                                           dtype=dtype, memory_format=memory_format)["peak_bytes"]
            row.update({"batch_size": batch_size, "dtype": dtype, "memory_format": memory_format,
                        "backend": backend, "device": _device_label(resolve_device(latency_device))})
            del model
        rows.append(row)
    return pd.DataFrame(rows)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage block
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser():
    from .block import BACKENDS
    from .families import NETWORKS

    p = _Parser(prog="python -m spectrum.cost", description="Params, MACs, activations (and latency) of every "
                "spectrum point of a network; writes DIR/cost.csv and DIR/cost.json.")
    p.add_argument("--net", default="xception", choices=list(NETWORKS),
                   help="network family (default xception): " + "; ".join(f"{n}: {f.summary}" for n, f in
                                                                         NETWORKS.items()))
    p.add_argument("--image-size", type=_positive, default=None,
                   help="input side in pixels (default: the network's own, 299 xception, 28 small, 32 resnext)")
    p.add_argument("--in-channels", type=_positive, default=None,
                   help="input channels (default: the network's own, 3 xception, 1 small, 3 resnext)")
    p.add_argument("--points", default="all",
                   help="'all' or a comma list of regular, depthwise, segments=N, group_width=N (default all)")
    p.add_argument("--out", default=None, help="output folder (default runs/cost/NET-SIZE)")
    p.add_argument("--latency", action="store_true", help="also time forward and train step of every point")
    p.add_argument("--memory", action="store_true", help="with --latency: also the peak memory of a train step")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.add_argument("--batch-size", type=_positive, default=None,
                   help="latency batch (default 64 on a GPU, 8 on the cpu)")
    p.add_argument("--dtype", default="fp32", choices=DTYPES)
    p.add_argument("--memory-format", default="nchw", choices=MEMORY_FORMATS)
    p.add_argument("--backend", default="torch", choices=[b for b in BACKENDS],
                   help="conv backend of the timed networks (counts do not depend on it)")
    p.add_argument("--min-run-time", type=float, default=0.3, help="seconds of timing per measurement (default 0.3)")
    p.add_argument("--threads", type=_positive, default=None,
                   help="torch CPU threads for counting and CPU timing (default: torch's own choice; 1 is often "
                        "faster for batch-1 counting when other processes share the cores)")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)

    def usage(flag, exc):
        print(f"{parser.prog}: error: argument {flag}: {exc}", file=sys.stderr)
        return 2

    from .families import NETWORKS

    try:
        base = NETWORKS[args.net].spec(image_size=args.image_size, in_channels=args.in_channels)
    except ValueError as exc:
        return usage("--image-size", exc)
    try:
        specs = spectrum_points(base, args.points)
    except ValueError as exc:
        return usage("--points", exc)
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        return usage("--device", exc)
    if not args.min_run_time > 0:
        return usage("--min-run-time", f"expected a positive number of seconds, got {args.min_run_time}")
    if args.memory and not args.latency:
        return usage("--memory", "needs --latency")
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = args.batch_size or (64 if device.type == "cuda" else 8)
    out = args.out or os.path.join("runs", "cost", f"{args.net}-{base.image_size}")
    try:
        start = time.perf_counter()
        table = cost_table(specs, latency_device=device if args.latency else None, batch_size=batch, dtype=args.dtype,
                           memory_format=args.memory_format, backend=args.backend, memory=args.memory,
                           min_run_time=args.min_run_time)
        elapsed = time.perf_counter() - start
        os.makedirs(out, exist_ok=True)
        table.to_csv(os.path.join(out, "cost.csv"), index=False)
        sidecar = {
            "command": "python -m spectrum.cost " + shlex.join(argv),
            "net": args.net, "image_size": base.image_size, "points": [s.position.label for s in specs],
            "counting": "params: trainable; macs: conv + matmul multiply-adds per image (fvcore, batch 1, "
                        "FLOPs = 2 x MACs); activations: output elements of those ops",
            "latency": None if not args.latency else {
                "device": _device_label(device), "batch_size": batch, "dtype": args.dtype,
                "memory_format": args.memory_format, "backend": args.backend, "min_run_time": args.min_run_time,
                "unit": "ms per batch: median and IQR of repeats after warm-up"},
            "elapsed_s": round(elapsed, 3),
            "environment": environment(device),
        }
        with open(os.path.join(out, "cost.json"), "w") as f:
            json.dump(sidecar, f, indent=2)
    except Exception as exc:  # noqa: BLE001 - one line, exit 1
        print(f"{parser.prog}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(table.to_string(index=False))
    print(f"wrote {os.path.join(out, 'cost.csv')} and cost.json ({elapsed:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
