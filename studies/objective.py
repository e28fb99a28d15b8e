"""One trial: build the run's network, count and time it, train it, test it; each step returns its part
of the trial's `TrialRecord`, and `records.record.store` writes the record whole after each step.

A failure a rerun would repeat (divergence, an invalid spec: an `InvalidSpec` or a `UsageError`) is stored
FAIL `permanent`; a diverged run is also `diverged` (an outcome the verdict counts); any other failure
(a bug's ValueError included) is an interruption, trained again.
"""
from __future__ import annotations

from dataclasses import replace

import optuna

from common.cli import UsageError
from common.vocabulary import position_label
from records.record import TrialRecord, part, store

from .budgets import budget_label
from .grid import duplicate_of
from .model import model_part
from .plan import StudyPlan
from .spaces import Run
from .storage import Heartbeat

LATENCY_RUN_S = 0.1  # seconds of timing a network: ms-scale forwards give tens of samples


class InvalidSpec(ValueError):
    """The run's network cannot be built (its spec or width matching refused it): a rerun would repeat it."""


def permanent(err: BaseException) -> bool:
    """Failures that a rerun would repeat: the loss diverged, or the spec is invalid."""
    from .train import TrainingDiverged

    return isinstance(err, (TrainingDiverged, InvalidSpec, UsageError))


def latency_key(spec, config, device) -> str:
    """Latency depends on the network, batch, backend and device, not on the seed: one measurement a spec."""
    import hashlib

    from spectrum.devices import device_label

    where = device_label(device) if device.type == "cuda" else device  # one timing for every GPU of a model
    return hashlib.sha1(f"{spec!r}|{config.latency_batch}|{config.backend}|{where}".encode()).hexdigest()[:16]


def measure_latency(spec, config, shape, device, threads: int | None) -> dict:
    """The latency part of a record, timed in the memory format and thread count the training uses, with
    grouped convolutions computed as fewer groups where that is faster for a forward pass (CPU)."""
    import torch

    from spectrum import build_network, cost
    from spectrum.timing import torch_threads

    from .group_merge import merge_grouped_convs, merge_label
    from .train import MEMORY_FORMATS, memory_format_for, uses_group_merge

    model = build_network(spec, config.backend)
    fmt = memory_format_for(device, model)  # a model that trains in NCHW (a oneDNN bug) is timed in NCHW
    dims = (shape.in_channels, shape.image_size, shape.image_size)
    merged = "none"
    if uses_group_merge(device):  # grouped convs computed as training computes them, chosen for inference
        with torch_threads(threads):
            model = model.to(memory_format=MEMORY_FORMATS[fmt]).eval()
            sample = torch.zeros(config.latency_batch, *dims).contiguous(memory_format=MEMORY_FORMATS[fmt])
            merged = merge_label(merge_grouped_convs(model, sample, backward=False), model)
    lat = cost.latency(model, dims, batch_size=config.latency_batch, device=device, memory_format=fmt,
                       threads=threads, min_run_time=LATENCY_RUN_S)
    return {"latency_ms": lat["median_ms"], "latency_iqr_ms": lat["iqr_ms"], "latency_device": lat["device"],
            "latency_batch": lat["batch_size"], "latency_format": fmt, "latency_threads": threads,
            "latency_group_merge": merged}


def run_part(run: Run, config, spec) -> dict:
    """What identifies the trained network (its point), its seed, and how the study ran it."""
    from spectrum import min_width

    return dict(space=config.space, net=config.net, position=position_label(run.segments, config.width),
                matched_position=spec.position.label, segments=run.segments, base_width=config.width,
                group_width=config.width // run.segments, order=run.order, activation=run.activation,
                kernel_size=spec.kernel_size, intermediate_norm=spec.intermediate_norm, depth=config.depth,
                match=config.match, budget=run.budget, budget_label=budget_label(config, run.budget),
                widths="-".join(map(str, spec.widths)), min_width=min_width(spec), seed=run.seed,
                seed_plan=config.seed_plan, epochs=config.epochs, batch_size=config.batch_size,
                backend=config.backend) | model_part(spec)  # your own network: its reference, file and hash


def failure_part(err: BaseException) -> dict:
    from .train import TrainingDiverged

    reason = f"{type(err).__name__}: {err}".strip()[:500]
    return dict(fail_reason=reason, permanent=permanent(err), diverged=isinstance(err, TrainingDiverged))


class Objective:
    """Trains one run per call; `latency` maps latency_key -> a measurement taken before training."""

    def __init__(self, plan: StudyPlan, dataset, device, log, latency: dict, threads: int | None = None):
        self.plan, self.data, self.device, self.log = plan, dataset, device, log
        self.latency, self.threads = latency, threads
        self.train_s = 0.0
        self.bar = None

    def __call__(self, study: optuna.Study, trial: optuna.Trial) -> None:
        """Run `trial` (from study.ask) to a told state; a KeyboardInterrupt is stored, then re-raised."""
        run = self.plan.space.suggest(trial, self.plan.config)
        dup = duplicate_of(study, trial)
        if dup is not None:
            store(trial, TrialRecord(duplicate_of=dup))
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        with Heartbeat(trial):
            try:
                values = self._run(trial, run)
            except KeyboardInterrupt:
                self._fail(study, trial, dict(fail_reason="interrupted (Ctrl-C)", permanent=False))
                raise
            except Exception as err:
                failure = failure_part(err)
                self._fail(study, trial, failure)
                self.log(f"trial {trial.number} failed: {failure['fail_reason'][:200]}")
                return
        study.tell(trial, values)

    @staticmethod
    def _fail(study, trial, failure: dict) -> None:
        """The record as far as it got, with why it ended."""
        store(trial, TrialRecord(**{**part(trial.user_attrs), **failure}))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _run(self, trial: optuna.Trial, run: Run) -> tuple:
        import torch

        from spectrum import build_network, cost

        from .train import fit, scored_on_test

        config, data = self.plan.config, self.data
        try:
            spec = self.plan.network(run)  # may build a model first (--model, resolved once per worker)
            torch.manual_seed(run.seed)  # the initial weights belong to the run, not to what the worker ran before
            model = build_network(spec, config.backend)
        except ValueError as err:
            raise InvalidSpec(str(err)) from err
        counts = cost.count(model, (data.in_channels, data.image_size, data.image_size))
        lat = self.latency.get(latency_key(spec, config, self.device))
        if lat is None:  # not a grid point timed up front (joint space): time it here
            lat = measure_latency(spec, config, self.plan.shape, self.device, self.threads)
        lr = self.plan.learning_rate(run)
        rec = TrialRecord(**run_part(run, config, spec), **part(counts), **lat, dataset=data.name,
                          device=str(self.device), lr=lr)
        store(trial, rec)
        curve = []

        def on_epoch(epoch, accuracy):
            curve.append(accuracy)
            store(trial, replace(rec, accuracy_per_epoch=list(curve)))
            if self.bar is not None:
                self.bar.set_postfix_str(f"#{trial.number} epoch {epoch}/{config.epochs}: {accuracy:.1%}")

        result = fit(model, data, epochs=config.epochs, batch_size=config.batch_size, seed=run.seed,
                     device=self.device, lr=lr, on_epoch=on_epoch)
        tested = scored_on_test(model, data, self.device)
        self.train_s += result.train_time_s + result.eval_time_s
        rec = replace(rec, **part(result), accuracy=result.accuracy, **tested)
        store(trial, rec)
        self.log(f"trial {trial.number:>3} {rec.position:>12} {run.order:<15} {run.activation:<10} "
                 f"{rec.budget_label:<12} seed {run.seed}: val {rec.accuracy:6.2%} test {rec.test_accuracy:6.2%}  "
                 f"params {rec.params:>9,}  MACs {rec.macs:>12,}  {rec.latency_ms:.2f} ms  "
                 f"[{result.train_time_s:.1f} s]")
        return (rec.accuracy, float(rec.macs), float(rec.latency_ms))
