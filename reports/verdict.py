"""The verdict: does an intermediate point of the spectrum beat both ends? Computed from the data.

Two pieces of evidence:

1. The Pareto front of accuracy (maximised) against MACs (minimised) over completed trials, each
   spectrum point averaged over its seeds: how many front points are intermediate.
2. At each matched budget (``budget_label`` group): the best intermediate point (highest mean
   accuracy over seeds) against the better of the two ends, the accuracy difference and its 95%
   bootstrap confidence interval over seeds (seeded, so the same data give the same answer).
   "not resolved" when the interval contains zero or either side has fewer than two seeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd

from .data import completed, human_count, point_means

__all__ = ["Verdict", "BudgetVerdict", "verdict", "pareto_mask", "bootstrap_mean_ci", "bootstrap_diff_ci"]

N_BOOT = 10_000
CONFIDENCE = 0.95
RNG_SEED = 20250101

INTERMEDIATE_BETTER = "intermediate better"
END_BETTER = "end better"
NOT_RESOLVED = "not resolved"
NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class BudgetVerdict:
    budget_label: str
    outcome: str  # "intermediate better" | "end better" | "not resolved" | "not comparable"
    reason: str  # one sentence, plain words, with the numbers
    intermediate: str | None = None  # point label of the best intermediate point
    intermediate_accuracy: float | None = None
    intermediate_seeds: int = 0
    n_intermediate_candidates: int = 0
    end: str | None = None  # point label of the better end
    end_region: str | None = None  # "regular" | "depthwise"
    end_accuracy: float | None = None
    end_seeds: int = 0
    difference: float | None = None  # intermediate - end, accuracy fraction
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Verdict:
    summary: str  # the plain-English paragraph shown at the top of the report
    overall: str  # "intermediate better" | "end better" | "mixed" | "not resolved" | "no data"
    headline: str  # the one overall sentence
    pareto_sentence: str = ""
    method_note: str = ""
    n_completed: int = 0
    n_points: int = 0
    pareto_points: int = 0
    pareto_intermediate: int = 0
    pareto_front: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    budgets: tuple[BudgetVerdict, ...] = ()
    confidence: float = CONFIDENCE
    n_boot: int = N_BOOT


def pareto_mask(x, y) -> np.ndarray:
    """Non-dominated points when minimising `x` and maximising `y` (NaNs are never on the front).

    A point is dominated when another has x <= and y >= with one strictly better. Exact duplicates of
    a front point are on the front too.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return mask
    order = idx[np.lexsort((-y[idx], x[idx]))]  # x ascending, then y descending
    best_y = -np.inf
    best_x = np.nan
    for i in order:
        if y[i] > best_y:
            mask[i] = True
            best_y, best_x = y[i], x[i]
        elif y[i] == best_y and x[i] == best_x:
            mask[i] = True
    return mask


def _rng(label: str) -> np.random.Generator:
    # deterministic per budget, independent of the order budgets come in
    return np.random.default_rng([RNG_SEED, *label.encode("utf-8")])


def _boot_means(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    return v[idx].mean(axis=1)


@lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """Student-t quantile (no scipy): bisection on a numerically integrated CDF."""
    if not 0.5 <= p < 1:
        raise ValueError(f"p: expected 0.5 <= p < 1, got {p}")
    if not np.isfinite(df) or df > 1e4:
        return NormalDist().inv_cdf(p)
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(x: float) -> float:
        t = np.linspace(0.0, x, 4001)
        f = c * (1 + t * t / df) ** (-(df + 1) / 2)
        return 0.5 + float(np.sum((f[1:] + f[:-1]) * np.diff(t)) / 2)

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


def _widen(observed: float, boot: np.ndarray, se: float, df: float, confidence: float):
    """Percentile interval of `boot`, its half-widths rescaled from the bootstrap's own spread to
    Student-t width (t_df x the unbiased standard error). With 3 seeds a plain percentile bootstrap
    is far too narrow (its SE is biased low by sqrt((n-1)/n) and it uses z, not t); this keeps the
    bootstrap's shape and gives the interval a near-nominal coverage."""
    q = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [q, 1 - q])
    sd = float(np.std(boot))
    if sd == 0 or not np.isfinite(se) or se == 0:
        return float(lo), float(hi)
    scale = t_quantile(1 - q, df) * se / (NormalDist().inv_cdf(1 - q) * sd)
    return float(observed + (lo - observed) * scale), float(observed + (hi - observed) * scale)


def bootstrap_mean_ci(values, *, label: str = "", n_boot: int = N_BOOT, confidence: float = CONFIDENCE):
    """Bootstrap CI of the mean of `values` (t-width, see `_widen`); (nan, nan) for fewer than two."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    m = _boot_means(v, _rng("mean|" + label), n_boot)
    se = float(np.std(v, ddof=1) / math.sqrt(v.size))
    return _widen(float(v.mean()), m, se, v.size - 1, confidence)


def bootstrap_diff_ci(a, b, *, label: str = "", n_boot: int = N_BOOT, confidence: float = CONFIDENCE):
    """Bootstrap CI of mean(a) - mean(b), the seeds of each side resampled independently, widened to
    Welch-t width (see `_widen`); (nan, nan) when either side has fewer than two values."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return float("nan"), float("nan")
    rng = _rng("diff|" + label)
    d = _boot_means(a, rng, n_boot) - _boot_means(b, rng, n_boot)
    va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
    se = float(math.sqrt(va + vb))
    denom = (va * va / (a.size - 1) + vb * vb / (b.size - 1)) if se > 0 else 0.0
    df = (va + vb) ** 2 / denom if denom > 0 else float(min(a.size, b.size) - 1)
    return _widen(float(a.mean() - b.mean()), d, se, df, confidence)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.2f}"


def _budget_verdict(label: str, pts: pd.DataFrame, n_boot: int, confidence: float) -> BudgetVerdict:
    inter = pts[pts["region"] == "intermediate"].sort_values(["accuracy", "n_seeds"], ascending=False, kind="stable")
    ends = pts[pts["region"].isin(["regular", "depthwise"])].sort_values(
        ["accuracy", "n_seeds"], ascending=False, kind="stable"
    )
    if inter.empty or ends.empty:
        lacking = "no intermediate point" if inter.empty else "no end point (regular or depthwise)"
        return BudgetVerdict(
            label, NOT_COMPARABLE, f"At {label}: {lacking} completed, so there is nothing to compare.",
            n_intermediate_candidates=len(inter),
        )
    bi, be = inter.iloc[0], ends.iloc[0]
    diff = float(bi["accuracy"] - be["accuracy"])
    lo, hi = bootstrap_diff_ci(bi["accs"], be["accs"], label=label, n_boot=n_boot, confidence=confidence)
    common = dict(
        budget_label=label,
        intermediate=str(bi["point_label"]),
        intermediate_accuracy=float(bi["accuracy"]),
        intermediate_seeds=int(bi["n_seeds"]),
        n_intermediate_candidates=len(inter),
        end=str(be["point_label"]),
        end_region=str(be["region"]),
        end_accuracy=float(be["accuracy"]),
        end_seeds=int(be["n_seeds"]),
        difference=diff,
        ci_low=None if np.isnan(lo) else lo,
        ci_high=None if np.isnan(hi) else hi,
    )
    cands = f"best of {len(inter)} intermediate point{'s' if len(inter) != 1 else ''}"
    head = (
        f"At {label}: the best intermediate point, {bi['point_label']} ({cands}), reaches "
        f"{_pct(bi['accuracy'])} mean accuracy over {int(bi['n_seeds'])} seed{'s' if bi['n_seeds'] != 1 else ''}; "
        f"the better end, {be['point_label']} ({be['region']}), reaches {_pct(be['accuracy'])} over "
        f"{int(be['n_seeds'])} seed{'s' if be['n_seeds'] != 1 else ''}. Difference {_pp(diff)} points"
    )
    if np.isnan(lo):
        return BudgetVerdict(
            outcome=NOT_RESOLVED,
            reason=head + "; not resolved: a confidence interval needs at least two seeds on each side.",
            **common,
        )
    ci = f" ({int(round(100 * confidence))}% CI {_pp(lo)} to {_pp(hi)})"
    if lo > 0:
        outcome, tail = INTERMEDIATE_BETTER, "the intermediate point is better."
    elif hi < 0:
        outcome, tail = END_BETTER, f"the {be['region']} end is better."
    else:
        outcome, tail = NOT_RESOLVED, "not resolved: the interval contains zero."
    return BudgetVerdict(outcome=outcome, reason=head + ci + "; " + tail, **common)


def verdict(df: pd.DataFrame, *, n_boot: int = N_BOOT, confidence: float = CONFIDENCE) -> Verdict:
    """The report's verdict, from a `tidy` DataFrame (a raw one is tidied first)."""
    if "region" not in df.columns or "point" not in df.columns:
        from .data import tidy

        df = tidy(df)
    c = completed(df)
    pts = point_means(df)
    if c.empty:
        msg = "No completed trial with an accuracy yet: no verdict."
        return Verdict(summary=msg, overall="no data", headline=msg)

    # 1. Pareto front: accuracy vs MACs over point means
    front = pd.DataFrame()
    n_front = n_front_inter = 0
    pareto_sentence = "No completed trial recorded MACs, so there is no accuracy-vs-MACs Pareto front."
    if pts["macs"].notna().any():
        m = pareto_mask(pts["macs"], pts["accuracy"])
        front = pts[m].sort_values("macs", kind="stable").reset_index(drop=True)
        n_front = len(front)
        n_front_inter = int((front["region"] == "intermediate").sum())
        share = f"{n_front_inter} of the {n_front} Pareto-front point{'s' if n_front != 1 else ''}"
        pareto_sentence = (
            f"{share} (accuracy vs MACs, {len(pts)} points averaged over seeds) "
            f"{'is' if n_front_inter == 1 else 'are'} intermediate"
            + (
                f"; the front spans {human_count(front['macs'].min())} to {human_count(front['macs'].max())} MACs."
                if n_front
                else "."
            )
        )

    # 2. per matched budget
    budgets = tuple(
        _budget_verdict(str(label), g, n_boot, confidence)
        for label, g in pts.groupby("budget_label", sort=True, dropna=False)
    )
    outcomes = [b.outcome for b in budgets if b.outcome != NOT_COMPARABLE]
    n_i, n_e, n_u = outcomes.count(INTERMEDIATE_BETTER), outcomes.count(END_BETTER), outcomes.count(NOT_RESOLVED)
    k = len(outcomes)
    if k == 0:
        overall = "no data"
        headline = "No matched budget has both an intermediate point and an end completed: no verdict yet."
    elif n_i == k:
        overall = INTERMEDIATE_BETTER
        headline = (
            f"Intermediate better: at {'every one' if k > 1 else 'the one'} of the {k} matched budget{'s' if k > 1 else ''}, "
            f"an intermediate segment count beats both ends beyond the {int(round(100 * confidence))}% confidence interval."
        )
    elif n_e == k:
        overall = END_BETTER
        headline = (
            f"End better: at {'every one' if k > 1 else 'the one'} of the {k} matched budget{'s' if k > 1 else ''}, "
            "an end of the spectrum beats every intermediate point beyond the confidence interval."
        )
    elif n_u == k:
        overall = NOT_RESOLVED
        headline = (
            f"Not resolved: at none of the {k} matched budget{'s' if k > 1 else ''} does the "
            f"{int(round(100 * confidence))}% confidence interval exclude zero; more seeds would be needed to tell."
        )
    else:
        overall = "mixed"
        headline = (
            f"Mixed: intermediate better at {n_i}, end better at {n_e}, not resolved at {n_u} "
            f"of the {k} matched budgets."
        )
    pareto_sentence = pareto_sentence[0].upper() + pareto_sentence[1:]
    method_note = (
        f"{len(c)} completed trials. Intervals: bootstrap over seeds ({n_boot:,} resamples, fixed RNG "
        "seed), widened to Student-t width because a plain bootstrap is too narrow with a handful of "
        "seeds. Picking the best of several intermediate points makes its difference somewhat optimistic."
    )
    summary = " ".join([headline, pareto_sentence] + [b.reason for b in budgets] + [f"({method_note})"])
    return Verdict(
        summary=summary,
        overall=overall,
        headline=headline,
        pareto_sentence=pareto_sentence,
        method_note=method_note,
        n_completed=len(c),
        n_points=len(pts),
        pareto_points=n_front,
        pareto_intermediate=n_front_inter,
        pareto_front=front,
        budgets=budgets,
        confidence=confidence,
        n_boot=n_boot,
    )
