"""Time the report pipeline on a synthetic study of 1,000 trials (goal: <= 10 s on a 2-core CPU), and
the verdict on 100 trials (its documented bound: at most 0.5 s).

    python benchmarks/bench_report.py [--trials 1000] [--repeats 3] [--out DIR] [--json FILE]

Prints each stage (tidy, verdict, figures, write) and the end-to-end `python -m reports DIR` time
(fresh interpreter: imports, CSV read, HTML written), with the ratio to the 10 s goal. `write` redoes
the verdict and the figures itself, so tidy + figures + write counts the figures twice: an upper bound.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_S = 10.0
VERDICT_100_GOAL_S = 0.5  # the verdict contract's time for 100 trials


def _best(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for the in-process stages")
    ap.add_argument("--out", help="study directory to write (default: a temporary one)")
    ap.add_argument("--json", help="also write the timings as JSON here")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    import reports
    from reports.synthetic import synthetic_config, synthetic_trials

    t_import = time.perf_counter() - t0

    tmp = None
    if args.out:
        d = Path(args.out)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-report-")
        d = Path(tmp.name) / "joint"
    d.mkdir(parents=True, exist_ok=True)
    raw = synthetic_trials("middle", space="joint", n_trials=args.trials, fail_every=50)
    raw.to_csv(d / "trials.csv", index=False)
    cfg = synthetic_config("joint", study_name=f"bench-{args.trials}")
    (d / "config.json").write_text(json.dumps(cfg), encoding="utf-8")

    t_load, (df, cfg) = _best(lambda: reports.load_study_dir(d), args.repeats)
    t_tidy, tidy = _best(lambda: reports.tidy(df), args.repeats)
    t_verdict, v = _best(lambda: reports.verdict(tidy), args.repeats)
    t_figures, figs = _best(lambda: reports.figures(tidy, cfg), args.repeats)
    t_write, path = _best(lambda: reports.write(tidy, cfg, d / "report.html"), args.repeats)
    staged = t_tidy + t_figures + t_write
    hundred = synthetic_trials("middle", space="joint", n_trials=100)
    reports.verdict(hundred)  # warm: the first call pays imports inside the stats code
    t_verdict_100, _ = _best(lambda: reports.verdict(hundred), args.repeats)

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t1 = time.perf_counter()
    cp = subprocess.run([sys.executable, "-m", "reports", str(d)], capture_output=True, text=True, env=env, cwd=ROOT)
    t_cli = time.perf_counter() - t1
    if cp.returncode != 0:
        print(cp.stderr, file=sys.stderr)
        return 1

    size_mb = path.stat().st_size / 1e6
    n_figs = sum(not isinstance(f, reports.NoData) for _, f in figs)
    result = {
        "trials": len(tidy),
        "figures": n_figs,
        "html_mb": round(size_mb, 2),
        "import_s": round(t_import, 3),
        "load_s": round(t_load, 3),
        "tidy_s": round(t_tidy, 3),
        "verdict_s": round(t_verdict, 3),
        "verdict_100_trials_s": round(t_verdict_100, 4),
        "verdict_100_ratio_to_goal": round(t_verdict_100 / VERDICT_100_GOAL_S, 3),
        "figures_s": round(t_figures, 3),
        "write_s": round(t_write, 3),
        "tidy_figures_write_s": round(staged, 3),
        "cli_end_to_end_s": round(t_cli, 3),
        "goal_s": GOAL_S,
        "ratio_to_goal": round(staged / GOAL_S, 3),
        "cli_ratio_to_goal": round(t_cli / GOAL_S, 3),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "verdict": v.overall,
    }
    print(f"synthetic study: {len(tidy)} trials, {n_figs} figures, report {size_mb:.1f} MB, {os.cpu_count()} CPUs")
    print(f"  import reports   {t_import:7.3f} s")
    print(f"  load_study_dir   {t_load:7.3f} s")
    print(f"  tidy             {t_tidy:7.3f} s")
    print(f"  verdict          {t_verdict:7.3f} s")
    print(f"  figures          {t_figures:7.3f} s")
    print(f"  write            {t_write:7.3f} s   (verdict + figures + HTML)")
    print(f"tidy+figures+write {staged:7.3f} s   = {staged / GOAL_S:.2f} x the {GOAL_S:.0f} s goal (best of {args.repeats})")
    print(f"python -m reports  {t_cli:7.3f} s   = {t_cli / GOAL_S:.2f} x the goal (fresh interpreter, end to end)")
    print(f"verdict, 100 trials {t_verdict_100:6.3f} s   = {t_verdict_100 / VERDICT_100_GOAL_S:.2f} x the "
          f"{VERDICT_100_GOAL_S} s contract (best of {args.repeats})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if tmp:
        tmp.cleanup()
    return 0 if max(staged, t_cli) <= GOAL_S and t_verdict_100 <= VERDICT_100_GOAL_S else 3


if __name__ == "__main__":
    raise SystemExit(main())
