"""What the study tests share: the tiniest study settings, run_study.py as a real process or in this one,
and the completed points of a trials table. The session's one trained study is tests/conftest.py's."""
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

import run_study as run_study_cli

ROOT = Path(__file__).resolve().parents[1]


def tiny(seeds=1):
    return ["--dataset", "synthetic", "--epochs", "1", "--seeds", str(seeds), "--width", "4", "--depth", "2",
            "--batch-size", "16", "--lr", "0.02", "--latency-batch", "4", "--quiet"]


TINY = tiny()


def study_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("TRITON_INTERPRET", None)  # the kernel tests set it in this process; a study runs without it
    return env


def run_study(*args, timeout=240, **kw):
    """run_study.py as a real process."""
    return subprocess.run([sys.executable, str(ROOT / "run_study.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=study_env(), cwd=kw.get("cwd", ROOT))


def cli(*args) -> int:
    """run_study.py's exit status in this process (its lines go to capsys)."""
    try:
        return run_study_cli.main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code


def completed_points(frame: pd.DataFrame, keys=("segments", "seed", "budget")) -> list[tuple]:
    done = frame[frame.state == "COMPLETE"]
    cols = [k for k in keys if k in done]
    return sorted(map(tuple, done[cols].astype(str).values.tolist()))


@contextlib.contextmanager
def study_here():
    """Around a study run in this process: what --deterministic turns on process-wide (torch's deterministic
    algorithms, KERNELS_AUTOTUNE, CUBLAS_WORKSPACE_CONFIG) put back after it, and no interpreted kernels for its
    workers (the kernel tests set TRITON_INTERPRET in this process)."""
    saved = {name: os.environ.get(name) for name in ("KERNELS_AUTOTUNE", "CUBLAS_WORKSPACE_CONFIG", "TRITON_INTERPRET")}
    cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    was = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    os.environ.pop("TRITON_INTERPRET", None)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
