"""Latency, peak memory, devices and the environment record (CPU here; the CUDA paths run on a GPU machine).
What latency reports is checked with a stand-in timer; kernels.timer itself is tests/test_timer.py's."""
import re

import numpy as np
import pytest
import torch

from kernels.timer import GPU_TIMER, MIN_GPU_REPEATS, Timing
from spectrum import build_network, small_spec, timing
from spectrum.cost import environment, latency, peak_memory, resolve_device

SHAPE = (1, 28, 28)
LATENCY_KEYS = {"median_ms", "iqr_ms", "p25_ms", "p75_ms", "repeats", "device", "batch_size", "dtype",
                "memory_format", "mode"}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny models time steadily even when other processes share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return build_network(small_spec(width=8, depth=2, reps=1, stem_width=8))


def _state(model):
    return [m.training for m in model.modules()], {k: v.clone() for k, v in model.state_dict().items()}


class StandInTimer:
    """In place of kernels.timer.measure: runs the step it is given twice, returns fixed times."""

    TIMES = (4.0, 1.0, 3.0, 2.0)

    def __init__(self):
        self.calls = []

    def __call__(self, step, device, *, min_run_time):
        step()
        step()
        self.calls.append((torch.device(device), min_run_time))
        return Timing(self.TIMES, 3, "a stand-in")


@pytest.mark.parametrize("mode,dtype,memory_format", [("forward", "fp32", "nchw"), ("train_step", "fp32", "nchw"),
                                                      ("train_step", "bf16", "channels_last")])
def test_latency_reports_the_timers_median_and_spread_and_leaves_the_model_alone(model, mode, dtype, memory_format,
                                                                                 monkeypatch):
    timer = StandInTimer()
    monkeypatch.setattr(timing, "measure", timer)
    model.train()
    modes, state = _state(model)
    t = latency(model, SHAPE, batch_size=4, device="cpu", dtype=dtype, memory_format=memory_format, mode=mode,
                min_run_time=0.02)
    assert timer.calls == [(torch.device("cpu"), 0.02)]
    assert LATENCY_KEYS <= set(t)
    p25, median, p75 = np.percentile(StandInTimer.TIMES, [25, 50, 75])
    assert (t["p25_ms"], t["median_ms"], t["p75_ms"]) == pytest.approx((p25, median, p75))
    assert t["iqr_ms"] == pytest.approx(p75 - p25)
    assert (t["repeats"], t["runs_per_repeat"], t["timer"]) == (4, 3, "a stand-in")
    assert t["device"] == "cpu (1 thread)"
    assert (t["batch_size"], t["dtype"], t["memory_format"], t["mode"]) == (4, dtype, memory_format, mode)
    assert t["environment"]["torch"] == torch.__version__
    after_modes, after = _state(model)
    assert after_modes == modes
    assert all(torch.equal(state[k], after[k]) for k in state)


def test_latency_on_the_cpu_in_channels_last_with_its_own_thread_count_restores_the_count(model):
    assert torch.get_num_threads() == 1
    t = latency(model, SHAPE, batch_size=2, device="cpu", memory_format="channels_last", mode="train_step",
                min_run_time=0.01, threads=2)
    assert (t["memory_format"], t["threads"], t["device"]) == ("channels_last", 2, "cpu (2 threads)")
    assert t["environment"]["torch_threads"] == 2 and "torch.utils.benchmark" in t["timer"]
    assert torch.get_num_threads() == 1
    assert latency(model, SHAPE, batch_size=2, device="cpu", min_run_time=0.01)["threads"] == 1


@pytest.mark.parametrize("kwargs,name", [({"batch_size": 0}, "batch_size"), ({"batch_size": True}, "batch_size"),
                                         ({"threads": 0}, "threads"), ({"threads": 1.5}, "threads"),
                                         ({"dtype": "fp16"}, "dtype"), ({"memory_format": "nhwc"}, "memory_format"),
                                         ({"mode": "backward"}, "mode"), ({"min_run_time": 0}, "min_run_time"),
                                         ({"device": "tpu"}, "device")])
def test_latency_rejects_bad_arguments_naming_them_and_what_is_allowed(model, kwargs, name):
    with pytest.raises(ValueError, match=name):
        latency(model, SHAPE, **kwargs)


def test_peak_memory_on_the_cpu_counts_at_least_weights_and_activations(model):
    r = peak_memory(model, SHAPE, batch_size=64, device="cpu", dtype="fp32", memory_format="nchw")
    assert set(r) >= {"peak_bytes", "how"}
    if r["peak_bytes"] is None:
        pytest.skip(r["how"])
    weights = sum(p.numel() * 4 for p in model.parameters())
    first_activation = 64 * 8 * 14 * 14 * 4  # the stem conv output alone
    assert r["peak_bytes"] > weights + first_activation
    assert "VmHWM" in r["how"]
    with pytest.raises(ValueError, match="dtype"):
        peak_memory(model, SHAPE, batch_size=2, device="cpu", dtype="int8", memory_format="nchw")


def test_resolve_device_takes_cpu_auto_cuda_and_names_what_is_available(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"cuda:7.*not available.*cuda:0\.\.cuda:0"):
        resolve_device("cuda:7")
    for bad in ("tpu", "cuda:x", "", 3):
        with pytest.raises(ValueError, match="device="):
            resolve_device(bad)


def test_environment_records_device_versions_threads_commit_and_date():
    env = environment("cpu")
    for key in ("device", "torch", "triton", "cuda", "cudnn", "torch_threads", "python", "platform", "git_commit",
                "date"):
        assert key in env
    assert env["torch_threads"] == torch.get_num_threads()
    assert env["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", env["git_commit"])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", env["date"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype,memory_format", [("fp32", "nchw"), ("bf16", "channels_last")])
def test_gpu_latency_and_peak_memory(model, dtype, memory_format):
    for mode in ("forward", "train_step"):
        t = latency(model, SHAPE, batch_size=32, device="cuda", dtype=dtype, memory_format=memory_format, mode=mode,
                    min_run_time=0.05)
        assert t["p25_ms"] <= t["median_ms"] <= t["p75_ms"] and t["repeats"] >= MIN_GPU_REPEATS
        assert t["timer"] == GPU_TIMER
        assert t["device"] == torch.cuda.get_device_name(0)
    r = peak_memory(model, SHAPE, batch_size=32, device="cuda", dtype=dtype, memory_format=memory_format)
    assert r["peak_bytes"] > sum(p.numel() * 4 for p in model.parameters())
    assert next(model.parameters()).device.type == "cpu"
