"""reports in a real browser: headless Chromium opens the page from file:// with the network off and
every figure must draw, with no JavaScript error; the trials table sorts and filters; study text
cannot inject script; screenshots work. Skipped, with the reason, where no Chromium is installed."""
import json
import re
from pathlib import Path

import pytest

import reports
from reports.browser import find_chromium, render_dom
from reports.synthetic import write_hostile_study, write_synthetic_study

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


def _strip_scripts(dom: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", dom, flags=re.S | re.I)


def _open(page: Path, tmp_path: Path, extra_body: str = ""):
    """Open a copy of `page` with the error catcher (and `extra_body`) injected; DOM without scripts."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("<head>", "<head>" + CATCHER, 1)
    if extra_body:
        html = html.replace("</body>", extra_body + "</body>", 1)
    probe = tmp_path / ("probe-" + page.name)
    probe.write_text(html, encoding="utf-8")
    dom, console = render_dom(probe)
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


@pytest.fixture(scope="module")
def joint_report(tmp_path_factory):
    d = write_synthetic_study(tmp_path_factory.mktemp("b") / "joint", "middle", space="joint", fail_every=11)
    df, cfg = reports.load_study_dir(d)
    figs = reports.figures(df, cfg)
    return reports.write(df, cfg, d / "report.html"), figs, reports.tidy(df)


def test_every_figure_draws_offline_without_errors_and_table_works(joint_report, tmp_path):
    page, figs, t = joint_report
    n = sum(not isinstance(f, reports.NoData) for _, f in figs)
    assert n == 7
    dom, console = _open(page, tmp_path, TABLE_DRIVER)
    _check_drawn(dom, console, n)
    m = re.search(r'<pre id="table-check">(.*?)</pre>', dom, flags=re.S)
    assert m, "the table driver did not run"
    check = json.loads(m.group(1).replace("&quot;", '"'))
    assert check["first"] == pytest.approx(t["accuracy"].max(), rel=1e-5)  # sorted descending
    n_depthwise = int((t["region"] == "depthwise").sum())
    assert check["shown"] == n_depthwise and check["count"] == f"showing {n_depthwise} of {len(t)} trials"


def test_hostile_study_draws_and_runs_none_of_its_markup(tmp_path):
    d = write_hostile_study(tmp_path / "hostile")
    df, cfg = reports.load_study_dir(d)
    figs = reports.figures(df, cfg)
    n = sum(not isinstance(f, reports.NoData) for _, f in figs)
    assert n == 6  # the segments space: the order x nonlinearity section is a note
    page = reports.write(df, cfg, d / "report.html")
    dom, console = _open(page, tmp_path)
    _check_drawn(dom, console, n)
    opening = re.search(r"<html[^>]*>", dom).group(0)
    assert "pwned" not in opening, opening  # neither <script> nor <img onerror> ran
    assert "<img src=\"x\"" not in dom and "<img src=x" not in dom
    assert "&lt;script&gt;document.documentElement" in dom  # shown as text instead
    assert "does not vary the order or the nonlinearity" in dom  # the note is on the page


@pytest.mark.slow
def test_compare_page_draws(tmp_path):
    a = write_synthetic_study(tmp_path / "runs" / "a", "middle")
    b = write_synthetic_study(tmp_path / "runs" / "b", "end", space="nonlinearity")
    out = reports.write_compare([a, b])
    dom, console = _open(out, tmp_path)
    _check_drawn(dom, console, 6 + 7)


def test_screenshot_writes_png(joint_report, tmp_path):
    page, _, _ = joint_report
    png = reports.screenshot(page, tmp_path / "shot.png", 1000, 1400)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
