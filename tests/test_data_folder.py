"""--dataset folder on small generated image folders: splits, channels, sizes, normalisation, usage errors;
data too small for its splits and a study whose every trial fails alike, both reported in one line."""
import json
import pickle

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

import run_study
from studies.data import load_dataset
from studies.image_folder import read_images
from studies.runner import failed_alike

COLOURS = {"circle": (220, 40, 40), "square": (40, 200, 60), "triangle": (50, 70, 230)}


def shapes_folder(root, per_class=12, gray=False):
    """One folder per shape, images of varied non-square sizes, PNG and JPEG alternating."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = int(rng.integers(30, 50)), int(rng.integers(30, 50))
            img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 80, 3)))
            s = min(w, h) // 2
            x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
            draw = ImageDraw.Draw(img)
            box = [x, y, x + s, y + s]
            {"circle": draw.ellipse, "square": draw.rectangle}.get(name, lambda b, fill: draw.polygon(
                [(b[0], b[3]), (b[2], b[3]), ((b[0] + b[2]) // 2, b[1])], fill=fill))(box, fill=colour)
            (img.convert("L") if gray else img).save(root / name / f"{i:03d}.{'png' if i % 2 else 'jpg'}")
    return root


def solid(path, value, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def usage_error(argv, capsys) -> str:
    """run_study.py's exit status and stderr, in this process; asserts exit 2 and one line."""
    assert run_study.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def folder_args(path, tmp_path, *more):
    return ["--space", "segments", "--dataset", "folder", "--data-dir", str(path), "--out", str(tmp_path / "run"),
            "--device", "cpu", *more]


def test_class_folders_split_once_60_20_20_balanced_and_fixed(tmp_path):
    root = shapes_folder(tmp_path / "shapes")
    data = load_dataset("folder", root)
    # 12 a class: round(0.2 * 12) = 2 to validation, 2 to test, 8 left to train, for each of 3 classes
    assert data.split_sizes == {"train": 24, "validation": 6, "test": 6}
    for y, n in ((data.train_y, 8), (data.val_y, 2), (data.test_y, 2)):
        assert torch.bincount(y, minlength=3).tolist() == [n, n, n]
    again = load_dataset("folder", root)
    for a, b in ((data.train_x, again.train_x), (data.val_x, again.val_x), (data.test_x, again.test_x)):
        assert torch.equal(a, b)
    flat = [x.flatten(1) for x in (data.train_x, data.val_x, data.test_x)]
    assert len(torch.unique(torch.cat(flat), dim=0)) == 36  # no image in two splits
    assert "24 train / 6 validation / 6 test" in data.description and data.num_classes == 3


def test_train_val_test_folders_are_used_as_given(tmp_path):
    for split, n in (("train", 4), ("val", 2), ("test", 3)):
        for label, name in enumerate(("ant", "bee")):
            for i in range(n):
                solid(tmp_path / split / name / f"{i}.png", 60 * label + 10 * i)
    data = load_dataset("folder", tmp_path)
    assert data.split_sizes == {"train": 8, "validation": 4, "test": 6}
    assert data.train_y.tolist() == [0] * 4 + [1] * 4  # classes numbered in sorted folder order


def test_a_missing_val_folder_is_carved_from_train(tmp_path):
    for label, name in enumerate(("ant", "bee")):
        for i in range(10):
            solid(tmp_path / "train" / name / f"{i}.png", 20 * label + i)
        solid(tmp_path / "test" / name / "0.png", 100)
    data = load_dataset("folder", tmp_path)
    assert data.split_sizes == {"train": 16, "validation": 4, "test": 2}


@pytest.mark.parametrize("gray,channels", [(False, 3), (True, 1)])
def test_channels_come_from_the_images_and_only_colour_augments(tmp_path, gray, channels):
    data = load_dataset("folder", shapes_folder(tmp_path, per_class=3, gray=gray))
    assert data.in_channels == channels and data.test_x.shape[1] == channels
    assert data.augment is (not gray)


def test_one_colour_image_among_grayscale_makes_every_image_rgb(tmp_path):
    for name in ("a", "b"):
        for i in range(3):
            solid(tmp_path / name / f"{i}.png", 50 * i)
    solid(tmp_path / "a" / "3.png", (255, 0, 0), mode="RGB")
    data = load_dataset("folder", tmp_path)
    assert data.in_channels == 3


def test_normalised_with_the_training_split_statistics_only(tmp_path):
    # train: values 50 and 150 (mean 100, std 50); val 200 and test 100 sit at +2 and 0 training stds
    for label, name in enumerate(("dark", "light")):
        solid(tmp_path / "train" / name / "0.png", 50 + 100 * label)
        solid(tmp_path / "val" / name / "0.png", 200)
        solid(tmp_path / "test" / name / "0.png", 100)
    data = load_dataset("folder", tmp_path)
    assert torch.allclose(data.train_x.unique(), torch.tensor([-1.0, 1.0]), atol=1e-4)
    assert torch.allclose(data.val_x, torch.full_like(data.val_x, 2.0), atol=1e-4)
    assert torch.allclose(data.test_x, torch.zeros_like(data.test_x), atol=1e-4)


def test_images_are_resized_and_center_cropped_to_image_size(tmp_path):
    # 60x20 red | green | red: the centred 20x20 square is the green third
    stripes = np.zeros((20, 60, 3), np.uint8)
    stripes[:, :20, 0], stripes[:, 20:40, 1], stripes[:, 40:, 0] = 255, 255, 255
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(stripes if name == "a" else 255 - stripes).save(tmp_path / name / f"{i}.png")
    assert load_dataset("folder", tmp_path).image_size == 32  # the folder default
    assert load_dataset("folder", tmp_path, image_size=10).train_x.shape[1:] == (3, 10, 10)
    x, gray = read_images([tmp_path / "a" / "0.png"], 10)
    assert x.shape == (1, 3, 10, 10) and not gray
    # inside the edge columns (which the resampling filter lets reach past the crop, as any antialiased
    # resize does) the image is the pure green middle third
    assert (x[0, :, :, 1:-1] == np.array([0, 255, 0])[:, None, None]).all()


def test_image_size_rescales_a_built_in_dataset():
    data = load_dataset("synthetic", image_size=12)
    assert data.train_x.shape[-2:] == (12, 12) and data.val_x.shape[-2:] == (12, 12)


def test_image_size_flag_must_be_a_positive_integer(tmp_path, capsys):
    line = usage_error(["--space", "segments", "--image-size", "0", "--out", str(tmp_path)], capsys)
    assert "--image-size" in line


def make_unusable(kind, root):
    if kind == "missing":
        return root / "nowhere"
    root.mkdir()
    if kind == "empty":
        return root
    if kind == "one class":
        for i in range(5):
            solid(root / "only" / f"{i}.png", i)
        return root
    if kind == "val lacks a class":
        shapes_folder(root / "train", per_class=3)
        solid(root / "val" / "circle" / "0.png", 1)
        return root
    shapes_folder(root, per_class=3)
    if kind == "unreadable":
        (root / "square" / "broken.png").write_bytes(b"not an image at all")
    if kind == "too few":
        for path in sorted((root / "circle").iterdir())[1:]:
            path.unlink()
    return root


@pytest.mark.parametrize("kind,words", [
    ("missing", "is not a folder"), ("empty", "is empty"), ("one class", "one class (only)"),
    ("unreadable", "broken.png"), ("too few", "class 'circle' has 1 image(s)"),
    ("val lacks a class", "class 'square' has 0 image(s)"),
])
def test_an_unusable_folder_is_one_usage_line_before_anything_is_written(tmp_path, capsys, kind, words):
    path = make_unusable(kind, tmp_path / "data")
    line = usage_error(folder_args(path, tmp_path, "--quiet"), capsys)
    assert "--data-dir" in line and words in line, line
    assert not (tmp_path / "run").exists()


def test_a_cifar_folder_too_small_for_its_validation_split_names_the_sizes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for i in range(1, 6):  # 5 x 400 = 2,000 training images, fewer than the 5,000 validation carves
        batch = {"data": rng.integers(0, 255, (400, 3072), dtype=np.uint8), "labels": list(range(10)) * 40}
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((10, 3072), np.uint8),
                                                        "labels": list(range(10))}))
    argv = ["--space", "segments", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r"),
            "--quiet", "--device", "cpu"]
    line = usage_error(argv, capsys)
    assert "2,000 training images" in line and "5,000" in line
    assert not (tmp_path / "r").exists()


def _trial(state, reason=None):
    attrs = {"fail_reason": reason} if reason else {}
    values = [0.5, 1.0, 1.0] if state == optuna.trial.TrialState.COMPLETE else None
    return optuna.trial.create_trial(state=state, values=values, user_attrs=attrs)


def test_failed_alike_names_one_reason_shared_by_every_trial():
    fail, done = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE
    same = [_trial(fail, "RuntimeError: stack expects a non-empty TensorList")] * 3
    assert failed_alike(same) == ("all 3 trials failed with RuntimeError: stack expects a non-empty TensorList; "
                                  "see fail_reason in trials.csv")
    assert failed_alike(same[:2] + [_trial(done)]) == ""  # one point trained: no deterministic failure
    assert failed_alike(same[:2] + [_trial(fail, "OSError: disk")]) == ""
    assert failed_alike(same[:2] + [_trial(fail)]) == ""  # a killed worker's trial stores no reason
    assert failed_alike(same[:1]) == ""


def tiny_study(*more):
    return ["--space", "segments", "--epochs", "1", "--seeds", "1", "--width", "4", "--depth", "2", "--match", "none",
            "--batch-size", "16", "--latency-batch", "4", "--workers", "1", "--device", "cpu", "--quiet", *more]


@pytest.mark.slow
def test_every_trial_failing_alike_ends_with_that_error_in_one_line(tmp_path, capsys, monkeypatch,
                                                                   single_thread_study):
    import studies.train

    def broken_fit(*args, **kwargs):
        raise RuntimeError("stack expects a non-empty TensorList")

    monkeypatch.setattr(studies.train, "fit", broken_fit)
    assert run_study.main(tiny_study("--dataset", "synthetic", "--out", str(tmp_path / "run"))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["run_study.py: all 3 trials failed with RuntimeError: stack expects a non-empty TensorList; "
                   "see fail_reason in trials.csv"]
    frame = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(frame) == 3 and set(frame.state) == {"FAIL"}  # no retries of an error every point repeats


@pytest.mark.slow
def test_a_study_trains_on_a_generated_image_folder(tmp_path, capsys, single_thread_study):
    root = shapes_folder(tmp_path / "shapes")
    out = tmp_path / "run"
    assert run_study.main(tiny_study("--dataset", "folder", "--data-dir", str(root), "--image-size", "16",
                                     "--out", str(out))) == 0, capsys.readouterr().err
    frame = pd.read_csv(out / "trials.csv")
    assert sorted(frame[frame.state == "COMPLETE"].segments) == [1, 2, 4] and set(frame.dataset) == {"folder"}
    meta = json.loads((out / "config.json").read_text())
    assert meta["image_size"] == 16 and "24 train / 6 validation / 6 test, 16x16x3" in meta["dataset_description"]
