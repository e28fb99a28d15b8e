"""What one trial stores: the `TrialRecord` schema, written by the runner and read by the reports.

A field's metadata says its `kind` (int, float, str, bool, datetime, list), whether it `identifies`
the point (trials sharing every identifying field are seeds of one network) and its `label` (the
trials table's header; empty: not shown in the table). trials.csv is the flat projection: scalars
only; list fields go to a long side table (curves.csv: number, epoch, value). A new field is added
here and nowhere else. Torch-free, so a report is redrawn where torch is absent.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

KINDS = ("int", "float", "str", "bool", "datetime", "list")


def _f(kind: str, label: str = "", *, identifies: bool = False, default=None):
    assert kind in KINDS
    return field(default=default, metadata={"kind": kind, "label": label, "identifies": identifies})


@dataclass(frozen=True)
class TrialRecord:
    """One trial: Optuna's bookkeeping, the point it trained, what it cost and how it scored."""

    # Optuna's bookkeeping (from the trial itself, not its user attributes)
    number: int = _f("int", "#")
    state: str = _f("str", "state")
    fail_reason: str = _f("str")
    datetime_start: str = _f("datetime")
    datetime_complete: str = _f("datetime")
    duration_s: float = _f("float")
    # the point: everything but the seed identifies the network
    space: str = _f("str", identifies=True)
    net: str = _f("str", identifies=True)
    position: str = _f("str", "position", identifies=True)
    matched_position: str = _f("str")
    segments: int = _f("int", "segments", identifies=True)
    base_width: int = _f("int", identifies=True)
    group_width: int = _f("int", identifies=True)
    order: str = _f("str", "order", identifies=True)
    activation: str = _f("str", "nonlinearity", identifies=True)
    kernel_size: int = _f("int", identifies=True)
    intermediate_norm: bool = _f("bool", identifies=True)
    depth: int = _f("int")
    match: str = _f("str", identifies=True)
    budget: float = _f("float")
    budget_label: str = _f("str", "budget", identifies=True)
    widths: str = _f("str", "widths", identifies=True)  # module widths joined by '-': one network per value
    min_width: int = _f("int")
    seed: int = _f("int", "seed")
    # cost
    params: int = _f("int", "params")
    macs: int = _f("int", "MACs")
    activations: int = _f("int")
    latency_ms: float = _f("float", "latency (ms)")
    latency_iqr_ms: float = _f("float")
    latency_device: str = _f("str")
    latency_batch: int = _f("int")
    latency_format: str = _f("str")
    latency_threads: int = _f("int")
    latency_group_merge: str = _f("str")  # grouped convs timed as fewer groups (CPU), e.g. "21->7 x3"
    # training and its outcome
    dataset: str = _f("str")
    epochs: int = _f("int")
    batch_size: int = _f("int")
    lr: float = _f("float")
    backend: str = _f("str")
    device: str = _f("str")
    memory_format: str = _f("str")
    group_merge: str = _f("str")  # grouped convs trained as fewer groups on a CPU, e.g. "21->3 x3"
    deterministic: bool = _f("bool")  # trained under torch's deterministic algorithms (--deterministic)
    accuracy: float = _f("float", "val. accuracy")
    test_accuracy: float = _f("float", "test accuracy")
    accuracy_per_epoch: list = _f("list")
    train_time_s: float = _f("float", "train (s)")
    eval_time_s: float = _f("float")
    # how the trial came to be
    requeued: bool = _f("bool")
    duplicate_of: int = _f("int")
    interrupted: bool = _f("bool")

    def user_attrs(self) -> dict:
        """The fields a trial stores as Optuna user attributes: everything set, bookkeeping aside."""
        skip = {"number", "state", "datetime_start", "datetime_complete", "duration_s"}
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k not in skip}


FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(TrialRecord)
NAMES = frozenset(f.name for f in FIELDS)


def columns() -> dict[str, str]:
    """trials.csv's columns (every scalar field, in record order) -> kind."""
    return {f.name: f.metadata["kind"] for f in FIELDS if f.metadata["kind"] != "list"}


def list_fields() -> tuple[str, ...]:
    """Fields stored as lists: a long side table on disk (curves.csv), a list column in memory."""
    return tuple(f.name for f in FIELDS if f.metadata["kind"] == "list")


def point_keys() -> tuple[str, ...]:
    """What identifies one point of the spectrum: trials sharing these are seeds of one network."""
    return tuple(f.name for f in FIELDS if f.metadata["identifies"])


def table_columns() -> list[tuple[str, str]]:
    """(column, header) of the report's trials table, in record order."""
    return [(f.name, f.metadata["label"]) for f in FIELDS if f.metadata["label"]]


def from_attrs(attrs: dict, **bookkeeping) -> TrialRecord:
    """A record from a trial's user attributes (unknown keys ignored: older or newer studies)."""
    return TrialRecord(**{k: v for k, v in {**attrs, **bookkeeping}.items() if k in NAMES})
