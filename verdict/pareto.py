"""The Pareto front of accuracy against cost, without matching slack.

Points matched to one budget cost the same by design (within the matcher's few percent), so each
budget is one cost: the budget's median MACs. The front runs across budgets (and, for unmatched points,
across their own measured MACs); within one budget only its most accurate point can be on it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pareto_mask", "pareto_front", "budget_costs", "UNMATCHED"]

UNMATCHED = "unmatched"


def pareto_mask(x, y) -> np.ndarray:
    """Non-dominated points when minimising `x` and maximising `y`; NaNs never, exact ties both."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mask = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if idx.size == 0:
        return mask
    order = idx[np.lexsort((-y[idx], x[idx]))]  # cost ascending, then accuracy descending
    xs, ys = x[order], y[order]
    start = np.maximum.accumulate(np.where(np.r_[True, xs[1:] != xs[:-1]], np.arange(len(xs)), 0))
    before = np.r_[-np.inf, np.maximum.accumulate(ys)][start]  # the best accuracy at a strictly lower cost
    mask[order] = (ys > before) & (ys == ys[start])  # ys[start]: the best accuracy at this very cost
    return mask


def budget_costs(points: pd.DataFrame) -> pd.Series:
    """Each point's cost on the front: its budget's median MACs, or its own MACs when unmatched."""
    median = points.groupby("budget_label", sort=False)["macs"].transform("median")
    return points["macs"].where(points["budget_label"] == UNMATCHED, median)


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """The front rows of `points` (one row per point: budget_label, macs, accuracy, position, ...) with
    their `cost`, cheapest first."""
    if points.empty:
        return points.assign(cost=pd.Series(dtype=float))
    p = points.assign(cost=budget_costs(points))
    front = p[pareto_mask(p["cost"], p["accuracy"])]
    return front.sort_values(["cost", "position"], kind="stable").reset_index(drop=True)
