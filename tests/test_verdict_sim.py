"""The verdict's false-claim guarantee, power and answers, measured on simulated studies with a known truth
(verdict.sim): unequal seed spreads, diverged runs, per-image architecture x image effects, many looks and
least favourable truths. A cell holds when the one-sided 95% Clopper-Pearson upper bound of its
false-claim rate is at most 6% (verdict.sim.holds), on enough studies for that to be reachable: a few
hundred where the rate is well under 5%, a few thousand where it is near 4%. Cells at a least favourable
truth, where the rate is 5% by construction, need tens of thousands and live in
benchmarks/simulate_verdict.py, with every other cell (docs/STATISTICS.md quotes it)."""
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from verdict.sim import (
    LIMIT, divergence_power_cells, false_claim_cells, holds, image_cells, power_cells, run, upper_bound,
)

SUITE = {  # cell -> simulated studies: enough that its upper bound can clear 6% at its rate (docs/STATISTICS.md)
    "null, K=1, 5 seeds, fixed": 1500,
    "null, K=3, 8 seeds, sequential": 500,
    "null, K=12, 5 seeds, fixed": 500,
    "K=12, depthwise 3x noisier, regular far worse, 12 seeds": 500,
    "1.0-3.6 spreads, an intermediate noisiest, regular far worse, 12 seeds": 800,
    "depthwise 2x noisier, regular far worse, 8 seeds": 3000,
    "depthwise 1.5x noisier, regular far worse, 12 seeds": 3000,
    "1.0-3.6 spreads, regular far worse, cap 20, sequential": 2000,
    "regular 3 points below, K=1, 20 seeds, fixed": 3000,
    "an intermediate one margin above, K=12, 20 seeds, fixed": 2000,
    "+3 points when trained, diverges in 40% of seeds, 8 seeds": 1000,
    "depthwise diverges in 40% of seeds, 12 seeds": 300,
    "null, the regular end diverges in 15% of seeds, K=3, 8 seeds": 500,
    "an intermediate one margin above, depthwise 3x noisier, K=1, 8 seeds, every budget tested (no descriptive rule)":
        1000,
    "depthwise one margin above and 3x noisier, K=1, 4 seeds, every budget tested (no descriptive rule)": 1000,
    "an intermediate one margin above, regular 3x noisier, K=1, 8 seeds": 1000,
}
CELLS = {s.name: s for s in false_claim_cells()}


@pytest.mark.parametrize("name", list(SUITE))
def test_any_false_claim_stays_at_or_below_five_percent(name):
    cell, sims = CELLS[name], SUITE[name]
    assert cell.covered
    r = run(cell, sims, np.random.default_rng(list(SUITE).index(name)))
    k = int(r.false.sum())
    print(f"\n{name}: {k}/{sims} = {k / sims:.4f}, upper bound {upper_bound(k, sims):.4f}, "
          f"answers {r.answered.mean():.3f}, descriptive {r.descriptive.mean():.3f}")
    assert holds(r.false), f"{name}: {k} of {sims} studies made a false claim"


@pytest.mark.parametrize("name, alpha", [
    ("depthwise one margin above, K=1, 20 seeds, fixed", 0.10),  # "no practical difference" at 10%
    ("null, K=1, 8 seeds, 3 budgets", 0.15),  # alpha not split over the three budgets
])
def test_the_check_fails_on_a_rule_known_to_be_too_liberal(name, alpha):
    """The check can fail: the same studies under a rule whose false-claim rate is 7-10% do not hold."""
    cell = CELLS.get(name) or replace(CELLS["null, K=1, 8 seeds, fixed"], name=name, budgets=3)
    r = run(replace(cell, alpha=alpha), 500, np.random.default_rng(1))
    print(f"\n{name} at alpha {alpha}: {r.false.mean():.3f}")
    assert not holds(r.false) and upper_bound(int(r.false.sum()), 500) > LIMIT


@pytest.mark.parametrize("seeds", [3, 20])
def test_per_image_results_keep_the_test_images_sampling_in_the_interval(seeds):
    """Equal on the task, each point off by its own 0.7-point effect on these 1,000 images: seeds alone
    would narrow the interval past the image term (20 seeds); with per-image results it holds."""
    cell = next(s for s in image_cells() if s.seeds == seeds)
    r = run(cell, 150, np.random.default_rng(7))
    print(f"\n{cell.name}: {int(r.false.sum())}/150, descriptive {r.descriptive.mean():.3f}")
    assert holds(r.false)


def test_seeds_alone_miss_the_image_effect():
    """The same studies without per-image results: the guarantee fails, which is why the page says so."""
    from verdict import sim

    cell = next(s for s in image_cells() if s.seeds == 20)
    val, test, _, diverged = sim._draw(cell, 150, np.random.default_rng(7))
    outcome, i_star, e_star = sim._study(cell, val, test, None, ~diverged)
    false = sim.false_claims(outcome, i_star, e_star, cell.truth(), cell.ends, cell.margin)
    print(f"\nseeds only: {false.mean():.3f}")
    assert not holds(false) and false.mean() > 2 * 0.05


def _lower_bound(k: int, n: int, conf: float = 0.95) -> float:
    return float(stats.binomtest(k, n, alternative="greater").proportion_ci(conf).low)


def test_a_fixed_eight_seed_study_finds_a_two_point_advantage():
    cell = power_cells()[0]  # +2 points, 8 fixed seeds, seed sd 1.3 (0.5 of it shared data order)
    r = run(cell, 3000, np.random.default_rng(11))
    print(f"\n{cell.name}: found {r.found.mean():.3f}, answers {r.answered.mean():.3f}")
    assert _lower_bound(int(r.found.sum()), 3000) >= 0.55
    assert holds(r.false)


def test_a_divergence_does_not_silence_the_budget():
    """segments=4 truly +3 points, the regular end diverging in 15% of its seeds, 8 seeds: read on every
    run, the spread of the diverged zeros made the budget descriptive in about three studies of four; read
    on the runs that trained, almost never. The diverged runs stay outcomes of the comparison."""
    trained, every = (run(c, 1000, np.random.default_rng(5)) for c in divergence_power_cells())
    print(f"\ndescriptive {trained.descriptive.mean():.3f} (every run: {every.descriptive.mean():.3f}), "
          f"found {trained.found.mean():.3f} ({every.found.mean():.3f})")
    assert trained.descriptive.mean() < 0.02 and every.descriptive.mean() > 0.5
    assert trained.found.mean() >= every.found.mean() and holds(trained.false)


def test_a_divergence_the_seeds_may_not_see_is_outside_the_guarantee():
    """A point that diverges in 20% of runs shows no divergence in 5 seeds a third of the time: no method
    can tell it from one that never diverges, so the cell is marked uncovered (and measured in the table).
    A rare divergence of a point that is not the best of its side changes no claim's truth: covered."""
    rare = CELLS["+3 points when trained, diverges in 20% of seeds, 5 seeds"]
    assert not rare.covered and CELLS["+3 points when trained, diverges in 40% of seeds, 12 seeds"].covered
    assert CELLS["null, the regular end diverges in 15% of seeds, K=3, 8 seeds"].covered
