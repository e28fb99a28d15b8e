"""Workers: processes that take trials from the study (its queue for grid spaces, NSGA-II for `joint`)
and train them, one at a time, until told to stop."""
from __future__ import annotations

import multiprocessing
import os
import time
import warnings

import optuna
from optuna.trial import TrialState

from .data import load_dataset
from .grid import POINT_ATTR, settles
from .objective import Objective
from .reproducible import make_deterministic
from .spaces import get_space
from .storage import fail_stale_trials, make_storage

POLL_S = 1.0
DIRECTIONS = ("maximize", "minimize", "minimize")
METRIC_NAMES = ["accuracy", "macs", "latency_ms"]  # what Optuna's plots, CLI and dashboard call the objectives


class StudyError(RuntimeError):
    """A runtime failure of the study as a whole (exit 1 with this one line)."""


def open_study(config, worker: int = 0) -> optuna.Study:
    """Create or load the study; grid spaces are fed through the queue, `joint` samples with NSGA-II."""
    if get_space(config.space).is_grid():
        sampler = optuna.samplers.RandomSampler(seed=worker)  # never asked: every grid trial is enqueued
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=worker, population_size=min(20, config.trials or 20))
    study = optuna.create_study(storage=make_storage(config.storage_url), study_name=config.name,
                                directions=list(DIRECTIONS), sampler=sampler, load_if_exists=True)
    if study.metric_names != METRIC_NAMES:
        with warnings.catch_warnings():  # experimental in Optuna 4, and the names are all we ask of it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(METRIC_NAMES)
    return study


def default_workers(device) -> int:
    """On a CPU, two single-threaded workers train small networks faster than one with two threads
    (and do not stall when another process takes a core); on a GPU, one."""
    return min(2, os.cpu_count() or 1) if device.type == "cpu" else 1


def _logger(config, bar=None):
    def log(message: str) -> None:
        if not config.quiet:
            (bar.write if bar is not None else lambda m: print(m, flush=True))(message)
    return log


def _joint_done(study, config) -> bool:
    taken = [t for t in study.get_trials(deepcopy=False) if settles(t) or t.state == TrialState.RUNNING]
    return len(taken) >= (config.trials or 20)


def work(config, latency: dict, worker: int = 0, threads: int | None = None, stop=None, bar=None) -> float:
    """One worker: train trials until the queue is empty and `stop` is set (None: stop when empty);
    its training seconds."""
    import torch
    from spectrum import cost

    if config.deterministic:
        make_deterministic()
    if threads:
        torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    device = cost.resolve_device(config.device)
    study = open_study(config, worker)
    objective = Objective(config, load_dataset(config.dataset, config.data_dir), device, _logger(config, bar),
                          latency, threads)
    objective.bar = bar
    grid = get_space(config.space).is_grid()
    while True:
        fail_stale_trials(study, all_running_stale=False)
        if not grid:
            if _joint_done(study, config):
                break
        elif not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            if stop is None or stop.is_set():
                break
            time.sleep(POLL_S)
            continue
        trial = study.ask()
        if grid and POINT_ATTR not in trial.user_attrs:
            study.tell(trial, state=TrialState.PRUNED)  # another worker took the last queued point first
            continue
        objective(study, trial)
        if bar is not None:
            bar.update(1)
    return objective.train_s


def _worker_main(config, latency, worker: int, threads: int, stop, results) -> None:
    try:
        results.put(("ok", work(config, latency, worker, threads, stop)))
    except KeyboardInterrupt:
        results.put(("interrupted", 0.0))
    except Exception as err:  # reported by the parent as one line
        results.put(("error", f"worker {worker}: {type(err).__name__}: {err}"))


class Pool:
    """`n` worker processes sharing the study; `finish()` lets them drain the queue and collects them."""

    def __init__(self, config, latency: dict, n: int, threads: int):
        ctx = multiprocessing.get_context("spawn")
        self.stop, self.results = ctx.Event(), ctx.Queue()
        # daemons: once a worker has reported, its stored trials are safe and its interpreter's teardown
        # need not hold up the report
        self.procs = [ctx.Process(target=_worker_main, args=(config, latency, i, threads, self.stop, self.results),
                                  daemon=True) for i in range(n)]
        for p in self.procs:
            p.start()

    def wait_idle(self, study, watch) -> None:
        """Until no trial is waiting or running (a worker that died meanwhile is an error)."""
        while study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)):
            watch()
            fail_stale_trials(study, all_running_stale=False)  # a worker elsewhere that stopped beating
            if not any(p.is_alive() for p in self.procs) and self.results.empty():
                raise StudyError("every worker process died without reporting (killed, or out of memory?)")
            self._raise_reported()
            time.sleep(POLL_S)

    def _raise_reported(self) -> None:
        if self.results.empty():
            return
        state, detail = self.results.get()
        if state == "interrupted":
            raise KeyboardInterrupt
        if state == "error":
            raise StudyError(detail)
        self.results.put((state, detail))  # a worker that finished normally: collected by finish()

    def finish(self, watch) -> float:
        import queue as queues

        self.stop.set()
        done = []
        while len(done) < len(self.procs):
            try:
                done.append(self.results.get(timeout=POLL_S))
            except queues.Empty:
                watch()
                if not any(p.is_alive() for p in self.procs) and self.results.empty():
                    raise StudyError("a worker process died without reporting (killed, or out of memory?)")
        if any(state == "interrupted" for state, _ in done):
            raise KeyboardInterrupt
        errors = [detail for state, detail in done if state == "error"]
        if errors:
            raise StudyError(errors[0])
        return sum(detail for _, detail in done)


def progress(config, total: int):
    """A trials bar for the parent, read from the storage; the postfix shows each running trial's epoch."""
    if config.quiet:
        return lambda close=False, total=None: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"{config.space} trials", unit="trial", dynamic_ncols=True)
    study = optuna.load_study(study_name=config.name, storage=make_storage(config.storage_url))

    def watch(close: bool = False, total: int | None = None) -> None:
        trials = study.get_trials(deepcopy=False)
        if total is not None:
            bar.total = total
        bar.n = sum(1 for t in trials if settles(t))
        running = [f"#{t.number} epoch {len(t.user_attrs.get('accuracy_per_epoch', []))}/{config.epochs}"
                   for t in trials if t.state == TrialState.RUNNING]
        bar.set_postfix_str(", ".join(running), refresh=True)
        if close:
            bar.close()
    return watch
