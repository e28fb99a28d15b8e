"""Tidy trials (+ the verdict) -> plotly figures, one per report section; a section with no data
says why. The figures themselves live by kind in fig_cost.py and fig_accuracy.py; their shared
style in plotstyle.py.

Every axis names its unit (MACs are fvcore multiply-accumulates, never FLOPs; latency is
"ms (device, batch N)"). Text that comes from the study is HTML-escaped before it reaches plotly.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from records.table import tidy
from .fig_accuracy import accuracy_vs_segments, error_edf, per_epoch
from .fig_cost import accuracy_vs, front_points, spectrum_cost
from records.points import points_table
from .plotstyle import NoData, Section, latency_unit

__all__ = ["NoData", "Section", "sections", "figures", "latency_unit", "TITLES"]

TITLES = (
    "Accuracy vs MACs",
    "Accuracy vs parameters",
    "Accuracy vs latency",
    "Accuracy vs segment count at each matched budget",
    "Order × nonlinearity: validation accuracy per epoch",
    "Error EDFs: regular end, intermediate points, depthwise end",
    "Cost of the spectrum: parameters, MACs and latency against segment count",
)


def sections(df: pd.DataFrame, config: dict | None = None, *, v=None) -> list[Section]:
    """All figure sections of the report, in page order. `v`: the study's verdict (computed when
    not given), whose Pareto front the accuracy-vs-cost figures draw."""
    if "point" not in df.columns or "region" not in df.columns:
        df = tidy(df)
    if df.empty:
        why = NoData("trials.csv holds no trials yet, so there is nothing to plot.")
        return [Section(t, note=why) for t in TITLES]
    if v is None:
        from verdict import verdict

        v = verdict(df)
    pts = points_table(df)
    front = front_points(v.pareto_front)
    unit = latency_unit(df)
    return [
        accuracy_vs(df, front, "macs", "MACs", TITLES[0], "MACs (multiply-accumulates, fvcore), log scale", "MACs", line=True),
        accuracy_vs(df, front, "params", "parameters", TITLES[1], "parameters (count), log scale", "parameters", line=False),
        accuracy_vs(df, front, "latency_ms", "latency", TITLES[2], f"latency, {unit}, log scale", "latency (ms)", line=False),
        accuracy_vs_segments(df, pts, TITLES[3]),
        per_epoch(df, TITLES[4]),
        error_edf(df, TITLES[5]),
        spectrum_cost(df, TITLES[6], unit),
    ]


def figures(df: pd.DataFrame, config: dict | None = None) -> list[tuple[str, go.Figure | NoData]]:
    """[(title, plotly Figure or NoData(reason)), ...] in page order."""
    return [(s.title, s.content) for s in sections(df, config)]
