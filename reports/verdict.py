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
from .stats import ALPHA, LOOKS, OPEN, OUTCOMES, compare, detectable, image_variance, level, next_seed_count, plan

__all__ = ["Verdict", "BudgetVerdict", "verdict", "study_verdict", "looks_from", "seeds_to_add", "design_looks",
           "pareto_mask", "prepare", "DIVERGED"]

NO_DATA = "no data"
DIVERGED = 0.0  # the accuracy (fraction) a diverged run scores: its model is unusable, every image wrong
SEED_PLAN = "seed_plan"  # `looks` default: take them from the trials' seed_plan
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
    sd: float | None = None  # the compared pair's standard error times sqrt(n / 2): one model's spread
    df: int = 0  # the compared pair's degrees of freedom
    level: float | None = None  # two-sided alpha spent on this budget at this look
    metric: str = "test"  # "test", or "validation" when the study stored no test accuracy
    cost: float | None = None  # the budget's median MACs
    images: int = 0  # test images whose sampling the interval covers too (0: seeds only, no per-image data)
    n_diverged: int = 0  # diverged runs among the compared ones (scored DIVERGED, an outcome)


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
    n_completed: int = 0  # runs that are outcomes: completed, and diverged
    n_points: int = 0
    diverged: tuple[dict, ...] = ()  # per point with a diverged run: budget_label, point, diverged, runs

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


def _flag(trials: pd.DataFrame, name: str) -> pd.Series:
    """A boolean column as stored (bool, 0/1, or text "True"/"true"); False where absent."""
    return _text(trials, name).str.lower().isin(("true", "1", "1.0"))


def _points(c: pd.DataFrame, variants: list[str]) -> tuple[pd.Series, pd.Series]:
    """Each trial's point label ('segments=4', 'segments=4 · relu' when the activation varies, '· width W'
    when one budget mixes base widths) and whether it is an end: the one place points are derived."""
    label = c["position"]
    if (label == "").any():
        label = label.where(label != "", "segments=" + c["segments"].astype("Int64").astype(str))
    for v in variants:
        label = label + " · " + c[v]
    if c["base_width"].nunique() > 1:
        widths = c.groupby("budget_label")["base_width"].transform("nunique")
        label = label.where(widths <= 1, label + " · width " + c["base_width"].astype("Int64").astype(str))
    seg, base = c["segments"], c["base_width"]
    return label, c["position"].isin(ENDS) | (seg == 1) | ((seg == base) & seg.notna())


def prepare(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials that are outcomes: completed ones, and diverged ones scored DIVERGED (a FAIL row with
    `diverged` true); budget_label, point (label), is_end, seed, val, test, macs, diverged, and the
    per-image `test_correct` / `test_size` when stored (raw or tidy input). Other failures are not outcomes."""
    state = _text(trials, "state").str.upper() if "state" in trials.columns else pd.Series("COMPLETE", trials.index)
    diverged = (state == "FAIL") & _flag(trials, "diverged")
    c = pd.DataFrame({
        "budget_label": _text(trials, "budget_label").replace("", UNMATCHED),
        "position": _text(trials, "position"),
        **{k: _numeric(trials, col) for k, col in (("segments", "segments"), ("base_width", "base_width"),
           ("seed", "seed"), ("val", "accuracy"), ("test", "test_accuracy"), ("macs", "macs"))},
        **{v: _text(trials, v) for v in VARIANTS if v in trials.columns},
        "diverged": diverged,
    })
    for name in ("test_correct", "test_size"):
        if name in trials.columns:
            c[name] = _text(trials, name) if name == "test_correct" else _numeric(trials, name)
    if "point" in trials.columns:  # tidy's point key, so the page can find the front's points
        c["key"] = trials["point"].astype(str)
    c.loc[diverged, ["val", "test"]] = DIVERGED
    c = c[((state == "COMPLETE") & c["val"].notna() | diverged) & c["seed"].notna()]
    variants = [v for v in VARIANTS if v in c.columns and c[v].nunique() > 1]
    c["point"], c["is_end"] = _points(c, variants)
    return c.drop(columns=["segments", *(v for v in VARIANTS if v in c.columns)])


def looks_from(trials: pd.DataFrame) -> tuple[int, ...] | None:
    """The looks a study's seed plan paid for: every trial "fixed" -> None (one look), every trial
    "auto:N" with one N -> plan(N); absent, unreadable or differing plans -> the conservative LOOKS."""
    plans = set(_text(trials, "seed_plan").str.lower()) if len(trials) else {""}
    if plans == {"fixed"}:
        return None
    if len(plans) == 1 and (p := plans.pop()).startswith("auto:") and p[5:].isdigit() and int(p[5:]) >= 1:
        return plan(int(p[5:]))
    return LOOKS


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


def _blocks(g: pd.DataFrame):
    """Point labels, is_end, (val, test) point x seed tables of complete blocks (see `_complete`), and
    the row of `g` behind each kept cell (the last one, where a seed ran twice)."""
    rows, labels = pd.factorize(g["point"], sort=True)
    cols, _ = pd.factorize(g["seed"], sort=True)
    shape = (len(labels), int(cols.max()) + 1)
    val, test = _table(rows, cols, g["val"].to_numpy(), shape), _table(rows, cols, g["claim"].to_numpy(), shape)
    keep, full = _complete(np.isfinite(val) & np.isfinite(test))
    is_end = np.zeros(len(labels), dtype=bool)
    is_end[rows] = g["is_end"].to_numpy(bool)
    where = np.full(shape, -1)
    where[rows, cols] = np.arange(len(g))
    return (np.asarray(labels)[keep], is_end[keep], val[keep][:, full], test[keep][:, full],
            where[keep][:, full])


def _correct(g: pd.DataFrame, where: np.ndarray) -> np.ndarray | None:
    """The kept cells' per-image test correctness (points, seeds, images), a diverged run all wrong;
    None unless every kept run stored it for one test split of the same size."""
    if "test_correct" not in g.columns or where.size == 0:
        return None
    cells = g.iloc[where.ravel()]
    sizes = cells["test_size"] if "test_size" in cells.columns else pd.Series(np.nan, cells.index)
    stored = cells["test_correct"] != ""
    m = set(sizes[stored].dropna().astype(int))
    if len(m) != 1 or not (stored | cells["diverged"]).all() or (m := m.pop()) < 2:
        return None
    try:
        bits = [np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8))[:m] if ok else np.zeros(m, np.uint8)
                for h, ok in zip(cells["test_correct"], stored & ~cells["diverged"])]
    except ValueError:
        return None
    if any(len(b) != m for b in bits):
        return None
    return np.stack(bits).reshape(where.shape + (m,))


def _claimed(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Claim on test when the budget's trials stored it (rows without it are left out), else validation."""
    if g["test"].notna().any():
        return g[g["test"].notna()].assign(claim=g["test"]), "test"
    return g.assign(claim=g["val"]), "validation (no test accuracy was stored)"


def _budget(label: str, g: pd.DataFrame, alpha: float, margin: float) -> BudgetVerdict:
    g, metric = _claimed(g)
    labels, ends, val, test, where = _blocks(g)
    n_inter, n_end = int((~ends).sum()), int(ends.sum())
    cost = float(g["macs"].median()) if g["macs"].notna().any() else None
    counts = dict(n_intermediate=n_inter, n_ends=n_end, cost=cost)
    if n_inter == 0 or n_end == 0:
        return BudgetVerdict(label, NO_DATA, text.no_comparison(label, n_inter, n_end), **counts)
    if val.shape[1] == 0:
        return BudgetVerdict(label, OUTCOMES[OPEN], text.no_blocks(label), metric=metric, **counts)
    correct = _correct(g, where) if metric == "test" else None
    images = 0 if correct is None else correct.shape[-1]
    cmp = compare(100 * val, 100 * test, ends, alpha=alpha, margin=100 * margin,
                  image_var=None if correct is None else 1e4 * image_variance(correct))
    i, e = np.flatnonzero(~ends)[cmp.i_star], np.flatnonzero(ends)[cmp.e_star]
    n, sd, df = test.shape[1], float(cmp.sd), float(cmp.df) if np.isfinite(cmp.df) else 0.0
    r = dict(
        intermediate=str(labels[i]), end=str(labels[e]), difference=float(cmp.difference),
        ci_low=float(cmp.low), ci_high=float(cmp.high), eq_low=float(cmp.eq_low), eq_high=float(cmp.eq_high),
        mde=float(detectable(sd, n, df, alpha, n_inter)), mde_end=float(detectable(sd, n, df, alpha, n_end)),
        intermediate_accuracy=100 * float(test[i].mean()), end_accuracy=100 * float(test[e].mean()),
        n_seeds=n, sd=sd, df=int(df), level=alpha, metric=metric, images=images,
        n_diverged=int(g["diverged"].to_numpy()[where.ravel()].sum()),
    )
    code = int(cmp.outcome)
    summary = text.budget_summary(label, code, {**r, **counts, "margin": 100 * margin, "end_names": labels[ends]})
    r = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
    return BudgetVerdict(label, OUTCOMES[code], summary, rules_out=text.rules_out(cmp.low, cmp.high), **counts, **r)


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
    out["n_diverged"] = np.bincount(codes, c["diverged"].to_numpy(float), codes.max() + 1).astype(int)
    out["region"] = np.where(out["is_end"], out["position"].where(out["position"].isin(ENDS), "end"), "intermediate")
    return out.drop(columns="is_end")


# -------------------------------------------------------------------------------------------------
# public


def _empty(margin: float, alpha: float, looks, n: int) -> Verdict:
    msg = "No data: no completed trial with an accuracy yet."
    return Verdict(NO_DATA, msg, msg, "", margin=100 * margin, alpha=alpha, looks=looks, n_completed=n)


def verdict(trials: pd.DataFrame, *, margin: float = 0.01, alpha: float = ALPHA,
            looks: tuple[int, ...] | None | str = SEED_PLAN) -> Verdict:
    """The study's verdict from its trials (raw or tidy). `margin`: a fraction (0.01 = 1 point).
    `looks`: by default the trials' seed plan (`looks_from`); else the planned seed counts of --seeds
    auto, or None for a seed count fixed before any result was seen."""
    looks = looks_from(trials) if isinstance(looks, str) else looks
    c = prepare(trials)
    if c.empty:
        return _empty(margin, alpha, looks, 0)
    n_budgets = _comparable(c)
    a = level(n_budgets, looks, alpha)
    budgets = tuple(_budget(str(b), g, a, margin) for b, g in c.groupby("budget_label", sort=True))
    overall, outcomes = _overall(budgets)
    head = text.headline(overall, outcomes)
    points = _point_means(c)
    front = pareto_front(points)
    n_inter = int((front["region"] == "intermediate").sum())
    sentence = text.front_sentence(len(front), n_inter) if c["macs"].notna().any() else text.front_sentence(0, 0)
    images = sorted({b.images for b in budgets if b.outcome != NO_DATA})
    method = text.method_sentence(100 * margin, alpha, looks, n_budgets, images)
    diverged = tuple({"budget_label": r.budget_label, "point": r.label, "diverged": int(r.n_diverged),
                      "runs": int(r.n_seeds)} for r in points[points["n_diverged"] > 0].itertuples())
    summary = " ".join([head, *(b.summary for b in budgets), text.diverged_sentence(diverged), sentence, method])
    return Verdict(overall, summary, head, method, budgets, front, sentence, 100 * margin, alpha,
                   tuple(looks) if looks else None, len(c), int(c.groupby(["budget_label", "point"]).ngroups),
                   diverged)


def study_verdict(trials: pd.DataFrame, config: dict | None = None) -> Verdict:
    """The one verdict of a study, as verdict.json and every page show it: the margin from its
    config.json (`margin`, points), the looks from its trials' seed plan."""
    m = (config or {}).get("margin")
    ok = isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m) and m > 0
    return verdict(trials, margin=m / 100 if ok else 0.01)


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
