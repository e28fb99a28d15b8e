"""reports in a real browser: headless Chromium opens the page from file:// with the network off and
every figure must draw, with no JavaScript error; the trials table sorts and filters; study text
cannot inject script; screenshots work. Skipped, with the reason, where no Chromium is installed."""
import html
import json
import re
import struct
from pathlib import Path

import pytest

import reports
from reports.browser import find_chromium, render_dom
from records.table import write_trial_tables
from records.synthetic import synthetic_config, synthetic_trials

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium not found (/usr/bin/chromium, $REPORTS_CHROMIUM or PATH): apt-get install chromium",
)

# Injected into a test copy of the page, before plotly.js: records every JavaScript error (uncaught
# exceptions, rejected promises, console.error) as an element the dumped DOM shows.
CATCHER = """<script>
(function () {
  function note(kind, msg) {
    var e = document.createElement('pre'); e.className = 'js-error'; e.textContent = kind + ': ' + msg;
    (document.body || document.documentElement).appendChild(e);
  }
  window.addEventListener('error', function (ev) { note('error', ev.message); });
  window.addEventListener('unhandledrejection', function (ev) { note('rejection', String(ev.reason)); });
  var ce = console.error; console.error = function () {
    note('console.error', Array.prototype.join.call(arguments, ' ')); return ce.apply(console, arguments); };
})();
</script>"""

# Drives the trials table like a user: sort by accuracy (twice: descending), filter on "depthwise".
TABLE_DRIVER = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var t = document.getElementById('trials'), heads = t.tHead.rows[0].cells, col = -1;
  for (var i = 0; i < heads.length; i++) if (heads[i].textContent.indexOf('val. accuracy') === 0) col = i;
  heads[col].click(); heads[col].click();
  var first = t.tBodies[0].rows[0].cells[col].getAttribute('data-v');
  var f = document.getElementById('trials-filter'); f.value = 'depthwise'; f.dispatchEvent(new Event('input'));
  var shown = 0; Array.prototype.forEach.call(t.tBodies[0].rows, function (r) { if (r.style.display !== 'none') shown++; });
  var out = document.createElement('pre'); out.id = 'table-check';
  out.textContent = JSON.stringify({first: parseFloat(first), shown: shown,
                                    count: document.getElementById('trials-count').textContent});
  document.body.appendChild(out);
}, 500); });
</script>"""


# Measures the laid-out page like a reader's eye: per figure, the boxes of the figure, its plot areas,
# axis titles, legend, colour bars, annotations and the hover label of its first point, its trace
# count and the section it sits in; and the header's environment and training lines.
GEOMETRY_PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  function box(el) { var r = el.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom, text: (el.textContent || '').trim()}; }
  function all(root, sel) { return Array.prototype.map.call(root.querySelectorAll(sel), box); }
  function section(div) { var e = div.closest('.fig') || div;
    while (e && e.tagName !== 'H2') e = e.previousElementSibling; return e ? e.textContent.trim() : ''; }
  var figs = Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot'), function (div) {
    var titles = Array.prototype.filter.call(div.querySelectorAll('.infolayer text'), function (t) {
      return /^[xy][0-9]*title$/.test(t.getAttribute('class') || ''); }).map(box);
    return {section: section(div), box: box(div.querySelector('svg.main-svg')), plots: all(div, 'rect.nsewdrag'),
            titles: titles, legends: all(div, '.legend rect.bg'), colorbars: all(div, '.colorbar'),
            annotations: all(div, '.annotation'), traces: div.querySelectorAll('.cartesianlayer .trace').length,
            names: Array.prototype.map.call(div.querySelectorAll('.legendtext'), function (t) { return t.textContent; }),
            hover: hovered(div)};
  });
  function hovered(div) {  /* the label a reader gets on the first point of the first trace */
    var t = div.data[0] || {};  /* its subplot: a faceted figure's first trace need not be on xy */
    Plotly.Fx.hover(div, [{curveNumber: 0, pointNumber: 0}], (t.xaxis || 'x') + (t.yaxis || 'y'));
    var h = div.querySelector('.hoverlayer .hovertext'), b = h ? box(h) : null;
    Plotly.Fx.unhover(div); return b; }
  var rows = {};
  Array.prototype.forEach.call(document.querySelectorAll('header > dl.meta > dt'), function (dt) {
    var dd = dt.nextElementSibling, line = dd.querySelector('.env-line');
    rows[dt.textContent.trim()] = (line || dd).textContent.trim(); });
  var out = document.createElement('pre'); out.id = 'geometry';
  out.textContent = JSON.stringify({figures: figs, header: rows});
  document.body.appendChild(out);
}, 800); });
</script>"""


def _strip_scripts(dom: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", dom, flags=re.S | re.I)


def _open(page: Path, tmp_path: Path, extra_body: str = "", width: int = 1400):
    """Open a copy of `page` in a `width`-wide window with the error catcher (and `extra_body`)
    injected; DOM without scripts."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("<head>", "<head>" + CATCHER, 1)
    if extra_body:
        html = html.replace("</body>", extra_body + "</body>", 1)
    probe = tmp_path / ("probe-" + page.name)
    probe.write_text(html, encoding="utf-8")
    dom, console = render_dom(probe, width=width)
    return _strip_scripts(dom), console


def _check_drawn(dom: str, console: list[str], n_figures: int):
    errors = re.findall(r'<pre class="js-error">(.*?)</pre>', dom, flags=re.S)
    assert not errors, errors
    assert not [c for c in console if "Uncaught" in c or "Error" in c], console
    assert dom.count('class="plotly-graph-div') == n_figures
    # plotly.js turns each div into a drawn plot: a plot-container with its main SVG layers
    assert dom.count('class="plot-container plotly"') == n_figures
    assert dom.count('class="main-svg"') >= 2 * n_figures
    assert dom.count('class="plotly-graph-div js-plotly-plot"') == n_figures  # plotly.js took every div
    # and actually drew data: at least one trace group per figure
    assert dom.count('class="trace scatter') >= n_figures


def _geometry(dom: str) -> dict:
    m = re.search(r'<pre id="geometry">(.*?)</pre>', dom, flags=re.S)
    assert m, "the geometry probe did not run"
    return json.loads(html.unescape(m.group(1)))


def _inside(inner: dict, outer: dict, tol: float = 1.0) -> bool:
    return (inner["l"] >= outer["l"] - tol and inner["t"] >= outer["t"] - tol
            and inner["r"] <= outer["r"] + tol and inner["b"] <= outer["b"] + tol)


def _overlap(a: dict, b: dict, tol: float = 1.0) -> bool:
    return min(a["r"], b["r"]) - max(a["l"], b["l"]) > tol and min(a["b"], b["b"]) - max(a["t"], b["t"]) > tol


def _check_laid_out(figures: list[dict]):
    """No axis title, legend, colour bar, annotation or hover label runs past its figure's edge (cut
    off), and no axis title, legend or colour bar lies on a plot area (hiding data)."""
    assert figures
    for f in figures:
        assert f["titles"] and f["plots"] and f["hover"], f["section"]
        assert _inside(f["hover"], f["box"]), (f["section"], "hover label", f["hover"], f["box"])
        for kind in ("titles", "legends", "colorbars", "annotations"):
            for b in f[kind]:
                assert _inside(b, f["box"]), (f["section"], kind, b["text"], b, f["box"])
        for b in f["titles"] + f["legends"] + f["colorbars"]:
            for p in f["plots"]:
                assert not _overlap(b, p), (f["section"], b["text"], "lies on a plot area", b, p)


READER_ENV = {  # shaped like common.environment's record on a CPU (cuda and cudnn absent there)
    "device": "cpu (2 threads)", "device_name": "AMD EPYC 7763", "device_type": "cpu", "cpu": "AMD EPYC 7763",
    "torch": "2.5.1+cpu", "triton": "3.1.0", "fvcore": "0.1.5", "cuda": None, "cudnn": None, "torch_threads": 2,
    "python": "3.11.7", "platform": "Linux-6.1-x86_64", "git_commit": "ab" * 20, "git_dirty": False,
    "date": "2025-01-01T00:00:00+00:00", "optuna": "4.1.0",
}


@pytest.fixture(scope="module")
def reader_study(tmp_path_factory):
    """A segments study (two budgets) written as the runner writes one, with what a real CPU run records:
    the environment, two workers of one thread, the depthwise end trained and timed in NCHW, and some
    narrow groups merged (which makes the latency unit as long as a real study's)."""
    raw = synthetic_trials("middle", seeds=2)
    nchw, merged = raw["position"] == "depthwise", raw["segments"] == 4
    raw = raw.assign(memory_format=raw["position"].where(nchw, "channels_last").where(~nchw, "nchw"),
                     latency_threads=1, latency_device="cpu (1 thread)",
                     group_merge=merged.map({True: "16->4 x2", False: "none"}))
    raw["latency_format"], raw["latency_group_merge"] = raw["memory_format"], raw["group_merge"]
    d = tmp_path_factory.mktemp("reader") / "segments"
    d.mkdir()
    write_trial_tables(raw, d)
    cfg = synthetic_config(study_name="segments", environment=READER_ENV, workers=2)
    (d / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    df, cfg = reports.load_study_dir(d)
    return reports.write(df, cfg, d / "report.html"), reports.tidy(df)


def test_every_figure_draws_offline_without_errors_and_table_works(joint_page, tmp_path):
    page, figs, t = joint_page.page, joint_page.figures, joint_page.tidy
    n = sum(not isinstance(f, reports.NoData) for _, f in figs)
    assert n == 7
    dom, console = _open(page, tmp_path, TABLE_DRIVER + GEOMETRY_PROBE)
    _check_drawn(dom, console, n)
    _check_laid_out(_geometry(dom)["figures"])
    m = re.search(r'<pre id="table-check">(.*?)</pre>', dom, flags=re.S)
    assert m, "the table driver did not run"
    check = json.loads(m.group(1).replace("&quot;", '"'))
    assert check["first"] == pytest.approx(t["accuracy"].max(), rel=1e-5)  # sorted descending
    n_depthwise = int((t["region"] == "depthwise").sum())
    assert check["shown"] == n_depthwise and check["count"] == f"showing {n_depthwise} of {len(t)} trials"


def test_hostile_study_draws_and_runs_none_of_its_markup(hostile_page, tmp_path):
    n = sum(not isinstance(f, reports.NoData) for _, f in hostile_page.figures)
    assert n == 6  # the segments space: the order x nonlinearity section is a note
    dom, console = _open(hostile_page.page, tmp_path)
    _check_drawn(dom, console, n)
    opening = re.search(r"<html[^>]*>", dom).group(0)
    assert "pwned" not in opening, opening  # neither <script> nor <img onerror> ran
    assert "<img src=\"x\"" not in dom and "<img src=x" not in dom
    assert "&lt;script&gt;document.documentElement" in dom  # shown as text instead
    assert "does not vary the order or the nonlinearity" in dom  # the note is on the page


@pytest.mark.slow
def test_compare_page_draws(compared_runs, tmp_path):
    dom, console = _open(compared_runs.page, tmp_path)
    _check_drawn(dom, console, 6 + 7)


def test_the_page_reads_cleanly_at_a_laptop_width(reader_study, tmp_path):
    """At 1000 px nothing is cut off or hides data; the error EDFs draw one curve per region and
    budget; the environment is one line without a 'None'; the training format is stated once."""
    page, t = reader_study
    dom, console = _open(page, tmp_path, GEOMETRY_PROBE, width=1000)
    geometry = _geometry(dom)
    figures = geometry["figures"]
    _check_drawn(dom, console, len(figures))
    _check_laid_out(figures)
    (edf,) = [f for f in figures if f["section"].startswith("Error EDFs")]
    done = t[t["state"] == "COMPLETE"]
    assert edf["traces"] == len(done.groupby(["region", "budget_label"])) == 6  # 3 regions x 2 budgets
    assert sorted(edf["names"]) == ["depthwise", "intermediate", "regular"]
    assert sorted(a["text"] for a in edf["annotations"]) == [f"matched budget {b}" for b in sorted(done["budget_label"].unique())]
    head = geometry["header"]
    env = head["environment"]
    assert "None" not in env and "null" not in env, env
    for part in ("CPU AMD EPYC 7763", "2 workers × 1 thread each", "torch 2.5.1+cpu", "optuna 4.1.0", "triton 3.1.0",
                 "Python 3.11.7"):
        assert part in env, (part, env)
    n_nchw = int((t["position"] == "depthwise").sum())
    assert head["training"].count("channels_last") == 1 and head["training"].count("nchw") == 1, head["training"]
    assert f"channels_last, except nchw in {n_nchw} of {len(t)} trials (depthwise)" in head["training"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_screenshot_writes_png(reader_study, tmp_path):
    page, _ = reader_study
    # in pytest's tmp folder, kept to look at with -o tmp_path_retention_policy=all (pyproject keeps failures')
    png = reports.screenshot(page, tmp_path / "shot.png", 1400, 3000)
    data = png.read_bytes()
    assert _png_size(data) == (1400, 3000) and len(data) > 100_000
