"""A study's plan, resolved once from its config and dataset: the space, the budgets and every grid point's
network, passed down to the runner, the workers and each trial (each trial one Run of a point)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .budgets import default_budgets, grid_networks
from .config import StudyConfig
from .spaces import Run, Space, get_space, network_for

BUDGET_NUDGES = (1, 1.03, 0.97, 1.06, 0.94, 1.1, 0.9, 1.15, 1.2)  # width rounding leaves gaps in reachable cost


@dataclass(frozen=True)
class Shape:
    """What a network needs to know of the data."""

    in_channels: int
    image_size: int
    num_classes: int

    @classmethod
    def of(cls, dataset) -> Shape:
        return cls(dataset.in_channels, dataset.image_size, dataset.num_classes)


@dataclass(frozen=True)
class StudyPlan:
    config: StudyConfig  # budgets filled in
    space: Space
    shape: Shape
    networks: dict = field(default_factory=dict, compare=False)  # Run.network() -> NetworkSpec (grid spaces)
    learning_rates: dict = field(default_factory=dict, compare=False)  # Run.network() -> rate (--lr auto)

    @property
    def is_grid(self) -> bool:
        return self.space.is_grid()

    def network(self, run: Run):
        """The NetworkSpec a run trains: the grid's, else matched here (a sampled point)."""
        spec = self.networks.get(run.network())
        return spec if spec is not None else network_for(run, self.config, *_dims(self.shape))

    def learning_rate(self, run: Run) -> float:
        """The rate a run trains with: its own while tuning, its point's tuned one under --lr auto, else the
        study's."""
        if run.lr is not None:
            return run.lr
        return self.learning_rates[run.network()] if self.config.lr == "auto" else self.config.lr


def _dims(shape: Shape) -> tuple[int, int, int]:
    return shape.in_channels, shape.image_size, shape.num_classes


def _reachable_budget(space: Space, config: StudyConfig, shape: Shape, target: float) -> float:
    """The nearest round value to `target` that every grid point can be matched to (else `target`, which
    the full check then reports naming --budgets)."""
    for factor in BUDGET_NUDGES:
        value = float(f"{target * factor:.3g}")
        try:
            grid_networks(space, replace(config, budgets=(value,)), *_dims(shape))
        except ValueError:
            continue
        return value
    return target


def resolve_plan(config: StudyConfig, dataset) -> StudyPlan:
    """Fill in the default budgets and build every grid point's network once; a budget out of reach is a
    usage error (UsageError naming --budgets) before any training."""
    space, shape = get_space(config.space), Shape.of(dataset)
    if config.model is not None:  # your own network: its base width and its one budget, its own cost
        from .model import model_config

        config = model_config(config, *_dims(shape))
    if config.match != "none" and config.budgets is None:
        targets = default_budgets(config, *_dims(shape))
        config = replace(config, budgets=tuple(_reachable_budget(space, config, shape, t) for t in targets))
    networks = grid_networks(space, config, *_dims(shape)) if space.is_grid() else {}
    return StudyPlan(config, space, shape, networks)
