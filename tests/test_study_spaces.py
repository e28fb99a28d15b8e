"""What each space trains: the nonlinearity space spans the spectrum, the paper space is the union of the
three questions' grids, every space's facts hold together (its sampler, questions, leads, exploratory flag,
as config.json carries them); --lr auto keeps each point's best validation rate."""
import json
from dataclasses import replace

import optuna
import pytest

from studies.config import LR_GRID, StudyConfig
from common.vocabulary import QUESTIONS
from studies.spaces import SPACES, Run


def _points(space, **kw):
    config = StudyConfig(space=space, budgets=(1e6,), seeds=1, width=16, **kw)
    return {(p["segments"], p["order"], p["activation"]) for p in SPACES[space].grid(config)}


def test_the_nonlinearity_space_trains_both_ends_and_the_middle_with_the_papers_activations():
    points = _points("nonlinearity")
    assert {s for s, _, _ in points} == {1, 4, 16}
    assert {a for _, _, a in points} == {"none", "relu", "elu"}
    assert len(points) == 9


def test_the_paper_space_is_the_union_of_the_three_questions_each_point_once():
    union = _points("segments") | _points("order") | _points("nonlinearity")
    config = StudyConfig(space="paper", budgets=(1e6,), seeds=1, width=16)
    grid = SPACES["paper"].grid(config)
    assert {(p["segments"], p["order"], p["activation"]) for p in grid} == union
    assert len(grid) == len(union) == 10 + 6  # order's 5 x 2, plus relu/elu at three segment counts
    assert set(SPACES["paper"].questions) == {"segments", "order", "nonlinearity", "interaction"}


@pytest.mark.parametrize("name", SPACES)
def test_every_space_carries_its_facts(name):
    """Its questions are the verdict's, in order, the page's leads among them; a sampled space is exploratory
    (no complete seed blocks) and has a default trial count, a grid owes every run; config.json holds them."""
    space = SPACES[name]
    from verdict.claims import WORDS

    assert set(space.questions) <= set(WORDS) == set(QUESTIONS) and "segments" in space.questions
    assert list(space.questions) == [q for q in QUESTIONS if q in space.questions]
    assert set(space.leads) <= set(space.questions)
    assert space.exploratory == (not space.is_grid())
    config = StudyConfig(space=name, confirm="." if name == "confirm" else None)
    assert space.trials(config) == (None if space.is_grid() else space.sampler.default_trials)
    assert space.trials(replace(config, trials=7)) == 7
    assert type(space.sampler(0, space.trials(config) or 1)).__name__ in ("RandomSampler", "NSGAIISampler")
    assert json.loads(json.dumps(space.facts())) == {"questions": list(space.questions),
                                                     "leads": list(space.leads), "exploratory": space.exploratory}


@pytest.mark.parametrize("name", [n for n, s in SPACES.items() if s.is_grid() and n != "confirm"])
def test_every_grid_space_enumerates_each_run_once_with_every_seed(name):
    config = StudyConfig(space=name, budgets=(1e6,), seeds=2, width=8)
    grid = SPACES[name].grid(config)
    keys = [tuple(sorted(r.items())) for r in grid]
    assert len(keys) == len(set(keys)) and {r["seed"] for r in grid} == {0, 1}
    assert set(grid[0]) == {"segments", "order", "activation", "budget", "seed"}


def test_rate_tuning_adds_the_rate_grid_and_survives_pickling():
    import pickle

    tuning = pickle.loads(pickle.dumps(SPACES["segments"].for_lr_tuning()))
    config = StudyConfig(space="segments", budgets=(1e6,), seeds=1, width=4)
    grid = tuning.grid(config)
    assert {p["lr"] for p in grid} == set(LR_GRID) and len(grid) == 3 * len(SPACES["segments"].grid(config))


def test_lr_auto_keeps_the_rate_with_the_best_validation_accuracy_and_never_a_diverged_one():
    from studies.lr_tuning import chosen_rates
    from studies.plan import Shape, StudyPlan

    config = StudyConfig(space="segments", match="none", seeds=1, width=2, lr="auto")
    a, b = Run(1, "spatial_first", "none", None, 0), Run(2, "spatial_first", "none", None, 0)
    plan = StudyPlan(config, SPACES["segments"], Shape(1, 8, 2), networks={a: None, b: None})
    study = optuna.create_study()
    scores = {(1, 1e-3): 0.5, (1, 3e-3): 0.7, (1, 1e-2): 0.6, (2, 1e-3): 0.4, (2, 3e-3): 0.3}
    for (segments, lr), accuracy in scores.items():
        study.add_trial(optuna.trial.create_trial(
            params={"segments": segments, "lr": lr, "seed": 0}, value=accuracy, user_attrs={"accuracy": accuracy},
            distributions={"segments": optuna.distributions.CategoricalDistribution([1, 2]),
                           "lr": optuna.distributions.CategoricalDistribution(list(LR_GRID)),
                           "seed": optuna.distributions.IntDistribution(0, 0)}))
    study.add_trial(optuna.trial.create_trial(  # diverged at the largest rate: FAIL, never chosen
        params={"segments": 2, "lr": 1e-2, "seed": 0}, state=optuna.trial.TrialState.FAIL,
        user_attrs={"diverged": True}, distributions={"segments": optuna.distributions.CategoricalDistribution([1, 2]),
                                                      "lr": optuna.distributions.CategoricalDistribution(list(LR_GRID)),
                                                      "seed": optuna.distributions.IntDistribution(0, 0)}))
    rates = chosen_rates(study, plan)
    assert rates == {a: 3e-3, b: 1e-3}
    assert plan.__class__(**{**plan.__dict__, "learning_rates": rates}).learning_rate(b) == 1e-3


def test_lr_accepts_auto_or_a_positive_number_only():
    assert StudyConfig(space="segments", lr="auto").lr == "auto"
    with pytest.raises(ValueError, match="--lr"):
        StudyConfig(space="segments", lr=-1.0)


def test_a_study_with_lr_auto_trains_each_point_at_its_tuned_rate(tmp_path, single_thread_study):
    import pandas as pd

    from studies.runner import run

    config = StudyConfig(space="segments", out=tmp_path / "run", dataset="synthetic", epochs=1, seeds=1, width=2,
                         depth=2, batch_size=16, lr="auto", latency_batch=4, quiet=True, match="none", workers=1)
    summary = run(config)
    assert summary.counts == {"COMPLETE": 2} and not summary.unfinished
    tuning = pd.read_csv(config.folder / "lr_tuning.csv")
    assert sorted(tuning["lr"].unique()) == sorted(LR_GRID) and len(tuning) == 2 * len(LR_GRID)
    best = tuning.sort_values("accuracy", ascending=False, kind="stable").drop_duplicates("position")
    trials = pd.read_csv(config.folder / "trials.csv").set_index("position")
    for position, lr in zip(best["position"], best["lr"]):
        assert trials.loc[position, "lr"] == lr  # the seeds train at the rate that scored best on validation


def test_a_spaces_defaults_fill_in_by_group_and_flags_win():
    from studies.config import StudyConfig
    from studies.spaces import first_seeds

    paper = StudyConfig.from_flags({"space": "paper"})
    assert (paper.seeds, paper.looks, paper.max_seeds) == ("auto", (6, 12, 24, 48, 96), 96)
    assert paper.seed_plan == "looks:6,12,24,48,96" and first_seeds(paper) == 6
    fixed = StudyConfig.from_flags({"space": "paper", "seeds": 8})  # a seed flag drops the whole seeds group
    assert (fixed.seeds, fixed.looks, fixed.seed_plan) == (8, None, "fixed")
    assert StudyConfig.from_flags({"space": "segments"}).looks is None


@pytest.mark.parametrize("flags, words", [({"seeds": 6, "looks": (3, 6)}, "needs --seeds auto"),
                                          ({"seeds": "auto", "looks": (3, 5), "max_seeds": 8}, "ending at --max-seeds"),
                                          ({"seeds": "auto", "looks": (5, 3), "max_seeds": 3}, "ascending")])
def test_looks_that_cannot_be_planned_are_one_usage_error(flags, words):
    from common.cli import UsageError
    from studies.config import StudyConfig

    with pytest.raises(UsageError, match=words):
        StudyConfig.from_flags({"space": "segments", **flags})


def test_the_verdict_pays_for_the_looks_the_trials_record():
    import pandas as pd

    from verdict import looks_from

    assert looks_from(pd.DataFrame({"seed_plan": ["looks:8,12,16"] * 4})) == (8, 12, 16)
    assert looks_from(pd.DataFrame({"seed_plan": ["looks:12,8"] * 4})) == (3, 5, 8, 12, 20)  # unreadable: conservative
