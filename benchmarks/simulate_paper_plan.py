"""A seeds plan on a known truth, driven as the runner drives it: simulated studies shaped like a finished one
(its points, each point's measured seed spread and mean trial time), seeds added round by round where the
public rule asks (verdict.seed_targets), the verdict read at the end. Prints the false-claim rate with its exact
one-sided 95% upper bound, how many claims settle, and the trials and wall time a study takes. Kept out of
the suite (minutes).

    nice python benchmarks/simulate_paper_plan.py runs/paper [--truth measured|null] [--studies 200]
        [--looks 6,12,24,48] [--workers 2] [--seed 0]

Truths: "measured" gives every point its measured mean test accuracy; "null" gives every point the same
mean. Each run's accuracy is its point's mean plus a run effect with that point's measured seed spread (shared
by validation and test) plus split noise of 0.3 points; no per-image results (seed variance only).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from records.table import load_study_dir, tidy  # noqa: E402
from verdict import seed_targets, verdict  # noqa: E402
from verdict.claims import WORDS  # noqa: E402
from verdict.data import prepare  # noqa: E402
from verdict.sim import upper_bound  # noqa: E402

SPLIT_NOISE = 0.003  # validation and test noise of one run beyond its run effect (fractions)


def points_of(study: Path) -> pd.DataFrame:
    """One row per point of a finished study: a template trial, mean test accuracy, run spread, trial time."""
    raw, _ = load_study_dir(study)
    c = prepare(tidy(raw))
    c = c[~c["diverged"]]
    g = c.groupby("point", sort=True)
    out = g.head(1).set_index("point").assign(
        mu=g["test_accuracy"].mean(), sd=g["test_accuracy"].std(), seconds=g["duration_s"].mean())
    return out.drop(columns=["test_correct", "test_size"], errors="ignore")


def simulated_study(points: pd.DataFrame, mu: pd.Series, seeds: int, plan: str, rng) -> pd.DataFrame:
    """Every point at every seed up to the cap, as a trials frame (accuracies as fractions)."""
    rows = points.loc[points.index.repeat(seeds)].reset_index()
    seed = np.tile(np.arange(seeds), len(points))
    effect = rng.normal(0.0, 1.0, len(rows)) * rows["sd"].to_numpy()
    mean = mu.reindex(rows["point"]).to_numpy()
    val = mean + effect + rng.normal(0.0, SPLIT_NOISE, len(rows))
    test = mean + effect + rng.normal(0.0, SPLIT_NOISE, len(rows))
    return rows.assign(seed=seed, accuracy=np.clip(val, 0, 1), test_accuracy=np.clip(test, 0, 1), seed_plan=plan,
                       number=np.arange(len(rows)), state="COMPLETE", diverged=False)


def drive(full: pd.DataFrame, looks: tuple[int, ...], margin: float):
    """The runner's loop: every point at the first look, then the seed counts the rule asks, until it asks none."""
    n = dict.fromkeys(full["point"].unique(), looks[0])
    rounds = 0
    while True:
        frame = full[full["seed"] < full["point"].map(n)]
        targets = seed_targets(frame, margin=margin / 100, max_seeds=looks[-1], looks=looks)
        if not targets:
            return verdict(frame, margin=margin / 100, looks=looks), frame, rounds
        n.update(targets)
        rounds += 1


def judge(claim, mu: pd.Series, label_to_point: dict, ends: set, margin: float) -> tuple[bool, bool, bool]:
    """(false, settled, bounded within the margin) of one claim against the truth `mu` (points)."""
    words = WORDS[claim["question"]]
    code = words.index(claim["outcome"]) if claim["outcome"] in words else 3
    mine = lambda label: 100 * mu[label_to_point[(claim["budget_label"], label)]]  # noqa: E731
    if claim["question"] == "segments":
        budget = [p for (b, _), p in label_to_point.items() if b == claim["budget_label"]]
        best_end = max(100 * mu[p] for p in budget if p in ends)
        best_inter = max(100 * mu[p] for p in budget if p not in ends)
        i, e = (mine(label) for label in claim["points"])
        false = (code == 0 and i <= best_end) or (code == 1 and e <= best_inter) or (
            code == 2 and abs(best_inter - best_end) >= margin - 1e-9)
    else:
        theta = sum(w * mine(label) for w, label in zip(claim["weights"], claim["points"]))
        false = (code == 0 and theta <= 0) or (code == 1 and theta >= 0) or (code == 2 and abs(theta) >= margin - 1e-9)
    low, high = claim["ci_low"], claim["ci_high"]
    bounded = code != 3 or (low is not None and high is not None and -margin <= low and high <= margin)
    return false, code != 3, bounded


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", type=Path, help="a finished study's folder (its points, spreads and trial times)")
    p.add_argument("--truth", choices=("measured", "null"), default="measured")
    p.add_argument("--studies", type=int, default=200)
    p.add_argument("--looks", default="6,12,24,48")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--margin", type=float, default=1.0, help="points")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    looks = tuple(int(k) for k in a.looks.split(","))
    points = points_of(a.study)
    mu = points["mu"] if a.truth == "measured" else pd.Series(points["mu"].mean(), index=points.index)
    labels = {(r.budget_label, r.point_label): pt for pt, r in points.iterrows()}
    ends = set(points.index[points["is_end"]])
    rng, started = np.random.default_rng(a.seed), time.perf_counter()
    false, settled, bounded, all_bounded, trials, minutes, per_claim = [], [], [], [], [], [], {}
    for _ in range(a.studies):
        full = simulated_study(points, mu, looks[-1], "looks:" + ",".join(map(str, looks)), rng)
        v, frame, _ = drive(full, looks, a.margin)
        judged = [judge(x, mu, labels, ends, a.margin) for x in v.claims]
        for x, j in zip(v.claims, judged):
            per_claim.setdefault((x["question"], x["subject"]), []).append((j[1], x["n_seeds"]))
        false.append(any(j[0] for j in judged))
        settled.append(np.mean([j[1] for j in judged]))
        bounded.append(np.mean([j[2] for j in judged]))
        all_bounded.append(all(j[2] for j in judged))
        trials.append(len(frame))
        minutes.append(frame["point"].map(points["seconds"]).sum() / a.workers / 60)
    k = int(np.sum(false))
    print(f"{a.study} · truth {a.truth} · looks {a.looks} · {a.studies} studies ({time.perf_counter() - started:.0f} s)")
    print(f"false-claim rate {k / a.studies:.4f} (one-sided 95% upper bound {upper_bound(k, a.studies):.4f})")
    print(f"claims settled {np.mean(settled):.3f}; settled or bounded within ±{a.margin:g} {np.mean(bounded):.3f}; "
          f"studies with every claim so {np.mean(all_bounded):.3f}")
    print(f"trials mean {np.mean(trials):.0f} (max {np.max(trials)}); training wall at the measured trial times, "
          f"{a.workers} workers: mean {np.mean(minutes):.1f} min, 95th percentile {np.percentile(minutes, 95):.1f} min")
    print("\n| question | subject | settled | mean seeds read |\n|---|---|---|---|")
    for (question, subject), got in per_claim.items():
        print(f"| {question} | {subject} | {np.mean([g[0] for g in got]):.3f} | {np.mean([g[1] for g in got]):.1f} |")


if __name__ == "__main__":
    main()
