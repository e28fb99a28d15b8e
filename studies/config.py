"""StudyConfig: every setting of a study, frozen and validated, built once from the command line."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from spectrum import BACKENDS, segment_choices

MATCHES = ("macs", "params", "none")


def _positive(name: str, value, kind=int) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(f"--{name.replace('_', '-')}: {value!r} is not allowed; expected a positive {kind.__name__}")


@dataclass(frozen=True)
class StudyConfig:
    space: str
    out: Path
    storage: str | None = None  # None: a journal file inside `out`
    study_name: str | None = None  # None: "spectrum-<space>"
    dataset: str = "mnist5k"
    data_dir: str | None = None
    device: str = "auto"
    backend: str = "torch"
    trials: int | None = None  # grid spaces: cap on trials this run; joint: total trials
    epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3
    seeds: int = 2
    match: str = "macs"
    budgets: tuple[float, ...] | None = None  # None: derived from the network (see runner.default_budgets)
    width: int = 16  # base width: its divisors are the segment counts swept
    depth: int = 3
    stem_stride: int = 2
    workers: int | None = None  # None: studies.runner.default_workers (2 on a 2-core CPU, 1 on a GPU)
    latency_batch: int = 64
    quiet: bool = False
    report_only: bool = False
    command: str = ""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "seeds", "width", "depth", "stem_stride", "latency_batch"):
            _positive(name, getattr(self, name))
        if self.workers is not None:
            _positive("workers", self.workers)
        if self.trials is not None:
            _positive("trials", self.trials)
        _positive("lr", float(self.lr), float)
        if self.backend not in BACKENDS:
            raise ValueError(f"--backend: {self.backend!r} is not allowed; expected one of {', '.join(BACKENDS)}")
        if self.match not in MATCHES:
            raise ValueError(f"--match: {self.match!r} is not allowed; expected one of {', '.join(MATCHES)}")
        if self.budgets is not None:
            if not self.budgets or any(not (isinstance(b, (int, float)) and b > 0) for b in self.budgets):
                raise ValueError(f"--budgets: {self.budgets!r} is not allowed; expected positive numbers, comma-separated")
        if len(segment_choices(self.width)) < 2:
            raise ValueError(f"--width: {self.width} has no spectrum to sweep; expected a width with divisors, e.g. 32")

    @property
    def name(self) -> str:
        return self.study_name or f"spectrum-{self.space}"

    @property
    def journal_path(self) -> Path:
        return Path(self.out) / "study.journal"

    @property
    def storage_url(self) -> str:
        return self.storage or str(self.journal_path)

    def to_json(self) -> dict:
        data = asdict(self)
        data["out"] = str(self.out)
        data["budgets"] = list(self.budgets) if self.budgets else None
        return data

    def write(self, path: Path, **more) -> None:
        Path(path).write_text(json.dumps({**self.to_json(), **more}, indent=2, default=str))
