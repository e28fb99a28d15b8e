"""The verdict in words: per budget what was compared, what the interval rules out, and the method.

Every number here is in accuracy points (percentage points); the functions only format.
"""
from __future__ import annotations

import math

from scipy import stats as scipy_stats

from .stats import END, EQUIVALENT, INTERMEDIATE, OUTCOMES

__all__ = ["rules_out", "budget_summary", "headline", "method_sentence", "front_sentence", "no_comparison", "no_blocks",
           "diverged_sentence", "covers", "claim_rules_out", "settle", "descriptive_summary", "EPOCHS", "EXPLORATORY",
           "diverged_share", "divergence_interval", "GUARANTEE"]

EXPLORATORY = ("Exploratory: the points were sampled by a search that saw results, without complete seed "
               "blocks, so every budget is drawn without a claim (confirm its front with --confirm DIR).")
EPOCHS = "more epochs (a longer training lowers the seed spread)"
NO_SPREAD = ("Nothing is ruled out: the compared runs did not differ from seed to seed, so no interval can be "
             "drawn (more seeds, or a task where runs differ).")
LOWER_RATE = "a lower learning rate (--lr, or --lr auto), since runs diverged"
GUARANTEE = ("the chance of any false claim in the study is at most {alpha:.0f}%, where each point's seed-to-seed "
             "errors are near normal, runs of different seeds are independent, and a point's divergence shows in "
             "the seeds it ran")


def _n(x: float, sign: bool = True) -> str:
    return f"{x:+.2f}" if sign else f"{x:.2f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def rules_out(low: float, high: float, *, possible: tuple[float, float]) -> str:
    """Which differences the interval [low, high] (best intermediate minus best end) rules out; a bound at
    the edge of the `possible` range rules out nothing."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "Nothing is ruled out: the interval needs at least two seeds at every point."
    if low <= possible[0] and high >= possible[1]:
        return SPANS_ALL
    inter = ("" if high >= possible[1] else
             f"an intermediate advantage above {_n(high, False)} points is ruled out" if high > 0 else
             f"any intermediate advantage is ruled out (the best end leads by at least {_n(-high, False)} points)")
    end = ("" if low <= possible[0] else f"an end advantage above {_n(-low, False)} points is ruled out" if low < 0 else
           f"any end advantage is ruled out (the chosen intermediate leads by at least {_n(low, False)} points)")
    said = "; ".join(x for x in (inter, end) if x)
    return f"{said[0].upper()}{said[1:]}."


def claim_rules_out(low: float | None, high: float | None, better: str, worse: str, *,
                    possible: tuple[float, float]) -> str:
    """What a claim's interval [low, high] (positive: `better`) rules out, in words; a bound at the edge of
    the `possible` range (the contrast's whole range) rules out nothing."""
    if low is None or high is None:
        return "Nothing is ruled out: the interval needs at least two seeds at every compared point."
    if low <= possible[0] and high >= possible[1]:
        return SPANS_ALL
    up = ("" if high >= possible[1] else
          f"'{better}' by more than {high:.2f} points" if high > 0 else f"'{better}' at all (by at least {-high:.2f})")
    down = ("" if low <= possible[0] else
            f"'{worse}' by more than {-low:.2f} points" if low < 0 else f"'{worse}' at all (by at least {low:.2f})")
    return f"Rules out {', and '.join(x for x in (up, down) if x)}."


SPANS_ALL = "Nothing is ruled out: the interval spans every difference the accuracies allow."


def settle(needed: int | None, most: int, diverged: int = 0) -> str:
    """What would settle a budget at its own spread: that many seeds, or more epochs beyond `most`; a lower
    rate first where runs diverged (each one an outcome scored 0, widening every interval it is in)."""
    way = EPOCHS if needed is None or needed > most else f"about {needed} seeds at every point (--seeds auto --max-seeds {needed})"
    return f"{LOWER_RATE} ({diverged} did), then {way}" if diverged else way


def divergence_interval(k: int, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% interval of a divergence rate from k diverged of n runs, in percent."""
    if n <= 0:
        return 0.0, 100.0
    ci = scipy_stats.binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return 100 * ci.low, 100 * ci.high


def diverged_share(k: int, n: int) -> str:
    """'1 of 8 diverged, 0.3-53%' (the exact 95% interval of the rate), or '' for no runs."""
    if n <= 0:
        return ""
    low, high = divergence_interval(k, n)
    return f"{k} of {n} diverged, {low:.2g}-{high:.2g}%"


def descriptive_summary(label: str, r: dict, estimate=None) -> str:
    """A budget drawn without a claim: why (exploratory points, or a spread its seed cap cannot beat), and
    its estimate with a plain 95% interval marked uncorrected (`estimate`: the budget's BudgetVerdict)."""
    shown = ""
    if estimate is not None and estimate.difference is not None:
        interval = ("" if estimate.ci_low is None else
                    f", uncorrected 95% interval {_n(estimate.ci_low)} to {_n(estimate.ci_high)}")
        shown = (f" Described, not claimed: {estimate.intermediate} minus {estimate.end} "
                 f"{_n(estimate.difference)} points on {estimate.metric}{interval}.")
    if r.get("exploratory"):
        return (f"At {label}: descriptive (no claim, no alpha spent): the points were sampled, not planned in "
                "complete seed blocks; confirm them with --confirm DIR." + shown)
    return (f"At {label}: descriptive (no claim, no alpha spent): at its first look the spread of the runs that "
            f"trained ({r['spread']:.2f} points per run) projects a detectable difference of {r['projected']:.2f} "
            f"points at its cap of {r['cap']} seeds, more than {r['factor']:g} times the ±{r['margin']:.2g}-point "
            f"margin; what would settle it: {r['settle']}." + shown)


def budget_summary(label: str, code: int, r: dict) -> str:
    """One budget in two sentences: the compared pair, the difference, the interval, the outcome, power."""
    which = "the only end completed" if r["n_ends"] == 1 else f"the best of the {r['n_ends']} ends on validation"
    lead = (f"At {label}, {r['intermediate']} (best of {_plural(r['n_intermediate'], 'intermediate point')} on "
            f"validation) against {r['end']} ({which}): {_n(r['difference'])} points on "
            f"{r['metric']} over {_plural(r['n_seeds'], 'seed')}")
    if not math.isfinite(r["ci_low"]):
        return lead + "; not resolved: an interval needs at least two seeds at every point."
    conf = (f"{100 * (1 - r['level']):.4g}% interval, this budget's share of the study's alpha, bounding the best "
            f"intermediate against the best end over every candidate pair; {covers(r['images'])}")
    words = {
        INTERMEDIATE: f"{r['intermediate']} beats " + _ends(r["end_names"]),
        END: f"{r['end']} beats every intermediate point",
        EQUIVALENT: f"the best intermediate and the best end are within the ±{r['margin']:.2g}-point margin",
    }.get(code, "the interval reaches both sides of zero and beyond the margin")
    within = (f" (by less than the ±{r['margin']:.2g}-point margin)"
              if code in (INTERMEDIATE, END) and r["eq_low"] > -r["margin"] and r["eq_high"] < r["margin"] else "")
    if code == EQUIVALENT:  # the outcome rests on the two one-sided tests' interval: show it
        within = f" (the two one-sided tests rest on {_n(r['eq_low'])} to {_n(r['eq_high'])} points)"
    return (f"{lead}; the best intermediate minus the best end lies in {_n(r['ci_low'])} to {_n(r['ci_high'])} "
            f"points ({conf}): {OUTCOMES[code]}, {words}{within}. A true intermediate "
            f"advantage of {_n(r['mde'], False)} points would be detected with 80% power."
            + (f" What would settle it: {r['settle']}." if code not in (INTERMEDIATE, END, EQUIVALENT) else ""))


def _ends(names) -> str:
    """The ends compared, by name: 'regular (the only end completed)', 'both regular and depthwise', ..."""
    names = list(names)
    if len(names) == 1:
        return f"{names[0]} (the only end completed)"
    return ("both " if len(names) == 2 else f"all {len(names)} ends: ") + ", ".join(names[:-1]) + " and " + names[-1]


def no_comparison(label: str, n_inter: int, n_end: int) -> str:
    lacking = "no intermediate point" if n_inter == 0 else "no end (regular or depthwise)"
    return f"At {label}: {lacking} completed, so there is nothing to compare."


def no_blocks(label: str) -> str:
    return f"At {label}: not resolved: no seed has completed at every compared point yet."


def headline(overall: str, outcomes: list[str], advice: str = "more seeds", descriptive: int = 0) -> str:
    """The overall sentence from the per-budget outcomes (those with data and a claim); `advice`: what
    would settle the unresolved ones; `descriptive`: budgets drawn without a claim."""
    k = len(outcomes)
    if k == 0 and descriptive:
        return (f"Descriptive only: {_plural(descriptive, 'matched budget')} drawn without a claim "
                "(no alpha spent); see each budget for why and what would settle it.")
    if k == 0:
        return "No data: no matched budget has both an intermediate point and an end completed."
    tail = f" {_plural(descriptive, 'more budget')} drawn descriptive, without a claim." if descriptive else ""
    return _headline(overall, outcomes, advice, k) + tail


def _headline(overall: str, outcomes: list[str], advice: str, k: int) -> str:
    where = f"at every one of the {_plural(k, 'matched budget')}" if k > 1 else "at the study's one matched budget"
    if overall == OUTCOMES[INTERMEDIATE]:
        return f"Intermediate better {where}: an intermediate point beats every end compared."
    if overall == OUTCOMES[END]:
        return f"End better {where}: an end of the spectrum beats every intermediate point."
    if overall == OUTCOMES[EQUIVALENT]:
        return f"No practical difference {where}: the best intermediate and the best end are within the margin."
    if overall == "not resolved":
        return f"Not resolved {where}: {advice} would be needed to tell."
    counts = {o: outcomes.count(o) for o in OUTCOMES if o in outcomes}
    return "Mixed: " + ", ".join(f"{o} at {n}" for o, n in counts.items()) + f" of the {_plural(k, 'matched budget')}."


def covers(images: int) -> str:
    """What an interval's width accounts for."""
    return (f"over seeds and the sampling of the {images:,} test images" if images else
            "over seeds only: no per-image test results were stored, so the sampling of the test images is not covered")


def diverged_sentence(diverged) -> str:
    """Diverged runs per point (they count as outcomes, scored 0), or nothing when none diverged."""
    if not diverged:
        return ""
    parts = [f"{d['point']} at {d['budget_label']}: {diverged_share(d['diverged'], d['runs'])}" for d in diverged]
    return ("Diverged runs count as accuracy 0 (an unusable model), never as missing (with the exact 95% interval "
            "of each point's divergence rate): " + "; ".join(parts) + ".")


def _claim_counts(counts: dict) -> str:
    """'the 2 segments claims, 10 order claims and 4 interaction claims'."""
    parts = [f"{n} {q} claim{'' if n == 1 else 's'}" for q, n in counts.items() if n]
    if not parts:
        return "no claim"
    return "the " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])


def method_sentence(margin: float, alpha: float, looks, counts: dict, images=(), descriptive: int = 0) -> str:
    """The method in one sentence; `counts`: claims per question (segments: one per budget with a claim)."""
    seq = (f", and over the planned looks at {', '.join(map(str, looks))} seeds (seeds are added only at the "
           "points of claims still open and each claim is read at a planned look its points all reached, so adding "
           "seeds while looking stays valid)") if looks else ", at the one look of a seed count fixed in advance"
    img = [i for i in images if i]
    var = ("each with its own variance: seed-paired, the pooled seed x point residual variance only where the "
           "pair's spread agrees with the other points'")
    var += (" (F test), plus the sampling of the test images where per-image results were stored"
            if img else " (F test); the test images are not resampled: no per-image results were stored")
    other = "" if sum(counts.values()) == counts.get("segments", 0) else (
        "; every other claim is one pre-specified seed-paired contrast, its variance each point's own seed spread "
        "less the covariance a shared seed effect adds (the paired variance for two points; Satterthwaite's df)")
    skip = (f"; {_plural(descriptive, 'budget')} whose seed spread cannot settle by its cap (judged on the spread "
            "alone, never the effects) spend no alpha") if descriptive else ""
    return (f"Per matched budget the intermediate point and the end to compare are chosen on validation accuracy "
            f"and the claim is made on test accuracy from Student-t bounds on the differences, {var}; "
            f"Bonferroni-corrected over the candidates (each claim must hold against every "
            f"point of the other side){other}; alpha is split equally over {_claim_counts(counts)}{skip}{seq}, "
            f"with 'no practical difference' meaning within a ±{margin:.2g}-point margin by two one-sided tests "
            f"(shown with the interval those tests rest on), so {GUARANTEE.format(alpha=100 * alpha)}.")


def front_sentence(n_front: int, n_inter: int) -> str:
    if n_front == 0:
        return "No completed trial recorded MACs, so there is no accuracy-vs-MACs Pareto front."
    verb = "is" if n_inter == 1 else "are"
    return (f"{n_inter} of the {_plural(n_front, 'Pareto-front point')} (mean accuracy against MACs, across "
            f"budgets, each budget one cost) {verb} intermediate.")
