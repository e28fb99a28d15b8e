"""Points of the spectrum: what identifies one (the record's identifying fields), its label and region,
and the one points table (a row per point, seeds averaged) that the figures and the front are drawn from."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import record

__all__ = ["ENDS", "REGIONS", "region", "point_key", "point_label", "points_table", "TABLE_COLUMNS"]

ENDS = ("regular", "depthwise")
REGIONS = ("regular", "intermediate", "depthwise")
# what a point's label adds to its position when that axis varies in the study
LABEL_AXES = ("order", "activation", "kernel_size", "intermediate_norm", "budget_label")
TABLE_COLUMNS = ["point", "point_label", "region", "position", "segments", "base_width", "group_width",
                 "budget_label", "order", "activation", "variant", "n_seeds", "accuracies", "accuracy",
                 "accuracy_sd", "test_accuracy", "params", "macs", "latency_ms", "n_diverged"]


def region(segments: pd.Series, base_width: pd.Series) -> pd.Series:
    """regular (1 segment), depthwise (segments = base width), intermediate, or unknown."""
    seg, base = segments.astype("Float64"), base_width.astype("Float64")
    known = base.notna().to_numpy()
    conditions = [(seg == 1).fillna(False).to_numpy(bool), (seg == base).fillna(False).to_numpy(bool),
                  (seg > 1).fillna(False).to_numpy(bool) & known]
    return pd.Series(np.select(conditions, ["regular", "depthwise", "intermediate"], default="unknown"),
                     index=segments.index, dtype=str)


def point_key(trials: pd.DataFrame) -> pd.Series:
    """The point a trial belongs to: its identifying fields joined (trials sharing it are seeds of one network)."""
    parts = [trials[k].astype("string").fillna("").astype(str) for k in record.point_keys()]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key


def _axis_text(trials: pd.DataFrame, axis: str) -> pd.Series:
    values = trials[axis]
    if axis == "kernel_size":
        return "k" + values.astype("string").fillna("?").astype(str)
    if axis == "intermediate_norm":
        return values.map({True: "norm", False: "no norm"}).astype("string").fillna("?").astype(str)
    return values.astype(str)


def point_label(trials: pd.DataFrame) -> pd.Series:
    """A short label per point: its position, then each axis that varies in the study
    ('segments=4 · relu · macs≈4.1M')."""
    label = trials["position"].astype(str)
    for axis in LABEL_AXES:
        if trials[axis].nunique(dropna=True) > 1:
            label = label + " · " + _axis_text(trials, axis)
    return label


def points_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per point of a tidy trials frame: its key, label, region and axes, the completed seeds'
    validation accuracies (and their mean and sd), the mean test accuracy and costs, and the diverged runs."""
    done = tidy[(tidy["state"] == "COMPLETE") & tidy["accuracy"].notna()]
    if done.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    g = done.groupby("point", sort=False, dropna=False)
    first = g[TABLE_COLUMNS[1:11]].first()
    means = g[["accuracy", "test_accuracy", "latency_ms"]].mean()
    diverged = tidy[tidy["diverged"].fillna(False).astype(bool)].groupby("point").size()
    out = first.join(means).assign(
        n_seeds=g["accuracy"].size(), accuracies=g["accuracy"].agg(lambda s: s.to_numpy(dtype=float)),
        accuracy_sd=g["accuracy"].std(), params=g["params"].mean().astype("float64"),
        macs=g["macs"].mean().astype("float64"),
        n_diverged=diverged.reindex(first.index).fillna(0).astype(int))
    return out.reset_index()[TABLE_COLUMNS]
