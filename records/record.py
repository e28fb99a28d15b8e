"""What one trial stores: the `TrialRecord` schema, written by the study and read by the reports.

A field's annotation is its kind (int, float, str, bool, Timestamp, list); its metadata says whether it
`identifies` the point (trials sharing every identifying field are seeds of one network) and its
`label` (the trials table's header; empty: not shown). trials.csv is the flat projection (scalars);
list fields go to a long side table (curves.csv: number, field, epoch, value). `store` is the one
write path of a trial's record. Torch-free, so a report is redrawn where torch is absent.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import NewType

Timestamp = NewType("Timestamp", str)  # ISO 8601 text
KINDS = {int: "int", float: "float", str: "str", bool: "bool", Timestamp: "datetime", list: "list"}
BOOKKEEPING = ("number", "state", "datetime_start", "datetime_complete", "duration_s")  # Optuna's own, not stored


def _f(label: str = "", *, identifies: bool = False):
    return field(default=None, metadata={"label": label, "identifies": identifies})


@dataclass(frozen=True)
class TrialRecord:
    """One trial: Optuna's bookkeeping, the point it trained, what it cost and how it scored."""

    # Optuna's bookkeeping (from the trial itself, not its user attributes)
    number: int = _f("#")
    state: str = _f("state")
    fail_reason: str = _f()
    datetime_start: Timestamp = _f()
    datetime_complete: Timestamp = _f()
    duration_s: float = _f()
    # the point: everything but the seed identifies the network
    space: str = _f(identifies=True)
    net: str = _f(identifies=True)  # the family (--net), or your own network's reference (--model FILE.py:FUNCTION)
    model_file: str = _f()  # --model: the file the network came from, its function, the file's sha256
    model_function: str = _f()
    model_sha256: str = _f()
    position: str = _f("position", identifies=True)
    matched_position: str = _f()
    segments: int = _f("segments", identifies=True)
    base_width: int = _f(identifies=True)
    group_width: int = _f(identifies=True)
    order: str = _f("order", identifies=True)
    activation: str = _f("activation", identifies=True)
    kernel_size: int = _f(identifies=True)
    intermediate_norm: bool = _f(identifies=True)
    depth: int = _f()
    match: str = _f(identifies=True)
    budget: float = _f()
    budget_label: str = _f("budget", identifies=True)
    widths: str = _f("widths", identifies=True)  # module widths joined by '-': one network per value
    min_width: int = _f()
    seed: int = _f("seed")
    seed_plan: str = _f()  # "fixed", "auto:N" (N the seed cap) or "looks:A,B,...": the looks the verdict pays for
    # cost
    params: int = _f("params")
    macs: int = _f("MACs")
    activations: int = _f()
    latency_ms: float = _f("latency (ms)")
    latency_iqr_ms: float = _f()
    latency_device: str = _f()
    latency_batch: int = _f()
    latency_format: str = _f()
    latency_threads: int = _f()
    latency_group_merge: str = _f()  # grouped convs timed as fewer groups (CPU), e.g. "21->7 x3"
    # training and its outcome
    dataset: str = _f()
    epochs: int = _f()
    batch_size: int = _f()
    lr: float = _f("lr")
    backend: str = _f()
    device: str = _f()
    memory_format: str = _f()
    group_merge: str = _f()  # grouped convs trained as fewer groups on a CPU, e.g. "21->3 x3"
    deterministic: bool = _f()  # trained under torch's deterministic algorithms (--deterministic)
    accuracy: float = _f("val. accuracy")
    test_accuracy: float = _f("test accuracy")
    test_size: int = _f()
    test_correct: str = _f()  # hex of numpy.packbits of per-image correctness, in the test split's order
    accuracy_per_epoch: list = _f()
    train_time_s: float = _f("train (s)")
    eval_time_s: float = _f()
    # how the trial came to be, and how it ended
    requeued: bool = _f()
    duplicate_of: int = _f()
    permanent: bool = _f()  # a failure a rerun would repeat (divergence, an invalid spec): the point is settled
    diverged: bool = _f("diverged")  # the training loss became NaN/inf: an outcome, not a missing value
    interrupted: bool = _f()

    def user_attrs(self) -> dict:
        """The fields a trial stores as Optuna user attributes: everything set, bookkeeping aside."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k not in BOOKKEEPING}


# Everything below reads `TrialRecord` when called, so a field declared above is everywhere at once.

def kinds() -> dict[str, str]:
    """Every field, in record order -> its kind."""
    hints = typing.get_type_hints(TrialRecord)
    return {f.name: KINDS[hints[f.name]] for f in dataclasses.fields(TrialRecord)}


def names() -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(TrialRecord))


def columns() -> dict[str, str]:
    """trials.csv's columns (every scalar field, in record order) -> kind."""
    return {name: kind for name, kind in kinds().items() if kind != "list"}


def list_fields() -> tuple[str, ...]:
    """Fields stored as lists: a long side table on disk (curves.csv), a list column in memory."""
    return tuple(name for name, kind in kinds().items() if kind == "list")


def point_keys() -> tuple[str, ...]:
    """What identifies one point of the spectrum: trials sharing these are seeds of one network."""
    return tuple(f.name for f in dataclasses.fields(TrialRecord) if f.metadata["identifies"])


def table_columns() -> list[tuple[str, str]]:
    """(column, header) of the report's trials table, in record order."""
    return [(f.name, f.metadata["label"]) for f in dataclasses.fields(TrialRecord) if f.metadata["label"]]


def from_attrs(attrs: dict, **bookkeeping) -> TrialRecord:
    """A record from a trial's user attributes (keys that are not fields ignored: heartbeat, grid tags)."""
    known = names()
    return TrialRecord(**{k: v for k, v in {**attrs, **bookkeeping}.items() if k in known})


def part(source) -> dict:
    """The record fields a producer's result holds: a dataclass's or mapping's items whose names are fields."""
    items = source.items() if isinstance(source, dict) else (
        (f.name, getattr(source, f.name)) for f in dataclasses.fields(source))
    known = names()
    return {k: v for k, v in items if k in known}


def store(trial, rec: TrialRecord) -> None:
    """Write `rec` on an Optuna trial: every set field that the trial does not already hold with that value."""
    held = trial.user_attrs
    for key, value in rec.user_attrs().items():
        if held.get(key, ...) != value:
            trial.set_user_attr(key, value)
