"""kernels.timer.measure, the project's one timer: what it returns and how often it calls the timed function
(never how long anything took)."""
import numpy as np
import pytest
import torch

from kernels.timer import MIN_GPU_REPEATS, Timing, measure


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_fixed_repeats_call_the_function_warmup_plus_repeats_times_and_time_each_run():
    fn = Counter()
    timing = measure(fn, "cpu", repeats=3, warmup=2)
    assert fn.calls == 2 + 3
    assert len(timing.times_ms) == 3 and timing.runs_per_repeat == 1
    assert all(t >= 0 for t in timing.times_ms)
    assert "3 single runs after 2 warm-up runs" in timing.timer


def test_adaptive_measurement_returns_repeats_of_blocks_from_torch_utils_benchmark():
    fn = Counter()
    timing = measure(fn, torch.device("cpu"), min_run_time=0.01, warmup=1)
    assert "torch.utils.benchmark" in timing.timer and timing.timer.endswith("after 1 warm-up runs")
    assert timing.times_ms and timing.runs_per_repeat >= 1
    assert fn.calls >= 1 + len(timing.times_ms) * timing.runs_per_repeat  # each repeat: a block of runs


def test_timing_summary_quantiles_are_numpys():
    times = (4.0, 1.0, 3.0, 2.0, 10.0)
    timing = Timing(times, 5, "a stand-in")
    summary = timing.summary()
    p25, median, p75 = np.percentile(times, [25, 50, 75])
    assert summary["median_ms"] == pytest.approx(median) == timing.median_ms
    assert (summary["p25_ms"], summary["p75_ms"]) == pytest.approx((p25, p75))
    assert summary["iqr_ms"] == pytest.approx(p75 - p25)
    assert timing.quantile(0.2) == pytest.approx(np.percentile(times, 20))
    assert timing.min_ms == 1.0
    assert (summary["repeats"], summary["runs_per_repeat"], summary["timer"]) == (5, 5, "a stand-in")


@pytest.mark.parametrize("kwargs,name", [({"min_run_time": 0}, "min_run_time"), ({"repeats": 0}, "repeats"),
                                         ({"warmup": 0}, "warmup"), ({"warmup": True}, "warmup"),
                                         ({"device": "meta"}, "device")])
def test_bad_arguments_name_themselves(kwargs, name):
    fn = Counter()
    with pytest.raises(ValueError, match=name):
        measure(fn, **kwargs)
    assert fn.calls == 0
    with pytest.raises(ValueError, match="times_ms"):
        Timing((), 1, "nothing timed")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_timing_uses_do_bench_with_at_least_the_minimum_repeats():
    x = torch.randn(256, 256, device="cuda")
    x.requires_grad_()

    def step():
        (x @ x).sum().backward()
    timing = measure(step, "cuda", min_run_time=0.01, grad_to_none=[x])
    assert len(timing.times_ms) >= MIN_GPU_REPEATS and "do_bench" in timing.timer
    assert all(t > 0 for t in timing.times_ms)
