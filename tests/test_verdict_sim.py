"""The verdict's false-claim guarantee and power, measured on simulated studies with a known truth
(verdict.sim): unequal seed spreads, diverged runs, per-image architecture x image effects,
many looks and least favourable truths. A cell fails when its rate is above 5% beyond Monte-Carlo
error: an exact one-sided binomial test at the 1% level on the stated number of simulated studies.
benchmarks/simulate_verdict.py prints the full table (more cells, more studies)."""
import numpy as np
import pytest
from scipy.stats import binomtest

from verdict.sim import false_claim_cells, image_cells, power_cells, run

LIMIT = 0.05
SIMS = 1500

SUITE = [
    "null, K=1, 5 seeds, fixed", "null, K=3, 8 seeds, sequential", "null, K=12, 5 seeds, fixed",
    "1.0-3.6 spreads, depthwise noisiest, regular far worse, 5 seeds",
    "1.0-3.6 spreads, an intermediate noisiest, regular far worse, 8 seeds",
    "depthwise 10x noisier, regular far worse, 5 seeds", "an intermediate 10x noisier, regular far worse, 8 seeds",
    "depthwise 8x noisier, regular far worse, 5 seeds", "depthwise 2x noisier, regular far worse, 8 seeds",
    "depthwise 3x noisier, regular far worse, 3 seeds",
    "1.0-3.6 spreads, regular far worse, cap 20, sequential",
    "regular 3 points below, K=1, 5 seeds, fixed", "depthwise one margin above, K=1, 20 seeds, fixed",
    "an intermediate one margin above, K=12, 20 seeds, fixed",
    "+3 points when trained, diverges in 40% of seeds, 12 seeds", "depthwise diverges in 40% of seeds, 12 seeds",
]
CELLS = {s.name: s for s in false_claim_cells()}


def _above(k: int, n: int, p: float) -> bool:
    """Is a rate seen k times in n significantly above p (one-sided, 1%)?"""
    return binomtest(k, n, p, alternative="greater").pvalue < 0.01


@pytest.mark.parametrize("name", SUITE)
def test_any_false_claim_stays_at_or_below_five_percent(name):
    assert CELLS[name].covered
    false, _ = run(CELLS[name], SIMS, np.random.default_rng(SUITE.index(name)))
    k = int(false.sum())
    print(f"\n{name}: {k}/{SIMS} = {k / SIMS:.4f}")
    assert not _above(k, SIMS, LIMIT), f"{name}: {k} of {SIMS} studies made a false claim"


def test_per_image_results_keep_the_test_images_sampling_in_the_interval():
    """Equal on the task, each point off by its own 0.7-point effect on these 1,000 images, 20 seeds:
    seeds alone would narrow the interval past the image term; with per-image results it holds."""
    cell = next(s for s in image_cells() if s.seeds == 20)
    false, _ = run(cell, 150, np.random.default_rng(7))
    print(f"\n{cell.name}: {int(false.sum())}/150")
    assert not _above(int(false.sum()), 150, LIMIT)


def test_seeds_alone_miss_the_image_effect():
    """The same studies without per-image results: the guarantee fails, which is why the page says so."""
    from verdict import sim

    cell = next(s for s in image_cells() if s.seeds == 20)
    val, test, _ = sim._draw(cell, 150, np.random.default_rng(7))
    outcome, i_star, e_star = sim._study(cell, val, test, None)
    rate = sim.false_claims(outcome, i_star, e_star, cell.truth(), cell.ends, cell.margin).mean()
    print(f"\nseeds only: {rate:.3f}")
    assert rate > 2 * LIMIT


def test_a_fixed_eight_seed_study_finds_a_two_point_advantage():
    cell = power_cells()[0]  # +2 points, 8 fixed seeds, seed sd 1.3 (0.5 of it shared data order)
    false, found = run(cell, 3000, np.random.default_rng(11))
    print(f"\n{cell.name}: found {found.mean():.3f}")
    assert not binomtest(int(found.sum()), 3000, 0.55, alternative="less").pvalue < 0.01
    assert false.mean() < LIMIT


def test_a_divergence_the_seeds_may_not_see_is_outside_the_guarantee():
    """A point that diverges in 20% of runs shows no divergence in 5 seeds a third of the time: no method
    can tell it from one that never diverges, so the cell is marked uncovered (and measured in the table)."""
    rare = CELLS["+3 points when trained, diverges in 20% of seeds, 5 seeds"]
    assert not rare.covered and CELLS["+3 points when trained, diverges in 40% of seeds, 12 seeds"].covered
