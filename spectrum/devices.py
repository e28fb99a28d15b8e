"""Where a measurement runs: the device (`resolve_device`), the environment record (`environment`, from
common.environment, the one record of the project) and the argument checks counting and measuring share."""
from __future__ import annotations

import torch

from common.environment import device_label
from common.environment import environment as _environment

__all__ = ["check_choice", "check_input_shape", "check_positive_int", "device_label", "environment",
           "resolve_device"]


def check_input_shape(input_shape) -> tuple[int, int, int]:
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape={input_shape!r} is not allowed; expected (channels, height, width), "
                         f"positive ints")
    return shape


def check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; expected one of {', '.join(allowed)}")


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected a positive integer")


def resolve_device(name="auto") -> torch.device:
    """"cpu", "cuda", "cuda:N" or "auto" (cuda if available, else cpu); an absent device is a ValueError."""
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto")
    text = name.strip().lower()
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = "cpu" + (f", cuda (cuda:0..cuda:{n_gpus - 1})" if n_gpus else "; no CUDA GPU is visible")
    if text == "auto":
        return torch.device("cuda:0" if n_gpus else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        index = text.partition(":")[2]
        if index and not index.isdigit():
            raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto")
        i = int(index) if index else 0
        if i >= n_gpus:
            raise ValueError(f"device={name!r} is not available; available: {available}")
        return torch.device("cuda", i)
    raise ValueError(f"device={name!r} is not allowed; expected cpu, cuda, cuda:N or auto (available: {available})")


def environment(device="cpu", argv=None) -> dict:
    """Where a measurement was taken (see common.environment): device, versions, threads, platform, git commit,
    ISO date (UTC); with `argv`, the command. An absent device is a ValueError, as in `resolve_device`."""
    return _environment(resolve_device(device), argv)
