"""Tidy trials -> plotly figures, one per report section; a section with no data says why.

Every axis names its unit (MACs are fvcore multiply-accumulates, never FLOPs; latency is
"ms (device, batch N)"). Text that comes from the study is HTML-escaped before it reaches plotly
(plotly.js renders a small HTML subset in labels and hovers and decodes entities back for display).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .data import completed, human_count, missing_reason, point_means, tidy
from .verdict import bootstrap_mean_ci, pareto_mask

__all__ = ["NoData", "Section", "sections", "figures", "latency_unit"]

HEIGHT = 470
TEMPLATE = "plotly_white"
REGION_SYMBOL = {"regular": "square", "intermediate": "circle", "depthwise": "diamond", "unknown": "x"}
REGION_ORDER = ("regular", "intermediate", "depthwise")
REGION_COLOR = {"regular": "#d62728", "intermediate": "#1f77b4", "depthwise": "#2ca02c"}
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
ACC_AXIS = "validation accuracy (%)"
TITLES = (
    "Accuracy vs MACs",
    "Accuracy vs parameters",
    "Accuracy vs latency",
    "Accuracy vs segment count at each matched budget",
    "Order × nonlinearity: validation accuracy per epoch",
    "Error EDFs: regular end, intermediate points, depthwise end",
    "Cost of the spectrum: parameters, MACs and latency against segment count",
)


@dataclass(frozen=True)
class NoData:
    """Stands in for a figure that cannot be drawn; `reason` says why, in plain words."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass
class Section:
    title: str
    figure: go.Figure | None = None
    note: NoData | None = None
    caption: str = ""  # plain text, shown under the title
    table: pd.DataFrame | None = field(default=None, repr=False)  # e.g. the Pareto-front points
    table_title: str = ""

    @property
    def content(self):
        return self.figure if self.figure is not None else self.note


def _e(s) -> str:
    return html.escape(str(s), quote=False)


def latency_unit(df: pd.DataFrame) -> str:
    """'ms (NVIDIA H100, batch 256)' from the latency_device / latency_batch columns."""
    c = df[df["latency_ms"].notna()] if "latency_ms" in df else df
    devs = sorted({d for d in c.get("latency_device", pd.Series(dtype=str)) if isinstance(d, str) and d})
    batches = sorted({int(b) for b in c.get("latency_batch", pd.Series(dtype="Int64")).dropna()})
    dev = ", ".join(devs) if devs else "device not recorded"
    bat = "batch " + ", ".join(str(b) for b in batches) if batches else "batch not recorded"
    return f"ms ({dev}, {bat})"


def _layout(fig: go.Figure, *, x: str, y: str, xlog=False, ylog=False, height=HEIGHT, legend_title=None):
    fig.update_layout(
        template=TEMPLATE,
        height=height,
        margin=dict(l=70, r=30, t=30, b=60),
        hoverlabel=dict(align="left"),
        legend=dict(title=dict(text=legend_title) if legend_title else None),
    )
    fig.update_xaxes(title_text=x, type="log" if xlog else None)
    fig.update_yaxes(title_text=y, type="log" if ylog else None)
    return fig


def _segment_ticks(segments: pd.Series, max_ticks: int = 12):
    vals = sorted({int(s) for s in segments.dropna() if s > 0})
    if len(vals) > max_ticks:
        step = math.ceil(len(vals) / max_ticks)
        vals = vals[::step] + ([vals[-1]] if vals[-1] not in vals[::step] else [])
    return vals


# ------------------------------------------------------------------------------------------
# 3. accuracy vs cost scatter with the Pareto front


def _accuracy_vs(
    df: pd.DataFrame, pts: pd.DataFrame, col: str, what: str, title: str, xlabel: str, table_col: str
) -> Section:
    why = missing_reason(df, "accuracy", "accuracy") or missing_reason(df, col, what)
    if why:
        return Section(title, note=NoData(why))
    c = completed(df)
    c = c[c[col].notna() & (c[col] > 0)]
    if c.empty:
        return Section(title, note=NoData(f"No completed trial has a positive {what}, so there is nothing to plot on a log axis."))
    fig = go.Figure()
    seg = c["segments"].astype("float64")
    has_seg = seg.notna().any()
    ticks = _segment_ticks(c["segments"]) if has_seg else []
    for region in (*REGION_ORDER, "unknown"):
        r = c[c["region"] == region]
        if r.empty:
            continue
        s = r["segments"].astype("float64")
        marker = dict(symbol=REGION_SYMBOL[region], size=8 if region == "intermediate" else 10, opacity=0.8,
                      line=dict(width=0.5, color="#333"))
        if has_seg:
            marker.update(color=np.log2(s.where(s > 0)).to_numpy(), coloraxis="coloraxis")
        fig.add_trace(
            go.Scatter(
                x=r[col].astype("float64").to_numpy(),
                y=(100 * r["accuracy"]).to_numpy(),
                mode="markers",
                name=f"{region} ({len(r)} trials)",
                marker=marker,
                hovertext=[_e(t) for t in r["spec"]],
                hoverinfo="text",
            )
        )
    table = None
    p = pts[pts[col].notna() & (pts[col] > 0)] if not pts.empty else pts
    if not p.empty:
        m = pareto_mask(p[col], p["accuracy"])
        front = p[m].sort_values(col, kind="stable")
        fig.add_trace(
            go.Scatter(
                x=front[col].to_numpy(dtype=float),
                y=(100 * front["accuracy"]).to_numpy(dtype=float),
                mode="lines+markers",
                line=dict(shape="hv", color="black", width=1.5),
                marker=dict(symbol="circle-open", size=14, color="black"),
                name=f"Pareto front ({len(front)} points, mean over seeds)",
                hovertext=[
                    _e(f"{lab}: {100 * a:.2f}% mean of {n} seed(s), {what} {human_count(x)}")
                    for lab, a, n, x in zip(front["point_label"], front["accuracy"], front["n_seeds"], front[col])
                ],
                hoverinfo="text",
            )
        )
        table = pd.DataFrame(
            {
                "point": front["point_label"].to_numpy(),
                "region": front["region"].to_numpy(),
                "mean accuracy (%)": (100 * front["accuracy"]).round(2).to_numpy(),
                table_col: [
                    f"{x:.3g}" if col == "latency_ms" else f"{int(round(x)):,}" for x in front[col]
                ],
                "seeds": front["n_seeds"].to_numpy(),
            }
        )
    if has_seg:
        fig.update_layout(
            coloraxis=dict(
                colorscale="Viridis",
                colorbar=dict(
                    title=dict(text="segments<br>(log scale)"),
                    tickvals=[math.log2(v) for v in ticks],
                    ticktext=[str(v) for v in ticks],
                ),
            )
        )
    _layout(fig, x=xlabel, y=ACC_AXIS, xlog=True)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    caption = (
        f"Every completed trial ({len(c)}); colour = segment count (log scale), square = regular end, "
        "diamond = depthwise end. The black step line is the Pareto front (higher accuracy, lower "
        f"{what}) over spectrum points averaged over seeds. Hover a point for its whole spec."
    )
    return Section(title, figure=fig, caption=caption, table=table, table_title="Pareto-front points")


# ------------------------------------------------------------------------------------------
# 4. accuracy vs segment count per matched budget


def _accuracy_vs_segments(df: pd.DataFrame, pts: pd.DataFrame) -> Section:
    title = TITLES[3]
    why = missing_reason(df, "accuracy", "accuracy") or missing_reason(df, "segments", "segment count")
    if why:
        return Section(title, note=NoData(why))
    p = pts[pts["segments"].notna()]
    if p.empty:
        return Section(title, note=NoData("No completed trial records a segment count."))
    fig = go.Figure()
    varied = [c for c in ("order", "activation") if p[c].nunique() > 1]
    for i, (label, g) in enumerate(p.groupby("budget_label", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        # the best point at each segment count (other axes, if any, are chosen by mean accuracy)
        best = g.sort_values(["segments", "accuracy"], ascending=[True, False], kind="stable").drop_duplicates("segments")
        lows, highs = [], []
        for pl, accs in zip(best["point"], best["accs"]):
            lo, hi = bootstrap_mean_ci(accs, label=str(pl))
            lows.append(lo)
            highs.append(hi)
        mean = 100 * best["accuracy"].to_numpy(dtype=float)
        lo = 100 * np.asarray(lows)
        hi = 100 * np.asarray(highs)
        x = best["segments"].astype("float64").to_numpy()
        hover = [
            _e(
                f"{lab}: {m:.2f}% mean of {n} seed(s)"
                + (f", 95% CI {a:.2f} to {b:.2f}%" if np.isfinite(a) else ", one seed: no CI")
            )
            for lab, m, n, a, b in zip(best["point_label"], mean, best["n_seeds"], lo, hi)
        ]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=mean,
                mode="lines+markers",
                name=_e(label),
                legendgroup=str(i),
                line=dict(color=color),
                marker=dict(color=color, size=8),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=np.nan_to_num(hi - mean, nan=0.0),
                    arrayminus=np.nan_to_num(mean - lo, nan=0.0),
                    thickness=1.2,
                    width=4,
                ),
                hovertext=hover,
                hoverinfo="text",
            )
        )
        # every seed, faint
        seeds_x, seeds_y = [], []
        for s, accs in zip(x, best["accs"]):
            seeds_x.extend([s] * len(accs))
            seeds_y.extend(100 * np.asarray(accs))
        fig.add_trace(
            go.Scatter(
                x=seeds_x, y=seeds_y, mode="markers", legendgroup=str(i), showlegend=False,
                marker=dict(color=color, size=4, opacity=0.35), hoverinfo="skip",
            )
        )
        ends = best[best["region"].isin(["regular", "depthwise"])]
        if not ends.empty:
            fig.add_trace(
                go.Scatter(
                    x=ends["segments"].astype("float64").to_numpy(),
                    y=100 * ends["accuracy"].to_numpy(dtype=float),
                    mode="markers+text",
                    text=list(ends["region"]),
                    textposition="top center",
                    textfont=dict(size=10, color=color),
                    marker=dict(
                        symbol=[REGION_SYMBOL[r] for r in ends["region"]],
                        size=15, color="rgba(0,0,0,0)", line=dict(color=color, width=2),
                    ),
                    legendgroup=str(i), showlegend=False, hoverinfo="skip",
                )
            )
    ticks = _segment_ticks(p["segments"])
    _layout(
        fig,
        x="segment count (groups of the k×k conv; 1 = regular, base width = depthwise), log scale",
        y="validation accuracy (%), mean over seeds ± 95% CI",
        xlog=True,
        legend_title="matched budget",
    )
    fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks])
    caption = (
        "One line per matched budget: the mean accuracy over seeds at each segment count with a 95% "
        "bootstrap interval (widened to Student-t width); faint dots are the single seeds; the two ends "
        "are marked."
        + (
            f" Where the space varies {' and '.join(varied)}, each segment count shows its best variant (hover for which)."
            if varied
            else ""
        )
    )
    return Section(title, figure=fig, caption=caption)


# ------------------------------------------------------------------------------------------
# 5. order x nonlinearity: accuracy per epoch


def _per_epoch(df: pd.DataFrame) -> Section:
    title = TITLES[4]
    c = completed(df)
    miss = [col for col in ("order", "activation") if col in df.attrs.get("missing_columns", ())]
    if len(miss) == 2:
        return Section(title, note=NoData("trials.csv has neither `order` nor `activation`, so there are no variants to compare."))
    if c.empty:
        return Section(title, note=NoData("No completed trial yet, so there are no learning curves to plot."))
    n_order, n_act = c["order"].nunique(), c["activation"].nunique()
    if n_order <= 1 and n_act <= 1:
        o = c["order"].iloc[0] or "unrecorded"
        a = c["activation"].iloc[0] or "unrecorded"
        space = (c["space"].iloc[0] or "this") if "space" in c else "this"
        return Section(
            title,
            note=NoData(
                f"Not shown: the {space} space does not vary the order or the nonlinearity "
                f"(every completed trial is {o} / {a}), so there is only one variant."
            ),
        )
    why = missing_reason(df, "accuracy_per_epoch", "per-epoch accuracy")
    if why is None and not any(isinstance(v, list) and v for v in c["accuracy_per_epoch"]):
        why = "No completed trial recorded a non-empty `accuracy_per_epoch`, so there are no learning curves."
    if why:
        return Section(title, note=NoData(why))
    fig = go.Figure()
    acts = sorted(c["activation"].unique())
    dashes = ("solid", "dash", "dot", "dashdot")
    orders = sorted(c["order"].unique())
    for (order, act), g in c.groupby(["order", "activation"], sort=True):
        curves = [v for v in g["accuracy_per_epoch"] if isinstance(v, list) and v]
        if not curves:
            continue
        n = max(len(v) for v in curves)
        arr = np.full((len(curves), n), np.nan)
        for i, v in enumerate(curves):
            arr[i, : len(v)] = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            mean = np.nanmean(arr, axis=0)
        name = f"{order or '?'} / {act or '?'} ({len(curves)} trials)"
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, n + 1),
                y=100 * mean,
                mode="lines+markers",
                name=_e(name),
                line=dict(color=PALETTE[acts.index(act) % len(PALETTE)], dash=dashes[orders.index(order) % len(dashes)]),
                hovertext=[_e(f"{name}, epoch {e + 1}: {100 * m:.2f}%") for e, m in enumerate(mean)],
                hoverinfo="text",
            )
        )
    _layout(fig, x="epoch (count)", y="validation accuracy (%), mean over trials", legend_title="order / activation")
    caption = (
        "One line per variant (order, intermediate nonlinearity): validation accuracy after each epoch, "
        "averaged over every completed trial of that variant (all segment counts, budgets and seeds). "
        "Colour = activation, dash = order."
    )
    return Section(title, figure=fig, caption=caption)


# ------------------------------------------------------------------------------------------
# 6. error EDFs


def _edf(df: pd.DataFrame) -> Section:
    title = TITLES[5]
    why = missing_reason(df, "accuracy", "accuracy")
    if why:
        return Section(title, note=NoData(why))
    c = completed(df)
    fig = go.Figure()
    counts = {}
    for region in REGION_ORDER:
        e = np.sort(100 * c.loc[c["region"] == region, "error"].to_numpy(dtype=float))
        counts[region] = len(e)
        if e.size == 0:
            continue
        y = np.arange(1, e.size + 1) / e.size
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([[e[0]], e]),
                y=np.concatenate([[0.0], y]),
                mode="lines",
                line=dict(shape="hv", color=REGION_COLOR[region], width=2),
                name=f"{region} ({e.size} trials)",
                hovertemplate=f"{region}: %{{y:.0%}} of trials have error ≤ %{{x:.2f}}%<extra></extra>",
            )
        )
    if not fig.data:
        return Section(title, note=NoData("No completed trial has a known region (segments and base_width missing)."))
    _layout(fig, x="validation error (%) = 100 − accuracy", y="cumulative fraction of trials (EDF)", legend_title="region")
    fig.update_yaxes(range=[0, 1.02])
    absent = [r for r in REGION_ORDER if counts[r] == 0]
    caption = (
        "Empirical distribution function of the error of every completed trial (RegNet style): a curve "
        "further left/up means more trials reach low error."
        + (f" No completed trial at: {', '.join(absent)}." if absent else "")
    )
    return Section(title, figure=fig, caption=caption)


# ------------------------------------------------------------------------------------------
# 7. cost of the spectrum


def _cost(df: pd.DataFrame) -> Section:
    title = TITLES[6]
    if "segments" in df.attrs.get("missing_columns", ()) or df["segments"].isna().all():
        return Section(title, note=NoData("No trial records a segment count, so cost cannot be put against it."))
    lat_unit = latency_unit(df)
    metrics = [
        ("params", "parameters (count)", "parameters"),
        ("macs", "MACs (multiply-accumulates)", "MACs"),
        ("latency_ms", f"latency, {lat_unit}", "latency"),
    ]
    have = [m for m in metrics if df[m[0]].notna().any()]
    if not have:
        return Section(title, note=NoData("No trial recorded params, MACs or latency, so there is no cost to plot."))
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, subplot_titles=[_e(m[2]) for m in metrics])
    d = df[df["segments"].notna()]
    for i, (label, g) in enumerate(d.groupby("budget_label", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        shown = False
        for j, (col, _, what) in enumerate(metrics, start=1):
            v = g[g[col].notna()]
            if v.empty:
                continue
            showlegend, shown = not shown, True
            med = v.groupby("segments")[col].median().astype(float)
            n = v.groupby("segments")[col].size()
            fig.add_trace(
                go.Scatter(
                    x=med.index.astype(float).to_numpy(),
                    y=med.to_numpy(),
                    mode="lines+markers",
                    name=_e(label),
                    legendgroup=str(i),
                    showlegend=showlegend,
                    line=dict(color=color),
                    hovertext=[
                        _e(f"{label}, segments {int(s)}: {what} {human_count(y) if col != 'latency_ms' else f'{y:.3g} ms'} (median of {k})")
                        for s, y, k in zip(med.index, med.to_numpy(), n.to_numpy())
                    ],
                    hoverinfo="text",
                ),
                row=1,
                col=j,
            )
    ticks = _segment_ticks(d["segments"])
    for j, (col, ylabel, what) in enumerate(metrics, start=1):
        fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], title_text="segment count (log scale)", row=1, col=j)
        fig.update_yaxes(type="log", title_text=_e(ylabel), row=1, col=j)
        if df[col].notna().sum() == 0:
            fig.add_annotation(
                text=_e(f"no {what} recorded"), showarrow=False, xref=f"x{j if j > 1 else ''} domain",
                yref=f"y{j if j > 1 else ''} domain", x=0.5, y=0.5,
            )
    fig.update_layout(template=TEMPLATE, height=HEIGHT, margin=dict(l=70, r=30, t=50, b=60), legend=dict(title=dict(text="matched budget")))
    absent = [m[2] for m in metrics if m not in have]
    caption = (
        "Median over trials at each segment count, one line per matched budget: what moving along the "
        "spectrum costs. Under a matched budget the matched metric stays flat by construction and the "
        "others show the price."
        + (f" Not recorded: {', '.join(absent)}." if absent else "")
    )
    return Section(title, figure=fig, caption=caption)


# ------------------------------------------------------------------------------------------


def sections(df: pd.DataFrame, config: dict | None = None) -> list[Section]:
    """All figure sections of the report, in page order (the trials table is added by `write`)."""
    if "point" not in df.columns or "region" not in df.columns:
        df = tidy(df)
    if df.empty:
        why = NoData("trials.csv holds no trials yet, so there is nothing to plot.")
        return [Section(t, note=why) for t in TITLES]
    pts = point_means(df)
    lat = f"latency, {latency_unit(df)}, log scale"
    return [
        _accuracy_vs(df, pts, "macs", "MACs", TITLES[0], "MACs (multiply-accumulates, fvcore), log scale", "MACs"),
        _accuracy_vs(df, pts, "params", "parameters", TITLES[1], "parameters (count), log scale", "parameters"),
        _accuracy_vs(df, pts, "latency_ms", "latency", TITLES[2], lat, "latency (ms)"),
        _accuracy_vs_segments(df, pts),
        _per_epoch(df),
        _edf(df),
        _cost(df),
    ]


def figures(df: pd.DataFrame, config: dict | None = None) -> list[tuple[str, go.Figure | NoData]]:
    """[(title, plotly Figure or NoData(reason)), ...] in page order."""
    return [(s.title, s.content) for s in sections(df, config)]
