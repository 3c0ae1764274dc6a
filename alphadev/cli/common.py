"""What several commands share: the one-line :class:`UsageError`, message clipping, the
parser, the layout and Ray flags, kernel loading, and the output-path checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from alphadev.cli.exit_codes import USAGE

if TYPE_CHECKING:
    from rich.console import Console

    from alphadev import asm

__all__ = [
    "MAX_MESSAGE",
    "MAX_RAY_WORKERS",
    "MAX_SEED",
    "PIPED_WIDTH",
    "Parser",
    "UsageError",
    "add_layout_flags",
    "add_ray_flags",
    "check",
    "check_layout_flags",
    "check_out_dir",
    "check_out_file",
    "check_ray",
    "clip",
    "exists",
    "load",
    "reporter",
]

#: Characters of one error line at most (a flag's value is echoed in it).
MAX_MESSAGE = 400
#: Page width when the output is piped or redirected: tables take their natural width.
PIPED_WIDTH = 1000
#: The largest seed accepted.
MAX_SEED = 2**63 - 1
#: Ray workers a search or proof may ask for.
MAX_RAY_WORKERS = 1024


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and never echo a whole huge value)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {clip(message)} (see {self.prog} --help)\n")


def check(name: str, value, low=None, high=None) -> None:
    """:func:`alphadev.options.check_range` as a :class:`UsageError`."""
    from alphadev.options import check_range

    try:
        check_range(name, value, low, high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_layout_flags(args: argparse.Namespace) -> None:
    from alphadev.asm import MAX_N, MAX_REGISTERS

    check("n", args.n, 1, MAX_N)
    check("registers", args.registers, 1, MAX_REGISTERS)


def exists(path: Path, flag: str) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag} {clip(str(path), 100)}: {exc}") from None


def load(path: str, n: int | None, registers: int | None) -> asm.Listing:
    """Read a kernel file. ``--n`` and ``--registers`` stand in for a header that lacks them; one
    that disagrees with the header is an error. Messages name the path as it was given (plain
    text: they are printed without markup)."""
    from alphadev import asm

    file = Path(path)
    shown = clip(path, 200)
    if not exists(file, "file"):
        raise UsageError(f"{shown}: no such file")
    if file.is_dir():
        raise UsageError(f"{shown}: is a directory, expected an assembly file")
    if not file.is_file():
        raise UsageError(f"{shown}: not a regular file")
    try:
        return asm.parse_file(file, n=n, registers=registers)
    except asm.HeaderConflict as exc:
        flag = "--n" if exc.key == "task" else "--registers"
        raise UsageError(
            f"{flag} {exc.given} disagrees with {shown}:{exc.line}:{exc.column}: its header "
            f"says '; {exc.key}: {exc.stated}' ({flag} {exc.header_value}); drop {flag} or "
            "make them agree"
        ) from None
    except asm.AsmError as exc:
        raise UsageError(str(exc.with_path(shown))) from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{shown}: {exc}") from None


def check_out_dir(path: str, flag: str = "--out", *, named: str | None = None) -> None:
    """Refuse an output folder that cannot be written, before any work is done
    (:func:`alphadev.atomic.unwritable_folder`: the nearest existing folder on the path must
    be a folder in which a file can be created). ``named`` is the path the message names
    (default ``path``)."""
    from alphadev.atomic import unwritable_folder

    why = unwritable_folder(path)
    if why is not None:
        raise UsageError(f"{flag} {clip(named or path, 200)}: {clip(why, 200)}")


def check_ray(args: argparse.Namespace) -> None:
    """``--workers`` only with ``--ray`` and in range (default 2), and with ``--ray`` the ray
    extra installed: else one line."""
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers is for --ray (without it the search runs two lanes here)")
    if args.workers is None:
        args.workers = 2
    if not 1 <= args.workers <= MAX_RAY_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_RAY_WORKERS}, got {args.workers}")
    if args.ray is None:
        return
    from alphadev.cluster import ClusterError, check_address, import_ray

    if not args.ray.strip():
        raise UsageError("--ray: empty address (give HOST:PORT, or --ray alone for a local Ray)")
    try:
        check_address(args.ray)
        import_ray()
    except ClusterError as exc:
        raise UsageError(str(exc)) from None


def check_out_file(path: str, flag: str, source: str | None = None) -> None:
    """Refuse an output file that cannot be written (or that is the input), and anything but
    a regular file or a new name (:func:`alphadev.atomic.not_regular`: a link, FIFO, device or
    socket)."""
    from alphadev.atomic import not_regular

    file = Path(path)
    shown = clip(path, 200)
    if exists(file, flag) and file.is_dir():
        raise UsageError(f"{flag} {shown}: is a folder, expected a file name")
    why = not_regular(path)
    if why is not None:
        raise UsageError(f"{flag} {shown}: {why}")
    if source is not None and exists(file, flag) and file.resolve() == Path(source).resolve():
        raise UsageError(f"{flag} {shown}: is the input file; choose another output")
    parent = file.parent
    if not exists(parent, flag) or not parent.is_dir():
        raise UsageError(f"{flag} {shown}: the folder {clip(str(parent), 200)} does not exist")
    check_out_dir(str(parent), flag, named=path)


def reporter(err: Console, *, total: float | None, label: str):
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from alphadev.progress import Reporter

    columns = (TimeElapsedColumn(), BarColumn(bar_width=20), TextColumn("{task.description}"))
    return Reporter(err, columns, total=total, label=label)


def add_layout_flags(p: argparse.ArgumentParser) -> None:
    """``--n`` and ``--registers`` of a command that reads a kernel file."""
    from alphadev.asm import MAX_N as MAX_FILE_N
    from alphadev.asm import MAX_REGISTERS

    p.add_argument(
        "--n", type=int, help=f"sort size 1..{MAX_FILE_N}, if the file has no '; task:' header"
    )
    p.add_argument(
        "--registers", type=int, help=f"register count 1..{MAX_REGISTERS}, if not in the header"
    )


def add_ray_flags(p: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]`` and ``--workers`` (checked by :func:`check_ray`)."""
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray (the ray extra): --ray alone starts a local Ray, --ray HOST:PORT "
        "joins a cluster started with `ray start --head`",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"Ray workers with --ray, one CPU each, 1..{MAX_RAY_WORKERS} (default 2)",
    )
