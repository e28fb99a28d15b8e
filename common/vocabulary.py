"""The project's words, torch-free: orders, intermediate nonlinearities, backends, the ends, the questions,
position labels, counts in G/M/k, and the checks that name a wrong value and what is allowed. Spectrum,
kernels, studies, the verdict and reports read them here."""
from __future__ import annotations

ORDERS = ("spatial_first", "pointwise_first")
ACTIVATION_NAMES = ("none", "relu", "elu", "gelu", "silu", "leaky_relu")  # the paper's Figure 10: none/relu/elu
BACKENDS = ("torch", "triton", "auto")
ENDS = ("regular", "depthwise")
QUESTIONS = ("segments", "order", "nonlinearity", "interaction")  # what a study's verdict may answer


def divisors(n: int) -> list[int]:
    """Every valid segment count of a kxk conv over `n` channels: its divisors, ascending."""
    check_positive("channels", n)
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def position_label(segments: int, base_width: int) -> str:
    """'regular' (1 segment), 'depthwise' (segments = base width), else 'segments=N'."""
    if segments == 1:
        return "regular"
    return "depthwise" if segments == base_width else f"segments={segments}"


def segments_of(label: str, base_width: int | None) -> int | None:
    """The segment count a position label names at a base width ('group_width=G' too); None if it names none."""
    label = label.strip() if isinstance(label, str) else ""
    kind, _, value = label.partition("=")
    if label == "regular":
        return 1
    if label == "depthwise":
        return base_width
    if not value.isdigit() or int(value) < 1:
        return None
    if kind == "segments":
        return int(value)
    if kind == "group_width" and base_width and base_width % int(value) == 0:
        return base_width // int(value)
    return None


def si_count(x: float) -> str:
    """4_100_000 -> '4.1M' (MACs, params, budgets): three significant digits and G/M/k."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def check_positive(name: str, value, kind: type = int) -> None:
    """ValueError naming `name` unless `value` is a positive `kind` (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (kind, int) if kind is float else kind) or not value > 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a positive {'number' if kind is float else 'integer'}")


def check_one_of(name: str, value, allowed) -> None:
    """ValueError naming `name` unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; expected one of {', '.join(map(str, allowed))}")
