"""Study -> tidy pandas DataFrame -> plotly figures -> one self-contained HTML page.

    df, config = reports.load_study_dir("runs/segments")
    t = reports.tidy(df)                      # typed columns, parsed lists, region, error, point ...
    v = reports.verdict(t)                    # v.summary: plain English, with the numbers
    reports.write(t, config, "runs/segments/report.html")

Command line: ``python -m reports DIR [DIR ...] [--out FILE]``. Needs pandas, numpy and plotly only
(no torch), so a report can be redrawn anywhere from trials.csv + config.json.
"""
from .browser import find_chromium, screenshot
from records.table import load_study_dir, tidy
from records.points import points_table
from .figures import NoData, Section, figures, sections
from .page import render, render_compare, write, write_compare, write_index
from verdict import BudgetVerdict, Verdict, pareto_mask, verdict

__all__ = [
    "BudgetVerdict",
    "NoData",
    "Section",
    "Verdict",
    "figures",
    "find_chromium",
    "load_study_dir",
    "pareto_mask",
    "points_table",
    "render",
    "render_compare",
    "screenshot",
    "sections",
    "tidy",
    "verdict",
    "write",
    "write_compare",
    "write_index",
]
