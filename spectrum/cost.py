"""What a point of the spectrum costs, and `python -m spectrum.cost`: one import for counting and measuring.

- counting (spectrum.counting): `count`, `count_spec`, `Counts` (params, MACs, activations; fvcore, one trace)
- measuring (spectrum.timing, spectrum.memory): `latency`, `peak_memory`
- where (spectrum.devices): `resolve_device`, `environment` (the record of common.environment)
- here: `spectrum_points` (a network at every position) and `cost_table` (one row per point), and the CLI.

`python -m spectrum.cost --net NAME --points all --out DIR [--latency]` writes DIR/cost.csv and DIR/cost.json
(one row per spectrum point); `--model FILE.py:FUNCTION --image-size N` does the same for your own network
converted at each position, with DIR/layers.csv beside (spectrum.cost_model). On a CPU shared with other
processes, `--threads 1` often counts faster: a batch-1 trace is many small ops, and OpenMP threads that wait
for a descheduled sibling lose more than they gain.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from common.cli import OneLineParser, UsageError, positive_int
from .cost_model import add_model_arguments, check_net_flags, measure_model, resolve_model
from .counting import BREAKDOWN_COLUMNS, GROUPED_CONV_OP, MEMORY_FORMATS, SKIPPED_OPS, Counts, count, count_spec
from .devices import device_label, environment, resolve_device
from .memory import peak_memory
from .timing import DTYPES, MODES, latency

if TYPE_CHECKING:
    from .networks import NetworkSpec

__all__ = [
    "BREAKDOWN_COLUMNS", "DTYPES", "GROUPED_CONV_OP", "MEMORY_FORMATS", "MODES", "SKIPPED_OPS", "Counts", "cost_table",
    "count", "count_spec", "environment", "latency", "main", "peak_memory", "resolve_device", "spectrum_points",
]

COUNTING = ("params: trainable; macs: conv + matmul multiply-adds per image (fvcore, batch 1, FLOPs = 2 x MACs); "
            "activations: output elements of those ops")


def spectrum_points(spec, points="all") -> list:
    """The NetworkSpec at each requested position: "all" (every position that fits all layers, both ends
    included) or labels, as a comma string or a list (`regular`, `segments=4`, `group_width=8`, `depthwise`)."""
    from .position import Position, fitting_positions

    if points == "all":
        positions = fitting_positions(spec.spatial_widths())
    else:
        labels = [p.strip() for p in points.split(",")] if isinstance(points, str) else list(points)
        if not labels or any(label in ("", "all") for label in labels):
            raise ValueError(f"points={points!r} is not allowed; expected 'all' or a comma list of regular, "
                             f"depthwise, segments=N, group_width=N")
        positions = []
        for label in labels:
            pos = Position.parse(label)
            if pos.label not in [p.label for p in positions]:
                positions.append(pos)
    return [replace(spec, position=pos) for pos in positions]


def cost_table(specs, *, latency_device=None, batch_size: int = 64, dtype: str = "fp32",
               memory_format: str = "nchw", backend: str = "torch", memory: bool = False,
               min_run_time: float = 0.3):
    """One row per spec: position, params, macs, activations; with `latency_device`, forward and train-step
    median/IQR ms (and train_step_peak_bytes when `memory`) measured on networks built with `backend`."""
    import pandas as pd

    from .networks import build_network

    rows = []
    for spec in specs:
        c = count_spec(spec)
        row = {"position": spec.position.label, "params": c.params, "macs": c.macs, "activations": c.activations}
        if latency_device is not None:
            model = build_network(spec, backend)
            shape = (spec.in_channels, spec.image_size, spec.image_size)
            for mode in MODES:
                t = latency(model, shape, batch_size=batch_size, device=latency_device, dtype=dtype,
                            memory_format=memory_format, mode=mode, min_run_time=min_run_time)
                row[f"{mode}_median_ms"] = round(t["median_ms"], 4)
                row[f"{mode}_iqr_ms"] = round(t["iqr_ms"], 4)
                row[f"{mode}_repeats"] = t["repeats"]
            if memory:
                row["train_step_peak_bytes"] = peak_memory(model, shape, batch_size=batch_size, device=latency_device,
                                                           dtype=dtype, memory_format=memory_format)["peak_bytes"]
            row.update({"batch_size": batch_size, "dtype": dtype, "memory_format": memory_format,
                        "backend": backend, "device": device_label(resolve_device(latency_device))})
            del model
        rows.append(row)
    return pd.DataFrame(rows)


def _with_named_positions(table, points):
    """The table with each named point's label as its `position`, its `segments` and `group_width` beside it."""
    import pandas as pd

    return pd.concat([pd.DataFrame([p.columns() for p in points]), table.drop(columns="position")], axis=1)


def _parser():
    from .block import BACKENDS
    from .families import NETWORKS

    p = OneLineParser(prog="python -m spectrum.cost", description="Params, MACs, activations (and latency) of every "
                "spectrum point of a network; writes DIR/cost.csv and DIR/cost.json.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--net", default=None, choices=list(NETWORKS),
                       help="network family (default xception): " + "; ".join(f"{n}: {f.summary}" for n, f in
                                                                         NETWORKS.items()))
    which.add_argument("--model", default=None, metavar="FILE.py:FUNCTION",
                       help="your own network instead (or package.module:FUNCTION; FUNCTION takes num_classes and "
                            "optionally in_channels): its every kxk conv converted at each position")
    p.add_argument("--image-size", type=positive_int, default=None,
                   help="input side in pixels (default: the network's own, 299 xception, 28 small, 32 resnext, "
                        "224 resnext50)")
    p.add_argument("--in-channels", type=positive_int, default=None,
                   help="input channels (default: the network's own, 3 xception, 1 small, 3 resnext; 3 --model)")
    named = "; ".join(f"{n}: {', '.join(f.point_sets)}" for n, f in NETWORKS.items() if f.point_sets)
    p.add_argument("--points", default="all",
                   help="'all', a comma list of regular, depthwise, segments=N, group_width=N, or a net's named "
                        f"set ({named}) (default all)")
    p.add_argument("--out", default=None, help="output folder (default runs/cost/NET-SIZE)")
    p.add_argument("--latency", action="store_true", help="also time forward and train step of every point")
    p.add_argument("--memory", action="store_true", help="with --latency: also the peak memory of a train step")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="latency batch (default 64 on a GPU, 8 on the cpu)")
    p.add_argument("--dtype", default="fp32", choices=DTYPES)
    p.add_argument("--memory-format", default="nchw", choices=MEMORY_FORMATS)
    p.add_argument("--backend", default="torch", choices=[b for b in BACKENDS],
                   help="conv backend of the timed networks (counts do not depend on it)")
    p.add_argument("--min-run-time", type=float, default=0.3, help="seconds of timing per measurement (default 0.3)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads for counting and CPU timing (default: torch's own choice; 1 is often "
                        "faster for batch-1 counting when other processes share the cores)")
    add_model_arguments(p)
    return p


@dataclass(frozen=True)
class _Run:
    """What the flags resolve to: the network, its points, where to time them and where to write."""

    base: NetworkSpec
    points: list | None  # a named point set's points (their labels go into the table), else None
    specs: list
    device: torch.device
    batch: int
    out: str


def _resolve(args) -> _Run:
    """The flags resolved against the network family; a `UsageError` naming the flag when one is not allowed."""
    from .families import NETWORKS

    check_net_flags(args)
    args.net = args.net or "xception"
    try:
        base = NETWORKS[args.net].spec(image_size=args.image_size, in_channels=args.in_channels)
    except ValueError as exc:
        raise UsageError(f"argument --image-size: {exc}") from None
    named = NETWORKS[args.net].point_sets.get(args.points)
    try:
        points = named(base) if named else None
        specs = [p.spec for p in points] if points else spectrum_points(base, args.points)
    except ValueError as exc:
        raise UsageError(f"argument --points: {exc}") from None
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(f"argument --device: {exc}") from None
    if not args.min_run_time > 0:
        raise UsageError(f"argument --min-run-time: expected a positive number of seconds, got {args.min_run_time}")
    if args.memory and not args.latency:
        raise UsageError("argument --memory: needs --latency")
    batch = args.batch_size or (64 if device.type == "cuda" else 8)
    out = args.out or os.path.join("runs", "cost", f"{args.net}-{base.image_size}")
    return _Run(base, points, specs, device, batch, out)


def _sidecar(argv, args, run: _Run, table, elapsed: float) -> dict:
    """cost.json: the command, what was counted and how, the latency settings, the environment."""
    return {
        "command": "python -m spectrum.cost " + shlex.join(argv),
        "net": args.net, "image_size": run.base.image_size, "points": list(table.position),
        "counting": COUNTING,
        "latency": None if not args.latency else {
            "device": device_label(run.device), "batch_size": run.batch, "dtype": args.dtype,
            "memory_format": args.memory_format, "backend": args.backend, "min_run_time": args.min_run_time,
            "unit": "ms per batch: median and IQR of repeats after warm-up"},
        "elapsed_s": round(elapsed, 3),
        "environment": environment(run.device),
    }


def _measure(argv, args, run: _Run) -> tuple[str, str]:
    """Count (and time) every point, write cost.csv and cost.json; the table and the note to print."""
    start = time.perf_counter()
    table = cost_table(run.specs, latency_device=run.device if args.latency else None, batch_size=run.batch,
                       dtype=args.dtype, memory_format=args.memory_format, backend=args.backend,
                       memory=args.memory, min_run_time=args.min_run_time)
    if run.points:
        table = _with_named_positions(table, run.points)
    elapsed = time.perf_counter() - start
    os.makedirs(run.out, exist_ok=True)
    table.to_csv(os.path.join(run.out, "cost.csv"), index=False)
    with open(os.path.join(run.out, "cost.json"), "w") as f:
        json.dump(_sidecar(argv, args, run, table, elapsed), f, indent=2)
    return table.to_string(index=False), f"wrote {os.path.join(run.out, 'cost.csv')} and cost.json ({elapsed:.1f} s)"


def run_command(prog: str, resolve, measure, threads=None) -> int:
    """`resolve()` -> a run (a UsageError: one line, exit 2); `measure(run)` -> (text for stdout, note for stderr),
    its files written (any other error: one line, exit 1); exit 0."""
    try:
        run = resolve()
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    if threads:
        torch.set_num_threads(threads)
    try:
        text, note = measure(run)
    except Exception as exc:  # noqa: BLE001 - one line, exit 1
        print(f"{prog}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(text)
    print(note, file=sys.stderr)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_or_exit(argv)
    if args.model:
        return run_command(parser.prog, lambda: resolve_model(args), lambda run: measure_model(argv, run), args.threads)
    return run_command(parser.prog, lambda: _resolve(args), lambda run: _measure(argv, args, run), args.threads)


if __name__ == "__main__":
    sys.exit(main())
