"""Helpers shared by the benchmark scripts: the machine description, where reports go, and how
they are written (the CLI's output-path rule, :mod:`alphadev.atomic`: checked before any work
by :func:`check_output`, written atomically by :func:`write_atomic`)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import numba
import numpy as np

from alphadev import atomic
from alphadev.native import cpu_name


def machine_info() -> dict[str, str]:
    cpu = cpu_name()
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
                break
    except OSError:
        pass
    gcc = shutil.which("gcc")
    gcc_version = "absent"
    if gcc is not None:
        done = subprocess.run([gcc, "-dumpfullversion"], capture_output=True, text=True)
        gcc_version = done.stdout.strip() or "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical" + (f", {affinity} usable" if affinity else ""),
        "OS": os_name,
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "gcc": gcc_version,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` by :func:`alphadev.atomic.write_atomic` (a temporary file in
    the same folder, then a rename; never over a link, folder, FIFO, device or socket)."""
    atomic.write_atomic(path, text)


def save_figure(fig, path: Path, dpi: int) -> None:
    """A matplotlib figure as a PNG at ``path``, written the same way."""
    atomic.write_with(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))


RESULTS = Path(__file__).resolve().parent / "results"


def report_path(name: str, quick: bool) -> Path:
    """Where a report goes: ``results/NAME`` for a full run; ``results/quick/NAME`` (not
    committed) for a ``--quick`` run, so a quick run never replaces the published figures."""
    return RESULTS / "quick" / name if quick else RESULTS / name


def refuse(message: str) -> NoReturn:
    """One line on stderr, naming the script, and exit 2 (bad input: nothing was done)."""
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    sys.exit(2)


def check_output(path: str | Path, quick: bool, flag: str = "--out") -> Path:
    """``path``, checked before any work by the output-path rule every command follows
    (:mod:`alphadev.atomic`): what is there is a regular file or nothing (never a link,
    folder, FIFO, device or socket) in a folder where a file can be created; and a ``--quick``
    run never writes beside the published reports (straight in ``results/``). Else
    :func:`refuse`."""
    path = Path(path)
    shown = str(path)[:200]
    why = atomic.not_regular(path) or atomic.unwritable_folder(path.parent)
    if why is not None:
        refuse(f"{flag} {shown}: {why}")
    if quick:
        try:
            published = path.resolve().parent == RESULTS.resolve()
        except (OSError, RuntimeError) as exc:  # a link loop above it
            refuse(f"{flag} {shown}: cannot look at it ({exc})")
        if published:
            refuse(f"{flag} {shown}: a --quick run never replaces a published report in "
                   f"{RESULTS} (its default is {RESULTS / 'quick'})")  # fmt: skip
    return path


def publish_report(path: Path, lines: list[str]) -> None:
    """Append the machine line to a markdown report, write it atomically and print it."""
    machine = machine_info()
    text = "\n".join([*lines, "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()), ""])
    write_atomic(path, text)
    print(text)
