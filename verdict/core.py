"""The verdict: at each matched budget, does an intermediate point of the spectrum beat both
ends, does an end beat every intermediate point, or are they within a practical margin?

    v = verdict(trials, margin=0.01)          # trials: a DataFrame shaped like DIR/trials.csv
    v.overall, v.budgets[0].ci_low, v.to_json()
    v = verdict(trials, margin=0.01, looks=plan(8))   # looks: by default the trials' seed_plan; None: one look
    seed_targets(trials, margin=0.01, max_seeds=8)    # --seeds auto: {point: seeds it should reach}

Choose on validation (`accuracy`), claim on test (`test_accuracy`); the statistics are in verdict.stats and
docs/STATISTICS.md. Every accuracy the verdict gives is in points (percentage points).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd

from records.points import DIVERGED, points_table
from records.table import tidy

from . import words as text
from .claims import DESCRIPTIVE, Claim, QUESTIONS, claim_specs, evaluate, point_table, segments_claim
from .contrast import (
    DESCRIPTIVE_FACTOR, MOST_SEEDS, cannot_settle, projected_mde, residual_sd, seeds_needed, possible_range,
    within_range,
)
from .pareto import UNMATCHED, pareto_front, pareto_mask
from .stats import ALPHA, EQUIVALENT, LOOKS, OPEN, OUTCOMES, compare, detectable, image_variance, level, next_seed_count
from .data import blocks, claimed, correct_bits, looks_from, prepare

__all__ = ["Verdict", "BudgetVerdict", "verdict", "study_verdict", "looks_from", "seed_targets",
           "pareto_mask", "prepare", "DIVERGED", "DESCRIPTIVE"]

NO_DATA = "no data"
SEED_PLAN = "seed_plan"  # `looks` default: take them from the trials' seed_plan


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
    n_runs: int = 0  # the compared runs (points x seeds of the complete blocks)
    uncorrected: bool = False  # descriptive: the interval is a plain 95% one (no alpha spent), not a claim's
    seeds_needed: int | None = None  # unsettled: seeds at every point that would settle it at its own spread
    settle: str = ""  # unsettled: what would settle it, in words (seeds, or more epochs beyond the largest look)
    projected_mde: float | None = None  # the detectable difference its first look's spread projects at the cap


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
    claims: tuple[Claim, ...] = ()  # one per statement the space asks, every question under the one alpha
    space: str = ""  # the trials' space, where they name one
    exploratory: bool = False  # sampled points: every budget descriptive, no claim
    questions: tuple = ()  # the questions answered, in the order the page answers them
    leads: tuple = ()  # those the page opens with (the space's, from config.json)

    def to_json(self) -> dict:
        """The fields DIR/verdict.json holds (NaN as null, the front as records)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("budgets", "pareto_front")}
        d["budgets"] = [asdict(b) for b in self.budgets]
        d["pareto_front"] = self.pareto_front.astype(object).where(self.pareto_front.notna(), None).to_dict("records")
        return _finite(d)


def _finite(x):
    if isinstance(x, Mapping):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x.item() if isinstance(x, np.generic) else x



def _budget(label: str, g: pd.DataFrame, metric: str, alpha: float, margin: float, looks) -> BudgetVerdict:
    """One budget's segments comparison at level alpha (margin in points) on its claimed rows `g`, at the
    planned look its points all reached."""
    keys, ends, val, test, where = blocks(g, looks)
    labels = np.asarray(g.drop_duplicates("point").set_index("point")["point_label"].reindex(keys), dtype=object)
    n_inter, n_end = int((~ends).sum()), int(ends.sum())
    cost = float(g["macs"].median()) if g["macs"].notna().any() else None
    counts = dict(n_intermediate=n_inter, n_ends=n_end, cost=cost)
    if n_inter == 0 or n_end == 0:
        return BudgetVerdict(label, NO_DATA, text.no_comparison(label, n_inter, n_end), **counts)
    if val.shape[1] == 0:
        return BudgetVerdict(label, OUTCOMES[OPEN], text.no_blocks(label), metric=metric, **counts)
    correct = correct_bits(g, where) if metric == "test" else None
    images = 0 if correct is None else correct.shape[-1]
    pair = (1.0, -1.0)  # best intermediate minus best end
    cmp = within_range(compare(100 * val, 100 * test, ends, alpha=alpha, margin=margin,
                               image_var=None if correct is None else 1e4 * image_variance(correct)), pair)
    i, e = np.flatnonzero(~ends)[cmp.i_star], np.flatnonzero(ends)[cmp.e_star]
    n, sd, df = test.shape[1], float(cmp.sd), float(cmp.df) if np.isfinite(cmp.df) else 0.0
    code = int(cmp.outcome)
    n_diverged = int(g["diverged"].to_numpy()[where.ravel()].sum())
    needed = None
    if code == OPEN and math.isfinite(sd):  # more seeds shrink the seed part only; the test images' part stays
        seed_sd = sd if correct is None else float(compare(100 * val, 100 * test, ends, alpha=alpha, margin=margin).sd)
        image_se = math.sqrt(max(sd**2 - seed_sd**2, 0.0) * 2 / n)
        needed = seeds_needed(seed_sd, alpha, margin, n_inter, points=len(labels), image_se=image_se)
    r = dict(
        intermediate=str(labels[i]), end=str(labels[e]), difference=float(cmp.difference),
        ci_low=float(cmp.low), ci_high=float(cmp.high), eq_low=float(cmp.eq_low), eq_high=float(cmp.eq_high),
        mde=float(detectable(sd, n, df, alpha, n_inter)), mde_end=float(detectable(sd, n, df, alpha, n_end)),
        intermediate_accuracy=100 * float(test[i].mean()), end_accuracy=100 * float(test[e].mean()),
        n_seeds=n, sd=sd, df=int(df), level=alpha, metric=metric, images=images,
        n_diverged=n_diverged, n_runs=int(where.size), seeds_needed=needed,
        settle=text.settle(needed, MOST_SEEDS, n_diverged) if code == OPEN and math.isfinite(sd) else "",
    )
    summary = text.budget_summary(label, code, {**r, **counts, "margin": margin, "end_names": labels[ends]})
    r = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
    rests_on = (cmp.eq_low, cmp.eq_high) if code == EQUIVALENT else (cmp.low, cmp.high)  # what the outcome rests on
    said = text.rules_out(*rests_on, possible=possible_range(pair))
    return BudgetVerdict(label, OUTCOMES[code], summary, rules_out=said, **counts, **r)


def _first_look(g: pd.DataFrame, looks, alpha: float, margin: float, read_at) -> dict | None:
    """Can this budget settle by its seed cap? Judged on the spread of its first look's runs that trained
    (the residuals of its point x seed table: no effect enters; a diverged run is an outcome, not spread),
    so listing its claims as descriptive keeps every other claim's level valid.
    A dict saying why not (spread, projected detectable difference, cap, what would settle it), else None."""
    labels, ends, _, test, where = blocks(g, read_at)
    first = looks[0] if looks else test.shape[1]
    if ends.all() or not ends.any() or test.shape[1] < max(first, 2):
        return None
    cap, m = (looks[-1] if looks else test.shape[1]), int((~ends).sum())
    diverged = g["diverged"].to_numpy(bool)[where[:, :first]]
    table, trained = 100 * test[:, :first], ~diverged
    if not cannot_settle(table, cap, alpha, m, margin, trained=trained):
        return None
    sd = float(residual_sd(table, trained=trained))
    projected = float(projected_mde(sd, cap, alpha, m, points=len(ends)))
    needed = seeds_needed(sd, alpha, margin, m, points=len(ends))
    return {"spread": sd, "projected": projected, "cap": cap, "factor": DESCRIPTIVE_FACTOR, "margin": margin,
            "seeds_needed": needed, "settle": text.settle(needed, MOST_SEEDS, int(diverged.sum()))}


def _descriptive(b: BudgetVerdict, why: dict) -> BudgetVerdict:
    """A budget that cannot settle, `b` its comparison at the study's whole alpha: listed, with its estimate
    and that plain interval marked uncorrected, and no claim's level (no share of alpha spent)."""
    if b.outcome == NO_DATA:
        return b
    return replace(b, outcome=DESCRIPTIVE, summary=text.descriptive_summary(b.budget_label, why, b), level=None,
                   uncorrected=True, rules_out="", mde=why.get("projected", b.mde), projected_mde=why.get("projected"),
                   seeds_needed=why.get("seeds_needed"), settle=why.get("settle", ""))


def _overall(budgets: tuple[BudgetVerdict, ...]) -> tuple[str, list[str]]:
    outcomes = [b.outcome for b in budgets if b.outcome not in (NO_DATA, DESCRIPTIVE)]
    if not outcomes:
        return (OUTCOMES[OPEN] if any(b.outcome == DESCRIPTIVE for b in budgets) else NO_DATA), outcomes
    return (outcomes[0] if len(set(outcomes)) == 1 else "mixed"), outcomes


def _advice(budgets) -> str:
    """What would settle the unresolved budgets: seeds, more epochs, or either (see each budget)."""
    unsettled = [b for b in budgets if b.outcome == OUTCOMES[OPEN] and b.settle]
    ways = {b.settle == text.EPOCHS for b in unsettled if b.n_diverged == 0}
    advice = text.EPOCHS if ways == {True} else "more seeds" if ways != {True, False} else (
        "more seeds or more epochs (see each budget)")
    return (f"{text.LOWER_RATE} and " + advice) if any(b.n_diverged for b in unsettled) else advice


# -------------------------------------------------------------------------------------------------
# public


def _empty(margin: float, alpha: float, looks, n: int) -> Verdict:
    msg = "No data: no completed trial with an accuracy yet."
    return Verdict(NO_DATA, msg, msg, "", margin=100 * margin, alpha=alpha, looks=looks, n_completed=n)


def _space(c: pd.DataFrame) -> str:
    spaces = set(c["space"]) - {""} if "space" in c.columns else set()
    return spaces.pop() if len(spaces) == 1 else ""


def _judge(c: pd.DataFrame, looks, alpha: float, margin: float, exploratory: bool, questions, read_at):
    """Every budget and every claim the space asks (`questions`; None: every question the points support),
    all listed: those of budgets that cannot settle (or of an exploratory study) as descriptive, with no
    alpha spent; the others each at alpha / (claims x looks). Each comparison reads the seeds its points
    share, cut to a planned look of `read_at`."""
    data = {str(b): claimed(g) for b, g in c.groupby("budget_label", sort=True)}
    specs = [s for s in claim_specs(point_table(c)) if questions is None or s.question in questions]
    sides = c.groupby("budget_label")["is_end"].agg(["any", "all"])
    comparable = [str(b) for b, r in sides.iterrows() if r["any"] and not r["all"]]
    first = level(len(comparable) + len(specs), looks, alpha)  # as if every claim were kept: no data enters
    why = {b: {"exploratory": True} if exploratory else _first_look(g, looks, first, margin, read_at)
           for b, (g, _) in data.items()}
    why = {b: w for b, w in why.items() if w is not None}
    a = level(len([b for b in comparable if b not in why]) + sum(s.budget_label not in why for s in specs), looks, alpha)
    budgets = tuple(_descriptive(_budget(b, g, m, alpha, margin, read_at), why[b]) if b in why else
                    _budget(b, g, m, a, margin, read_at) for b, (g, m) in data.items())
    claims = [segments_claim(x) for x in budgets if x.outcome != NO_DATA]
    claims += [evaluate(s, data[s.budget_label][0], alpha=alpha if s.budget_label in why else a, margin=margin,
                        metric=data[s.budget_label][1], descriptive=s.budget_label in why, looks=read_at) for s in specs]
    return budgets, tuple(claims)


def verdict(trials: pd.DataFrame, *, margin: float = 0.01, alpha: float = ALPHA,
            looks: tuple[int, ...] | None | str = SEED_PLAN, questions: tuple[str, ...] | None = None,
            exploratory: bool | None = None) -> Verdict:
    """The study's verdict from its trials (raw or tidy). `margin`: a fraction (0.01 = 1 point).
    `looks`: by default the trials' seed plan (`looks_from`); else the planned seed counts of --seeds
    auto, or None for a seed count fixed before any result was seen. `questions`: the space's (only
    their claims are made; None: every question the points support); `exploratory`: the space's flag
    (sampled points: every budget descriptive, no claim; None: False)."""
    # claims are read at planned looks: the given ones, or the trials' own plan (an unknown plan splits alpha
    # over LOOKS but reads every seed)
    looks, read_at = (looks_from(trials), looks_from(trials, unknown=None)) if isinstance(looks, str) else (looks, looks)
    t = tidy(trials)
    c = prepare(t)
    if c.empty:
        return _empty(margin, alpha, looks, 0)
    space = _space(c)
    exploratory = bool(exploratory)
    budgets, claims = _judge(c, looks, alpha, 100 * margin, exploratory, questions, read_at)
    overall, outcomes = _overall(budgets)
    n_descriptive = sum(b.outcome == DESCRIPTIVE for b in budgets)
    head = text.headline(overall, outcomes, _advice(budgets), n_descriptive)
    if exploratory:
        head = text.EXPLORATORY + " " + head
    points = points_table(t).assign(budget_label=lambda p: p["budget_label"].replace("", UNMATCHED))
    front = pareto_front(points.drop(columns="validation_accuracies").assign(accuracy=100 * points["claimed_mean"]))
    n_inter = int((front["region"] == "intermediate").sum())
    sentence = text.front_sentence(len(front), n_inter) if c["macs"].notna().any() else text.front_sentence(0, 0)
    images = sorted({x["images"] for x in claims})
    counts = {q: sum(x["question"] == q for x in claims) for q in QUESTIONS}
    method = text.method_sentence(100 * margin, alpha, looks, counts, images, n_descriptive)
    diverged = tuple({"budget_label": r.budget_label, "point": r.point_label, "diverged": int(r.n_diverged),
                      "runs": int(r.n_runs), "rate_low": low, "rate_high": high}
                     for r in points[points["n_diverged"] > 0].itertuples()
                     for low, high in [text.divergence_interval(r.n_diverged, r.n_runs)])
    summary = " ".join([head, *(b.summary for b in budgets), text.diverged_sentence(diverged), sentence, method])
    return Verdict(overall, summary, head, method, budgets, front, sentence, 100 * margin, alpha,
                   tuple(looks) if looks else None, len(c), int(c.groupby(["budget_label", "point"]).ngroups),
                   diverged, claims, space, exploratory,
                   questions=tuple(questions) if questions is not None else _supported(claims))


def _supported(claims) -> tuple[str, ...]:
    """The questions the claims answer, in the order QUESTIONS asks them ("segments" always)."""
    return tuple(q for q in QUESTIONS if q == "segments" or any(x["question"] == q for x in claims))


def study_verdict(trials: pd.DataFrame, config: dict | None = None) -> Verdict:
    """The one verdict of a study, as verdict.json and every page show it: from its config.json the
    margin (`margin`, points) and its space's facts (`questions`, `leads`, `exploratory`), the looks
    from its trials' seed plan."""
    config = config or {}
    m = config.get("margin")
    ok = isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m) and m > 0
    questions = config.get("questions")
    v = verdict(trials, margin=m / 100 if ok else 0.01, exploratory=config.get("exploratory"),
                questions=tuple(questions) if questions is not None else None)
    return replace(v, leads=tuple(config.get("leads") or ()))


def seed_targets(trials: pd.DataFrame, *, margin: float = 0.01, max_seeds: int = LOOKS[-1],
                 alpha: float = ALPHA, looks: tuple[int, ...] | str = SEED_PLAN,
                 questions: tuple[str, ...] | None = None) -> dict[str, int]:
    """--seeds auto: the points (keys, records.points) that should train more seeds, each with the seed
    count it should reach; points absent get none. Seeds go only where a claim is still open (a budget's
    segments claim: every point the budget compares; any other claim: its own points), each to the next
    planned look after the seeds those points share, so only a planned look stops a claim and every claim is
    made at a planned look (verdict.stats.next_seed_count, verdict.data.at_look). A descriptive budget gets
    none. `looks`, as for `verdict`: by default the trials' seed plan; `questions`: the space's."""
    t = tidy(trials)
    v = verdict(t, margin=margin, alpha=alpha, looks=looks, questions=questions)
    looks = looks_from(t) if isinstance(looks, str) else looks
    c = prepare(t)
    if c.empty:
        return {}
    have = c.groupby("point")["seed"].nunique()
    key = {(b, label): p for b, label, p in c[["budget_label", "point_label", "point"]].drop_duplicates().itertuples(index=False)}
    want: dict[str, int] = {}
    for x in v.claims:
        if x["outcome"] == DESCRIPTIVE:
            continue
        b = x["budget_label"]
        points = (c.loc[c["budget_label"] == b, "point"].unique() if x["question"] == "segments"
                  else [key[(b, label)] for label in x["points"]])
        target = next_seed_count(x["n_seeds"], x["outcome"] != OUTCOMES[OPEN], max_seeds, looks)
        counts = {p: max(int(have.get(p, 0)), target) for p in points}
        if target > x["n_seeds"] and all(counts[p] == have.get(p, 0) for p in points):
            counts = {p: int(have.get(p, 0)) + target - x["n_seeds"] for p in points}  # seeds lost at some point
        for p, k in counts.items():
            want[p] = max(want.get(p, 0), min(k, max_seeds))
    return {p: n for p, n in want.items() if n > int(have.get(p, 0))}
