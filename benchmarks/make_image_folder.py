"""Write a small image folder to try `run_study.py --dataset folder` on (the README's "Your own network" example).

    python benchmarks/make_image_folder.py [--out runs/shapes] [--per-class 120] [--seed 0]

One folder per class (circle, square, triangle, cross), PNG images of varied non-square sizes: the shape in a
random colour at a random size (half the image or more) and place, on a background of dark grey noise, so that neither the colour nor
the brightness names the class. `--dataset folder` splits the class folders 60/20/20 once (studies.image_folder).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle", "cross")


def _draw(draw: ImageDraw.ImageDraw, name: str, box: tuple, colour: tuple) -> None:
    x0, y0, x1, y1 = box
    if name == "circle":
        draw.ellipse(box, fill=colour)
    elif name == "square":
        draw.rectangle(box, fill=colour)
    elif name == "triangle":
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=colour)
    else:
        t = max(2, (x1 - x0) // 4)
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        draw.rectangle((cx - t // 2, y0, cx + t // 2, y1), fill=colour)
        draw.rectangle((x0, cy - t // 2, x1, cy + t // 2), fill=colour)


def make_folder(root: Path, per_class: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = int(rng.integers(36, 64)), int(rng.integers(36, 64))
            noise = rng.integers(0, 90, (h, w, 1)).repeat(3, axis=2).astype(np.uint8)
            img = Image.fromarray(noise, "RGB")
            side = int(rng.integers(min(w, h) // 2, min(w, h) - 4))
            x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            _draw(ImageDraw.Draw(img), name, (x, y, x + side, y + side), tuple(int(v) for v in rng.integers(90, 256, 3)))
            img.save(root / name / f"{i:04d}.png")
    return root


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/shapes"), help="the folder to write (default runs/shapes)")
    p.add_argument("--per-class", type=int, default=120, help="images per class (default 120)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    root = make_folder(args.out, args.per_class, args.seed)
    print(f"wrote {args.per_class * len(CLASSES)} images in {len(CLASSES)} class folders under {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
