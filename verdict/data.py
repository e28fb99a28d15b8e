"""The verdict's data: trials (raw or tidy) -> one row per outcome with the point it belongs to, and the
complete point x seed blocks the comparisons use; the per-point means the front is drawn from."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .pareto import UNMATCHED
from .stats import LOOKS, plan

__all__ = ["prepare", "looks_from", "blocks", "cells", "correct_bits", "claimed", "point_means", "DIVERGED", "ENDS",
           "VARIANTS", "text_column"]

DIVERGED = 0.0  # the accuracy (fraction) a diverged run scores: its model is unusable, every image wrong
ENDS = ("regular", "depthwise")
VARIANTS = ("order", "activation", "kernel_size", "intermediate_norm")  # identify a point besides its position

# -------------------------------------------------------------------------------------------------
# trials -> one row per completed trial, with the point it belongs to


def _column(trials: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    return trials[name] if name in trials.columns else pd.Series(default, index=trials.index)


def _numeric(trials: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(trials, name), errors="coerce").astype("float64")


def text_column(trials: pd.DataFrame, name: str) -> pd.Series:
    column = _column(trials, name, "")
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


def _flag(trials: pd.DataFrame, name: str) -> pd.Series:
    """A boolean column as stored (bool, 0/1, or text "True"/"true"); False where absent."""
    return text_column(trials, name).str.lower().isin(("true", "1", "1.0"))


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
    `diverged` true); budget_label, point (label), is_end, seed, accuracy, test_accuracy, macs, diverged, and the
    per-image `test_correct` / `test_size` when stored (raw or tidy input). Other failures are not outcomes."""
    state = text_column(trials, "state").str.upper() if "state" in trials.columns else pd.Series("COMPLETE", trials.index)
    diverged = (state == "FAIL") & _flag(trials, "diverged")
    c = pd.DataFrame({
        "budget_label": text_column(trials, "budget_label").replace("", UNMATCHED),
        "position": text_column(trials, "position"),
        **{k: _numeric(trials, col) for k, col in (("segments", "segments"), ("base_width", "base_width"),
           ("seed", "seed"), ("accuracy", "accuracy"), ("test_accuracy", "test_accuracy"), ("macs", "macs"))},
        **{v: text_column(trials, v) for v in (*VARIANTS, "space") if v in trials.columns},
        "diverged": diverged,
    })
    for name in ("test_correct", "test_size"):
        if name in trials.columns:
            c[name] = text_column(trials, name) if name == "test_correct" else _numeric(trials, name)
    if "point" in trials.columns:  # tidy's point key, so the page can find the front's points
        c["key"] = trials["point"].astype(str)
    c.loc[diverged, ["accuracy", "test_accuracy"]] = DIVERGED
    c = c[((state == "COMPLETE") & c["accuracy"].notna() | diverged) & c["seed"].notna()]
    variants = [v for v in VARIANTS if v in c.columns and c[v].nunique() > 1]
    c["point"], c["is_end"] = _points(c, variants)
    return c


def looks_from(trials: pd.DataFrame) -> tuple[int, ...] | None:
    """The looks a study's seed plan paid for: every trial "fixed" -> None (one look), every trial
    "auto:N" with one N -> plan(N); absent, unreadable or differing plans -> the conservative LOOKS."""
    plans = set(text_column(trials, "seed_plan").str.lower()) if len(trials) else {""}
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


def blocks(g: pd.DataFrame):
    """Point labels, is_end, (val, test) point x seed tables of complete blocks (see `_complete`), and
    the row of `g` behind each kept cell (the last one, where a seed ran twice)."""
    rows, labels = pd.factorize(g["point"], sort=True)
    cols, _ = pd.factorize(g["seed"], sort=True)
    shape = (len(labels), int(cols.max()) + 1)
    val, test = _table(rows, cols, g["accuracy"].to_numpy(), shape), _table(rows, cols, g["claim"].to_numpy(), shape)
    keep, full = _complete(np.isfinite(val) & np.isfinite(test))
    is_end = np.zeros(len(labels), dtype=bool)
    is_end[rows] = g["is_end"].to_numpy(bool)
    where = np.full(shape, -1)
    where[rows, cols] = np.arange(len(g))
    return (np.asarray(labels)[keep], is_end[keep], val[keep][:, full], test[keep][:, full],
            where[keep][:, full])


def cells(g: pd.DataFrame, labels) -> tuple[np.ndarray, np.ndarray]:
    """The claimed accuracies of the points `labels` (in that order) over the seeds every one of them
    completed, (points, seeds), and the row of `g` behind each cell (the last one, where a seed ran twice)."""
    sub = np.flatnonzero(g["point"].isin(labels).to_numpy())
    rows = pd.Index(list(labels)).get_indexer(g["point"].to_numpy()[sub])
    cols, _ = pd.factorize(g["seed"].to_numpy()[sub], sort=True)
    shape = (len(labels), int(cols.max()) + 1 if len(cols) else 0)
    where = np.full(shape, -1)
    where[rows, cols] = sub
    full = (where >= 0).all(0)
    return g["claim"].to_numpy(float)[where[:, full]], where[:, full]


def correct_bits(g: pd.DataFrame, where: np.ndarray) -> np.ndarray | None:
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


def claimed(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Claim on test when the budget's trials stored it (rows without it are left out), else validation."""
    if g["test_accuracy"].notna().any():
        return g[g["test_accuracy"].notna()].assign(claim=g["test_accuracy"]), "test"
    return g.assign(claim=g["accuracy"]), "validation (no test accuracy was stored)"

# -------------------------------------------------------------------------------------------------
# the front


def _means(codes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean of the finite values of `x` per code (NaN where none)."""
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        return np.bincount(codes[ok], x[ok], codes.max() + 1) / np.bincount(codes[ok], None, codes.max() + 1)


def point_means(c: pd.DataFrame) -> pd.DataFrame:
    """One row per point: mean test (else validation) accuracy and validation accuracy in points, MACs, seeds."""
    codes, _ = pd.factorize(c["budget_label"] + "\x1f" + c["point"], sort=True)
    first = np.unique(codes, return_index=True)[1]
    out = c.iloc[first][["budget_label", "point", "position", "is_end", *(["key"] if "key" in c else [])]]
    out = out.rename(columns={"point": "label", "key": "point"}).reset_index(drop=True)
    test, val = 100 * _means(codes, c["test_accuracy"].to_numpy()), 100 * _means(codes, c["accuracy"].to_numpy())
    out["accuracy"], out["validation"] = np.where(np.isfinite(test), test, val), val
    out["macs"] = _means(codes, c["macs"].to_numpy())
    out["n_seeds"] = np.bincount(codes[np.unique(np.c_[codes, c["seed"]], axis=0, return_index=True)[1]])
    out["n_diverged"] = np.bincount(codes, c["diverged"].to_numpy(float), codes.max() + 1).astype(int)
    out["region"] = np.where(out["is_end"], out["position"].where(out["position"].isin(ENDS), "end"), "intermediate")
    return out.drop(columns="is_end")

