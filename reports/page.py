"""Figures + verdict + trials table -> one self-contained HTML page (plotly.js inline, once).

Everything that comes from the study (names, labels, reasons, config values) is HTML-escaped here;
the page loads nothing from the network.
"""
from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import pandas as pd

from .data import COLUMNS, STATES, human_count, load_study_dir, tidy
from .figures import Section, sections
from .verdict import Verdict, verdict

__all__ = ["write", "render", "write_compare", "render_compare", "write_index", "plotly_js"]

_PLOTLY_JS: str | None = None


def plotly_js() -> str:
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        from plotly.offline import get_plotlyjs

        _PLOTLY_JS = get_plotlyjs()
    return _PLOTLY_JS


def esc(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return html.escape(str(v), quote=True)


CSS = """
:root { --fg:#1b1f24; --muted:#5b6470; --line:#d9dee4; --bg:#fff; --soft:#f5f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 4px 0 12px; } h2 { font-size: 18px; margin: 28px 0 6px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 14px 0 4px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.cmd { background: var(--soft); padding: 6px 8px; border-radius: 4px; display: block; white-space: pre-wrap;
       word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; word-break: break-word; }
.caption { color: var(--muted); margin: 2px 0 6px; max-width: 100ch; }
.nodata { background: var(--soft); border: 1px dashed #aab; padding: 18px; color: #333; border-radius: 4px; }
.verdict { border-left: 5px solid #888; background: var(--soft); padding: 10px 14px; border-radius: 4px; }
.verdict.intermediate-better { border-color: #1f77b4; } .verdict.end-better { border-color: #d62728; }
.verdict .headline { font-weight: 600; font-size: 15px; margin: 0 0 6px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; background: #e4e7eb; }
.badge.intermediate-better { background: #d6e6f5; } .badge.end-better { background: #f7d9d9; }
table.data { border-collapse: collapse; font-size: 12.5px; margin: 4px 0; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left;
       vertical-align: top; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
#trials-wrap { max-height: 70vh; overflow: auto; border: 1px solid var(--line); }
#trials thead th { position: sticky; top: 0; background: #eef1f4; cursor: pointer; white-space: nowrap; }
#trials thead th[aria-sort=ascending]::after { content: " \\25B2"; }
#trials thead th[aria-sort=descending]::after { content: " \\25BC"; }
#trials tr.FAIL td { background: #fff3f3; }
#trials td { white-space: nowrap; }
#trials td:last-child { white-space: normal; min-width: 24em; }
.controls { margin: 6px 0; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.controls input { width: 28em; padding: 3px 6px; }
nav.toc { display: flex; flex-wrap: wrap; gap: 2px 14px; margin: 8px 0; }
nav.toc a { white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
.grid { display: grid; gap: 12px 18px; }
.grid > div { min-width: 0; }
.fig { min-height: 120px; }
"""

TABLE_JS = """
(function () {
  var table = document.getElementById('trials');
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = table.tHead.rows[0].cells;
  var filter = document.getElementById('trials-filter');
  var state = document.getElementById('trials-state');
  var count = document.getElementById('trials-count');
  rows.forEach(function (r) { r._text = r.textContent.toLowerCase(); });
  function key(r, i) {
    var c = r.cells[i], v = c.getAttribute('data-v');
    if (v !== null && v !== '') { var n = parseFloat(v); if (!isNaN(n)) return n; }
    return c.textContent.toLowerCase();
  }
  function sortBy(i) {
    var h = heads[i], dir = h.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    for (var k = 0; k < heads.length; k++) heads[k].removeAttribute('aria-sort');
    h.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      var ex = (x === ''), ey = (y === '');
      if (ex || ey) return ex === ey ? 0 : (ex ? 1 : -1);  /* blanks last either way */
      if (typeof x !== typeof y) return (typeof x === 'number' ? -1 : 1) * dir;
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    var f = document.createDocumentFragment();
    rows.forEach(function (r) { f.appendChild(r); });
    body.appendChild(f);
  }
  function apply() {
    var terms = filter.value.toLowerCase().split(/\\s+/).filter(Boolean), s = state.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!s || r.getAttribute('data-state') === s) &&
               terms.every(function (t) { return r._text.indexOf(t) >= 0; });
      r.style.display = ok ? '' : 'none'; if (ok) n++;
    });
    count.textContent = 'showing ' + n + ' of ' + rows.length + ' trials';
  }
  for (var i = 0; i < heads.length; i++) {
    (function (j) { heads[j].addEventListener('click', function () { sortBy(j); }); })(i);
  }
  filter.addEventListener('input', apply);
  state.addEventListener('change', apply);
  apply();
})();
"""


# ------------------------------------------------------------------------------------------
# pieces


def _state_counts(df: pd.DataFrame) -> dict[str, int]:
    counts = df["state"].value_counts().to_dict() if "state" in df else {}
    out = {s: int(counts.pop(s, 0)) for s in STATES}
    out.update({str(k): int(v) for k, v in counts.items()})
    return out


def _fmt_budget(config: dict, df: pd.DataFrame) -> str:
    match = config.get("match")
    budgets = config.get("budgets")
    parts = []
    if match:
        parts.append(f"match {match}")
    if isinstance(budgets, (list, tuple)) and budgets:
        parts.append(
            "budgets " + ", ".join(human_count(b) if isinstance(b, (int, float)) else str(b) for b in budgets)
        )
    done = df[df["state"] == "COMPLETE"] if "state" in df else df  # a skipped duplicate has no budget
    labels = sorted({b for b in done.get("budget_label", []) if isinstance(b, str) and b})
    if labels:
        parts.append("groups in the data: " + ", ".join(labels))
    return "; ".join(parts) or "not recorded"


def _env_html(env) -> str:
    if not isinstance(env, dict) or not env:
        return esc(env) if env else "not recorded"
    items = []
    for k, v in env.items():
        val = json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else v
        items.append(f"<dt>{esc(k)}</dt><dd>{esc(val)}</dd>")
    return f'<dl class="meta">{"".join(items)}</dl>'


def _first(config: dict, key: str, df: pd.DataFrame, col: str | None = None):
    v = config.get(key)
    if v not in (None, "", []):
        return v
    col = col or key
    if col in df and df[col].astype(str).str.len().gt(0).any():
        vals = sorted({str(x) for x in df[col] if isinstance(x, str) and x})
        return ", ".join(vals)
    return None


def header_html(df: pd.DataFrame, config: dict, *, level: int = 1, title: str | None = None) -> str:
    name = config.get("study_name") or "unnamed study"
    space = _first(config, "space", df) or "not recorded"
    counts = _state_counts(df)
    total = sum(counts.values())
    count_txt = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("COMPLETE", "FAIL"))
    dev = _first(config, "device", df)
    backend = _first(config, "backend", df)
    seeds = config.get("seeds")
    rows = [
        ("space", esc(space)),
        ("command", f'<code class="cmd">{esc(config.get("command") or "not recorded")}</code>'),
        ("dataset", esc(_first(config, "dataset", df) or "not recorded")),
        ("budget", esc(_fmt_budget(config, df))),
        ("training", esc(
            ", ".join(
                x for x in (
                    f"{config['epochs']} epochs" if config.get("epochs") is not None else "",
                    f"batch size {config['batch_size']}" if config.get("batch_size") is not None else "",
                    f"seeds {seeds}" if seeds not in (None, "", []) else "",
                ) if x
            ) or "not recorded"
        )),
        ("device", esc(", ".join(str(x) for x in (dev, f"backend {backend}" if backend else None) if x) or "not recorded")),
        ("environment", _env_html(config.get("environment"))),
        ("trials", esc(f"{total} in all: {count_txt}")),
        ("storage", esc(config.get("storage") or "not recorded")),
        ("date", esc(config.get("date") or "not recorded")),
        ("git commit", f'<code>{esc(config.get("git_commit") or "not recorded")}</code>'),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    t = title if title is not None else f"Inception spectrum study: {esc(name)}"
    return f"<h{level}>{t}</h{level}>\n<dl class=\"meta\">{dl}</dl>"


def _slug(outcome: str) -> str:
    return outcome.replace(" ", "-")


def verdict_html(v: Verdict) -> str:
    parts = [f'<div class="verdict {_slug(v.overall)}">', f'<p class="headline">{esc(v.headline)}</p>']
    if v.pareto_sentence:
        parts.append(f"<p>{esc(v.pareto_sentence)}</p>")
    if v.budgets:
        parts.append("<ul>")
        for b in v.budgets:
            parts.append(f'<li><span class="badge {_slug(b.outcome)}">{esc(b.outcome)}</span> {esc(b.reason)}</li>')
        parts.append("</ul>")
        rows = []
        for b in v.budgets:
            ci = (
                f"{100 * b.ci_low:+.2f} to {100 * b.ci_high:+.2f}"
                if b.ci_low is not None and b.ci_high is not None
                else "n/a"
            )
            rows.append(
                "<tr>"
                f"<td>{esc(b.budget_label)}</td><td>{esc(b.intermediate or '-')}</td>"
                f"<td class=num>{'' if b.intermediate_accuracy is None else f'{100 * b.intermediate_accuracy:.2f}'}</td>"
                f"<td>{esc(b.end or '-')}</td>"
                f"<td class=num>{'' if b.end_accuracy is None else f'{100 * b.end_accuracy:.2f}'}</td>"
                f"<td class=num>{'' if b.difference is None else f'{100 * b.difference:+.2f}'}</td>"
                f"<td class=num>{ci}</td><td>{esc(b.outcome)}</td></tr>"
            )
        parts.append(
            '<div class="scroll"><table class="data"><thead><tr><th>matched budget</th><th>best intermediate point</th>'
            "<th>accuracy (%)</th><th>better end</th><th>accuracy (%)</th><th>difference (points)</th>"
            f"<th>{int(round(100 * v.confidence))}% CI (points)</th><th>outcome</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )
    if v.method_note:
        parts.append(f'<p class="caption">{esc(v.method_note)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _table_html(t: pd.DataFrame) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in t.itertuples(index=False))
    return f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def figure_html(fig, div_id: str) -> str:
    h = int(fig.layout.height or 470)
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        default_height=f"{h}px",
        validate=False,
        config={"displaylogo": False, "responsive": True},
    )


def section_html(s: Section, div_id: str, *, anchor: str | None = None, level: int = 2, tables: bool = True) -> str:
    out = [f'<h{level} id="{esc(anchor)}">{esc(s.title)}</h{level}>' if anchor else f"<h{level}>{esc(s.title)}</h{level}>"]
    if s.figure is not None:
        if s.caption:
            out.append(f'<p class="caption">{esc(s.caption)}</p>')
        out.append(f'<div class="fig">{figure_html(s.figure, div_id)}</div>')
        if tables and s.table is not None and not s.table.empty:
            out.append(f"<h3>{esc(s.table_title)} ({len(s.table)})</h3>{_table_html(s.table)}")
    else:
        out.append(f'<div class="nodata">{esc(s.note.reason if s.note else "No data.")}</div>')
    return "\n".join(out)


_TABLE_COLS = [
    ("number", "#"), ("state", "state"), ("region", "region"), ("position", "position"), ("segments", "segments"),
    ("base_width", "base width"), ("group_width", "group width"), ("order", "order"), ("activation", "activation"),
    ("kernel_size", "kernel"), ("intermediate_norm", "norm"), ("budget_label", "budget"), ("seed", "seed"),
    ("params", "params"), ("macs", "MACs"), ("latency_ms", "latency (ms)"), ("accuracy", "accuracy (%)"),
    ("epochs", "epochs"), ("train_time_s", "train (s)"), ("duration_s", "trial (s)"), ("widths", "widths"),
    ("backend", "backend"), ("fail_reason", "fail reason"),
]


def _cell(col: str, v) -> str:
    kind = COLUMNS.get(col, "str")
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return '<td data-v=""></td>'
    if col == "accuracy":
        return f'<td class=num data-v="{v:.6g}">{100 * v:.2f}</td>'
    if col in ("params", "macs"):
        return f'<td class=num data-v="{int(v)}">{int(v):,}</td>'
    if kind == "float":
        return f'<td class=num data-v="{v:.6g}">{v:.3g}</td>'
    if kind == "int":
        return f'<td class=num data-v="{int(v)}">{int(v)}</td>'
    if kind == "list":
        return f"<td>{esc(json.dumps(v))}</td>"
    return f"<td>{esc(v)}</td>"


def trials_table_html(df: pd.DataFrame) -> str:
    missing = set(df.attrs.get("missing_columns", ()))
    cols = [(c, h) for c, h in _TABLE_COLS if c not in missing or c == "region"]
    head = "".join(f'<th title="click to sort">{esc(h)}</th>' for _, h in cols)
    lines = []
    data = df[[c for c, _ in cols]]
    for row in data.itertuples(index=False, name=None):
        st = row[1] if cols[1][0] == "state" else ""
        cells = "".join(_cell(c, v) for (c, _), v in zip(cols, row))
        lines.append(f'<tr class="{esc(st)}" data-state="{esc(st)}">{cells}</tr>')
    states = [s for s, n in _state_counts(df).items() if n]
    opts = '<option value="">all states</option>' + "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in states)
    return (
        '<div class="controls"><input id="trials-filter" type="search" '
        'placeholder="filter: words that must all appear in a row, e.g. depthwise relu"> '
        f'<select id="trials-state">{opts}</select> <span id="trials-count"></span> '
        '<span class="caption">click a column header to sort</span></div>'
        f'<div id="trials-wrap"><table id="trials" class="data"><thead><tr>{head}</tr></thead><tbody>'
        + "\n".join(lines)
        + "</tbody></table></div>"
    )


def failed_html(df: pd.DataFrame) -> str:
    f = df[df["state"] == "FAIL"]
    if f.empty:
        return '<p class="caption">No failed trials.</p>'
    items = "".join(
        f"<li>trial {esc(n)} ({esc(pos)}, seed {esc(seed)}): <span class=mono>{esc(r or 'no reason recorded')}</span></li>"
        for n, pos, seed, r in zip(f["number"], f["position"], f["seed"], f["fail_reason"])
    )
    return f"<ul>{items}</ul>"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f"<script>{plotly_js()}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _ensure_tidy(df: pd.DataFrame) -> pd.DataFrame:
    return df if ("point" in df.columns and "region" in df.columns) else tidy(df)


# ------------------------------------------------------------------------------------------
# one study


def render(df: pd.DataFrame, config: dict | None = None) -> str:
    """The report page of one study, as an HTML string."""
    config = dict(config or {})
    df = _ensure_tidy(df)
    v = verdict(df)
    secs = sections(df, config)
    toc = ['<a href="#verdict">verdict</a>'] + [
        f'<a href="#s{i}">{esc(s.title.split(":")[0])}</a>' for i, s in enumerate(secs, 1)
    ] + ['<a href="#trials-section">all trials</a>', '<a href="#failed">failed trials</a>']
    body = [
        "<header>" + header_html(df, config) + "</header>",
        f'<nav class="toc">{"".join(toc)}</nav>',
        '<h2 id="verdict">Verdict</h2>',
        verdict_html(v),
    ]
    for i, s in enumerate(secs, 1):
        body.append(section_html(s, f"fig-{i}", anchor=f"s{i}"))
    body.append(f'<h2 id="trials-section">All trials ({len(df)})</h2>')
    body.append(trials_table_html(df))
    n_fail = int((df["state"] == "FAIL").sum())
    body.append(f'<h2 id="failed">Failed trials ({n_fail})</h2>')
    body.append(failed_html(df))
    body.append(f"<script>{TABLE_JS}</script>")
    name = config.get("study_name") or "unnamed study"
    return _page(f"Inception spectrum: {name}", "\n".join(body))


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file, so a reader never sees half a page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write(df: pd.DataFrame, config: dict | None, path) -> Path:
    """Write the self-contained report of one study to `path` (parents created); return the Path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = render(df, config)
    _write_atomic(p, text)
    return p


# ------------------------------------------------------------------------------------------
# several studies side by side


def render_compare(studies: list[tuple[str, pd.DataFrame, dict]], links: list[str | None] | None = None) -> str:
    """Side-by-side page: one column per study (name, tidy-or-raw df, config)."""
    links = links or [None] * len(studies)
    prepared = []
    for name, df, cfg in studies:
        df = _ensure_tidy(df)
        prepared.append((name, df, cfg or {}, verdict(df), sections(df, cfg)))
    n = len(prepared)
    cols = f"grid-template-columns: repeat({n}, minmax(0, 1fr));"
    body = ["<h1>Inception spectrum: comparison of " + str(n) + " studies</h1>"]
    # overview table
    rows = []
    for (name, df, cfg, v, _), link in zip(prepared, links):
        label = f'<a href="{esc(link)}">{esc(name)}</a>' if link else esc(name)
        rows.append(
            f"<tr><td>{label}</td><td>{esc(cfg.get('space', ''))}</td><td>{esc(cfg.get('dataset', ''))}</td>"
            f"<td class=num>{v.n_completed}</td><td>{esc(v.overall)}</td>"
            f"<td class=num>{v.pareto_intermediate} of {v.pareto_points}</td></tr>"
        )
    body.append(
        '<table class="data"><thead><tr><th>study</th><th>space</th><th>dataset</th><th>completed</th>'
        "<th>verdict</th><th>intermediate Pareto points</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )

    def row(cells: list[str]) -> str:
        return f'<div class="grid" style="{cols}">' + "".join(f"<div>{c}</div>" for c in cells) + "</div>"

    heads = []
    for (name, df, cfg, v, _), link in zip(prepared, links):
        t = f'<a href="{esc(link)}">{esc(name)}</a>' if link else esc(name)
        heads.append(header_html(df, cfg, level=2, title=t))
    body.append(row(heads))
    body.append("<h2>Verdict</h2>")
    body.append(row([verdict_html(v) for *_, v, _ in prepared]))
    titles: list[str] = []
    for *_, secs in prepared:
        for s in secs:
            if s.title not in titles:
                titles.append(s.title)
    for k, title in enumerate(titles, 1):
        body.append(f"<h2>{esc(title)}</h2>")
        cells = []
        for j, (*_, secs) in enumerate(prepared):
            s = next((s for s in secs if s.title == title), None)
            if s is None:
                cells.append('<div class="nodata">Not in this study.</div>')
                continue
            if s.figure is not None:
                s.figure.update_layout(height=420, legend=dict(font=dict(size=10)))
            html_s = section_html(s, f"fig-{j + 1}-{k}", level=3, tables=False)
            cells.append(html_s.split("\n", 1)[1] if "\n" in html_s else html_s)
        body.append(row(cells))
    return _page(f"Inception spectrum: comparison of {n} studies", "\n".join(body))


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
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render_compare(studies, links)
    _write_atomic(out, text)
    return out


# ------------------------------------------------------------------------------------------
# index of every study under a folder


def _study_dirs(root: Path, depth: int = 2) -> list[Path]:
    found = []
    if (root / "trials.csv").is_file():
        found.append(root)

    def walk(d: Path, level: int):
        if level > depth:
            return
        try:
            children = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for c in children:
            if (c / "trials.csv").is_file():
                found.append(c)
            walk(c, level + 1)

    walk(root, 1)
    return found


def write_index(root) -> Path:
    """(Re)write ROOT/index.html linking every study directory under ROOT (and compare pages)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    rows = []
    for d in _study_dirs(root):
        rel = d.relative_to(root).as_posix() if d != root else "."
        rep = d / "report.html"
        link = f"{rel}/report.html" if rep.exists() else f"{rel}/trials.csv"
        try:
            df, cfg = load_study_dir(d)
            t = tidy(df)
            v = verdict(t)
            counts = _state_counts(t)
            cnt = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trials"
            rows.append(
                f'<tr><td><a href="{esc(link)}">{esc(rel)}</a>{"" if rep.exists() else " (no report yet)"}</td>'
                f"<td>{esc(cfg.get('study_name', ''))}</td><td>{esc(cfg.get('space', ''))}</td>"
                f"<td>{esc(cfg.get('dataset', ''))}</td><td>{esc(cnt)}</td><td>{esc(v.overall)}</td>"
                f"<td>{esc(cfg.get('date', ''))}</td><td><code>{esc(str(cfg.get('git_commit', ''))[:12])}</code></td></tr>"
            )
        except ValueError as e:
            rows.append(
                f'<tr><td><a href="{esc(link)}">{esc(rel)}</a></td><td colspan="7">unreadable: {esc(e)}</td></tr>'
            )
    compares = sorted(p for p in root.glob("*.html") if p.name not in ("index.html",) and p.is_file())
    body = [f"<h1>Inception spectrum studies under {esc(root.name or str(root))}</h1>"]
    if rows:
        body.append(
            '<table class="data"><thead><tr><th>study</th><th>name</th><th>space</th><th>dataset</th>'
            "<th>trials</th><th>verdict</th><th>date</th><th>commit</th></tr></thead><tbody>"
            + "\n".join(rows)
            + "</tbody></table>"
        )
    else:
        body.append('<p class="nodata">No study directory (a folder holding trials.csv) here yet.</p>')
    if compares:
        body.append("<h2>Other pages</h2><ul>" + "".join(f'<li><a href="{esc(p.name)}">{esc(p.name)}</a></li>' for p in compares) + "</ul>")
    text = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>Inception spectrum studies</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    out = root / "index.html"
    _write_atomic(out, text)
    return out
