"""A Verdict -> the plain values the page templates show: per budget the outcome, the
two compared points, the difference on test with its interval, the detectable difference (80%
power) and what the interval rules out; the overall outcome, the method and the Pareto front."""
from __future__ import annotations

from verdict import Verdict
from verdict.words import diverged_sentence

__all__ = ["verdict_view", "claims_view", "PAPER"]

TITLES = {
    "segments": "Segments: the best intermediate point against the best end",
    "order": "Order: spatial first minus pointwise first, per segment count",
    "nonlinearity": "Nonlinearity: each activation minus none between the two steps, per segment count",
    "interaction": "Interaction: (activation - none at the regular end) - (activation - none at the depthwise end)",
}
PAPER = {  # where the papers say what each question checks (Xception: Chollet, CVPR 2017, arXiv 1610.02357)
    "segments": ("Xception, section 5 (future directions)", "intermediate points of the spectrum, between regular "
                 "Inception modules and depthwise separable convolutions, may hold further advantages"),
    "order": ("Xception, section 1.2; BSConv (Haase and Amthor, CVPR 2020)", "Xception: the order of the 1x1 and "
              "the spatial step is unimportant when the blocks are stacked; BSConv: pointwise first (BSConv-U) "
              "beats the usual depthwise-first order"),
    "nonlinearity": ("Xception, section 4.7 and Figure 10", "no intermediate nonlinearity converges faster and "
                     "ends better than ReLU or ELU between the two steps (at the depthwise end)"),
    "interaction": ("Xception, section 4.7", "a nonlinearity helps on deep intermediate feature spaces (Inception "
                    "modules) and hurts on shallow ones (one channel per segment, depthwise): its effect should "
                    "rise from the depthwise toward the regular end"),
}


def _points(x: float | None, fmt: str = "{:+.2f}") -> str:
    return "" if x is None else fmt.format(x)


def verdict_view(v: Verdict) -> dict:
    """What the verdict block of a page shows, as strings (escaped by the template). The verdict's
    accuracies are already in points."""
    rows = [
        {
            "budget": b.budget_label,
            "outcome": b.outcome,
            "intermediate": b.intermediate or "–",
            "end": b.end or "–",
            "difference": _points(b.difference) + ("" if b.metric == "test" or b.difference is None else f" ({b.metric})"),
            "interval": _interval(b.outcome, b.ci_low, b.ci_high, b.eq_low, b.eq_high, b.uncorrected),
            "mde": _points(b.mde, "{:.2f}"),
            "rules_out": b.rules_out,
            "summary": b.summary,
        }
        for b in v.budgets
    ]
    lead, rest = claims_view(v)
    front = v.pareto_front
    n_front = len(front)
    n_inter = int((front["region"] == "intermediate").sum()) if n_front else 0
    return {
        "overall": v.overall,
        "headline": v.headline,
        "method": v.method,
        "budgets": rows,
        "front": v.pareto_sentence,
        "diverged": diverged_sentence(v.diverged),
        "n_front": n_front,
        "n_front_intermediate": n_inter,
        "lead": lead,
        "other_claims": rest,
        "space": v.space,
        "exploratory": v.exploratory,
        "paper": _paper_rows(v) if v.space == "paper" else [],
    }


def _interval(outcome: str, low, high, eq_low, eq_high, uncorrected: bool) -> str:
    """The interval a row rests on: the equivalence test's for "no practical difference", a plain 95% one
    marked uncorrected for a descriptive row, else the claim's own (its share of the study's alpha)."""
    if outcome == "no practical difference" and eq_low is not None and eq_high is not None:
        return f"{eq_low:+.2f} to {eq_high:+.2f} (the equivalence test's)"
    if low is None or high is None:
        return ""
    return f"{low:+.2f} to {high:+.2f}" + (" (uncorrected 95%)" if uncorrected else "")


def _claim_row(c: dict) -> dict:
    interval = _interval(c["outcome"], c["ci_low"], c["ci_high"], c.get("eq_low"), c.get("eq_high"),
                         c.get("uncorrected", False))
    seeds = f"{c['n_seeds']}" + (f" ({c['diverged']})" if c.get("n_diverged") else "")
    return {"budget": c["budget_label"], "subject": c["subject"], "outcome": c["outcome"],
            "difference": _points(c["difference"]), "interval": interval, "mde": _points(c["mde"], "{:.2f}"),
            "seeds": seeds, "rules_out": c["rules_out"]}


def claims_view(v: Verdict) -> tuple[list[dict], list[dict]]:
    """The claim tables: those the space's page opens with (`v.leads`), then the others besides segments
    (whose budget table the verdict block shows anyway), in the order of the space's questions; each
    {question, title, rows}."""
    asked = [q for q in (v.questions or TITLES) if any(c["question"] == q for c in v.claims)]
    first = [q for q in v.leads if q in asked]
    table = lambda q: {"question": q, "title": TITLES[q], "rows": [_claim_row(c) for c in v.claims  # noqa: E731
                                                                    if c["question"] == q]}
    return [table(q) for q in first], [table(q) for q in asked if q not in first and q != "segments"]


def _paper_rows(v: Verdict) -> list[dict]:
    """"The paper's claims, checked": one row per claim with where the paper says it."""
    return [{**_claim_row(c), "where": PAPER[c["question"]][0], "says": PAPER[c["question"]][1],
             "run": f"{c['subject']} at {c['budget_label']}, {c['n_seeds']} seeds"} for c in v.claims]
