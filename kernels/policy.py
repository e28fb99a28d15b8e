"""``prefer_triton``: the ``backend="auto"`` policy, decided from measured benchmark results only.

    prefer_triton(channels, groups, kernel_size, height, width, dtype, device) -> bool

* Not a CUDA device (CPU, ...), or Triton not usable there: False (on a CPU the interpreter is for
  tests, never for speed).
* CUDA: read every ``benchmarks/results/kernels_*.json`` written by ``python -m kernels.bench``.
  Keep the Triton rows measured on a GPU of the same name (``torch.cuda.get_device_name``), of the
  same dtype (for fp32 also the same TF32 setting as ``torch.backends.cudnn.allow_tf32`` now), the
  same kernel size and the same *group-width class* (C/groups: 1 = depthwise, then the powers of two
  2-3, 4-7, 8-15, ...; a dense group (groups == 1) is its own class). Prefer fwd+bwd rows (training)
  and fall back to forward rows; among them take those whose spatial size H*W is nearest (in log
  scale) to the query. Triton is preferred when the geometric mean of their speedups over cuDNN is
  above 1.0, i.e. where Triton measurably beat cuDNN for that shape class.
* No matching measurement: False (cuDNN).

Nothing here guesses from theory: with no JSON on this GPU the answer is always False.
"""

from __future__ import annotations

import glob
import json
import math
import os
import statistics
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "results"

_CACHE: dict = {}


def width_class(channels: int, groups: int) -> str:
    """Group-width class of a convolution: 'dense', 'depthwise' or 'cg<lo>-<hi>' (powers of two)."""
    cg = max(1, channels // max(1, groups))
    if groups == 1:
        return "dense"
    if cg == 1:
        return "depthwise"
    lo = 1 << int(math.floor(math.log2(cg)))
    return f"cg{lo}-{2 * lo - 1}"


def load_rows(results_dir=None) -> list:
    """All rows of all kernels_*.json in ``results_dir``, each with its file's device name added."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    files = sorted(glob.glob(str(folder / "kernels_*.json")))
    key = tuple((f, os.path.getmtime(f)) for f in files)
    if _CACHE.get("key") == key and _CACHE.get("folder") == str(folder):
        return _CACHE["rows"]
    rows = []
    for f in files:
        try:
            data = json.loads(Path(f).read_text())
            device_name = data.get("environment", {}).get("device_name")
            for r in data.get("rows", []):
                if isinstance(r, dict):
                    rows.append(dict(r, device_name=device_name))
        except (OSError, ValueError, AttributeError):
            continue  # an unreadable file is no evidence either way
    _CACHE.update(key=key, folder=str(folder), rows=rows)
    return rows


def _precision(dtype: torch.dtype) -> str:
    if dtype == torch.bfloat16:
        return "bf16"
    if dtype == torch.float16:
        return "fp16"
    return "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"


def decide(rows, device_name, channels, groups, kernel_size, height, width, dtype) -> bool:
    """The policy on already-loaded rows (pure; used by ``prefer_triton`` and by tests)."""
    if isinstance(kernel_size, (tuple, list)):
        if len(set(kernel_size)) != 1:
            return False  # only square kernels are benchmarked
        kernel_size = kernel_size[0]
    cls = width_class(channels, groups)
    prec = _precision(dtype)
    cand = [
        r for r in rows
        if r.get("backend") == "triton"
        and r.get("device_name") == device_name
        and r.get("precision") == prec
        and r.get("kernel_size") == kernel_size
        and r.get("speedup_vs_cudnn") is not None
        and not r.get("error")
        and width_class(int(r.get("channels", 0)), int(r.get("groups", 1))) == cls
    ]
    if not cand:
        return False
    chosen = [r for r in cand if r.get("pass") == "fwdbwd"] or [r for r in cand if r.get("pass") == "fwd"]
    if not chosen:
        return False
    area = max(1, height * width)

    def dist(r):
        return abs(math.log(max(1, r.get("height", 1) * r.get("width", 1)) / area))

    best = min(dist(r) for r in chosen)
    near = [r for r in chosen if dist(r) <= best + 1e-9]
    speedups = [float(r["speedup_vs_cudnn"]) for r in near if float(r["speedup_vs_cudnn"]) > 0]
    if not speedups:
        return False
    return statistics.geometric_mean(speedups) > 1.0


def prefer_triton(channels, groups, kernel_size, height, width, dtype, device, *, results_dir=None) -> bool:
    """True when measured results say Triton beats cuDNN for this shape class on this GPU.

    ``kernel_size`` is an int (square kernels, as benchmarked); ``results_dir`` overrides
    ``benchmarks/results`` (tests). See the module docstring for the rule.
    """
    dev = torch.device(device)
    if dev.type != "cuda" or not torch.cuda.is_available():
        return False
    from .grouped_conv import triton_available

    if not triton_available(dev):
        return False
    rows = load_rows(results_dir)
    if not rows:
        return False
    return decide(rows, torch.cuda.get_device_name(dev), channels, groups, kernel_size, height, width, dtype)
