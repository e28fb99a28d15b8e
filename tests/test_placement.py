"""Placement of workers on GPUs, checked without a GPU: the visible GPUs as CUDA reads
CUDA_VISIBLE_DEVICES, each worker's device, the default worker count and the one-line errors."""
from collections import Counter

import pytest

from studies.config import StudyConfig
from studies.placement import default_workers, describe, visible_gpus, worker_devices

UUID = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"


@pytest.mark.parametrize("value,count,expected", [
    (None, 0, ()),
    (None, 2, ("0", "1")),
    ("", 0, ()),
    ("-1", 0, ()),
    ("2,3", 2, ("2", "3")),
    (" 3 , 1 ", 2, ("3", "1")),
    ("0,2,-1,1", 2, ("0", "2")),  # the CUDA Programming Guide's example: devices 0 and 2 visible
    (f"{UUID},MIG-0", 2, (UUID, "MIG-0")),
    ("0,1,2,3", 2, ("0", "1")),  # entries past the GPUs that exist are not visible: torch's count bounds them
])
def test_visible_gpus_read_cuda_visible_devices_as_cuda_does(value, count, expected):
    assert visible_gpus(value, count) == expected


@pytest.mark.parametrize("gpus,workers,per_gpu,expected", [
    (1, 1, 1, ["cuda:0"]),
    (1, 3, 3, ["cuda:0"] * 3),
    (2, 2, 1, ["cuda:0", "cuda:1"]),
    (2, 1, 1, ["cuda:0"]),
    (2, 3, 2, ["cuda:0", "cuda:1", "cuda:0"]),
    (8, 8, 1, [f"cuda:{k}" for k in range(8)]),
])
def test_cuda_deals_workers_round_robin_over_the_visible_gpus(gpus, workers, per_gpu, expected):
    visible = tuple(str(k) for k in range(gpus))
    assert worker_devices("cuda", workers, visible, per_gpu) == expected
    assert worker_devices("auto", workers, visible, per_gpu) == expected


def test_eight_gpus_with_two_slots_hold_sixteen_workers_two_on_each():
    devices = worker_devices("cuda", 16, tuple("01234567"), per_gpu=2)
    assert Counter(devices) == {f"cuda:{k}": 2 for k in range(8)}
    assert devices[:8] == [f"cuda:{k}" for k in range(8)]  # the first worker on each GPU before any second


def test_indices_count_the_gpus_cuda_visible_devices_leaves():
    gpus = visible_gpus("5,7", 2)
    devices = worker_devices("cuda", 2, gpus)
    assert devices == ["cuda:0", "cuda:1"]
    assert describe(devices, gpus) == "cuda:0 (GPU 5) x1, cuda:1 (GPU 7) x1"


def test_pinned_gpu_and_cpu_keep_every_worker_there():
    assert worker_devices("cuda:1", 2, ("0", "1"), per_gpu=2) == ["cuda:1", "cuda:1"]
    assert worker_devices("cpu", 3, ("0", "1")) == ["cpu"] * 3
    assert worker_devices("auto", 2, ()) == ["cpu", "cpu"]


@pytest.mark.parametrize("device,gpus,per_gpu,cpus,expected", [
    ("auto", (), 1, 2, 2),
    ("cpu", ("0",), 1, 1, 1),
    ("cpu", (), 1, 16, 2),
    ("cuda", tuple("0123"), 1, 16, 4),
    ("auto", ("0", "1"), 3, 16, 6),
    ("cuda:1", ("0", "1"), 2, 16, 2),
])
def test_default_workers_fill_the_gpu_slots_or_two_cpu_cores(device, gpus, per_gpu, cpus, expected):
    assert default_workers(device, gpus, per_gpu, cpus) == expected


@pytest.mark.parametrize("device,workers,gpus,per_gpu,names", [
    ("cuda", 3, ("0", "1"), 1, ("--workers 3", "2 visible GPU(s) x --trials-per-gpu 1 = 2", "--workers 2 or fewer")),
    ("cuda", 9, tuple("01234567"), 1, ("--workers 9", "= 8 trial slot(s)",)),
    ("cuda:0", 2, ("0", "1"), 1, ("--workers 2", "--device cuda:0", "--trials-per-gpu 1")),
    ("cuda", 1, (), 1, ("--device cuda", "no CUDA GPU is visible", "CUDA_VISIBLE_DEVICES")),
    ("cuda:2", 1, ("0", "1"), 1, ("--device cuda:2", "2 GPU(s) visible", "cuda:0..cuda:1")),
    ("cuda:0", 1, (), 1, ("--device cuda:0", "no CUDA GPU is visible")),
    ("tpu", 1, (), 1, ("--device 'tpu'", "expected auto, cpu, cuda or cuda:N")),
])
def test_a_request_the_gpus_cannot_meet_is_one_line_naming_the_flag(device, workers, gpus, per_gpu, names):
    with pytest.raises(ValueError) as err:
        worker_devices(device, workers, gpus, per_gpu)
    message = str(err.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_trials_per_gpu_is_a_positive_config_field():
    assert StudyConfig(space="segments").trials_per_gpu == 1
    assert StudyConfig(space="segments", trials_per_gpu=4).trials_per_gpu == 4
    with pytest.raises(ValueError, match="--trials-per-gpu"):
        StudyConfig(space="segments", trials_per_gpu=0)
