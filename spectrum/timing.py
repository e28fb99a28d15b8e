"""Measuring: the latency of a forward or a training step (`latency`), on the GPU or the CPU.

Timing works on a deep copy of the model, so the caller's module keeps its mode, parameters and device. Every
measurement carries the environment it was taken in (`spectrum.devices.environment`).
"""
from __future__ import annotations

import contextlib
import copy
import time

import torch
from torch import nn

from .counting import MEMORY_FORMATS, first_tensor
from .devices import check_choice, check_input_shape, check_positive_int, device_label, environment, resolve_device

DTYPES = ("fp32", "bf16")
MODES = ("forward", "train_step")


def check_run(batch_size, dtype, memory_format, mode="train_step") -> None:
    check_positive_int("batch_size", batch_size)
    check_choice("dtype", dtype, DTYPES)
    check_choice("memory_format", memory_format, MEMORY_FORMATS)
    check_choice("mode", mode, MODES)


def make_step(model: nn.Module, input_shape, batch_size: int, device: torch.device, dtype: str,
              memory_format: str, mode: str):
    """A callable running one forward (eval, no grad) or one training step (train mode; cross-entropy on fixed
    random labels; backward; SGD with momentum 0.9 step) of a private copy of `model`, with its input on `device`."""
    fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    net = copy.deepcopy(model).to(device)
    net = net.to(memory_format=fmt)
    ref = first_tensor(net)
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
def cudnn_benchmark(device: torch.device):
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


@contextlib.contextmanager
def torch_threads(threads):
    """torch's CPU thread count set to `threads` for the duration (None: left as it is), restored after."""
    if threads is None:
        yield
        return
    check_positive_int("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency(model: nn.Module, input_shape, *, batch_size: int = 64, device="cpu", dtype: str = "fp32",
            memory_format: str = "nchw", mode: str = "forward", min_run_time: float = 0.3,
            threads: int | None = None) -> dict:
    """Median and spread (IQR) in ms of a forward (eval, no grad) or a full training step (forward, cross-entropy,
    backward, SGD step) at `batch_size`, after warm-up, on a deep copy of `model` (the caller's module is untouched).

    GPU: CUDA events, L2 flushed between repeats, cudnn.benchmark on. CPU: torch.utils.benchmark with `threads`
    torch threads (None: the current count; a count given is set for the measurement and restored after).
    dtype "bf16" runs under torch.autocast(bfloat16); memory_format "channels_last" converts model and input, on
    the CPU as on the GPU, so a network is timed in the layout and thread count it trains in.
    """
    shape = check_input_shape(input_shape)
    check_run(batch_size, dtype, memory_format, mode)
    if not (isinstance(min_run_time, (int, float)) and min_run_time > 0):
        raise ValueError(f"min_run_time={min_run_time!r} is not allowed; expected a positive number of seconds")
    if threads is not None:
        check_positive_int("threads", threads)
    dev = resolve_device(device)
    with torch_threads(threads), cudnn_benchmark(dev):
        step = make_step(model, shape, batch_size, dev, dtype, memory_format, mode)
        if dev.type == "cuda":
            times_ms, how = _cuda_times(step, dev, min_run_time)
        else:
            times_ms, how = _cpu_times(step, min_run_time)
        del step
        return {
            **_quartiles(times_ms), **how,
            "device": device_label(dev), "batch_size": batch_size, "dtype": dtype, "memory_format": memory_format,
            "mode": mode, "threads": torch.get_num_threads(), "input_shape": list(shape),
            "environment": environment(dev),
        }
