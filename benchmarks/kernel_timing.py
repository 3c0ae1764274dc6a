"""Pieces shared by the native benchmarks (``native.py``, ``cost_model.py``): llvm-mca's
prediction for exported kernels, the core clock measured natively (to put measured ns beside
predicted cycles), and a check that gcc inlined every kernel into its timing loops.

llvm-mca reads only the instruction lines of :func:`alphadev.export.to_gas` (no prologue,
no ``push``/``pop``/``ret``), every kernel a code region of one file, with
``-mcpu=znver3``: the throughput figure is Total Cycles / Iterations at ``-iterations=100``
(independent calls: llvm-mca assumes loads and stores do not alias), the one-call figure is
Total Cycles at ``-iterations=1``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from alphadev.export import to_gas
from alphadev.isa import Program
from alphadev.native import gcc

#: llvm-mca's CPU: the core :data:`alphadev.cost.ZNVER3` models.
MCPU = "znver3"
#: Calls llvm-mca simulates for the throughput figure.
MCA_ITERATIONS = 100


def llvm_mca() -> str | None:
    """llvm-mca on PATH (the plain name, else Debian's versioned one), or None."""
    for name in ("llvm-mca", *(f"llvm-mca-{v}" for v in range(20, 11, -1))):
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def mca_version() -> str:
    tool = llvm_mca()
    if tool is None:
        return "absent"
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"LLVM version (\S+)", out)
    return m.group(1) if m else "unknown"


def instruction_lines(program: Program, lowering: str) -> list[str]:
    """The machine instructions of ``program`` as :func:`to_gas` writes them, without the
    function's frame (comments, directives, label, callee-saved pushes and pops, ``ret``)."""
    out = []
    for line in to_gas(program, "kernel", lowering=lowering).splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith(".") or text.endswith(":"):
            continue
        if text.split()[0] in ("pushq", "popq", "ret"):
            continue
        out.append(text)
    return out


def _regions(tool: str, source: Path, iterations: int, count: int) -> list[int]:
    done = subprocess.run(
        [
            tool,
            f"-mcpu={MCPU}",
            f"-iterations={iterations}",
            "-all-views=false",
            "-summary-view",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cycles = [0] * count
    for block in re.split(r"\n(?=\[\d+\] Code Region)", done.stdout):
        m = re.match(r"\[(\d+)\] Code Region", block)
        total = re.search(r"Total Cycles:\s+(\d+)", block)
        if m and total:
            cycles[int(m.group(1))] = int(total.group(1))
    if 0 in cycles:
        raise RuntimeError("llvm-mca did not report every code region")
    return cycles


def mca_predictions(kernels: list[tuple[Program, str]]) -> list[tuple[float, int]] | None:
    """``(throughput cycles per call, one-call cycles)`` per ``(program, lowering)`` from
    llvm-mca, or None where llvm-mca is not installed."""
    tool = llvm_mca()
    if tool is None:
        return None
    if not kernels:
        return []
    text = []
    for index, (program, lowering) in enumerate(kernels):
        text += [
            f"# LLVM-MCA-BEGIN k{index}",
            *instruction_lines(program, lowering),
            "# LLVM-MCA-END",
        ]
    with tempfile.TemporaryDirectory(prefix="alphadev-mca-") as tmp:
        source = Path(tmp) / "kernels.s"
        source.write_text("\n".join(text) + "\n")
        many = _regions(tool, source, MCA_ITERATIONS, len(kernels))
        one = _regions(tool, source, 1, len(kernels))
    return [(total / MCA_ITERATIONS, single) for total, single in zip(many, one, strict=True)]


_CLOCK = r"""
#include <stdint.h>
#include <stdio.h>
#include <time.h>
int main(void) {
    const long loops = 20000000;  /* 8 dependent 1-cycle adds each: 160M cycles */
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        uint64_t x = 0; struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < loops; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
        if (ns < best) best = ns;
    }
    printf("%.6f\n", 8.0 * loops / best);
    return 0;
}
"""


def clock_ghz() -> float | None:
    """The core's clock while busy, measured: a chain of dependent one-cycle ``add``
    instructions timed natively (cycles per ns, the fastest of 7 passes); None without gcc."""
    compiler = gcc()
    if compiler is None:
        return None
    with tempfile.TemporaryDirectory(prefix="alphadev-clock-") as tmp:
        source, exe = Path(tmp) / "clock.c", Path(tmp) / "clock"
        source.write_text(_CLOCK)
        subprocess.run([compiler, "-O2", "-o", str(exe), str(source)], check=True)
        done = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def not_inlined(source: str, opt: str) -> set[str]:
    """The functions (``k0``, ``libcxx_5``, ...) whose timing loops call them instead of
    inlining them when gcc compiles ``source`` with ``opt`` (``inline`` is only a hint)."""
    with tempfile.TemporaryDirectory(prefix="alphadev-bench-") as tmp:
        c_file, listing = Path(tmp) / "harness.c", Path(tmp) / "harness.s"
        c_file.write_text(source)
        subprocess.run([gcc(), opt, "-S", "-o", str(listing), str(c_file)], check=True)
        text = listing.read_text()
    out, current = set(), None
    for line in text.splitlines():
        label = re.match(r"([A-Za-z_]\w*):", line)
        if label:
            loop = re.fullmatch(r"(?:pass|chain)_(\w+)", label.group(1))
            current = loop.group(1) if loop else None
        elif current and re.match(r"\s+call\s+(?!qsort)\w+\s*$", line):
            out.add(current)
    return out
