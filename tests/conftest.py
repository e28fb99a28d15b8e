"""Fixtures the test files share: one torch thread for every test; one tiny study trained once for the session
(from this process, by two worker processes), and what a study run in this process needs to leave it as it was;
the report pages that several tests read, drawn once. Test folders live in memory where the machine has it."""
import os
from types import SimpleNamespace

import pytest
import torch

from tests._study import cli, study_here, tiny


def _memory_backed(folder: str = "/dev/shm", room: int = 1 << 30) -> bool:
    """Whether `folder` is a writable tmpfs with `room` bytes free."""
    try:
        with open("/proc/mounts") as mounts:
            tmpfs = any(line.split()[1:3] == [folder, "tmpfs"] for line in mounts)
        stat = os.statvfs(folder)
    except OSError:
        return False
    return tmpfs and os.access(folder, os.W_OK) and stat.f_bavail * stat.f_frsize >= room


# Test folders in memory where the machine has it (unless TMPDIR or pytest's own setting says where): a study's
# journal storage syncs each trial attribute to disk, about 4 ms each, 0.2 s a trial on this project's disks.
# A passing test's folder is removed after it (pyproject.toml: tmp_path_retention_policy), a failing one's kept.
if not {"TMPDIR", "PYTEST_DEBUG_TEMPROOT"} & set(os.environ) and _memory_backed():
    os.environ["PYTEST_DEBUG_TEMPROOT"] = "/dev/shm"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts on one torch thread (one that wants more sets it): the suite's networks are tiny, and
    on two cores that other processes share a second thread waits more than it computes (the training,
    network and cost tests: 15 s on one thread, 107 s on two, with two other processes busy)."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained_study(tmp_path_factory):
    """The session's finished study, trained once and read by every test that asks what a finished study
    holds (its outputs, Optuna's view of it, a resume, two workers sharing it, --deterministic): the segments
    space unmatched (segment counts 1, 2, 4) x 2 seeds, run from this process by two worker processes."""
    out = tmp_path_factory.mktemp("trained") / "run"
    settings = ["--space", "segments", "--match", "none", *tiny(2), "--deterministic"]
    args = [*settings, "--out", str(out)]  # the command a resume repeats
    with study_here():
        assert cli(*args, "--workers", "2") == 0, "run_study.py failed: its line is in the captured stderr"
    return SimpleNamespace(out=out, settings=settings, args=args, journal=out / "study.journal",
                           name="spectrum-segments")


@pytest.fixture
def single_thread_study(monkeypatch):
    """A study run in this process takes one torch thread and one worker, as the runner chooses on a one-core
    machine: on two shared cores a second thread of a tiny network waits more than it computes (each test
    starts on one thread again: one_torch_thread)."""
    monkeypatch.setattr("studies.runner.os.cpu_count", lambda: 1)


@pytest.fixture
def deterministic_undone():
    """A --deterministic study in this process, put back after the test (study_here)."""
    with study_here():
        yield


# ---------------------------------------------------------------- pages drawn once, read by several tests

@pytest.fixture(scope="session")
def joint_page(tmp_path_factory):
    """A synthetic joint study with some failed trials, drawn once: its tidy trials, config, figures and page."""
    import reports
    from records.synthetic import synthetic_config, synthetic_trials

    trials, config = reports.tidy(synthetic_trials("middle", space="joint", fail_every=9)), synthetic_config("joint")
    page = reports.write(trials, config, tmp_path_factory.mktemp("joint") / "report.html")
    return SimpleNamespace(tidy=trials, config=config, figures=reports.figures(trials, config), page=page)


@pytest.fixture(scope="session")
def hostile_page(tmp_path_factory):
    """A study whose strings carry markup (records.synthetic.write_hostile_study), drawn once."""
    import reports
    from records.synthetic import write_hostile_study

    folder = write_hostile_study(tmp_path_factory.mktemp("hostile") / "hostile")
    trials, config = reports.load_study_dir(folder)
    return SimpleNamespace(figures=reports.figures(trials, config), page=reports.write(trials, config,
                                                                                       folder / "report.html"))


@pytest.fixture(scope="session")
def compared_runs(tmp_path_factory):
    """runs/: a segments study with its page, a joint one without, a folder that is no study, and the
    comparison page of the two studies (6 figures and a note, 7 figures)."""
    import reports
    from records.synthetic import write_synthetic_study
    from studies.spaces import SPACES

    runs = tmp_path_factory.mktemp("compare") / "runs"
    a = write_synthetic_study(runs / "segments", "middle", seeds=5)
    b = write_synthetic_study(runs / "joint", "end", space="joint", seeds=5, facts=SPACES["joint"].facts())
    (runs / "junk").mkdir()
    reports.write(*reports.load_study_dir(a), a / "report.html")
    return SimpleNamespace(runs=runs, page=reports.write_compare([a, b]))
