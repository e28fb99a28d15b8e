"""One pre-specified contrast of points (a difference of two, or a difference of differences of four),
tested on seed-paired accuracies, and the variance-only rule that leaves a budget descriptive.

Arrays hold accuracies of shape ``(..., points, seeds)`` in points; leading axes (simulated studies) are
computed at once, so the verdict's claims and the simulation tests share this one core
(docs/STATISTICS.md, "Claims of the other questions" and "Descriptive budgets").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stats import LOOKS, POOL_MIN_POINTS, POWER, _critical, _noncentrality, classify, critical

__all__ = ["Contrast", "contrast_test", "contrast_image_variance", "residual_sd", "projected_mde",
           "detectable_se", "pooled_df", "cannot_settle", "seeds_needed", "DESCRIPTIVE_FACTOR", "MOST_SEEDS"]

DESCRIPTIVE_FACTOR = 3.0  # descriptive: the detectable difference projected at the seed cap exceeds 3 margins
MOST_SEEDS = LOOKS[-1]  # the largest planned look: beyond it, more seeds are no answer


@dataclass(frozen=True)
class Contrast:
    """A contrast's estimate (`difference`, the weighted sum of point means), its two-sided interval at
    level alpha (`low`, `high`), TOST bounds at alpha (`eq_low`, `eq_high`), standard error and df, and
    the outcome code (stats.OUTCOMES order: positive, negative, within the margin, not resolved)."""

    difference: np.ndarray
    low: np.ndarray
    high: np.ndarray
    eq_low: np.ndarray
    eq_high: np.ndarray
    se: np.ndarray
    df: np.ndarray
    outcome: np.ndarray


def contrast_test(test, weights, *, alpha: float, margin: float, image_var=None) -> Contrast:
    """Test sum_p weights[p] * mu[p] on `test` (..., P, n): each seed's contrast d_s, its mean, its own
    variance over seeds (n - 1 df; no pooling), plus `image_var` (...,) the test images' sampling
    variance of the mean where given (df by Welch-Satterthwaite, the image part's taken as unlimited)."""
    d = np.tensordot(np.asarray(test, dtype=float), np.asarray(weights, dtype=float), axes=([-2], [0]))
    n = d.shape[-1]
    diff = d.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = d.var(-1, ddof=1) / n if n > 1 else np.full(diff.shape, np.nan)
        df = np.full(diff.shape, float(n - 1))
        if image_var is not None:
            extra = np.maximum(np.asarray(image_var, dtype=float), 0.0)
            df = (var + extra) ** 2 / (var**2 / df)
            var = var + extra
        se = np.sqrt(var)
        half = _critical(alpha / 2, 1, df) * se
        eq = _critical(alpha, 1, df) * se
    low, high, eq_low, eq_high = diff - half, diff + half, diff - eq, diff + eq
    return Contrast(diff, low, high, eq_low, eq_high, se, df, classify(low, high, eq_low, eq_high, margin))


def contrast_image_variance(correct, weights) -> np.ndarray:
    """The test images' sampling variance of a contrast's mean beyond what its seeds show, fractions^2:
    (MS_images - MS_residual) / (n m) of the seed x image table of per-image contrasts (two-way
    random-effects ANOVA), at least 0. `correct`: (..., P, n, m) per-image correctness (0/1)."""
    y = np.tensordot(np.asarray(correct, dtype=np.float32), np.asarray(weights, dtype=np.float32), axes=([-3], [0]))
    n, m = y.shape[-2:]
    grand = y.mean((-2, -1), dtype=np.float64)
    seeds = y.mean(-1, dtype=np.float64)
    images = y.mean(-2, dtype=np.float64)
    ms_images = n * ((images - grand[..., None]) ** 2).sum(-1) / (m - 1)
    ss_total = (y.astype(np.float64) ** 2).sum((-2, -1)) - n * m * grand**2
    ss_seeds = m * ((seeds - grand[..., None]) ** 2).sum(-1)
    ms_res = (ss_total - ss_seeds - (m - 1) * ms_images) / ((n - 1) * (m - 1))
    return np.maximum(ms_images - ms_res, 0.0) / (n * m)


def residual_sd(test, trained=None) -> np.ndarray:
    """One model's seed spread from the point x seed residuals (..., P, n): means removed, so it says
    nothing about the effects (the two-way residual standard deviation, (P - 1)(k - 1) df). `trained`
    (same shape, True where the run trained): only the k seeds every point trained with count, so a
    diverged run (an outcome scored 0) is not read as spread; NaN where fewer than 2 such seeds remain."""
    test = np.asarray(test, dtype=float)
    p, n = test.shape[-2:]
    keep = np.ones(test.shape[:-2] + (1, n)) if trained is None else np.asarray(trained, bool).all(-2, keepdims=True)
    k = keep.sum(-1)[..., 0]
    if p < 2 or n < 2:
        return np.full(test.shape[:-2], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(keep, test, 0.0)
        rows = x.sum(-1, keepdims=True) / keep.sum(-1, keepdims=True)
        cols = x.mean(-2, keepdims=True)
        grand = rows.mean(-2, keepdims=True)
        r = np.where(keep, test - rows - cols + grand, 0.0)
        sd = np.sqrt((r**2).sum((-2, -1)) / ((p - 1) * (k - 1)))
    return np.where(k >= 2, sd, np.nan)


def detectable_se(se, df: float, alpha: float, m: int = 1, power: float = POWER):
    """The true contrast a one-sided bound at alpha/2 (Bonferroni over m) clears with `power`, given the
    contrast's standard error and degrees of freedom (NaN where df < 1)."""
    if not df >= 1:
        return np.full(np.shape(se), np.nan)
    c = critical(alpha / 2, m, int(df))
    return _noncentrality(round(c, 6), int(df), power) * np.asarray(se, dtype=float)


def pooled_df(points: int, seeds: int) -> int:
    """The degrees of freedom a contrast's seed variance has at this table size: the pooled two-way
    residual's where there are other points to pool with (stats.POOL_MIN_POINTS), else its own seeds - 1."""
    return (points - 1) * (seeds - 1) if points >= POOL_MIN_POINTS else seeds - 1


def projected_mde(sd, seeds: int, alpha: float, m: int = 1, power: float = POWER, points: int = 2):
    """The difference a seed-paired contrast of two points, each with spread `sd`, detects with `power`
    at `seeds` seeds (df: `pooled_df(points, seeds)`), level alpha two-sided, Bonferroni over m."""
    sd = np.asarray(sd, dtype=float)
    return detectable_se(sd * np.sqrt(2.0 / max(seeds, 1)), pooled_df(points, seeds), alpha, m, power)


def cannot_settle(first, cap: int, alpha: float, m: int, margin: float, trained=None) -> np.ndarray:
    """The descriptive rule on first-look point x seed tables (..., P, n0), in points: does the spread
    alone (`residual_sd`, of the runs that trained where `trained` is given) project a detectable difference
    above DESCRIPTIVE_FACTOR margins at `cap` seeds? NaN spreads (under two seeds or points) never do."""
    projected = projected_mde(residual_sd(first, trained), cap, alpha, m, points=np.shape(first)[-2])
    with np.errstate(invalid="ignore"):
        return np.asarray(projected > DESCRIPTIVE_FACTOR * margin)


def seeds_needed(sd: float, alpha: float, margin: float, m: int = 1, points: int = 2, most: int = 1000) -> int | None:
    """The fewest seeds at which `projected_mde` is at most the margin (None: more than `most`)."""
    if not (np.isfinite(sd) and sd >= 0):
        return None
    lo, hi = 2, most
    if projected_mde(sd, hi, alpha, m, points=points) > margin:
        return None
    while lo < hi:  # the projected MDE falls with the seed count
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if projected_mde(sd, mid, alpha, m, points=points) > margin else (lo, mid)
    return lo
