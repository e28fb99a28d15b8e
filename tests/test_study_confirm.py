"""--confirm DIR: the source's front and both ends at its budgets, every seed, fresh seeds, its settings."""
import json

import pandas as pd
import pytest

from records import record
from studies.spaces import SPACES


def _source(folder, accuracies):
    """A finished segments study (width 8, one budget) whose per-point validation accuracies are given."""
    rows = []
    for segments, acc in accuracies.items():
        position = {1: "regular", 8: "depthwise"}.get(segments, f"segments={segments}")
        for seed in range(3):
            rows.append(vars(record.TrialRecord(
                number=len(rows), state="COMPLETE", space="segments", position=position, segments=segments,
                base_width=8, order="spatial_first", activation="none", match="macs", budget=2e6,
                budget_label="macs≈2M", widths="8-8", seed=seed, macs=2_000_000, params=9_000,
                accuracy=acc + 0.001 * seed, test_accuracy=acc)))
    folder.mkdir()
    pd.DataFrame(rows)[list(record.columns())].to_csv(folder / "trials.csv", index=False)
    (folder / "config.json").write_text(json.dumps({"space": "segments", "width": 8, "depth": 2, "epochs": 4,
                                                    "budgets": [2e6], "match": "macs", "dataset": "synthetic"}))


def test_confirm_takes_the_sources_settings_and_fresh_seeds(tmp_path):
    from run_study import parse
    from studies.confirm import SEED_BASE

    _source(tmp_path / "src", {1: 0.90, 2: 0.93, 4: 0.95, 8: 0.91})
    config = parse(["--confirm", str(tmp_path / "src"), "--seeds", "4", "--epochs", "6"])
    assert (config.space, config.width, config.depth, config.budgets) == ("confirm", 8, 2, (2e6,))
    assert config.epochs == 6  # a flag given beats the source's setting
    assert config.folder == tmp_path / "src" / "confirm" and config.seed_base == SEED_BASE
    grid = SPACES["confirm"].grid(config)
    # the front at one budget is its most accurate point (segments=4), trained with both ends, 4 seeds each
    assert sorted({p["segments"] for p in grid}) == [1, 4, 8]
    assert len(grid) == 3 * 4 and {p["budget"] for p in grid} == {2e6}


def test_confirm_with_another_space_or_an_empty_folder_is_a_usage_error(tmp_path, capsys):
    from run_study import main

    assert main(["--confirm", str(tmp_path), "--space", "order"]) == 2
    assert "--confirm takes no --space" in capsys.readouterr().err
    assert main(["--confirm", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--confirm" in err and "config.json" in err
