"""run_study.py end to end on small synthetic studies: outputs, resume, workers, kill -9; usage errors
checked in this process through main(), one of them from the command line."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

import run_study as run_study_cli
from studies.spaces import SPACES

ROOT = Path(__file__).resolve().parents[1]


def tiny(seeds=1):
    return ["--dataset", "synthetic", "--epochs", "1", "--seeds", str(seeds), "--width", "4", "--depth", "2",
            "--batch-size", "16", "--lr", "0.02", "--latency-batch", "4", "--quiet"]


TINY = tiny()


def run_study(*args, timeout=240, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("TRITON_INTERPRET", None)  # the kernel tests set it in this process; a study runs without it
    return subprocess.run([sys.executable, str(ROOT / "run_study.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=kw.get("cwd", ROOT))


def completed_points(frame: pd.DataFrame, keys=("segments", "seed", "budget")) -> list[tuple]:
    done = frame[frame.state == "COMPLETE"]
    cols = [k for k in keys if k in done]
    return sorted(map(tuple, done[cols].astype(str).values.tolist()))


def test_space_list_prints_one_line_per_space():
    out = run_study("--space", "list")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(SPACES)


def cli(*args) -> int:
    """run_study.py's exit status in this process (its lines go to capsys)."""
    try:
        return run_study_cli.main(list(args))
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("args,flag", [
    (["--space", "sideways"], "--space"),
    (["--space", "segments", "--trials", "0"], "--trials"),
    (["--space", "segments", "--epochs", "two"], "--epochs"),
    (["--space", "segments", "--backend", "cudnn"], "--backend"),
    (["--space", "segments", "--storage", "redis://localhost/0"], "--storage"),
    (["--space", "segments", "--dataset", "cifar10", "--data-dir", "/nonexistent/cifar"], "--data-dir"),
    (["--space", "segments", "--dataset", "cifar10"], "--data-dir"),
    (["--space", "segments", "--dataset", "imagenet"], "--dataset"),
    (["--space", "segments", "--match", "flops"], "--match"),
    (["--space", "segments", "--budgets", "1e6,-3"], "--budgets"),
    (["--space", "segments", "--device", "cuda:7"], "cuda:7"),
    (["--space", "segments", "--device", "cpu", "--backend", "triton"], "--backend triton"),
])
def test_usage_errors_exit_2_with_one_line_naming_the_flag(args, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)  # the kernel tests set it; a study runs without it
    # and once the kernels have run interpreted in this process, they say so for good: here they may not
    monkeypatch.setattr("kernels.grouped_conv._interpreted", lambda: False)
    assert cli(*args, "--out", str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / "run" / "trials.csv").exists()


def test_a_usage_error_from_the_command_line_is_exit_2_and_one_line(tmp_path):
    out = run_study("--space", "segments", "--trials", "0", "--out", str(tmp_path / "run"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "--trials" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_tiny_study_writes_every_point_and_resumes_without_retraining(tmp_path):
    out_dir = tmp_path / "run"
    first = run_study("--space", "segments", "--match", "none", "--out", str(out_dir), *TINY)
    assert first.returncode == 0, first.stderr
    frame = pd.read_csv(out_dir / "trials.csv")
    frame = frame[frame.state != "PRUNED"]  # a worker's duplicate draw, stood down untrained
    assert sorted(frame.segments) == [1, 2, 4] and set(frame.state) == {"COMPLETE"}
    for column in ("params", "macs", "activations", "latency_ms", "latency_iqr_ms", "accuracy", "test_accuracy",
                   "order", "activation", "seed", "backend", "position", "widths", "latency_format"):
        assert column in frame, column
    assert "environment" not in frame and "accuracy_per_epoch" not in frame  # config.json and curves.csv
    assert set(frame.position) == {"regular", "segments=2", "depthwise"}
    assert (frame.accuracy > 0.5).all()  # 4 synthetic classes: chance is 0.25
    meta = json.loads((out_dir / "config.json").read_text())
    assert meta["space"] == "segments" and "environment" in meta and meta["command"].startswith("python run_study.py")
    assert (out_dir / "report.html").stat().st_size > 10_000
    again = run_study("--space", "segments", "--match", "none", "--out", str(out_dir), *TINY)
    assert again.returncode == 0, again.stderr
    frame2 = pd.read_csv(out_dir / "trials.csv")
    frame2 = frame2[frame2.state != "PRUNED"]
    assert len(frame2) == len(frame)
    pd.testing.assert_series_equal(frame2.accuracy, frame.accuracy)


def test_matched_study_sweeps_two_budgets_within_three_percent(tmp_path):
    out_dir = tmp_path / "run"
    out = run_study("--space", "segments", "--out", str(out_dir), "--budgets", "1e6,3e6", *TINY)
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(out_dir / "trials.csv")
    frame = frame[frame.state == "COMPLETE"]
    assert len(frame) == 3 * 2
    assert ((frame.macs / frame.budget - 1).abs() <= 0.03).all(), frame[["segments", "budget", "macs"]]


def test_same_seed_trains_to_the_same_accuracy_on_cpu():
    import torch

    from spectrum import build_network, small_spec
    from studies.data import make_synthetic
    from studies.train import fit

    data = make_synthetic(n_train=128, n_val=64)
    results = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_network(small_spec(width=4, depth=2, image_size=16, num_classes=4, segments=2))
        torch.rand(1000)  # whatever ran before must not matter to the fit
        results.append(fit(model, data, epochs=1, batch_size=32, seed=7, device=torch.device("cpu")).accuracy_per_epoch)
    assert results[0] == results[1]


def test_a_point_trains_to_the_same_accuracy_whatever_ran_before_it(tmp_path):
    """One worker runs every point in sequence, two split them: with --deterministic (no timed choice of how
    grouped convs are computed) each point's numbers are the same to the last digit."""
    args = ["--space", "segments", "--match", "none", *tiny(2), "--deterministic"]
    one = run_study(*args, "--workers", "1", "--out", str(tmp_path / "one"))
    two = run_study(*args, "--workers", "2", "--out", str(tmp_path / "two"))
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    frames = [pd.read_csv(tmp_path / d / "trials.csv") for d in ("one", "two")]
    for frame in frames:
        assert frame.deterministic.all() and (frame.group_merge == "none").all()
    for column in ("accuracy", "test_accuracy"):
        a, b = (f[f.state == "COMPLETE"].set_index(["segments", "seed"])[column].sort_index() for f in frames)
        assert len(a) == 6
        pd.testing.assert_series_equal(a, b, check_exact=True)
    assert "deterministic algorithms" in (tmp_path / "two" / "report.html").read_text()


def test_diverged_trials_are_stored_as_outcomes_and_settle_their_points(tmp_path):
    out_dir = tmp_path / "run"
    out = run_study("--space", "segments", "--match", "none", "--out", str(out_dir), *TINY, "--lr", "1e12")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(out_dir / "trials.csv")
    frame = frame[frame.state != "PRUNED"]
    assert len(frame) == 3 and set(frame.state) == {"FAIL"}
    assert frame.diverged.all() and frame.permanent.all() and not frame.interrupted.any()
    assert frame.fail_reason.str.contains("TrainingDiverged: loss became").all()


def _journal_frame(path: Path, name="spectrum-segments") -> pd.DataFrame:
    from studies.outputs import trials_frame
    from studies.storage import make_storage

    return trials_frame(optuna.load_study(study_name=name, storage=make_storage(str(path))))


def test_two_workers_on_one_journal_finish_the_grid_without_duplicates(tmp_path):
    out_dir = tmp_path / "run"
    args = ["--space", "segments", "--match", "none", "--out", str(out_dir), *tiny(2)]
    out = run_study(*args, "--workers", "2")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(out_dir / "trials.csv")
    points = completed_points(frame)
    assert len(points) == len(set(points)) == 3 * 2  # 3 segment counts x 2 seeds, each exactly once


INTERRUPT_SEEDS = 3  # 9 trials


def _wait_mid_study(journal: Path, proc, timeout: float = 180) -> None:
    """Until the study is known to be mid-way: two trials done, one training, two still waiting (an
    event in the storage, not a guess at timing: whatever runs next, the signal lands mid-study)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if not journal.exists():
            continue
        study = optuna.load_study(study_name="spectrum-segments", storage=_storage(journal))
        states = pd.Series([t.state.name for t in study.get_trials(deepcopy=False)])
        if (states == "COMPLETE").sum() >= 2 and (states == "RUNNING").any() and (states == "WAITING").sum() >= 2:
            assert proc.poll() is None, "the study ended before the signal could be sent"
            return
    pytest.fail("the study never reached a mid-way state")


def _signal_state(pid: int) -> str:
    """The blocked / ignored / caught signal masks of a process (Linux), for a failure message."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return "unknown"
    return " ".join(line.strip() for line in status.read_text().splitlines() if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def _storage(journal: Path):
    from studies.storage import make_storage

    return make_storage(str(journal))


def test_kill_9_mid_study_then_rerun_keeps_every_finished_trial(tmp_path):
    out_dir = tmp_path / "run"
    args = ["--space", "segments", "--match", "none", "--out", str(out_dir), *tiny(INTERRUPT_SEEDS), "--epochs", "3"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_study.py"), *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_mid_study(out_dir / "study.journal", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _journal_frame(out_dir / "study.journal")
    finished = before[before.state == "COMPLETE"]
    assert len(finished) >= 2 and len(finished) < 3 * INTERRUPT_SEEDS, "the kill should land mid-study"
    rerun = run_study(*args)
    assert rerun.returncode == 0, rerun.stderr
    after = pd.read_csv(out_dir / "trials.csv")
    kept = after.set_index("number").loc[finished.number]
    assert (kept.state == "COMPLETE").all()
    assert list(kept.accuracy) == list(finished.accuracy)
    points = completed_points(after)
    assert len(points) == len(set(points)) == 3 * INTERRUPT_SEEDS


def test_budget_out_of_reach_is_a_usage_error_before_training(tmp_path, capsys):
    assert cli("--space", "segments", "--out", str(tmp_path / "run"), *TINY, "--budgets", "3e4") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--budgets: 30,000 macs is out of reach" in err
    assert not (tmp_path / "run" / "trials.csv").exists()


def test_ctrl_c_stops_cleanly_keeps_finished_trials_and_the_rerun_completes(tmp_path):
    out_dir = tmp_path / "run"
    args = ["--space", "segments", "--match", "none", "--out", str(out_dir), *tiny(INTERRUPT_SEEDS), "--epochs", "3"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # as from a terminal: SIGINT at its default, even when pytest itself runs in the background of a
    # non-interactive shell (which ignores SIGINT for `&` jobs, and a child inherits that)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_study.py"), *args], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_mid_study(out_dir / "study.journal", proc)
    signals = _signal_state(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole process group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"stdout: {stdout}\nstderr: {stderr}\nsignals of the study: {signals}"
    assert "Traceback" not in stderr and "rerun the same command to resume" in stderr
    stopped = pd.read_csv(out_dir / "trials.csv")
    finished = stopped[stopped.state == "COMPLETE"]
    assert len(finished) >= 2
    rerun = run_study(*args)
    assert rerun.returncode == 0, rerun.stderr
    after = pd.read_csv(out_dir / "trials.csv").set_index("number")
    assert list(after.loc[finished.number].accuracy) == list(finished.accuracy)
    points = completed_points(after)
    assert len(points) == len(set(points)) == 3 * INTERRUPT_SEEDS


@pytest.mark.parametrize("space,expected", [("order", 3 * 2), ("joint", 4)])
def test_other_spaces_run_their_points(space, expected, tmp_path):
    out_dir = tmp_path / "run"
    out = run_study("--space", space, "--match", "none", "--trials", "4" if space == "joint" else "50",
                    "--out", str(out_dir), *TINY)
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(out_dir / "trials.csv")
    done = frame[frame.state == "COMPLETE"]
    assert len(done) == expected
    assert set(done.order) <= {"spatial_first", "pointwise_first"}
    if space == "order":
        assert set(done.order) == {"spatial_first", "pointwise_first"} and sorted(set(done.segments)) == [1, 2, 4]
