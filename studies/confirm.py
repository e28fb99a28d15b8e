"""--confirm DIR: the points on a finished study's Pareto front, with both ends at each of its budgets,
trained again with complete seed blocks and fresh seeds, so an exploratory study's picks get a verdict."""
from __future__ import annotations

import functools
import json
from pathlib import Path

SEED_BASE = 1000  # confirmation seeds start here: never a seed the source study trained
SOURCE_SETTINGS = ("net", "dataset", "data_dir", "image_size", "width", "depth", "match", "budgets", "epochs",
                   "batch_size", "lr", "backend", "latency_batch", "margin")


def source_settings(folder: Path) -> dict:
    """The settings the confirmation shares with its source (from DIR/config.json); ValueError naming --confirm."""
    path = Path(folder) / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ValueError(f"--confirm {folder}: no readable config.json there (expected a finished study folder)") from None
    settings = {k: saved[k] for k in SOURCE_SETTINGS if saved.get(k) is not None}
    if "budgets" in settings:
        settings["budgets"] = tuple(settings["budgets"])
    return settings


@functools.lru_cache(maxsize=8)
def front_points(folder: str) -> tuple[tuple, ...]:
    """(segments, order, activation, budget, base width) of every point on the source study's Pareto front."""
    from records.table import load_study_dir, tidy as tidy_frame
    from verdict import verdict

    try:
        tidy = tidy_frame(load_study_dir(folder)[0])
    except ValueError as err:
        raise ValueError(f"--confirm {folder}: {err}") from None
    front = verdict(tidy).pareto_front
    if front.empty or "point" not in front:
        raise ValueError(f"--confirm {folder}: the study has no completed point on a Pareto front to confirm")
    rows = tidy[tidy["point"].isin(front["point"])].drop_duplicates("point")
    return tuple((int(r.segments), r.order, r.activation, float(r.budget) if r.budget == r.budget else 0.0,
                  int(r.base_width)) for r in rows.itertuples())


def confirm_parts(config) -> tuple[dict, ...]:
    """One grid part per front point: that point and both ends, at its order, nonlinearity and budget."""
    from .spaces import seed_choices

    parts = []
    for segments, order, activation, budget, base in front_points(str(config.confirm)):
        parts.append({"segments": _const(sorted({1, segments, base})), "order": _const([order]),
                      "activation": _const([activation]), "budget": _const([budget]), "seed": seed_choices})
    return tuple(parts)


def _const(values: list):
    return lambda config: values
