"""ROOT/index.html: every study directory under ROOT (a folder holding trials.csv) with its name,
space, dataset, trial counts, verdict, storage (password masked), date and commit, plus the other
pages there (comparisons). Small: no plotly.js."""
from __future__ import annotations

from pathlib import Path

from records.table import load_study_dir, tidy
from common.mask import mask_config
from .meta import counts_text
from .templating import render_template, write_atomic
from verdict import study_verdict

__all__ = ["write_index", "study_dirs"]


def study_dirs(root: Path, depth: int = 2) -> list[Path]:
    """ROOT itself when it holds trials.csv, then every folder that does, up to `depth` levels down
    (hidden folders skipped), in path order."""
    root = Path(root)
    found = {p.parent for k in range(depth + 1) for p in root.glob("*/" * k + "trials.csv") if p.is_file()}
    rel = {d: d.relative_to(root).parts for d in found}
    return sorted((d for d in found if not any(part.startswith(".") for part in rel[d])), key=rel.get)


def _row(root: Path, d: Path) -> dict:
    rel = d.relative_to(root).as_posix() if d != root else "."
    has_report = (d / "report.html").exists()
    row = {"rel": rel, "link": f"{rel}/{'report.html' if has_report else 'trials.csv'}", "has_report": has_report}
    try:
        df, cfg = load_study_dir(d)
    except ValueError as e:
        return {**row, "error": str(e)}
    t = tidy(df)
    overall = study_verdict(t, cfg).overall
    cfg = mask_config(cfg)
    return {
        **row, "error": None, "name": cfg.get("study_name", ""), "space": cfg.get("space", ""),
        "dataset": cfg.get("dataset", ""), "counts": counts_text(t, keep=()) or "no trials",
        "overall": overall, "storage": cfg.get("storage", ""), "date": cfg.get("date", ""),
        "commit": str(cfg.get("git_commit", ""))[:12],
    }


def write_index(root) -> Path:
    """(Re)write ROOT/index.html linking every study directory under ROOT (and compare pages)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    rows = [_row(root, d) for d in study_dirs(root)]
    pages = sorted(p.name for p in root.glob("*.html") if p.name != "index.html" and p.is_file())
    text = render_template(
        "index.html.j2", title="Inception spectrum studies", with_plotly=False,
        root=root.name or str(root), rows=rows, pages=pages,
    )
    return write_atomic(root / "index.html", text)
