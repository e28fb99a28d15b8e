"""Command-line helpers shared by every entry point, torch-free: the UsageError (a user's mistake, exit 2), a
parser whose usage error is one line and exit 2, an error as one line, and argparse types that name what
they expected."""
from __future__ import annotations

import argparse
import sys


class UsageError(ValueError):
    """A user's mistake (a flag, a file or folder it names, a setting the study cannot take): the message
    names the flag and what is allowed. Entry points exit 2 on it, and only on it."""


def one_line(err: BaseException) -> str:
    """'Type: the first line of its message' (database drivers append whole paragraphs)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def folded(text) -> str:
    """Any text as one line, its whitespace (newlines included) folded to single spaces."""
    return " ".join(str(text).split())


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
