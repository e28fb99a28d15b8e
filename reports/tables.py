"""The trials table (columns and headers from the trial record) and the failed-trials list, as
plain values for the page template: display text, a sort key and whether the cell is a number."""
from __future__ import annotations

import json
import math

import pandas as pd

from .meta import state_counts

__all__ = ["table_columns", "trials_table", "failed_trials"]


def table_columns() -> list[tuple[str, str, str]]:
    """(column, header, kind) of the trials table, from reports.record."""
    from records import record

    kinds = record.kinds()
    return [(col, label, kinds[col]) for col, label in record.table_columns()]


def _blank(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _cell(col: str, kind: str, v) -> tuple[str, str, bool]:
    if _blank(v):
        return "", "", False
    if kind == "float" and col.endswith("accuracy"):
        return f"{100 * v:.2f}", f"{v:.6g}", True
    if kind == "int":
        return (f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))), str(int(v)), True
    if kind == "float":
        return f"{v:.3g}", f"{v:.6g}", True
    if isinstance(v, (list, dict)):
        return json.dumps(v), "", False
    return str(v), "", False


def trials_table(df: pd.DataFrame) -> dict:
    """{'head': [...], 'rows': [{'state', 'cells': [(text, sort key, numeric)]}], 'states': [...]}."""
    missing = set(df.attrs.get("missing_columns", ()))
    cols = [(c, h, k) for c, h, k in table_columns() if c in df.columns and c not in missing]
    rows = [
        {"state": state, "cells": [_cell(c, k, v) for (c, _, k), v in zip(cols, values)]}
        for state, values in zip(df["state"], df[[c for c, _, _ in cols]].itertuples(index=False, name=None))
    ]
    for c in ("accuracy", "test_accuracy"):  # the header says the unit of a cell shown in %
        cols = [(col, f"{h} (%)" if col == c else h, k) for col, h, k in cols]
    return {
        "head": [h for _, h, _ in cols],
        "rows": rows,
        "states": [s for s, n in state_counts(df).items() if n],
    }


def failed_trials(df: pd.DataFrame) -> list[dict]:
    f = df[df["state"] == "FAIL"]
    return [
        {"number": n, "position": pos, "seed": "" if _blank(seed) else seed, "reason": r}
        for n, pos, seed, r in zip(f["number"], f["position"], f["seed"], f["fail_reason"])
    ]
