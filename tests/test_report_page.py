"""reports: figures, the HTML page (escaping, self-contained), comparison and index pages, the CLI."""
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from markupsafe import escape

import reports
import reports.__main__ as reports_main
from records import record
from common.mask import mask_secrets
from records.synthetic import synthetic_config, synthetic_trials, write_synthetic_study

ROOT = Path(__file__).resolve().parents[1]
SECRET = "S3cr:et/pw"
STORAGE = f"postgresql://user:{SECRET}@db.example.com:5432/optuna"


def _run_cli(*args):
    """`python -m reports ARGS` in this process (fast): a CompletedProcess-like result."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = reports_main.main([str(a) for a in args])
        except SystemExit as e:
            rc = e.code
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def _run_cli_subprocess(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "reports", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=120,
    )


def test_figures_titles_types_and_units(joint_page):
    figs = joint_page.figures
    assert [title for title, _ in figs][:3] == ["Accuracy vs MACs", "Accuracy vs parameters", "Accuracy vs latency"]
    assert len(figs) == 7 and all(isinstance(f, go.Figure) for _, f in figs)
    axes = []
    for _, f in figs:
        for ax in [a for a in dir(f.layout) if a.startswith(("xaxis", "yaxis"))]:
            title = f.layout[ax].title.text
            assert title, f"unlabelled axis {ax}"
            axes.append(title)
    text = " | ".join(axes)
    assert "MACs (multiply-accumulates" in text and "FLOP" not in text
    assert "latency, ms (cpu (2 threads), batch 64)" in text
    assert "validation accuracy (%)" in text and "segment count" in text and "epoch" in text


def test_figures_say_why_when_no_data():
    t = reports.tidy(synthetic_trials("middle"))  # segments space: order and activation fixed
    figs = dict(reports.figures(t, {}))
    note = figs["Order × nonlinearity: validation accuracy per epoch"]
    assert isinstance(note, reports.NoData) and "does not vary the order or the nonlinearity" in str(note)
    empty = reports.figures(reports.tidy(synthetic_trials("middle").iloc[:0]), {})
    assert all(isinstance(f, reports.NoData) and "no trials" in f.reason for _, f in empty)


def test_write_is_self_contained_and_plotly_once(joint_page, tmp_path):
    p = joint_page.page
    html = p.read_text(encoding="utf-8")
    assert p.name == "report.html" and html.startswith("<!DOCTYPE html>")
    assert html.count("plotly.js v") == 1  # the library header, inlined once
    assert html.count('class="plotly-graph-div"') == 7
    ours = html.replace(reports.page.plotly_js(), "")  # the page minus the inlined library
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", ours)  # nothing fetched from the network
    assert "cdn.plot.ly" not in ours and "mathjax" not in ours.lower()
    assert 3e6 < len(html) < 12e6
    for s in ("Verdict", "python run_study.py --space joint", "COMPLETE", "git commit", "Pareto-front points",
              "Failed trials", 'id="trials"', "RuntimeError: CUDA out of memory (synthetic)"):
        assert s in html, s
    # raw (untidy) frames are accepted too and give the same page
    assert reports.write(synthetic_trials("middle", space="joint", fail_every=9), synthetic_config("joint"),
                         tmp_path / "raw.html").read_text(encoding="utf-8") == html


def test_everything_from_the_study_is_escaped(hostile_page):
    html = hostile_page.page.read_text(encoding="utf-8")
    # no markup from the study survives as markup: neither in the page nor in the figures' JSON
    assert "<script>document" not in html and "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;document.documentElement" in html  # shown as text
    assert "&lt;img src=x onerror=" in html
    assert "x&lt;script&gt;" in html  # the study name in the header


def test_compare_and_index(compared_runs):
    runs, out = compared_runs.runs, compared_runs.page
    assert out == runs.resolve() / "compare.html"
    html = out.read_text(encoding="utf-8")
    assert html.count("plotly.js v") == 1
    assert html.count('class="plotly-graph-div"') == 6 + 7  # segments: 6 figures + 1 note; joint: 7
    assert 'href="segments/report.html"' in html and "intermediate better" in html and "Exploratory" in html
    idx = reports.write_index(runs)
    text = idx.read_text(encoding="utf-8")
    assert idx == runs / "index.html"
    assert 'href="segments/report.html"' in text and 'href="joint/trials.csv"' in text  # no report yet for joint
    assert 'href="compare.html"' in text and "junk" not in text
    assert "plotly.js" not in text  # the index is small


def test_cli_one_dir_writes_report_and_index(tmp_path):
    d = write_synthetic_study(tmp_path / "runs" / "s1", "middle")
    cp = _run_cli(d)
    assert cp.returncode == 0, cp.stderr
    assert (d / "report.html").is_file() and (tmp_path / "runs" / "index.html").is_file()
    assert str(d / "report.html") in cp.stdout


def test_cli_several_dirs_compare_with_out(tmp_path):
    a = write_synthetic_study(tmp_path / "runs" / "a", "middle")
    b = write_synthetic_study(tmp_path / "runs" / "b", "noise")
    cp = _run_cli(a, b, "--out", tmp_path / "cmp.html")
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "cmp.html").is_file() and (a / "report.html").is_file() and (b / "report.html").is_file()
    assert 'href="runs/a/report.html"' in (tmp_path / "cmp.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda p: [], "DIR"),
        (lambda p: [p / "missing"], "does not exist"),
        (lambda p: [write_synthetic_study(p / "s", "middle") / "trials.csv"], "not a directory"),
        (lambda p: [(p / "empty").mkdir() or p / "empty"], "trials.csv"),
        (lambda p: [_broken_config(p)], "config.json"),
        (lambda p: [write_synthetic_study(p / "s", "middle"), "--bogus"], "--bogus"),
    ],
    ids=["no-args", "missing", "file", "empty-dir", "bad-config", "bad-flag"],
)
def test_cli_bad_input_one_line_exit_2(tmp_path, make, expect):
    cp = _run_cli(*make(tmp_path))
    assert cp.returncode == 2
    lines = cp.stderr.strip().splitlines()
    assert len(lines) == 1, cp.stderr
    assert expect in lines[0] and "Traceback" not in cp.stderr
    assert cp.stdout == ""


def _broken_config(p):
    d = write_synthetic_study(p / "s", "middle")
    (d / "config.json").write_text("{oops", encoding="utf-8")
    return d


def test_cli_help():
    cp = _run_cli("--help")
    assert cp.returncode == 0 and "DIR" in cp.stdout


def test_python_m_reports_bad_input_subprocess(tmp_path):
    cp = _run_cli_subprocess(tmp_path / "nope")
    assert cp.returncode == 2 and len(cp.stderr.strip().splitlines()) == 1 and "Traceback" not in cp.stderr
    assert "does not exist" in cp.stderr and "nope" in cp.stderr


def test_reports_needs_no_torch(tmp_path):
    """The whole pipeline (the trial record, the verdict, the page) runs with torch (and the project's torch-side
    packages) unimportable."""
    d = write_synthetic_study(tmp_path / "s", "end", space="order")
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'triton', 'spectrum', 'studies', 'kernels', 'fvcore'):
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Block())
import reports, reports.__main__, records.record, verdict
assert reports.__main__.main([{str(d)!r}]) == 0
assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'spectrum', 'studies', 'kernels')]
print('ok')
"""
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                        env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert cp.returncode == 0 and cp.stdout.strip().endswith("ok"), cp.stderr
    assert (d / "report.html").is_file()


@pytest.mark.parametrize(
    "text, expect",
    [
        ("postgresql://user:PASSWORD@host/db", "postgresql://user:***@host/db"),
        ("postgresql+psycopg://u:p%40ss@h:5432/db?sslmode=require", "postgresql+psycopg://u:***@h:5432/db?sslmode=require"),
        ("mysql://u:p@ss@h/db", "mysql://u:***@h/db"),  # an unencoded "@": none of the password is left
        ("python run_study.py --storage postgresql://user:PASSWORD@host/db --trials 3",
         "python run_study.py --storage postgresql://user:***@host/db --trials 3"),
        ("--storage='mysql://a:b:c@h/d' and redis://:pw@h:6379/0", "--storage='mysql://a:***@h/d' and redis://:***@h:6379/0"),
        ("postgresql://host/db?user=u&password=secret", "password=***"),
        ("sqlite:///runs/segments.db", "sqlite:///runs/segments.db"),
        ("journal:runs/x.log", "journal:runs/x.log"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("https://example.com/a/b", "https://example.com/a/b"),
        (None, ""),
    ],
)
def test_mask_secrets(text, expect):
    out = mask_secrets(text)
    assert expect in out
    for secret in ("PASSWORD", "p%40ss", "p@ss", "b:c", ":pw@", "secret"):
        assert secret not in out


def test_no_password_on_the_page_compare_or_index(tmp_path):
    cfg = synthetic_config(storage=STORAGE, command=f"python run_study.py --space segments --storage {STORAGE}",
                           environment={"storage": STORAGE})
    a = write_synthetic_study(tmp_path / "runs" / "a", "middle", config=cfg)
    b = write_synthetic_study(tmp_path / "runs" / "b", "end", config=cfg)
    page = reports.write(*reports.load_study_dir(a), a / "report.html").read_text(encoding="utf-8")
    pages = [page, reports.write_compare([a, b]).read_text(encoding="utf-8"),
             reports.write_index(tmp_path / "runs").read_text(encoding="utf-8")]
    for html in pages:
        assert SECRET not in html and str(escape(SECRET)) not in html and "S3cr" not in html
        assert "postgresql://user:***@db.example.com:5432/optuna" in html
    assert "--storage postgresql://user:***@db.example.com" in page  # the command row


def _budget_rows(html: str) -> list[str]:
    table = html.split('class="data verdict-budgets"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", table, flags=re.S)


def test_page_shows_the_verdict_per_budget(tmp_path):
    t = reports.tidy(synthetic_trials("middle", seeds=4))
    v = reports.verdict(t)
    html = reports.render(t, synthetic_config())
    assert v.overall == "intermediate better" and len(v.budgets) == 2
    assert f'<span class="badge intermediate-better">{v.overall}</span> {escape(v.headline)}' in html
    assert "difference on test (points)" in html and "detectable with 80% power (points)" in html
    rows = _budget_rows(html)
    assert len(rows) == len(v.budgets)
    for row, b in zip(rows, v.budgets):
        for text in (b.budget_label, b.outcome, b.intermediate, b.end, f"{b.difference:+.2f}",
                     f"{b.ci_low:+.2f} to {b.ci_high:+.2f}", f"{b.mde:.2f}", b.rules_out):
            assert str(escape(text)) in row, (text, row)
        assert str(escape(b.summary)) in html
    assert f"Method: {escape(v.method)}" in html and str(escape(v.pareto_sentence)) in html


def test_interval_plot_stays_inside_0_to_100_percent():
    t = reports.tidy(synthetic_trials("noise", seeds=2, noise=0.3))  # huge seed noise, two seeds: wide intervals
    fig = dict(reports.figures(t, {}))["Accuracy vs segment count at each matched budget"]
    lo, hi = fig.layout.yaxis.range
    assert 0 <= lo < hi <= 100
    for tr in fig.data:
        if tr.error_y is not None and tr.error_y.array is not None:
            y = list(tr.y)
            assert all(0 - 1e-9 <= m - d and m + u <= 100 + 1e-9
                       for m, u, d in zip(y, tr.error_y.array, tr.error_y.arrayminus))


def test_pareto_figure_draws_the_verdicts_front_across_budgets():
    t = reports.tidy(synthetic_trials("middle", space="order"))
    v = reports.verdict(t)
    front = v.pareto_front.sort_values("cost")
    assert front["budget_label"].nunique() > 1  # one front across the budgets
    fig = dict(reports.figures(t, {}))["Accuracy vs MACs"]
    (tr,) = [tr for tr in fig.data if "Pareto front" in (tr.name or "")]
    assert list(tr.x) == pytest.approx(list(front["cost"]))
    assert list(tr.y) == pytest.approx(list(front["accuracy"]))
    for title in ("Accuracy vs parameters", "Accuracy vs latency"):  # the same points circled there
        other = [tr for tr in dict(reports.figures(t, {}))[title].data if "Pareto front" in (tr.name or "")]
        assert len(other) == 1 and len(other[0].x) == len(front)


def test_trials_table_columns_come_from_the_trial_record():
    t = reports.tidy(synthetic_trials("middle", fail_every=5))
    html = reports.render(t, synthetic_config())
    head = re.search(r'<table id="trials".*?<thead><tr>(.*?)</tr></thead>', html, flags=re.S).group(1)
    shown = [h for h in re.findall(r"<th[^>]*>(.*?)</th>", head)]
    expect = [h for c, h in record.table_columns() if c in t.columns]
    assert [h.removesuffix(" (%)") for h in shown] == expect
    assert "val. accuracy (%)" in shown
    body = html.split('<table id="trials"', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr class=") == len(t)


def test_the_page_says_how_latency_was_timed_and_how_trials_trained():
    """The latency objective's format, threads and merged groups, and the training format, on the page."""
    import pandas as pd

    from reports.meta import header
    from reports.plotstyle import latency_unit

    df = pd.DataFrame({
        "latency_ms": [9.0, 12.0], "latency_device": ["cpu AVX2", "cpu AVX2"], "latency_batch": [64, 64],
        "latency_format": ["channels_last", "channels_last"], "latency_threads": [1, 1],
        "latency_group_merge": ["none", "21->7 x3"], "memory_format": ["channels_last", "channels_last"],
        "group_merge": ["none", "21->7 x3, 20->5 x2"]})
    assert latency_unit(df) == "ms (cpu AVX2, batch 64, channels_last, 1 thread, narrow groups merged where faster)"
    df["latency_device"] = "cpu (1 thread)"
    assert latency_unit(df) == "ms (cpu (1 thread), batch 64, channels_last, narrow groups merged where faster)"
    training = next(r["value"] for r in header(df, {"epochs": 3})["rows"] if r["label"] == "training")
    assert training == "3 epochs, channels_last, narrow groups merged where faster in 1 of 2 trials"
