"""What the study tests share: the tiniest study settings, run_study.py as a real process or in this one,
and the completed points of a trials table. The session's one trained study is tests/conftest.py's."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

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
