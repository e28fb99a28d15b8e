"""The jinja2 environment of the pages (templates/*.html.j2, autoescape on), the inlined plotly.js,
figures as HTML fragments, and the atomic page write.

Only two things reach a page unescaped: plotly.js itself and plotly's own figure fragments (whose
study text the figure code escaped before plotting). Everything else is escaped by jinja2.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from records.table import tidy

__all__ = ["render_template", "plotly_js", "figure_html", "write_atomic", "ensure_tidy"]

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_html(fig, div_id: str) -> Markup:
    """One figure as a <div> + <script> fragment (plotly.js is on the page once, in its head)."""
    return Markup(fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        default_height=f"{int(fig.layout.height or 470)}px",
        validate=False,
        config={"displaylogo": False, "responsive": True},
    ))


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure"] = figure_html
    env.filters["slug"] = lambda outcome: str(outcome).replace(" ", "-")
    return env


def render_template(name: str, *, title: str, with_plotly: bool = True, **context) -> str:
    """Render templates/`name` (a page extending base.html.j2) to a string."""
    js = Markup(plotly_js()) if with_plotly else None
    return _env().get_template(name).render(title=title, plotly_js=js, **context)


def write_atomic(path, text: str) -> Path:
    """Write through a temporary file, so a reader never sees half a page; return the Path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return p


def ensure_tidy(df: pd.DataFrame) -> pd.DataFrame:
    return df if ("point" in df.columns and "region" in df.columns) else tidy(df)
