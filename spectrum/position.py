"""Where a network sits on the spectrum when its layers have different widths.

A position is a segment count (the same number of groups in every layer) or a group width (the same
number of channels per group in every layer, the RegNet form). `regular` is 1 segment and `depthwise`
is group width 1, so both ends exist whatever the widths.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from math import gcd

from .block import segment_choices

KINDS = ("segments", "group_width")


@dataclass(frozen=True)
class Position:
    kind: str
    value: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Position.kind={self.kind!r} is not allowed; expected one of {', '.join(KINDS)}")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise ValueError(f"Position.value={self.value!r} is not allowed; expected a positive integer")

    @property
    def label(self) -> str:
        if self.kind == "segments" and self.value == 1:
            return "regular"
        if self.kind == "group_width" and self.value == 1:
            return "depthwise"
        return f"{self.kind}={self.value}"

    @property
    def divisor(self) -> int:
        """Every layer's channel count must be a multiple of this."""
        return self.value

    def groups(self, channels: int) -> int:
        """The segment count of a layer of `channels` channels at this position."""
        if channels % self.value:
            raise ValueError(
                f"{self.label} does not fit a layer of {channels} channels; "
                f"allowed {self.kind}: {', '.join(map(str, segment_choices(channels)))}"
            )
        return self.value if self.kind == "segments" else channels // self.value

    @classmethod
    def parse(cls, text) -> "Position":
        """'regular', 'depthwise', 'segments=4', 'group_width=8' (or a Position)."""
        if isinstance(text, Position):
            return text
        if text == "regular":
            return cls("segments", 1)
        if text == "depthwise":
            return cls("group_width", 1)
        kind, sep, value = str(text).partition("=")
        if not sep or kind not in KINDS or not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"position={text!r} is not allowed; expected regular, depthwise, segments=N or group_width=N"
            )
        return cls(kind, int(value))

    @classmethod
    def from_arguments(cls, segments=None, group_width=None) -> "Position":
        """The `segments=` / `group_width=` keyword pair of network builders: at most one may be given
        (`segments='depthwise'`, the builders' default, yields to an explicit group width)."""
        if segments == "depthwise" and group_width is not None:
            segments = None
        if segments is not None and group_width is not None:
            raise ValueError("segments and group_width are both given; expected one of them")
        if group_width is not None:
            if isinstance(group_width, bool) or not isinstance(group_width, int) or group_width < 1:
                raise ValueError(f"group_width={group_width!r} is not allowed; expected a positive integer")
            return cls("group_width", group_width)
        if segments is None or isinstance(segments, str):
            if segments in (None, "regular", "depthwise"):
                return cls.parse(segments or "depthwise")
            raise ValueError(f"segments={segments!r} is not allowed; expected 'regular', 'depthwise' or a positive integer")
        if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
            raise ValueError(f"segments={segments!r} is not allowed; expected 'regular', 'depthwise' or a positive integer")
        return cls("segments", segments)


def fitting_positions(channel_counts) -> list[Position]:
    """Every position that fits all the given layer widths: each common divisor as segments and as group width."""
    common = reduce(gcd, channel_counts)
    seen, out = set(), []
    for pos in [Position("segments", d) for d in segment_choices(common)] + [
        Position("group_width", d) for d in reversed(segment_choices(common))
    ]:
        if pos.label not in seen:
            seen.add(pos.label)
            out.append(pos)
    return out


def check_fits(position: Position, channel_counts, what: str) -> None:
    """ValueError listing the positions that fit when `position` does not divide every layer."""
    if any(c % position.value for c in channel_counts):
        fits = [p for p in fitting_positions(channel_counts) if p.kind == position.kind]
        raise ValueError(
            f"{position.kind}={position.value} does not fit every layer of {what} "
            f"(widths {', '.join(map(str, sorted(set(channel_counts))))}); "
            f"allowed {position.kind}: {', '.join(str(p.value) for p in fits)}"
        )
