"""One training step (forward, backward, AdamW) at every default point of the segments study, on three
CPU paths side by side in one run, single-threaded like a study worker on a CPU.

    python benchmarks/bench_train.py [--repeats 9] [--threads 1] [--batch-size 128] [--json FILE]

Paths, each in its own process (the heap setting is per process and cannot be undone):
  old     a plain loop: NCHW, AdamW's per-parameter loop, a host sync on the loss every step;
  format  channels_last, fused AdamW, no sync per step (`studies.train` before grouped merging);
  new     what a study worker runs on a CPU: `format` in a process set up by `studies.process.configure_worker`
          (freed memory kept in the heap) and grouped convolutions merged where faster (studies/group_merge.py).
Each repeat is one round over every point and path, the order of both rotated from round to round, so
that load from other processes (this machine is shared) hits every point and path alike, and the ratios
between points (goal b) are as side by side as those between paths. Each repeat is the median of a few
single steps timed by `kernels.timer.measure`; each time is the fastest repeat (as timeit advises: slower
ones measure what else the machine ran), with the median repeat in the JSON too.

Goals, printed PASS/MISS, never asserted:
  (a) the summed step time over all points (a proxy of the study's training time) >= 1.8x lower than old;
  (b) at each budget no point's new step more than 2x the regular end's.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.environment import environment  # noqa: E402
from kernels.timer import measure  # noqa: E402
from spectrum import build_network  # noqa: E402
from studies import train  # noqa: E402
from studies.plan import resolve_plan  # noqa: E402
from studies.config import StudyConfig  # noqa: E402
from studies.data import load_dataset  # noqa: E402
from studies.group_merge import merge_grouped_convs, merge_label  # noqa: E402
from studies.process import configure_worker  # noqa: E402
from common.vocabulary import position_label  # noqa: E402

GOAL_TOTAL = 1.8
GOAL_SPREAD = 2.0
PATHS = ("old", "format", "new")
STEPS_PER_REPEAT = 3  # single timed steps, their median the repeat's time


def old_step(spec, x, y):
    """The plain CPU step: NCHW, AdamW's per-parameter loop, `isfinite` synced every step."""
    torch.manual_seed(0)
    model = build_network(spec).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4, foreach=False)
    loss_fn = nn.CrossEntropyLoss()
    x = x.contiguous()

    def step():
        loss = loss_fn(model(x), y)
        if not torch.isfinite(loss):
            raise RuntimeError("diverged")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step, "nchw"


def new_step(spec, x, y, merge: bool = True):
    """The step `studies.train.fit` takes on a CPU (`merge` False: without grouped merging)."""
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_network(spec)
    fmt = train.memory_format_for(device, model)
    model = model.to(memory_format=train.MEMORY_FORMATS[fmt]).train()
    x = train._inputs(x, device, train.MEMORY_FORMATS[fmt])
    label = fmt
    if merge:
        label = f"{fmt}; merged {merge_label(merge_grouped_convs(model, x), model)}"
    optimizer = train.make_optimizer(model, device, 3e-3, 5e-4)
    loss_fn = nn.CrossEntropyLoss()
    return (lambda: train.train_step(model, optimizer, loss_fn, x, y, device)), label


def _path_main(path: str, threads: int, requests, replies) -> None:
    """A child process timing one path: receives (key, spec, x, y), replies (median step ms, label)."""
    torch.set_num_threads(threads)
    if path == "new":
        configure_worker("cpu")  # what a study worker sets: subnormals flushed, freed memory kept in the heap
    else:
        torch.set_flush_denormal(True)  # as a worker has it; the heap as glibc leaves it
    steps = {}
    while (request := requests.get()) is not None:
        key, spec, x, y = request
        fresh = key not in steps
        if fresh:
            steps[key] = old_step(spec, x, y) if path == "old" else new_step(spec, x, y, merge=path == "new")
        step, label = steps[key]
        # a new step warms up twice (oneDNN primitives, the allocator), a known one once
        timing = measure(step, "cpu", repeats=STEPS_PER_REPEAT, warmup=2 if fresh else 1)
        replies.put((timing.median_ms, label))


def _rotated(items, r: int) -> list:
    """`items` starting at position r (mod its length): each round starts somewhere else."""
    items = list(items)
    return items[r % len(items):] + items[:r % len(items)]


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (a study worker uses 1 on 2 cores)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--json", type=Path, help="also write the rows and goals to this file")
    return p.parse_args(argv)


def _start_children(threads: int) -> dict:
    """One spawned `_path_main` process per path: path -> (requests, replies) queues."""
    ctx = multiprocessing.get_context("spawn")
    children = {}
    for path in PATHS:
        requests, replies = ctx.Queue(), ctx.Queue()
        proc = ctx.Process(target=_path_main, args=(path, threads, requests, replies), daemon=True)
        proc.start()
        children[path] = (requests, replies)
    return children


def _time_rounds(children, points, x, y, repeats: int):
    """Step times of every point and path, `repeats` rotated rounds: ((key, path) -> [ms]), labels."""
    times = {(key, path): [] for key in range(len(points)) for path in PATHS}
    labels = {}
    for r in range(repeats):
        print(f"round {r + 1} of {repeats}", file=sys.stderr, flush=True)
        for key in _rotated(range(len(points)), r):
            for path in _rotated(PATHS, r):
                requests, replies = children[path]
                requests.put((key, points[key][1], x, y))
                step_ms, labels[key, path] = replies.get()
                times[key, path].append(step_ms)
    return times, labels


def _rows(points, times, labels, width: int) -> list:
    """One row per point (the fastest repeat of each path, the median repeat beside it), printed as made."""
    rows = []
    for key, (point, spec) in enumerate(points):
        ms = {path: min(times[key, path]) for path in PATHS}
        medians = {f"{path}_median_ms": round(statistics.median(times[key, path]), 2) for path in PATHS}
        rows.append({"budget": point.budget, "segments": point.segments,
                     "position": position_label(point.segments, width),
                     "widths": "-".join(map(str, spec.widths)), "new_path": labels[key, "new"],
                     **{f"{path}_ms": round(value, 2) for path, value in ms.items()}, **medians})
        print(f"{point.budget:>10,.0f} {rows[-1]['position']:>12} {rows[-1]['widths']:>10} {ms['old']:8.1f} "
              f"{ms['format']:8.1f} {ms['new']:8.1f} {ms['old'] / ms['new']:7.2f}x  {labels[key, 'new']}", flush=True)
    return rows


def _goals(rows) -> dict:
    """Goals (a) and (b) over the rows, each printed PASS/MISS, then the overall verdict."""
    totals = {path: sum(r[f"{path}_ms"] for r in rows) for path in PATHS}
    ratio = totals["old"] / totals["new"]
    goals = {"total_ratio": round(ratio, 3), "total_pass": ratio >= GOAL_TOTAL}
    print(f"(a) summed step time: old {totals['old']:.0f} ms, format {totals['format']:.0f} ms, "
          f"new {totals['new']:.0f} ms: {ratio:.2f}x lower (goal >= {GOAL_TOTAL}x): "
          f"{'PASS' if goals['total_pass'] else 'MISS'}")
    ok = goals["total_pass"]
    for budget in sorted({r["budget"] for r in rows}):
        mine = [r for r in rows if r["budget"] == budget]
        regular = next(r for r in mine if r["segments"] == 1)
        spreads = {path: max(r[f"{path}_ms"] for r in mine) / regular[f"{path}_ms"] for path in PATHS}
        worst = max(mine, key=lambda r: r["new_ms"])
        passed = spreads["new"] <= GOAL_SPREAD
        ok &= passed
        goals[f"spread_{budget:.0f}"] = round(spreads["new"], 3)
        print(f"(b) budget {budget:,.0f}: slowest step {spreads['new']:.2f}x the regular end's ({worst['position']}; "
              f"old {spreads['old']:.2f}x, format {spreads['format']:.2f}x) (goal <= {GOAL_SPREAD}x): "
              f"{'PASS' if passed else 'MISS'}")
    print(f"goals: {'PASS' if ok else 'MISS'}")
    return goals


def main(argv=None) -> int:
    args = _parse(argv)
    data = load_dataset(args.dataset)
    with tempfile.TemporaryDirectory() as out:
        plan = resolve_plan(StudyConfig(space="segments", out=Path(out), dataset=args.dataset,
                                        batch_size=args.batch_size), data)
    config, specs = plan.config, plan.networks
    x, y = data.train_x[:args.batch_size].clone(), data.train_y[:args.batch_size].clone()
    children = _start_children(args.threads)

    print(f"bench_train: torch {torch.__version__}, CPU {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads} thread(s), batch {args.batch_size}, {data.name} {tuple(x.shape[1:])}, fp32, "
          f"fastest of {args.repeats} interleaved repeats (the median of {STEPS_PER_REPEAT} steps each)")
    print(f"default study: width {config.width}, depth {config.depth}, "
          f"budgets {', '.join(f'{b:,.0f}' for b in config.budgets)} {config.match}")
    print(f"{'budget':>10} {'position':>12} {'widths':>10} {'old ms':>8} {'format':>8} {'new ms':>8} "
          f"{'old/new':>8}  new path")
    points = sorted(specs.items(), key=lambda kv: (kv[0].budget or 0, kv[0].segments))
    times, labels = _time_rounds(children, points, x, y, args.repeats)
    rows = _rows(points, times, labels, config.width)
    for requests, _ in children.values():
        requests.put(None)
    goals = _goals(rows)
    if args.json:
        command = ["python", "benchmarks/bench_train.py", *(argv if argv is not None else sys.argv[1:])]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "environment": environment("cpu", command), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": args.threads, "batch_size": args.batch_size, "dataset": data.name,
            "steps_per_repeat": STEPS_PER_REPEAT, "repeats": args.repeats, "rows": rows, "goals": goals},
            indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
