"""One study -> one self-contained HTML page (templates/report.html.j2; plotly.js inline, once).

Everything that comes from the study (names, labels, reasons, config values) is escaped by the
template (jinja2, autoescape on); URLs are shown with their passwords masked; the page loads
nothing from the network.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .compare import render_compare, write_compare
from .figures import sections
from .index import write_index
from .meta import header
from .model_view import model_view
from .tables import failed_trials, trials_table
from .templating import ensure_tidy, plotly_js, render_template, write_atomic
from verdict import study_verdict
from .verdict_view import verdict_view

# render_compare/write_compare (compare.py) and write_index (index.py) are re-exported here.
__all__ = ["render", "write", "render_compare", "write_compare", "write_index", "plotly_js"]


def render(df: pd.DataFrame, config: dict | None = None, v=None) -> str:
    """The report page of one study, as an HTML string; `v`: the study's verdict when already computed
    (else the one study_verdict gives, as verdict.json holds it)."""
    config = dict(config or {})
    df = ensure_tidy(df)
    v = study_verdict(df, config) if v is None else v
    head = header(df, config)
    return render_template(
        "report.html.j2",
        title=f"Inception spectrum: {head['name']}",
        head=head,
        verdict=verdict_view(v),
        model=model_view(config),
        sections=sections(df, config, v=v),
        trials=trials_table(df),
        failed=failed_trials(df),
    )


def write(df: pd.DataFrame, config: dict | None, path, v=None) -> Path:
    """Write the self-contained report of one study to `path` (parents created); return the Path."""
    return write_atomic(path, render(df, config, v))
