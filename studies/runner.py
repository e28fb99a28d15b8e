"""A whole study: open or resume it, time every network once, let workers train what is owed (adding
seeds where the verdict is still open, with --seeds auto), then write the outputs.

Objectives: maximise validation accuracy, minimise MACs, minimise measured latency.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import optuna

from .checks import study_device
from .data import dataset_for
from .grid import enqueue, key_of, owed_runs, point_key, run_key, seed_counts, settles, status
from .model import check_stored, model_meta
from .objective import latency_key, measure_latency
from .outputs import study_meta, write_outputs
from .plan import StudyPlan, resolve_plan
from .reproducible import make_deterministic
from .spaces import SPACES
from .storage import FolderLock, fail_stale_trials
from .workers import Pool, StudyError, default_workers, open_study, progress, work

RETRIES_PER_RUN = 2  # an interrupted run is trained again at most this often in one invocation


def failed_alike(trials) -> str:
    """'all N trials failed with R' when two or more finished trials all failed with one stored reason R
    (an error every run repeats is no interruption: retrying would repeat it); '' otherwise. Diverged runs
    are outcomes, not errors: they settle their runs."""
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE
            or (t.state == optuna.trial.TrialState.FAIL and not t.user_attrs.get("diverged"))]
    reasons = {t.user_attrs.get("fail_reason") if t.state == optuna.trial.TrialState.FAIL else None for t in done}
    if len(done) < 2 or len(reasons) != 1 or None in reasons:
        return ""
    return f"all {len(done)} trials failed with {reasons.pop().splitlines()[0]}; see fail_reason in trials.csv"


@dataclass(frozen=True)
class Summary:
    out: Path
    counts: dict
    wall_s: float
    train_s: float
    workers: int = 1
    interrupted: bool = False
    unfinished: str = ""  # why some owned runs are neither complete nor failed for good
    outcome: str = ""
    seeds_stopped: str = ""  # why --seeds auto added no more seeds while claims were open (--time-limit)

    def line(self) -> str:
        names = {"PRUNED": "duplicate draws skipped"}
        states = ", ".join(f"{n} {names.get(s, s.lower())}" for s, n in sorted(self.counts.items()))
        busy = max(0.0, self.wall_s - self.train_s / self.workers) / self.wall_s if self.train_s and self.wall_s else None
        extra = f", harness overhead {busy:.0%}" if busy is not None else ""
        verdict = f"; verdict: {self.outcome}" if self.outcome else ""
        stopped = f"\n{self.seeds_stopped}" if self.seeds_stopped else ""
        return (f"{states or 'no trials'} in {self.wall_s:.0f} s ({self.workers} worker(s), training "
                f"{self.train_s:.0f} s{extra}){verdict} -> {self.out / 'report.html'}{stopped}")


def grid_latency(plan: StudyPlan, device, threads) -> dict:
    """Time every distinct network of a grid space here, before any worker trains, so no measurement
    shares the cores with training; kept in DIR/latency.json across runs, handed to workers as a value."""
    config = plan.config
    path = config.folder / "latency.json"
    cache = json.loads(path.read_text()) if path.is_file() else {}
    if config.report_only:
        return cache
    for spec in plan.networks.values():
        key = latency_key(spec, config, device)
        if key not in cache:
            cache[key] = measure_latency(spec, config, plan.shape, device, threads)
            path.write_text(json.dumps(cache, indent=1))
    return cache


def seed_targets(study, config, seeds: dict[str, int]) -> dict[str, int]:
    """--seeds auto: the points' new seed counts (`grid.point_key` -> count), from the verdict's rule on what
    is stored: the points of the claims still open, each to its next planned look."""
    from records.table import tidy
    from verdict import seed_targets as rule
    from verdict.data import prepare

    from .outputs import trials_frame

    frame = tidy(trials_frame(study))
    targets = rule(frame, margin=config.margin / 100, max_seeds=config.max_seeds,  # looks: the trials' seed plan
                   questions=SPACES[config.space].questions)  # the claims study_verdict makes, under the same alpha
    if not targets:
        return {}
    runs = prepare(frame)
    point_of = dict(zip(runs["number"], runs["point"]))  # the verdict's point of each trial
    more = {}
    for t in study.get_trials(deepcopy=False):
        key = key_of(t)
        point = key and point_key(json.loads(key))
        if point in seeds and point_of.get(t.number) in targets:
            more[point] = min(max(seeds[point], targets[point_of[t.number]]), config.max_seeds)
    return more


def round_seconds(study, seeds: dict[str, int], more: dict[str, int], workers: int) -> float:
    """The wall seconds a round adding `more` over `seeds` (point -> seed count) is projected to take: each new
    run at its point's mean measured trial time (the study's mean where the point has none), over the workers."""
    times: dict[str, list[float]] = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        key = key_of(t)
        if key and t.duration:
            times.setdefault(point_key(json.loads(key)), []).append(t.duration.total_seconds())
    every = [x for v in times.values() for x in v]
    overall = sum(every) / len(every) if every else 0.0
    total = sum((more[p] - seeds.get(p, 0)) * (sum(times[p]) / len(times[p]) if times.get(p) else overall)
                for p in more)
    return total / max(1, workers or 1)


def train_grid(plan: StudyPlan, study, run_round, started: float) -> str:
    """Enqueue what the grid owes and run rounds until it is settled: (why runs remain unfinished, or '';
    why --seeds auto stopped adding seeds before the verdict settled, or '')."""
    config = plan.config
    seeds = seed_counts(study, plan) if config.auto_seeds else None
    attempts, cap = Counter(), plan.space.trials(config)
    while True:
        runs = owed_runs(plan, seeds)
        missing, _ = status(study, runs)
        retry = [r for r in missing if attempts[run_key(r)] < RETRIES_PER_RUN][:cap]
        attempts.update(run_key(r) for r in retry)
        cap = None if cap is None else cap - len(retry)
        enqueue(study, retry)
        run_round(len(runs))
        missing, _ = status(study, runs)
        keys = {run_key(r) for r in runs}
        alike = failed_alike([t for t in study.get_trials(deepcopy=False) if key_of(t) in keys])
        if alike:
            return alike, ""
        if missing and cap != 0 and any(attempts[run_key(r)] < RETRIES_PER_RUN for r in missing):
            continue  # runs interrupted by a killed worker or a storage error: once more
        if missing:
            why = "--trials reached" if cap == 0 else "interrupted twice; see fail_reason"
            return f"{len(missing)} of {len(runs)} runs unfinished ({why}); rerun the same command to resume", ""
        if not config.auto_seeds:
            return "", ""
        more = {**seeds, **seed_targets(study, config, seeds)}  # one verdict over the storage per round
        if more == seeds:  # every claim settled or its points at the cap
            return "", ""
        ends = time.perf_counter() - started + round_seconds(study, seeds, more, config.workers)
        if config.time_limit and ends > config.time_limit:  # the verdict stays at the look reached
            return "", time_limit_stop(seeds, more, ends, config.time_limit)
        seeds = more


def time_limit_stop(seeds: dict[str, int], more: dict[str, int], ends: float, limit: float) -> str:
    """Why --seeds auto stopped short, in one line: the round it did not start, and what would run it."""
    grown = [p for p in more if more[p] > seeds.get(p, 0)]
    runs = sum(more[p] - seeds.get(p, 0) for p in grown)
    return (f"seeds stopped by --time-limit {limit:g}: the next round ({runs} runs at {len(grown)} point"
            f"{'s' if len(grown) != 1 else ''}, up to {max(more[p] for p in grown)} seeds) was projected to end at "
            f"{ends:.0f} s; rerun the same command to add them (--time-limit counts from the start of each run)")


def run(config) -> Summary:
    """Open or resume the study, train what is missing, write trials.csv, config.json and report.html."""
    from common.environment import environment

    started = time.perf_counter()
    if config.deterministic:  # before any CUDA work (cuBLAS reads its workspace setting then)
        make_deterministic()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    device = study_device(config)  # an absent device or a bad data folder: a usage error
    dataset = dataset_for(config)  # before anything is written
    if not config.quiet:
        print(f"data: {dataset.description}", flush=True)
    if config.workers is None:
        config = replace(config, workers=default_workers(config))
    plan = resolve_plan(config, dataset)
    config = plan.config
    config.folder.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // config.workers)
    lock = FolderLock(config.folder)
    own_folder = lock.acquire()
    interrupted, train_s, unfinished, stopped = False, 0.0, "", ""
    try:
        study = open_study(plan)
        check_stored(config, study)  # --model: a changed model file (or another network) is refused
        if own_folder and config.storage is None:
            # nobody else can be writing this folder's journal: whatever still runs was interrupted
            fail_stale_trials(study, all_running_stale=True)
        meta = study_meta(config, environment(device), dataset, device, config.folder / "config.json")
        meta.update(model_meta(plan))  # --model: the conversion the page shows
        config.write(config.folder / "config.json", **{k: v for k, v in meta.items() if k not in config.to_json()})
        if not config.report_only:
            try:
                if config.lr == "auto":
                    plan, train_s = _tune_rates(plan, device, threads, started)
                spent, unfinished, stopped = _train(plan, study, device, threads, started)
                train_s += spent
            except KeyboardInterrupt:
                interrupted = True
                if own_folder and config.storage is None:
                    fail_stale_trials(study, all_running_stale=True)
            wall = time.perf_counter() - started
            meta.update(wall_s=round(wall, 2), train_s=round(train_s, 2), workers=config.workers, seeds_stopped=stopped,
                        harness_overhead=round(max(0.0, wall - train_s / config.workers) / wall, 4) if train_s else None)
        frame, verdict = write_outputs(config, study, meta)
    finally:
        lock.release()
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    return Summary(config.folder, counts, time.perf_counter() - started, train_s, config.workers, interrupted,
                   unfinished, verdict.overall, stopped)


def _tune_rates(plan: StudyPlan, device, threads, started) -> tuple[StudyPlan, float]:
    """--lr auto: the rate-tuning study first (DIR/lr_tuning.csv), then the plan with each point's rate."""
    from .lr_tuning import chosen_rates, tuning_plan, tuning_table

    tuning = tuning_plan(plan)
    study = open_study(tuning)
    spent, unfinished, _ = _train(tuning, study, device, threads, started)
    if unfinished:
        raise StudyError(f"--lr auto: the rate tuning left {unfinished}")
    tuning_table(study).to_csv(plan.config.folder / "lr_tuning.csv", index=False)
    return replace(plan, learning_rates=chosen_rates(study, plan)), spent


def _train(plan: StudyPlan, study, device, threads, started) -> tuple[float, str, str]:
    """Workers in this process (one) or in a pool (several) until the study is settled: the training
    seconds, why runs remain unfinished, why seeds stopped short (each '' if none)."""
    config, grid, trials = plan.config, plan.is_grid, plan.space.trials(plan.config)
    latency = grid_latency(plan, device, threads)
    watch = progress(config, trials)
    pool = Pool(plan, latency, config.workers, threads) if config.workers > 1 else None
    spent = [0.0]

    def run_round(total):
        watch(total=total)
        if pool is None:
            spent[0] += work(plan, latency, 0, threads)
        elif grid:
            pool.wait_idle(study, watch)  # a joint-space pool runs until its trial count: finish() waits

    try:
        unfinished, stopped = train_grid(plan, study, run_round, started) if grid else ("", "")
        if not grid:
            run_round(trials)
        if pool is not None:
            spent[0] += pool.finish(watch)
    finally:
        watch(close=True)
    if not grid:
        settled = sum(1 for t in study.get_trials(deepcopy=False) if settles(t))
        if settled < trials:
            unfinished = failed_alike(study.get_trials(deepcopy=False)) or \
                f"{settled} of {trials} trials settled; rerun the same command to resume"
    return spent[0], unfinished, stopped
