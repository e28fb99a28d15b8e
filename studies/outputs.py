"""What a study writes: trials.csv (the TrialRecord's scalar projection), curves.csv (its list fields,
long), config.json (settings, environment once, timing), verdict.json and report.html."""
from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from records import record
from records.table import write_trial_tables
from verdict import study_verdict

from .spaces import get_space


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: the record's fields (list fields as Python lists, in memory only)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rec = record.from_attrs(
            {**t.params, **t.user_attrs}, number=t.number, state=t.state.name,
            fail_reason=t.user_attrs.get("fail_reason", "interrupted (worker stopped)") if t.state == TrialState.FAIL else "",
            datetime_start=t.datetime_start.isoformat() if t.datetime_start else "",
            datetime_complete=t.datetime_complete.isoformat() if t.datetime_complete else "",
            duration_s=t.duration.total_seconds() if t.duration else math.nan,
            interrupted=t.state == TrialState.FAIL and not t.user_attrs.get("permanent"))
        rows.append(vars(rec))
    columns = list(record.kinds())
    return pd.DataFrame(rows, columns=columns).sort_values("number").reset_index(drop=True)


def write_outputs(config, study: optuna.Study, meta: dict) -> tuple[pd.DataFrame, object]:
    """trials.csv, curves.csv, config.json, verdict.json and report.html; (frame, verdict)."""
    import reports

    out = config.folder
    frame = trials_frame(study)
    write_trial_tables(frame, out)
    meta = {**meta, "trial_states": frame["state"].value_counts().to_dict()}
    (out / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    tidy = reports.tidy(frame)
    verdict = study_verdict(tidy, meta)  # the one verdict: margin from config.json, looks from the seed plan
    (out / "verdict.json").write_text(json.dumps(verdict.to_json(), indent=2, default=str))
    reports.write(tidy, meta, out / "report.html", verdict)
    if out.resolve().parent.name == "runs":  # the default layout: keep runs/index.html listing every study
        reports.write_index(out.resolve().parent)
    return frame, verdict


def study_meta(config, environment: dict, dataset, device, previous: Path) -> dict:
    """config.json's content: the settings (secrets masked), the space's facts (questions, leads,
    exploratory: what the verdict and the page read), the environment once, the data, and on a
    redraw (--report-only) the command and timing of the run that trained."""
    meta = {**config.to_json(), "study_name": config.name, "storage": config.to_json()["storage"] or config.storage_url,
            "git_commit": environment.get("git_commit"), "date": environment.get("date"),
            "environment": {**environment, "optuna": optuna.__version__}, "dataset_description": dataset.description,
            "device": str(device), **get_space(config.space).facts()}
    if config.report_only and previous.is_file():
        try:
            before = json.loads(previous.read_text())
            kept = ("wall_s", "train_s", "workers", "harness_overhead", "budgets", "seeds_stopped")
            meta.update({k: before[k] for k in kept if k in before}, command=before["command"],
                        redrawn_by=meta["command"])
        except (ValueError, KeyError):
            pass
    return meta
