"""reports.verdict: known answers, choose on validation and claim on test, the numbers in
points, the columns it needs, the Pareto front without matching slack, verdict.json, speed."""
import json

import numpy as np
import pandas as pd
import pytest

import reports
from verdict.pareto import pareto_front, pareto_mask
from records.synthetic import simulated_accuracies, study_frame, synthetic_trials

CONTRACT = ["state", "position", "segments", "base_width", "budget_label", "seed", "accuracy", "test_accuracy", "macs"]
OUTCOMES = {"intermediate better", "end better", "no practical difference", "not resolved", "mixed", "no data"}


@pytest.mark.parametrize("space", ["segments", "order"])
@pytest.mark.parametrize("shape, expected", [("middle", "intermediate better"), ("end", "end better"),
                                             ("noise", "not resolved")])
def test_verdict_known_answers(shape, expected, space):
    """Segments only, or both orders at every segment count (28 claims under the one alpha)."""
    raw = synthetic_trials(shape, space=space, seeds=12, rng_seed=3)
    v = reports.verdict(reports.tidy(raw))
    assert v.overall == expected, v.summary
    assert {b.outcome for b in v.budgets} == {expected}
    assert v.summary.lower().startswith(expected)
    assert len(v.budgets) == 2 and v.n_completed > 0


def test_noise_never_names_a_winner_across_seeds():
    outcomes = [b.outcome for r in range(6)
                for b in reports.verdict(synthetic_trials("noise", rng_seed=100 + r)).budgets]
    assert set(outcomes) <= {"not resolved", "no practical difference"}, outcomes


def _one_budget(val, test, **kw) -> pd.DataFrame:
    """A study of one budget from (points, seeds) arrays in fractions: regular, segments=2.., depthwise."""
    return study_frame(np.asarray(val, dtype=float)[None], np.asarray(test, dtype=float)[None], **kw)


def test_numbers_are_points_and_the_claim_is_on_test():
    rng = np.random.default_rng(0)
    val, test = simulated_accuracies(rng, sims=1, budgets=1, intermediate=3, seeds=8, means=[0, 0, 0.03, 0, 0])
    v = reports.verdict(study_frame(val[0], test[0]))
    (b,) = v.budgets
    assert b.outcome == "intermediate better" and b.intermediate == "segments=3"
    t = test[0, 0].mean(-1)
    end = ("regular", "depthwise")[int(val[0, 0, [0, 4]].mean(-1).argmax())]
    assert b.end == end
    assert b.difference == pytest.approx(100 * (t[2] - t[0 if end == "regular" else 4]))
    assert b.intermediate_accuracy == pytest.approx(100 * t[2])
    assert b.ci_low < b.difference < b.ci_high and 0 < b.ci_low
    assert 0 < b.mde < 5 and b.n_seeds == 8 and b.n_intermediate == 3 and b.n_ends == 2 and b.metric == "test"
    assert "any end advantage is ruled out" in b.rules_out and f"{b.ci_high:.2f} points is ruled out" in b.rules_out
    assert f"{b.difference:+.2f}" in v.summary and "80% power" in b.summary


def test_choose_on_validation_even_when_test_disagrees():
    base = np.full((5, 4), 0.80) + np.arange(4) * 1e-3  # a shared per-seed shift: paired, no residual
    val, test = base.copy(), base.copy()
    val[1] += 0.02  # validation prefers segments=2 ...
    test[3] += 0.02  # ... test would prefer segments=4: the verdict still names segments=2
    test[1] += 0.001
    (b,) = reports.verdict(_one_budget(val, test)).budgets
    assert b.intermediate == "segments=2" and b.difference == pytest.approx(0.1)
    assert b.ci_high == pytest.approx(2.0)  # the upper bound still covers the best intermediate on test


def test_validation_alone_cannot_make_a_claim():
    rng = np.random.default_rng(2)
    val, test = simulated_accuracies(rng, sims=1, budgets=1, intermediate=2, seeds=8)
    val[0, 0, 1] += 0.05  # a large advantage on validation only
    v = reports.verdict(study_frame(val[0], test[0]))
    assert v.overall != "intermediate better"


def test_equal_points_and_many_seeds_give_no_practical_difference():
    rng = np.random.default_rng(4)
    val, test = simulated_accuracies(rng, sims=1, budgets=1, intermediate=3, seeds=20, model_sd=0.002,
                                     test_sd=0.002)
    v = reports.verdict(study_frame(val[0], test[0]), margin=0.01)
    (b,) = v.budgets
    assert v.overall == "no practical difference" and -1 < b.eq_low and b.eq_high < 1
    assert reports.verdict(study_frame(val[0], test[0]), margin=0.001).overall == "not resolved"


def test_only_the_contract_columns_are_needed_and_raw_equals_tidy():
    raw = synthetic_trials("end")
    assert reports.verdict(raw[CONTRACT]).budgets == reports.verdict(raw).budgets
    assert reports.verdict(raw).summary == reports.verdict(reports.tidy(raw)).summary


def test_deterministic_and_follows_the_data():
    raw = synthetic_trials("middle", seeds=5, rng_seed=5)
    a, b = reports.verdict(raw), reports.verdict(raw)
    assert a.summary == b.summary and a.budgets == b.budgets
    changed = raw.copy()
    changed.loc[changed["segments"] == 1, ["accuracy", "test_accuracy"]] += 0.05
    c = reports.verdict(changed)
    assert c.overall == "end better" and {x.end for x in c.budgets} == {"regular"}
    nudged = raw.copy()
    nudged.loc[0, "test_accuracy"] += 0.001
    assert reports.verdict(nudged).summary != a.summary


def test_one_seed_is_not_resolved_and_missing_parts_are_no_data():
    v = reports.verdict(synthetic_trials("middle", seeds=1))
    assert v.overall == "not resolved" and all(b.ci_low is None and b.mde is None for b in v.budgets)
    assert "Nothing is ruled out" in v.budgets[0].rules_out and "two seeds" in v.summary
    raw = synthetic_trials("middle")
    no_end = reports.verdict(raw[(raw["segments"] != 1) & (raw["segments"] != raw["base_width"])])
    assert no_end.overall == "no data" and {b.outcome for b in no_end.budgets} == {"no data"}
    assert reports.verdict(raw.iloc[:0]).overall == "no data"
    assert reports.verdict(raw.assign(state="FAIL")).overall == "no data"


def test_incomplete_seeds_use_complete_blocks_only():
    raw = synthetic_trials("middle", base_widths=(32,), seeds=4)
    running = (raw["seed"] == 3) & (raw["segments"] > 2)  # seed 3 still running at most points: left out
    (b,) = reports.verdict(raw[~running]).budgets
    assert b.n_seeds == 3 and b.n_intermediate == 4
    failed = (raw["segments"] == 8) & (raw["seed"] > 0)  # a point with 1 of 4 seeds is left out instead
    (b,) = reports.verdict(raw[~failed]).budgets
    assert b.n_seeds == 4 and b.n_intermediate == 3
    holes = synthetic_trials("middle", space="order", n_trials=400, fail_every=50)  # a failure in most seeds
    assert all(b.n_seeds >= 6 and b.outcome == "intermediate better" for b in reports.verdict(holes).budgets)


def test_without_test_accuracy_it_says_it_claims_on_validation():
    raw = synthetic_trials("middle", seeds=5).drop(columns="test_accuracy")
    v = reports.verdict(raw)
    assert v.overall == "intermediate better" and all(b.metric.startswith("validation") for b in v.budgets)
    assert "no test accuracy" in v.summary


def test_fixed_design_and_more_budgets_change_the_level():
    raw = synthetic_trials("middle", base_widths=(32, 64), seeds=5)
    looks, fixed = reports.verdict(raw), reports.verdict(raw, looks=None)
    assert looks.budgets[0].level == pytest.approx(0.05 / 2 / 5) and fixed.budgets[0].level == pytest.approx(0.025)
    assert fixed.budgets[0].ci_high - fixed.budgets[0].ci_low < looks.budgets[0].ci_high - looks.budgets[0].ci_low
    assert looks.looks == (3, 5, 8, 12, 20) and fixed.looks is None and "planned looks" in looks.method


def test_overall_mixed():
    raw = synthetic_trials("middle", seeds=5)
    big = raw["base_width"] == 64
    raw.loc[big & (raw["segments"] == 1), ["accuracy", "test_accuracy"]] += 0.06
    v = reports.verdict(raw)
    assert [b.outcome for b in v.budgets] == ["intermediate better", "end better"] and v.overall == "mixed"
    assert v.headline.startswith("Mixed")


def test_to_json_has_the_contract_fields():
    v = reports.verdict(synthetic_trials("middle"))
    d = json.loads(json.dumps(v.to_json()))
    assert d["overall"] in OUTCOMES and d["method"] and d["summary"] and d["margin"] == 1.0
    for b in d["budgets"]:
        assert {"budget_label", "outcome", "intermediate", "end", "difference", "ci_low", "ci_high", "mde",
                "rules_out", "summary"} <= set(b)
    assert {"position", "budget_label"} <= set(d["pareto_front"][0])
    one = json.loads(json.dumps(reports.verdict(synthetic_trials("middle", seeds=1)).to_json()))
    assert one["budgets"][0]["ci_low"] is None


def test_one_hundred_joint_trials_all_count():
    """(The contract's 0.5 s for 100 trials is timed in benchmarks/bench_report.py, not here.)"""
    v = reports.verdict(synthetic_trials("middle", space="joint", n_trials=100))
    assert v.n_completed == 100 and v.overall in OUTCOMES


# -------------------------------------------------------------------------------------------------
# Pareto front


def test_pareto_mask():
    x = [1, 2, 3, 4, 2, np.nan, 5]
    y = [0.5, 0.7, 0.6, 0.9, 0.7, 0.99, 0.9]
    assert pareto_mask(x, y).tolist() == [True, True, False, True, True, False, False]
    assert pareto_mask([], []).tolist() == []


def test_pareto_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, 300).astype(float), rng.integers(0, 20, 300).astype(float)
    brute = [not any((x[j] <= x[i] and y[j] >= y[i]) and (x[j] < x[i] or y[j] > y[i]) for j in range(len(x)))
             for i in range(len(x))]
    assert pareto_mask(x, y).tolist() == brute


def test_no_point_reaches_the_front_by_matching_slack():
    raw = synthetic_trials("end", base_widths=(32,))
    cheapest = raw.groupby("position")["macs"].mean().idxmin()
    assert cheapest not in ("regular", "depthwise")  # an intermediate point is cheapest by slack ...
    best = raw.groupby("position")["test_accuracy"].mean().idxmax()
    assert best != cheapest
    front = reports.verdict(raw).pareto_front
    assert front["position"].tolist() == [best]  # ... but only the most accurate point is on the front


def test_front_runs_across_budgets_and_across_macs_when_unmatched():
    pts = pd.DataFrame({
        "budget_label": ["a", "a", "b", "b", "unmatched", "unmatched"],
        "position": ["regular", "segments=2", "regular", "segments=2", "depthwise", "segments=4"],
        "macs": [1.00e6, 0.97e6, 2.0e6, 2.05e6, 0.5e6, 3e6],
        "accuracy": [80.0, 79.0, 79.5, 82.0, 70.0, 81.0],
    })
    front = pareto_front(pts)
    assert front[["budget_label", "position"]].values.tolist() == [
        ["unmatched", "depthwise"], ["a", "regular"], ["b", "segments=2"]]
    assert front["cost"].tolist() == [0.5e6, 0.985e6, 2.025e6]


def test_front_keeps_tidy_point_keys():
    v = reports.verdict(reports.tidy(synthetic_trials("middle")))
    assert {"point", "point_label", "position", "budget_label", "accuracy", "cost", "region"} <= set(v.pareto_front)
    assert v.pareto_front["point"].str.contains("|", regex=False).all()
