"""reports.verdict: known answers on synthetic studies, Pareto fronts, deterministic bootstrap."""
import numpy as np
import pandas as pd
import pytest

import reports
from reports.synthetic import synthetic_trials
from reports.verdict import bootstrap_diff_ci, bootstrap_mean_ci, t_quantile


@pytest.mark.parametrize("space", ["segments", "joint"])
@pytest.mark.parametrize(
    "shape, expected",
    [("middle", "intermediate better"), ("end", "end better"), ("noise", "not resolved")],
)
def test_verdict_known_answers(shape, expected, space):
    v = reports.verdict(reports.tidy(synthetic_trials(shape, space=space, rng_seed=3)))
    assert v.overall == expected, v.summary
    assert {b.outcome for b in v.budgets} == {expected}
    assert v.summary.lower().startswith(expected)  # the headline leads with it
    assert len(v.budgets) == 2 and v.n_completed > 0


def test_noise_is_not_resolved_across_seeds():
    # the selection of the best of several noisy points must not fake a win
    outcomes = [
        b.outcome
        for r in range(6)
        for b in reports.verdict(reports.tidy(synthetic_trials("noise", rng_seed=100 + r))).budgets
    ]
    assert outcomes.count("not resolved") >= len(outcomes) - 1, outcomes


def test_verdict_numbers_and_structure():
    t = reports.tidy(synthetic_trials("middle", base_widths=(32,)))
    v = reports.verdict(t)
    (b,) = v.budgets
    pts = reports.point_means(t)
    inter = pts[pts["region"] == "intermediate"].sort_values("accuracy").iloc[-1]
    end = pts[pts["region"] != "intermediate"].sort_values("accuracy").iloc[-1]
    assert b.intermediate == inter["point_label"] and b.end == end["point_label"]
    assert b.difference == pytest.approx(inter["accuracy"] - end["accuracy"])
    assert b.ci_low < b.difference < b.ci_high and b.ci_low > 0
    assert b.n_intermediate_candidates == 4 and b.intermediate_seeds == 3
    assert f"{100 * b.difference:+.2f}" in v.summary  # the numbers are in the words
    assert f"{v.pareto_intermediate} of the {v.pareto_points} Pareto-front point" in v.summary


def test_verdict_is_deterministic_and_changes_with_the_data():
    raw = synthetic_trials("middle", rng_seed=5)
    a = reports.verdict(reports.tidy(raw))
    b = reports.verdict(reports.tidy(raw))
    assert a.summary == b.summary and a.budgets == b.budgets
    # make the regular end much better: the verdict must follow the data
    changed = raw.copy()
    changed.loc[changed["segments"] == 1, "accuracy"] += 0.05
    c = reports.verdict(reports.tidy(changed))
    assert c.overall == "end better" and c.summary != a.summary
    assert {x.end_region for x in c.budgets} == {"regular"}
    # a small change moves the numbers
    nudged = raw.copy()
    nudged.loc[0, "accuracy"] += 0.001
    assert reports.verdict(reports.tidy(nudged)).summary != a.summary


def test_single_seed_is_not_resolved():
    v = reports.verdict(reports.tidy(synthetic_trials("middle", seeds=1)))
    assert v.overall == "not resolved"
    assert all(b.ci_low is None for b in v.budgets)
    assert "two seeds" in v.summary


def test_verdict_without_an_end_or_without_data():
    raw = synthetic_trials("middle")
    no_end = raw[(raw["segments"] != 1) & (raw["segments"] != raw["base_width"])]
    v = reports.verdict(reports.tidy(no_end))
    assert v.overall == "no data" and {b.outcome for b in v.budgets} == {"not comparable"}
    empty = reports.verdict(reports.tidy(raw.iloc[:0]))
    assert empty.overall == "no data" and "No completed trial" in empty.summary
    failed = reports.verdict(reports.tidy(raw.assign(state="FAIL")))
    assert failed.overall == "no data"


def test_verdict_accepts_raw_frame():
    raw = synthetic_trials("end")
    assert reports.verdict(raw).summary == reports.verdict(reports.tidy(raw)).summary


def test_pareto_mask():
    x = [1, 2, 3, 4, 2, np.nan, 5]
    y = [0.5, 0.7, 0.6, 0.9, 0.7, 0.99, 0.9]
    # (3, .6) dominated by (2, .7); (2, .7) twice: both on the front; (5, .9) dominated by (4, .9); NaN never
    assert reports.pareto_mask(x, y).tolist() == [True, True, False, True, True, False, False]
    assert reports.pareto_mask([], []).tolist() == []


def test_pareto_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, 300).astype(float), rng.integers(0, 20, 300).astype(float)
    brute = [
        not any((x[j] <= x[i] and y[j] >= y[i]) and (x[j] < x[i] or y[j] > y[i]) for j in range(len(x)))
        for i in range(len(x))
    ]
    assert reports.pareto_mask(x, y).tolist() == brute


def test_bootstrap_helpers():
    assert t_quantile(0.975, 2) == pytest.approx(4.3027, abs=1e-3)
    assert t_quantile(0.975, 10) == pytest.approx(2.2281, abs=1e-3)
    lo, hi = bootstrap_mean_ci([0.70, 0.71, 0.72], label="x")
    assert lo < 0.71 < hi and (lo, hi) == bootstrap_mean_ci([0.70, 0.71, 0.72], label="x")
    assert np.isnan(bootstrap_mean_ci([0.7])[0])
    lo, hi = bootstrap_diff_ci([0.80, 0.81, 0.82], [0.70, 0.71, 0.72])
    assert 0 < lo < 0.1 < hi
    # with 3 seeds the interval is about as wide as Welch's t interval (a plain bootstrap is ~2x narrower)
    a, b = np.array([0.80, 0.81, 0.83]), np.array([0.70, 0.72, 0.71])
    se = np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3)
    lo, hi = bootstrap_diff_ci(a, b)
    assert (hi - lo) / (2 * se) > 2.5  # z would give 1.96, a plain percentile bootstrap ~1.6


def test_verdict_field_types():
    v = reports.verdict(reports.tidy(synthetic_trials("middle")))
    assert isinstance(v, reports.Verdict) and isinstance(v.pareto_front, pd.DataFrame)
    assert all(isinstance(b, reports.BudgetVerdict) for b in v.budgets)
    assert 0 <= v.pareto_intermediate <= v.pareto_points == len(v.pareto_front)
