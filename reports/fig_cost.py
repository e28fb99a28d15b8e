"""Figures of cost: accuracy against MACs / parameters / latency with the verdict's Pareto front, and
what moving along the spectrum costs (parameters, MACs, latency against the segment count)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px

from records.table import completed, human_count, missing_reason
from verdict.words import diverged_share
from .plotstyle import (
    ACC_AXIS, HEIGHT, REGION_ORDER, REGION_SYMBOL, TEMPLATE, NoData, Section, budget_colors, esc, esc_col, fit_titles,
    hover_col, layout, listed, segment_ticks,
)

FRONT_COLUMNS = ["point", "point_label", "budget_label", "region", "accuracy", "macs", "params", "latency_ms", "n_seeds",
                 "n_runs", "n_diverged"]


def front_points(front: pd.DataFrame) -> pd.DataFrame:
    """The verdict's Pareto front as it gives it (rows of the points table; `accuracy`: the claimed mean in
    points; `macs`: the budget's median MACs, the cost the front is taken on)."""
    if front.empty or "point" not in front:
        return pd.DataFrame(columns=FRONT_COLUMNS)
    return front.drop(columns=["macs"]).rename(columns={"cost": "macs"})[FRONT_COLUMNS]


def _draw_front(fig, f: pd.DataFrame, col: str, what: str, table_col: str, line: bool) -> pd.DataFrame | None:
    """The verdict's front circled on `fig` (a step line on MACs); on MACs also the front's table."""
    hover = [esc(f"{lab}: {a:.2f}% mean of {n} seed(s), {what} {human_count(x)}")
             for lab, a, n, x in zip(f["point_label"], f["accuracy"], f["n_seeds"], f[col])]
    fig.add_scatter(
        x=f[col], y=f["accuracy"], mode="lines+markers" if line else "markers", hovertext=hover, hoverinfo="text",
        line=dict(shape="hv", color="black", width=1.5), marker=dict(symbol="circle-open", size=14, color="black"),
        name=f"the verdict's Pareto front ({len(f)} points; test accuracy where stored)",
    )
    if not line:
        return None
    return pd.DataFrame({
        "point": f["point_label"], "matched budget": f["budget_label"], "region": f["region"],
        "accuracy (%), test where stored": f["accuracy"].round(2),
        table_col + " (the budget's)": [f"{int(round(x)):,}" for x in f[col]], "seeds": f["n_seeds"],
        "diverged runs (exact 95% interval of the rate)": [diverged_share(int(k), int(n)) if k else "none"
                                                           for k, n in zip(f["n_diverged"], f["n_runs"])],
    })


def accuracy_vs(
    df: pd.DataFrame, front: pd.DataFrame, col: str, what: str, title: str, xlabel: str, table_col: str,
    *, line: bool,
) -> Section:
    """Every completed trial at (cost, accuracy); the verdict's front circled (a step line on MACs)."""
    why = missing_reason(df, "accuracy", "accuracy") or missing_reason(df, col, what)
    if why:
        return Section(title, note=NoData(why))
    c = completed(df)
    c = c[c[col].notna() & (c[col] > 0)]
    if c.empty:
        return Section(title, note=NoData(f"No completed trial has a positive {what}, so there is nothing to plot on a log axis."))
    seg = c["segments"].astype("float64")
    counts = c["region"].value_counts()
    d = pd.DataFrame({
        "x": c[col].astype("float64"),
        "accuracy": 100 * c["accuracy"],
        "region": c["region"].map(lambda r: f"{r} ({counts[r]} trials)"),
        "segments": np.log2(seg.where(seg > 0)),
        "spec": hover_col(c["spec"]),
    })
    has_seg = d["segments"].notna().any()
    order = [f"{r} ({counts[r]} trials)" for r in (*REGION_ORDER, "unknown") if r in counts]
    fig = px.scatter(
        d, x="x", y="accuracy", symbol="region", color="segments" if has_seg else None, log_x=True,
        category_orders={"region": order}, custom_data=["spec"], color_continuous_scale="Viridis",
        symbol_map={lab: REGION_SYMBOL[lab.split(" (")[0]] for lab in order}, template=TEMPLATE,
    )
    fig.update_traces(marker=dict(size=9, opacity=0.8, line=dict(width=0.5, color="#333")),
                      hovertemplate="%{customdata[0]}<extra></extra>")
    f = front[front[col].notna() & (front[col] > 0)].sort_values(col, kind="stable")
    table = _draw_front(fig, f, col, what, table_col, line) if not f.empty else None
    if has_seg:
        ticks = segment_ticks(c["segments"])
        fig.update_layout(coloraxis_colorbar=dict(
            title=dict(text="segments<br>(log scale)"), tickvals=np.log2(ticks).tolist(), ticktext=[str(v) for v in ticks],
        ))
    layout(fig, x=xlabel, y=ACC_AXIS if f.empty else ACC_AXIS + "; the front: test", xlog=True)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, title=dict(text="")))
    front_txt = (
        "The black step line is the verdict's Pareto front: higher accuracy (test, where the study stored "
        "it) for fewer MACs across budgets, each budget at its median MACs, points averaged over seeds."
        if line else "Circled: the verdict's Pareto-front points (accuracy against MACs, across budgets) at their "
        f"{what}."
    )
    caption = (
        f"Every completed trial ({len(c)}); colour = segment count (log scale), square = regular end, "
        f"diamond = depthwise end. {front_txt} Hover a point for its whole spec."
    )
    return Section(title, figure=fig, caption=caption, table=table, table_title="Pareto-front points")


_METRICS = (  # column, axis label, short name
    ("params", "parameters (count)", "parameters"),
    ("macs", "MACs (multiply-accumulates)", "MACs"),
    ("latency_ms", "latency, {unit}", "latency"),
)


def spectrum_cost(df: pd.DataFrame, title: str, lat_unit: str) -> Section:
    """Median parameters, MACs and latency at each segment count, one line per matched budget."""
    if "segments" in df.attrs.get("missing_columns", ()) or df["segments"].isna().all():
        return Section(title, note=NoData("No trial records a segment count, so cost cannot be put against it."))
    have = [m for m in _METRICS if df[m[0]].notna().any()]
    if not have:
        return Section(title, note=NoData("No trial recorded params, MACs or latency, so there is no cost to plot."))
    d = df[df["segments"].notna()].assign(budget=lambda x: esc_col(x["budget_label"]), segments=lambda x: x["segments"].astype(float))
    long = d.melt(id_vars=["budget", "segments"], value_vars=[m[0] for m in have], var_name="metric").dropna(subset=["value"])
    med = long.groupby(["metric", "budget", "segments"], as_index=False)["value"].agg(value="median", n="size")
    names = {col: what for col, _, what in have}
    med["hover"] = [
        f"{b}, segments {int(s)}: {names[m]} {f'{v:.3g} ms' if m == 'latency_ms' else human_count(v)} (median of {n})"
        for m, b, s, v, n in zip(med["metric"], med["budget"], med["segments"], med["value"], med["n"])
    ]
    fig = px.line(
        med, x="segments", y="value", color="budget", facet_col="metric", markers=True, log_x=True, log_y=True,
        category_orders={"metric": [m[0] for m in have]}, color_discrete_map=budget_colors(med["budget"]),
        custom_data=["hover"], facet_col_spacing=0.13, template=TEMPLATE,
    )
    fig.update_traces(hovertemplate="%{customdata[0]}<extra></extra>")
    fig.for_each_annotation(lambda a: a.update(text=names[a.text.split("=", 1)[1]]))
    ticks = segment_ticks(d["segments"])
    fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks], title_text="segment count (log scale)")
    fig.update_yaxes(matches=None, showticklabels=True)
    for j, (_, ylabel, _) in enumerate(have, start=1):
        fig.update_yaxes(title_text=esc(ylabel.format(unit=lat_unit)), row=1, col=j)
    fig.update_layout(height=HEIGHT, margin=dict(l=70, r=30, t=50, b=60),
                      legend=dict(title=dict(text="matched budget")))
    fit_titles(fig)  # the latency axis's unit is longer than the panel is tall
    absent = [m[2] for m in _METRICS if m not in have]
    return Section(title, figure=fig, caption=(
        "Median over trials at each segment count, one line per matched budget: what moving along the "
        "spectrum costs. Under a matched budget the matched metric stays flat by construction and the "
        "others show the price." + listed("Not recorded", absent)))
