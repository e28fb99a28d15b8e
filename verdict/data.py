"""The verdict's data: a tidy trials frame -> one row per outcome with the point it belongs to, and the
complete point x seed blocks the comparisons use."""
from __future__ import annotations

import numpy as np
import pandas as pd

from records.points import DIVERGED, outcomes

from .pareto import UNMATCHED
from .stats import LOOKS, plan

__all__ = ["prepare", "looks_from", "at_look", "blocks", "cells", "correct_bits", "claimed", "DIVERGED", "VARIANTS"]

VARIANTS = ("order", "activation", "kernel_size", "intermediate_norm")  # identify a point besides its position

# -------------------------------------------------------------------------------------------------
# trials -> one row per outcome, with the point it belongs to


def prepare(trials: pd.DataFrame) -> pd.DataFrame:
    """The outcomes of a tidy trials frame (records.points.outcomes: completed runs, and diverged
    ones scored DIVERGED), each with its `point` key, `point_label`, `is_end`, and its budget ("unmatched"
    where none was stored); the variants as text, for the claims' subjects."""
    c = outcomes(trials)
    c["budget_label"] = c["budget_label"].replace("", UNMATCHED)
    for v in VARIANTS:
        c[v] = c[v].astype("string").fillna("").astype(str)
    return c


def looks_from(trials: pd.DataFrame, unknown: tuple[int, ...] | None = LOOKS) -> tuple[int, ...] | None:
    """The looks a study's seed plan paid for: every trial "fixed" -> None (one look), every trial
    "auto:N" with one N -> plan(N), "looks:A,B,..." -> those counts (trials that recorded none yet, such as
    runs still waiting in the queue, aside); absent, unreadable or differing plans -> `unknown` (by default
    the conservative LOOKS, for the alpha split)."""
    column = trials["seed_plan"] if "seed_plan" in trials.columns else pd.Series("", index=trials.index)
    plans = set(column.astype("string").fillna("").astype(str).str.strip().str.lower()) if len(trials) else {""}
    plans = plans - {""} or {""}
    if plans == {"fixed"}:
        return None
    p = plans.pop() if len(plans) == 1 else ""
    if p.startswith("auto:") and p[5:].isdigit() and int(p[5:]) >= 1:
        return plan(int(p[5:]))
    counts = p[6:].split(",") if p.startswith("looks:") else []
    if counts and all(k.isdigit() and int(k) >= 2 for k in counts) and sorted(set(map(int, counts))) == list(map(int, counts)):
        return tuple(map(int, counts))
    return unknown


# -------------------------------------------------------------------------------------------------
# one budget


def _table(rows: np.ndarray, cols: np.ndarray, x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The mean of `x` in each (row, col) cell; NaN where a cell is empty."""
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, (rows, cols), x)
    np.add.at(count, (rows, cols), 1)
    with np.errstate(invalid="ignore"):
        return total / count


def at_look(n: int, looks: tuple[int, ...] | None) -> int:
    """The seeds a comparison reads when `n` seeds are shared by its points: the largest planned look at most
    n (so every claim is made at a look the alpha was split over), all n with one look (None) or before the
    first."""
    if not looks:
        return n
    return max((k for k in looks if k <= n), default=n)


def _first_columns(cols: np.ndarray, looks) -> np.ndarray:
    """`cols` (a seed mask) cut to its first `at_look` seeds, in seed order."""
    keep = np.flatnonzero(cols)[:at_look(int(cols.sum()), looks)]
    out = np.zeros_like(cols)
    out[keep] = True
    return out


def _complete(have: np.ndarray, looks=None) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns to keep so that every kept cell is filled. Under planned looks, every point that reached
    the first look stays and the seeds are those all of them share, cut to a planned look (seeds added to some
    points only never change which points a budget compares). Otherwise (or when too few points reached it),
    greedily leave out the point (row) or seed (column) that removes the most empty cells per filled cell lost
    (a seed on ties)."""
    if looks:
        rows = have.sum(1) >= looks[0]
        cols = have[rows].all(0) if rows.any() else np.zeros(have.shape[1], dtype=bool)
        if rows.sum() >= 2 and cols.sum() >= looks[0]:
            return rows, _first_columns(cols, looks)
    rows, cols = np.ones(have.shape[0], dtype=bool), np.ones(have.shape[1], dtype=bool)
    while rows.any() and cols.any() and not have[np.ix_(rows, cols)].all():
        h = have[np.ix_(rows, cols)]
        by_row = (~h).sum(1) / np.maximum(h.sum(1), 0.5)
        by_col = (~h).sum(0) / np.maximum(h.sum(0), 0.5)
        if by_row.max() > by_col.max():
            rows[np.flatnonzero(rows)[by_row.argmax()]] = False
        else:
            cols[np.flatnonzero(cols)[by_col.argmax()]] = False
    return rows, _first_columns(cols, looks)


def blocks(g: pd.DataFrame, looks: tuple[int, ...] | None = None):
    """Point keys, is_end, (val, test) point x seed tables of complete blocks (see `_complete`: under
    `looks`, at a planned look), and the row of `g` behind each kept cell (the last one, where a seed ran
    twice)."""
    rows, labels = pd.factorize(g["point"], sort=True)
    cols, _ = pd.factorize(g["seed"], sort=True)
    shape = (len(labels), int(cols.max()) + 1)
    val, test = _table(rows, cols, g["accuracy"].to_numpy(), shape), _table(rows, cols, g["claim"].to_numpy(), shape)
    keep, full = _complete(np.isfinite(val) & np.isfinite(test), looks)
    is_end = np.zeros(len(labels), dtype=bool)
    is_end[rows] = g["is_end"].to_numpy(bool)
    where = np.full(shape, -1)
    where[rows, cols] = np.arange(len(g))
    return (np.asarray(labels)[keep], is_end[keep], val[keep][:, full], test[keep][:, full],
            where[keep][:, full])


def cells(g: pd.DataFrame, labels, looks: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The claimed accuracies of the points `labels` (keys, in that order) over the seeds every one of them
    completed, cut to a planned look (`at_look`), (points, seeds), and the row of `g` behind each cell (the
    last one, where a seed ran twice)."""
    sub = np.flatnonzero(g["point"].isin(labels).to_numpy())
    rows = pd.Index(list(labels)).get_indexer(g["point"].to_numpy()[sub])
    cols, _ = pd.factorize(g["seed"].to_numpy()[sub], sort=True)
    shape = (len(labels), int(cols.max()) + 1 if len(cols) else 0)
    where = np.full(shape, -1)
    where[rows, cols] = sub
    full = _first_columns((where >= 0).all(0), looks)
    return g["claim"].to_numpy(float)[where[:, full]], where[:, full]


def correct_bits(g: pd.DataFrame, where: np.ndarray) -> np.ndarray | None:
    """The kept cells' per-image test correctness (points, seeds, images), a diverged run all wrong;
    None unless every kept run stored it for one test split of the same size."""
    if "test_correct" not in g.columns or where.size == 0:
        return None
    cells = g[[k for k in ("test_size", "test_correct", "diverged") if k in g.columns]].iloc[where.ravel()]
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


def claimed(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Claim on test when the budget's trials stored it (rows without it are left out), else validation."""
    if g["test_accuracy"].notna().any():
        return g[g["test_accuracy"].notna()].assign(claim=g["test_accuracy"]), "test"
    return g.assign(claim=g["accuracy"]), "validation (no test accuracy was stored)"
