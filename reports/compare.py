"""Several studies side by side on one self-contained page (templates/compare.html.j2): one column
per study with its header, verdict and every figure, plus an overview table."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from records.table import completed, load_study_dir
from .figures import sections
from .meta import header
from .templating import ensure_tidy, render_template, write_atomic
from verdict import study_verdict
from .verdict_view import verdict_view

__all__ = ["render_compare", "write_compare"]


def render_compare(studies: list[tuple[str, pd.DataFrame, dict]], links: list[str | None] | None = None) -> str:
    """Side-by-side page: one column per study (name, tidy-or-raw df, config)."""
    links = links or [None] * len(studies)
    prepared = []
    for (name, df, cfg), link in zip(studies, links):
        cfg = dict(cfg or {})
        df = ensure_tidy(df)
        v = study_verdict(df, cfg)
        secs = sections(df, cfg, v=v)
        for s in secs:
            if s.figure is not None:
                s.figure.update_layout(height=420, legend=dict(font=dict(size=10)))
        prepared.append({
            "name": name, "link": link, "head": header(df, cfg), "verdict": verdict_view(v),
            "space": cfg.get("space", ""), "dataset": cfg.get("dataset", ""), "completed": len(completed(df)),
            "sections": {s.title: s for s in secs},
        })
    titles = list(dict.fromkeys(t for p in prepared for t in p["sections"]))
    rows = [(t, [p["sections"].get(t) for p in prepared]) for t in titles]
    return render_template(
        "compare.html.j2", title=f"Inception spectrum: comparison of {len(prepared)} studies", studies=prepared, rows=rows,
    )


def write_compare(dirs, out=None) -> Path:
    """Compare several study directories side by side; default output: first dir's parent/compare.html."""
    dirs = [Path(d) for d in dirs]
    out = Path(out) if out is not None else dirs[0].resolve().parent / "compare.html"
    studies, links = [], []
    for d in dirs:
        df, cfg = load_study_dir(d)
        studies.append((cfg.get("study_name") or d.name, df, cfg))
        rep = d / "report.html"
        links.append(os.path.relpath(rep.resolve(), out.resolve().parent) if rep.exists() else None)
    return write_atomic(out, render_compare(studies, links))
