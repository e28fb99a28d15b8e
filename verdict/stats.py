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
    sd: np.ndarray  # the chosen pair's difference: its standard error times sqrt(n / 2)
    df: np.ndarray  # the chosen pair's degrees of freedom
    outcome: np.ndarray  # codes into OUTCOMES
    pooled: np.ndarray  # share of the bounds' contrasts that used the pooled seed variance


def level(n_budgets: int, looks: tuple[int, ...] | None = LOOKS, alpha: float = ALPHA) -> float:
    """Two-sided level of one budget at one look: alpha split equally over budgets and planned looks."""
    return alpha / (max(1, n_budgets) * (len(looks) if looks else 1))


@lru_cache(maxsize=4096)
def critical(alpha: float, m: int, df: int) -> float:
    """One-sided Student-t critical value, Bonferroni over `m` comparisons; NaN where df < 1."""
    return float(stats.t.isf(alpha / max(1, m), df)) if df >= 1 else float("nan")


def _critical(alpha: float, m: int, df: np.ndarray) -> np.ndarray:
    """`critical` over an array of (possibly fractional) degrees of freedom; NaN where df < 1."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df >= 1, stats.t.isf(alpha / max(1, m), np.maximum(df, 1)), np.nan)


def _take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, idx[..., None], -1)[..., 0]


def classify(low, high, eq_low, eq_high, margin: float) -> np.ndarray:
    """Outcome codes: a direction when its bound clears zero, else equivalence when TOST clears ±margin."""
    low, high = np.asarray(low), np.asarray(high)
    equivalent = (np.asarray(eq_low) > -margin) & (np.asarray(eq_high) < margin)
    return np.select([low > 0, high < 0, equivalent], [INTERMEDIATE, END, EQUIVALENT], OPEN)


def _bounds(d, var, df, alpha: float, m: int, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """The worst of the contrasts' one-sided bounds (sign -1: lower, min; +1: upper, max), at alpha/2
    (the interval) and alpha (TOST), Bonferroni over m."""
    se = np.sqrt(var)
    edge = [d + sign * _critical(a, m, df) * se for a in (alpha / 2, alpha)]
    return tuple((e.min(-1) if sign < 0 else e.max(-1)) for e in edge)


def compare(val, test, is_end, *, alpha: float, margin: float, image_var=None) -> Comparison:
    """Choose the best intermediate point and the best end on `val`, bound theta on `test` (same units).

    Lower bound: the chosen intermediate against every end (intersection-union), Bonferroni over the K
    intermediate points; upper bound: every intermediate against the chosen end, Bonferroni over the ends.
    Each contrast carries its own variance (`contrast_variance`); `image_var` (..., P, P), when given,
    adds each pair's test-image sampling variance of the mean difference.
    """
    val, test = np.asarray(val, dtype=float), np.asarray(test, dtype=float)
    is_end = np.asarray(is_end, dtype=bool)
    k, e = int((~is_end).sum()), int(is_end.sum())
    if k == 0 or e == 0:
        raise ValueError("compare: needs at least one intermediate point and one end")
    inter, ends = np.flatnonzero(~is_end), np.flatnonzero(is_end)
    vm, tm = val.mean(-1), test.mean(-1)
    i_star, e_star = vm[..., inter].argmax(-1), vm[..., ends].argmax(-1)
    var, df, pooled = contrast_variance(test, image_var)
    diff = tm[..., :, None] - tm[..., None, :]  # [p, q]: mean of p minus mean of q
    row = lambda a, idx: np.take_along_axis(a, idx[..., None, None], -2)[..., 0, :]  # noqa: E731
    col = lambda a, idx: np.take_along_axis(a, idx[..., None, None], -1)[..., 0]  # noqa: E731
    gi, ge = inter[i_star], ends[e_star]
    lo = [row(a, gi)[..., ends] for a in (diff, var, df)]  # the chosen intermediate minus every end
    hi = [col(a, ge)[..., inter] for a in (diff, var, df)]  # every intermediate minus the chosen end
    low, eq_low = _bounds(*lo, alpha, k, -1)
    high, eq_high = _bounds(*hi, alpha, e, +1)
    n = test.shape[-1]
    pair = [_take(row(a, gi), ge) for a in (diff, var, df)]
    used = np.concatenate([row(pooled, gi)[..., ends], col(pooled, ge)[..., inter]], -1).mean(-1)
    return Comparison(i_star, e_star, pair[0], low, high, eq_low, eq_high, np.sqrt(pair[1] * n / 2), pair[2],
                      classify(low, high, eq_low, eq_high, margin), used)


# -------------------------------------------------------------------------------------------------
# each contrast's variance: seeds (paired, pooled where the spreads agree) plus test images


def pool_gamma(n: int) -> float:
    """The F test's level at n seeds: a pair pools unless its own variance exceeds the other points' at
    this level; liberal where the test has few degrees of freedom (measured in docs/STATISTICS.md)."""
    return 0.25 if n < 5 else 0.1 if n < 8 else 0.05



POOL_MIN_POINTS, POOL_MIN_SEEDS = 4, 3  # fewer points: no others to test against; fewer seeds: no test


def _gram(test: np.ndarray):
    """Row-centred accuracies' sums of squares and cross products over seeds: (a_p, G_pq, n)."""
    y = test - test.mean(-1, keepdims=True)
    g = np.einsum("...ps,...qs->...pq", y, y)
    return np.diagonal(g, 0, -2, -1), g, test.shape[-1]


def contrast_variance(test, image_var=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of points (..., P, P): the variance of the difference of their test means, its degrees of
    freedom, and whether the seed part was pooled.

    Seed part: the pair's own paired variance (n - 1 df), or the pooled two-way seed x point residual
    variance ((P-1)(n-1) df) where the pair's own variance does not exceed that of the other P - 2 points
    (an F test at level `pool_gamma(n)`): pool where the spreads agree. Under 3 seeds or 4 points: own only. Image part (`image_var`): added, its
    degrees of freedom taken as unlimited (thousands of images); df by Welch-Satterthwaite.
    """
    test = np.asarray(test, dtype=float)
    p, n = test.shape[-2:]
    a, g, _ = _gram(test)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = (a[..., :, None] + a[..., None, :] - 2 * g) / (n - 1)  # paired variance of one difference
        pooled = np.zeros(own.shape, dtype=bool)
        var, df = own, np.full(own.shape, float(n - 1))
        if p >= POOL_MIN_POINTS and n >= POOL_MIN_SEEDS:
            col = test - test.mean(-2, keepdims=True)
            total = ((col - col.mean(-1, keepdims=True)) ** 2).sum((-2, -1))  # two-way residual SS
            s2 = total / ((p - 1) * (n - 1))
            rest = _rest_variance(a, g, n, p)
            f = stats.f.ppf(1 - pool_gamma(n), n - 1, (p - 3) * (n - 1))
            pooled = own <= f * 2 * rest
            var = np.where(pooled, 2 * s2[..., None, None], own)
            df = np.where(pooled, float((p - 1) * (n - 1)), df)
        var = var / n
        if image_var is not None:
            extra = np.maximum(np.asarray(image_var, dtype=float), 0.0)
            df = (var + extra) ** 2 / (var**2 / df)
            var = var + extra
    return var, df, pooled


def _rest_variance(a, g, n: int, p: int) -> np.ndarray:
    """Per pair (p, q): the two-way residual variance of the table without rows p and q."""
    total = a.sum(-1)[..., None, None]
    c = g.sum(-1)  # sum over r of G_rp
    big = g.sum((-2, -1))[..., None, None]  # sum over s of (sum of rows)^2
    cross = big - 2 * c[..., :, None] - 2 * c[..., None, :] + a[..., :, None] + a[..., None, :] + 2 * g
    ss = total - a[..., :, None] - a[..., None, :] - cross / (p - 2)
    return ss / ((p - 3) * (n - 1))


def image_variance(correct) -> np.ndarray:
    """Per pair of points (..., P, P): the test-image sampling variance of the difference of their mean
    test accuracies, beyond what the seeds already show: (MS_images - MS_residual) / (n m) of the pair's
    seed x image table of per-image differences (a two-way random-effects ANOVA), at least 0.
    `correct`: (..., P, n, m) per-image correctness (0/1), n seeds, m images, fractions out."""
    y = np.asarray(correct, dtype=np.float32)
    n, m = y.shape[-2:]
    acc = y.mean(-1, dtype=np.float64)  # (..., P, n)
    per_image = y.mean(-2, dtype=np.float64)  # (..., P, m)
    centred = per_image - per_image.mean(-1, keepdims=True)
    cov = centred @ np.swapaxes(centred, -1, -2)
    ms_images = n * (np.diagonal(cov, 0, -2, -1)[..., :, None] + np.diagonal(cov, 0, -2, -1)[..., None, :]
                     - 2 * cov) / (m - 1)
    flat = y.reshape(y.shape[:-2] + (n * m,))
    agree = (flat @ np.swapaxes(flat, -1, -2)).astype(np.float64)  # counts below 2**24: exact in float32
    hits = acc.sum(-1) * m
    ss_total = hits[..., :, None] + hits[..., None, :] - 2 * agree  # sum of squared per-image differences
    d = acc[..., :, None, :] - acc[..., None, :, :]
    grand = d.mean(-1)
    ss_total = ss_total - n * m * grand**2
    ss_seeds = m * ((d - grand[..., None]) ** 2).sum(-1)
    ss_res = ss_total - ss_seeds - (m - 1) * ms_images
    with np.errstate(invalid="ignore", divide="ignore"):
        ms_res = ss_res / ((n - 1) * (m - 1))
    return np.maximum(ms_images - ms_res, 0.0) / (n * m)


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
