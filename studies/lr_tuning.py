"""--lr auto: before its confirmatory seeds, each point trains once at every rate of the grid (a separate
study `<name>-lr` in the same storage, seeds of its own) and keeps the rate with the best validation accuracy."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd
from optuna.trial import TrialState

from .plan import StudyPlan
from .spaces import LR_GRID, Run

SEED_BASE = 500  # tuning seeds: never a confirmatory seed


def tuning_plan(plan: StudyPlan) -> StudyPlan:
    """The rate-tuning study: every grid point once (its own seed) at each rate of the grid."""
    config = replace(plan.config, study_name=f"{plan.config.name}-lr", seeds=1, seed_base=SEED_BASE, trials=None)
    return replace(plan, config=config, space=plan.space.for_lr_tuning())


def chosen_rates(study, plan: StudyPlan) -> dict[Run, float]:
    """Run.network() (a point) -> the rate whose tuning run scored best on validation (diverged runs never
    win; a point with no finished run keeps the smallest rate, the safe side)."""
    best: dict[Run, tuple[float, float]] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        run = Run.from_params(t.params, plan.config)
        accuracy = t.user_attrs.get("accuracy", float("-inf"))
        key = run.network()
        if key not in best or accuracy > best[key][0]:
            best[key] = (accuracy, run.lr)
    return {key: best[key][1] if key in best else min(LR_GRID) for key in plan.networks}


def tuning_table(study) -> pd.DataFrame:
    """The tuning runs as DIR/lr_tuning.csv shows them: the point, the rate, its validation accuracy, its state."""
    rows = [{"position": t.user_attrs.get("position"), "order": t.user_attrs.get("order"),
             "activation": t.user_attrs.get("activation"), "budget_label": t.user_attrs.get("budget_label"),
             "lr": t.params.get("lr"), "accuracy": t.user_attrs.get("accuracy"), "state": t.state.name,
             "diverged": bool(t.user_attrs.get("diverged"))} for t in study.get_trials(deepcopy=False)]
    return pd.DataFrame(rows)
