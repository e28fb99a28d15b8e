"""A study's environment record (common.environment's keys) as one line a reader takes in at a glance:
the device, the CPU, how many workers ran with how many threads each, and the versions that matter;
the whole record stays available, folded, for whoever needs the rest."""
from __future__ import annotations

import json

import pandas as pd

__all__ = ["environment_line", "environment_pairs"]

NOT_RECORDED = "not recorded"
VERSIONS = ("torch", "optuna", "triton", "fvcore")


def _known(v) -> bool:
    return v is not None and v is not pd.NA and str(v).strip() not in ("", "None", "nan", "<NA>")


def cudnn_text(v) -> str:
    """cuDNN's integer version as it reads: 90100 -> '9.1.0', 8902 -> '8.9.2'."""
    try:
        n = int(v)
    except (TypeError, ValueError):
        return str(v)
    if n >= 90000:
        return f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    return f"{n // 1000}.{n // 100 % 10}.{n % 100}"


def _device(env: dict) -> str:
    """'NVIDIA H200 (compute capability 9.0, 139.8 GiB; CUDA 12.8, cuDNN 9.1.0), CPU AMD EPYC' or 'CPU AMD EPYC'."""
    cpu = env.get("cpu") if _known(env.get("cpu")) else None
    gpu = env.get("device_type") == "cuda" or _known(env.get("compute_capability"))
    if not gpu:
        name = cpu or (env.get("device_name") if _known(env.get("device_name")) else None)
        return f"CPU {name}" if name else (str(env["device"]) if _known(env.get("device")) else "")
    about = [f"compute capability {env['compute_capability']}" if _known(env.get("compute_capability")) else "",
             f"{env['memory_gib']} GiB" if _known(env.get("memory_gib")) else ""]
    stack = [f"CUDA {env['cuda']}" if _known(env.get("cuda")) else "",
             f"cuDNN {cudnn_text(env['cudnn'])}" if _known(env.get("cudnn")) else ""]
    inner = "; ".join(x for x in (", ".join(a for a in about if a), ", ".join(s for s in stack if s)) if x)
    name = env.get("device_name") if _known(env.get("device_name")) else env.get("device", "GPU")
    return f"{name}" + (f" ({inner})" if inner else "") + (f", CPU {cpu}" if cpu else "")


def _threads(env: dict, df: pd.DataFrame, workers) -> str:
    """'2 workers × 1 thread each' (the per-worker threads the trials record), else the torch threads."""
    per = sorted({int(t) for t in pd.to_numeric(df.get("latency_threads", pd.Series(dtype=float)),
                                                 errors="coerce").dropna()})
    each = "/".join(str(t) for t in per)
    if str(workers).isdigit() and int(workers) > 0:
        w = int(workers)
        text = f"{w} worker{'s' if w != 1 else ''}"
        return text + (f" × {each} thread{'s' if per != [1] else ''} each" if per else "")
    if per:
        return f"{each} thread{'s' if per != [1] else ''} per worker"
    n = env.get("torch_threads")
    return f"{n} torch thread{'s' if str(n) != '1' else ''}" if _known(n) else ""


def _versions(env: dict) -> str:
    """'torch 2.5.1, optuna 4.1.0, triton not installed': recorded keys only, None read as absent."""
    parts = [f"{k} {env[k]}" if _known(env[k]) else f"{k} not installed" for k in VERSIONS if k in env]
    return ", ".join(parts)


def _platform(env: dict) -> str:
    py = f"Python {env['python']}" if _known(env.get("python")) else ""
    plat = " ".join(str(env["platform"]).split("-")[:2]) if _known(env.get("platform")) else ""  # 'Linux 6.1.0'
    return " on ".join(x for x in (py, plat) if x)


def environment_line(env, df: pd.DataFrame, workers=None) -> str:
    """The record as one line: device; workers and threads; versions; Python and platform."""
    if not isinstance(env, dict):
        return str(env) if _known(env) else NOT_RECORDED
    if not env:
        return NOT_RECORDED
    parts = [_device(env), _threads(env, df, workers), _versions(env), _platform(env)]
    return "; ".join(p for p in parts if p) or "recorded, but with none of the usual keys (see the record)"


def environment_pairs(env) -> list[tuple[str, str]]:
    """Every recorded key and its value as text ('—' for a value the machine does not have)."""
    if not isinstance(env, dict):
        return []
    return [(str(k), json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list))
             else (str(v) if _known(v) else "—")) for k, v in env.items()]
