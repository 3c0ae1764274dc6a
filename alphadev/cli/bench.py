"""``alphadev bench NAME [ARGS]``: run a benchmark script from ``benchmarks/``."""

from __future__ import annotations

import sys
from pathlib import Path

from alphadev.cli.exit_codes import OK, USAGE

__all__ = ["BENCHMARKS", "add_parser", "run"]

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"


def add_parser(sub) -> None:
    """Listed in ``alphadev --help`` only: :func:`run` takes the command's arguments as they
    are (they go to the script)."""
    sub.add_parser(
        "bench",
        help="run a benchmark script from benchmarks/ (alphadev bench NAME [ARGS])",
        add_help=False,
    )


def run(argv: list[str]) -> int:
    """``alphadev bench NAME [ARGS]``: run ``benchmarks/NAME.py`` of this checkout."""
    import subprocess

    names = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "common")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: alphadev bench NAME [ARGS]  (ARGS go to the script; NAME --help for its "
            f"own)\nbenchmarks: {', '.join(names) or 'none (not a source checkout)'}"
        )
        return OK
    if argv[0] not in names:
        print(f"alphadev bench: unknown benchmark {argv[0]!r}: expected one of "
              f"{', '.join(names) or 'none (benchmarks/ ships with the source checkout)'}",
              file=sys.stderr)  # fmt: skip
        return USAGE
    script = BENCHMARKS / f"{argv[0]}.py"
    return subprocess.run([sys.executable, str(script), *argv[1:]], check=False).returncode
