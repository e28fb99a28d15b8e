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


def _write_study(d: Path, trials: int) -> None:
    """A synthetic joint study of `trials` trials, written as a study writes one."""
    from records.synthetic import synthetic_config, synthetic_trials
    from records.table import write_trial_tables

    d.mkdir(parents=True, exist_ok=True)
    write_trial_tables(synthetic_trials("middle", space="joint", n_trials=trials, fail_every=50), d)
    (d / "config.json").write_text(json.dumps(synthetic_config("joint", study_name=f"bench-{trials}")), encoding="utf-8")


def _stages(d: Path, repeats: int) -> dict:
    """The best of `repeats` seconds of each in-process stage, the verdict on 100 trials, and the CLI."""
    import reports
    from records.synthetic import synthetic_trials

    t = {}
    t["load_s"], (df, cfg) = _best(lambda: reports.load_study_dir(d), repeats)
    t["tidy_s"], tidy = _best(lambda: reports.tidy(df), repeats)
    t["verdict_s"], v = _best(lambda: reports.verdict(tidy), repeats)
    t["figures_s"], figs = _best(lambda: reports.figures(tidy, cfg), repeats)
    t["write_s"], path = _best(lambda: reports.write(tidy, cfg, d / "report.html"), repeats)
    hundred = synthetic_trials("middle", space="joint", n_trials=100)
    reports.verdict(hundred)  # warm: the first call pays imports inside the stats code
    t["verdict_100_trials_s"], _ = _best(lambda: reports.verdict(hundred), repeats)
    started = time.perf_counter()
    cp = subprocess.run([sys.executable, "-m", "reports", str(d)], capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    t["cli_end_to_end_s"] = time.perf_counter() - started
    if cp.returncode != 0:
        raise RuntimeError(cp.stderr)
    t["tidy_figures_write_s"] = t["tidy_s"] + t["figures_s"] + t["write_s"]
    return {**{k: round(x, 4) for k, x in t.items()}, "trials": len(tidy), "verdict": v.overall,
            "figures": sum(not isinstance(f, reports.NoData) for _, f in figs),
            "html_mb": round(path.stat().st_size / 1e6, 2)}


def _print(r: dict, repeats: int) -> None:
    print(f"synthetic study: {r['trials']} trials, {r['figures']} figures, report {r['html_mb']:.1f} MB, "
          f"{os.cpu_count()} CPUs")
    for key, name in (("import_s", "import reports"), ("load_s", "load_study_dir"), ("tidy_s", "tidy"),
                      ("verdict_s", "verdict"), ("figures_s", "figures"), ("write_s", "write")):
        print(f"  {name:<16} {r[key]:7.3f} s")
    print(f"tidy+figures+write {r['tidy_figures_write_s']:7.3f} s   = {r['ratio_to_goal']:.2f} x the {GOAL_S:.0f} s "
          f"goal (best of {repeats})")
    print(f"python -m reports  {r['cli_end_to_end_s']:7.3f} s   = {r['cli_ratio_to_goal']:.2f} x the goal (fresh "
          "interpreter, end to end)")
    print(f"verdict, 100 trials {r['verdict_100_trials_s']:6.3f} s   = {r['verdict_100_ratio_to_goal']:.2f} x the "
          f"{VERDICT_100_GOAL_S} s bound (best of {repeats})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for the in-process stages")
    ap.add_argument("--out", help="study directory to write (default: a temporary one)")
    ap.add_argument("--json", help="also write the timings as JSON here")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    import reports  # noqa: F401 (timed: the import is part of a redraw)

    import_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        d = Path(args.out) if args.out else Path(tmp) / "joint"
        _write_study(d, args.trials)
        try:
            r = _stages(d, args.repeats)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
    r.update(import_s=round(import_s, 3), goal_s=GOAL_S, ratio_to_goal=round(r["tidy_figures_write_s"] / GOAL_S, 3),
             cli_ratio_to_goal=round(r["cli_end_to_end_s"] / GOAL_S, 3),
             verdict_100_ratio_to_goal=round(r["verdict_100_trials_s"] / VERDICT_100_GOAL_S, 3),
             cpu=platform.processor() or platform.machine(), cpus=os.cpu_count(), python=platform.python_version())
    _print(r, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
    slowest = max(r["tidy_figures_write_s"], r["cli_end_to_end_s"])
    return 0 if slowest <= GOAL_S and r["verdict_100_trials_s"] <= VERDICT_100_GOAL_S else 3


if __name__ == "__main__":
    raise SystemExit(main())
