"""run_study.py --model FILE.py:FUNCTION (studies.model): a tiny study of the tests' own ResNet-18
(tests/_user_models.py, base width 8) on synthetic data, in this process: the positions its converted layers
allow, the model's source and hash on every trial, the page's conversion table, one budget "as the model"; a
resume with a changed model file refused in one line; every bad --model input one line and exit 2 before any
training."""
import hashlib
import json
import shutil
from pathlib import Path

import optuna
import pandas as pd
import pytest

import run_study
from common.cli import UsageError
from spectrum import convert_report
from spectrum.model_spec import ModelSpec
from spectrum.user_model import load_model, model_source
from studies.config import StudyConfig
from studies.model import check_stored

MODELS = Path(__file__).with_name("_user_models.py")


def cli(argv, capsys) -> tuple[int, list[str]]:
    """run_study.py's exit status and its stderr lines, in this process."""
    code = run_study.main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def tiny(model: str, out: Path, *more) -> list:
    return ["--space", "segments", "--model", model, "--only", "layer", "--dataset", "synthetic", "--epochs", "1",
            "--seeds", "1", "--batch-size", "32", "--latency-batch", "2", "--workers", "1", "--device", "cpu",
            "--quiet", "--out", out, *more]


def test_a_study_of_your_own_network_and_a_changed_model_file_refused(tmp_path, capsys, single_thread_study):
    models = tmp_path / "my_models.py"
    shutil.copy(MODELS, models)
    ref, out = f"{models}:resnet18_w8", tmp_path / "run"
    code, err = cli(tiny(ref, out), capsys)
    assert code == 0, err

    trials = pd.read_csv(out / "trials.csv")
    digest = hashlib.sha256(models.read_bytes()).hexdigest()
    assert set(trials.state) == {"COMPLETE"}
    # the layers' fixed sides (C_in, spatial first) are 8, 16, 32: segment counts 1, 2, 4 and depthwise
    assert sorted(zip(trials.segments, trials.position)) == [(1, "regular"), (2, "segments=2"), (4, "segments=4"),
                                                             (8, "depthwise")]
    assert set(trials.base_width) == {8} and set(trials.matched_position) == set(trials.position)
    assert set(trials.net) == {ref} and set(trials.model_function) == {"resnet18_w8"}
    assert set(trials.model_file) == {str(models)} and set(trials.model_sha256) == {digest}
    assert set(trials.budget_label) == {"macs as the model"}
    meta = json.loads((out / "config.json").read_text())
    conversion = meta["model_conversion"]
    assert conversion["source"] == {"file": str(models), "function": "resnet18_w8", "sha256": digest}
    assert meta["budgets"] == [conversion["original"]["macs"]] == [conversion["budget"]]
    assert trials.macs.between(0.97 * conversion["budget"], 1.03 * conversion["budget"]).all()  # matched per layer
    rows = pd.DataFrame(conversion["layers"])
    assert len(rows) == 4 * 16 and set(rows.layer) >= {"layer1.0.conv1", "layer4.1.conv2"}

    page = (out / "report.html").read_text()
    assert 'id="model"' in page and "Your network: " in page
    for text in ("layer4.1.conv2", "3x3 64-&gt;64", "3x3/g4 8-&gt;24 + 1x1 24-&gt;8", "params before", "MACs after"):
        assert text in page, text

    made = convert_report(load_model(ref, 10, 3), "segments=2", only="layer", input_shape=(3, 16, 16))
    spec = ModelSpec.of(made, ref, model_source(ref), 10)
    spec.build()  # the file the spec was made from
    models.write_text(models.read_text() + "\n# edited\n")
    with pytest.raises(UsageError, match="changed since the study started"):
        spec.build()  # a worker never trains an edited file under the recorded hash
    code, err = cli(tiny(ref, out), capsys)
    assert code == 2 and len(err) == 1, err
    assert f"argument --model: {models} changed since the study's trials were trained" in err[0]
    assert len(pd.read_csv(out / "trials.csv")) == len(trials)


@pytest.mark.parametrize("model, more, words", [
    ("tests/missing.py:f", (), ("argument --model: model file 'tests/missing.py' does not exist",)),
    ("tests/_user_models.py:resnet99", (), ("argument --model:", "no function 'resnet99'")),
    ("resnet18", (), ("argument --model:", "not FILE.py:FUNCTION")),
    ("tests/_user_models.py:raises", (), ("argument --model:", "raised RuntimeError: no weights for 4 classes")),
    ("tests/_user_models.py:not_a_module", (), ("argument --model:", "returned a str, not a torch.nn.Module")),
    ("tests/_user_models.py:only_pointwise", (), ("argument --model:", "no kxk nn.Conv2d")),
    ("tests/_user_models.py:resnet18_w8", ("--only", "zzz"), ("argument --only: only='zzz' matches no kxk conv",)),
    ("tests/_user_models.py:resnet18_w8", ("--only", "."),
     ("argument --model:", "no segment count but 1", "layer 'conv1' (3x3 1->8) has 1 input channels", "--only")),
    ("tests/_user_models.py:resnet18_w8", ("--width", "8"), ("argument --width: not allowed with --model",)),
    ("tests/_user_models.py:resnet18_w8", ("--budgets", "1e6"), ("argument --budgets: not allowed with --model",)),
    ("tests/_user_models.py:resnet18_w8", ("--net", "resnext"), ("argument --net: not allowed with --model",)),
    ("tests/_user_models.py:resnet18_w8", ("--depth", "2"), ("argument --depth: not allowed with --model",)),
    ("tests/_user_models.py:resnet18_w8", ("--backend", "auto"), ("argument --backend: auto is not allowed",)),
    (None, ("--only", "layer"), ("argument --only: needs --model",)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_one_line_and_exit_2_before_any_training(model, more, words, tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr("studies.train.fit", no_training)
    argv = ["--space", "segments", "--dataset", "synthetic", "--device", "cpu", "--quiet", "--out", tmp_path / "run",
            *(("--model", model) if model else ()), *more]
    code, err = cli(argv, capsys)
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert all(w in err[0] for w in words), err[0]
    assert not (tmp_path / "run" / "trials.csv").exists()


def _study_with(attrs: dict):
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))
    return study


def test_a_stored_study_of_another_network_is_refused(tmp_path):
    ref = f"{MODELS.relative_to(Path.cwd()) if MODELS.is_relative_to(Path.cwd()) else MODELS}:resnet18_w8"
    config = StudyConfig(space="segments", model=ref, out=tmp_path)
    digest = hashlib.sha256(MODELS.read_bytes()).hexdigest()
    check_stored(config, _study_with({"net": ref, "model_sha256": digest}))  # the same file: resumed
    check_stored(config, _study_with({"duplicate_of": 0}))  # no network built: nothing to compare
    for attrs, words in (({"net": "small"}, "holds trials of --net small, not of"),
                         ({"net": ref.replace("_w8", ""), "model_sha256": digest}, "holds trials of --model"),
                         ({"net": ref, "model_sha256": "0" * 64}, "changed since the study's trials")):
        with pytest.raises(UsageError, match=words):
            check_stored(config, _study_with(attrs))
    with pytest.raises(UsageError, match=f"pass --model {ref} to resume it"):
        check_stored(StudyConfig(space="segments", out=tmp_path), _study_with({"net": ref, "model_sha256": digest}))
