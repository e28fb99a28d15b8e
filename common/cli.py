"""Command-line helpers shared by every entry point, torch-free: a parser whose usage error is one line and
exit 2, and argparse types that name what they expected."""
from __future__ import annotations

import argparse
import sys


class UsageError(ValueError):
    """A wrong command line: the message names the flag and what is allowed."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage error is a `UsageError` (no usage block); `parse_or_exit` prints it as one line
    (`prog: error: ...`) and exits 2."""

    def error(self, message: str):
        raise UsageError(message)

    def parse_or_exit(self, argv=None) -> argparse.Namespace:
        try:
            return self.parse_args(argv)
        except UsageError as err:
            sys.stderr.write(f"{self.prog}: error: {err}\n")
            raise SystemExit(2) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value
