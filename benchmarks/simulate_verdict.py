"""The verdict's measured guarantees: false-claim rate, power and answers of simulated studies with a known
truth (verdict.sim, verdict.claims_sim), and each contrast's per-claim level under unequal spreads
(verdict.contrast.contrast_test): the markdown tables docs/STATISTICS.md quotes. Kept out of the suite
(minutes); the suite's simulation tests run sharper cells with fewer studies.

    nice python benchmarks/simulate_verdict.py [--sims 5000] [--image-sims 2000] [--draws 400000] [--seed 0]

A cell holds when the one-sided 95% Clopper-Pearson upper bound of its false-claim rate is at most 6%
(verdict.sim.holds); cells at a least favourable truth, where the rate is 5% by construction, get 4x the
studies. "power": the share of claims whose truth is at least a margin from 0 claimed in that direction
(for the power settings, "found": the truly better intermediate named at every budget, or the share of the
question's truly positive contrasts claimed positive); "answers": the share of a study's claims settled (a
direction or "no practical difference": not "not resolved", not descriptive); "descriptive": the share of
budgets drawn without a claim.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verdict.claims_sim import claim_cells, claim_power_cells, image_claim_cells, run_claims  # noqa: E402
from verdict.contrast import contrast_test  # noqa: E402
from verdict.sim import LIMIT, false_claim_cells, image_cells, power_cells, run, upper_bound  # noqa: E402


def _mean(x) -> str:
    x = np.asarray(x, dtype=float)
    return f"{np.nanmean(x):.3f}" if np.isfinite(x).any() else "-"


def _row(name: str, sims: int, r, *extra: str) -> tuple[str, float]:
    k = int(r.false.sum())
    ub = upper_bound(k, sims)
    cells = [name, str(sims), f"{k / sims:.4f}", f"{ub:.4f}", "yes" if ub <= LIMIT else "**no**", _mean(r.power),
             _mean(r.answered), _mean(r.descriptive), *extra]
    return "| " + " | ".join(cells) + " |", k / sims


def calibration(draws: int, rng: np.random.Generator) -> None:
    """Each contrast's per-claim level: the rate of its bounds beyond the truth (either side) over its
    nominal alpha (one claim of 48 in a fixed study: alpha = 0.05/48), under equal and unequal spreads."""
    alpha = 0.05 / 48
    shapes = {"pair": (1.0, -1.0), "interaction": (1.0, -1.0, -1.0, 1.0)}
    spreads = {"pair": ((1, 1), (1, 3), (1, 10)),
               "interaction": ((1, 1, 1, 1), (1, 1, 1, 1.5), (1, 1, 1, 3), (1, 1, 3, 3), (1, 1, 1, 10),
                               (1, 1.65, 2.3, 3.6))}
    seeds = (3, 4, 5, 8, 12, 20)
    print(f"\n| contrast, each point's seed spread (+0.5 shared) | {' | '.join(f'{n} seeds' for n in seeds)} |")
    print("|---|" + "---|" * len(seeds))
    for kind, w in shapes.items():
        for sds in spreads[kind]:
            out = []
            for n in seeds:
                x = rng.normal(0.0, 1.0, (draws, len(w), n)) * np.asarray(sds, dtype=float)[:, None]
                x += rng.normal(0.0, 0.5, (draws, 1, n))
                r = contrast_test(x, w, alpha=alpha, margin=1.0)
                out.append(f"{((r.low > 0).mean() + (r.high < 0).mean()) / alpha:.2f}")
            print(f"| {kind}, {'/'.join(f'{s:g}' for s in sds)} | " + " | ".join(out) + " |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=5000, help="simulated studies per setting (at least 300)")
    ap.add_argument("--image-sims", type=int, default=2000, help="simulated studies per per-image setting")
    ap.add_argument("--draws", type=int, default=400_000, help="draws per cell of the per-claim level table")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.sims < 300 or args.image_sims < 300:
        ap.error("--sims and --image-sims: at least 300 studies a setting")
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    head = "| false claims | 95% upper bound | holds (at most 6%) | power | answers | descriptive |"
    print(f"| setting | studies {head} covered |\n|---|---|---|---|---|---|---|---|---|")
    worst, failed = 0.0, []
    for cells, sims in ((false_claim_cells(), args.sims), (image_cells(), args.image_sims)):
        for s in cells:
            n = 4 * sims if s.tight else sims
            line, rate = _row(s.name, n, run(s, n, rng), "yes" if s.covered else "no")
            worst = max(worst, rate) if s.covered else worst
            failed += [s.name] if s.covered and upper_bound(round(rate * n), n) > LIMIT else []
            print(line, flush=True)
    print(f"\n| claims setting (every claim of the study) | studies {head}\n|---|---|---|---|---|---|---|---|")
    for cells, sims in ((claim_cells(), args.sims), (image_claim_cells(), args.image_sims)):
        for s in cells:
            line, rate = _row(s.name, sims, run_claims(s, sims, rng))
            worst = max(worst, rate)
            failed += [s.name] if upper_bound(round(rate * sims), sims) > LIMIT else []
            print(line, flush=True)
    print("\n| power setting | studies | found | answers | descriptive | false claims | 95% upper bound |"
          "\n|---|---|---|---|---|---|---|")
    for s, runner in [*((c, run) for c in power_cells()), *((c, run_claims) for c in claim_power_cells())]:
        r = runner(s, args.sims, rng)
        k = int(r.false.sum())
        print(f"| {s.name} | {args.sims} | {_mean(r.found)} | {_mean(r.answered)} | {_mean(r.descriptive)} | "
              f"{k / args.sims:.4f} | {upper_bound(k, args.sims):.4f} |", flush=True)
    calibration(args.draws, rng)
    print(f"\nworst false-claim rate where covered {worst:.4f}; cells that do not hold: {failed or 'none'}; "
          f"{time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
