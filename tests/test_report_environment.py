"""The page header in words: the environment record as one line (no 'None' for what a machine lacks),
and a per-trial setting such as the memory format stated once, with its exceptions counted."""
import pandas as pd

from reports.environment_text import cudnn_text, environment_line, environment_pairs
from reports.meta import mixed_text

CPU = {  # the environment record's keys as a CPU machine records them
    "device": "cpu (2 threads)", "device_name": "AMD EPYC 7763", "device_type": "cpu", "cpu": "AMD EPYC 7763",
    "torch": "2.5.1+cpu", "triton": None, "fvcore": "0.1.5", "cuda": None, "cudnn": None, "torch_threads": 2,
    "python": "3.11.7", "platform": "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36", "git_dirty": False,
    "optuna": "4.1.0",
}
GPU = {**CPU, "device": "NVIDIA H200", "device_name": "NVIDIA H200", "device_type": "cuda", "torch": "2.5.1+cu124",
       "triton": "3.1.0", "cuda": "12.4", "cudnn": 90100, "compute_capability": "9.0", "memory_gib": 139.8}


def test_a_cpu_record_reads_as_one_line_without_none():
    trials = pd.DataFrame({"latency_threads": [1, 1, 1]})
    line = environment_line(CPU, trials, workers=2)
    assert line == ("CPU AMD EPYC 7763; 2 workers × 1 thread each; torch 2.5.1+cpu, optuna 4.1.0, "
                    "triton not installed, fvcore 0.1.5; Python 3.11.7 on Linux 6.1.0")
    assert dict(environment_pairs(CPU))["cuda"] == "—"  # the folded record: absent, not 'None'


def test_a_gpu_record_names_the_gpu_its_cuda_stack_and_the_host_cpu():
    line = environment_line(GPU, pd.DataFrame({"latency_threads": [8]}), workers=1)
    assert line.startswith("NVIDIA H200 (compute capability 9.0, 139.8 GiB; CUDA 12.4, cuDNN 9.1.0), CPU AMD EPYC 7763; "
                           "1 worker × 8 threads each; torch 2.5.1+cu124, optuna 4.1.0, triton 3.1.0")
    assert "None" not in line


def test_cudnn_versions_read_as_released():
    assert [cudnn_text(v) for v in (90100, 90501, 8902, 8600)] == ["9.1.0", "9.5.1", "8.9.2", "8.6.0"]


def test_no_record_says_so():
    assert environment_line(None, pd.DataFrame()) == "not recorded"
    assert environment_line({}, pd.DataFrame()) == "not recorded"
    assert environment_line({"torch_threads": 4}, pd.DataFrame()) == "4 torch threads"


def test_a_setting_is_stated_once_with_its_exceptions_counted():
    df = pd.DataFrame({"memory_format": ["channels_last"] * 5 + ["nchw"] * 2 + [None],
                       "position": ["regular", "segments=2", "segments=4", "regular", "segments=2",
                                    "depthwise", "depthwise", "regular"]})
    assert mixed_text(df, "memory_format") == "channels_last, except nchw in 2 of 7 trials (depthwise)"
    assert mixed_text(df, "memory_format", where=False) == "channels_last (nchw in 2 of 7 trials)"
    assert mixed_text(df.iloc[:5], "memory_format") == "channels_last"
    assert mixed_text(df, "absent") == ""
