"""The verdict's false-claim rate under simulated studies with a known truth, vectorised (seconds).

Every simulated study has seed-level data-order noise shared by all points of a budget, a trained
model's own noise shared by its validation and test accuracy (so the winner's curse survives the
split), and independent image-sampling noise per split (records.synthetic.simulated_accuracies).
A false claim is: "intermediate better" when the named intermediate does not truly beat both ends,
"end better" when the named end does not truly beat every intermediate point, or "no practical
difference" when the true best-intermediate-minus-best-end gap is at least the margin. A design holds when
the one-sided 95% Clopper-Pearson upper bound of its rate is at most 6% (verdict.sim.holds), each run
with enough studies for that to be reachable at its rate. Run as a script to print the larger table:
python tests/test_verdict_null.py
"""
import math

import numpy as np
import pytest

from verdict.stats import END, EQUIVALENT, INTERMEDIATE, LOOKS, OUTCOMES, compare, level, plan
from records.synthetic import simulated_accuracies, simulated_ends, study_frame
from verdict import sim
from verdict import seed_targets, verdict
from verdict.data import prepare
from records.table import tidy
from verdict.sim import holds, upper_bound

SIMS = 3000
MARGIN = 0.01  # 1 point
LIMIT = 0.05


def _means(kind: str, k: int, budgets: int) -> np.ndarray:
    """True offsets per point (regular, intermediates..., depthwise) for a named truth."""
    mu = np.zeros((budgets, k + 2))
    if kind == "low end":  # one end far below: the other end alone carries the intersection-union test
        mu[:, 0] = -0.03
    elif kind == "at margin":  # an intermediate exactly one margin above all: "no difference" is false
        mu[:, 1 + k // 2] = MARGIN
    elif kind == "end at margin":
        mu[:, -1] = MARGIN
    return mu


def _take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, idx[..., None], -1)[..., 0]


def false_claims(outcome, i_star, e_star, mu, ends) -> np.ndarray:
    """Per simulated study: did any budget make a false claim? (mu: true means, (budgets, points))."""
    mi, me = mu[:, ~ends], mu[:, ends]
    best_i, best_e = mi.max(-1), me.max(-1)
    chosen_i = _take(np.broadcast_to(mi, i_star.shape + mi.shape[-1:]), i_star)
    chosen_e = _take(np.broadcast_to(me, e_star.shape + me.shape[-1:]), e_star)
    wrong = (((outcome == INTERMEDIATE) & (chosen_i <= best_e)) | ((outcome == END) & (chosen_e <= best_i))
             | ((outcome == EQUIVALENT) & (np.abs(best_i - best_e) >= MARGIN - 1e-12)))
    return wrong.any(-1)


def core(val, test, ends, looks, margin=MARGIN):
    """The verdict's core on whole arrays of studies, at one look (all seeds given)."""
    return compare(100 * val, 100 * test, ends, alpha=level(val.shape[1], looks), margin=100 * margin)


def sequential(val, test, ends, max_seeds, margin=MARGIN):
    """--seeds auto on whole arrays: each budget stops at its first settled planned look, else the cap;
    a budget whose first look's spread cannot settle by the cap is descriptive (code 4) and stops there.
    Alpha is split over the looks up to the cap only (plan(max_seeds), as "auto:N" records it), the least conservative valid use."""
    steps = plan(max_seeds)
    return sim.sequential(100 * val, 100 * test, None, ends, steps, steps, 100 * margin)


def simulate(mu, k, seeds, mode, rng, sims):
    """(outcome, i_star, e_star) of `sims` studies with true means `mu`; mode: fixed (seeds fixed in
    advance, looks=None), looks (the default verdict), sequential (--seeds auto capped at `seeds`)."""
    val, test = simulated_accuracies(rng, sims=sims, budgets=len(mu), intermediate=k, seeds=seeds, means=mu)
    ends = simulated_ends(k)
    if mode == "sequential":
        return sequential(val, test, ends, seeds)[:3]
    c = core(val, test, ends, None if mode == "fixed" else LOOKS)
    return c.outcome, c.i_star, c.e_star


def rate(kind, k, seeds, budgets, mode, rng, sims=SIMS):
    """(false-claim rate, its standard error) for one design."""
    false = false_flags(kind, k, seeds, budgets, mode, rng, sims)
    p = false.mean()
    return p, math.sqrt(max(p, 1e-3) * (1 - p) / sims)


def false_flags(kind, k, seeds, budgets, mode, rng, sims=SIMS) -> np.ndarray:
    """Per simulated study of one design: any false claim?"""
    mu = _means(kind, k, budgets)
    return false_claims(*simulate(mu, k, seeds, mode, rng, sims), mu, simulated_ends(k))


NULL_DESIGNS = [(1, 2, 1), (1, 5, 3), (1, 20, 1), (3, 5, 1), (12, 20, 1)]  # (K, seeds, budgets): rates up to 2%


@pytest.mark.parametrize("mode", ["fixed", "looks", "sequential"])
def test_false_claim_rate_under_the_null(mode):
    rng = np.random.default_rng(["fixed", "looks", "sequential"].index(mode))
    flags = {d: false_flags("null", *d, mode, rng, sims=1500) for d in NULL_DESIGNS}
    print(f"\n{mode}: false-claim rate under the null, (K, seeds, budgets) -> rate (upper bound)")
    print("  " + "  ".join(f"{d}: {f.mean():.3f} ({upper_bound(int(f.sum()), f.size):.3f})" for d, f in flags.items()))
    bad = {d: f.mean() for d, f in flags.items() if not holds(f)}
    assert not bad, f"false-claim rate not shown at most 5% for {bad}"


LEAST_FAVOURABLE = [(1, 5, 1), (1, 20, 3), (12, 20, 1)]  # rates up to about 4.3%: 3,000 studies each


@pytest.mark.parametrize("kind", ["low end", "at margin", "end at margin"])
@pytest.mark.parametrize("mode", ["fixed", "sequential"])
def test_false_claim_rate_at_the_least_favourable_truths(kind, mode):
    rng = np.random.default_rng(len(kind) + 7 * len(mode))
    flags = {d: false_flags(kind, *d, mode, rng, sims=3000) for d in LEAST_FAVOURABLE}
    print(f"\n{kind}, {mode}: " + "  ".join(f"{d}: {f.mean():.3f}" for d, f in flags.items()))
    bad = {d: f.mean() for d, f in flags.items() if not holds(f)}
    assert not bad, bad


def power(effect, k, seeds, budgets=1, mode="looks", sims=2000, seed=0):
    """Share of budgets saying "intermediate better" about the truly better point (the middle one)."""
    mu = np.zeros((budgets, k + 2))
    mu[:, 1 + k // 2] = effect
    outcome, i_star, _ = simulate(mu, k, seeds, mode, np.random.default_rng(seed), sims)
    return ((outcome == INTERMEDIATE) & (i_star == k // 2)).mean()


def test_power_rises_with_seeds_and_large_effects_are_found():
    curve = [power(0.01, 3, n) for n in (3, 5, 8, 12, 20)]
    print(f"\npower for a true +1 point, K=3, seeds 3/5/8/12/20: {np.round(curve, 3).tolist()}")
    assert all(b >= a - 0.02 for a, b in zip(curve, curve[1:])) and curve[-1] > curve[0] + 0.3, curve
    big = power(0.03, 3, 8)
    print(f"power for a true +3 points, K=3, 8 seeds: {big:.3f}")
    assert big > 0.8


def test_a_true_zero_with_many_seeds_is_no_practical_difference():
    rng = np.random.default_rng(11)
    val, test = simulated_accuracies(rng, sims=2000, budgets=1, intermediate=3, seeds=20)
    share = (core(val, test, simulated_ends(3), LOOKS).outcome == EQUIVALENT).mean()
    print(f"\n'no practical difference' for a true zero, margin 1 point, 20 seeds: {share:.3f}")
    assert share > 0.8


# -------------------------------------------------------------------------------------------------
# the public functions agree with the vectorised core


def test_public_verdict_agrees_with_the_core():
    rng = np.random.default_rng(5)
    checked = 0
    for k, n, b in [(1, 2, 1), (3, 5, 2), (12, 5, 1), (4, 8, 3), (2, 20, 1)]:
        mu = _means("at margin", k, b) * rng.integers(0, 3)
        val, test = simulated_accuracies(rng, sims=13, budgets=b, intermediate=k, seeds=n, means=mu)
        c = core(val, test, simulated_ends(k), LOOKS)
        for s in range(val.shape[0]):
            v = verdict(study_frame(val[s], test[s]))
            for j, bv in enumerate(v.budgets):
                assert bv.outcome == OUTCOMES[c.outcome[s, j]]
                assert bv.intermediate == f"segments={c.i_star[s, j] + 2}"
                assert bv.end == ("regular", "depthwise")[c.e_star[s, j]]
                got = [bv.difference, bv.ci_low, bv.ci_high]
                want = [c.difference[s, j], *np.clip([c.low[s, j], c.high[s, j]], -100, 100)]  # cut to the possible
                np.testing.assert_allclose(np.array(got, dtype=float), want, rtol=1e-9, atol=1e-9)
                checked += 1
    assert checked >= 100


def _run_auto(val, test, max_seeds):
    """Drive seed_targets like the runner: every point starts at the first planned look and trains the
    seed counts the rule asks; the verdict at the end and each budget's seed count."""
    full = tidy(study_frame(val, test))
    point = prepare(full)["point"].reindex(full.index)
    n = dict.fromkeys(point.unique(), min(LOOKS[0], max_seeds))
    while True:
        frame = full[full["seed"] < point.map(n)]
        targets = seed_targets(frame, margin=MARGIN, max_seeds=max_seeds, looks=plan(max_seeds))
        if not targets:
            reached = frame.groupby("budget_label")["seed"].max() + 1
            return verdict(frame, looks=plan(max_seeds)), list(reached.sort_index())
        assert all(k > n[p] for p, k in targets.items())  # a target only ever raises a point's count
        n.update(targets)


def test_seed_targets_drive_the_same_sequential_rule_as_the_core():
    rng = np.random.default_rng(9)
    for k, b, cap, effect in [(3, 2, 8, 0.0), (3, 2, 12, 0.02), (1, 1, 20, 0.01), (5, 1, 5, 0.03)]:
        mu = np.zeros((b, k + 2))
        mu[:, 1] = effect
        val, test = simulated_accuracies(rng, sims=3, budgets=b, intermediate=k, seeds=cap, means=mu)
        outcome, _, _, stop = sequential(val, test, simulated_ends(k), cap)
        for s in range(val.shape[0]):
            v, n = _run_auto(val[s], test[s], cap)
            assert [x.outcome for x in v.budgets] == [(*OUTCOMES, "descriptive")[o] for o in outcome[s]]
            assert n == [plan(cap)[i] for i in stop[s]]


def test_seed_targets_only_look_at_planned_counts():
    rng = np.random.default_rng(3)
    mu = np.zeros((1, 5))
    mu[:, 2] = 0.05  # settled at 3 seeds: the verdict reads the first 3 of 4 (its last planned look)
    val, test = simulated_accuracies(rng, sims=1, budgets=1, intermediate=3, seeds=4, means=mu)
    frame = tidy(study_frame(val[0], test[0]))
    points = set(prepare(frame)["point"])
    assert verdict(frame, looks=plan(8)).budgets[0].n_seeds == 3
    assert seed_targets(frame, max_seeds=8, looks=plan(8)) == {}
    noisy = frame.assign(test_accuracy=frame["test_accuracy"] + rng.normal(0, 0.02, len(frame)))
    noisy.loc[noisy["seed"] == 0, "test_accuracy"] = np.nan  # one seed lost everywhere: 3 shared, not a look
    assert seed_targets(noisy[noisy["seed"] < 3], max_seeds=8, looks=plan(8)) == dict.fromkeys(points, 4)  # 2 shared
    assert seed_targets(noisy, max_seeds=3, looks=plan(3)) == {}  # at the cap


DESIGNS = [(k, n, b) for k in (1, 3, 12) for n in (2, 5, 20) for b in (1, 3)]


def _table() -> None:
    """The tables docs/STATISTICS.md quotes (about a minute)."""
    print("| K | seeds | budgets | fixed | looks (default) | sequential |\n|---|---|---|---|---|---|")
    for d in DESIGNS:
        r = [rate("null", *d, m, np.random.default_rng(1), sims=20000)[0] for m in ("fixed", "looks", "sequential")]
        print(f"| {d[0]} | {d[1]} | {d[2]} | " + " | ".join(f"{x:.4f}" for x in r) + " |")
    print("\n| design (K=3, 2 budgets) | +1 point | +2 points | +3 points |\n|---|---|---|---|")
    for mode, n in [("looks", 3), ("looks", 5), ("looks", 8), ("fixed", 8), ("sequential", 8), ("sequential", 20)]:
        p = [power(e, 3, n, budgets=2, mode=mode, sims=10000) for e in (0.01, 0.02, 0.03)]
        print(f"| {mode}, {n} seeds | " + " | ".join(f"{x:.3f}" for x in p) + " |")


if __name__ == "__main__":
    _table()
