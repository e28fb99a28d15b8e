"""One training step (forward, backward, AdamW) at every default point of the segments study, today's
NCHW path against the path `studies.train.fit` takes, side by side in one run, single-threaded like a
study worker on a CPU.

    python benchmarks/bench_train.py [--repeats 7] [--threads 1] [--batch-size 128]

Old: the model and batch in NCHW, the per-parameter AdamW loop, a host sync on the loss every step (the
loop before issue 11). New: `studies.train` as `fit` runs it: `memory_format_for(device, model)`,
`make_optimizer` (fused AdamW), `train_step` (no sync). Repeats alternate old/new (and which goes first)
so that load from other processes hits both; each time is the median of the repeats.

Goals (issue 11), printed PASS/MISS, never asserted:
  (a) the summed step time over all points (a proxy of the study's training time) >= 1.8x lower than old;
  (b) at each budget no point's new step more than 2x the regular end's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spectrum import build_network  # noqa: E402
from studies import train  # noqa: E402
from studies.budgets import grid_networks, resolve_config  # noqa: E402
from studies.config import StudyConfig  # noqa: E402
from studies.data import load_dataset  # noqa: E402
from studies.spaces import position_label  # noqa: E402

GOAL_TOTAL = 1.8
GOAL_SPREAD = 2.0


def old_step(spec, x, y):
    """Today's CPU step before issue 11: NCHW, AdamW's per-parameter loop, `isfinite` synced every step."""
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
    return step


def new_step(spec, x, y):
    """The step `studies.train.fit` takes on a CPU."""
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_network(spec)
    fmt = train.memory_format_for(device, model)
    model = model.to(memory_format=train.MEMORY_FORMATS[fmt]).train()
    optimizer = train.make_optimizer(model, device, 3e-3, 5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = train._inputs(x, device, train.MEMORY_FORMATS[fmt])
    return (lambda: train.train_step(model, optimizer, loss_fn, x, y, device)), fmt


def time_pair(old, new, repeats: int, warmup: int = 2) -> tuple[float, float]:
    for _ in range(warmup):
        old(), new()
    times = {"old": [], "new": []}
    for r in range(repeats):
        pair = (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old))
        for name, fn in pair:
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return statistics.median(times["old"]) * 1e3, statistics.median(times["new"]) * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (a study worker uses 1 on 2 cores)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--dataset", default="mnist5k")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as fit does on a CPU
    data = load_dataset(args.dataset)
    with tempfile.TemporaryDirectory() as out:
        config = resolve_config(StudyConfig(space="segments", out=Path(out), dataset=args.dataset,
                                            batch_size=args.batch_size), data)
        specs = grid_networks(config, data)
    x, y = data.train_x[:args.batch_size].clone(), data.train_y[:args.batch_size].clone()

    print(f"bench_train: torch {torch.__version__}, CPU {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads} thread(s), batch {args.batch_size}, {data.name} {tuple(x.shape[1:])}, fp32, "
          f"median of {args.repeats} interleaved repeats")
    print(f"default study: width {config.width}, depth {config.depth}, budgets {', '.join(f'{b:,.0f}' for b in config.budgets)} "
          f"{config.match}")
    print(f"{'budget':>10} {'position':>12} {'widths':>10} {'format':>14} {'old ms':>8} {'new ms':>8} {'old/new':>8}")
    rows = []
    for point, spec in sorted(specs.items(), key=lambda kv: (kv[0].budget or 0, kv[0].segments)):
        new, fmt = new_step(spec, x, y)
        old_ms, new_ms = time_pair(old_step(spec, x, y), new, args.repeats)
        rows.append((point.budget, point.segments, old_ms, new_ms))
        print(f"{point.budget:>10,.0f} {position_label(point.segments, config.width):>12} "
              f"{'-'.join(map(str, spec.widths)):>10} {fmt:>14} {old_ms:8.1f} {new_ms:8.1f} {old_ms / new_ms:7.2f}x",
              flush=True)

    old_total, new_total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    ratio = old_total / new_total
    print(f"(a) summed step time: old {old_total:.0f} ms, new {new_total:.0f} ms, {ratio:.2f}x lower "
          f"(goal >= {GOAL_TOTAL}x): {'PASS' if ratio >= GOAL_TOTAL else 'MISS'}")
    ok = True
    for budget in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == budget]
        regular = next(r for r in mine if r[1] == 1)
        worst_new = max(mine, key=lambda r: r[3])
        worst_old = max(mine, key=lambda r: r[2])
        spread_new, spread_old = worst_new[3] / regular[3], worst_old[2] / regular[2]
        ok &= spread_new <= GOAL_SPREAD
        print(f"(b) budget {budget:,.0f}: slowest step {spread_new:.2f}x the regular end's "
              f"({position_label(worst_new[1], config.width)}; old {spread_old:.2f}x) "
              f"(goal <= {GOAL_SPREAD}x): {'PASS' if spread_new <= GOAL_SPREAD else 'MISS'}")
    print(f"goals: {'PASS' if ok and ratio >= GOAL_TOTAL else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
