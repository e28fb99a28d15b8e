"""Width matching: every spectrum point resized to the same params or MACs, every layer scaling together.

A network's body units are resized to a common scale of their widths (each rounded to what the position needs);
the stem keeps its ratio to the first unit and each unit's inner widths their ratio to the unit's width, so no
layer stays behind at a fixed width. No layer goes below `MIN_WIDTH` channels: `narrowest(spec)` is the cheapest
network a position allows, every layer at `MIN_WIDTH` (or the position's divisor, if larger).
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import replace

from .block import _one_of
from .networks import NetworkSpec, network_cost
from .position import Position

MIN_WIDTH = 8  # channels: below this a layer is degenerate, and a comparison there measures little
MATCH_METRICS = ("params", "macs")
MATCH_TOLERANCE = 0.03


def matched_position(segments: int, base_width: int) -> Position:
    """The position to hold fixed while the width changes: the segment count near the regular end,
    the group width near the depthwise end (whichever asks the smaller divisor of every width)."""
    if base_width % segments:
        raise ValueError(f"segments={segments} does not divide base width {base_width}")
    if segments * segments <= base_width:
        return Position("segments", segments)
    return Position("group_width", base_width // segments)


def _floor(position: Position, min_channels: int) -> int:
    """The smallest width at least `min_channels` that the position fits (a multiple of its divisor)."""
    q = position.divisor
    return max(q, -(-min_channels // q) * q)


def _fitter(position: Position, min_channels: int, rounding=round):
    q, low = position.divisor, _floor(position, min_channels)
    return lambda w: max(low, int(rounding(w / q)) * q)


STEM_ROUNDING = {"nearest": round, "down": lambda x: math.floor(x + 1e-9), "up": lambda x: math.ceil(x - 1e-9)}


def with_widths(spec: NetworkSpec, widths, min_channels: int = MIN_WIDTH, stem: str = "nearest") -> NetworkSpec:
    """The spec with body unit i at `widths[i]`, the stem at its ratio to the first unit and each unit's inner
    widths at their ratio to its width, all rounded to a multiple of the position's divisor (the stem to the
    nearest one, or `stem` "down" or "up"), none below `min_channels`."""
    fit = _fitter(spec.position, min_channels)
    fit_stem = _fitter(spec.position, min_channels, STEM_ROUNDING[stem])
    widths = [fit(w) for w in widths]
    ratio = widths[0] / spec.modules[0].width
    stem_convs = tuple(conv.resized(conv.width * ratio, fit_stem) for conv in spec.stem)
    modules = tuple(unit.resized(w, fit) for unit, w in zip(spec.modules, widths))
    return replace(spec, stem=stem_convs, modules=modules)


def scaled(spec: NetworkSpec, scale: float, min_channels: int = MIN_WIDTH) -> NetworkSpec:
    """The spec with every width times `scale` (rounded as `with_widths` does)."""
    return with_widths(spec, [w * scale for w in spec.widths], min_channels)


def narrowest(spec: NetworkSpec, min_channels: int = MIN_WIDTH) -> NetworkSpec:
    """The spec at the smallest widths its position allows, every layer at `min_channels` or more: the cheapest
    cost `match_width` can reach."""
    return with_widths(spec, [_floor(spec.position, min_channels)] * len(spec.modules), min_channels)


@functools.lru_cache(maxsize=4096)  # specs are frozen: a study asks for the same match per seed and per check
def match_width(spec: NetworkSpec, target: float, metric: str = "macs", tolerance: float = MATCH_TOLERANCE,
                min_channels: int = MIN_WIDTH) -> NetworkSpec:
    """The spec resized (see `with_widths`) so its `metric` lies within `tolerance` of `target`.

    Widths keep the spec's profile (their ratios) at a common scale; each unit is rounded down or up to a
    multiple of what the position needs, and the combination closest to the target wins. Where none comes within
    `tolerance` (a few narrow layers make coarse steps), each unit may go one step further either way and the
    stem round either way. ValueError when no width reaches the target (below `narrowest`'s cost, for one).
    """
    _one_of("match_width", "metric", metric, MATCH_METRICS)
    if not target > 0:
        raise ValueError(f"match_width.target={target!r} is not allowed; expected a positive number")
    q, low = spec.position.divisor, _floor(spec.position, min_channels)
    base = spec.widths

    @functools.lru_cache(maxsize=None)  # neighbouring scales round to the same widths
    def error(widths: tuple, stem: str) -> float:
        return abs(getattr(network_cost(with_widths(spec, widths, min_channels, stem)), metric) / target - 1)

    def search(steps, stems):
        best, best_err = None, math.inf
        for scale in (2 ** (i / 64) for i in range(-6 * 64, 6 * 64 + 1)):
            uniform = tuple(max(low, round(w * scale / q) * q) for w in base)
            err = error(uniform, "nearest")
            if err < best_err - 1e-12:
                best, best_err = (uniform, "nearest"), err
            if err > 0.3:
                continue  # far from the target: not worth the roundings
            options = [sorted({max(low, int(w * scale // q) * q + k * q) for k in steps}) for w in base]
            for widths in itertools.product(*options):
                for stem in stems:
                    err = error(widths, stem)
                    if err < best_err - 1e-12:
                        best, best_err = (widths, stem), err
            if best_err < tolerance / 4:
                break
        return best, best_err

    best, best_err = search((0, 1), ("nearest",))
    if best_err > tolerance:
        best, best_err = min((best, best_err), search((-1, 0, 1, 2), ("down", "up")), key=lambda r: r[1])
    if best_err > tolerance:
        raise ValueError(
            f"match_width: no width brings {spec.position.label} within {tolerance:.0%} of {metric}={target:,.0f} "
            f"(closest: widths {', '.join(map(str, best[0]))} at {best_err:.0%} off)"
        )
    return with_widths(spec, best[0], min_channels, best[1])
