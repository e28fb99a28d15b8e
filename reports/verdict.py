"""The verdict (contract 8): at each matched budget, does an intermediate point of the spectrum beat both
ends, does an end beat every intermediate point, or are they within a practical margin?

    v = verdict(trials, margin=0.01)          # trials: a DataFrame shaped like DIR/trials.csv
    v.overall, v.budgets[0].ci_low, v.to_json()
    looks = design_looks("auto", 8)           # or None when the seed count was fixed in advance
    v = verdict(trials, margin=0.01, looks=looks)
    seeds_to_add(trials, margin=0.01, max_seeds=8, looks=looks)   # --seeds auto: {budget_label: seeds to add}

Choose on validation (`accuracy`), claim on test (`test_accuracy`); the statistics are in reports.stats and
docs/STATISTICS.md. Every accuracy the verdict gives is in points (percentage points).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd

from . import verdict_text as text
from .pareto import UNMATCHED, pareto_front, pareto_mask
from .stats import ALPHA, LOOKS, OPEN, OUTCOMES, compare, detectable, level, next_seed_count, plan

__all__ = ["Verdict", "BudgetVerdict", "verdict", "seeds_to_add", "design_looks", "pareto_mask", "prepare"]

NO_DATA = "no data"
ENDS = ("regular", "depthwise")
VARIANTS = ("order", "activation", "kernel_size", "intermediate_norm")  # identify a point besides its position


@dataclass(frozen=True)
class BudgetVerdict:
    """One matched budget. Accuracies, differences and bounds in points; bounds on the best intermediate
    minus the best end (true means), `ci_*` two-sided at `level`, `eq_*` the equivalence (TOST) bounds."""

    budget_label: str
    outcome: str  # one of OUTCOMES, or "no data"
    summary: str  # two sentences, plain words, with the numbers
    intermediate: str | None = None  # the intermediate point chosen on validation
    end: str | None = None  # the end chosen on validation
    difference: float | None = None  # test: chosen intermediate minus chosen end
    ci_low: float | None = None
    ci_high: float | None = None
    mde: float | None = None  # intermediate advantage detected with 80% power
    mde_end: float | None = None  # end advantage detected with 80% power
    rules_out: str = ""
    eq_low: float | None = None
    eq_high: float | None = None
    intermediate_accuracy: float | None = None  # test mean of the chosen intermediate
    end_accuracy: float | None = None
    n_seeds: int = 0  # seeds completed at every compared point (the paired blocks used)
    n_intermediate: int = 0
    n_ends: int = 0
    sd: float | None = None  # pooled residual sd of one trained model's accuracy
    df: int = 0
    level: float | None = None  # two-sided alpha spent on this budget at this look
    metric: str = "test"  # "test", or "validation" when the study stored no test accuracy
    cost: float | None = None  # the budget's median MACs


@dataclass(frozen=True)
class Verdict:
    overall: str  # one of OUTCOMES, "mixed" or "no data"
    summary: str  # the headline, each budget, the front, the method
    headline: str
    method: str  # one sentence
    budgets: tuple[BudgetVerdict, ...] = ()
    pareto_front: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    pareto_sentence: str = ""
    margin: float = 1.0  # points
    alpha: float = ALPHA
    looks: tuple[int, ...] | None = LOOKS
    n_completed: int = 0
    n_points: int = 0

    def to_json(self) -> dict:
        """The fields DIR/verdict.json holds (NaN as null, the front as records)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("budgets", "pareto_front")}
        d["budgets"] = [asdict(b) for b in self.budgets]
        d["pareto_front"] = self.pareto_front.astype(object).where(self.pareto_front.notna(), None).to_dict("records")
        return _finite(d)


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x.item() if isinstance(x, np.generic) else x


# -------------------------------------------------------------------------------------------------
# trials -> one row per completed trial, with the point it belongs to


def _column(trials: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    return trials[name] if name in trials.columns else pd.Series(default, index=trials.index)


def _numeric(trials: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(trials, name), errors="coerce").astype("float64")


def _text(trials: pd.DataFrame, name: str) -> pd.Series:
    column = _column(trials, name, "")
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


def _is_end(position: pd.Series, segments: pd.Series, base: pd.Series) -> pd.Series:
    return position.isin(ENDS) | (segments == 1) | ((segments == base) & segments.notna())


def _labels(c: pd.DataFrame, variants: list[str]) -> pd.Series:
    """'segments=4', or 'segments=4 · relu' when the activation varies (and so on)."""
    label = c["position"]
    if (label == "").any():
        label = label.where(label != "", "segments=" + c["segments"].astype("Int64").astype(str))
    for v in variants:
        label = label + " · " + c[v]
    if c["base_width"].nunique() <= 1:
        return label
    widths = c.groupby("budget_label")["base_width"].transform("nunique")
    return label.where(widths <= 1, label + " · width " + c["base_width"].astype("Int64").astype(str))


def prepare(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed trials: budget_label, point (label), is_end, seed, val, test, macs (raw or tidy input)."""
    state = _text(trials, "state").str.upper() if "state" in trials.columns else pd.Series("COMPLETE", trials.index)
    c = pd.DataFrame({
        "budget_label": _text(trials, "budget_label").replace("", UNMATCHED),
        "position": _text(trials, "position"),
        **{k: _numeric(trials, col) for k, col in (("segments", "segments"), ("base_width", "base_width"),
           ("seed", "seed"), ("val", "accuracy"), ("test", "test_accuracy"), ("macs", "macs"))},
        **{v: _text(trials, v) for v in VARIANTS if v in trials.columns},
    })
    if "point" in trials.columns:  # tidy's point key, so the page can find the front's points
        c["key"] = trials["point"].astype(str)
    c = c[(state == "COMPLETE") & c["val"].notna() & c["seed"].notna()]
    variants = [v for v in VARIANTS if v in c.columns and c[v].nunique() > 1]
    c["point"] = _labels(c, variants)
    c["is_end"] = _is_end(c["position"], c["segments"], c["base_width"])
    return c.drop(columns=["segments", *(v for v in VARIANTS if v in c.columns)])


# -------------------------------------------------------------------------------------------------
# one budget


def _table(rows: np.ndarray, cols: np.ndarray, x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The mean of `x` in each (row, col) cell; NaN where a cell is empty."""
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, (rows, cols), x)
    np.add.at(count, (rows, cols), 1)
    with np.errstate(invalid="ignore"):
        return total / count


def _complete(have: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns to keep so that every kept cell is filled: greedily leave out the point (row) or
    seed (column) that removes the most empty cells per filled cell lost (a seed on ties)."""
    rows, cols = np.ones(have.shape[0], dtype=bool), np.ones(have.shape[1], dtype=bool)
    while rows.any() and cols.any() and not have[np.ix_(rows, cols)].all():
        h = have[np.ix_(rows, cols)]
        by_row = (~h).sum(1) / np.maximum(h.sum(1), 0.5)
        by_col = (~h).sum(0) / np.maximum(h.sum(0), 0.5)
        if by_row.max() > by_col.max():
            rows[np.flatnonzero(rows)[by_row.argmax()]] = False
        else:
            cols[np.flatnonzero(cols)[by_col.argmax()]] = False
    return rows, cols


def _blocks(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point labels, is_end, and (val, test) point x seed tables of complete blocks (see `_complete`)."""
    rows, labels = pd.factorize(g["point"], sort=True)
    cols, _ = pd.factorize(g["seed"], sort=True)
    shape = (len(labels), int(cols.max()) + 1)
    val, test = _table(rows, cols, g["val"].to_numpy(), shape), _table(rows, cols, g["claim"].to_numpy(), shape)
    keep, full = _complete(np.isfinite(val) & np.isfinite(test))
    is_end = np.zeros(len(labels), dtype=bool)
    is_end[rows] = g["is_end"].to_numpy(bool)
    return np.asarray(labels)[keep], is_end[keep], val[keep][:, full], test[keep][:, full]


def _claimed(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Claim on test when the budget's trials stored it (rows without it are left out), else validation."""
    if g["test"].notna().any():
        return g[g["test"].notna()].assign(claim=g["test"]), "test"
    return g.assign(claim=g["val"]), "validation (no test accuracy was stored)"


def _budget(label: str, g: pd.DataFrame, alpha: float, margin: float) -> BudgetVerdict:
    g, metric = _claimed(g)
    labels, ends, val, test = _blocks(g)
    n_inter, n_end = int((~ends).sum()), int(ends.sum())
    cost = float(g["macs"].median()) if g["macs"].notna().any() else None
    if n_inter == 0 or n_end == 0:
        return BudgetVerdict(label, NO_DATA, text.no_comparison(label, n_inter, n_end), n_intermediate=n_inter,
                             n_ends=n_end, cost=cost)
    if val.shape[1] == 0:
        return BudgetVerdict(label, OUTCOMES[OPEN], text.no_blocks(label), n_intermediate=n_inter, n_ends=n_end,
                             cost=cost, metric=metric)
    cmp = compare(100 * val, 100 * test, ends, alpha=alpha, margin=100 * margin)
    i, e = np.flatnonzero(~ends)[cmp.i_star], np.flatnonzero(ends)[cmp.e_star]
    n, sd = test.shape[1], float(cmp.sd)
    r = dict(
        intermediate=str(labels[i]), end=str(labels[e]), difference=float(cmp.difference),
        ci_low=float(cmp.low), ci_high=float(cmp.high), eq_low=float(cmp.eq_low), eq_high=float(cmp.eq_high),
        mde=float(detectable(sd, n, cmp.df, alpha, n_inter)), mde_end=float(detectable(sd, n, cmp.df, alpha, n_end)),
        intermediate_accuracy=100 * float(test[i].mean()), end_accuracy=100 * float(test[e].mean()),
        n_seeds=n, n_intermediate=n_inter, n_ends=n_end, sd=sd, df=int(cmp.df), level=alpha, metric=metric,
    )
    code = int(cmp.outcome)
    summary = text.budget_summary(label, code, {**r, "margin": 100 * margin})
    r = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
    return BudgetVerdict(label, OUTCOMES[code], summary, rules_out=text.rules_out(cmp.low, cmp.high), cost=cost, **r)


def _comparable(c: pd.DataFrame) -> int:
    """How many budgets have both an intermediate point and an end: alpha is split over them."""
    codes, _ = pd.factorize(c["budget_label"])
    ends = np.bincount(codes, weights=c["is_end"].to_numpy(float))
    return int(((ends > 0) & (ends < np.bincount(codes))).sum())


def _overall(budgets: tuple[BudgetVerdict, ...]) -> tuple[str, list[str]]:
    outcomes = [b.outcome for b in budgets if b.outcome != NO_DATA]
    if not outcomes:
        return NO_DATA, outcomes
    return (outcomes[0] if len(set(outcomes)) == 1 else "mixed"), outcomes


# -------------------------------------------------------------------------------------------------
# the front


def _means(codes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean of the finite values of `x` per code (NaN where none)."""
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        return np.bincount(codes[ok], x[ok], codes.max() + 1) / np.bincount(codes[ok], None, codes.max() + 1)


def _point_means(c: pd.DataFrame) -> pd.DataFrame:
    """One row per point: mean test (else validation) accuracy and validation accuracy in points, MACs, seeds."""
    codes, _ = pd.factorize(c["budget_label"] + "\x1f" + c["point"], sort=True)
    first = np.unique(codes, return_index=True)[1]
    out = c.iloc[first][["budget_label", "point", "position", "is_end", *(["key"] if "key" in c else [])]]
    out = out.rename(columns={"point": "label", "key": "point"}).reset_index(drop=True)
    test, val = 100 * _means(codes, c["test"].to_numpy()), 100 * _means(codes, c["val"].to_numpy())
    out["accuracy"], out["validation"] = np.where(np.isfinite(test), test, val), val
    out["macs"] = _means(codes, c["macs"].to_numpy())
    out["n_seeds"] = np.bincount(codes[np.unique(np.c_[codes, c["seed"]], axis=0, return_index=True)[1]])
    out["region"] = np.where(out["is_end"], out["position"].where(out["position"].isin(ENDS), "end"), "intermediate")
    return out.drop(columns="is_end")


# -------------------------------------------------------------------------------------------------
# public


def _empty(margin: float, alpha: float, looks, n: int) -> Verdict:
    msg = "No data: no completed trial with an accuracy yet."
    return Verdict(NO_DATA, msg, msg, "", margin=100 * margin, alpha=alpha, looks=looks, n_completed=n)


def verdict(trials: pd.DataFrame, *, margin: float = 0.01, alpha: float = ALPHA,
            looks: tuple[int, ...] | None = LOOKS) -> Verdict:
    """The study's verdict from its trials (raw or tidy). `margin`: a fraction (0.01 = 1 point).
    `looks`: the planned seed counts of --seeds auto (valid for fixed seeds too); None for a study whose
    seed count was fixed before any result was seen (a little more power)."""
    c = prepare(trials)
    if c.empty:
        return _empty(margin, alpha, looks, 0)
    n_budgets = _comparable(c)
    a = level(n_budgets, looks, alpha)
    budgets = tuple(_budget(str(b), g, a, margin) for b, g in c.groupby("budget_label", sort=True))
    overall, outcomes = _overall(budgets)
    head = text.headline(overall, outcomes)
    front = pareto_front(_point_means(c))
    n_inter = int((front["region"] == "intermediate").sum())
    sentence = text.front_sentence(len(front), n_inter) if c["macs"].notna().any() else text.front_sentence(0, 0)
    method = text.method_sentence(100 * margin, alpha, looks, n_budgets)
    summary = " ".join([head, *(b.summary for b in budgets), sentence, method])
    return Verdict(overall, summary, head, method, budgets, front, sentence, 100 * margin, alpha,
                   tuple(looks) if looks else None, len(c), int(c.groupby(["budget_label", "point"]).ngroups))


def design_looks(seeds: int | str, max_seeds: int) -> tuple[int, ...] | None:
    """The `looks` a study's verdict and seeds_to_add must share: --seeds auto looks at the planned
    counts up to its cap (alpha split over those only); a seed count fixed in advance never looks (None)."""
    return plan(max_seeds) if seeds == "auto" else None


def seeds_to_add(trials: pd.DataFrame, *, margin: float = 0.01, max_seeds: int = LOOKS[-1],
                 alpha: float = ALPHA, looks: tuple[int, ...] = LOOKS) -> dict[str, int]:
    """--seeds auto: per budget label, how many seeds every point should get next (0: settled or at
    the cap). Counts are of seeds completed at every compared point; only a planned look may stop a
    budget (see reports.stats.next_seed_count), so `verdict(..., looks=looks)` stays valid. Pass the
    same `looks` to both: LOOKS, or design_looks("auto", max_seeds) for more power under a low cap."""
    v = verdict(trials, margin=margin, alpha=alpha, looks=looks)
    return {b.budget_label: next_seed_count(b.n_seeds, b.outcome != OUTCOMES[OPEN], max_seeds, looks) - b.n_seeds
            for b in v.budgets if b.outcome != NO_DATA}
