"""Simulated studies of the order, nonlinearity and paper designs with a known truth: every claim the
verdict makes of them (segments, order, nonlinearity, interaction) under the one alpha, as in
reports.verdict, and whether any of them is false (tests/test_verdict_claims.py and
benchmarks/simulate_verdict.py share these). Accuracies in points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.vocabulary import position_label

from .claims import claim_specs
from .contrast import cannot_settle, contrast_image_variance, contrast_test
from .stats import level
from .sim import DESCRIPTIVE, Setting, _draw, _look, false_claims

__all__ = ["ClaimSetting", "design_points", "run_claims", "claim_cells", "image_claim_cells", "claim_power_cells"]

WIDTH = 16
DESIGNS = {  # (positions as segment counts, orders, activations) of each part, as studies.spaces lays them out
    "order": (((1, 2, 4, 8, 16), ("spatial_first", "pointwise_first"), ("none",)),),
    "nonlinearity": (((1, 4, 16), ("spatial_first",), ("none", "relu", "elu")),),
}
DESIGNS["paper"] = (((1, 2, 4, 8, 16), ("spatial_first",), ("none",)), *DESIGNS["order"], *DESIGNS["nonlinearity"])


def design_points(design: str) -> pd.DataFrame:
    """One row per point of a design (the union of its parts): segments, position, order, activation, end."""
    rows = {(s, o, a) for segs, orders, acts in DESIGNS[design] for s in segs for o in orders for a in acts}
    t = pd.DataFrame(sorted(rows), columns=["segments", "order", "activation"])
    t["position"] = [position_label(s, WIDTH) for s in t["segments"]]
    t["is_end"] = t["segments"].isin((1, WIDTH))
    t["end"] = np.where(t["segments"] == 1, "regular", np.where(t["is_end"], "depthwise", ""))
    varying = [k for k in ("order", "activation") if t[k].nunique() > 1]
    t["point"] = t["position"]
    for k in varying:
        t["point"] = t["point"] + " · " + t[k]
    return t


@dataclass(frozen=True)
class ClaimSetting:
    """A design's truth: `offsets` maps (segments, order, activation) -> true offset in points (others 0),
    `sds` each point's own seed spread (a number, or a map like offsets), the rest as in verdict_sim."""

    name: str
    design: str
    offsets: tuple = ()
    sds: tuple | float = 1.0
    seeds: int = 8
    budgets: int = 1
    margin: float = 1.0
    diverge: tuple = ()
    images: int = 0
    interaction: float = 0.0
    power: str | None = None  # a question whose true-signed claims count as found (power cells)

    def arrays(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        t = design_points(self.design)
        keys = list(zip(t["segments"], t["order"], t["activation"]))
        pick = lambda m, default: np.array([dict(m).get(k, default) for k in keys], dtype=float)  # noqa: E731
        sds = np.full(len(t), float(self.sds)) if isinstance(self.sds, (int, float)) else pick(self.sds, 1.0)
        return t, pick(self.offsets, 0.0), sds, pick(self.diverge, 0.0)


def _specs(t: pd.DataFrame, budgets: int):
    per = claim_specs(t.assign(budget_label="b0"))
    index = {p: i for i, p in enumerate(t["point"])}
    return [(b, s.question, np.array([index[p] for p in s.points]), np.array(s.weights)) for b in range(budgets)
            for s in per]


def _contrast_claims(s: ClaimSetting, specs, test, correct, truth, alphas, kept):
    """Per study: any false claim among the contrasts, and (power) how many true-signed ones were made."""
    false = np.zeros(test.shape[0], dtype=bool)
    found = np.zeros(test.shape[0])
    for b, question, idx, w in specs:
        iv = None if correct is None else 1e4 * contrast_image_variance(correct[:, b, idx], w)
        code = np.full(test.shape[0], DESCRIPTIVE)
        for a in np.unique(alphas):
            r = contrast_test(test[:, b, idx], w, alpha=a, margin=s.margin, image_var=iv)
            code = np.where((alphas == a) & kept[:, b], r.outcome, code)
        theta = float(w @ truth[idx])
        false |= ((code == 0) & (theta <= 0)) | ((code == 1) & (theta >= 0)) | ((code == 2) & (abs(theta) >= s.margin - 1e-9))
        if question == s.power:
            found += (code == 0) & (theta > 0)
    return false, found


def run_claims(s: ClaimSetting, sims: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per simulated study: (any false claim among all its claims, share of the `power` question's truly
    positive contrasts claimed positive). Alpha is split over every claim of every kept budget; a budget
    whose spread cannot settle by its seeds (fixed design, one look) is descriptive, as in the verdict."""
    t, offsets, sds, diverge = s.arrays()
    draw = Setting(s.name, tuple(offsets), tuple(sds), s.seeds, s.budgets, diverge=tuple(diverge), images=s.images,
                   interaction=s.interaction, margin=s.margin)
    val, test, correct = _draw(draw, sims, rng)
    truth = draw.truth()
    ends = t["is_end"].to_numpy()
    specs = _specs(t, s.budgets)
    per_budget = 1 + len(specs) // s.budgets  # the segments claim and the contrasts of one budget
    desc = cannot_settle(test, s.seeds, level(per_budget * s.budgets, None), int((~ends).sum()), s.margin)
    kept = ~desc
    alphas = np.array([level(per_budget * int(k), None) if k else 1.0 for k in kept.sum(-1)])
    false, found = _contrast_claims(s, specs, test, correct, truth, alphas, kept)
    for a in np.unique(alphas):
        c = _look(val, test, correct, ends, float(a), s.margin)
        outcome = np.where(kept, c.outcome, DESCRIPTIVE)
        seg = false_claims(outcome, c.i_star, c.e_star, truth, ends, s.margin)
        false |= seg & (alphas == a)
    n_true = sum(1 for _, q, idx, w in specs if q == s.power and float(w @ truth[idx]) > 0)
    return false, found / max(n_true, 1)


def claim_cells() -> list[ClaimSetting]:
    """Truths where a claim is false, the least favourable included."""
    nl, od = "nonlinearity", "order"
    spread9 = tuple(((g, "spatial_first", a), sd) for (g, a), sd in zip(
        [(g, a) for g in (1, 4, 16) for a in ("none", "relu", "elu")], np.linspace(1.0, 3.6, 9)))
    return [
        *(ClaimSetting(f"nonlinearity: null, {n} seeds", nl, seeds=n) for n in (3, 5, 8, 20)),
        ClaimSetting("nonlinearity: null, 8 seeds, 2 budgets", nl, seeds=8, budgets=2),
        *(ClaimSetting(f"nonlinearity: relu one margin above none at the middle only, {n} seeds", nl,
                       (((4, "spatial_first", "relu"), 1.0),), seeds=n) for n in (5, 20)),
        ClaimSetting("interaction zero, main effects large (relu +3, elu -3 everywhere, regular +5), 8 seeds", nl,
                     tuple(((g, "spatial_first", a), x + (5.0 if g == 1 else 0.0)) for g in (1, 4, 16)
                           for a, x in (("none", 0.0), ("relu", 3.0), ("elu", -3.0)))),
        ClaimSetting("interaction exactly one margin (relu +1 at regular only), 20 seeds", nl,
                     (((1, "spatial_first", "relu"), 1.0),), seeds=20),
        ClaimSetting("nonlinearity: null, 1.0-3.6 spreads over the 9 points, 20 seeds", nl, sds=spread9, seeds=20),
        ClaimSetting("nonlinearity: null, depthwise relu 10x noisier, 20 seeds", nl,
                     sds=(((16, "spatial_first", "relu"), 10.0),), seeds=20),
        ClaimSetting("nonlinearity: relu at depthwise +3 when trained, diverges in 40%, 12 seeds", nl,
                     (((16, "spatial_first", "relu"), 3.0),), seeds=12,
                     diverge=(((16, "spatial_first", "relu"), 0.4),)),
        *(ClaimSetting(f"order: null, {n} seeds", od, seeds=n) for n in (3, 5, 12)),
        ClaimSetting("order: spatial first one margin above at segments=4 only, 20 seeds", od,
                     (((4, "spatial_first", "none"), 1.0),), seeds=20),
        ClaimSetting("order: null, pointwise first 3x noisier, 20 seeds", od, seeds=20,
                     sds=tuple(((g, "pointwise_first", "none"), 3.0) for g in (1, 2, 4, 8, 16))),
        ClaimSetting("paper: null, 8 seeds, 2 budgets", "paper", seeds=8, budgets=2),
        ClaimSetting("paper: elu one margin above none at depthwise, 20 seeds", "paper",
                     (((16, "spatial_first", "elu"), 1.0),), seeds=20),
    ]


def image_claim_cells() -> list[ClaimSetting]:
    return [ClaimSetting("nonlinearity: images, 0.7-point interaction, 1,000 images, 8 seeds", "nonlinearity",
                         sds=0.5, images=1000, interaction=0.7)]


def claim_power_cells() -> list[ClaimSetting]:
    """True effects: the share of the question's truly positive contrasts claimed positive."""
    nl = "nonlinearity"
    return [
        ClaimSetting("order: spatial first +2 at every segment count, 20 seeds, sd 1.2", "order",
                     tuple(((g, "spatial_first", "none"), 2.0) for g in (1, 2, 4, 8, 16)), sds=1.2, seeds=20,
                     power="order"),
        ClaimSetting("interaction: relu +3 at regular, 0 elsewhere, 20 seeds, sd 1.2", nl,
                     (((1, "spatial_first", "relu"), 3.0),), sds=1.2, seeds=20, power="interaction"),
        ClaimSetting("nonlinearity: relu +2 at every point, 20 seeds, sd 1.2", nl,
                     tuple(((g, "spatial_first", "relu"), 2.0) for g in (1, 4, 16)), sds=1.2, seeds=20,
                     power="nonlinearity"),
    ]
