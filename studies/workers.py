"""Workers: processes that take trials from the study (its queue for grid spaces, NSGA-II for `joint`)
and train them, one at a time, until told to stop."""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings

import optuna
from optuna.trial import TrialState

from . import placement
from .data import dataset_for
from .grid import RUN_ATTR, settles
from .objective import Objective
from .process import configure_worker
from .reproducible import make_deterministic
from .storage import fail_stale_trials, make_storage

POLL_S = 1.0
DIRECTIONS = ("maximize", "minimize", "minimize")
METRIC_NAMES = ["accuracy", "macs", "latency_ms"]  # what Optuna's plots, CLI and dashboard call the objectives


class StudyError(RuntimeError):
    """A runtime failure of the study as a whole (exit 1 with this one line)."""


def open_study(plan, worker: int = 0) -> optuna.Study:
    """Create or load the study with the space's sampler (a grid's is never asked: the queue feeds it)."""
    config = plan.config
    sampler = plan.space.sampler(worker, plan.space.trials(config))
    study = optuna.create_study(storage=make_storage(config.storage_url), study_name=config.name,
                                directions=list(DIRECTIONS), sampler=sampler, load_if_exists=True)
    if study.metric_names != METRIC_NAMES:
        with warnings.catch_warnings():  # experimental in Optuna 4 and 5, and the names are all we ask of it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(METRIC_NAMES)
    return study


def gpus_here() -> tuple[str, ...]:
    """The GPUs this process sees (cuda:0.. in order), named as CUDA_VISIBLE_DEVICES names them."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return placement.visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"), count)


def default_workers(config) -> int:
    """Two single-threaded workers on a CPU with two cores (faster than one with two threads for small
    networks, and no stall when another process takes a core); on GPUs, every trial slot in use."""
    return placement.default_workers(config.device, gpus_here(), config.trials_per_gpu, os.cpu_count() or 1)


def worker_devices(config, n: int) -> list[str]:
    """Worker i's device; ValueError naming the flag when n workers do not fit the GPUs' trial slots."""
    return placement.worker_devices(config.device, n, gpus_here(), config.trials_per_gpu)


def _logger(config, bar=None):
    def log(message: str) -> None:
        if not config.quiet:
            (bar.write if bar is not None else lambda m: print(m, flush=True))(message)
    return log


def _done(study, plan) -> bool:
    """The space's stop rule on the storage: how many trials wait, how many are taken (settled or running)."""
    trials = study.get_trials(deepcopy=False)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    taken = sum(settles(t) or t.state == TrialState.RUNNING for t in trials)
    return plan.space.sampler.done(waiting, taken, plan.space.trials(plan.config))


def work(plan, latency: dict, worker: int = 0, threads: int | None = None, stop=None, bar=None,
         device: str | None = None) -> float:
    """One worker: train trials on `device` (default --device) until the space's stop rule holds (a grid's:
    the queue is empty and `stop` is set, None: once empty); its training seconds."""
    import torch
    from spectrum import cost

    config = plan.config
    if config.deterministic:
        make_deterministic()
    if threads:
        torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    device = cost.resolve_device(device or config.device)
    configure_worker(device)  # process-wide settings: this process trains, the library never sets them
    if device.type == "cuda":
        torch.cuda.set_device(device)  # kernels, events and caches that take the current device use this one
    study = open_study(plan, worker)
    objective = Objective(plan, dataset_for(config), device, _logger(config, bar),
                          latency, threads)
    objective.bar = bar
    grid = plan.is_grid
    while True:
        fail_stale_trials(study, all_running_stale=False)
        if _done(study, plan):
            if not grid or stop is None or stop.is_set():
                break
            stop.wait(POLL_S)  # a grid's next round may still be enqueued; finish() ends the wait at once
            continue
        trial = study.ask()
        if grid and RUN_ATTR not in trial.user_attrs:
            study.tell(trial, state=TrialState.PRUNED)  # another worker took the last queued run first
            continue
        objective(study, trial)
        if bar is not None:
            bar.update(1)
    return objective.train_s


def _worker_main(plan, latency, worker: int, threads: int, stop, results, device: str) -> None:
    try:
        results.put(("ok", work(plan, latency, worker, threads, stop, device=device)))
    except KeyboardInterrupt:
        results.put(("interrupted", 0.0))
    except Exception as err:  # reported by the parent as one line
        results.put(("error", f"worker {worker}: {type(err).__name__}: {err}"))


class Pool:
    """`n` worker processes sharing the study; `finish()` lets them drain the queue and collects them."""

    def __init__(self, plan, latency: dict, n: int, threads: int):
        ctx = multiprocessing.get_context("spawn")
        self.stop, self.results = ctx.Event(), ctx.Queue()
        # daemons: once a worker has reported, its stored trials are safe and its interpreter's teardown
        # need not hold up the report
        devices = worker_devices(plan.config, n)
        if any(d.startswith("cuda") for d in devices):
            _logger(plan.config)(f"workers: {placement.describe(devices, gpus_here())}")
        self.procs = [ctx.Process(target=_worker_main, args=(plan, latency, i, threads, self.stop, self.results, d),
                                  daemon=True) for i, d in enumerate(devices)]
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


def progress(config, total: int | None):
    """A trials bar for the parent, read from the storage; the postfix shows each running trial's epoch. Only
    on a terminal: redirected to a file, the log holds the trials' own lines, one per finished trial."""
    if config.quiet or not sys.stderr.isatty():
        return lambda close=False, total=None: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"{config.space} trials", unit="trial", dynamic_ncols=True)
    study = optuna.load_study(study_name=config.name, storage=make_storage(config.storage_url),
                              sampler=optuna.samplers.RandomSampler(seed=0))  # reads only, never samples

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
