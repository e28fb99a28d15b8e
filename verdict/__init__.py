"""The verdict, torch-free: statistics, claims, their words and the simulations with known truths.

    v = verdict.verdict(trials, margin=0.01)   # trials: a DataFrame shaped like DIR/trials.csv (raw or tidy)
    v.overall, v.budgets[0].ci_low, v.claims, v.to_json()

reports/ draws it; studies/ stores it (verdict.json) and asks it where to add seeds (seed_targets).
"""
from .core import (
    DESCRIPTIVE, BudgetVerdict, Verdict, looks_from, pareto_mask, seed_targets, study_verdict, verdict,
)

__all__ = ["DESCRIPTIVE", "BudgetVerdict", "Verdict", "looks_from", "pareto_mask", "seed_targets",
           "study_verdict", "verdict"]
