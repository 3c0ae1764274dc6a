"""Benchmark: the catalogue's kernels timed natively, in both modes, beside the lowered
sorting network and C baselines.

For n = 3..8 and the ISAs ``cmov`` and ``minmax`` it times, in one C harness per optimisation
level (gcc -O2, then -O3):

* the catalogue's shortest kernel (``asm/discovered/sort{n}_{isa}_{length}.s``), its fastest
  (``sort{n}_{isa}_fast.s``; where there is none, the shortest stands in and the report says
  so) and the lowered optimal-size sorting network (``exact.assemble(task,
  exact.network_core(task))``, n + 1 registers: the baseline every kernel ratio is against),
  exported with :func:`alphadev.export.to_c`; minmax kernels in both lowerings (``gpr``: cmp +
  cmov; ``sse``: pminsd/pmaxsd), each against the network in the same lowering;
* per n, C written here (the compiler picks the instructions): a plain sorting network
  (compare-exchange with ternaries, the comparators of :func:`alphadev.exact.sorting_network`),
  a branchless sort in the style of libc++'s sort3/4/5 (conditional swaps and "sorted
  inserts" of three; for n >= 6 the network with conditional swaps), insertion sort, ``qsort``.

The harness is :func:`alphadev.native.harness` (every kernel inlined into its own aligned
throughput loop and latency chain, checked against ``qsort`` first, one warm-up repeat, the
kernels taking turns, mean over the middle half of the repeats) with the C baselines added to
its table. Throughput: ns per call over 65,536 separate arrays; latency: ns per call when each
call sorts the previous call's output (one value XORed in between).

Beside every exported kernel the report gives the cost model's predicted cycles
(:func:`alphadev.cost.predict`), llvm-mca's (``-mcpu=znver3``) where installed, and the measured
ns in cycles (the clock measured in the same run). Writes ``benchmarks/results/native.md``
(``--quick``: fewer repeats, n = 3..5, under ``results/quick/``). Last line::

    fastest vs network: geomean throughput X, latency Y; worst Z (LABEL)

(-O2; the geometric means over every (n, ISA) with a catalogue kernel of the fastest kernel's ns
over the network's; for minmax in the lowering where the fastest kernel is faster.)

    python benchmarks/native.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

from common import check_output, publish_report, report_path
from kernel_timing import clock_ghz, mca_predictions, mca_version, not_inlined

from alphadev import asm, exact, native
from alphadev.catalogue import CATALOGUE, fast_file, shortest_file
from alphadev.cost import lower, predict
from alphadev.isa import Program
from alphadev.native import COUNT, TimedKernel, gcc, harness, machine_name
from alphadev.tasks import SortTask

ISAS = ("cmov", "minmax")
LOWERINGS = {"cmov": ("gpr",), "minmax": ("gpr", "sse")}
MODES = ("throughput", "latency")
OPTS = ("-O2", "-O3")
#: Timed passes per function and mode (full run, --quick).
REPEATS, QUICK_REPEATS = 151, 15

#: C baselines, per n: (function prefix, label).
C_BASELINES = (
    ("c_network", "plain C sorting network"),
    ("libcxx", "libc++-style branchless C"),
    ("insertion", "insertion sort"),
    ("qsort", "qsort"),
)

_C_COMMON = r"""
/* ---- C baselines of benchmarks/native.py (the compiler picks the instructions) ---- */
#define CE(x, y) do { int32_t lo_ = a[x] < a[y] ? a[x] : a[y]; \
                      int32_t hi_ = a[x] < a[y] ? a[y] : a[x]; a[x] = lo_; a[y] = hi_; } while (0)
/* libc++-style: a conditional swap leaves min in *x, max in *y, without a branch. */
static inline void cond_swap(int32_t *x, int32_t *y) {
    int r = *x < *y; int32_t tmp = r ? *x : *y; *y = r ? *y : *x; *x = tmp;
}
/* Sorts *x, *y, *z given *y <= *z: the larger of x and z is the largest of the three, the
   smaller is ordered against y (two conditional moves each, no branch). */
static inline void sorted_insert3(int32_t *x, int32_t *y, int32_t *z) {
    int r = *z < *x; int32_t lo = r ? *z : *x; *z = r ? *x : *z;
    r = lo < *y; int32_t first = r ? lo : *y; *y = r ? *y : lo; *x = first;
}
static inline void libcxx_3(int32_t *a) {
    cond_swap(a + 1, a + 2); sorted_insert3(a, a + 1, a + 2);
}
static inline void libcxx_4(int32_t *a) {
    cond_swap(a, a + 1); cond_swap(a + 2, a + 3); cond_swap(a, a + 2); cond_swap(a + 1, a + 3);
    cond_swap(a + 1, a + 2);
}
static inline void libcxx_5(int32_t *a) {
    cond_swap(a, a + 1); cond_swap(a + 3, a + 4); sorted_insert3(a + 2, a + 3, a + 4);
    cond_swap(a + 1, a + 4); sorted_insert3(a, a + 2, a + 3); sorted_insert3(a + 1, a + 2, a + 3);
}
#define INSERTION(N) static inline void insertion_##N(int32_t *a) { \
    for (int i = 1; i < N; i++) { int32_t v = a[i]; int j = i - 1; \
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; } }
static int c_by_value(const void *p, const void *q) {
    int32_t x = *(const int32_t *)p, y = *(const int32_t *)q; return (x > y) - (x < y);
}
#define QSORT(N) static inline void qsort_##N(int32_t *a) { \
    qsort(a, N, sizeof(int32_t), c_by_value); }
/* The two timing loops of alphadev.native's harness, for a C function F of N values. */
#define TIMED(F, N) \
    __attribute__((noinline, aligned(64))) static void pass_##F(int32_t *w, size_t count) { \
        for (size_t i = 0; i < count; i++) F(w + i * N); } \
    __attribute__((noinline, aligned(64))) static void chain_##F(int32_t *a, size_t count, \
            const uint32_t *noise, const uint8_t *where) { \
        for (size_t i = 0; i < count; i++) { \
            F(a); a[where[i & 1023] % N] ^= (int32_t)noise[i & 1023]; } }
"""


def c_baselines(ns: list[int]) -> tuple[str, list[str]]:
    """C source of the baselines for sizes ``ns`` (after ``_C_COMMON``) and their entries for
    the harness table (``{n, fn, pass, chain}``), in the order of :data:`C_BASELINES`."""
    parts, entries = [_C_COMMON], []
    for n in ns:
        network = exact.sorting_network(n)
        ces = " ".join(f"CE({i}, {j});" for i, j in network)
        parts.append(f"static inline void c_network_{n}(int32_t *a) {{ {ces} }}")
        if n > 5:
            swaps = " ".join(f"cond_swap(a + {i}, a + {j});" for i, j in network)
            parts.append(f"static inline void libcxx_{n}(int32_t *a) {{ {swaps} }}")
        parts.append(f"INSERTION({n}) QSORT({n})")
        for prefix, _ in C_BASELINES:
            parts.append(f"TIMED({prefix}_{n}, {n})")
            entries.append(f"    {{{n}, {prefix}_{n}, pass_{prefix}_{n}, chain_{prefix}_{n}}}")
    return "\n".join(parts), entries


def full_harness(kernels: list[TimedKernel], ns: list[int]) -> str:
    """:func:`alphadev.native.harness` for ``kernels`` with the C baselines of ``ns`` added at
    the end of its table (results ``len(kernels)`` onwards, in :func:`c_baselines`' order)."""
    source = harness(kernels)
    table = source.find("} ENTRIES[] = {\n")
    struct = source.rfind("static const struct", 0, table)
    end = source.find("\n};", table)
    if min(table, struct, end) < 0:
        raise RuntimeError("alphadev.native.harness changed shape: cannot add the C baselines")
    code, entries = c_baselines(ns)
    return (
        source[:struct]
        + code
        + "\n"
        + source[struct:end]
        + ",\n"
        + ",\n".join(entries)
        + source[end:]
    )


def run_harness(source: str, opt: str, checks: int, repeats: int) -> list[tuple[float, float]]:
    """Compile ``source`` with gcc ``opt``, run it: (throughput ns, latency ns) per entry
    (:func:`alphadev.native.run_harness`; the benchmark stops on its error)."""
    try:
        return native.run_harness(source, opt=opt, checks=checks, repeats=repeats, count=COUNT)
    except native.NativeError as exc:
        sys.exit(f"the harness ({opt}): {exc}")


@dataclass
class Row:
    """One timed function. ``program`` is None for the C baselines (``isa`` "C")."""

    n: int
    isa: str
    role: str  # shortest, fastest, both, network, or a C_BASELINES prefix
    label: str
    lowering: str = "-"
    program: Program | None = None

    @property
    def key(self) -> str:
        return f"sort{self.n} {self.isa} {self.role} {self.lowering}"


def catalogue_rows(n: int, notes: list[str]) -> list[Row]:
    """The exported kernels of sort``n``: per ISA the shortest, the fastest and the network,
    minmax ones in both lowerings."""
    rows = []
    for isa in ISAS:
        task = SortTask(n, n + 1, isa)
        network = exact.assemble(task, exact.network_core(task))
        short = shortest_file(CATALOGUE, n, isa)
        fast = fast_file(CATALOGUE, n, isa)
        kernels: list[tuple[str, str, Program]] = []
        if short is None:
            notes.append(f"sort{n} {isa}: no catalogue kernel (only the network is timed)")
        elif not fast.is_file():
            notes.append(f"sort{n} {isa}: no `{fast.name}`; the shortest stands in as fastest")
            kernels.append(
                ("both", f"shortest, no _fast.s ({short.name})", asm.parse_file(short).program)
            )
        else:
            short_program = asm.parse_file(short).program
            fast_program = asm.parse_file(fast).program
            if fast_program == short_program:
                kernels.append(("both", f"shortest = fastest ({short.name})", short_program))
            else:
                kernels.append(("shortest", f"shortest ({short.name})", short_program))
                kernels.append(("fastest", f"fastest ({fast.name})", fast_program))
        kernels = [
            (role, f"{label} = network" if program == network else label, program)
            for role, label, program in kernels
        ]
        comparators = len(exact.sorting_network(n))
        kernels.append(("network", f"lowered network ({comparators} comparators)", network))
        for role, label, program in kernels:
            for lowering in LOWERINGS[isa]:
                rows.append(Row(n, isa, role, label, lowering, program))
    return rows


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 3..5, 15 repeats")
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"timed passes per function (default: {REPEATS} full, {QUICK_REPEATS} quick)",
    )
    args = parser.parse_args()
    out = check_output(report_path("native.md", args.quick), args.quick, "report")
    if gcc() is None:
        sys.exit("gcc is not installed: no native benchmark")
    ns = [3, 4, 5] if args.quick else [3, 4, 5, 6, 7, 8]
    checks, repeats = (20_000, QUICK_REPEATS) if args.quick else (200_000, REPEATS)
    repeats = args.repeats or repeats
    started = time.perf_counter()

    notes: list[str] = []
    rows = [row for n in ns for row in catalogue_rows(n, notes)]
    exported = list(rows)
    rows += [Row(n, "C", prefix, label) for n in ns for prefix, label in C_BASELINES]
    kernels = [TimedKernel(row.key, row.program, row.lowering) for row in exported]
    source = full_harness(kernels, ns)
    ghz = clock_ghz()
    timed: dict[str, dict[str, tuple[float, float]]] = {}
    for opt in OPTS:
        for row, figures in zip(rows, run_harness(source, opt, checks, repeats), strict=True):
            timed.setdefault(row.key, {})[opt] = figures
        called = not_inlined(source, opt)
        names = [f"k{i}" for i in range(len(exported))]
        names += [f"{prefix}_{n}" for n in ns for prefix, _ in C_BASELINES]
        called_rows = [row for row, name in zip(rows, names, strict=True) if name in called]
        if called_rows:
            notes.append(
                f"gcc {opt} did not inline {len(called_rows)} of the {len(rows)} functions into "
                "their timing loops (`inline` is a hint; their figures include a call): "
                + ", ".join(f"sort{r.n} {r.isa} {r.role} {r.lowering}" for r in called_rows)
            )
        print(
            f"{opt}: {len(rows)} functions checked against qsort on {checks:,} arrays and "
            f"timed ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    model = {row.key: predict(row.program, row.lowering) for row in exported}
    mca = mca_predictions([(row.program, row.lowering) for row in exported])
    mca_of = {row.key: figures for row, figures in zip(exported, mca or [], strict=False)}
    instructions = {row.key: len(lower(row.program, row.lowering)) for row in exported}

    def ns_of(row: Row, opt: str, mode: str) -> float:
        return timed[row.key][opt][MODES.index(mode)]

    def network_of(row: Row) -> Row:
        isa, lowering = (row.isa, row.lowering) if row.program is not None else ("cmov", "gpr")
        return next(
            r
            for r in exported
            if (r.n, r.isa, r.role, r.lowering) == (row.n, isa, "network", lowering)
        )

    def ratio(row: Row, opt: str, mode: str) -> float:
        return ns_of(row, opt, mode) / ns_of(network_of(row), opt, mode)

    # Timing table.
    timing_lines = []
    for row in rows:
        cells = [
            f"{ns_of(row, opt, mode):.2f} | {ratio(row, opt, mode):.3f}"
            for opt in OPTS
            for mode in MODES
        ]
        isa = row.isa if row.program is not None else "C"
        count = instructions.get(row.key, "-")
        timing_lines.append(
            f"| sort{row.n} | {isa} | {row.label} | {row.lowering} | {count} | "
            + " | ".join(cells)
            + " |"
        )

    # Cycles table: model, llvm-mca, measured (-O2 ns x measured clock).
    def cyc(value: float) -> str:
        return f"{value * ghz:.1f}" if ghz else "-"

    cycle_lines = []
    for row in exported:
        p = model[row.key]
        m = mca_of.get(row.key)
        mca_t, mca_1 = (f"{m[0]:.2f}", str(m[1])) if m else ("-", "-")
        cycle_lines.append(
            f"| sort{row.n} | {row.isa} | {row.label} | {row.lowering} | {instructions[row.key]}"
            f" | {p.throughput:.2f} | {mca_t} | {cyc(ns_of(row, '-O2', 'throughput'))}"
            f" | {p.latency:.2f} | {mca_1} | {cyc(ns_of(row, '-O2', 'latency'))} |"
        )

    # Fastest vs network (-O2), per (n, ISA) with a catalogue kernel.
    ratios: dict[str, list[tuple[float, str]]] = {mode: [] for mode in MODES}
    fastest_lines = []
    best_fast: dict[tuple[int, str, str], tuple[float, str]] = {}  # (n, opt, mode) -> ns, what
    for n in ns:
        for isa in ISAS:
            fast_rows = [
                r for r in exported if (r.n, r.isa) == (n, isa) and r.role in ("fastest", "both")
            ]
            if not fast_rows:
                continue
            cells = []
            for mode in MODES:
                pick = min(fast_rows, key=lambda r: ns_of(r, "-O2", mode))
                value = ratio(pick, "-O2", mode)
                ratios[mode].append((value, f"sort{n} {isa} {mode}"))
                m = mca_of.get(pick.key)
                bound = instructions[pick.key] / 6  # dispatch width
                if mode == "latency" and m is not None:
                    bound = max(bound, m[1])  # one call's chain on an idle core
                cells.append(
                    f"{pick.lowering} | {ns_of(pick, '-O2', mode):.2f} | {value:.3f} | "
                    f"{getattr(model[pick.key], mode):.2f} | "
                    f"{cyc(ns_of(pick, '-O2', mode))} | {bound:.1f}"
                )
            fastest_lines.append(
                f"| sort{n} | {isa} | {fast_rows[0].label} | " + " | ".join(cells) + " |"
            )
    for n in ns:
        for opt in OPTS:
            for mode in MODES:
                pool = [r for r in exported if r.n == n and r.role in ("fastest", "both")]
                what = "fastest kernel"
                if not pool:
                    pool, what = [r for r in exported if r.n == n], "network (no catalogue kernel)"
                pick = min(pool, key=lambda r: ns_of(r, opt, mode))
                best_fast[(n, opt, mode)] = (
                    ns_of(pick, opt, mode),
                    f"{what}: {pick.isa} {pick.lowering}",
                )

    libcxx_lines, check_cells = [], []
    for n in ns:
        c_row = next(r for r in rows if (r.n, r.role) == (n, "libcxx"))
        cells, short = [], []
        for opt in OPTS:
            pair = []
            for mode in MODES:
                kernel_ns, what = best_fast[(n, opt, mode)]
                value = kernel_ns / ns_of(c_row, opt, mode)
                cells.append(
                    f"{kernel_ns:.2f} ({what}) | {ns_of(c_row, opt, mode):.2f} | {value:.3f}"
                )
                pair.append(f"{value:.2f}")
            short.append(f"{opt} {'/'.join(pair)}")
        libcxx_lines.append(f"| sort{n} | " + " | ".join(cells) + " |")
        check_cells.append(f"sort{n} {' '.join(short)}")
    check_line = (
        "fastest kernels vs libc++-style branchless C (ns ratio throughput/latency, "
        "below 1 faster): " + "; ".join(check_cells)
    )

    summary = {mode: geomean([v for v, _ in ratios[mode]]) for mode in MODES}
    worst, worst_label = max(ratios["throughput"] + ratios["latency"])
    last_line = (
        f"fastest vs network: geomean throughput {summary['throughput']:.3f}, "
        f"latency {summary['latency']:.3f}; worst {worst:.3f} ({worst_label})"
    )
    elapsed = time.perf_counter() - started
    mca_text = f"llvm-mca {mca_version()}" if mca is not None else "llvm-mca not installed"
    clock_text = f"{ghz:.2f} GHz" if ghz else "not measured"

    report = [
        "# Native timing: the catalogue's kernels in both modes",
        "",
        f"`python benchmarks/native.py{' --quick' if args.quick else ''}` on {machine_name()}; "
        f"{elapsed:.0f} s. One C harness (`alphadev.native.harness` plus the C baselines of "
        "this script), compiled with gcc -O2 and with -O3; every function was first checked "
        f"against `qsort` on {checks:,} random arrays (uniform int32, values from {{0..3}}, "
        f"INT32_MIN/MAX). Figures: ns per call, the mean over the middle half of {repeats} "
        "repeats after one warm-up, the functions taking turns. **Throughput**: one pass over "
        f"{COUNT:,} separate arrays; **latency**: {COUNT:,} calls each sorting the previous "
        "call's output (one value XORed in between). Ratio: against the lowered optimal-size "
        "sorting network of the same n, ISA and lowering (C rows: against the cmov network); "
        "below 1 is faster. Lowering `gpr`: cmp + cmov on general registers (min/max as cmp + "
        "cmov); `sse`: pminsd/pmaxsd on xmm registers.",
        "",
        *(f"- {note}" for note in notes),
        *([""] if notes else []),
        "## Fastest kernel against the network (-O2)",
        "",
        "Per mode, minmax kernels in the lowering where the fastest kernel was faster (against "
        "the network in that lowering). Cycles: measured ns times the core clock measured in "
        f"the same run ({clock_text}: a chain of dependent one-cycle adds). Bounds, in cycles "
        "per call: throughput, x86 instructions / 6 (Zen 3 dispatches 6 a cycle); latency, the "
        f"physical bound max(x86 instructions / 6, llvm-mca's one-call cycles) ({mca_text}: the "
        "chain of one call on an idle core). That floor is for an isolated call: chained calls "
        "overlap a little (a call starts on the slots the previous one stored first), so the "
        "measured latency, XOR step included, can fall below it.",
        "",
        "| n | ISA | kernel | throughput: lowering | ns | ratio | model cycles | measured "
        "cycles | instructions / 6 | latency: lowering | ns | ratio | model cycles | measured "
        "cycles | physical bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *fastest_lines,
        "",
        f"Geometric mean over these (n, ISA): throughput {summary['throughput']:.3f}, latency "
        f"{summary['latency']:.3f}; worst {worst:.3f} ({worst_label}).",
        "",
        "## Fastest kernels against libc++-style branchless C",
        "",
        "The fastest catalogue kernel of each n (the faster ISA and lowering in that mode and "
        "optimisation level) over the libc++-style C sort (conditional swaps and sorted "
        "inserts of three for n <= 5, the network with conditional swaps above).",
        "",
        "| n | -O2 throughput: kernel ns | C ns | ratio | -O2 latency: kernel ns | C ns | ratio "
        "| -O3 throughput: kernel ns | C ns | ratio | -O3 latency: kernel ns | C ns | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *libcxx_lines,
        "",
        "## Every function",
        "",
        "| n | ISA | function | lowering | x86 instructions | -O2 throughput ns | ratio | "
        "-O2 latency ns | ratio | -O3 throughput ns | ratio | -O3 latency ns | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *timing_lines,
        "",
        "## Predicted and measured cycles (-O2)",
        "",
        f"Model: `alphadev.cost.predict` (Zen 3). llvm-mca: `-mcpu=znver3` on the instruction "
        f"lines of `to_gas` ({mca_text}); throughput = Total Cycles / 100 at -iterations=100, "
        "one call = Total Cycles at -iterations=1. Measured: ns times the measured clock.",
        "",
        "| n | ISA | kernel | lowering | x86 instructions | model throughput | llvm-mca "
        "throughput | measured throughput | model latency | llvm-mca one call | measured "
        "latency |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *cycle_lines,
        "",
        check_line,
        "",
        last_line,
        "",
    ]
    publish_report(out, report)
    print(check_line)
    print(last_line)


if __name__ == "__main__":
    main()
