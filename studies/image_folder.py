"""Image folders: one subfolder of images per class, the layout torchvision's ImageFolder, timm and pycls read.

`scan_folder` finds the classes and files (P/train, P/val, P/test when P/train exists, else P/<class>/*) and
rejects a folder a study cannot use, without decoding; `read_images` decodes with Pillow, fits each image
to a centred square (resize the shorter side, crop the middle: ImageOps.fit) and keeps one channel when
every image is grayscale, else three (RGB).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.cli import UsageError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".tif", ".tiff", ".webp", ".gif")
SPLITS = ("train", "val", "test")
MIN_PER_CLASS = 3  # a class-balanced 60/20/20 carve rounds each held part to at least one image from 3 up
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@dataclass(frozen=True)
class FolderLayout:
    root: Path
    classes: tuple[str, ...]
    files: dict  # split ("train", and "val" / "test" where the folder has them) -> [(path, label), ...]

    @property
    def carved(self) -> tuple[str, ...]:
        """The splits the folder lacks, to be carved from its training images."""
        return tuple(s for s in SPLITS[1:] if s not in self.files)


def scan_folder(data_dir) -> FolderLayout:
    """The folder's classes (sorted folder names, as ImageFolder numbers them) and image files; a
    UsageError naming --data-dir for a folder that is missing, empty, has one class or too few images."""
    if data_dir is None:
        raise UsageError("--data-dir is required with --dataset folder (a folder of class folders)")
    root = Path(data_dir)
    if not root.is_dir():
        raise UsageError(f"--data-dir: {root} is not a folder")
    present = [s for s in SPLITS if (root / s).is_dir()]
    if present and "train" not in present:
        raise UsageError(f"--data-dir: {root} has {'/'.join(present)} but no train folder; expected "
                         "train (and optionally val, test) of class folders, or one folder per class")
    train_root = root / "train" if present else root
    classes = _class_names(train_root)
    files = {s: _images(root / s if present else root, classes) for s in (present or ["train"])}
    layout = FolderLayout(root, classes, files)
    _check_counts(layout)
    return layout


def _subfolders(folder: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))


def _class_names(folder: Path) -> tuple[str, ...]:
    names = _subfolders(folder)
    if not names:
        what = "has no class folders" if any(folder.iterdir()) else "is empty"
        raise UsageError(f"--data-dir: {folder} {what}; expected one folder of images per class")
    if len(names) == 1:
        raise UsageError(f"--data-dir: {folder} has one class ({names[0]}); expected two or more class folders")
    return names


def _images(folder: Path, classes: tuple[str, ...]) -> list[tuple[Path, int]]:
    """(path, label) of every image under each class folder, sorted; a class folder unknown to train is an error."""
    extra = sorted(set(_subfolders(folder)) - set(classes)) if folder.name in SPLITS[1:] else []
    if extra:
        raise UsageError(f"--data-dir: {folder} has class folders the train folder lacks: {', '.join(extra)}")
    return [(path, label) for label, name in enumerate(classes) if (folder / name).is_dir()
            for path in sorted((folder / name).rglob("*")) if path.suffix.lower() in EXTENSIONS and path.is_file()]


def _check_counts(layout: FolderLayout) -> None:
    """Every split needs every class: a present split at least one image of each, the training images at
    least MIN_PER_CLASS of each when validation or test is carved from them."""
    for split, items in layout.files.items():
        counts = np.bincount([label for _, label in items], minlength=len(layout.classes))
        need = MIN_PER_CLASS if split == "train" and layout.carved else 1
        if not counts.sum():
            raise UsageError(f"--data-dir: {layout.root} holds no images ({', '.join(EXTENSIONS)}) in its class folders")
        if counts.min() < need:
            name = layout.classes[int(counts.argmin())]
            where = layout.root / split if (layout.root / split).is_dir() else layout.root
            raise UsageError(f"--data-dir: class {name!r} has {counts.min()} image(s) in {where}; expected at least "
                             f"{need} a class" + (f" to carve {' and '.join(layout.carved)} from it, class-balanced"
                                                  if need > 1 else ""))


def read_images(paths, size: int, threads: int | None = None) -> tuple[np.ndarray, bool]:
    """(uint8 array N x C x size x size, grayscale): C is 1 when every image is grayscale, else 3.
    An unreadable file is a UsageError naming it."""
    with ThreadPoolExecutor(max_workers=threads or min(8, os.cpu_count() or 1)) as pool:  # Pillow decodes without the GIL
        decoded = list(pool.map(lambda p: _read(p, size), paths))
    gray = all(is_gray for _, is_gray in decoded)
    arrays = [a if gray or a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a, _ in decoded]
    x = np.stack(arrays)
    return (x[:, None] if gray else x.transpose(0, 3, 1, 2)), gray


def _read(path: Path, size: int) -> tuple[np.ndarray, bool]:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            gray = img.mode in GRAYSCALE_MODES
            img = img.convert("L" if gray else "RGB")  # drops alpha; a palette image reads as colour
            fitted = ImageOps.fit(img, (size, size), method=Image.Resampling.BILINEAR)
            return np.asarray(fitted, dtype=np.uint8), gray
    except (OSError, ValueError, SyntaxError) as err:  # Pillow's errors for truncated and non-image files
        raise UsageError(f"--data-dir: cannot read image {path} ({type(err).__name__}: {err})") from None
