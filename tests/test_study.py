"""run_study.py end to end on small synthetic studies: outputs, resume, workers, Ctrl-C and kill -9 on real
processes; usage errors checked in this process through main(), one of them from the command line. The
session's one trained study (tests/conftest.py: run from this process by two worker processes) is read by the
tests that ask what a finished study holds; the other studies run in this process, on one thread."""
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

from studies.spaces import SPACES
from tests._study import ROOT, TINY, cli, completed_points, run_study, study_env, tiny


def test_space_list_prints_one_line_per_space(capsys):
    assert cli("--space", "list") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(SPACES)


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


def test_tiny_study_writes_every_point_and_resumes_without_retraining(trained_study, capsys, single_thread_study,
                                                                    deterministic_undone):
    out_dir = trained_study.out
    frame = pd.read_csv(out_dir / "trials.csv")
    frame = frame[frame.state != "PRUNED"]  # a worker's duplicate draw, stood down untrained
    assert sorted(frame.segments) == [1, 1, 2, 2, 4, 4] and set(frame.state) == {"COMPLETE"}
    for column in ("params", "macs", "activations", "latency_ms", "latency_iqr_ms", "accuracy", "test_accuracy",
                   "order", "activation", "seed", "backend", "position", "widths", "latency_format"):
        assert column in frame, column
    assert "environment" not in frame and "accuracy_per_epoch" not in frame  # config.json and curves.csv
    assert set(frame.position) == {"regular", "segments=2", "depthwise"}
    assert (frame.accuracy > 0.5).all()  # 4 synthetic classes: chance is 0.25
    meta = json.loads((out_dir / "config.json").read_text())
    assert meta["space"] == "segments" and "environment" in meta and meta["command"].startswith("python run_study.py")
    assert (out_dir / "report.html").stat().st_size > 10_000
    assert cli(*trained_study.args) == 0, capsys.readouterr().err  # the same command again, here
    frame2 = pd.read_csv(out_dir / "trials.csv")
    frame2 = frame2[frame2.state != "PRUNED"]
    assert len(frame2) == len(frame)
    pd.testing.assert_series_equal(frame2.accuracy, frame.accuracy)


def test_two_workers_on_one_journal_finish_the_grid_without_duplicates(trained_study):
    frame = pd.read_csv(trained_study.out / "trials.csv")
    points = completed_points(frame)
    assert len(points) == len(set(points)) == 3 * 2  # 3 segment counts x 2 seeds, each exactly once


def test_a_point_trains_to_the_same_accuracy_whatever_ran_before_it(trained_study, tmp_path, capsys,
                                                                    single_thread_study, deterministic_undone):
    """Two workers split the points (the session's study), one runs every point in sequence (here): with
    --deterministic (no timed choice of how grouped convs are computed) each point's numbers are the same to
    the last digit."""
    assert cli(*trained_study.settings, "--workers", "1", "--out", tmp_path / "one") == 0, capsys.readouterr().err
    frames = [pd.read_csv(d / "trials.csv") for d in (tmp_path / "one", trained_study.out)]
    for frame in frames:
        assert frame.deterministic.all() and (frame.group_merge == "none").all()
    for column in ("accuracy", "test_accuracy"):
        a, b = (f[f.state == "COMPLETE"].set_index(["segments", "seed"])[column].sort_index() for f in frames)
        assert len(a) == 6
        pd.testing.assert_series_equal(a, b, check_exact=True)
    assert "deterministic algorithms" in (trained_study.out / "report.html").read_text()


def test_matched_study_sweeps_two_budgets_within_three_percent(tmp_path, capsys, single_thread_study):
    out_dir = tmp_path / "run"
    assert cli("--space", "segments", "--out", out_dir, "--budgets", "1e6,3e6", *TINY) == 0, capsys.readouterr().err
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


def test_diverged_trials_are_stored_as_outcomes_and_settle_their_points(tmp_path, capsys, single_thread_study):
    """A real divergence (a rate of 1e12): every trial FAIL, diverged and permanent, none an interruption, so
    none is retried and the study still settles (exit 0)."""
    out_dir = tmp_path / "run"
    assert cli("--space", "segments", "--match", "none", "--out", out_dir, *TINY, "--width", "2",
               "--lr", "1e12") == 0, capsys.readouterr().err
    frame = pd.read_csv(out_dir / "trials.csv")
    assert len(frame) == 2 and set(frame.state) == {"FAIL"}  # regular and depthwise, each once
    assert frame.diverged.all() and frame.permanent.all() and not frame.interrupted.any()
    assert frame.fail_reason.str.contains("TrainingDiverged: loss became").all()


def test_budget_out_of_reach_is_a_usage_error_before_training(tmp_path, capsys):
    assert cli("--space", "segments", "--out", str(tmp_path / "run"), *TINY, "--budgets", "3e4") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--budgets: 30,000 macs is out of reach" in err
    assert not (tmp_path / "run" / "trials.csv").exists()


def _journal_frame(path: Path, name="spectrum-segments") -> pd.DataFrame:
    from studies.outputs import trials_frame
    from studies.storage import make_storage

    return trials_frame(optuna.load_study(study_name=name, storage=make_storage(str(path))))


INTERRUPT_SEEDS = 3  # 9 trials


def _wait_mid_study(journal: Path, proc, complete: int = 2, waiting: int = 2, timeout: float = 180) -> None:
    """Until the study is known to be mid-way: `complete` trials done, one training, `waiting` still waiting
    (an event in the storage, not a guess at timing: whatever runs next, the signal lands mid-study)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if not journal.exists():
            continue
        study = optuna.load_study(study_name="spectrum-segments", storage=_storage(journal))
        states = pd.Series([t.state.name for t in study.get_trials(deepcopy=False)], dtype=object)
        if (states == "COMPLETE").sum() >= complete and (states == "RUNNING").any() \
                and (states == "WAITING").sum() >= waiting:
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


def _start_study(args, **kw) -> subprocess.Popen:
    """run_study.py as a real process in its own process group (its workers with it)."""
    return subprocess.Popen([sys.executable, str(ROOT / "run_study.py"), *args], env=study_env(), cwd=ROOT,
                            start_new_session=True, **kw)


def test_ctrl_c_then_kill_9_mid_study_keep_every_finished_trial_and_the_rerun_completes(tmp_path, capsys,
                                                                                       single_thread_study):
    """One study interrupted twice, each time by a real signal to a real process mid-way: Ctrl-C stops it
    cleanly (exit 130, one line, finished trials kept); the rerun resumes and is killed with kill -9 while a
    trial trains; the next rerun (the same command) completes every point once, and every trial finished
    before either signal keeps its accuracy."""
    out_dir = tmp_path / "run"
    journal = out_dir / "study.journal"
    args = ["--space", "segments", "--match", "none", "--out", str(out_dir), *tiny(INTERRUPT_SEEDS), "--epochs", "3"]
    # as from a terminal: SIGINT at its default, even when pytest itself runs in the background of a
    # non-interactive shell (which ignores SIGINT for `&` jobs, and a child inherits that)
    proc = _start_study(args, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_mid_study(journal, proc, waiting=4)  # so the rerun below still has runs waiting after one more
    signals = _signal_state(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole process group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"stdout: {stdout}\nstderr: {stderr}\nsignals of the study: {signals}"
    assert "Traceback" not in stderr and "rerun the same command to resume" in stderr
    stopped = pd.read_csv(out_dir / "trials.csv")
    finished = stopped[stopped.state == "COMPLETE"]
    assert len(finished) >= 2

    proc = _start_study(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # this run trained one and has one still waiting: the kill lands before the study can end, however slow
    _wait_mid_study(journal, proc, complete=len(finished) + 1, waiting=1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _journal_frame(journal)
    killed = before[before.state == "COMPLETE"]
    assert set(finished.number) < set(killed.number) and len(killed) < 3 * INTERRUPT_SEEDS, "kill -9 mid-study"

    assert cli(*args) == 0, capsys.readouterr().err  # the rerun, in this process
    after = pd.read_csv(out_dir / "trials.csv").set_index("number")
    kept = after.loc[killed.number]
    assert (kept.state == "COMPLETE").all()
    assert list(kept.accuracy) == list(killed.accuracy)
    assert list(after.loc[finished.number].accuracy) == list(finished.accuracy)
    points = completed_points(after)
    assert len(points) == len(set(points)) == 3 * INTERRUPT_SEEDS


@pytest.mark.parametrize("space,width,expected", [("order", 2, 2 * 2), ("joint", 4, 4)])
def test_other_spaces_run_their_points(space, width, expected, tmp_path, capsys, single_thread_study):
    out_dir = tmp_path / "run"
    assert cli("--space", space, "--match", "none", "--trials", "4" if space == "joint" else "50",
               "--out", out_dir, *TINY, "--width", str(width)) == 0, capsys.readouterr().err
    frame = pd.read_csv(out_dir / "trials.csv")
    done = frame[frame.state == "COMPLETE"]
    assert len(done) == expected
    assert set(done.order) <= {"spatial_first", "pointwise_first"}
    if space == "order":
        assert set(done.order) == {"spatial_first", "pointwise_first"} and sorted(set(done.segments)) == [1, 2]
