"""Cost budgets: the defaults, their labels, and the check that every point can be matched to them."""
from __future__ import annotations

from dataclasses import replace

from common.cli import UsageError
from common.vocabulary import ORDERS, divisors, si_count

from .spaces import Run, intermediate, network_for


def default_budgets(config, in_channels: int, image_size: int, num_classes: int) -> tuple[float, ...]:
    """One budget: 3x the cost of the base-width network at the middle of the spectrum (that cost raised if need
    be to 1.25x the cheapest every point reaches at its narrowest, every layer >= 8 channels). At 3x the seed
    spread is low enough for six seeds to settle the question within minutes on a CPU (README, the default
    study); at 1x it is four to ten times wider, a budget only drawn, not settled, in that time."""
    from spectrum import narrowest, network_cost

    unmatched = replace(config, match="none")
    choices = divisors(config.width)

    def spec(segments, order=ORDERS[0]):
        return network_for(Run(segments, order, "none", None, 0), unmatched, in_channels, image_size, num_classes)

    value = getattr(network_cost(spec(intermediate(choices))), config.match)
    for segments in choices:
        for order in ORDERS:  # every space's points must reach the budget, pointwise-first ones too
            value = max(value, 1.25 * getattr(network_cost(narrowest(spec(segments, order))), config.match))
    value = float(f"{value:.3g}")  # a round number to read in the report
    return (3 * value,)


def budget_label(config, budget) -> str:
    if config.match == "none" or budget is None:
        return "unmatched"
    if config.model is not None:  # every position matched layer by layer to the model's own cost
        return f"{config.match} as the model"
    return f"{config.match}≈{si_count(budget)}"


def grid_networks(space, config, in_channels: int, image_size: int, num_classes: int) -> dict:
    """Run.network() -> NetworkSpec for every grid point; a UsageError naming --budgets when a budget is
    out of reach for some point."""
    specs = {}
    for params in space.grid(config):
        if params["seed"]:
            continue  # seeds share a network
        point = Run.from_params(params, config).network()
        try:
            specs[point] = network_for(point, config, in_channels, image_size, num_classes)
        except UsageError:  # already names its flag (--model, --only)
            raise
        except ValueError as err:
            raise UsageError(f"--budgets: {point.budget:,.0f} {config.match} is out of reach: {err}") from None
    return specs
