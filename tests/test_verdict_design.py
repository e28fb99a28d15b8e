"""What the verdict reads from the study itself: the looks its seed plan paid for, the margin in its
config.json (one verdict for verdict.json and every page), diverged runs as outcomes, per-image
results widening the interval, and the ends it names."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

import reports
from verdict.stats import LOOKS, plan
from records.synthetic import simulated_accuracies, study_frame, synthetic_config
from verdict import looks_from, study_verdict


def _study(seeds=8, budgets=2, effect=0.03, rng=0):
    mu = np.zeros((budgets, 5))
    mu[:, 2] = effect
    val, test = simulated_accuracies(np.random.default_rng(rng), sims=1, budgets=budgets, intermediate=3,
                                     seeds=seeds, means=mu)
    return study_frame(val[0], test[0])


@pytest.mark.parametrize("plans, looks", [(["fixed"], None), (["auto:8"], plan(8)), (["auto:20"], LOOKS),
                                          ([None], LOOKS), (["fixed", "auto:8"], LOOKS), (["bogus"], LOOKS),
                                          (["auto:8", ""], plan(8))])  # a run still waiting records none yet
def test_looks_come_from_the_seed_plan(plans, looks):
    t = _study()
    if plans != [None]:
        t["seed_plan"] = [plans[i % len(plans)] for i in range(len(t))]
    assert looks_from(t) == looks
    v = reports.verdict(t)
    assert v.looks == looks
    assert v.budgets[0].level == pytest.approx(0.05 / 2 / (len(looks) if looks else 1))


def test_fixed_plan_narrows_the_interval():
    t = _study()
    auto, fixed = reports.verdict(t), reports.verdict(t.assign(seed_plan="fixed"))
    assert all(f.ci_high - f.ci_low < a.ci_high - a.ci_low for a, f in zip(auto.budgets, fixed.budgets))
    assert "fixed in advance" in fixed.method and "planned looks" in auto.method


def test_one_verdict_on_every_page(tmp_path):
    runs = tmp_path / "runs"
    d = runs / "s"
    d.mkdir(parents=True)
    t = _study(effect=0.01, rng=3).assign(seed_plan="auto:8")
    t.to_csv(d / "trials.csv", index=False)
    (d / "config.json").write_text(json.dumps(synthetic_config(study_name="s", margin=0.5)))
    df, cfg = reports.load_study_dir(d)
    v = study_verdict(reports.tidy(df), cfg)
    assert v.margin == 0.5 and v.looks == plan(8)
    default = reports.verdict(df.drop(columns="seed_plan"))  # the default margin, five looks
    assert default.margin == 1.0 and v.budgets[0].ci_low > default.budgets[0].ci_low
    shown = [f"{b.ci_low:+.2f} to {b.ci_high:+.2f}" for b in v.budgets]
    page = reports.write(df, cfg, d / "report.html").read_text(encoding="utf-8")
    compare = reports.write_compare([d], runs / "compare.html").read_text(encoding="utf-8")
    for html in (page, compare):
        assert all(s in html for s in shown) and "±0.5-point margin" in html
    index = reports.write_index(runs).read_text(encoding="utf-8")
    assert v.overall in index
    assert json.loads(json.dumps(v.to_json()))["budgets"][0]["ci_low"] == pytest.approx(v.budgets[0].ci_low)


def test_diverged_runs_are_outcomes_and_other_failures_are_not():
    t = _study(seeds=8, budgets=1, effect=0.03)
    best = t["position"] == "segments=3"
    hit = best & t["seed"].isin([1, 4, 6])
    clean = reports.verdict(t)
    assert clean.overall == "intermediate better" and clean.budgets[0].intermediate == "segments=3"
    diverged = t.copy()
    diverged.loc[hit, ["state", "accuracy", "test_accuracy"]] = ["FAIL", np.nan, np.nan]
    diverged["diverged"] = hit
    v = reports.verdict(diverged)
    (b,) = v.budgets
    assert v.n_completed == len(t) and b.n_seeds == 8 and b.n_diverged == 3
    assert b.intermediate != "segments=3" and b.outcome != "intermediate better"
    (d,) = v.diverged
    assert {k: d[k] for k in ("budget_label", "point", "diverged", "runs")} == {
        "budget_label": "macs≈1M", "point": "segments=3", "diverged": 3, "runs": 8}
    # the exact (Clopper-Pearson) 95% interval of the rate, from the beta quantiles
    assert d["rate_low"] == pytest.approx(100 * beta.ppf(0.025, 3, 6)) and d["rate_low"] == pytest.approx(8.52, abs=0.01)
    assert d["rate_high"] == pytest.approx(100 * beta.ppf(0.975, 4, 5)) and d["rate_high"] == pytest.approx(75.51, abs=0.01)
    assert "3 of 8 diverged, 8.5-76%" in v.summary
    assert "segments=3 at macs≈1M: 3 of 8 diverged" in v.summary and "a lower learning rate" in v.summary
    page = reports.render(diverged)
    assert "Diverged runs count as accuracy 0" in page and "3 of 8" in page
    interrupted = diverged.assign(diverged=False)  # an interruption or OOM: missing, never an outcome
    w = reports.verdict(interrupted)
    assert w.n_completed == len(t) - 3 and w.diverged == () and w.budgets[0].n_diverged == 0


def _with_images(t: pd.DataFrame, m: int, rng) -> pd.DataFrame:
    """Per-image correctness consistent with each run's test accuracy, packed as the study stores it."""
    hexes = []
    for acc in t["test_accuracy"]:
        bits = np.zeros(m, dtype=bool)
        bits[rng.choice(m, int(round(acc * m)), replace=False)] = True
        hexes.append(np.packbits(bits).tobytes().hex())
    return t.assign(test_correct=hexes, test_size=m, test_accuracy=[int(round(a * m)) / m for a in t["test_accuracy"]])


def test_per_image_results_widen_the_interval_and_the_page_says_which():
    rng = np.random.default_rng(1)
    t = _with_images(_study(seeds=8, budgets=1, effect=0.0, rng=1), 400, rng)
    with_images = reports.verdict(t)
    without = reports.verdict(t.drop(columns=["test_correct", "test_size"]))
    (a,), (b,) = with_images.budgets, without.budgets
    assert a.images == 400 and b.images == 0 and a.difference == pytest.approx(b.difference)
    assert a.ci_high - a.ci_low > b.ci_high - b.ci_low  # random images per run: a large image term
    assert "sampling of the 400 test images" in a.summary
    assert "no per-image test results were stored" in b.summary
    broken = t.assign(test_correct=t["test_correct"].where(t["seed"] != 2, ""))  # one run lacks it: seeds only
    assert reports.verdict(broken).budgets[0].images == 0


def test_the_summary_names_the_ends_present():
    t = _study(seeds=8, budgets=1, effect=0.04)
    (b,) = reports.verdict(t[t["position"] != "depthwise"]).budgets
    assert b.outcome == "intermediate better" and b.end == "regular"
    assert "regular (the only end completed)" in b.summary and "both" not in b.summary
    (b,) = reports.verdict(t).budgets
    assert "beats both depthwise and regular" in b.summary


@pytest.mark.parametrize("plan_text, margin", [("auto:8", 0.5), ("fixed", 1.0)])
def test_verdict_json_and_the_report_are_one_verdict(tmp_path, plan_text, margin):
    """A study's outputs (studies.outputs.write_outputs): verdict.json and report.html show the same
    intervals, the margin from the study's settings and the looks from its trials' seed plan."""
    optuna = pytest.importorskip("optuna")
    from types import SimpleNamespace

    from studies.outputs import write_outputs

    study = optuna.create_study()
    for row in _study(effect=0.01, rng=5).assign(seed_plan=plan_text).to_dict("records"):
        attrs = {k: v for k, v in row.items() if k != "state"}
        study.add_trial(optuna.trial.create_trial(value=0.0, user_attrs=attrs))
    _, v = write_outputs(SimpleNamespace(folder=tmp_path), study, synthetic_config(margin=margin))
    saved = json.loads((tmp_path / "verdict.json").read_text())
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert saved["margin"] == margin and saved["looks"] == (list(plan(8)) if plan_text != "fixed" else None)
    for b in saved["budgets"]:
        shown = "descriptive" if b["outcome"] == "descriptive" else f"{b['ci_low']:+.2f} to {b['ci_high']:+.2f}"
        assert shown in page
    assert [b["ci_low"] for b in saved["budgets"]] == [b.ci_low for b in v.budgets]
    assert saved["claims"] == json.loads(json.dumps(v.to_json()))["claims"]


def test_claims_are_typed_and_read_as_the_contracts_dicts():
    from verdict.claims import Claim

    t = _study()
    v = reports.verdict(t)
    contract = {"question", "budget_label", "subject", "outcome", "difference", "ci_low", "ci_high", "mde"}
    assert v.claims and all(isinstance(c, Claim) for c in v.claims)
    assert all(contract <= set(c) and c["outcome"] == c.outcome for c in v.claims)
    written = json.loads(json.dumps(v.to_json()))["claims"]
    assert [w["subject"] for w in written] == [c.subject for c in v.claims]
    assert all(contract <= set(w) for w in written) and written[0] == dict(v.claims[0]) | {"points": list(v.claims[0].points), "weights": list(v.claims[0].weights)}
