"""The points table: one row per point of the spectrum, seeds averaged, diverged runs counted."""
import pandas as pd
import pytest

import reports
from records.points import point_label, region


def _trial(number, segments, seed, accuracy, state="COMPLETE", diverged=None, budget_label="macs≈1M"):
    return dict(number=number, state=state, segments=segments, base_width=8, seed=seed, accuracy=accuracy,
                test_accuracy=None if accuracy is None else accuracy - 0.01, macs=1_000_000, params=5_000,
                position={1: "regular", 8: "depthwise"}.get(segments, f"segments={segments}"),
                budget_label=budget_label, order="spatial_first", activation="none", diverged=diverged)


def test_points_table_averages_seeds_and_counts_diverged_runs():
    rows = [_trial(0, 1, 0, 0.90), _trial(1, 1, 1, 0.94), _trial(2, 4, 0, 0.80), _trial(3, 4, 1, 0.86),
            _trial(4, 4, 2, None, state="FAIL", diverged=True), _trial(5, 8, 0, None, state="FAIL")]
    table = reports.points_table(reports.tidy(pd.DataFrame(rows))).set_index("position")
    assert list(table.index) == ["regular", "segments=4"]  # a point with no completed seed has no row
    assert table.loc["regular", "accuracy"] == pytest.approx(0.92)
    assert table.loc["regular", "accuracy_sd"] == pytest.approx(0.04 / 2 ** 0.5)
    assert table.loc["segments=4", "test_accuracy"] == pytest.approx(0.82)
    assert sorted(table.loc["segments=4", "accuracies"]) == pytest.approx([0.80, 0.86])
    assert table["n_seeds"].tolist() == [2, 2] and table["n_diverged"].tolist() == [0, 1]
    assert table["region"].tolist() == ["regular", "intermediate"]


def test_region_names_the_ends_by_segments_and_base_width():
    frame = pd.DataFrame({"segments": [1, 2, 8, None], "base_width": [8, 8, 8, 8]})
    assert region(frame["segments"], frame["base_width"]).tolist() == ["regular", "intermediate", "depthwise", "unknown"]


def test_a_label_names_only_the_axes_that_vary():
    frame = pd.DataFrame([_trial(0, 4, 0, 0.5), _trial(1, 4, 0, 0.5, budget_label="macs≈3M")])
    frame = reports.tidy(frame)
    assert point_label(frame).tolist() == ["segments=4 · macs≈1M", "segments=4 · macs≈3M"]
