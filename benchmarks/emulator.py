"""Emulator throughput: the numba core against a Python reference, numpy and C.

What is measured
----------------
A fixed, seeded batch of random *legal* sort5 programs (layout ``n=5, registers=6``, the
``full`` ISA: mov, cmp, the four cmovs, min, max) is run over the 541 tie-pattern rows of
``SortTask(5)`` by four implementations:

* ``numba``: :func:`alphadev.emulator.run_program`, called once per program from a small
  ``@njit`` loop over the batch (so there is no Python call per program, as in the C version);
* ``reference``: :func:`alphadev.emulator.reference_run`, the pure-Python oracle (timed on a
  subset of the programs; throughput scales with the work done, so the subset is fair);
* ``numpy``: a vectorised interpreter in this file: one whole-column numpy operation over all
  rows per instruction, with the state held as ``[locations, rows]``;
* ``C``: the same loop as ``run_program`` (blocks of ``ROW_BLOCK`` rows; in a block, each
  instruction over all the block's rows; ``int8`` flags; ``switch`` on the opcode),
  compiled here with ``gcc -O2 -shared -fPIC`` and called through ctypes once for the batch.

Every implementation starts each program from a fresh copy of the initial state (and flags for
those that keep them); that copy is inside the timed region for all four. Encoding the programs
(``Program`` objects, tuple lists, the packed int32 array) is done once, outside the timing.

Throughput is *instructions x rows per second*: the total number of instructions executed
(sum of program lengths) times the number of rows, divided by the best wall time over several
repeats (``time.perf_counter``), after a warm-up run so numba's compile time is excluded.

Before anything is reported, the final states of all four implementations are compared for
every program (and the final flags for the three that return them); a mismatch is an error.

Usage::

    python benchmarks/emulator.py [--quick] [--programs N] [--length L] [--seed S] [--out PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import check_output, machine_info, report_path, write_atomic
from numba import njit

from alphadev.emulator import ROW_BLOCK, reference_run, run_program
from alphadev.isa import ActionSpace, Instruction, Layout, Op, Program, reads, writes
from alphadev.tasks import SortTask

N = 5
REGISTERS = 6


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------


def random_programs(
    space: ActionSpace, count: int, length: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``count`` legal programs of ``length`` instructions, each ``int32[length, 3]``.

    Each starts with the loads ``mov r{i}, m{i}`` (i < n), then draws actions uniformly from
    ``space``, rejecting any that reads a register not yet written or is a cmov before the
    first cmp."""
    layout = space.layout
    if length < layout.n:
        raise ValueError(f"length must be at least {layout.n} (the loads), got {length}")
    actions = space.actions
    programs = []
    for _ in range(count):
        code = [(int(Op.MOV), layout.register(i), layout.memory(i)) for i in range(layout.n)]
        written = set(range(layout.n)) | {layout.register(i) for i in range(layout.n)}
        while len(code) < length:
            op_num, dst, src = (int(v) for v in actions[rng.integers(len(actions))])
            ins = Instruction(Op(op_num), dst, src)
            if not set(reads(ins)) <= written:  # no read of an undefined register or flags
                continue
            written.add(writes(ins))
            code.append((op_num, dst, src))
        programs.append(np.array(code, dtype=np.int32))
    return programs


def pack(programs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All programs as one ``int32[total, 3]`` array plus ``int64[count + 1]`` offsets."""
    offsets = np.zeros(len(programs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in programs])
    return np.ascontiguousarray(np.concatenate(programs), dtype=np.int32), offsets


# --------------------------------------------------------------------------------------------
# Implementations. Each runs a batch and fills out_state[p] (and out_flags[p] where it has them).
# --------------------------------------------------------------------------------------------


_MOV, _CMP, _CMOVL, _CMOVG, _CMOVLE, _CMOVGE, _MIN, _MAX = (
    int(Op.MOV),
    int(Op.CMP),
    int(Op.CMOVL),
    int(Op.CMOVG),
    int(Op.CMOVLE),
    int(Op.CMOVGE),
    int(Op.MIN),
    int(Op.MAX),
)


@njit(nogil=True)
def _numba_batch(
    init_state, init_flags, code, offsets, out_state, out_flags
):  # pragma: no cover - compiled
    # Explicit copy loops: a whole-array slice assignment costs ~5 s more to compile.
    rows, cols = init_state.shape
    for p in range(offsets.shape[0] - 1):
        state = out_state[p]
        flags = out_flags[p]
        for r in range(rows):
            for c in range(cols):
                state[r, c] = init_state[r, c]
            flags[r] = init_flags[r]
        run_program(state, flags, code[offsets[p] : offsets[p + 1]])


def numpy_run(
    init_columns: np.ndarray,
    init_flags: np.ndarray,
    program: Sequence[tuple[int, int, int]],
    out_state: np.ndarray,
    out_flags: np.ndarray,
) -> None:
    """Vectorised interpreter: ``init_columns`` is the initial state as ``[locations, rows]``,
    so each location is one contiguous vector and each instruction is one or two numpy calls
    over all rows. The flags are kept as the two masks ``a < b`` and ``a > b`` of the last cmp
    and turned into the int8 -1/0/+1 column at the end."""
    s = init_columns.copy()
    lt: np.ndarray | None = None
    gt: np.ndarray | None = None
    for op, dst, src in program:
        if op == _MOV:
            s[dst] = s[src]
        elif op == _CMP:
            lt = s[dst] < s[src]
            gt = s[dst] > s[src]
        elif op == _CMOVL:
            np.copyto(s[dst], s[src], where=lt)
        elif op == _CMOVG:
            np.copyto(s[dst], s[src], where=gt)
        elif op == _CMOVLE:
            np.copyto(s[dst], s[src], where=~gt)
        elif op == _CMOVGE:
            np.copyto(s[dst], s[src], where=~lt)
        elif op == _MIN:
            np.minimum(s[dst], s[src], out=s[dst])
        elif op == _MAX:
            np.maximum(s[dst], s[src], out=s[dst])
        else:  # pragma: no cover - Op is closed
            raise ValueError(f"unknown opcode {op}")
    out_state[...] = s.T
    if lt is None or gt is None:
        out_flags[...] = init_flags
    else:
        np.subtract(gt.view(np.int8), lt.view(np.int8), out=out_flags)


C_SOURCE = r"""
#include <stdint.h>
#include <string.h>

enum { OP_MOV = %(MOV)d, OP_CMP = %(CMP)d, OP_CMOVL = %(CMOVL)d, OP_CMOVG = %(CMOVG)d,
       OP_CMOVLE = %(CMOVLE)d, OP_CMOVGE = %(CMOVGE)d, OP_MIN = %(MIN)d, OP_MAX = %(MAX)d };

/* Same structure as alphadev.emulator.run_program: blocks of ROW_BLOCK rows; within a block,
   instructions in order, each over all the block's rows. */
#define ROW_BLOCK %(ROW_BLOCK)d
static void run_program(int32_t *state, int8_t *flags, int64_t rows, int64_t cols,
                        const int32_t *program, int64_t length)
{
    for (int64_t start = 0; start < rows; start += ROW_BLOCK) {
        const int64_t stop = start + ROW_BLOCK < rows ? start + ROW_BLOCK : rows;
        for (int64_t i = 0; i < length; i++) {
            const int32_t op = program[3 * i], dst = program[3 * i + 1],
                          src = program[3 * i + 2];
            switch (op) {
            case OP_MOV:
                for (int64_t r = start; r < stop; r++)
                    state[r * cols + dst] = state[r * cols + src];
                break;
            case OP_CMP:
                for (int64_t r = start; r < stop; r++) {
                    const int32_t a = state[r * cols + dst], b = state[r * cols + src];
                    flags[r] = (int8_t)((a > b) - (a < b));
                }
                break;
#define CMOV(COND) \
                for (int64_t r = start; r < stop; r++) \
                    if (flags[r] COND 0) state[r * cols + dst] = state[r * cols + src]; \
                break;
            case OP_CMOVL: CMOV(<)
            case OP_CMOVG: CMOV(>)
            case OP_CMOVLE: CMOV(<=)
            case OP_CMOVGE: CMOV(>=)
            case OP_MIN:
                for (int64_t r = start; r < stop; r++) {
                    const int32_t a = state[r * cols + dst], b = state[r * cols + src];
                    state[r * cols + dst] = a < b ? a : b;
                }
                break;
            case OP_MAX:
                for (int64_t r = start; r < stop; r++) {
                    const int32_t a = state[r * cols + dst], b = state[r * cols + src];
                    state[r * cols + dst] = a > b ? a : b;
                }
                break;
            default: break;
            }
        }
    }
}

void run_batch(const int32_t *init_state, const int8_t *init_flags, int64_t rows, int64_t cols,
               const int32_t *code, const int64_t *offsets, int64_t count,
               int32_t *out_state, int8_t *out_flags)
{
    for (int64_t p = 0; p < count; p++) {
        int32_t *state = out_state + p * rows * cols;
        int8_t *flags = out_flags + p * rows;
        memcpy(state, init_state, (size_t)(rows * cols) * sizeof(int32_t));
        memcpy(flags, init_flags, (size_t)rows);
        run_program(state, flags, rows, cols, code + 3 * offsets[p], offsets[p + 1] - offsets[p]);
    }
}
"""


def build_c(workdir: Path) -> Callable[..., None] | None:
    """Compile :data:`C_SOURCE` with gcc and return ``run_batch``, or None without gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    source = workdir / "emulator_bench.c"
    library = workdir / "emulator_bench.so"
    source.write_text(C_SOURCE % {**{op.name: int(op) for op in Op}, "ROW_BLOCK": ROW_BLOCK})
    subprocess.run(
        [gcc, "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    lib = ctypes.CDLL(str(library))
    fn = lib.run_batch
    ptr = np.ctypeslib.ndpointer
    fn.argtypes = [
        ptr(np.int32, flags="C_CONTIGUOUS"),
        ptr(np.int8, flags="C_CONTIGUOUS"),
        ctypes.c_int64,
        ctypes.c_int64,
        ptr(np.int32, flags="C_CONTIGUOUS"),
        ptr(np.int64, flags="C_CONTIGUOUS"),
        ctypes.c_int64,
        ptr(np.int32, flags="C_CONTIGUOUS,WRITEABLE"),
        ptr(np.int8, flags="C_CONTIGUOUS,WRITEABLE"),
    ]
    fn.restype = None
    return fn


# --------------------------------------------------------------------------------------------
# Timing and reporting
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    programs: int  # programs run per timed repeat
    instruction_rows: int  # instructions x rows per timed repeat
    seconds: float  # best repeat
    repeats: int

    @property
    def throughput(self) -> float:
        return self.instruction_rows / self.seconds


def best_time(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def render_markdown(
    info: dict[str, str],
    workload: dict[str, str],
    results: list[Result],
    ratios: list[tuple[str, float | None]],
    notes: list[str],
) -> str:
    lines = ["# Emulator throughput", "", "Generated by `python benchmarks/emulator.py`.", ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", "## Workload", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in workload.items()]
    lines += [
        "",
        "## Throughput",
        "",
        "Instructions x rows per second, best of the repeats (numba, C and numpy are timed "
        "round-robin, one run of each per round); the per-program copy of the initial state "
        "is inside the timed region for every implementation.",
        "",
        "| implementation | programs timed | repeats | best time (s) | instr·rows/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {r.programs} | {r.repeats} | {r.seconds:.6f} | {r.throughput:.4g} |"
        for r in results
    ]
    lines += ["", "## Ratios", "", "| ratio | value |", "|---|---:|"]
    lines += [
        f"| {name} | {'n/a' if value is None else f'{value:.2f}x'} |" for name, value in ratios
    ]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer programs and repeats")
    parser.add_argument("--programs", type=int, default=None, help="batch size (200; 50 quick)")
    parser.add_argument("--length", type=int, default=40, help="instructions per program")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, help="report (default results/emulator.md; --quick: results/quick/)"
    )
    args = parser.parse_args(argv)
    args.out = check_output(args.out or report_path("emulator.md", args.quick), args.quick)
    if args.programs is not None and args.programs < 1:
        parser.error("--programs must be at least 1")
    if args.length < N:
        parser.error(f"--length must be at least {N} (the loads)")
    with tempfile.TemporaryDirectory(prefix="alphadev-bench-") as workdir:
        return run(args, Path(workdir))


def run(args: argparse.Namespace, workdir: Path) -> int:
    """The benchmark proper; ``workdir`` is a scratch directory for the C build."""
    start_all = time.perf_counter()
    count = args.programs if args.programs is not None else (50 if args.quick else 200)
    reference_count = min(count, 8 if args.quick else 40)
    fast_repeats = 10 if args.quick else 30
    reference_repeats = 2 if args.quick else 3

    task = SortTask(N, REGISTERS, "full")
    layout = Layout(N, REGISTERS)
    space = ActionSpace(layout, "full")
    rng = np.random.default_rng(args.seed)
    programs = random_programs(space, count, args.length, rng)
    code, offsets = pack(programs)
    program_objects = [Program.from_array(layout, p) for p in programs]
    program_tuples = [[tuple(int(v) for v in ins) for ins in p] for p in programs]

    init_state = np.ascontiguousarray(task.initial_state, dtype=np.int32).copy()
    init_flags = np.ascontiguousarray(task.initial_flags, dtype=np.int8).copy()
    init_columns = np.ascontiguousarray(init_state.T)
    init_rows = init_state.tolist()
    rows, cols = init_state.shape
    total_instructions = int(offsets[-1])

    def fresh() -> tuple[np.ndarray, np.ndarray]:
        return (
            np.zeros((count, rows, cols), dtype=np.int32),
            np.zeros((count, rows), dtype=np.int8),
        )

    notes: list[str] = []
    results: list[Result] = []

    # Build and warm every fast implementation (numba compiles here), then check them.
    runners: dict[str, Callable[[], None]] = {}
    numba_state, numba_flags = fresh()

    def run_numba() -> None:
        _numba_batch(init_state, init_flags, code, offsets, numba_state, numba_flags)

    compile_start = time.perf_counter()
    run_numba()
    compile_seconds = time.perf_counter() - compile_start
    runners["numba"] = run_numba

    c_state, c_flags = fresh()
    c_fn = build_c(workdir)
    if c_fn is None:
        notes.append("gcc not found: the C row was skipped.")
    else:

        def run_c() -> None:
            c_fn(init_state, init_flags, rows, cols, code, offsets, count, c_state, c_flags)

        run_c()
        np.testing.assert_array_equal(c_state, numba_state, err_msg="C != numba (state)")
        np.testing.assert_array_equal(c_flags, numba_flags, err_msg="C != numba (flags)")
        runners["C (gcc -O2)"] = run_c

    np_state, np_flags = fresh()

    def run_numpy() -> None:
        for p in range(count):
            numpy_run(init_columns, init_flags, program_tuples[p], np_state[p], np_flags[p])

    run_numpy()
    np.testing.assert_array_equal(np_state, numba_state, err_msg="numpy != numba (state)")
    np.testing.assert_array_equal(np_flags, numba_flags, err_msg="numpy != numba (flags)")
    runners["numpy"] = run_numpy

    # Round-robin: each round times every implementation once, so a noisy spell on a shared
    # machine hits all of them alike; keep each one's best round.
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(fast_repeats):
        for name, fn in runners.items():
            best[name] = min(best[name], best_time(fn, 1))
    for name, seconds in best.items():
        results.append(Result(name, count, total_instructions * rows, seconds, fast_repeats))

    # reference: check every program once (untimed), time a subset.
    for p, program in enumerate(program_objects):
        got = np.array(reference_run(program, init_rows), dtype=np.int32)
        np.testing.assert_array_equal(got, numba_state[p], err_msg=f"reference != numba, #{p}")
    subset = program_objects[:reference_count]
    seconds = best_time(
        lambda: [reference_run(program, init_rows) for program in subset], reference_repeats
    )
    subset_instructions = int(offsets[reference_count])
    results.append(
        Result("reference", reference_count, subset_instructions * rows, seconds, reference_repeats)
    )
    notes.append(
        f"All {count} programs give identical final states under every implementation "
        "(flags compared for numba, C and numpy; reference_run returns no flags)."
    )
    notes.append(
        f"The reference is timed on the first {reference_count} programs; every program is "
        "checked against it once, untimed. Its rows are passed as a pre-built list of lists."
    )
    notes.append(
        "numba and C each run the whole batch in one call (an @njit loop calling run_program "
        "per program, and run_batch); numpy is a Python loop over programs and instructions."
    )
    notes.append(f"numba warm-up call (compile or cache load): {compile_seconds:.2f} s.")

    by_name = {r.name.split()[0]: r for r in results}
    ratios: list[tuple[str, float | None]] = [
        ("numba / reference", by_name["numba"].throughput / by_name["reference"].throughput),
        ("numba / numpy", by_name["numba"].throughput / by_name["numpy"].throughput),
        (
            "C / numba",
            by_name["C"].throughput / by_name["numba"].throughput if "C" in by_name else None,
        ),
    ]

    histogram = np.bincount(code[:, 0], minlength=len(Op))
    mix = ", ".join(f"{op.mnemonic} {histogram[int(op)] / len(code):.0%}" for op in Op)
    workload = {
        "task": f"sort{N}, layout n={N}, registers={REGISTERS}, ISA full",
        "programs": f"{count} random legal programs (seed {args.seed})",
        "length": f"{args.length} instructions ({N} loads + {args.length - N} random)",
        "rows": f"{rows} tie-pattern rows x {cols} locations",
        "instructions x rows per batch": f"{total_instructions * rows:,}",
        "opcode mix": mix,
        "mode": "quick" if args.quick else "full",
    }
    info = machine_info()
    elapsed = time.perf_counter() - start_all
    notes.append(f"Total script time (before writing this file): {elapsed:.1f} s.")
    write_atomic(args.out, render_markdown(info, workload, results, ratios, notes))

    print(f"machine: {info['CPU']} ({info['cores']}), {info['OS']}")
    print(
        f"python {info['Python']}, numpy {info['numpy']}, numba {info['numba']}, gcc {info['gcc']}"
    )
    print(
        f"workload: {count} programs x {args.length} instructions x {rows} rows "
        f"= {total_instructions * rows:,} instr·rows per batch"
    )
    print()
    print(f"{'implementation':<14} {'programs':>8} {'best s':>10} {'instr·rows/s':>14}")
    for r in results:
        print(f"{r.name:<14} {r.programs:>8} {r.seconds:>10.5f} {r.throughput:>14.4g}")
    print()
    for name, value in ratios:
        print(f"{name}: {'n/a' if value is None else f'{value:.2f}x'}")
    for note in notes:
        if note.startswith("gcc"):
            print(note)
    print(f"wrote {args.out} in {elapsed:.1f} s")
    print(f"numba/reference speedup: {ratios[0][1]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
