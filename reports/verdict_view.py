"""A Verdict (contract 8) -> the plain values the page templates show: per budget the outcome, the
two compared points, the difference on test with its interval, the detectable difference (80%
power) and what the interval rules out; the overall outcome, the method and the Pareto front."""
from __future__ import annotations

from .verdict import Verdict
from .verdict_text import diverged_sentence

__all__ = ["verdict_view"]


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
            "interval": "" if b.ci_low is None or b.ci_high is None else f"{b.ci_low:+.2f} to {b.ci_high:+.2f}",
            "mde": _points(b.mde, "{:.2f}"),
            "rules_out": b.rules_out,
            "summary": b.summary,
        }
        for b in v.budgets
    ]
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
    }
