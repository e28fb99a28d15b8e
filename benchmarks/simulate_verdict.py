"""The verdict's measured guarantees: false-claim rate and power of simulated studies with a known truth
(verdict.sim), a markdown table docs/STATISTICS.md quotes. Kept out of the suite (minutes);
tests/test_verdict_sim.py runs the same cells with fewer studies.

    python benchmarks/simulate_verdict.py [--sims 2000] [--image-sims 400] [--seed 0]

"found" is, for the segments settings, the share of studies naming the truly better intermediate at
every budget (or at the quiet one); for the claims settings, the share of the question's truly
positive contrasts claimed positive.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verdict.claims_sim import claim_cells, claim_power_cells, image_claim_cells, run_claims  # noqa: E402
from verdict.sim import false_claim_cells, image_cells, power_cells, run  # noqa: E402


def upper(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n."""
    return 1.0 if k >= n else float(stats.beta.ppf(conf, k + 1, n - k))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=2000, help="simulated studies per setting (at least 300)")
    ap.add_argument("--image-sims", type=int, default=400, help="simulated studies per per-image setting")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.sims < 300 or args.image_sims < 300:
        ap.error("--sims and --image-sims: at least 300 studies a setting")
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print("| setting | studies | false claims | 95% upper bound | covered |\n|---|---|---|---|---|")
    worst = 0.0
    for cells, sims in ((false_claim_cells(), args.sims), (image_cells(), args.image_sims)):
        for s in cells:
            false, _ = run(s, sims, rng)
            k = int(false.sum())
            worst = max(worst, k / sims) if s.covered else worst
            print(f"| {s.name} | {sims} | {k / sims:.4f} | {upper(k, sims):.4f} | {'yes' if s.covered else 'no'} |",
                  flush=True)
    print("\n| claims setting (every claim of the study) | studies | false claims | 95% upper bound |\n|---|---|---|---|")
    for cells, sims in ((claim_cells(), args.sims), (image_claim_cells(), args.image_sims)):
        for s in cells:
            false, _ = run_claims(s, sims, rng)
            k = int(false.sum())
            worst = max(worst, k / sims)
            print(f"| {s.name} | {sims} | {k / sims:.4f} | {upper(k, sims):.4f} |", flush=True)
    print("\n| power setting | studies | found | false claims |\n|---|---|---|---|")
    for s, runner in [*((c, run) for c in power_cells()), *((c, run_claims) for c in claim_power_cells())]:
        false, found = runner(s, args.sims, rng)
        print(f"| {s.name} | {args.sims} | {found.mean():.3f} | {false.mean():.4f} |", flush=True)
    print(f"\nworst false-claim rate where covered {worst:.4f}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
