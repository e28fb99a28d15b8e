"""reports: study directory -> tidy DataFrame (pure pandas, no browser, no torch)."""
import json
import math

import numpy as np
import pandas as pd
import pytest

import records.table
import reports
from records.table import write_trial_tables
from records.synthetic import synthetic_config, synthetic_trials, write_synthetic_study


def _roundtrip(tmp_path, raw, cfg=None):
    d = tmp_path / "study"
    d.mkdir(exist_ok=True)
    write_trial_tables(raw, d)
    (d / "config.json").write_text(json.dumps(cfg or synthetic_config()), encoding="utf-8")
    return reports.load_study_dir(d)


def test_load_study_dir_reads_both_files(tmp_path):
    d = write_synthetic_study(tmp_path / "s", "middle")
    df, cfg = reports.load_study_dir(d)
    assert len(df) == len(synthetic_trials("middle"))
    assert cfg["study_name"] == "s" and cfg["space"] == "segments"


@pytest.mark.parametrize(
    "setup, name",
    [
        (lambda d: (d / "config.json").unlink(), "config.json"),
        (lambda d: (d / "trials.csv").unlink(), "trials.csv"),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json"),
        (lambda d: (d / "config.json").write_text("[1, 2]"), "config.json"),
        (lambda d: (d / "trials.csv").write_text(""), "trials.csv"),
        (lambda d: (d / "trials.csv").write_text("foo,bar\n1,2\n"), "trials.csv"),
    ],
    ids=["no-config", "no-trials", "bad-json", "json-not-object", "empty-csv", "alien-csv"],
)
def test_load_study_dir_bad_input_names_the_file(tmp_path, setup, name):
    d = write_synthetic_study(tmp_path / "s", "middle")
    setup(d)
    with pytest.raises(ValueError, match=name):
        reports.load_study_dir(d)


def test_load_study_dir_not_a_directory(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        reports.load_study_dir(tmp_path / "nope")


def test_tidy_types_regions_lists(tmp_path):
    raw, _ = _roundtrip(tmp_path, synthetic_trials("middle", base_widths=(16,), fail_every=5))
    t = reports.tidy(raw)
    assert len(t) == len(raw)
    assert str(t["segments"].dtype) == "Int64" and str(t["macs"].dtype) == "Int64"
    assert t["accuracy"].dtype == np.float64 and str(t["intermediate_norm"].dtype) == "boolean"
    assert str(t["datetime_start"].dtype).startswith("datetime64")
    # region: 1 -> regular, base width -> depthwise, the rest intermediate
    by_seg = t.groupby("segments")["region"].unique().to_dict()
    assert list(by_seg[1]) == ["regular"] and list(by_seg[16]) == ["depthwise"]
    assert all(list(by_seg[s]) == ["intermediate"] for s in (2, 4, 8))
    # parsed JSON lists
    ok = t[t["state"] == "COMPLETE"]
    assert all(isinstance(w, str) and len(w.split("-")) == 3 for w in t["widths"])  # one identifier per network
    assert all(isinstance(c, list) and len(c) == 5 for c in ok["accuracy_per_epoch"])
    assert ok["accuracy_per_epoch"].map(lambda c: c[-1]).tolist() == pytest.approx(ok["accuracy"].tolist(), abs=1e-5)
    # error and failed rows
    assert np.allclose(ok["error"], 1 - ok["accuracy"])
    fail = t[t["state"] == "FAIL"]
    assert len(fail) and fail["accuracy"].isna().all() and (fail["fail_reason"] != "").all()
    assert t.attrs["missing_columns"] == [c for c in records.table.columns() if c not in raw.columns]
    # seeds of one point share its key; different points differ
    assert t.groupby("point")["seed"].nunique().max() == 3
    assert t["point"].nunique() == 5  # five segment counts at one budget


def test_tidy_keeps_activation_none_and_is_pure_and_idempotent(tmp_path):
    raw, _ = _roundtrip(tmp_path, synthetic_trials("middle", space="nonlinearity"))
    before = raw.copy()
    t = reports.tidy(raw)
    pd.testing.assert_frame_equal(raw, before)  # input untouched
    assert "none" in set(t["activation"])  # the string "none" is an activation, not a missing value
    t2 = reports.tidy(t)
    pd.testing.assert_frame_equal(t2[["region", "point", "error"]], t[["region", "point", "error"]])


def test_tidy_records_missing_columns_and_a_figure_says_why_it_is_absent(tmp_path):
    write_trial_tables(synthetic_trials("middle"), tmp_path)
    written = pd.read_csv(tmp_path / "trials.csv").drop(columns=["latency_ms"])  # a table made by other means
    t = reports.tidy(written)
    assert {"latency_ms", "accuracy_per_epoch"} <= set(t.attrs["missing_columns"])  # curves.csv not read
    assert t["latency_ms"].isna().all()
    figs = dict(reports.figures(t, {}))
    note = figs["Accuracy vs latency"]
    assert isinstance(note, reports.NoData) and "latency_ms" in note.reason


def test_tidy_minimal_and_odd_values():
    raw = pd.DataFrame(
        {
            "number": ["0", "1", "2", "3"],
            "segments": ["1", "4", "abc", "8"],
            "base_width": ["8", "8", "8", "8"],
            "accuracy": ["0.5", "0.6", "0.7", "None"],
            "intermediate_norm": ["True", "false", "", "1"],
            "widths": ["8-16", "8-16", "", "1"],
            "accuracy_per_epoch": ["[0.4, 0.5]", "not json", "", "[1]"],
            "match": ["none", "none", "none", "none"],
            "state": ["complete ", "COMPLETE", "FAIL", "FAIL"],
        }
    )
    t = reports.tidy(raw)
    assert t["region"].tolist() == ["regular", "intermediate", "unknown", "depthwise"]
    assert t["state"].tolist() == ["COMPLETE", "COMPLETE", "FAIL", "FAIL"]  # normalised
    assert t["intermediate_norm"].tolist()[:2] == [True, False] and t["intermediate_norm"].isna().tolist()[2]
    assert t["accuracy_per_epoch"].tolist() == [[0.4, 0.5], None, None, [1]]
    assert t["widths"].tolist() == ["8-16", "8-16", "", "1"]
    assert math.isnan(t["accuracy"].iloc[3])


def test_tidy_rejects_non_frame():
    with pytest.raises(TypeError):
        reports.tidy([1, 2, 3])


def test_synthetic_trials_shape_and_failures():
    df = synthetic_trials("noise", space="joint", n_trials=1000, fail_every=50)
    assert len(df) == 1000
    assert (df["state"] == "FAIL").sum() == 20
    assert set(df["order"]) == {"spatial_first", "pointwise_first"} and df["activation"].nunique() == 6
    with pytest.raises(ValueError, match="shape"):
        synthetic_trials("sideways")
