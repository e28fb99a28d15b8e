"""verdict.stats: critical values, the detectable difference, each contrast's variance (seeds, pooled where
spreads agree, and test images), the look schedule."""
import numpy as np
import pytest
from scipy import stats as sps

from verdict.stats import (
    END, EQUIVALENT, INTERMEDIATE, LOOKS, OPEN, classify, compare, contrast_variance, critical, detectable,
    final_look, image_variance, level, next_seed_count, plan,
)


def test_bonferroni_critical_values_are_at_least_dunnetts():
    # Dunnett's many-to-one critical value (equicorrelation 1/2) from scipy's multivariate t: the
    # Bonferroni value the verdict uses is a little larger, so its level is at most the nominal one.
    k, df, alpha = 4, 10, 0.0125
    shape = np.full((k, k), 0.5) + 0.5 * np.eye(k)
    c = critical(alpha, k, df)
    covered = sps.multivariate_t(np.zeros(k), shape, df=df, seed=0).cdf(np.full(k, c))
    assert 1 - alpha <= covered < 1 - alpha / 2
    assert critical(alpha, 1, df) == pytest.approx(sps.t.isf(alpha, df))
    assert np.isnan(critical(alpha, 3, 0))


def test_detectable_difference_has_eighty_percent_power():
    sd, n, df, alpha, m = 0.7, 5, 16, 0.01, 3
    mde = detectable(sd, n, df, alpha, m)
    rng = np.random.default_rng(0)
    se = sd * np.sqrt(2 / n)
    d_hat = rng.normal(mde, se, 200_000)
    se_hat = se * np.sqrt(rng.chisquare(df, d_hat.size) / df)
    assert (d_hat - critical(alpha / 2, m, df) * se_hat > 0).mean() == pytest.approx(0.8, abs=0.01)
    assert np.isnan(detectable(sd, 1, 0, alpha, m))


def test_pooled_variance_ignores_the_shared_seed_effect():
    rng = np.random.default_rng(1)
    seed_shift = rng.normal(0, 5, (1, 50))  # huge data-order effect shared by all points
    test = np.array([[0.0], [0.0], [1.0], [0.0]]) + seed_shift + rng.normal(0, 0.3, (4, 50))
    c = compare(test, test, np.array([True, False, False, True]), alpha=0.05, margin=0.5)
    assert c.sd == pytest.approx(0.3, rel=0.1) and c.df == 3 * 49
    assert c.outcome == INTERMEDIATE and c.i_star == 1 and c.difference == pytest.approx(1.0, abs=0.15)


def test_compare_broadcasts_over_leading_axes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 2, 5, 4))
    ends = np.array([True, False, False, False, True])
    many = compare(x, x, ends, alpha=0.05, margin=1)
    one = compare(x[3, 1], x[3, 1], ends, alpha=0.05, margin=1)
    assert many.low.shape == (7, 2) and many.low[3, 1] == pytest.approx(one.low)
    with pytest.raises(ValueError, match="intermediate"):
        compare(x, x, np.ones(5, dtype=bool), alpha=0.05, margin=1)


def test_classify():
    got = classify([0.1, -2, -0.5, -0.5, np.nan], [2, -0.1, 0.5, 2, np.nan],
                   [0.2, -1.5, -0.4, -0.4, np.nan], [1.5, -0.2, 0.4, 1.5, np.nan], margin=1)
    assert got.tolist() == [INTERMEDIATE, END, EQUIVALENT, OPEN, OPEN]


def test_level_splits_alpha_over_budgets_and_looks():
    assert level(2, LOOKS) == pytest.approx(0.005) and level(3, None) == pytest.approx(0.05 / 3)
    assert level(0, plan(8)) == pytest.approx(0.05 / 3)


def test_plan_and_next_seed_count():
    assert plan(8) == (3, 5, 8) and plan(10) == (3, 5, 8, 10) and plan(2) == (2,) and plan(50) == LOOKS
    assert [next_seed_count(n, False, 8) for n in (0, 2, 3, 4, 5, 7, 8, 9)] == [3, 3, 5, 5, 8, 8, 8, 9]
    assert next_seed_count(5, True, 8) == 5 and next_seed_count(4, True, 8) == 5  # off the plan: no look
    assert next_seed_count(2, False, 6, looks=None) == 6


def test_final_look_is_the_first_settled_one():
    outcomes = np.array([[OPEN, INTERMEDIATE, END], [OPEN, OPEN, OPEN], [EQUIVALENT, OPEN, OPEN]])
    stop, final = final_look(outcomes)
    assert stop.tolist() == [1, 2, 0] and final.tolist() == [INTERMEDIATE, OPEN, EQUIVALENT]


def _anova_image_term(d: np.ndarray) -> float:
    """(MS_images - MS_residual) / (n m) of one seed x image table of differences, by the textbook sums."""
    n, m = d.shape
    grand = d.mean()
    ss_seeds = m * ((d.mean(1) - grand) ** 2).sum()
    ss_images = n * ((d.mean(0) - grand) ** 2).sum()
    ss_res = ((d - grand) ** 2).sum() - ss_seeds - ss_images
    return max(ss_images / (m - 1) - ss_res / ((n - 1) * (m - 1)), 0.0) / (n * m)


def test_image_variance_is_the_two_way_anova_image_term():
    rng = np.random.default_rng(4)
    prob = rng.random((2, 3, 1, 300))  # each point its own per-image difficulty: an image term
    correct = rng.random((2, 3, 5, 300)) < prob
    got = image_variance(correct)
    for s in range(2):
        for p, q in [(0, 1), (0, 2), (1, 2)]:
            want = _anova_image_term(correct[s, p].astype(float) - correct[s, q])
            assert got[s, p, q] == pytest.approx(want, rel=1e-9) and got[s, q, p] == pytest.approx(want, rel=1e-9)
    assert (got[0][~np.eye(3, dtype=bool)] > 0).all()
    same = np.broadcast_to(rng.random((1, 1, 300)) < 0.7, (3, 4, 300))  # identical answers: no image term
    assert np.allclose(image_variance(same), 0)


def test_a_noisy_pair_keeps_its_own_variance_and_quiet_pairs_pool():
    rng = np.random.default_rng(6)
    x = rng.normal(0, 1, (5, 12))
    x[4] = rng.normal(0, 6, 12)  # one point six times noisier
    var, df, pooled = contrast_variance(x)
    assert not pooled[0, 4] and not pooled[4, 1]
    assert var[0, 4] == pytest.approx(np.var(x[0] - x[4], ddof=1) / 12) and df[0, 4] == 11
    y = rng.normal(0, 1, (5, 12))
    var, df, pooled = contrast_variance(y)
    r = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    s2 = (r * r).sum() / (4 * 11)
    assert pooled[0, 1] and var[0, 1] == pytest.approx(2 * s2 / 12) and df[0, 1] == 44
    assert not contrast_variance(y[:3])[2].any()  # three points: nothing to test a pair against


# -------------------------------------------------------------------------------------------------
# verdict.contrast: the claims' variance model and the spread of the runs that trained


def test_residual_sd_of_the_runs_that_trained_is_the_least_squares_two_way_fit():
    from verdict.contrast import residual_sd

    rng = np.random.default_rng(7)
    x = 80 + rng.normal(0, 1.2, (6, 10)) + np.arange(6)[:, None] * 3 + rng.normal(0, 4, 10)
    assert float(residual_sd(x, trained=np.ones(x.shape, dtype=bool))) == pytest.approx(float(residual_sd(x)))
    trained = rng.random(x.shape) > 0.2
    rows, ys = [], []
    for p, s in zip(*np.nonzero(trained)):  # the additive point + seed model on the trained cells, by least squares
        row = np.zeros(6 + 10)
        row[p], row[6 + s] = 1, 1
        rows.append(row)
        ys.append(x[p, s])
    design, y = np.array(rows), np.array(ys)
    fit, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    want = np.sqrt(((y - design @ fit) ** 2).sum() / (len(y) - rank))
    diverged = np.where(trained, x, 0.0)  # a diverged run scores 0: not spread
    assert float(residual_sd(diverged, trained=trained)) == pytest.approx(want)
    assert float(residual_sd(diverged)) > 5 * want
    many = np.stack([diverged, x])  # leading axes at once
    assert residual_sd(many, trained=np.stack([trained, trained])) == pytest.approx([want, want])
    assert np.isnan(residual_sd(x[:2, :2], trained=np.array([[True, False], [False, True]])))


def test_one_divergence_does_not_make_a_budget_descriptive():
    from verdict.contrast import cannot_settle

    rng = np.random.default_rng(3)
    x = 96 + rng.normal(0, 0.3, (5, 8))
    x[0, 2] = 0.0  # the regular end diverged once
    trained = x > 0
    assert cannot_settle(x, 8, 0.01, 3, 1.0) and not cannot_settle(x, 8, 0.01, 3, 1.0, trained=trained)


def test_contrast_variance_is_paired_for_two_points_and_two_way_for_four():
    from verdict.contrast import contrast_test, variance_form

    rng = np.random.default_rng(4)
    pair = rng.normal(0, 1, (2, 9)) + rng.normal(0, 5, 9)
    r = contrast_test(pair, [1, -1], alpha=0.05, margin=1)
    d = pair[0] - pair[1]
    assert float(r.se) == pytest.approx(d.std(ddof=1) / 3) and float(r.df) == pytest.approx(8)
    assert np.allclose(variance_form([1, -1, -1, 1]), np.eye(4) * 4 / 3 - 1 / 3)
    assert np.allclose(variance_form([2, -1, -1]), np.outer([2, -1, -1], [2, -1, -1]))  # unequal sizes: paired
    four = rng.normal(0, 1, (4, 9))
    four[3] *= 20  # one point's spread dominates: Satterthwaite's df falls towards n - 1
    assert 8 <= float(contrast_test(four, [1, -1, -1, 1], alpha=0.05, margin=1).df) < 10


def test_a_claims_level_holds_under_equal_and_unequal_spreads():
    """The rate of one-sided bounds beyond the truth, at a claim's level, against its nominal alpha / 2:
    within Monte-Carlo error of it or below, for a pair and an interaction, equal spreads or one point 3x
    noisier (the full table: benchmarks/simulate_verdict.py)."""
    from verdict.contrast import contrast_test

    rng = np.random.default_rng(5)
    alpha, draws = 0.01, 100_000
    for w, sds in [((1, -1), (1, 3)), ((1, -1, -1, 1), (1, 1, 1, 1)), ((1, -1, -1, 1), (1, 1, 1, 3))]:
        for n in (5, 12):
            x = rng.normal(0, 1, (draws, len(w), n)) * np.asarray(sds, dtype=float)[:, None]
            r = contrast_test(x + rng.normal(0, 0.5, (draws, 1, n)), w, alpha=alpha, margin=1)
            for miss in ((r.low > 0).sum(), (r.high < 0).sum()):
                assert sps.binomtest(int(miss), draws, alpha / 2, alternative="greater").pvalue > 0.001, (w, sds, n)
