"""One trial: build the point's network, count and time it, train it, and store one TrialRecord.

What a trial stores is `reports.record.TrialRecord` (its user attributes); a failure retrying would
not change (divergence, an invalid spec) is stored FAIL `permanent`; any other failure is an
interruption and its point is trained again.
"""
from __future__ import annotations

import optuna

from reports.record import TrialRecord

from .budgets import budget_label
from .grid import duplicate_of
from .spaces import Point, get_space, network_for, position_label
from .storage import Heartbeat

LATENCY_RUN_S = 0.1  # seconds of timing a network: ms-scale forwards give tens of samples


def permanent(err: BaseException) -> bool:
    """Failures that a rerun would repeat: the loss diverged, or the spec is invalid."""
    from .train import TrainingDiverged

    return isinstance(err, (TrainingDiverged, ValueError))


def latency_key(spec, config, device) -> str:
    """Latency depends on the network, batch, backend and device, not on the seed: one measurement a spec."""
    import hashlib

    return hashlib.sha1(f"{spec!r}|{config.latency_batch}|{config.backend}|{device}".encode()).hexdigest()[:16]


def measure_latency(spec, config, dataset, device, threads: int | None) -> dict:
    """The latency objective, timed in the memory format and thread count the training uses, with grouped
    convolutions computed as fewer groups where that is faster for a forward pass (CPU, group_merge)."""
    import torch

    from spectrum import build_network, cost
    from spectrum.timing import torch_threads

    from .group_merge import merge_grouped_convs, merge_label
    from .train import MEMORY_FORMATS, memory_format_for, uses_group_merge

    model = build_network(spec, config.backend)
    fmt = memory_format_for(device, model)  # a model that trains in NCHW (a oneDNN bug) is timed in NCHW
    shape = (dataset.in_channels, dataset.image_size, dataset.image_size)
    merged = "none"
    if uses_group_merge(device):  # grouped convs computed as training computes them, chosen for inference
        with torch_threads(threads):
            model = model.to(memory_format=MEMORY_FORMATS[fmt]).eval()
            sample = torch.zeros(config.latency_batch, *shape).contiguous(memory_format=MEMORY_FORMATS[fmt])
            merged = merge_label(merge_grouped_convs(model, sample, backward=False), model)
    lat = cost.latency(model, shape, batch_size=config.latency_batch, device=device, memory_format=fmt,
                       threads=threads, min_run_time=LATENCY_RUN_S)
    return {"latency_ms": lat["median_ms"], "latency_iqr_ms": lat["iqr_ms"], "latency_device": lat["device"],
            "latency_batch": lat["batch_size"], "latency_format": fmt, "latency_threads": threads,
            "latency_group_merge": merged}


class Objective:
    """Trains one point per call; `latency` maps latency_key -> a measurement taken before training."""

    def __init__(self, config, dataset, device, log, latency: dict, threads: int | None = None):
        self.config, self.data, self.device, self.log = config, dataset, device, log
        self.latency, self.threads = latency, threads
        self.space = get_space(config.space)
        self.train_s = 0.0
        self.bar = None

    def __call__(self, study: optuna.Study, trial: optuna.Trial) -> None:
        """Run `trial` (from study.ask) to a told state; a KeyboardInterrupt is stored, then re-raised."""
        point = self.space.suggest(trial, self.config)
        dup = duplicate_of(study, trial)
        if dup is not None:
            trial.set_user_attr("duplicate_of", dup)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        with Heartbeat(trial):
            try:
                values = self._train(trial, point)
            except KeyboardInterrupt:
                self._fail(study, trial, "interrupted (Ctrl-C)", permanent=False)
                raise
            except Exception as err:
                reason = f"{type(err).__name__}: {err}".strip()[:500]
                self._fail(study, trial, reason, permanent=permanent(err))
                self.log(f"trial {trial.number} failed: {reason[:200]}")
                return
        study.tell(trial, values)

    @staticmethod
    def _fail(study, trial, reason: str, permanent: bool) -> None:
        trial.set_user_attr("fail_reason", reason)
        trial.set_user_attr("permanent", permanent)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _train(self, trial: optuna.Trial, point: Point) -> tuple:
        import torch

        from spectrum import build_network, cost, min_width

        from .train import evaluate, fit

        config, data = self.config, self.data
        spec = network_for(point, config, data.in_channels, data.image_size, data.num_classes)
        torch.manual_seed(point.seed)  # the initial weights belong to the point, not to what the worker ran before
        model = build_network(spec, config.backend)
        counts = cost.count(model, (data.in_channels, data.image_size, data.image_size))
        lat = self.latency.get(latency_key(spec, config, self.device))
        if lat is None:  # not a grid point timed up front (joint space): time it here
            lat = measure_latency(spec, config, data, self.device, self.threads)
        record = TrialRecord(
            space=config.space, net=config.net, position=position_label(point.segments, config.width),
            matched_position=spec.position.label, segments=point.segments, base_width=config.width,
            group_width=config.width // point.segments, order=point.order, activation=point.activation,
            kernel_size=spec.kernel_size, intermediate_norm=spec.intermediate_norm, depth=config.depth,
            match=config.match, budget=point.budget, budget_label=budget_label(config, point.budget),
            widths="-".join(map(str, spec.widths)), min_width=min_width(spec), seed=point.seed,
            params=counts.params, macs=counts.macs, activations=counts.activations, **lat, dataset=data.name,
            epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, backend=config.backend,
            device=str(self.device))
        for key, value in record.user_attrs().items():
            trial.set_user_attr(key, value)
        curve = []

        def on_epoch(epoch, accuracy):
            curve.append(accuracy)
            trial.set_user_attr("accuracy_per_epoch", curve)
            if self.bar is not None:
                self.bar.set_postfix_str(f"#{trial.number} epoch {epoch}/{config.epochs}: {accuracy:.1%}")

        result = fit(model, data, epochs=config.epochs, batch_size=config.batch_size, seed=point.seed,
                     device=self.device, lr=config.lr, on_epoch=on_epoch)
        test_accuracy = evaluate(model, data.for_evaluation("test"), self.device)
        self.train_s += result.train_time_s + result.eval_time_s
        outcome = {"accuracy": result.accuracy, "test_accuracy": test_accuracy, "train_time_s": result.train_time_s,
                   "eval_time_s": result.eval_time_s, "memory_format": result.memory_format,
                   "group_merge": result.group_merge, "deterministic": result.deterministic}
        for key, value in outcome.items():
            trial.set_user_attr(key, value)
        self.log(f"trial {trial.number:>3} {record.position:>12} {point.order:<15} {point.activation:<10} "
                 f"{record.budget_label:<12} seed {point.seed}: val {result.accuracy:6.2%} test {test_accuracy:6.2%}  "
                 f"params {counts.params:>9,}  MACs {counts.macs:>12,}  {lat['latency_ms']:.2f} ms  "
                 f"[{result.train_time_s:.1f} s]")
        return result.accuracy, float(counts.macs), float(lat["latency_ms"])
