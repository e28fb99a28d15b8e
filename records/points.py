"""The one points layer. A *point* is one network of the spectrum: the record's identifying fields but the
seed (its trials are that network's runs, one per seed). `annotate` gives each trial of the tidy frame its
point, label and region; `points_table` aggregates the runs of each point once, and the verdict, the
figures, the front and the tables all read that table.

Words kept apart: a *run* is one trial; an *outcome* is a run that completed or diverged (a diverged run
scores DIVERGED on every split: its model is unusable); *validation mean* is over the completed runs;
*claimed mean* is the test accuracy (validation where none was stored) over the outcomes; *seeds* are
the distinct seeds among the outcomes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from common.vocabulary import ENDS

from . import record

__all__ = ["DIVERGED", "REGIONS", "annotate", "outcomes", "points_table", "region", "TABLE_COLUMNS"]

DIVERGED = 0.0  # the accuracy (fraction) a diverged run scores: every image wrong
REGIONS = ("regular", "intermediate", "depthwise")
# identifying fields a label names (after the position) when they vary among the points of one budget
# (widths are not named: a budget matches each position to its own widths)
LABEL_AXES = ("order", "activation", "kernel_size", "intermediate_norm", "base_width", "match", "net")
IDENTITY = ["point", "point_label", "region", "position", "segments", "base_width", "group_width", "budget_label",
            "order", "activation", "kernel_size", "intermediate_norm", "variant"]
TABLE_COLUMNS = [*IDENTITY, "n_runs", "n_seeds", "n_diverged", "validation_accuracies", "validation_mean",
                 "validation_sd", "test_mean", "claimed_mean", "params", "macs", "latency_ms"]


def region(segments: pd.Series, base_width: pd.Series, position: pd.Series | None = None) -> pd.Series:
    """regular (1 segment), depthwise (segments = base width), intermediate, or unknown; a position that
    names an end ("regular", "depthwise") is that end."""
    seg, base = segments.astype("Float64"), base_width.astype("Float64")
    named = (pd.Series("", index=segments.index) if position is None else position.astype(str)).to_numpy()
    conditions = [named == ENDS[0], named == ENDS[1], (seg == 1).fillna(False).to_numpy(bool),
                  (seg == base).fillna(False).to_numpy(bool), (seg > 1).fillna(False).to_numpy(bool) & base.notna().to_numpy()]
    return pd.Series(np.select(conditions, [ENDS[0], ENDS[1], ENDS[0], ENDS[1], "intermediate"], default="unknown"),
                     index=segments.index, dtype=str)


def _key(trials: pd.DataFrame) -> pd.Series:
    parts = [trials[k].astype("string").fillna("").astype(str) for k in record.point_keys()]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key


def _axis_text(values: pd.Series, axis: str) -> pd.Series:
    if axis == "kernel_size":
        return "k" + values.astype("string").fillna("?").astype(str)
    if axis == "intermediate_norm":
        return values.map({True: "norm", False: "no norm"}).astype("string").fillna("?").astype(str)
    if axis == "base_width":
        return "width " + values.astype("string").fillna("?").astype(str)
    return values.astype("string").fillna("?").astype(str)


def _label(trials: pd.DataFrame) -> pd.Series:
    """Position, then each identifying field that varies among the points of some budget
    ('segments=4 · relu'): unique per point within a budget; the budget itself is a column of its own."""
    position = trials["position"].astype(str)
    label = position.where(position != "", "segments=" + trials["segments"].astype("Int64").astype(str))
    for axis in LABEL_AXES:
        if axis in trials and trials.groupby("budget_label")[axis].nunique(dropna=True).max() > 1:
            label = label + " · " + _axis_text(trials[axis], axis)
    return label


def annotate(tidy: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame's per-trial point columns: `point` (key), `point_label`, `region`, `is_end`, `variant`."""
    out = tidy.assign(point=_key(tidy), region=region(tidy["segments"], tidy["base_width"], tidy["position"]))
    out["is_end"] = out["region"].isin(ENDS)
    out["variant"] = (out["order"].where(out["order"] != "", "?") + " / "
                      + out["activation"].where(out["activation"] != "", "?"))
    out["point_label"] = _label(out)
    return out


def outcomes(tidy: pd.DataFrame) -> pd.DataFrame:
    """The runs that are outcomes, with a seed: completed with an accuracy, and diverged runs (a FAIL marked
    `diverged`) scored DIVERGED on validation and test. Other failures are not outcomes."""
    diverged = (tidy["state"] == "FAIL") & tidy["diverged"].fillna(False).astype(bool)
    done = (tidy["state"] == "COMPLETE") & tidy["accuracy"].notna()
    out = tidy[(done | diverged) & tidy["seed"].notna()].copy()
    out["diverged"] = diverged[out.index].to_numpy(bool)
    out.loc[out["diverged"], ["accuracy", "test_accuracy"]] = DIVERGED
    return out


def points_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per point with an outcome: identity, runs, distinct seeds, diverged runs, the completed runs'
    validation accuracies (mean, sd), the test mean and the claimed mean over outcomes, mean costs."""
    runs = outcomes(tidy)
    if runs.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    trained = runs[~runs["diverged"]]
    g = runs.groupby("point", sort=False)
    val = trained.groupby("point", sort=False)["accuracy"]
    out = g[IDENTITY[1:]].first().assign(
        n_runs=g.size(), n_seeds=g["seed"].nunique(), n_diverged=g["diverged"].sum().astype(int),
        validation_accuracies=val.agg(lambda s: s.to_numpy(dtype=float)),
        validation_mean=val.mean(), validation_sd=val.std(), test_mean=g["test_accuracy"].mean(),
        params=g["params"].mean().astype("float64"), macs=g["macs"].mean().astype("float64"),
        latency_ms=trained.groupby("point", sort=False)["latency_ms"].mean())
    claimed = runs["test_accuracy"].where(runs["test_accuracy"].notna(), runs["accuracy"])
    out["claimed_mean"] = claimed.groupby(runs["point"], sort=False).mean()
    out["validation_accuracies"] = [a if isinstance(a, np.ndarray) else np.array([]) for a in out["validation_accuracies"]]
    return out.reset_index()[TABLE_COLUMNS]
