"""Synthetic studies with known answers, for the tests and the benchmark (no torch, no training).

``synthetic_trials(shape=...)`` returns trial records as a study's trials frame (list fields as lists;
`write_synthetic_study` writes them as a study does: trials.csv + curves.csv), where accuracy follows a known curve
over the spectrum plus seeded noise (one trained model's own noise, shared by its validation
``accuracy`` and its ``test_accuracy``, plus each split's own image-sampling noise):

- ``"middle"``: an intermediate segment count is clearly best (the ends lose ~3 points);
- ``"end"``: both ends are best and the middle of the spectrum loses ~3 points;
- ``"noise"``: accuracy does not depend on the position; only seed noise.

``simulated_accuracies`` draws thousands of whole studies at once (numpy arrays, for the verdict's
simulation tests) and ``study_frame`` turns one of them into a trials table.

Costs are computed from a simple analytic model of the block (a 1x1 conv + a kxk conv in
``segments`` groups) so MACs, params and latency move the right way along the spectrum.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from common.vocabulary import ACTIVATION_NAMES as ACTIVATIONS
from common.vocabulary import ORDERS, position_label

from . import record
from .table import write_trial_tables
from .record import TrialRecord

__all__ = [
    "synthetic_trials", "synthetic_config", "write_synthetic_study", "write_hostile_study", "SHAPES", "HOSTILE",
    "simulated_accuracies", "simulated_ends", "study_frame",
]

SHAPES = ("middle", "end", "noise")


def _effect(shape: str, segments: int, base_width: int) -> float:
    """Accuracy offset (fraction) at this position of the spectrum."""
    t = math.log(segments) / math.log(base_width)  # 0 = regular end, 1 = depthwise end
    if shape == "middle":
        return 0.03 * (1.0 - abs(2.0 * t - 1.0))  # peak at the middle, ends 3 points lower
    if shape == "end":
        return -0.03 * (1.0 - abs(2.0 * t - 1.0))  # ends best, middle 3 points lower
    if shape == "noise":
        return 0.0
    raise ValueError(f"shape: expected one of {SHAPES}, got {shape!r}")


def _cost(segments: int, width: int, k: int, image: int = 16, blocks: int = 6):
    pw = width * width
    sp = k * k * width * width // segments if segments <= width else k * k * width
    params = blocks * (pw + sp) + 10 * width
    macs = image * image * blocks * (pw + sp)
    activations = image * image * width * blocks * 2
    return params, macs, activations


def synthetic_trials(
    shape: str = "middle",
    *,
    space: str = "segments",
    n_trials: int | None = None,
    seeds: int = 3,
    base_widths=(32, 64),
    noise: float | None = None,
    image_noise: float | None = None,
    epochs: int = 5,
    fail_every: int = 0,
    rng_seed: int = 0,
    study_tag: str = "",
) -> pd.DataFrame:
    """A study's trials frame (one TrialRecord a row) with a known answer (see module doc).

    `space` picks what varies besides the segment count: "segments" (nothing), "order",
    "nonlinearity" (activation), "joint" (both). One matched budget per base width. `n_trials`
    (optional) repeats seeds until that many rows, then truncates. `fail_every` > 0 marks every
    n-th trial FAIL (NaN metrics, a reason). `noise` is the seed-to-seed accuracy sd of a trained model
    (fraction), `image_noise` each split's own sd on top of it (default: half of `noise`).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape: expected one of {SHAPES}, got {shape!r}")
    rng = np.random.default_rng(rng_seed)
    sigma = noise if noise is not None else (0.01 if shape == "noise" else 0.002)
    image_sigma = image_noise if image_noise is not None else sigma / 2
    orders = ORDERS if space in ("order", "joint") else ("spatial_first",)
    acts = ACTIVATIONS if space in ("nonlinearity", "joint") else ("none",)
    points = [(bw, s, o, a) for bw in base_widths for s, o, a in
              itertools.product([2**i for i in range(int(math.log2(bw)) + 1)], orders, acts)]
    n_seeds = seeds if n_trials is None else max(seeds, math.ceil(n_trials / len(points)))
    trials = [(seed, *point) for seed in range(n_seeds) for point in points][:n_trials]
    rows = [vars(_trial(number, seed, bw, s, o, a, shape=shape, space=space, sigma=sigma, image_sigma=image_sigma,
                        epochs=epochs, failed=bool(fail_every) and number % fail_every == fail_every - 1,
                        study_tag=study_tag, rng=rng))
            for number, (seed, bw, s, o, a) in enumerate(trials)]
    return pd.DataFrame(rows, columns=list(record.kinds()))


ORDER_EFFECT = {"spatial_first": 0.004, "pointwise_first": 0.0}
ACTIVATION_EFFECT = {"none": 0.0, "relu": 0.003, "elu": 0.002, "gelu": 0.004, "silu": 0.004, "leaky_relu": 0.003}
START = pd.Timestamp("2025-01-01T00:00:00", tz="UTC")


def _trial(number, seed, bw, s, o, a, *, shape, space, sigma, image_sigma, epochs, failed, study_tag, rng):
    """One synthetic trial record: the point matched to its base width's budget, scores with known effects."""
    k = 3
    _, budget_m, _ = _cost(1, bw, k)  # the regular end at base width sets the MAC budget
    width = int(round(bw * math.sqrt((1 + k * k) / (1 + k * k / s))))  # widened to the budget, as the matcher does
    params, macs, acts_n = _cost(s, width, k)
    model = 0.70 + _effect(shape, s, bw) + ORDER_EFFECT[o] + ACTIVATION_EFFECT[a] + rng.normal(0.0, sigma)
    acc, test_acc = np.clip(model + rng.normal(0.0, image_sigma, 2), 0.0, 1.0).tolist()
    curve = [acc * (1 - math.exp(-3 * (e + 1) / epochs)) / (1 - math.exp(-3)) for e in range(epochs)]
    curve = [float(np.clip(c + rng.normal(0, 0.002), 0, 1)) for c in curve[:-1]] + [acc]
    lat = 0.02 * macs / 1e6 + 0.004 * s + rng.normal(0, 0.01) ** 2
    start, dur = START + pd.Timedelta(seconds=60 * number), 30.0 + 10 * rng.random()
    scores = {} if failed else dict(
        params=params, macs=macs, activations=acts_n, latency_ms=lat, latency_iqr_ms=lat * 0.05, accuracy=acc,
        test_accuracy=test_acc, accuracy_per_epoch=[round(c, 5) for c in curve], train_time_s=dur * 0.9)
    return TrialRecord(
        number=number, state="FAIL" if failed else "COMPLETE",
        fail_reason="RuntimeError: CUDA out of memory (synthetic)" if failed else "",
        datetime_start=start.isoformat(), datetime_complete=(start + pd.Timedelta(seconds=dur)).isoformat(),
        duration_s=dur, space=space, position=position_label(s, bw), segments=s, base_width=bw, group_width=bw // s,
        order=o, activation=a, kernel_size=k, intermediate_norm=False, match="macs", budget=float(budget_m),
        budget_label=f"macs≈{budget_m / 1e6:.2g}M{study_tag}", widths="-".join(map(str, [width // 2, width, width * 2])),
        seed=seed, epochs=epochs, backend="torch", device="cpu", dataset="synthetic", latency_device="cpu (2 threads)",
        latency_batch=64, permanent=False if failed else None, interrupted=failed, **scores)


def simulated_ends(intermediate: int) -> np.ndarray:
    """Which of the simulated points are ends: [regular, intermediate points ..., depthwise]."""
    return np.r_[True, np.zeros(intermediate, dtype=bool), True]


def simulated_accuracies(
    rng: np.random.Generator, *, sims: int, budgets: int, intermediate: int, seeds: int, means=0.0,
    seed_sd: float = 0.005, model_sd: float = 0.005, val_sd: float = 0.0126, test_sd: float = 0.004,
) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) accuracies (fractions) of `sims` whole studies, arrays (sims, budgets, points,
    seeds), points as in `simulated_ends`. Seed i shares its data order at every point of a budget
    (`seed_sd`); each trained model has its own noise (`model_sd`), shared by its validation and test
    accuracy; each split adds its own image-sampling noise (defaults: 1,000 and 10,000 images at 80%).
    `means`: true offsets per point, shape (points,) or (budgets, points), added to 0.8."""
    shape = (sims, budgets, intermediate + 2, seeds)
    order = rng.normal(0.0, seed_sd, (sims, budgets, 1, seeds))
    model = 0.8 + np.broadcast_to(np.asarray(means, dtype=float)[..., None], shape[1:]) + order
    model = model + rng.normal(0.0, model_sd, shape)
    return model + rng.normal(0.0, val_sd, shape), model + rng.normal(0.0, test_sd, shape)


def study_frame(val: np.ndarray, test: np.ndarray, *, base_width: int = 64) -> pd.DataFrame:
    """One simulated study (arrays (budgets, points, seeds)) as a trials table with the verdict's columns."""
    b, p, n = val.shape
    segs = np.r_[1, np.arange(2, p), base_width]  # distinct labels are all the verdict needs
    position = np.array([position_label(k, base_width) for k in segs])
    bb, pp, ss = np.meshgrid(np.arange(b), np.arange(p), np.arange(n), indexing="ij")
    return pd.DataFrame({
        "state": "COMPLETE", "position": position[pp.ravel()], "segments": segs[pp.ravel()],
        "base_width": base_width, "budget_label": [f"macs≈{i + 1}M" for i in bb.ravel()], "seed": ss.ravel(),
        "accuracy": val.ravel(), "test_accuracy": test.ravel(), "macs": 1e6 * (bb.ravel() + 1),
    })


def synthetic_config(space: str = "segments", study_name: str = "synthetic", **extra) -> dict:
    cfg = {
        "space": space,
        "command": f"python run_study.py --space {space} --dataset synthetic --epochs 5 --seeds 3",
        "dataset": "synthetic",
        "epochs": 5,
        "batch_size": 128,
        "device": "cpu",
        "backend": "torch",
        "storage": "sqlite:///runs/synthetic.db",
        "study_name": study_name,
        "seeds": 3,
        "match": "macs",
        "budgets": [1.2e6, 4.7e6],
        "git_commit": "0000000000000000000000000000000000000000",
        "date": "2025-01-01T00:00:00+00:00",
        "environment": {"device": "cpu", "threads": "2", "optuna": "5.0.0", "torch": "n/a (synthetic)"},
    }
    cfg.update(extra)
    return cfg


def write_synthetic_study(directory, shape: str = "middle", *, config: dict | None = None, facts: dict | None = None,
                          **kwargs) -> Path:
    """Write DIR/trials.csv and DIR/config.json for a synthetic study; return DIR. `facts`: its space's, as a
    study writes them to config.json (studies.spaces.Space.facts(): questions, leads, exploratory)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    df = synthetic_trials(shape, **kwargs)
    write_trial_tables(df, d)
    if config is None:
        budgets = sorted({float(b) for b in df["budget"].dropna()})
        config = synthetic_config(kwargs.get("space", "segments"), study_name=d.name, budgets=budgets)
    cfg = {**config, **(facts or {})}
    (d / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return d


# Markup that must come out as text wherever a study's strings reach the page (escaping tests).
HOSTILE = "<script>document.documentElement.setAttribute('data-pwned','1')</script>"
HOSTILE_IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','2')\">"


def write_hostile_study(directory) -> Path:
    """A synthetic study whose name, command, labels, device, environment and failure reasons
    carry HTML/JS markup; a correct report shows it as text and runs none of it."""
    raw = synthetic_trials("middle", fail_every=4)
    raw.loc[raw["state"] == "FAIL", "fail_reason"] = HOSTILE_IMG
    raw.loc[raw["segments"] == 2, "position"] = HOSTILE
    raw["budget_label"] = raw["budget_label"] + " <b>" + HOSTILE
    raw["latency_device"] = "cpu " + HOSTILE
    cfg = synthetic_config(
        study_name="x" + HOSTILE, command="run " + HOSTILE, environment={"gpu": HOSTILE_IMG, "n": {"a": HOSTILE}}
    )
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write_trial_tables(raw, d)
    (d / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return d
