"""The one trial record, Optuna's public view of a study, interruptions that lose nothing, no leaked secrets."""
import json

import optuna
import pandas as pd
import pytest

from records import record
import reports
from studies.config import StudyConfig
from tests._study import cli


def tiny_config(tmp_path, **kw) -> StudyConfig:
    base = dict(space="segments", out=tmp_path / "run", dataset="synthetic", epochs=1, seeds=1, width=4, depth=2,
                batch_size=16, lr=0.02, latency_batch=4, quiet=True, match="none", workers=1)
    return StudyConfig(**{**base, **kw})


def test_a_field_declared_once_reaches_the_stored_trial_trials_csv_and_the_page_table(tmp_path, monkeypatch):
    """Declaring a field on the record is the whole change: store() writes it on the trial, the trials
    frame and trials.csv carry it, tidy types it, and the page's trials table shows it under its label."""
    from dataclasses import field, make_dataclass

    from reports.tables import trials_table
    from studies.outputs import trials_frame

    probe = field(default=None, metadata={"label": "probe label", "identifies": False})
    extended = make_dataclass("ExtendedRecord", [("probe", int, probe)], bases=(record.TrialRecord,), frozen=True)
    monkeypatch.setattr(record, "TrialRecord", extended)
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    record.store(trial, extended(segments=4, position="segments=4", base_width=8, accuracy=0.5, probe=7))
    study.tell(trial, [0.5, 1.0, 1.0])
    frame = trials_frame(study)
    frame[list(record.columns())].to_csv(tmp_path / "trials.csv", index=False)
    written = pd.read_csv(tmp_path / "trials.csv")
    assert written.loc[0, "probe"] == 7 and written.loc[0, "segments"] == 4
    tidy = reports.tidy(written)
    assert str(tidy["probe"].dtype) == "Int64"
    table = trials_table(tidy)
    assert "probe label" in table["head"]
    probe_cells = [row["cells"][table["head"].index("probe label")] for row in table["rows"]]
    assert probe_cells[0][0] == "7"


def test_unknown_attributes_are_not_fields_and_unset_fields_are_not_stored():
    rec = record.from_attrs({"segments": 4, "accuracy": 0.5, "heartbeat": 1.0}, number=3, state="COMPLETE")
    assert rec.user_attrs() == {"segments": 4, "accuracy": 0.5}
    assert "seed" not in record.point_keys() and {"position", "budget_label", "widths"} <= set(record.point_keys())


def test_a_finished_study_opens_in_optuna_with_named_objectives_and_flat_outputs(trained_study):
    from studies.storage import make_storage

    study = optuna.load_study(study_name=trained_study.name, storage=make_storage(str(trained_study.journal)))
    assert study.metric_names == ["accuracy", "macs", "latency_ms"]
    assert {"values_accuracy", "values_macs", "values_latency_ms"} <= set(study.trials_dataframe().columns)
    trials = pd.read_csv(trained_study.out / "trials.csv")
    assert list(trials.columns) == list(record.columns())  # scalars only, in record order
    done = trials[trials.state == "COMPLETE"]
    assert len(done) == 3 * 2 and done.test_accuracy.between(0, 1).all() and done.accuracy.between(0, 1).all()
    curves = pd.read_csv(trained_study.out / "curves.csv")
    assert set(curves.field) == {"accuracy_per_epoch"} and len(curves) == len(done) * 1  # one epoch each
    meta = json.loads((trained_study.out / "config.json").read_text())
    assert "environment" in meta and "environment" not in trials.columns
    verdict = json.loads((trained_study.out / "verdict.json").read_text())
    assert {"overall", "budgets", "pareto_front"} <= set(verdict)


def test_a_lock_error_mid_trial_is_an_interruption_and_the_point_is_trained_again(tmp_path, monkeypatch,
                                                                                  single_thread_study):
    """The loss seen under load: Ctrl-C landed in the journal lock's clean-up, the trial was stored FAIL
    with FileNotFoundError, and the rerun skipped its point. Any failure but divergence or a bad spec is
    an interruption: the same run trains the point again."""
    import studies.train as train
    from studies.runner import run

    real_fit, calls = train.fit, []

    def fit_with_one_lock_error(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise FileNotFoundError("[Errno 2] No such file or directory: 'study.journal.lock1a2b.rename'")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", fit_with_one_lock_error)
    summary = run(tiny_config(tmp_path, width=2))  # 2 points: regular and depthwise
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert summary.counts == {"COMPLETE": 2, "FAIL": 1} and not summary.unfinished
    failed = trials[trials.state == "FAIL"].iloc[0]
    assert failed.interrupted and "FileNotFoundError" in failed.fail_reason
    assert sorted(trials[trials.state == "COMPLETE"].segments) == [1, 2]


def test_a_password_in_the_storage_url_is_never_written_or_printed(tmp_path, capsys):
    """Nor is an unreachable database more than one line: exit 1, no traceback."""
    secret = "S3cretPassw0rd"
    url = f"postgresql://alice:{secret}@127.0.0.1:1/spectrum"
    config = tiny_config(tmp_path, storage=url, command=f"python run_study.py --storage {url}")
    written = json.dumps(config.to_json())
    assert secret not in written and "alice:***@127.0.0.1" in written
    code = cli("--space", "segments", "--storage", url, "--out", tmp_path / "pg", "--dataset", "synthetic",
               "--seeds", "1")
    out = capsys.readouterr()
    assert code == 1 and out.err.count("\n") == 1 and "Traceback" not in out.err, out.err
    assert secret not in out.err + out.out
    for path in (tmp_path / "pg").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


@pytest.mark.parametrize("split", ["validation", "test"])
def test_every_dataset_has_disjoint_train_validation_and_test_splits(split):
    import torch

    from studies.data import load_dataset

    data = load_dataset("mnist5k")
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (3000, 1000, 1000)
    held = data.for_evaluation(split).val_x
    assert torch.equal(held, data.test_x if split == "test" else data.val_x)
    seen = {x.numpy().tobytes() for x in data.train_x}
    assert not any(x.numpy().tobytes() in seen for x in held)  # no held-out image is a training image
    val = {x.numpy().tobytes() for x in data.val_x}
    assert not any(x.numpy().tobytes() in val for x in data.test_x)
    assert (data.test_y.bincount() == 100).all()


def test_seeds_auto_adds_the_seeds_asked_says_why_a_time_limit_stops_it_and_a_rerun_resumes(tmp_path, monkeypatch,
                                                                                            single_thread_study):
    """The runner enqueues exactly the seeds `seed_targets` asks for, at the point it names only, reads them
    back from the storage on a rerun (no seed added twice), and stops at the cap; a round --time-limit does
    not start is said in one line (summary, config.json, the page's header), not an unfinished run."""

    from records.table import tidy
    from studies.runner import run
    from verdict.data import prepare

    import verdict as verdict_module  # the package the runner asks

    asked = []

    def rule(frame, **kwargs):
        asked.append(kwargs["max_seeds"])
        runs = prepare(tidy(frame))
        regular = runs[runs["segments"] == 1]
        return {regular["point"].iloc[0]: regular["seed"].nunique() + 2}  # its claim "still open"

    monkeypatch.setattr(verdict_module, "seed_targets", rule)
    hurried = tiny_config(tmp_path / "hurried", seeds="auto", max_seeds=5, width=2, time_limit=1e-3)
    stopped = run(hurried)
    assert stopped.counts == {"COMPLETE": 2 * 3}  # a round projected past --time-limit never starts
    said = json.loads((hurried.folder / "config.json").read_text())["seeds_stopped"]
    assert said == stopped.seeds_stopped and said in stopped.line() and not stopped.unfinished
    assert said.startswith("seeds stopped by --time-limit 0.001: the next round (2 runs at 1 point, up to 5 seeds)")
    assert said in (hurried.folder / "report.html").read_text()  # the page's header says why
    config = tiny_config(tmp_path, seeds="auto", max_seeds=5, width=2)  # 2 points: regular and depthwise
    summary = run(config)
    trials = pd.read_csv(config.folder / "trials.csv")
    done = trials[trials.state == "COMPLETE"]
    seeds = done.groupby("segments")["seed"].agg(sorted)
    assert seeds[1] == [0, 1, 2, 3, 4] and seeds[2] == [0, 1, 2]  # 3 first, then 2 more at the regular end only
    assert done.groupby(["segments", "seed"]).size().max() == 1 and not summary.unfinished
    again = run(config)
    assert again.counts == summary.counts  # the rerun trains nothing: every owed seed is settled


def test_a_round_is_projected_from_each_points_measured_trial_time():
    import datetime

    import optuna

    from studies.grid import RUN_ATTR, point_key, run_key
    from studies.runner import round_seconds

    study = optuna.create_study()
    start = datetime.datetime(2026, 1, 1)
    for segments, seconds in ((1, 10.0), (2, 30.0)):
        for seed in range(2):
            study.add_trial(optuna.trial.FrozenTrial(
                number=0, trial_id=0, state=optuna.trial.TrialState.COMPLETE, value=0.5, values=None,
                datetime_start=start, datetime_complete=start + datetime.timedelta(seconds=seconds), params={},
                distributions={}, user_attrs={RUN_ATTR: run_key({"segments": segments, "seed": seed})},
                system_attrs={}, intermediate_values={}))
    regular, middle, new = (point_key({"segments": s}) for s in (1, 2, 4))
    seeds = {regular: 2, middle: 2, new: 0}
    more = {regular: 5, middle: 4, new: 1}  # 3 x 10 s + 2 x 30 s + 1 at the study's mean (20 s)
    assert round_seconds(study, seeds, more, workers=2) == pytest.approx((30 + 60 + 20) / 2)
