"""The Optuna study: storage, sampler, objectives, trial attributes, resume and local workers.

Objectives: maximise validation accuracy, minimise MACs, minimise measured latency. Grid spaces use
Optuna's GridSampler, `joint` NSGA-II. Every trial stores its whole point, costs and curve as user
attributes, so the report is redrawn from the storage alone. A trial that fails is stored FAIL with
its reason; an interrupted one is failed as `interrupted` and run again by the next run or worker.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from .config import StudyConfig
from .data import load_dataset
from .spaces import ORDERS, Point, get_space, grid_size, intermediate, network_for, position_label
from .storage import FolderLock, Heartbeat, fail_stale_trials, make_storage
from .train import fit

DIRECTIONS = ("maximize", "minimize", "minimize")  # accuracy, MACs, latency
POLL_S = 2.0
LATENCY_RUN_S = 0.1  # seconds of timing a network: ms-scale forwards give tens of samples


class StudyError(RuntimeError):
    """A runtime failure of the study as a whole (exit 1 with this one line)."""


@dataclass(frozen=True)
class Summary:
    out: Path
    counts: dict
    wall_s: float
    train_s: float
    interrupted: bool = False
    workers: int = 1

    @property
    def overhead(self) -> float:
        """Fraction of the wall time not spent training, on an average worker."""
        return max(0.0, self.wall_s - self.train_s / self.workers) / self.wall_s if self.wall_s else 0.0


# ---------------------------------------------------------------- set-up shared by every worker

def default_budgets(config: StudyConfig, in_channels: int, image_size: int, num_classes: int) -> tuple[float, ...]:
    """Two budgets: the cost of the base-width network at the middle of the spectrum (raised, if need
    be, to 1.25x the cheapest cost every point can reach at its narrowest), and 3x that."""
    from spectrum import narrowest, network_cost, segment_choices

    unmatched = replace(config, match="none")
    choices = segment_choices(config.width)

    def spec(segments, order="spatial_first"):
        return network_for(Point(segments, order, "none", None, 0), unmatched, in_channels, image_size, num_classes)

    value = getattr(network_cost(spec(intermediate(choices))), config.match)
    for segments in choices:
        for order in ORDERS:  # every space's points must reach the budget, pointwise-first ones too
            value = max(value, 1.25 * getattr(network_cost(narrowest(spec(segments, order))), config.match))
    value = float(f"{value:.3g}")  # a round number to read in the report
    return (value, 3 * value)


def budget_label(config: StudyConfig, budget) -> str:
    if config.match == "none" or budget is None:
        return "unmatched"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if budget >= scale:
            return f"{config.match}≈{budget / scale:.3g}{unit}"
    return f"{config.match}≈{budget:.3g}"


def resolve_config(config: StudyConfig, dataset) -> StudyConfig:
    """Fill in the default budgets, and check every grid point can be matched to its budget
    (a budget out of reach is a usage error before any training, not a column of failed trials)."""
    if config.match != "none" and config.budgets is None:
        config = replace(config, budgets=default_budgets(config, dataset.in_channels, dataset.image_size,
                                                         dataset.num_classes))
    if get_space(config.space).is_grid():
        grid_networks(config, dataset)
    return config


def grid_networks(config: StudyConfig, dataset) -> list:
    """The NetworkSpec of every grid point, seeds aside (they share a network); ValueError naming
    --budgets when a budget is out of reach for some point."""
    specs, seen = [], set()
    for params in grid_points(config):
        point = Point(params["segments"], params.get("order", "spatial_first"), params.get("activation", "none"),
                      params["budget"] if config.match != "none" else None, 0)
        if point in seen:
            continue
        seen.add(point)
        try:
            specs.append(network_for(point, config, dataset.in_channels, dataset.image_size, dataset.num_classes))
        except ValueError as err:
            raise ValueError(f"--budgets: {point.budget:,.0f} {config.match} is out of reach: {err}") from None
    return specs


class CoveringGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler, handing control back to `work` after a requeued or duplicate trial.

    GridSampler alone assumes every trial carries its grid id (a requeued one does not) and would keep
    proposing points that other workers are still running; `work` decides what to do next instead.
    """

    def __init__(self, search_space, seed=0):
        super().__init__(search_space, seed=seed)
        # longest first (largest budget, then most segments: the slowest grouped convs on a CPU), so
        # workers do not end with one long trial running alone; every worker sorts alike
        names = self._param_names
        def cost(grid):
            values = dict(zip(names, grid))
            return (-(values.get("budget") or 0), -values.get("segments", 0))
        self._all_grids.sort(key=cost)

    def after_trial(self, study, trial, state, values) -> None:
        attrs = study._storage.get_trial_system_attrs(trial._trial_id)
        if "grid_id" not in attrs or "duplicate_of" in trial.user_attrs or not self._untouched_grid_ids(study):
            # GridSampler would now hand out points that other workers are running: stop instead
            study.stop()
            return
        super().after_trial(study, trial, state, values)

    def _untouched_grid_ids(self, study) -> set:
        """Grid ids no trial has finished or is running."""
        touched = {t.system_attrs["grid_id"] for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
                   if "grid_id" in t.system_attrs and t.state != TrialState.WAITING}
        return set(range(len(self._all_grids))) - touched


def make_sampler(config: StudyConfig, worker: int):
    space = get_space(config.space)
    if space.is_grid():
        # one seed for every worker: GridSampler shuffles its grid with it, and grid ids must mean
        # the same point in every process
        return CoveringGridSampler(space.grid(config), seed=0)
    return optuna.samplers.NSGAIISampler(seed=worker, population_size=min(20, config.trials or 20))


def open_study(config: StudyConfig, worker: int = 0) -> optuna.Study:
    storage = make_storage(config.storage_url)
    return optuna.create_study(storage=storage, study_name=config.name, directions=list(DIRECTIONS),
                               sampler=make_sampler(config, worker), load_if_exists=True)


# ---------------------------------------------------------------- which points still need a trial

def point_key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def _terminal(trial) -> bool:
    """A trial that settles its point: COMPLETE, or FAIL for a real reason (not an interruption)."""
    return trial.state == TrialState.COMPLETE or (trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted"))


def grid_points(config: StudyConfig) -> list[dict]:
    import itertools

    grid = get_space(config.space).grid(config)
    names = sorted(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


@dataclass(frozen=True)
class GridStatus:
    missing: list  # points with no settling, running or waiting trial
    running: int  # points only a running trial (maybe another worker's) covers
    waiting: int  # points queued for a rerun, not yet taken by a worker
    untried: int  # missing points never tried at all (GridSampler proposes those itself)


def grid_status(study: optuna.Study, config: StudyConfig) -> GridStatus:
    settled, running, waiting, tried = set(), set(), set(), set()
    for t in study.get_trials(deepcopy=False):
        tried.add(point_key(t.params))
        if _terminal(t):
            settled.add(point_key(t.params))
        elif t.state == TrialState.RUNNING:
            running.add(point_key(t.params))
        elif t.state == TrialState.WAITING:
            waiting.add(point_key(t.system_attrs.get("fixed_params", {})))
    keys = [point_key(p) for p in grid_points(config)]
    missing = [dict(k) for k in keys if k not in settled | running | waiting]
    return GridStatus(missing, sum(1 for k in keys if k in running - settled),
                      sum(1 for k in keys if k in waiting - settled - running),
                      sum(1 for p in missing if point_key(p) not in tried))


def duplicate_of(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """The number of another trial that already covers this trial's point, if any.

    Settled trials always win; among running ones the lowest number wins, so two racing workers
    never both train a point (GridSampler alone can hand the same point to both).
    """
    key = point_key(trial.params)
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)):
        if other.number == trial.number or point_key(other.params) != key:
            continue
        if _terminal(other) or (other.state == TrialState.RUNNING and other.number < trial.number):
            return other.number
    return None


# ---------------------------------------------------------------- latency, once per network

def latency_key(spec, config: StudyConfig, device) -> str:
    """Latency depends on the network, batch and device, not on the seed: one measurement a spec."""
    import hashlib

    return hashlib.sha1(f"{spec!r}|{config.latency_batch}|{config.backend}|{device}".encode()).hexdigest()[:16]


def measure_grid_latency(config: StudyConfig, dataset, device) -> dict:
    """Time every distinct network of a grid space in this process, before any worker trains, so no
    measurement shares the cores with training; cached in DIR/latency.json across runs."""
    from spectrum import build_network, cost

    path = Path(config.out) / "latency.json"
    cache = json.loads(path.read_text()) if path.is_file() else {}
    space = get_space(config.space)
    if not space.is_grid() or config.report_only:
        return cache
    shape = (dataset.in_channels, dataset.image_size, dataset.image_size)
    for spec in grid_networks(config, dataset):
        key = latency_key(spec, config, device)
        if key not in cache:
            lat = cost.latency(build_network(spec, config.backend), shape, batch_size=config.latency_batch,
                               device=device, min_run_time=LATENCY_RUN_S)
            cache[key] = {k: lat[k] for k in ("median_ms", "iqr_ms", "device", "batch_size")}
            path.write_text(json.dumps(cache, indent=1))
    return cache


# ---------------------------------------------------------------- one trial

class Objective:
    """Trains one point; everything the report needs goes into the trial's user attributes."""

    def __init__(self, config: StudyConfig, dataset, device, environment: dict, log, latency_cache=None):
        self.config, self.data, self.device, self.environment, self.log = config, dataset, device, environment, log
        self.latency_cache = latency_cache or {}
        self.bar = None
        self.space = get_space(config.space)
        self.train_s = 0.0

    def __call__(self, trial: optuna.Trial):
        point = self.space.suggest(trial, self.config)
        dup = duplicate_of(trial.study, trial)
        if dup is not None:
            trial.set_user_attr("duplicate_of", dup)
            raise optuna.TrialPruned(f"point already covered by trial {dup}")
        with Heartbeat(trial.study, trial._trial_id):
            try:
                return self._train(trial, point)
            except KeyboardInterrupt:
                trial.set_user_attr("interrupted", True)
                trial.set_user_attr("fail_reason", "interrupted (Ctrl-C)")
                raise
            except Exception as err:
                reason = f"{type(err).__name__}: {err}".strip()
                trial.set_user_attr("fail_reason", reason[:500])
                self.log(f"trial {trial.number} failed: {reason[:200]}")
                raise

    def _train(self, trial: optuna.Trial, point: Point):
        from spectrum import build_network, cost

        config, data = self.config, self.data
        spec = network_for(point, config, data.in_channels, data.image_size, data.num_classes)
        attrs = {
            "space": config.space, "position": position_label(point.segments, config.width),
            "matched_position": spec.position.label, "segments": point.segments, "base_width": config.width,
            "group_width": config.width // point.segments, "order": point.order, "activation": point.activation,
            "kernel_size": spec.kernel_size, "intermediate_norm": spec.intermediate_norm, "depth": config.depth,
            "match": config.match, "budget": point.budget, "budget_label": budget_label(config, point.budget),
            "widths": list(spec.widths), "seed": point.seed, "epochs": config.epochs, "batch_size": config.batch_size,
            "backend": config.backend, "device": str(self.device), "dataset": data.name,
            "environment": self.environment,
        }
        import torch

        torch.manual_seed(point.seed)  # the initial weights belong to the point, not to what the worker ran before
        model = build_network(spec, config.backend)
        shape = (data.in_channels, data.image_size, data.image_size)
        counts = cost.count(model, shape)
        lat = self.latency_cache.get(latency_key(spec, config, self.device))
        if lat is None:  # not a grid point timed up front (joint space): time it here
            lat = cost.latency(model, shape, batch_size=config.latency_batch, device=self.device,
                               min_run_time=LATENCY_RUN_S)
        attrs.update(params=counts.params, macs=counts.macs, activations=counts.activations,
                     latency_ms=lat["median_ms"], latency_iqr_ms=lat["iqr_ms"], latency_device=lat["device"],
                     latency_batch=lat["batch_size"])
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        curve = []

        def on_epoch(epoch, accuracy):
            curve.append(accuracy)
            trial.set_user_attr("accuracy_per_epoch", curve)
            if self.bar is not None:
                self.bar.set_postfix_str(f"#{trial.number} epoch {epoch}/{config.epochs}: {accuracy:.1%}")

        result = fit(model, data, epochs=config.epochs, batch_size=config.batch_size, seed=point.seed,
                     device=self.device, lr=config.lr, on_epoch=on_epoch)
        self.train_s += result.train_time_s + result.eval_time_s
        trial.set_user_attr("accuracy", result.accuracy)
        trial.set_user_attr("train_time_s", result.train_time_s)
        trial.set_user_attr("eval_time_s", result.eval_time_s)
        self.log(f"trial {trial.number:>3} {attrs['position']:>12} {point.order:<15} {point.activation:<10} "
                 f"{attrs['budget_label']:<12} seed {point.seed}: acc {result.accuracy:6.2%}  "
                 f"params {counts.params:>9,}  MACs {counts.macs:>12,}  {lat['median_ms']:.2f} ms  "
                 f"[{result.train_time_s:.1f} s]")
        return result.accuracy, float(counts.macs), float(lat["median_ms"])


# ---------------------------------------------------------------- workers

def _logger(config: StudyConfig, bar=None):
    def log(message: str) -> None:
        if config.quiet:
            return
        if bar is not None:
            bar.write(message)
        else:
            print(message, flush=True)
    return log


def work(config: StudyConfig, worker: int = 0, threads: int | None = None, show_bar: bool = True) -> float:
    """One worker: train points until the space is covered (or `config.trials` is reached); its training seconds."""
    import torch
    from spectrum import cost

    if threads:
        torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    device = cost.resolve_device(config.device)
    data = load_dataset(config.dataset, config.data_dir)
    study = open_study(config, worker)
    space = get_space(config.space)
    bar = None
    if show_bar and not config.quiet:
        from tqdm.auto import tqdm

        total = grid_size(space, config) if space.is_grid() else config.trials
        bar = tqdm(total=total, desc=f"{config.space} trials", unit="trial", dynamic_ncols=True)
    cache_path = Path(config.out) / "latency.json"
    latency_cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    objective = Objective(config, data, device, cost.environment(device), _logger(config, bar), latency_cache)
    objective.bar = bar
    budget = config.trials

    def refresh_bar(study, _trial=None):
        if bar is not None:
            bar.n = sum(1 for t in study.get_trials(deepcopy=False) if _terminal(t))
            bar.refresh()

    try:
        refresh_bar(study)
        while budget is None or budget > 0:
            callbacks = [refresh_bar]
            fail_stale_trials(study, all_running_stale=False)
            if space.is_grid():
                status = grid_status(study, config)
                if not (status.missing or status.running or status.waiting):
                    break
                if not (status.missing or status.waiting):
                    # only other workers' trials remain: wait for them, or for them to go stale
                    time.sleep(POLL_S)
                    continue
                if status.missing and not status.untried:
                    # the grid was swept; run again what was interrupted or lost to a race
                    for params in status.missing:
                        study.enqueue_trial(params, user_attrs={"requeued": True})
                n = budget
            else:
                target = config.trials or 20
                taken = sum(1 for t in study.get_trials(deepcopy=False)
                            if _terminal(t) or t.state == TrialState.RUNNING)
                if target - taken <= 0:
                    break
                n = -(-(target - taken) // (config.workers or 1))  # each local worker takes its share
                callbacks.append(optuna.study.MaxTrialsCallback(target, states=(TrialState.COMPLETE, TrialState.FAIL)))
            before = len(study.get_trials(deepcopy=False))
            study.optimize(objective, n_trials=n, catch=(Exception,), callbacks=callbacks,
                           gc_after_trial=False)
            ran = len(study.get_trials(deepcopy=False)) - before
            if budget is not None:
                budget -= ran
            if not space.is_grid():
                break
    finally:
        if bar is not None:
            bar.close()
    return objective.train_s


def _progress(config: StudyConfig):
    """A trials bar for the parent of several workers, read from the storage; the postfix shows the
    epoch each running trial has reached."""
    if config.quiet:
        return lambda close=False: None
    from tqdm.auto import tqdm

    space = get_space(config.space)
    bar = tqdm(total=grid_size(space, config) if space.is_grid() else (config.trials or 20),
               desc=f"{config.space} trials", unit="trial", dynamic_ncols=True)
    study = optuna.load_study(study_name=config.name, storage=make_storage(config.storage_url))

    def watch(close: bool = False) -> None:
        trials = study.get_trials(deepcopy=False)
        bar.n = sum(1 for t in trials if _terminal(t))
        running = [f"#{t.number} epoch {len(t.user_attrs.get('accuracy_per_epoch', []))}/{config.epochs}"
                   for t in trials if t.state == TrialState.RUNNING]
        bar.set_postfix_str(", ".join(running), refresh=True)
        if close:
            bar.close()
    return watch


def _worker_main(config: StudyConfig, worker: int, threads: int, queue) -> None:
    try:
        queue.put(("ok", work(config, worker, threads, show_bar=False)))
    except KeyboardInterrupt:
        queue.put(("interrupted", 0.0))
    except Exception as err:  # reported by the parent as one line
        queue.put(("error", f"worker {worker}: {type(err).__name__}: {err}"))


def default_workers(device) -> int:
    """On a CPU, two single-threaded workers train small networks faster than one with two threads
    (and do not stall when another process takes a core); on a GPU, one."""
    return min(2, os.cpu_count() or 1) if device.type == "cpu" else 1


def run_workers(config: StudyConfig) -> float:
    """`config.workers` local processes sharing the storage; their total training seconds."""
    threads = max(1, (os.cpu_count() or 1) // config.workers)
    if config.workers == 1:
        return work(config, 0, threads)
    import queue as queues

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    # daemons: once a worker has reported, its stored trials are safe and its interpreter's teardown
    # (a second or two) need not hold up the report
    procs = [ctx.Process(target=_worker_main, args=(config, i, threads, queue), daemon=True)
             for i in range(config.workers)]
    for p in procs:
        p.start()
    results, watch = [], _progress(config)
    try:
        while len(results) < len(procs):
            try:
                results.append(queue.get(timeout=1.0))
            except queues.Empty:
                watch()
                if not any(p.is_alive() for p in procs) and queue.empty():
                    raise StudyError("a worker process died without reporting (killed, or out of memory?)")
    finally:
        watch(close=True)
    errors = [r[1] for r in results if r[0] == "error"]
    if any(r[0] == "interrupted" for r in results):
        raise KeyboardInterrupt
    if errors:
        raise StudyError(errors[0])
    return sum(r[1] for r in results)


# ---------------------------------------------------------------- outputs

TRIAL_COLUMNS = ["number", "state", "fail_reason", "datetime_start", "datetime_complete", "duration_s"]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: state, timing, every parameter and user attribute (lists and dicts as JSON)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {
            "number": t.number, "state": t.state.name,
            "fail_reason": t.user_attrs.get("fail_reason", "") if t.state == TrialState.FAIL else "",
            "datetime_start": t.datetime_start.isoformat() if t.datetime_start else "",
            "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else "",
            "duration_s": t.duration.total_seconds() if t.duration else math.nan,
        }
        row.update(t.params)
        for key, value in t.user_attrs.items():
            if key == "fail_reason":
                continue
            row[key] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    return frame.sort_values("number").reset_index(drop=True)


def write_outputs(config: StudyConfig, study: optuna.Study, extra: dict) -> pd.DataFrame:
    out = Path(config.out)
    frame = trials_frame(study)
    frame.to_csv(out / "trials.csv", index=False)
    meta = study_meta(config, frame, extra)
    (out / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    import reports

    reports.write(frame, meta, out / "report.html")
    if out.resolve().parent.name == "runs":  # the default layout: keep runs/index.html listing every study
        reports.write_index(out.resolve().parent)
    return frame


def study_meta(config: StudyConfig, frame: pd.DataFrame, extra: dict) -> dict:
    env = extra["environment"]
    return {
        **config.to_json(), "study_name": config.name, "storage": config.storage_url,
        "git_commit": env.get("git_commit"), "date": env.get("date"), "environment": env,
        "trial_states": frame["state"].value_counts().to_dict() if len(frame) else {}, **extra,
    }


# ---------------------------------------------------------------- the whole run

def run(config: StudyConfig) -> Summary:
    """Open or resume the study, train what is missing, write trials.csv, config.json and report.html."""
    from spectrum import cost

    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(config.out)
    device = cost.resolve_device(config.device)  # an absent device or a bad data folder: a usage error
    dataset = load_dataset(config.dataset, config.data_dir)  # before anything is written
    config = resolve_config(config, dataset)
    out.mkdir(parents=True, exist_ok=True)
    if config.workers is None:
        config = replace(config, workers=default_workers(device))
    lock = FolderLock(out)
    own_folder = lock.acquire()
    interrupted, train_s = False, 0.0
    try:
        study = open_study(config)
        if own_folder and config.storage is None:
            # nobody else can be writing this folder's journal: whatever still runs was interrupted
            fail_stale_trials(study, all_running_stale=True)
        env = cost.environment(device)
        extra = {"environment": env, "dataset_description": dataset.description, "device": str(device)}
        previous = out / "config.json"
        if config.report_only and previous.is_file():  # keep the command that trained the study
            try:
                before = json.loads(previous.read_text())
                extra.update({k: before[k] for k in ("wall_s", "train_s", "workers", "harness_overhead") if k in before},
                             command=before["command"], redrawn_by=config.command)
            except (ValueError, KeyError):
                pass
        config.write(out / "config.json", **extra)
        if not config.report_only:
            try:
                measure_grid_latency(config, dataset, device)
                train_s = run_workers(config)
            except KeyboardInterrupt:
                interrupted = True
                if own_folder and config.storage is None:
                    fail_stale_trials(study, all_running_stale=True)
        wall = time.perf_counter() - started
        # harness overhead: the run's wall time not spent training on an average worker
        overhead = max(0.0, wall - train_s / config.workers) / wall if train_s else None
        if not config.report_only:  # a redraw keeps the timing of the run that trained
            extra.update(wall_s=round(wall, 2), train_s=round(train_s, 2), workers=config.workers,
                         harness_overhead=round(overhead, 4) if overhead is not None else None)
        frame = write_outputs(config, study, extra)
    finally:
        lock.release()
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    return Summary(out, counts, time.perf_counter() - started, train_s, interrupted, config.workers)
