"""Simulated studies with a known truth, for the verdict's measured guarantees (the suite's simulation
tests and benchmarks/simulate_verdict.py share these).

A `Setting` says the truth of one budget (each point's mean and seed spread, divergence, per-image
architecture x image effects) and the design (seeds, budgets, fixed / five looks / --seeds auto);
`run(setting, sims, rng)` draws that many whole studies at once and returns per study (`Result`)
whether any claim was false, whether the truly better intermediate point was found, the share of claims
answered (settled: not "not resolved", not descriptive), the share of budgets drawn descriptive and the
share of true differences of at least a margin claimed in their direction. Accuracies in points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .contrast import cannot_settle
from .stats import ALPHA, END, EQUIVALENT, INTERMEDIATE, LOOKS, OPEN, compare, final_look, image_variance, level, plan

__all__ = ["Setting", "Result", "run", "false_claims", "upper_bound", "holds", "BASE", "DESCRIPTIVE", "sequential",
           "LIMIT"]

DESCRIPTIVE = OPEN + 1  # outcome code of a budget drawn without a claim
LIMIT = 0.06  # a cell holds when the one-sided 95% upper bound of its false-claim rate is at most this


def upper_bound(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper confidence bound of a rate seen k times in n."""
    return float(stats.binomtest(int(k), int(n), alternative="less").proportion_ci(conf).high)


def holds(false, limit: float = LIMIT) -> bool:
    """Does a cell's false-claim rate (one bool per simulated study) stay at most 5% by the check: its
    one-sided 95% upper bound at most `limit` (6%)? Reachable only with enough studies: at a true 4%,
    about 3,000; at 2%, a few hundred."""
    false = np.asarray(false, dtype=bool)
    return upper_bound(int(false.sum()), false.size) <= limit

BASE = 80.0  # the points' accuracy (points) before their offsets
MODES = ("fixed", "looks", "sequential")


@dataclass(frozen=True)
class Setting:
    """One simulated design. Points are [regular, intermediates..., depthwise]; `means` are their true
    offsets in points when they train, `sds` each point's own seed spread (points, on top of `shared`,
    the data-order spread common to a seed), `diverge` each point's chance that a run diverges (scored
    0, as the verdict scores it), `images` > 0 draws per-image correctness on that many test images with
    each point's architecture x image offset of sd `interaction` points (its effect on the mean over
    these images). `mode`: fixed (seed count set in advance), looks (the default five looks), sequential
    (--seeds auto with cap `seeds`)."""

    name: str
    means: tuple[float, ...]
    sds: tuple[float, ...] | float = 1.0
    seeds: int = 8
    budgets: int = 1
    mode: str = "fixed"
    shared: float = 0.5
    val_sd: float = 1.26
    diverge: tuple[float, ...] | float = 0.0
    images: int = 0
    interaction: float = 0.0
    margin: float = 1.0
    better: int | None = None  # the index (among intermediates) of the truly better one, for power
    budget_sds: tuple[float, ...] | None = None  # each budget's scale of the seed spreads (None: all 1)
    descriptive: bool = True  # budgets whose first-look spread cannot settle by the cap spend no alpha
    power_budget: int | None = None  # the budget whose finding counts as power (None: every budget)
    trained_spread: bool = True  # the descriptive rule reads the runs that trained (False: every run, diverged ones 0)
    alpha: float = ALPHA  # the study's alpha (a larger one: a rule known to be too liberal, for the tests)
    tight: bool = False  # at a least favourable truth where the rate sits at 5% itself: more studies needed

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {self.mode!r}")
        if len(self.means) < 3:
            raise ValueError("means: at least the two ends and one intermediate point")

    @property
    def ends(self) -> np.ndarray:
        return np.r_[True, np.zeros(len(self.means) - 2, dtype=bool), True]

    @property
    def covered(self) -> bool:
        """Inside the guarantee: every point that can diverge shows a divergence among its seeds with at
        least 95% chance ((1 - p)^n <= 5%), or would not, without its divergence, be above the best point of
        its side (an end, or an intermediate) and so change no claim's truth; a rarer divergence looks, to
        any method, like none at all."""
        p = np.broadcast_to(np.asarray(self.diverge, dtype=float), (len(self.means),))
        trained = BASE + np.asarray(self.means, dtype=float)
        truth, ends = self.truth(), self.ends
        best = np.where(ends, truth[ends].max(), truth[~ends].max())
        unseen = (p > 0) & ((1 - p) ** self.seeds > 0.05)
        return bool((trained[unseen] <= best[unseen] + 1e-9).all())

    def truth(self) -> np.ndarray:
        """Each point's true expected test accuracy (points), divergence counted as 0."""
        p = np.broadcast_to(np.asarray(self.diverge, dtype=float), (len(self.means),))
        return (1 - p) * (BASE + np.asarray(self.means, dtype=float))


_LOGIT_SPREAD, _LOGIT_CENTRE = 2.5, 2.2  # image difficulty: most images easy, some hard (about 85% correct)
_INTERACTION_PER_POINT = 2.65  # logit sd per point of `interaction` (calibrated at 0.7 points, 1,000 images)


def _draw(s: Setting, sims: int, rng: np.random.Generator):
    """(val, test, correct or None, diverged) of `sims` studies, shapes (sims, budgets, points, seeds[, images])."""
    p, n = len(s.means), s.seeds
    shape = (sims, s.budgets, p, n)
    sds = np.broadcast_to(np.asarray(s.sds, dtype=float), (p,))[:, None]
    if s.budget_sds is not None:
        sds = np.asarray(s.budget_sds, dtype=float)[:, None, None] * sds  # (budgets, points, 1)
    own = rng.normal(0.0, 1.0, shape) * sds + rng.normal(0.0, s.shared, (sims, s.budgets, 1, n))
    mu = BASE + np.asarray(s.means, dtype=float)[:, None]
    diverged = rng.random(shape) < np.broadcast_to(np.asarray(s.diverge, dtype=float), (p,))[:, None]
    correct = None
    if s.images:
        a = rng.normal(_LOGIT_CENTRE, _LOGIT_SPREAD, (sims, s.budgets, 1, 1, s.images))
        v = rng.normal(0.0, _INTERACTION_PER_POINT * s.interaction, (sims, s.budgets, p, 1, s.images))
        shift = (mu - BASE)[..., None] / 100 / 0.10 + own[..., None] / 100 / 0.10  # 0.10: E[pi (1 - pi)] here
        prob = 1 / (1 + np.exp(-(a + v + shift)))
        correct = (rng.random(prob.shape, dtype=np.float32) < prob) & ~diverged[..., None]
        test = 100 * correct.mean(-1)
        model = 100 * (1 / (1 + np.exp(-(a + shift)))).mean(-1) + rng.normal(0, s.interaction, (sims, s.budgets, p, 1))
    else:
        model = mu + own
        test = model + 0.0
    val = np.where(diverged, 0.0, model + rng.normal(0.0, s.val_sd, shape))
    return val, np.where(diverged, 0.0, test), correct, diverged


def _look(val, test, correct, ends, alpha: float, margin: float):
    img = None if correct is None else 1e4 * image_variance(correct)
    return compare(val, test, ends, alpha=alpha, margin=margin, image_var=img)


def _take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, idx[..., None], -1)[..., 0]


def sequential(val, test, correct, ends, looks, at, margin: float, descriptive: bool = True, alpha: float = ALPHA,
               trained=None):
    """(outcome, i_star, e_star, stop) per study and budget when each budget stops at its first settled
    look among the seed counts `at`, alpha paid for `looks` (None: one look, a fixed design), as the
    verdict does. With `descriptive`, a budget whose first look's spread (of the runs that trained, where
    `trained` says which) cannot settle by the cap is drawn (DESCRIPTIVE, stop 0) and the others split
    alpha among them."""
    b, n = val.shape[-3], val.shape[-1]
    first, cap = (looks[0], looks[-1]) if looks else (n, n)
    mask = None if trained is None else trained[..., :first]
    desc = (cannot_settle(test[..., :first], cap, level(b, looks, alpha), int((~ends).sum()), margin, trained=mask)
            if descriptive and n >= first else np.zeros(val.shape[:-2], dtype=bool))
    kept = (~desc).sum(-1)
    zero = np.zeros(val.shape[:-2], dtype=int)
    out = (zero, zero, zero, zero)
    for k in sorted(set(kept.ravel().tolist()) - {0}):
        cs = [_look(val[..., :m], test[..., :m], None if correct is None else correct[..., :m, :], ends,
                    level(k, looks, alpha), margin) for m in at]
        stop, outcome = final_look(np.stack([c.outcome for c in cs], -1))
        pick = lambda name: _take(np.stack([getattr(c, name) for c in cs], -1), stop)  # noqa: E731
        r = (outcome, pick("i_star"), pick("e_star"), stop)
        out = tuple(np.where((kept == k)[..., None], x, y) for x, y in zip(r, out))
    return (np.where(desc, DESCRIPTIVE, out[0]), out[1], out[2], np.where(desc, 0, out[3]))


def _study(s: Setting, val, test, correct, trained=None):
    """(outcome, i_star, e_star) per study and budget under the setting's design."""
    looks = plan(s.seeds) if s.mode == "sequential" else LOOKS if s.mode == "looks" else None
    at = looks if s.mode == "sequential" else (s.seeds,)
    return sequential(val, test, correct, s.ends, looks, at, s.margin, s.descriptive, s.alpha, trained)[:3]


def _false_per_budget(outcome, i_star, e_star, truth, ends, margin: float) -> np.ndarray:
    """Per study and budget: a false claim? "intermediate better" when the named intermediate does not
    truly beat every end, "end better" when the named end does not truly beat every intermediate, "no
    practical difference" when the true best-minus-best gap is at least the margin."""
    mi, me = truth[~ends], truth[ends]
    chosen_i, chosen_e = mi[i_star], me[e_star]
    return (((outcome == INTERMEDIATE) & (chosen_i <= me.max())) | ((outcome == END) & (chosen_e <= mi.max()))
            | ((outcome == EQUIVALENT) & (abs(mi.max() - me.max()) >= margin - 1e-9)))


def false_claims(outcome, i_star, e_star, truth, ends, margin: float) -> np.ndarray:
    """Per study: did any budget make a false claim (see `_false_per_budget`)?"""
    return _false_per_budget(outcome, i_star, e_star, truth, ends, margin).any(-1)


@dataclass(frozen=True)
class Result:
    """Per simulated study: `false` any false claim; `found` the setting's own power event (segments: the
    truly better intermediate named better at every budget, or at `power_budget`; claims: the share of
    the `power` question's truly positive contrasts claimed positive), NaN where the setting names none;
    `answered` the share of its claims settled (a direction or "no practical difference"; not "not
    resolved", not descriptive); `descriptive` the share of its budgets drawn descriptive; `power` the
    share of its claims whose truth is at least a margin from 0 that are claimed in that direction (NaN
    where it has none)."""

    false: np.ndarray
    found: np.ndarray
    answered: np.ndarray
    descriptive: np.ndarray
    power: np.ndarray


def _share(hits: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Per study: hits among the cells `of` (last axis), NaN where there are none."""
    of = np.broadcast_to(of, hits.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(of.sum(-1) > 0, (hits & of).sum(-1) / np.maximum(of.sum(-1), 1), np.nan)


def run(s: Setting, sims: int, rng: np.random.Generator) -> Result:
    """`sims` whole simulated studies of the setting, their claims scored against its truth."""
    val, test, correct, diverged = _draw(s, sims, rng)
    outcome, i_star, e_star = _study(s, val, test, correct, ~diverged if s.trained_spread else None)
    truth = s.truth()
    wrong = _false_per_budget(outcome, i_star, e_star, truth, s.ends, s.margin)
    hit = (outcome == INTERMEDIATE) & (i_star == s.better)
    nan = np.full(sims, np.nan)
    found = (hit.all(-1) if s.power_budget is None else hit[..., s.power_budget]) if s.better is not None else nan
    theta = truth[~s.ends].max() - truth[s.ends].max()
    right_way = ((outcome == INTERMEDIATE) & (theta > 0)) | ((outcome == END) & (theta < 0))
    return Result(wrong.any(-1), found.astype(float), np.isin(outcome, (INTERMEDIATE, END, EQUIVALENT)).mean(-1),
                  (outcome == DESCRIPTIVE).mean(-1), _share(right_way & ~wrong, abs(theta) >= s.margin - 1e-9))


def _k(k: int, **at) -> tuple[float, ...]:
    """Offsets of [regular, k intermediates, depthwise]: zero but where `at` says (index -> points)."""
    mu = [0.0] * (k + 2)
    for i, x in at.items():
        mu[int(i[1:])] = x
    return tuple(mu)


PROFILE = (1.0, 1.65, 2.3, 2.95, 3.6)  # measured seed spreads at one budget (points), spread over 5 points
FAR = -30.0  # an end far below: the intersection-union bound rests on the other end alone


def false_claim_cells() -> list[Setting]:
    """The designs whose false-claim rate must stay at or below 5%: truths where a claim is false."""
    cells = [Setting(f"null, K={k}, {n} seeds, {m}", _k(k), 1.0, n, mode=m)
             for k in (1, 3, 12) for n in (3, 5, 8, 20) for m in ("fixed", "looks", "sequential")]
    cells += [Setting(f"null, K=3, 8 seeds, 3 budgets, {m}", _k(3), 1.0, 8, 3, mode=m) for m in ("fixed", "sequential")]
    for n in (3, 5, 8, 12):
        cells += [
            Setting(f"1.0-3.6 spreads, depthwise noisiest, regular far worse, {n} seeds", _k(3, p0=FAR), PROFILE, n),
            Setting(f"1.0-3.6 spreads, an intermediate noisiest, regular far worse, {n} seeds", _k(3, p0=FAR),
                    (1.0, 3.6, 1.65, 2.3, 2.95), n),
            Setting(f"depthwise 10x noisier, regular far worse, {n} seeds", _k(3, p0=FAR), (1, 1, 1, 1, 10), n),
            Setting(f"an intermediate 10x noisier, regular far worse, {n} seeds", _k(3, p0=FAR), (1, 10, 1, 1, 1), n),
            *(Setting(f"depthwise {r:g}x noisier, regular far worse, {n} seeds", _k(3, p0=FAR), (1, 1, 1, 1, r), n)
              for r in (1.5, 2, 3, 8)),
            Setting(f"K=12, depthwise 3x noisier, regular far worse, {n} seeds", _k(12, p0=FAR), (1,) * 13 + (3,), n),
        ]
    cells += [Setting(f"1.0-3.6 spreads, regular far worse, cap 20, {m}", _k(3, p0=FAR), PROFILE, 20, mode=m)
              for m in ("looks", "sequential")]
    truths = (("regular 3 points below", lambda k: _k(k, p0=-3.0)),
              ("an intermediate one margin above", lambda k: _k(k, **{f"p{1 + k // 2}": 1.0})),
              ("depthwise one margin above", lambda k: _k(k, **{f"p{k + 1}": 1.0})))
    cells += [Setting(f"{kind}, K={k}, {n} seeds, {m}", truth(k), 1.0, n, mode=m, tight=k == 1 and m == "fixed")
              for kind, truth in truths for k in (1, 12) for n in (5, 20) for m in ("fixed", "sequential")]
    cells += [Setting(f"+3 points when trained, diverges in {p:.0%} of seeds, {n} seeds", _k(3, p2=3.0), 1.0, n,
                      diverge=(0, 0, p, 0, 0)) for p in (0.4, 0.2) for n in (5, 8, 12)]
    cells += [Setting(f"depthwise diverges in 40% of seeds, {n} seeds", _k(3), 1.0, n, diverge=(0, 0, 0, 0, 0.4))
              for n in (5, 12)]
    cells += [Setting(f"null, the regular end diverges in 15% of seeds, K=3, {n} seeds", _k(3), 1.0, n,
                      diverge=(0.15, 0, 0, 0, 0)) for n in (8, 20)]
    return cells + margin_cells() + descriptive_cells()


def margin_cells() -> list[Setting]:
    """At the margin with unequal spreads: one point exactly one margin better (a "no practical
    difference" is false there), an end 3x noisier, 4 and 8 fixed seeds."""
    return [Setting(f"{kind}, K={k}, {n} seeds{'' if rule else ', every budget tested (no descriptive rule)'}", truth(k),
                    sds(k), n, descriptive=rule) for n in (4, 8) for rule in (True, False) for kind, truth, sds, ks in (
        ("an intermediate one margin above, depthwise 3x noisier", lambda k: _k(k, **{f"p{1 + k // 2}": 1.0}),
         lambda k: (1.0,) * (k + 1) + (3.0,), (1, 3)),
        ("an intermediate one margin above, regular 3x noisier", lambda k: _k(k, **{f"p{1 + k // 2}": 1.0}),
         lambda k: (3.0,) + (1.0,) * (k + 1), (1,)),
        ("depthwise one margin above and 3x noisier", lambda k: _k(k, **{f"p{k + 1}": 1.0}),
         lambda k: (1.0,) * (k + 1) + (3.0,), (1, 3)),
    ) for k in ks]


def descriptive_cells() -> list[Setting]:
    """Null truths with one noisy budget and one quiet one: the noisy one far past the rule's threshold,
    or at it (descriptive about half the time: the least favourable place for a rule read off the spread)."""
    return [Setting(f"null, K={k}, 2 budgets, one {r:g}x noisier, {n} seeds, {m}", _k(k), 1.0, n, 2, mode=m,
                    budget_sds=(r, 1.0)) for k in (1, 3) for r in (1.6, 2.0, 4.0)
            for n, m in ((8, "fixed"), (8, "sequential"), (20, "sequential"))]


def image_cells() -> list[Setting]:
    """Per-image results: equal on the task, each point off by its own 0.7-point architecture x image
    effect on these 1,000 test images (the seed spread's size)."""
    return [Setting(f"images: 0.7-point interaction, 1,000 images, {n} seeds", _k(3), 0.5, n, images=1000,
                    interaction=0.7) for n in (3, 8, 20)]


def power_cells() -> list[Setting]:
    """True advantages the verdict should find (the middle of K=3 intermediate points)."""
    own = round((1.3**2 - 0.5**2) ** 0.5, 3)  # 1.3 points per point in all, 0.5 of it a seed's shared data order
    return [
        Setting("+2 points, 8 fixed seeds, seed sd 1.3 (0.5 shared)", _k(3, p2=2.0), own, 8, better=1),
        Setting("+2 points, 8 fixed seeds, seed sd 1.3 (none shared)", _k(3, p2=2.0), 1.3, 8, shared=0.0, better=1),
        Setting("+2 points, --seeds auto cap 8, seed sd 1.3 (0.5 shared)", _k(3, p2=2.0), own, 8, mode="sequential",
                better=1),
        Setting("+2 points, 8 seeds, five looks, seed sd 1.3 (0.5 shared)", _k(3, p2=2.0), own, 8, mode="looks",
                better=1),
        Setting("+2 points, 8 fixed seeds, 1.0-3.6 spreads", _k(3, p2=2.0), PROFILE, 8, better=1),
        Setting("+3 points, 8 fixed seeds, seed sd 1.3 (0.5 shared)", _k(3, p2=3.0), own, 8, better=1),
        Setting("+2 points, 20 fixed seeds, seed sd 1.3 (0.5 shared)", _k(3, p2=2.0), own, 20, better=1),
        *(Setting(f"+2 points on the quiet budget, the other 4x noisier, 8 fixed seeds, {rule}", _k(3, p2=2.0), own,
                  8, 2, budget_sds=(4.0, 1.0), better=1, power_budget=1, descriptive=rule == "descriptive rule")
          for rule in ("descriptive rule", "no rule")),
        *divergence_power_cells(),
    ]


def divergence_power_cells() -> list[Setting]:
    """segments=4 truly +3 points, 8 fixed seeds, the regular end (the worst point anyway) diverging in 15%
    of its seeds: the descriptive rule on the runs that trained, and on every run (diverged ones scored 0)."""
    return [Setting(f"+3 points at segments=4, the regular end diverges in 15% of seeds, 8 fixed seeds, spread of "
                    f"{'the runs that trained' if trained else 'every run (diverged scored 0)'}", _k(3, p2=3.0), 1.0, 8,
                    diverge=(0.15, 0, 0, 0, 0), better=1, trained_spread=trained) for trained in (True, False)]
