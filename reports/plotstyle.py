"""What every figure shares: the Section/NoData containers, colours and symbols, axis layout, and
the escaping of study text before it reaches plotly (plotly.js renders a small HTML subset in
labels, legends and hovers, and decodes entities back for display)."""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from .meta import mixed_text

HEIGHT = 470
TEMPLATE = "plotly_white"
REGION_ORDER = ("regular", "intermediate", "depthwise")
REGION_SYMBOL = {"regular": "square", "intermediate": "circle", "depthwise": "diamond", "unknown": "x"}
REGION_COLOR = {"regular": "#d62728", "intermediate": "#1f77b4", "depthwise": "#2ca02c", "unknown": "#7f7f7f"}
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
ACC_AXIS = "validation accuracy (%)"
CHAR_PX = 7.5  # the average width of a character of a 14 px axis title (wrapping errs on the short side)
NARROW_PX = 900  # the narrowest figure the page is read at (the window minus the page's padding)
HOVER_CHARS = 72  # the longest line of a hover label (about 500 px at plotly's 13 px)


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


def listed(sentence: str, names) -> str:
    """' Sentence: a, b.' when `names` holds any, else '': a caption's word on what is missing."""
    return f" {sentence}: {', '.join(names)}." if names else ""


def esc(s) -> str:
    """Study text made inert for plotly's HTML-subset labels."""
    return html.escape(str(s), quote=False)


def esc_col(s: pd.Series) -> pd.Series:
    """A text column made inert (plotly express copies values into legends, groups and hovers)."""
    return s.astype("string").fillna("").astype(str).map(esc)


def hover_col(s: pd.Series, width: int = HOVER_CHARS) -> pd.Series:
    """A text column made inert and wrapped into lines of `width` characters: a hover label that
    fits on the page (plotly never wraps one itself)."""
    return esc_col(s).map(lambda text: wrap(text, width))


def budget_colors(labels) -> dict[str, str]:
    """One palette colour per (escaped) budget label, in sorted order: the same in every figure."""
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(sorted(set(labels)))}


def _distinct(c: pd.DataFrame, column: str) -> list[str]:
    return sorted({str(v) for v in c.get(column, pd.Series(dtype=object)).dropna() if str(v) not in ("", "<NA>")})


def latency_unit(df: pd.DataFrame) -> str:
    """'ms (NVIDIA H100, batch 256, channels_last)', with '1 thread' and 'grouped convs merged' on a CPU:
    how the latency objective was timed, from the latency_* columns."""
    c = df[df["latency_ms"].notna()] if "latency_ms" in df else df
    devs = _distinct(c, "latency_device")
    batches = sorted({int(b) for b in c.get("latency_batch", pd.Series(dtype="Int64")).dropna()})
    parts = [", ".join(devs) if devs else "device not recorded",
             "batch " + ", ".join(str(b) for b in batches) if batches else "batch not recorded"]
    fmt = mixed_text(c, "latency_format", where=False)  # one format, or the main one and its exceptions
    parts += [fmt] if fmt else []
    threads = _distinct(c, "latency_threads")
    if threads and not any("thread" in d for d in devs):  # "cpu (1 thread)" already says it
        parts.append(f"{'/'.join(threads)} thread{'s' if threads != ['1'] else ''}")
    if any(m != "none" for m in _distinct(c, "latency_group_merge")):
        parts.append("narrow groups merged where faster")
    return f"ms ({', '.join(parts)})"


def layout(fig: go.Figure, *, x: str, y: str, xlog=False, height=HEIGHT, legend_title=None) -> go.Figure:
    fig.update_layout(  # the template is given to plotly express (setting it again costs a rebuild)
        height=height,
        margin=dict(l=70, r=30, t=30, b=60),
        hoverlabel=dict(align="left"),
        legend=dict(title=dict(text=legend_title or "")),
    )
    fig.update_xaxes(title_text=x, type="log" if xlog else None)
    fig.update_yaxes(title_text=y)
    return fit_titles(fig)


def wrap(text: str, width: int) -> str:
    """`text` broken at spaces into lines of at most `width` characters, joined by plotly's <br>."""
    lines: list[str] = []
    for word in str(text).split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def fit_titles(fig: go.Figure, *, width_px: int = NARROW_PX) -> go.Figure:
    """Wrap every axis title longer than its axis (at CHAR_PX a character; the page's figures are at
    least `width_px` wide), so none runs past the figure's edge; call it after the titles are set."""
    height = fig.layout.height or HEIGHT
    m = fig.layout.margin
    plot_h = height - (m.t if m.t is not None else 30) - (m.b if m.b is not None else 60)
    plot_w = width_px - (m.l if m.l is not None else 70) - (m.r if m.r is not None else 30)
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        text = axis.title.text
        if not text or "<br>" in text:
            continue
        span = axis.domain[1] - axis.domain[0] if axis.domain else 1.0
        room = int(span * (plot_w if axis.plotly_name.startswith("x") else plot_h) / CHAR_PX)
        if len(text) > room:
            axis.title.text = wrap(text, max(12, room))
    return fig


def segment_ticks(segments: pd.Series, max_ticks: int = 12) -> list[int]:
    vals = sorted({int(s) for s in segments.dropna() if s > 0})
    if len(vals) > max_ticks:
        step = math.ceil(len(vals) / max_ticks)
        vals = vals[::step] + ([vals[-1]] if vals[-1] not in vals[::step] else [])
    return vals


def percent_range(*arrays, pad: float = 2.0) -> list[float]:
    """A y range around the finite values, padded and clipped to 0-100 (accuracy in %)."""
    vals = pd.concat([pd.Series(a, dtype="float64") for a in arrays]).dropna()
    if vals.empty:
        return [0.0, 100.0]
    return [max(0.0, float(vals.min()) - pad), min(100.0, float(vals.max()) + pad)]
