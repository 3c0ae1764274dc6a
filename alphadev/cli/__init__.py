"""The ``alphadev`` command line: one module per command (``verify``, ``run``, ``search``,
``prove``, ``export``, ``bench``, ``train``, ``learn-guide``), each with ``add_parser`` and
``run``; what they share is in :mod:`alphadev.cli.common`.

Exit codes (:mod:`alphadev.cli.exit_codes`): 0 success; 1 a kernel is wrong, no kernel was
found in time, or (``prove``) a program of the length exists; 2 bad input (malformed
assembly, a missing, unreadable or too large file, a bad flag, an output that cannot be
written): one line on stderr, no traceback, nothing written; 3 (``prove``) undecided within
the time limit; 130 interrupted (Ctrl-C; a search still verifies and writes or prints the best
kernel it had).

Every size a user controls is bounded (:data:`alphadev.asm.MAX_N`, ``MAX_REGISTERS``,
``MAX_INSTRUCTIONS``, ``MAX_FILE_BYTES``; :data:`alphadev.tasks.MAX_RANDOM_ROWS`; the search's
and the time limit's bounds in :class:`alphadev.search.SearchConfig`). The heavy modules
(numba, rich) and the command modules are imported inside :func:`main`, so that a Ctrl-C
during start-up is one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from alphadev.cli.common import PIPED_WIDTH, Parser, UsageError, clip
from alphadev.cli.exit_codes import INTERRUPTED, OK, USAGE

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from alphadev import __version__
    from alphadev.cli import bench, export, learn_guide, prove, run, search, train, verify

    parser = Parser(
        prog="alphadev",
        description="Discover and check short branchless sorting kernels on a toy x86 machine.",
    )
    parser.add_argument("--version", action="version", version=f"alphadev {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (verify, run, search, prove, export, bench, train, learn_guide):
        command.add_parser(sub)
    return parser


def _first_run_notice() -> None:
    """Say so when the numba kernels have no cache yet (the first run compiles them)."""
    package = Path(__file__).resolve().parent.parent
    if not any(package.glob("**/__pycache__/*.nbi")):
        print(
            "alphadev: first run on this machine: compiling the numba kernels once (up to about "
            "a minute on 2 cores; later runs load them from the cache)",
            file=sys.stderr,
        )


def _exit_code(exc: SystemExit) -> int:
    """The exit code argparse asked for (``--help``: 0, a bad flag: 2)."""
    if exc.code is None:
        return OK
    return exc.code if isinstance(exc.code, int) else USAGE


def _main(argv: list[str]) -> int:
    if argv[:1] and argv[0] in (
        "search",
        "prove",
        "train",
        "verify",
        "run",
        "export",
        "learn-guide",
    ):
        _first_run_notice()
    if argv[:1] == ["train"]:  # its own parser: python -m alphadev.train takes the same flags
        from alphadev.cli import train

        return train.run(argv[1:])
    if argv[:1] == ["bench"]:
        from alphadev.cli import bench

        return bench.run(argv[1:])
    from rich.console import Console

    args = build_parser().parse_args(argv)
    # Piped or redirected, rich would lay tables out 80 columns wide and cut long paths in the
    # middle; a wider page keeps every cell on one line (COLUMNS, when set, still wins).
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    out = Console(highlight=False, width=PIPED_WIDTH if piped else None)
    try:
        return args.func(args, out)
    except UsageError as exc:
        print(f"alphadev {args.command}: {clip(str(exc))}", file=sys.stderr)
        return USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (see the module docstring)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help, --version, a bad flag
        return _exit_code(exc)
    except KeyboardInterrupt:  # anywhere, start-up included
        print("alphadev: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        if not _interrupted(exc):
            raise
        print("alphadev: interrupted", file=sys.stderr)  # a Ctrl-C Python wrapped (an import)
        return INTERRUPTED


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by a Ctrl-C: Python wraps a ``KeyboardInterrupt`` raised
    while a class body is set up (``__set_name__``, during an import) in a RuntimeError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
