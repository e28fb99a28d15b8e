"""The questions besides "segments": which pre-specified contrasts a study's points support, and each one
tested (reports.contrast) into a claim dict (question, subject, outcome, difference, interval, mde, ...).

    specs = claim_specs(point_table(c))             # c: verdict.data.prepare(tidy trials)
    claim = evaluate(specs[0], g, alpha=..., margin=1.0)   # g: that budget's claimed rows

- order: at each segment count and budget where both orders were trained, spatial first minus pointwise first;
- nonlinearity: at each segment count and budget, each activation other than none, minus none;
- interaction: per activation and budget, (activation - none at the regular end) - (activation - none at
  the depthwise end): the paper's section 4.7 predicts it positive.
Which of them a study answers follows from its points alone, never from their results.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from common.vocabulary import ORDERS, QUESTIONS

from . import words as text
from .contrast import contrast_image_variance, contrast_test, detectable_se, possible_range, within_range
from .data import VARIANTS, cells, correct_bits

__all__ = ["Claim", "ClaimSpec", "WORDS", "QUESTIONS", "point_table", "claim_specs", "evaluate", "segments_claim"]

DESCRIPTIVE = "descriptive"  # the outcome of a claim whose budget cannot settle: no alpha spent
WORDS = {  # outcome words per question, in stats.OUTCOMES order: positive, negative, within margin, open
    "segments": ("intermediate better", "end better", "no practical difference", "not resolved"),
    "order": ("spatial first better", "pointwise first better", "no practical difference", "not resolved"),
    "nonlinearity": ("activation better", "none better", "no practical difference", "not resolved"),
    "interaction": ("as predicted", "opposite", "no practical difference", "not resolved"),
}
IDENTITY = ("position", *VARIANTS, "base_width")  # what identifies a point within a budget


@dataclass(frozen=True)
class ClaimSpec:
    """One pre-specified contrast: sum of weights x the points' true test accuracies, at one budget."""

    question: str
    budget_label: str
    subject: str
    points: tuple[str, ...]
    weights: tuple[float, ...]


def point_table(c: pd.DataFrame) -> pd.DataFrame:
    """One row per (budget, point) of the prepared trials: its label and identifying fields as text,
    with `end` = "regular", "depthwise" or "" (the ends by position, else by segment count)."""
    cols = [k for k in IDENTITY if k in c.columns]
    t = c.drop_duplicates(["budget_label", "point"])[["budget_label", "point", "is_end", "segments", *cols]].copy()
    for k in cols:
        t[k] = t[k].astype("Int64").astype(str) if k == "base_width" else t[k].astype(str)
    regular = (t["position"] == "regular") | (t["is_end"] & (t["segments"] == 1))
    t["end"] = np.where(regular, "regular", np.where(t["is_end"], "depthwise", ""))
    return t.sort_values(["budget_label", "segments", *cols], kind="stable").reset_index(drop=True)


def _others(t: pd.DataFrame, *compared: str) -> list[str]:
    """Identifying fields besides `compared` that vary within a budget: a subject names them."""
    return [k for k in IDENTITY if k in t.columns and k not in compared and k != "position"
            and t.groupby("budget_label")[k].nunique().max() > 1]


def _where(row, fields: list[str]) -> str:
    return " · ".join([row["position"], *(str(row[k]) for k in fields)])


def _pairs(t: pd.DataFrame, axis: str, first: str, seconds) -> list[tuple]:
    """(group key row, point of `first`, point of `second`, second) for every group of points equal but
    for `axis` where both values were trained."""
    keys = ["budget_label", *(k for k in IDENTITY if k in t.columns and k != axis)]
    out = []
    for _, g in t.groupby(keys, sort=False):
        by = dict(zip(g[axis], g["point"]))
        out += [(g.iloc[0], by[first], by[s], s) for s in seconds(by) if first in by and s in by and s != first]
    return out


def claim_specs(t: pd.DataFrame) -> list[ClaimSpec]:
    """Every order, nonlinearity and interaction contrast the points support, in that order."""
    specs = []
    if "order" in t.columns:
        other = _others(t, "order")
        specs += [ClaimSpec("order", r["budget_label"], f"spatial first vs pointwise first at {_where(r, other)}",
                            (a, b), (1.0, -1.0)) for r, a, b, _ in _pairs(t, "order", ORDERS[0], lambda by: ORDERS[1:])]
    if "activation" not in t.columns:
        return specs
    other = _others(t, "activation")
    pairs = [(r, none, act, a) for r, none, act, a in _pairs(t, "activation", "none", lambda by: sorted(by))]
    specs += [ClaimSpec("nonlinearity", r["budget_label"], f"{a} vs none at {_where(r, other)}", (act, none), (1.0, -1.0))
              for r, none, act, a in pairs]
    ends = {(r["budget_label"], r["end"], a, *(r[k] for k in other)): (act, none) for r, none, act, a in pairs if r["end"]}
    for (budget, end, a, *more), (act, none) in sorted(ends.items()):
        far = ends.get((budget, "depthwise", a, *more))
        if end == "regular" and far:
            extra = "".join(f" · {v}" for v in more)
            specs.append(ClaimSpec("interaction", budget, f"{a} vs none, regular minus depthwise{extra}",
                                   (act, none, *far), (1.0, -1.0, -1.0, 1.0)))
    return specs


@dataclass(frozen=True, eq=False)  # compared as the mapping it reads as
class Claim(Mapping):
    """One tested statement, typed; it reads as the dict verdict.json writes too (claim["outcome"],
    dict(claim)), so verdict.json and the page take it as it is. Accuracies and bounds in points."""

    question: str
    budget_label: str
    subject: str  # what is compared, in words
    outcome: str  # WORDS[question], or "descriptive"
    difference: float | None = None
    ci_low: float | None = None  # two-sided at `level` (uncorrected 95% where `uncorrected`)
    ci_high: float | None = None
    mde: float | None = None  # the difference detected with 80% power
    eq_low: float | None = None  # the two one-sided tests' bounds a "no practical difference" rests on
    eq_high: float | None = None
    level: float | None = None  # the two-sided alpha this claim spends (None: descriptive, none spent)
    uncorrected: bool = False
    n_seeds: int = 0
    df: int = 0
    se: float | None = None
    images: int = 0  # test images whose sampling the interval covers (0: seeds only)
    metric: str = "test"
    n_runs: int = 0  # the compared runs
    n_diverged: int = 0
    diverged: str = ""  # "1 of 8 diverged, 0.32-53%" (exact 95% interval of the rate), or ""
    points: tuple[str, ...] = ()  # the compared points' labels
    weights: tuple[float, ...] = ()
    rules_out: str = ""

    def __getitem__(self, key: str):
        if key not in _CLAIM_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_CLAIM_FIELDS)

    def __len__(self) -> int:
        return len(_CLAIM_FIELDS)


_CLAIM_FIELDS = tuple(f.name for f in fields(Claim))


def _nan_none(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def evaluate(spec: ClaimSpec, g: pd.DataFrame, *, alpha: float, margin: float, metric: str = "test",
             descriptive: bool = False, looks: tuple[int, ...] | None = None) -> Claim:
    """The claim of one contrast at level alpha (two-sided; TOST at alpha), margin in points, on the seeds
    its points share, cut to a planned look of `looks`; `g`: the budget's rows with the claimed accuracy in
    `claim`. `descriptive`: a budget that cannot settle: outcome "descriptive", the interval at `alpha`
    marked uncorrected, no level spent."""
    test, where = cells(g, spec.points, looks)
    n = test.shape[1]
    correct = correct_bits(g, where) if metric == "test" and n > 1 else None
    image_var = None if correct is None else 1e4 * contrast_image_variance(correct, spec.weights)
    r = within_range(contrast_test(100 * test, spec.weights, alpha=alpha, margin=margin, image_var=image_var),
                     spec.weights)
    se, df = float(r.se), float(r.df)
    ok = n > 1 and math.isfinite(se) and df >= 1
    mde = detectable_se(se, df, alpha) if ok else None
    words = WORDS[spec.question]
    low, high = _nan_none(r.low), _nan_none(r.high)
    diverged = int(g["diverged"].to_numpy()[where.ravel()].sum()) if n else 0
    outcome = DESCRIPTIVE if descriptive else words[int(r.outcome)] if ok else words[3]
    return Claim(
        spec.question, spec.budget_label, spec.subject, outcome, _nan_none(r.difference) if n else None, low, high,
        _nan_none(mde), _nan_none(r.eq_low), _nan_none(r.eq_high), level=None if descriptive else alpha,
        uncorrected=descriptive, n_seeds=int(n), df=int(df) if ok else 0, se=_nan_none(se),
        images=0 if correct is None else int(correct.shape[-1]), metric=metric, n_runs=int(where.size),
        n_diverged=diverged, diverged=text.diverged_share(diverged, int(where.size)),
        points=tuple(_labels(g, spec.points)), weights=tuple(spec.weights),
        rules_out=text.NO_SPREAD if n > 1 and se == 0.0 else
        text.claim_rules_out(*_rests_on(outcome, low, high, r, words), words[0], words[1],
                             possible=possible_range(spec.weights)))


def _rests_on(outcome: str, low, high, r, words) -> tuple:
    """The interval a claim rests on: the TOST bounds for "no practical difference", else the two-sided one."""
    if outcome == words[2]:
        return _nan_none(r.eq_low), _nan_none(r.eq_high)
    return low, high


def _labels(g: pd.DataFrame, keys) -> list[str]:
    """The points' labels (as the page shows them) for their keys."""
    labels = g[["point", "point_label"]].drop_duplicates("point").set_index("point")["point_label"] \
        if "point_label" in g else {}
    return [str(labels.get(k, k)) for k in keys]


def segments_claim(b) -> Claim:
    """A budget's segments comparison (a BudgetVerdict) as a claim."""
    return Claim(
        "segments", b.budget_label, f"{b.intermediate} vs {b.end}", b.outcome, b.difference, b.ci_low, b.ci_high,
        b.mde, b.eq_low, b.eq_high, level=b.level, uncorrected=b.outcome == DESCRIPTIVE, n_seeds=b.n_seeds,
        df=b.df, se=None if b.sd is None or not b.n_seeds else b.sd * math.sqrt(2 / b.n_seeds), images=b.images,
        metric=b.metric, n_runs=b.n_runs, n_diverged=b.n_diverged, diverged=text.diverged_share(b.n_diverged, b.n_runs),
        points=(b.intermediate, b.end), weights=(1.0, -1.0), rules_out=b.rules_out)
