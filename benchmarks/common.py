"""Helpers shared by the benchmark scripts: the machine description and atomic report writes."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numba
import numpy as np

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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a report is for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


RESULTS = Path(__file__).resolve().parent / "results"


def report_path(name: str, quick: bool) -> Path:
    """Where a report goes: ``results/NAME`` for a full run; ``results/quick/NAME`` (not
    committed) for a ``--quick`` run, so a quick run never replaces the published figures."""
    return RESULTS / "quick" / name if quick else RESULTS / name


def publish_report(path: Path, lines: list[str]) -> None:
    """Append the machine line to a markdown report, write it atomically and print it."""
    machine = machine_info()
    text = "\n".join([*lines, "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()), ""])
    write_atomic(path, text)
    print(text)
