"""One pre-specified contrast of points (a difference of two, or a difference of differences of four),
tested on seed-paired accuracies, and the variance-only rule that leaves a budget descriptive.

Arrays hold accuracies of shape ``(..., points, seeds)`` in points; leading axes (simulated studies) are
computed at once, so the verdict's claims and the simulation tests share this one core
(docs/STATISTICS.md, "Claims of the other questions" and "Descriptive budgets").
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .stats import LOOKS, POOL_MIN_POINTS, POWER, _critical, _noncentrality, classify, critical

__all__ = ["Contrast", "contrast_test", "variance_form", "contrast_image_variance", "residual_sd", "projected_mde",
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


def variance_form(weights) -> np.ndarray:
    """The P x P matrix A with which a contrast's seed variance is tr(A S) / n, S the points' sample
    covariance over seeds: the heteroscedastic two-way (point x seed) model, seed effects shared alike.

    A = diag(w^2) - k (J - I), k = sum(w^2) / (P (P - 1)): each point's own variance less the mean
    covariance of same-seed runs of different points. Unbiased whatever each point's spread when those
    covariances are alike (a seed effect shared by every point); for two points it is the paired variance
    w w'. Where A would not be positive semi-definite (weights of unequal sizes), the paired form w w'."""
    w = np.asarray(weights, dtype=float)
    p = len(w)
    if p < 3:
        return np.outer(w, w)
    k = float((w**2).sum()) / (p * (p - 1))
    a = np.diag(w**2) - k * (np.ones((p, p)) - np.eye(p))
    return a if np.linalg.eigvalsh(a).min() >= -1e-12 * float((w**2).max()) else np.outer(w, w)


def contrast_test(test, weights, *, alpha: float, margin: float, image_var=None) -> Contrast:
    """Test sum_p weights[p] * mu[p] on `test` (..., P, n), seed-paired columns.

    Seed part: tr(A S) / n with A = `variance_form(weights)`: each point's own seed variance, less the
    covariance a shared seed effect puts between same-seed runs (for two points: the paired variance,
    n - 1 df, exact). Degrees of freedom: Satterthwaite's for that quadratic form,
    (n - 1) tr(A S)^2 / tr(A S A S), between n - 1 (one point's spread dominates) and (P - 1)(n - 1)
    (equal spreads). Plus `image_var` (...,) the test images' sampling variance of the mean where given
    (df by Welch-Satterthwaite, the image part's taken as unlimited)."""
    x = np.asarray(test, dtype=float)
    w = np.asarray(weights, dtype=float)
    n = x.shape[-1]
    diff = np.tensordot(x, w, axes=([-2], [0])).mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if n > 1:
            y = x - x.mean(-1, keepdims=True)
            a_s = variance_form(w) @ (np.einsum("...ps,...qs->...pq", y, y) / (n - 1))
            tr = np.trace(a_s, axis1=-2, axis2=-1)
            var = np.maximum(tr, 0.0) / n
            df = (n - 1) * tr**2 / np.einsum("...ij,...ji->...", a_s, a_s)
        else:
            var = df = np.full(diff.shape, np.nan)
        if image_var is not None:
            extra = np.maximum(np.asarray(image_var, dtype=float), 0.0)
            df = (var + extra) ** 2 / (var**2 / df)
            var = var + extra
        se = np.sqrt(var)
        half = _critical(alpha / 2, 1, df) * se
        eq = _critical(alpha, 1, df) * se
    low, high, eq_low, eq_high = diff - half, diff + half, diff - eq, diff + eq
    return Contrast(diff, low, high, eq_low, eq_high, se, df, classify(low, high, eq_low, eq_high, margin))


def possible_range(weights, scale: float = 100.0) -> tuple[float, float]:
    """The values sum_p weights[p] * mu[p] can take with every accuracy mu[p] in [0, scale]."""
    w = np.asarray(weights, dtype=float)
    return scale * float(w[w < 0].sum()), scale * float(w[w > 0].sum())


def within_range(c, weights, scale: float = 100.0):
    """`c` (a Contrast or a stats.Comparison, in points) with its bounds cut to `possible_range`: the true
    value always lies there, so coverage is kept, and an interval at two seeds (t with 1 df) reads -100 to
    +59 points, not -809 to +59."""
    lo, hi = possible_range(weights, scale)
    return replace(c, **{k: np.clip(getattr(c, k), lo, hi) for k in ("low", "high", "eq_low", "eq_high")})


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
    nothing about the effects (the two-way residual standard deviation, (P - 1)(n - 1) df).

    `trained` (the table's shape, True where the run trained): the spread of the runs that trained only,
    a diverged run being an outcome, not spread: the least-squares two-way (point + seed) fit on the
    trained cells, its residual sum of squares over N - P' - rank df (N trained runs, P' points with one,
    rank: the seed effects the pattern identifies); the same as above when every run trained. NaN below
    one df."""
    test = np.asarray(test, dtype=float)
    p, n = test.shape[-2:]
    if trained is None or np.all(trained):
        if p < 2 or n < 2:
            return np.full(test.shape[:-2], np.nan)
        r = test - test.mean(-1, keepdims=True) - test.mean(-2, keepdims=True) + test.mean((-2, -1), keepdims=True)
        return np.sqrt((r**2).sum((-2, -1)) / ((p - 1) * (n - 1)))
    ss, df = _masked_two_way(test, np.broadcast_to(np.asarray(trained, dtype=bool), test.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(df >= 1, np.sqrt(np.maximum(ss, 0.0) / np.maximum(df, 1)), np.nan)


def _masked_two_way(test: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual sum of squares and df of the additive point + seed fit on the cells where `mask` holds
    (intra-block analysis, points as blocks: within-point SS less the seed SS adjusted for points)."""
    w = mask.astype(float)
    y = np.where(mask, test, 0.0)
    rows = w.sum(-1)  # runs per point
    inv = np.where(rows > 0, 1.0 / np.maximum(rows, 1.0), 0.0)
    rowsum = y.sum(-1)
    within = (y**2).sum((-2, -1)) - (rowsum**2 * inv).sum(-1)
    c = -np.einsum("...ps,...p,...pt->...st", w, inv, w)  # reduced normal equations for the seed effects
    seed = np.arange(w.shape[-1])
    c[..., seed, seed] += w.sum(-2)
    q = y.sum(-2) - np.einsum("...ps,...p->...s", w, rowsum * inv)
    vals, vecs = np.linalg.eigh(c)
    keep = vals > 1e-9 * np.maximum(vals.max(-1, keepdims=True), 1e-300)
    proj = np.einsum("...sk,...s->...k", vecs, q)
    seeds = (np.where(keep, proj**2 / np.where(keep, vals, 1.0), 0.0)).sum(-1)
    df = w.sum((-2, -1)) - (rows > 0).sum(-1) - keep.sum(-1)
    return within - seeds, df


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


def projected_mde(sd, seeds: int, alpha: float, m: int = 1, power: float = POWER, points: int = 2,
                  image_se: float = 0.0):
    """The difference a seed-paired contrast of two points, each with spread `sd`, detects with `power`
    at `seeds` seeds (df: `pooled_df(points, seeds)`), level alpha two-sided, Bonferroni over m; `image_se`:
    the test images' part of its standard error, which more seeds do not shrink."""
    sd = np.asarray(sd, dtype=float)
    se = np.hypot(sd * np.sqrt(2.0 / max(seeds, 1)), image_se)
    return detectable_se(se, pooled_df(points, seeds), alpha, m, power)


def cannot_settle(first, cap: int, alpha: float, m: int, margin: float, trained=None) -> np.ndarray:
    """The descriptive rule on first-look point x seed tables (..., P, n0), in points: does the spread
    alone (`residual_sd`, of the runs that trained where `trained` says which) project a detectable
    difference above DESCRIPTIVE_FACTOR margins at `cap` seeds? NaN spreads (under one df) never do."""
    projected = projected_mde(residual_sd(first, trained), cap, alpha, m, points=np.shape(first)[-2])
    with np.errstate(invalid="ignore"):
        return np.asarray(projected > DESCRIPTIVE_FACTOR * margin)


def seeds_needed(sd: float, alpha: float, margin: float, m: int = 1, points: int = 2, most: int = 1000,
                 image_se: float = 0.0) -> int | None:
    """The fewest seeds at which `projected_mde` is at most the margin (None: more than `most`, or never:
    the test images' part alone too wide)."""
    if not (np.isfinite(sd) and sd >= 0):
        return None

    def too_wide(n: int) -> bool:
        return projected_mde(sd, n, alpha, m, points=points, image_se=image_se) > margin

    lo, hi = 2, most
    if too_wide(hi):
        return None
    while lo < hi:  # the projected MDE falls with the seed count
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if too_wide(mid) else (lo, mid)
    return lo
