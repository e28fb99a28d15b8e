"""The one points layer: one row per point, runs aggregated once, names kept apart (validation mean over
the trained runs, claimed mean over the outcomes with a diverged run scored 0, distinct seeds, diverged runs)."""
import pandas as pd
import pytest

import reports
import verdict
from records.points import region


def _trial(number, segments, seed, accuracy, state="COMPLETE", diverged=None, budget_label="macs≈1M", activation="none"):
    return dict(number=number, state=state, segments=segments, base_width=8, seed=seed, accuracy=accuracy,
                test_accuracy=None if accuracy is None else accuracy - 0.01, macs=1_000_000, params=5_000,
                position={1: "regular", 8: "depthwise"}.get(segments, f"segments={segments}"),
                budget_label=budget_label, order="spatial_first", activation=activation, diverged=diverged)


def _rows():
    return [_trial(0, 1, 0, 0.90), _trial(1, 1, 1, 0.94), _trial(2, 4, 0, 0.80), _trial(3, 4, 1, 0.86),
            _trial(4, 4, 2, None, state="FAIL", diverged=True), _trial(5, 8, 0, None, state="FAIL")]


def test_points_table_keeps_validation_and_claimed_means_apart():
    table = reports.points_table(reports.tidy(pd.DataFrame(_rows()))).set_index("position")
    assert list(table.index) == ["regular", "segments=4"]  # a point with no outcome has no row
    assert table.loc["regular", "validation_mean"] == pytest.approx(0.92)
    assert table.loc["regular", "validation_sd"] == pytest.approx(0.04 / 2 ** 0.5)
    # the diverged run is an outcome of segments=4: it scores 0 in the claimed mean, not in the validation mean
    assert table.loc["segments=4", "validation_mean"] == pytest.approx(0.83)
    assert table.loc["segments=4", "claimed_mean"] == pytest.approx((0.79 + 0.85 + 0.0) / 3)
    assert sorted(table.loc["segments=4", "validation_accuracies"]) == pytest.approx([0.80, 0.86])
    assert table["n_runs"].tolist() == [2, 3] and table["n_seeds"].tolist() == [2, 3]
    assert table["n_diverged"].tolist() == [0, 1]
    assert table["region"].tolist() == ["regular", "intermediate"]


def test_a_seed_run_twice_is_two_runs_of_one_seed():
    rows = [_trial(0, 4, 0, 0.80), _trial(1, 4, 0, 0.82)]
    table = reports.points_table(reports.tidy(pd.DataFrame(rows)))
    assert table["n_runs"].tolist() == [2] and table["n_seeds"].tolist() == [1]


def test_the_verdict_front_and_diverged_counts_read_the_same_points_table():
    raw = pd.DataFrame(_rows())
    table = reports.points_table(reports.tidy(raw)).set_index("point_label")
    v = verdict.verdict(raw)
    (row,) = v.diverged
    assert row["point"] == "segments=4" and row["diverged"] == table.loc["segments=4", "n_diverged"]
    assert row["runs"] == table.loc["segments=4", "n_runs"]
    front = v.pareto_front.set_index("point_label")
    for label in front.index:
        assert front.loc[label, "accuracy"] == pytest.approx(100 * table.loc[label, "claimed_mean"])


def test_region_names_the_ends_by_segments_and_base_width_or_by_position():
    frame = pd.DataFrame({"segments": [1, 2, 8, None, None], "base_width": [8, 8, 8, 8, None],
                          "position": ["", "", "", "", "depthwise"]})
    assert region(frame["segments"], frame["base_width"], frame["position"]).tolist() == [
        "regular", "intermediate", "depthwise", "unknown", "depthwise"]


def test_a_label_names_only_the_axes_that_vary_within_a_budget():
    frame = reports.tidy(pd.DataFrame([_trial(0, 4, 0, 0.5), _trial(1, 4, 0, 0.5, budget_label="macs≈3M")]))
    assert frame["point_label"].tolist() == ["segments=4", "segments=4"]  # the budget is a column of its own
    assert frame["point"].nunique() == 2
    frame = reports.tidy(pd.DataFrame([_trial(0, 4, 0, 0.5), _trial(1, 4, 0, 0.5, activation="relu")]))
    assert frame["point_label"].tolist() == ["segments=4 · none", "segments=4 · relu"]
