"""python -m reports DIR [DIR ...] [--out FILE]

One DIR: writes DIR/report.html. Several: writes each DIR/report.html and a side-by-side comparison
page (FIRST_DIR/../compare.html, or --out FILE). Either way (re)writes index.html in each DIR's parent,
linking every study under it. Bad input: one line on stderr, exit 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "python -m reports"


def _usage_error(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return 2


def main(argv=None) -> int:
    from common.cli import OneLineParser

    p = OneLineParser(prog=PROG, usage=f"{PROG} DIR [DIR ...] [--out FILE]", description=__doc__.split("\n\n", 1)[1],
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+", metavar="DIR", help="study directory holding trials.csv and config.json")
    p.add_argument("--out", metavar="FILE", help="output HTML file (one DIR: instead of DIR/report.html; "
                   "several: the comparison page, default FIRST_DIR/../compare.html)")
    args = p.parse_or_exit(argv)

    from common.cli import UsageError
    from records.table import load_study_dir

    from .compare import write_compare
    from .index import write_index
    from .page import write

    dirs = [Path(d) for d in args.dirs]
    loaded = []
    for arg, d in zip(args.dirs, dirs):
        if not d.exists():
            return _usage_error(f"DIR {arg!r} does not exist (expected a study directory holding trials.csv and config.json)")
        if not d.is_dir():
            return _usage_error(f"DIR {arg!r} is not a directory (expected a study directory holding trials.csv and config.json)")
        try:
            loaded.append(load_study_dir(d))
        except UsageError as e:  # a folder or file the study did not write as a study does
            return _usage_error(f"DIR {arg!r}: {e}")
    if args.out is not None and Path(args.out).is_dir():
        return _usage_error(f"--out {args.out!r} is a directory (expected an .html file path)")

    written = []
    for d, (df, cfg) in zip(dirs, loaded):
        target = Path(args.out) if (args.out and len(dirs) == 1) else d / "report.html"
        written.append(write(df, cfg, target))
    if len(dirs) > 1:
        written.append(write_compare(dirs, args.out))
    for parent in dict.fromkeys(d.resolve().parent for d in dirs):
        written.append(write_index(parent))
    for w in written:
        print(w)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
