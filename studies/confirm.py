"""--confirm DIR: the points on a finished study's Pareto front, with both ends at each of its budgets,
trained again with complete seed blocks and fresh seeds, so an exploratory study's picks get a verdict
(the confirm space's parts, studies.spaces.confirm_parts, read the front here)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

from common.cli import UsageError

SEED_BASE = 1000  # confirmation seeds start here: never a seed the source study trained
SOURCE_SETTINGS = ("net", "model", "only", "dataset", "data_dir", "image_size", "width", "depth", "match", "budgets",
                   "epochs", "batch_size", "lr", "backend", "latency_batch", "margin")


def source_settings(folder: Path) -> dict:
    """The settings the confirmation shares with its source (from DIR/config.json); UsageError naming --confirm."""
    path = Path(folder) / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UsageError(f"--confirm {folder}: no readable config.json there (expected a finished study folder)") from None
    settings = {k: saved[k] for k in SOURCE_SETTINGS if saved.get(k) is not None}
    if "budgets" in settings:
        settings["budgets"] = tuple(settings["budgets"])
    return settings


@functools.lru_cache(maxsize=8)
def front_points(folder: str) -> tuple[tuple, ...]:
    """(segments, order, activation, budget, base width) of every point on the source study's Pareto front of
    mean *validation* accuracy against cost: chosen on validation, so the confirmation's claims on test images
    are not made on the images that chose them."""
    from records.points import points_table
    from records.table import load_study_dir, tidy as tidy_frame
    from verdict.pareto import pareto_front

    try:
        tidy = tidy_frame(load_study_dir(folder)[0])
    except ValueError as err:
        raise UsageError(f"--confirm {folder}: {err}") from None
    points = points_table(tidy)
    front = pareto_front(points.assign(accuracy=points["validation_mean"]).dropna(subset=["accuracy"]))
    if front.empty:
        raise UsageError(f"--confirm {folder}: the study has no completed point on a Pareto front to confirm")
    rows = tidy[tidy["point"].isin(front["point"])].drop_duplicates("point")
    return tuple((int(r.segments), r.order, r.activation, float(r.budget) if r.budget == r.budget else 0.0,
                  int(r.base_width)) for r in rows.itertuples())

