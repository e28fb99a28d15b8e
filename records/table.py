"""Study directory -> one tidy pandas DataFrame.

Pure functions, no plotting: this half of the report is tested without a browser.

`load_study_dir` reads what the study wrote (``trials.csv`` + ``config.json``); `tidy` types the
columns, parses the JSON list columns and adds the derived columns every figure and the verdict use
(``region``, ``error``, ``point``, ``variant``, ``spec``...). Record columns a frame lacks are added
empty and listed in ``df.attrs["missing_columns"]``, so a figure can say why it is absent.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from common.cli import UsageError
from common.vocabulary import si_count

from . import points, record

__all__ = [
    "columns",
    "STATES",
    "load_study_dir",
    "tidy",
    "completed",
    "missing_reason",
    "human_count",
]

STATES = ("COMPLETE", "FAIL", "RUNNING", "WAITING", "PRUNED")



def columns() -> dict[str, str]:
    """The tidy frame's record columns -> kind (trials.csv's scalars and the list fields), from the record."""
    return record.kinds()

# Read every cell as text first and convert column by column: "none" (an activation) and "None"
# must not silently become NaN, and a malformed number must not turn a whole column to object.
_NA_STRINGS = ["", "nan", "NaN", "NA", "<NA>", "null", "NULL", "N/A", "n/a"]


def load_study_dir(path) -> tuple[pd.DataFrame, dict]:
    """Read ``DIR/trials.csv`` (+ ``curves.csv``) and ``DIR/config.json``; return ``(raw DataFrame, config)``.

    The DataFrame is as written (text cells), with the list fields from curves.csv as list columns;
    pass it to `tidy`. Raises a UsageError naming the file when the directory or a file is missing or malformed.
    """
    d = Path(path)
    if not d.is_dir():
        raise UsageError(f"{d}: not a directory (expected a study directory holding trials.csv and config.json)")
    return attach_curves(read_trials_csv(d / "trials.csv"), d / "curves.csv"), read_config(d / "config.json")


def attach_curves(df: pd.DataFrame, path) -> pd.DataFrame:
    """The long side table of list fields (number, field, epoch, value) as one list column per field."""
    p = Path(path)
    if not p.is_file() or "number" not in df:
        return df
    long = pd.read_csv(p).sort_values(["field", "number", "epoch"])
    numbers = pd.to_numeric(df["number"], errors="coerce")
    for name, rows in long.groupby("field"):
        lists = rows.groupby("number")["value"].agg(list)
        df[name] = [lists.get(n) if n == n else None for n in numbers]
    return df


def write_trial_tables(frame: pd.DataFrame, folder) -> None:
    """A trials frame as a study writes it: trials.csv (the record's scalars, in record order) and curves.csv
    (its list fields, long: number, field, epoch from 1, value). `load_study_dir` reads them back."""
    folder = Path(folder)
    frame.reindex(columns=list(record.columns())).to_csv(folder / "trials.csv", index=False)
    rows = [(number, name, i + 1, v) for name in record.list_fields() if name in frame
            for number, values in zip(frame["number"], frame[name]) if isinstance(values, list)
            for i, v in enumerate(values)]
    pd.DataFrame(rows, columns=["number", "field", "epoch", "value"]).to_csv(folder / "curves.csv", index=False)


def read_trials_csv(path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: missing (expected the study's trials.csv, one row per trial)")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=_NA_STRINGS)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{p}: empty file (expected a header row and one row per trial)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise UsageError(f"{p}: malformed CSV ({msg})") from None
    known = [c for c in df.columns if c in record.names()]
    if not known:
        raise UsageError(
            f"{p}: none of the expected columns (number, state, segments, accuracy, macs, ...) in its header"
        )
    return df


def read_config(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: missing (expected the study's config.json)")
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: malformed JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"{p}: expected a JSON object, got {type(cfg).__name__}")
    return cfg


# --------------------------------------------------------------------------------------------
# tidy


def _to_int(s: pd.Series) -> pd.Series:
    x = pd.to_numeric(s, errors="coerce")
    x = x.where(np.isfinite(x.astype("float64")))
    # a float that is not integral (bad data) stays a float rather than being truncated
    frac = (x.dropna() % 1) != 0
    if frac.any():
        return x.astype("float64")
    return x.round().astype("Int64")


def _to_float(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _to_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("boolean")
    m = {"true": True, "1": True, "yes": True, "1.0": True, "false": False, "0": False, "no": False, "0.0": False}
    return s.map(lambda v: m.get(str(v).strip().lower()) if v is not None and v == v else None).astype("boolean")


def _to_str(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)).astype(str)


def _parse_list(v):
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    text = str(v).strip()
    if not text:
        return None
    try:
        out = json.loads(text)
    except json.JSONDecodeError:
        return None
    return out if isinstance(out, list) else None


def _to_datetime(s: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)
    except (ValueError, TypeError):
        return pd.to_datetime(s, errors="coerce", utc=True, format="mixed")


def human_count(x) -> str:
    """4_100_000 -> '4.1M' (MACs, params); 'n/a' for a missing value."""
    if x is None or x is pd.NA or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return si_count(float(x))


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Raw trials table -> tidy, typed DataFrame (one row per trial). Pure: `df` is not modified.

    Adds the point columns (records.points.annotate: ``point``, ``point_label``, ``region``, ``is_end``,
    ``variant``), ``error`` (1 - accuracy), the list fields as Python lists and ``spec`` (the whole spec as
    one line, for hovers). Idempotent: the one parser of a trials table, raw or already tidy.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"tidy expects a pandas DataFrame, got {type(df).__name__}")
    out = df.copy()
    kinds = record.kinds()
    missing = [c for c in kinds if c not in out.columns]
    if "missing_columns" in df.attrs:  # already tidy: keep the original record
        missing = list(df.attrs["missing_columns"])
    for col, kind in kinds.items():
        if col not in out.columns:
            out[col] = pd.Series([None] * len(out), index=out.index, dtype=object)
        s = out[col]
        if kind == "int":
            out[col] = _to_int(s)
        elif kind == "float":
            out[col] = _to_float(s)
        elif kind == "bool":
            out[col] = _to_bool(s)
        elif kind == "datetime":
            out[col] = _to_datetime(s)
        elif kind == "list":
            out[col] = pd.Series([_parse_list(v) for v in s], index=out.index, dtype=object)
        else:
            out[col] = _to_str(s)

    for col in ("state", "activation", "match", "order"):
        out[col] = out[col].str.strip()
    out["state"] = out["state"].str.upper()
    out = points.annotate(out)
    out["error"] = 1.0 - out["accuracy"]
    out["spec"] = _specs(out)
    out = out.sort_values("number", kind="stable", na_position="last") if out["number"].notna().any() else out
    out.attrs["missing_columns"] = missing
    return out


def _fmt(v, fmt="{}"):
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return fmt.format(v)


def _specs(df: pd.DataFrame) -> pd.Series:
    """The whole spec of each trial as one line (plain text; escape before putting it in HTML)."""
    rows = []
    for r in df[
        [
            "number", "state", "position", "segments", "base_width", "group_width", "order", "activation",
            "kernel_size", "intermediate_norm", "budget_label", "widths", "seed", "params", "macs",
            "latency_ms", "accuracy",
        ]
    ].itertuples(index=False):
        rows.append(
            f"trial {_fmt(r.number)} ({r.state}): {r.position}, segments {_fmt(r.segments)} of base width "
            f"{_fmt(r.base_width)} (group width {_fmt(r.group_width)}), {r.order or '?'}, {r.activation or '?'}, "
            f"{_fmt(r.kernel_size)}x{_fmt(r.kernel_size)}, intermediate norm {_fmt(r.intermediate_norm)}, "
            f"{r.budget_label}, widths {_fmt(r.widths)}, seed {_fmt(r.seed)}; params {human_count(r.params)}, "
            f"MACs {human_count(r.macs)}, latency {_fmt(r.latency_ms, '{:.3g}')} ms, accuracy "
            f"{_fmt(None if r.accuracy != r.accuracy else 100 * r.accuracy, '{:.2f}')}%"
        )
    return pd.Series(rows, index=df.index, dtype=str)


# --------------------------------------------------------------------------------------------
# helpers shared by the verdict and the figures


def completed(df: pd.DataFrame) -> pd.DataFrame:
    """Completed trials with a finite accuracy."""
    return df[(df["state"] == "COMPLETE") & df["accuracy"].notna()]


def missing_reason(df: pd.DataFrame, col: str, what: str | None = None) -> str | None:
    """Why `col` cannot be plotted, or None when some completed trial has a value."""
    what = what or col
    if col in df.attrs.get("missing_columns", ()):
        return f"trials.csv has no `{col}` column , so there is no {what} to plot."
    c = completed(df)
    if c.empty:
        return "No completed trial with an accuracy yet, so there is nothing to plot."
    if c[col].isna().all():
        return f"No completed trial recorded `{col}`, so there is no {what} to plot."
    return None
