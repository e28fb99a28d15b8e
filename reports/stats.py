"""The verdict's statistics, vectorised: at one matched budget, the intermediate point and the end chosen
on validation, compared on test with seed-paired, selection-corrected bounds (docs/STATISTICS.md).

Arrays hold accuracies of shape ``(..., points, seeds)``; any leading axes (simulated studies, budgets)
are computed at once, so the public verdict and the simulation tests share this one core.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

__all__ = [
    "ALPHA", "POWER", "LOOKS", "OUTCOMES", "INTERMEDIATE", "END", "EQUIVALENT", "OPEN",
    "Comparison", "compare", "level", "critical", "detectable", "plan", "next_seed_count", "final_look",
]

ALPHA = 0.05  # the chance of any false claim in a study
POWER = 0.8  # the power at which the detectable difference is stated
LOOKS = (3, 5, 8, 12, 20)  # the seed counts at which --seeds auto may stop (a Pocock-type schedule)

OUTCOMES = ("intermediate better", "end better", "no practical difference", "not resolved")
INTERMEDIATE, END, EQUIVALENT, OPEN = range(4)


@dataclass(frozen=True)
class Comparison:
    """One budget's comparison (arrays over the leading axes). Bounds are on theta = best intermediate
    minus best end (true means); `low`/`high` two-sided at level alpha, `eq_low`/`eq_high` the TOST bounds."""

    i_star: np.ndarray  # index (among the intermediate points) of the one chosen on validation
    e_star: np.ndarray  # index (among the ends) of the one chosen on validation
    difference: np.ndarray  # test mean of i_star minus test mean of e_star
    low: np.ndarray
    high: np.ndarray
    eq_low: np.ndarray
    eq_high: np.ndarray
    sd: np.ndarray  # pooled residual sd of one accuracy (two-way seed x point ANOVA)
    df: int
    outcome: np.ndarray  # codes into OUTCOMES


def level(n_budgets: int, looks: tuple[int, ...] | None = LOOKS, alpha: float = ALPHA) -> float:
    """Two-sided level of one budget at one look: alpha split equally over budgets and planned looks."""
    return alpha / (max(1, n_budgets) * (len(looks) if looks else 1))


@lru_cache(maxsize=4096)
def critical(alpha: float, m: int, df: int) -> float:
    """One-sided Student-t critical value, Bonferroni over `m` comparisons; NaN where df < 1."""
    return float(stats.t.isf(alpha / max(1, m), df)) if df >= 1 else float("nan")


def _pooled_sd(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Residual sd of the additive seed + point model and its degrees of freedom (P-1)(n-1)."""
    p, n = x.shape[-2:]
    r = x - x.mean(-1, keepdims=True) - x.mean(-2, keepdims=True) + x.mean((-2, -1), keepdims=True)
    df = (p - 1) * (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((r * r).sum((-2, -1)) / df), df


def _take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, idx[..., None], -1)[..., 0]


def classify(low, high, eq_low, eq_high, margin: float) -> np.ndarray:
    """Outcome codes: a direction when its bound clears zero, else equivalence when TOST clears ±margin."""
    low, high = np.asarray(low), np.asarray(high)
    equivalent = (np.asarray(eq_low) > -margin) & (np.asarray(eq_high) < margin)
    return np.select([low > 0, high < 0, equivalent], [INTERMEDIATE, END, EQUIVALENT], OPEN)


def compare(val, test, is_end, *, alpha: float, margin: float) -> Comparison:
    """Choose the best intermediate point and the best end on `val`, bound theta on `test` (same units).

    Lower bound: the chosen intermediate against every end (intersection-union), Bonferroni over the K
    intermediate points; upper bound: every intermediate against the chosen end, Bonferroni over the ends.
    """
    val, test = np.asarray(val, dtype=float), np.asarray(test, dtype=float)
    is_end = np.asarray(is_end, dtype=bool)
    k, e = int((~is_end).sum()), int(is_end.sum())
    if k == 0 or e == 0:
        raise ValueError("compare: needs at least one intermediate point and one end")
    vm, tm = val.mean(-1), test.mean(-1)
    i_star, e_star = vm[..., ~is_end].argmax(-1), vm[..., is_end].argmax(-1)
    ti, te = tm[..., ~is_end], tm[..., is_end]
    ci, ce = _take(ti, i_star), _take(te, e_star)
    sd, df = _pooled_sd(test)
    se = sd * np.sqrt(2.0 / test.shape[-1])
    beats_ends = ci - te.max(-1)  # the chosen intermediate minus the best end
    beaten_by = ti.max(-1) - ce  # the best intermediate minus the chosen end
    low, high = beats_ends - critical(alpha / 2, k, df) * se, beaten_by + critical(alpha / 2, e, df) * se
    eq_low, eq_high = beats_ends - critical(alpha, k, df) * se, beaten_by + critical(alpha, e, df) * se
    return Comparison(i_star, e_star, ci - ce, low, high, eq_low, eq_high, sd, df,
                      classify(low, high, eq_low, eq_high, margin))


@lru_cache(maxsize=1024)
def _noncentrality(c: float, df: int, power: float) -> float:
    """The noncentrality at which a one-sided t test with critical value c has this power."""
    return optimize.brentq(lambda nc: stats.nct.sf(c, df, nc) - power, 0.0, 10 * c + 20, xtol=1e-6)


def detectable(sd: float, n: int, df: int, alpha: float, m: int, power: float = POWER) -> float:
    """The true difference a one-sided bound (Bonferroni over m, level alpha/2) clears with `power`."""
    if not (df >= 1 and np.isfinite(sd)):
        return float("nan")
    c = critical(alpha / 2, m, int(df))
    return _noncentrality(round(c, 6), int(df), power) * float(sd) * np.sqrt(2.0 / n)


# -------------------------------------------------------------------------------------------------
# sequential use: looks only at planned seed counts, alpha split over them (see `level`)


def plan(max_seeds: int, looks: tuple[int, ...] = LOOKS) -> tuple[int, ...]:
    """The seed counts at which a study capped at `max_seeds` looks: the schedule below the cap, then the cap."""
    cap = min(int(max_seeds), looks[-1])
    return tuple(s for s in looks if s < cap) + (cap,)


def next_seed_count(n: int, settled: bool, max_seeds: int, looks: tuple[int, ...] | None = LOOKS) -> int:
    """How many seeds a budget should have next. Only a planned look may stop it: off the plan (or
    before the first look) the data are not consulted and the budget goes on to the next planned count."""
    if not looks:
        return max(int(n), int(max_seeds))
    steps = plan(max_seeds, looks)
    if n >= steps[-1] or (settled and n in steps):
        return int(n)
    return next(s for s in steps if s > n)


def final_look(outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Given outcome codes at every planned look (last axis), the look where a sequential study stops
    (the first settled one, else the last) and its outcome."""
    settled = outcomes != OPEN
    stop = np.where(settled.any(-1), settled.argmax(-1), outcomes.shape[-1] - 1)
    return stop, _take(outcomes, stop)
