"""Figures of accuracy: along the spectrum at each matched budget (with intervals), per epoch for
each order x nonlinearity variant, and the error EDFs of the two ends and the intermediate points."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
from scipy.special import stdtrit

from common.vocabulary import ENDS
from records.table import completed, missing_reason
from .plotstyle import (
    HEIGHT, REGION_COLOR, REGION_ORDER, TEMPLATE, NoData, Section, budget_colors, esc, esc_col, layout, listed,
    percent_range, segment_ticks,
)

__all__ = ["accuracy_vs_segments", "per_epoch", "error_edf"]

CONFIDENCE = 0.95
EDF_COLUMNS = 3  # error-EDF panels per row (one per matched budget)
EDF_ROW_PX = 320  # the height each further row of panels adds


def _intervals(points: pd.DataFrame):
    """Trained runs, validation mean and its 95% Student-t interval (percent, clipped to 0-100) per point."""
    n = points["validation_accuracies"].map(len).astype("float64")
    t = stdtrit(n.where(n > 1) - 1, 0.5 + CONFIDENCE / 2)  # the Student-t quantile (NaN for one seed)
    half = 100 * t * points["validation_sd"] / np.sqrt(n)
    mean = 100 * points["validation_mean"].astype("float64")
    return n, mean, (mean - half).clip(0, 100), (mean + half).clip(0, 100)


def accuracy_vs_segments(df: pd.DataFrame, pts: pd.DataFrame, title: str) -> Section:
    """Mean accuracy over seeds at each segment count, a t interval, the single seeds, the two ends."""
    why = missing_reason(df, "accuracy", "accuracy") or missing_reason(df, "segments", "segment count")
    if why:
        return Section(title, note=NoData(why))
    p = pts[pts["segments"].notna()]
    if p.empty:
        return Section(title, note=NoData("No completed trial records a segment count."))
    # one line per budget and variant (order / nonlinearity), so each variant's effect shows at every segment count
    varied = [c for c in ("order", "activation") if p[c].nunique() > 1]
    best = p.sort_values(["budget_label", "variant", "segments"], kind="stable").reset_index(drop=True)
    n, mean, lo, hi = _intervals(best)
    line = best["budget_label"] + (" · " + best["variant"] if varied else "")
    best = best.assign(
        budget=esc_col(line), segments=best["segments"].astype("float64"), mean=mean,
        plus=(hi - mean).fillna(0), minus=(mean - lo).fillna(0),
        hover=[
            esc(f"{lab}: {m:.2f}% mean of {int(k)} seed(s)" + (f", 95% CI {a:.2f} to {b:.2f}%" if k > 1 else ", one seed: no CI"))
            for lab, m, k, a, b in zip(best["point_label"], mean, n, lo, hi)
        ],
    )
    colors = budget_colors(best["budget"])
    fig = px.line(
        best, x="segments", y="mean", color="budget", error_y="plus", error_y_minus="minus", markers=True,
        log_x=True, color_discrete_map=colors, custom_data=["hover"], template=TEMPLATE,
    )
    fig.update_traces(hovertemplate="%{customdata[0]}<extra></extra>", error_y=dict(thickness=1.2, width=4))
    seeds = best[["budget", "segments", "validation_accuracies"]].explode("validation_accuracies")
    seeds = seeds.dropna(subset=["validation_accuracies"])
    seeds["accuracy"] = 100 * seeds["validation_accuracies"].astype("float64")
    for budget, g in seeds.groupby("budget", sort=False):  # every seed, faint
        fig.add_scatter(x=g["segments"], y=g["accuracy"], mode="markers", legendgroup=budget, showlegend=False,
                        marker=dict(color=colors[budget], size=4, opacity=0.35), hoverinfo="skip")
    ends = best[best["region"].isin(ENDS)]
    for budget, g in ends.groupby("budget", sort=False):  # the two ends, marked
        fig.add_scatter(
            x=g["segments"], y=g["mean"], mode="markers+text", text=g["region"], textposition="top center",
            textfont=dict(size=10, color=colors[budget]), legendgroup=budget, showlegend=False, hoverinfo="skip",
            marker=dict(symbol=g["region"].map({"regular": "square", "depthwise": "diamond"}), size=15,
                        color="rgba(0,0,0,0)", line=dict(color=colors[budget], width=2)),
        )
    ticks = segment_ticks(p["segments"])
    layout(
        fig,
        x="segment count (groups of the k×k conv; 1 = regular, base width = depthwise), log scale",
        y="validation accuracy (%), mean over seeds ± 95% CI",
        xlog=True,
        legend_title="matched budget" + (" · order / activation" if varied else ""),
    )
    fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks])
    fig.update_yaxes(range=percent_range(lo, hi, seeds["accuracy"], mean))
    caption = (
        "One line per matched budget" + (f" and {' / '.join(varied)} variant" if varied else "")
        + ": the mean accuracy over seeds at each segment count with a 95% Student-t interval (clipped to "
        "0-100%); faint dots are the single seeds; the two ends are marked."
        + (" Each variant's effect reads off at every segment count: the gap between its line and none's."
           if "activation" in varied else "")
    )
    return Section(title, figure=fig, caption=caption)


def per_epoch(df: pd.DataFrame, title: str) -> Section:
    """Validation accuracy after each epoch, averaged per (order, nonlinearity) variant."""
    c = completed(df)
    miss = [col for col in ("order", "activation") if col in df.attrs.get("missing_columns", ())]
    if len(miss) == 2:
        return Section(title, note=NoData("trials.csv has neither `order` nor `activation`, so there are no variants to compare."))
    if c.empty:
        return Section(title, note=NoData("No completed trial yet, so there are no learning curves to plot."))
    if c["order"].nunique() <= 1 and c["activation"].nunique() <= 1:
        o = c["order"].iloc[0] or "unrecorded"
        a = c["activation"].iloc[0] or "unrecorded"
        space = (c["space"].iloc[0] or "this") if "space" in c else "this"
        return Section(title, note=NoData(
            f"Not shown: the {space} space does not vary the order or the nonlinearity "
            f"(every completed trial is {o} / {a}), so there is only one variant."
        ))
    why = missing_reason(df, "accuracy_per_epoch", "per-epoch accuracy")
    curves = c[c["accuracy_per_epoch"].map(lambda v: isinstance(v, list) and len(v) > 0)] if why is None else c.iloc[:0]
    if why is None and curves.empty:
        why = "No completed trial recorded a non-empty `accuracy_per_epoch`, so there are no learning curves."
    if why:
        return Section(title, note=NoData(why))
    long = curves[["order", "activation", "segments", "accuracy_per_epoch"]].reset_index(drop=True)
    long = long.rename_axis("trial").reset_index()
    long = long.explode("accuracy_per_epoch")
    long["epoch"] = long.groupby("trial").cumcount() + 1
    long["accuracy"] = 100 * pd.to_numeric(long["accuracy_per_epoch"], errors="coerce")
    mean = long.groupby(["segments", "order", "activation", "epoch"], as_index=False).agg(
        accuracy=("accuracy", "mean"), trials=("trial", "nunique"))
    mean["segments"] = "segments " + mean["segments"].astype("Int64").astype(str)
    mean["order"], mean["activation"] = esc_col(mean["order"]), esc_col(mean["activation"])
    mean["hover"] = [f"{s}, {o} / {a} ({k} trials), epoch {e}: {m:.2f}%" for s, o, a, k, e, m in
                     zip(mean["segments"], mean["order"], mean["activation"], mean["trials"], mean["epoch"],
                         mean["accuracy"])]
    panels = list(dict.fromkeys(mean.sort_values("segments", key=lambda s: s.str.split().str[1].astype(int))["segments"]))
    fig = px.line(
        mean, x="epoch", y="accuracy", color="activation", line_dash="order", markers=True, custom_data=["hover"],
        facet_col="segments", facet_col_wrap=3, facet_row_spacing=0.12, facet_col_spacing=0.08,
        category_orders={"segments": panels, **{c: sorted(mean[c].unique()) for c in ("activation", "order")}},
        template=TEMPLATE,
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_traces(hovertemplate="%{customdata[0]}<extra></extra>")
    layout(fig, x="epoch (count)", y="validation accuracy (%)", legend_title="activation, order",
           height=HEIGHT + EDF_ROW_PX * ((len(panels) - 1) // 3))
    last = int(mean["epoch"].max())
    fig.update_xaxes(tick0=1, dtick=max(1, -(-last // 10)))  # whole epochs only
    caption = (
        "One panel per segment count, one line per variant (order, intermediate nonlinearity): validation "
        "accuracy after each epoch, the mean over that variant's completed trials at that segment count (its "
        "budgets and seeds). Colour = activation, dash = order."
    )
    return Section(title, figure=fig, caption=caption)


def error_edf(df: pd.DataFrame, title: str) -> Section:
    """Empirical distribution of the validation error of the regular end, the middle and the depthwise
    end: one panel per matched budget, so each curve holds trials of one cost."""
    why = missing_reason(df, "accuracy", "accuracy")
    if why:
        return Section(title, note=NoData(why))
    c = completed(df)
    c = c[c["region"].isin(REGION_ORDER)]
    if c.empty:
        return Section(title, note=NoData("No completed trial has a known region (segments and base_width missing)."))
    budget = esc_col(c["budget_label"]).replace("", "no matched budget")
    d = pd.DataFrame({"error": 100 * c["error"], "region": c["region"], "budget": budget, "size": c["budget"]})
    d["trials"] = d.groupby(["budget", "region"])["error"].transform("size")
    d["curve"] = d["region"] + " at " + d["budget"] + " (" + d["trials"].astype(str) + " trials)"
    sizes = d.groupby("budget")["size"].median()  # panels from the smallest budget up
    budgets = sorted(d["budget"].unique(), key=lambda b: (-np.inf if pd.isna(sizes[b]) else sizes[b], b))
    rows = -(-len(budgets) // EDF_COLUMNS)
    cols = -(-len(budgets) // rows)  # 4 budgets: 2 x 2, not 3 + 1
    fig = px.ecdf(
        d, x="error", color="region", facet_col="budget", facet_col_wrap=cols, ecdfnorm="probability",
        hover_data={"curve": True, "region": False, "budget": False}, facet_col_spacing=0.06, facet_row_spacing=0.14,
        category_orders={"region": [r for r in REGION_ORDER if r in set(d["region"])], "budget": budgets},
        color_discrete_map=REGION_COLOR, template=TEMPLATE,
    )
    fig.update_traces(line=dict(width=2),
                      hovertemplate="%{customdata[0]}: %{y:.0%} have error ≤ %{x:.2f}%<extra></extra>")
    fig.for_each_annotation(lambda a: a.update(text="matched budget " + a.text.split("=", 1)[1]))
    layout(fig, x="validation error (%) = 100 − accuracy", y="cumulative fraction of trials (EDF)",
           legend_title="region", height=HEIGHT + EDF_ROW_PX * (rows - 1))
    fig.update_layout(margin=dict(t=50))  # room for the panel titles under the tool bar
    fig.update_xaxes(showticklabels=True)  # every panel keeps its error scale, not only the bottom row
    lo, hi = float(d["error"].min()), float(d["error"].max())
    pad = 0.03 * (hi - lo) or 0.5  # the best and the worst trial's steps stay off the panel's edges
    fig.update_xaxes(range=[lo - pad, hi + pad])
    fig.update_yaxes(range=[0, 1.02])
    absent = [r for r in REGION_ORDER if r not in set(d["region"])]
    return Section(title, figure=fig, caption=(
        "Empirical distribution function of the error of every completed trial (RegNet style), one panel "
        "per matched budget so that every curve compares trials of the same cost: a curve further "
        "left/up means more trials reach low error. Hover a curve for its trial count."
        + listed("No completed trial at", absent)))
