"""Which runs a study still owes, read from the storage with Optuna's public API only.

A run is one point's training with one seed (a grid's parameters, seed included). Grid runs are enqueued
(`study.enqueue_trial`) longest first by the process that runs the study, each tagged with its run key as a
user attribute; workers take them from the queue. A run is settled by a COMPLETE trial or by a FAIL that
retrying would not change (marked `permanent`); any other FAIL (Ctrl-C, a killed worker, a storage or lock
error, out of memory) was an interruption, and the run is enqueued again.
"""
from __future__ import annotations

import json

import optuna
from optuna.trial import TrialState

from records.record import TrialRecord

from .spaces import first_seeds

RUN_ATTR = "grid_point"  # the user attribute's stored name, kept so studies stored before resume


def run_key(params: dict) -> str:
    """A run's key: its parameters, seed included."""
    return json.dumps(params, sort_keys=True)


def point_key(params: dict) -> str:
    """A run's point (its network): its parameters but the seed."""
    return run_key({k: v for k, v in params.items() if k != "seed"})


def key_of(trial) -> str | None:
    """The run a trial covers: its grid tag, else its sampled parameters."""
    if RUN_ATTR in trial.user_attrs:
        return trial.user_attrs[RUN_ATTR]
    return run_key(trial.params) if trial.params else None


def settles(trial) -> bool:
    """A trial that settles its run: COMPLETE, or FAIL for a reason retrying would not change."""
    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.FAIL and bool(trial.user_attrs.get("permanent")))


def seed_counts(study: optuna.Study, plan) -> dict[str, int]:
    """--seeds auto: seeds per point (`point_key`) so far, at least the first look, read back from the
    storage (seeds are added point by point, where a claim is still open)."""
    config = plan.config
    counts = {point_key(r): first_seeds(config) for r in plan.space.grid(config)}
    for t in study.get_trials(deepcopy=False):
        key = key_of(t)
        params = json.loads(key) if key else {}
        point = point_key(params)
        if point in counts and "seed" in params:
            counts[point] = min(max(counts[point], params["seed"] + 1), config.max_seeds)
    return counts


def owed_runs(plan, seeds_per_point: dict[str, int] | None = None) -> list[dict]:
    """Every run this study owes (each point's seeds below its count; by default the first look's), longest
    first (largest budget, then most segments: the slowest grouped convs on a CPU), so workers do not end
    with one long trial running alone."""
    config = plan.config
    counts, first = seeds_per_point or {}, first_seeds(config)
    runs = [r for r in plan.space.grid(config) if r["seed"] < counts.get(point_key(r), first)]
    return sorted(runs, key=lambda r: (r["seed"], -(r.get("budget") or 0), -r["segments"]))


def status(study: optuna.Study, runs: list[dict]) -> tuple[list[dict], int]:
    """(runs with no settling, running or waiting trial; runs still running or waiting)."""
    settled, busy = set(), set()
    for t in study.get_trials(deepcopy=False):
        key = key_of(t)
        if settles(t):
            settled.add(key)
        elif t.state in (TrialState.RUNNING, TrialState.WAITING):
            busy.add(key)
    missing = [r for r in runs if run_key(r) not in settled | busy]
    return missing, sum(1 for r in runs if run_key(r) in busy - settled)


def enqueue(study: optuna.Study, runs: list[dict]) -> None:
    tried = {key_of(t) for t in study.get_trials(deepcopy=False)}
    for r in runs:
        key = run_key(r)
        study.enqueue_trial(r, user_attrs={RUN_ATTR: key, **TrialRecord(requeued=key in tried).user_attrs()})


def duplicate_of(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """The number of another trial that already covers this trial's run, if any.

    Settled trials always win; among running ones the lowest number wins, so two processes that
    enqueued or drew the same run never both train it.
    """
    key = key_of(trial)
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)):
        if other.number == trial.number or key_of(other) != key:
            continue
        if settles(other) or (other.state == TrialState.RUNNING and other.number < trial.number):
            return other.number
    return None
