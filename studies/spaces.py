"""What a study sweeps: one small `suggest(trial, config) -> Point` function per `--space`, in a registry.

A Point is one (spectrum position, seed, budget); `network_for` turns it into a width-matched NetworkSpec.
Grid spaces also give their grid, so Optuna's GridSampler enumerates them exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from spectrum import NetworkSpec, match_width, matched_position, segment_choices, small_spec

NONLINEARITIES = ("none", "relu", "elu", "gelu", "silu")
ORDERS = ("spatial_first", "pointwise_first")


@dataclass(frozen=True)
class Point:
    """One trained point: the nominal segment count at the base width, order, nonlinearity, budget, seed."""

    segments: int
    order: str
    activation: str
    budget: float | None
    seed: int


def spread(choices: list[int], n: int = 5) -> list[int]:
    """`n` values of `choices` spread evenly in log scale, both ends included."""
    if len(choices) <= n:
        return list(choices)
    picks = {choices[round(i * (len(choices) - 1) / (n - 1))] for i in range(n)}
    return sorted(picks)


def intermediate(choices: list[int]) -> int:
    """The segment count nearest the geometric middle of the spectrum."""
    middle = math.sqrt(choices[-1])
    return min(choices[1:-1] or choices, key=lambda s: abs(math.log(s / middle)))


@dataclass(frozen=True)
class Space:
    name: str
    summary: str
    grid: Callable  # config -> {param: choices}, or None for a sampled (non-grid) space
    suggest: Callable  # (trial, config) -> Point

    def is_grid(self) -> bool:
        return self.grid is not None


def _common(config) -> dict:
    budgets = list(config.budgets) if config.match != "none" else [0.0]
    return {"budget": budgets, "seed": list(range(config.seeds))}


def _point(trial, config, segments, order, activation) -> Point:
    budget = trial.suggest_categorical("budget", _common(config)["budget"])
    seed = trial.suggest_categorical("seed", _common(config)["seed"])
    return Point(segments, order, activation, budget if config.match != "none" else None, seed)


def _grid_segments(config):
    return {"segments": segment_choices(config.width), **_common(config)}


def _suggest_segments(trial, config):
    s = trial.suggest_categorical("segments", segment_choices(config.width))
    return _point(trial, config, s, "spatial_first", "none")


def _grid_order(config):
    return {"segments": spread(segment_choices(config.width)), "order": list(ORDERS), **_common(config)}


def _suggest_order(trial, config):
    s = trial.suggest_categorical("segments", spread(segment_choices(config.width)))
    return _point(trial, config, s, trial.suggest_categorical("order", list(ORDERS)), "none")


def _nonlinearity_segments(config):
    choices = segment_choices(config.width)
    return sorted({intermediate(choices), choices[-1]})


def _grid_nonlinearity(config):
    return {"segments": _nonlinearity_segments(config), "order": list(ORDERS),
            "activation": list(NONLINEARITIES), **_common(config)}


def _suggest_nonlinearity(trial, config):
    s = trial.suggest_categorical("segments", _nonlinearity_segments(config))
    order = trial.suggest_categorical("order", list(ORDERS))
    return _point(trial, config, s, order, trial.suggest_categorical("activation", list(NONLINEARITIES)))


def _suggest_joint(trial, config):
    s = trial.suggest_categorical("segments", segment_choices(config.width))
    order = trial.suggest_categorical("order", list(ORDERS))
    return _point(trial, config, s, order, trial.suggest_categorical("activation", list(NONLINEARITIES)))


SPACES = {
    "segments": Space("segments", "every segment count of the study network (spatial first, no intermediate "
                      "nonlinearity): where on the spectrum is accuracy best for the cost?",
                      _grid_segments, _suggest_segments),
    "order": Space("order", "both orders (spatial first / pointwise first) x five segment counts spread "
                   "over the spectrum", _grid_order, _suggest_order),
    "nonlinearity": Space("nonlinearity", "none/relu/elu/gelu/silu x both orders at the depthwise end and "
                          "one intermediate point (the paper's Figure 10, along the spectrum)",
                          _grid_nonlinearity, _suggest_nonlinearity),
    "joint": Space("joint", "segments x order x nonlinearity together, sampled by NSGA-II "
                   "(multi-objective; --trials sets how many)", None, _suggest_joint),
}


def get_space(name: str) -> Space:
    if name not in SPACES:
        raise ValueError(f"--space {name!r} is not allowed; expected one of {', '.join(SPACES)} (or list)")
    return SPACES[name]


def grid_size(space: Space, config) -> int:
    return math.prod(len(v) for v in space.grid(config).values())


def network_for(point: Point, config, in_channels: int, image_size: int, num_classes: int) -> NetworkSpec:
    """The NetworkSpec a point trains: the small family at `config.width`, width-matched to the budget."""
    spec = small_spec(width=config.width, depth=config.depth, image_size=image_size, in_channels=in_channels,
                      num_classes=num_classes, position=matched_position(point.segments, config.width),
                      order=point.order, activation=point.activation, stem_stride=config.stem_stride)
    if config.match == "none":
        return spec
    return match_width(spec, point.budget, config.match)


def position_label(segments: int, base_width: int) -> str:
    if segments == 1:
        return "regular"
    return "depthwise" if segments == base_width else f"segments={segments}"
