#!/usr/bin/env python3
"""Sweep the Inception spectrum with Optuna and write DIR/trials.csv, config.json, verdict.json and report.html.

    python run_study.py --space segments            # the default study, minutes on a laptop CPU
    python run_study.py --space list                # the spaces, one line each (--net list: the networks)

Exit status: 0 every run settled, 1 runtime failure or runs left unfinished (one line), 2 usage
error (one line naming the flag), 130 interrupted (finished trials kept; rerun the same command to resume).
"""
from __future__ import annotations

import shlex
import sys

from common.cli import OneLineParser, UsageError, one_line
from common.mask import mask_secrets
from studies.config import StudyConfig, flag_options

INTERRUPTED = "interrupted; finished trials are stored, rerun the same command to resume"


def parse(argv) -> StudyConfig | str:
    """The validated config, or the text a `list` request prints."""
    p = OneLineParser(prog="run_study.py", description=__doc__.split("\n")[0])
    for flag, kwargs in flag_options():
        p.add_argument(flag, **kwargs)
    args = {k: v for k, v in vars(p.parse_args(argv)).items() if v is not None}
    if args.get("space") == "list" or args.get("net") == "list":
        from studies.spaces import listing

        return listing("net" if args.get("net") == "list" else "space")
    from studies.model import check_flags

    check_flags(args)  # --model: the flags it refuses, its file and function
    if "confirm" in args:
        args = confirmation(args)
    config = StudyConfig.from_flags(args, command=shlex.join(["python", "run_study.py", *argv]))
    from studies.checks import check_usage

    check_usage(config)
    return config


def confirmation(args: dict) -> dict:
    """--confirm DIR: the source study's settings, then the flags given, with fresh seeds (default out DIR/confirm)."""
    from studies.confirm import SEED_BASE, source_settings

    if args.get("space", "confirm") != "confirm":
        raise UsageError(f"--confirm takes no --space {args['space']} (it confirms the study in DIR, whatever its space)")
    return {**source_settings(args["confirm"]), "out": args["confirm"] / "confirm", **args, "space": "confirm",
            "seed_base": SEED_BASE}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = parse(argv)
        if isinstance(config, str):
            print(config)
            return 0
        from studies.runner import run

        summary = run(config)
    except UsageError as err:  # a user's mistake, and only that, is exit 2
        print(f"run_study.py: error: {mask_secrets(one_line(err).partition(': ')[2])}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"run_study.py: {INTERRUPTED}", file=sys.stderr)
        return 130
    except Exception as err:  # a runtime failure is one line, never a traceback
        print(f"run_study.py: failed: {mask_secrets(one_line(err))}", file=sys.stderr)
        return 1
    print(f"{config.space}: {summary.line()}")
    if summary.interrupted or summary.unfinished:
        print(f"run_study.py: {INTERRUPTED if summary.interrupted else summary.unfinished}", file=sys.stderr)
    return 130 if summary.interrupted else 1 if summary.unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
