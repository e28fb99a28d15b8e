"""What a study sweeps, as data: each `--space` declares its axes, its sampler (with its stop rule and
default trial count), the questions its verdict answers and its page opens with, and whether it is
exploratory; one generic `suggest`.

A Run is one training: a point of the spectrum (position, order, nonlinearity, budget: one network) and the
seed it trains with; `network_for` turns it into the chosen family's width-matched NetworkSpec. Grid
spaces are enumerated exactly (studies.grid); `joint` is sampled by NSGA-II.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Callable, ClassVar

from common.cli import UsageError
from common.vocabulary import ACTIVATION_NAMES, ORDERS, QUESTIONS, divisors

from .confirm import front_points

NONLINEARITIES = ACTIVATION_NAMES[:5]  # the joint space's: none, relu, elu, gelu, silu
LR_GRID = (1e-3, 3e-3, 1e-2)  # --lr auto: the rates each point tries (the fixed default in the middle)


@dataclass(frozen=True)
class Run:
    """One training: the nominal segment count at the base width, order, nonlinearity, budget (together the
    point, one network), the seed it trains with, and the learning rate when the point's own is being tuned
    (None: the study's)."""

    segments: int
    order: str
    activation: str
    budget: float | None
    seed: int
    lr: float | None = None

    @classmethod
    def from_params(cls, params: dict, config) -> Run:
        """A grid or sampled run; its `seed` parameter counts from the study's seed base."""
        budget = params.get("budget") if config.match != "none" else None
        return cls(params["segments"], params.get("order", ORDERS[0]), params.get("activation", "none"),
                   budget, config.seed_base + params.get("seed", 0), params.get("lr"))

    def network(self) -> Run:
        """The run with seed and rate cleared (its point): what its network (and its tuned rate) is keyed by."""
        return replace(self, seed=0, lr=None)


def spread(choices: list[int], n: int = 5) -> list[int]:
    """`n` values of `choices` spread evenly in log scale, both ends included."""
    if len(choices) <= n:
        return list(choices)
    return sorted({choices[round(i * (len(choices) - 1) / (n - 1))] for i in range(n)})


def intermediate(choices: list[int]) -> int:
    """The segment count nearest the geometric middle of the spectrum."""
    middle = math.sqrt(choices[-1])
    return min(choices[1:-1] or choices, key=lambda s: abs(math.log(s / middle)))


def seed_choices(config) -> list[int]:
    """Every seed a point may train with: the fixed count, or up to the --seeds auto cap."""
    return list(range(config.max_seeds if config.auto_seeds else config.seeds))


def first_seeds(config) -> int:
    """How many seeds every point starts with: the fixed count, or the first look of --seeds auto (--looks, else
    the verdict's schedule up to --max-seeds)."""
    from verdict.stats import plan

    if not config.auto_seeds:
        return config.seeds
    return (config.looks or plan(config.max_seeds))[0]


def budgets(config) -> list:
    return list(config.budgets) if config.match != "none" else [0.0]


@dataclass(frozen=True)
class Grid:
    """Every combination of a space's axes, enqueued by the study's process (studies.grid): the Optuna sampler
    is never asked. Stop rule: nothing waits in the queue (the runner enqueues each round's runs)."""

    default_trials: int | None = None  # by default every run the grid owes (--trials caps one run)
    enumerated: ClassVar[bool] = True

    def __call__(self, worker: int, trials: int | None):
        import optuna

        return optuna.samplers.RandomSampler(seed=worker)  # never asked: every grid trial is enqueued

    def done(self, waiting: int, taken: int, trials: int | None) -> bool:
        return waiting == 0


@dataclass(frozen=True)
class Search:
    """Trials sampled by an Optuna search, `make(worker seed, trial count)` -> the sampler. Stop rule: the
    trial count taken (settled or running), --trials or `default_trials`."""

    make: Callable
    default_trials: int = 20
    enumerated: ClassVar[bool] = False

    def __call__(self, worker: int, trials: int | None):
        return self.make(worker, trials)

    def done(self, waiting: int, taken: int, trials: int | None) -> bool:
        return taken >= trials


def nsga2(worker: int, trials: int):
    """NSGA-II over the three objectives, one generation at most the study's trial count."""
    import optuna

    return optuna.samplers.NSGAIISampler(seed=worker, population_size=min(20, trials))


@dataclass(frozen=True)
class Space:
    """A study space: each of `parts` maps every parameter to a function of the config giving its choices;
    the space is the union of the parts' products (one part for most spaces; the paper's questions together)."""

    name: str
    summary: str
    parts: tuple[dict[str, Callable], ...] | Callable  # or a function of the config giving them
    sampler: Grid | Search = Grid()  # makes the Optuna sampler; its stop rule and default trial count
    questions: tuple[str, ...] = ("segments",)  # what the verdict answers, in the order the page answers them
    leads: tuple[str, ...] = ()  # the questions its page opens with, before the headline
    exploratory: bool = False  # sampled points, no complete seed blocks: drawn, never claimed
    tunes_lr: bool = False  # every point also at each rate of the --lr auto grid (the rate-tuning study)
    defaults: tuple[dict, ...] = ()  # groups of settings this space takes, each where no flag gives any of it

    def is_grid(self) -> bool:
        return self.sampler.enumerated

    def trials(self, config) -> int | None:
        """How many trials: --trials, else the sampler's default (a grid: every run it owes)."""
        return config.trials or self.sampler.default_trials

    def __reduce__(self):
        """Pickled by name (its axes are functions): a worker process gets the registry's own entry."""
        return _space, (self.name, self.tunes_lr)

    def facts(self) -> dict:
        """What the verdict and the page read of the space, as config.json holds them."""
        return {"questions": list(self.questions), "leads": list(self.leads), "exploratory": self.exploratory}

    def for_lr_tuning(self) -> Space:
        return replace(self, tunes_lr=True)

    def axes_of(self, config) -> tuple[dict, ...]:
        """Each part's axes for this config (the rate grid added when tuning rates)."""
        parts = self.parts(config) if callable(self.parts) else self.parts
        return tuple({**axes, "lr": lambda c: LR_GRID} if self.tunes_lr else axes for axes in parts)

    def choices(self, config) -> dict[str, list]:
        """Every value each parameter takes in any part, in first-seen order."""
        merged: dict[str, list] = {}
        for axes in self.axes_of(config):
            for name, axis in axes.items():
                merged.setdefault(name, [])
                merged[name] += [v for v in axis(config) if v not in merged[name]]
        return merged

    def suggest(self, trial, config) -> Run:
        """The one suggest of every space: a categorical per axis; the seed an integer range, so a study
        resumed with another --seeds or --max-seeds keeps a compatible distribution."""
        return Run.from_params({n: trial.suggest_int(n, 0, max(c)) if n == "seed" else trial.suggest_categorical(n, c)
                                  for n, c in self.choices(config).items()}, config)

    def grid(self, config) -> list[dict]:
        """Every combination of each part's axes (grid spaces): every run, each seed a point may take, once."""
        runs: dict[str, dict] = {}
        for axes in self.axes_of(config):
            choices = {name: list(axis(config)) for name, axis in axes.items()}
            for values in itertools.product(*choices.values()):
                run = dict(zip(choices, values))
                runs.setdefault(repr(sorted(run.items())), run)
        return list(runs.values())


def own_activation(config) -> tuple[str]:
    """The `--net` family's own intermediate nonlinearity: none for the Xception-style net (the paper's
    finding), ReLU for the ResNeXt bottleneck (its BN-ReLU between the grouped conv and the 1x1)."""
    from spectrum import NETWORKS

    return (NETWORKS[config.net].spec().activation,)


def _axes(segments, orders=lambda c: ORDERS[:1], activations=own_activation) -> dict:
    return {"segments": segments, "order": orders, "activation": activations, "budget": budgets, "seed": seed_choices}


def all_segments(config) -> list[int]:
    return divisors(config.width)


def three_points(config) -> list[int]:
    """The regular end, the intermediate point nearest the middle, the depthwise end."""
    choices = divisors(config.width)
    return sorted({choices[0], intermediate(choices), choices[-1]})


def confirm_parts(config) -> tuple[dict, ...]:
    """--confirm DIR: one grid part per point on the source's front: that point and both ends, at its order,
    nonlinearity and budget."""
    def const(values):
        return lambda c: values

    return tuple({"segments": const(sorted({1, segments, base})), "order": const([order]),
                  "activation": const([activation]), "budget": const([budget]), "seed": seed_choices}
                 for segments, order, activation, budget, base in front_points(str(config.confirm)))


PAPER_ACTIVATIONS = ("none", "relu", "elu")  # the nonlinearities of the paper's Figure 10
# every claim settled in an hour on a 2-core CPU: 6 seeds a point, then twice as many at the points of the claims
# still open (alpha split over the five looks); no round projected to end past 58 minutes (the ReLU interaction's
# round to 96 seeds is projected at about 16 minutes after 40)
PAPER_SEEDS = ({"seeds": "auto", "looks": (6, 12, 24, 48, 96), "max_seeds": 96}, {"time_limit": 3480.0})
SEGMENTS = _axes(all_segments)
ORDER = _axes(lambda c: spread(divisors(c.width)), lambda c: ORDERS)
NONLINEARITY = _axes(three_points, activations=lambda c: PAPER_ACTIVATIONS)

SPACES = {
    "segments": Space("segments", "every segment count of the study network (spatial first, the network's own "
                      "intermediate nonlinearity): where on the spectrum is accuracy best for the cost?", (SEGMENTS,)),
    "order": Space("order", "both orders (spatial first / pointwise first) x five segment counts spread over the "
                   "spectrum: does the order matter, and where?", (ORDER,), questions=("segments", "order"),
                   leads=("order",)),
    "nonlinearity": Space("nonlinearity", "none/relu/elu between the steps at the regular end, the middle and the "
                          "depthwise end: the paper's Figure 10 along the spectrum", (NONLINEARITY,),
                          questions=("segments", "nonlinearity", "interaction"),
                          leads=("nonlinearity", "interaction")),
    "paper": Space("paper", "the paper's claims together under one alpha: segments, order and nonlinearity "
                   "(the union of those three grids); by default --seeds auto --looks 6,12,24,48,96: 6 seeds a point, "
                   "then 12, 24, 48 and 96 at the points of the claims still open", (SEGMENTS, ORDER, NONLINEARITY), questions=QUESTIONS,
                   leads=QUESTIONS, defaults=PAPER_SEEDS),
    "confirm": Space("confirm", "--confirm DIR: the Pareto front of the study in DIR and both ends at its budgets, "
                     "trained again with complete seed blocks and fresh seeds", confirm_parts,
                     questions=QUESTIONS),  # whichever the front's points support
    "joint": Space("joint", "segments x order x nonlinearity together, sampled by NSGA-II (multi-objective, "
                   "exploratory: --trials sets how many; confirm its front with --confirm DIR)",
                   (_axes(all_segments, lambda c: ORDERS, lambda c: NONLINEARITIES),), Search(nsga2),
                   exploratory=True),
}


def _space(name: str, tunes_lr: bool) -> Space:
    space = get_space(name)
    return space.for_lr_tuning() if tunes_lr else space


def get_space(name: str) -> Space:
    if name not in SPACES:
        raise UsageError(f"--space {name!r} is not allowed; expected one of {', '.join(SPACES)} (or list)")
    return SPACES[name]


def listing(what: str) -> str:
    """`--space list` / `--net list`: one line each."""
    if what == "space":
        return "\n".join(f"{name:<13} {space.summary}" for name, space in SPACES.items())
    from spectrum import NETWORKS

    return "\n".join(f"{name:<13} {family.summary}" for name, family in NETWORKS.items()
                     if getattr(family, "in_studies", True))


def network_for(run: Run, config, in_channels: int, image_size: int, num_classes: int):
    """The NetworkSpec a run trains: the `--net` family at `config.width`, width-matched to the budget (with
    --model, your network converted at the run's position: a spectrum.ModelSpec, studies.model)."""
    from spectrum import NETWORKS, match_width, matched_position

    if config.model is not None:
        from .model import model_plan

        return model_plan(config, in_channels, image_size, num_classes).spec(run)

    spec = NETWORKS[config.net].spec(width=config.width, depth=config.depth, image_size=image_size,
                                     in_channels=in_channels, num_classes=num_classes,
                                     position=matched_position(run.segments, config.width), order=run.order,
                                     activation=run.activation, stem_stride=config.stem_stride)
    if config.match == "none":
        return spec
    return match_width(spec, run.budget, config.match)
