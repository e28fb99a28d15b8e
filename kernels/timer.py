"""``measure(fn, device)``: the one timer of the project, the run time of a callable as a `Timing`.

GPU: ``triton.testing.do_bench`` (CUDA events around each run, the L2 cache flushed before each, at
least MIN_GPU_REPEATS runs). CPU: ``torch.utils.benchmark.Timer.adaptive_autorange`` (blocks of runs
until IQR/median < 10%), or a fixed number of single runs (the stdlib ``timeit`` that Timer wraps),
after warm-up calls. Part of ``kernels``, which stands alone: torch and Triton only.
"""
from __future__ import annotations

import time
import timeit
from dataclasses import dataclass

import torch

MIN_GPU_REPEATS = 10  # enough runs for a median and quartiles
GPU_TIMER = "triton.testing.do_bench (CUDA events, L2 flushed before each run)"


@dataclass(frozen=True)
class Timing:
    """Milliseconds a run took, one value per repeat (a repeat: `runs_per_repeat` runs, their mean)."""

    times_ms: tuple[float, ...]
    runs_per_repeat: int
    timer: str

    def __post_init__(self):
        if not self.times_ms or not all(t >= 0 for t in self.times_ms):
            raise ValueError(f"times_ms={self.times_ms!r} is not allowed; expected one or more times >= 0")
        if self.runs_per_repeat < 1:
            raise ValueError(f"runs_per_repeat={self.runs_per_repeat!r} is not allowed; expected >= 1")

    def quantile(self, q: float) -> float:
        """The q-quantile of the repeats (linear interpolation, as numpy's default)."""
        return torch.quantile(torch.tensor(self.times_ms, dtype=torch.float64), q).item()

    @property
    def median_ms(self) -> float:
        return self.quantile(0.5)

    @property
    def min_ms(self) -> float:
        return min(self.times_ms)

    def summary(self) -> dict:
        """Median and spread (IQR, quartiles) in ms, the repeat count and how they were taken."""
        p25, median, p75 = (self.quantile(q) for q in (0.25, 0.5, 0.75))
        return {"median_ms": median, "iqr_ms": p75 - p25, "p25_ms": p25, "p75_ms": p75,
                "repeats": len(self.times_ms), "runs_per_repeat": self.runs_per_repeat, "timer": self.timer}


def measure(fn, device="cpu", *, min_run_time: float = 0.1, repeats: int | None = None, warmup: int = 2,
            grad_to_none=None) -> Timing:
    """Time `fn()` on `device` ("cpu", "cuda", "cuda:N" or a torch.device) for about `min_run_time` seconds.

    CPU: `warmup` calls first (they also estimate a run, which caps the measurement at max(10 x
    min_run_time, about 6 blocks of runs)); `repeats` N: N single runs instead of adaptive blocks (a quick choice
    between a few candidates). GPU: do_bench's warm-up (25 ms), at least `repeats` (default
    MIN_GPU_REPEATS) runs; `grad_to_none` tensors get their .grad reset before each run."""
    device = torch.device(device)
    if not (isinstance(min_run_time, (int, float)) and min_run_time > 0):
        raise ValueError(f"min_run_time={min_run_time!r} is not allowed; expected a positive number of seconds")
    for name, value in (("repeats", 1 if repeats is None else repeats), ("warmup", warmup)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is not allowed; expected a positive number of runs")
    if device.type == "cuda":
        return _gpu(fn, device, min_run_time, repeats or MIN_GPU_REPEATS, grad_to_none)
    if device.type != "cpu":
        raise ValueError(f"device={str(device)!r} is not allowed; expected cpu or cuda")
    return _cpu(fn, min_run_time, repeats, warmup)


def _cpu(fn, min_run_time: float, repeats: int | None, warmup: int) -> Timing:
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    one = (time.perf_counter() - start) / warmup
    after = f"after {warmup} warm-up runs"
    if repeats:  # torch's Timer.timeit warms up before every call; the stdlib timeit it wraps does not
        times = timeit.Timer(fn).repeat(repeat=repeats, number=1)
        return Timing(tuple(t * 1e3 for t in times), 1, f"timeit: {repeats} single runs {after}")
    from torch.utils import benchmark  # 0.7 s to import: only where it is used

    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    # a block of runs takes at least 50 ms or one run (adaptive_autorange's block size): room for ~6
    m = timer.adaptive_autorange(threshold=0.1, min_run_time=min_run_time,
                                 max_run_time=max(10 * min_run_time, 6 * max(one, 0.05)))
    return Timing(tuple(t * 1e3 for t in m.times), m.number_per_run,
                  f"torch.utils.benchmark.Timer.adaptive_autorange {after}")


def _gpu(fn, device: torch.device, min_run_time: float, repeats: int, grad_to_none) -> Timing:
    from triton.testing import do_bench

    with torch.cuda.device(device):
        fn()
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        one_ms = (time.perf_counter() - start) * 1e3
        rep_ms = max(min_run_time * 1e3, 1.2 * repeats * one_ms)  # do_bench runs rep_ms / its own estimate
        times = do_bench(fn, rep=rep_ms, grad_to_none=grad_to_none, return_mode="all")
    return Timing(tuple(times), 1, GPU_TIMER)
