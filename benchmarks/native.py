"""Benchmark: exported kernels timed natively beside reference sorts.

For n = 3, 4, 5 it builds one C harness (gcc -O2, then -O3) holding, as functions called through
one pointer table so every call costs the same:

* the shortest kernels in ``asm/discovered/`` (cmov and minmax ISAs), exported with
  ``alphadev.export.to_c`` (x86-64 inline assembly);
* the hand-written sorting-network kernels of ``asm/reference/``, exported the same way (the
  baseline every ratio is against: same ISA, same n);
* a plain C sorting network written by hand below (compare-exchange with ternaries; the
  compiler chooses the instructions);
* insertion sort and the C library's ``qsort``.

Each function is inlined into its own timing loop (one 64-byte-aligned function per kernel: no
call overhead, no shared code placement), so the figure is the kernel's throughput.

Before timing, every function's output is checked against ``qsort`` on 10^6 random arrays. The
timed input is 262,144 arrays of n int32 values, half uniform over int32 and half drawn from
{0, 1, 2, 3} (many duplicates); each repeat copies the pristine arrays and then times one pass
that sorts every array in place, the functions taking turns within each repeat. Reports the mean
ns per call over the middle half of the repeats (this VM's clock ticks in steps of about 18 us,
so a plain median quantises) in ``benchmarks/results/native.md``.

    python benchmarks/native.py [--quick]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import publish_report, report_path

from alphadev import asm
from alphadev.export import to_c

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "native.md"

HAND_WRITTEN = r"""
#define CE(x, y) do { int32_t lo_ = a[x] < a[y] ? a[x] : a[y]; \
                      int32_t hi_ = a[x] < a[y] ? a[y] : a[x]; a[x] = lo_; a[y] = hi_; } while (0)
static inline void c_network_3(int32_t *a) { CE(0, 2); CE(0, 1); CE(1, 2); }
static inline void c_network_4(int32_t *a) { CE(0, 1); CE(2, 3); CE(0, 2); CE(1, 3); CE(1, 2); }
static inline void c_network_5(int32_t *a) {
    CE(0, 1); CE(3, 4); CE(2, 4); CE(2, 3); CE(0, 3); CE(0, 2); CE(1, 4); CE(1, 3); CE(1, 2);
}
#define INSERTION(N) static inline void insertion_##N(int32_t *a) { \
    for (int i = 1; i < N; i++) { int32_t v = a[i]; int j = i - 1; \
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; } }
INSERTION(3) INSERTION(4) INSERTION(5)
static int cmp_int32(const void *p, const void *q) {
    int32_t x = *(const int32_t *)p, y = *(const int32_t *)q; return (x > y) - (x < y);
}
#define QSORT(N) static inline void qsort_##N(int32_t *a) { \
    qsort(a, N, sizeof(int32_t), cmp_int32); }
QSORT(3) QSORT(4) QSORT(5)
"""

MAIN = r"""
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static void fill(int32_t *a, size_t count, int n) {
    for (size_t i = 0; i < count; i++)
        for (int j = 0; j < n; j++)
            a[i * n + j] = (i & 1) ? (int32_t)(next_u32() & 3u) : (int32_t)next_u32();
}
static double now_ns(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec;
}
static int by_double(const void *p, const void *q) {
    double x = *(const double *)p, y = *(const double *)q; return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    size_t check = argc > 1 ? strtoul(argv[1], 0, 10) : 1000000;
    int repeats = argc > 2 ? atoi(argv[2]) : 31;
    const size_t count = 262144;
    for (size_t k = 0; k < sizeof(ENTRIES) / sizeof(ENTRIES[0]); k++) {
        int n = ENTRIES[k].n;
        int32_t x[8], y[8];
        for (size_t i = 0; i < check; i++) {
            fill(x, 1, n); if (i & 2) for (int j = 0; j < n; j++) x[j] = (int32_t)next_u32();
            memcpy(y, x, sizeof(int32_t) * n);
            ENTRIES[k].fn(x); qsort(y, n, sizeof(int32_t), cmp_int32);
            if (memcmp(x, y, sizeof(int32_t) * n) != 0) {
                printf("WRONG %s\n", ENTRIES[k].name); return 1;
            }
        }
    }
    const size_t total = sizeof(ENTRIES) / sizeof(ENTRIES[0]);
    double *samples = malloc(sizeof(double) * repeats * total);
    for (int n = 3; n <= 5; n++) {
        int32_t *pristine = malloc(sizeof(int32_t) * n * count);
        int32_t *work = malloc(sizeof(int32_t) * n * count);
        fill(pristine, count, n);
        for (int r = 0; r < repeats; r++) {  /* round robin: drift hits every function alike */
            for (size_t k = 0; k < total; k++) {
                if (ENTRIES[k].n != n) continue;
                memcpy(work, pristine, sizeof(int32_t) * n * count);
                double t0 = now_ns();
                ENTRIES[k].pass(work, count);
                samples[k * repeats + r] = (now_ns() - t0) / count;
            }
        }
        for (size_t k = 0; k < total; k++) {
            if (ENTRIES[k].n != n) continue;
            double *s = samples + k * repeats, sum = 0;
            qsort(s, repeats, sizeof(double), by_double);
            int lo = repeats / 4, hi = repeats - repeats / 4;
            for (int i = lo; i < hi; i++) sum += s[i];
            printf("RESULT %s %d %.4f\n", ENTRIES[k].name, n, sum / (hi - lo));
        }
        free(pristine); free(work);
    }
    return 0;
}
"""


def shortest(folder: Path, n: int, isa: str) -> Path | None:
    files = []
    for path in folder.glob(f"sort{n}_{isa}*.s"):
        listing = asm.parse_file(path)
        files.append((len(listing.program), path.name, path))
    return min(files)[2] if files else None


def kernels() -> list[tuple[str, str, int, Path]]:
    """(function name, label, n, file) for every exported kernel in the harness."""
    out = []
    for n in (3, 4, 5):
        for isa in ("cmov", "minmax"):
            ref = ROOT / "asm" / "reference" / f"sort{n}_{isa}.s"
            out.append((f"ref_{isa}_{n}", f"reference network ({isa})", n, ref))
            found = shortest(ROOT / "asm" / "discovered", n, isa)
            if found is not None:
                out.append((f"found_{isa}_{n}", f"discovered ({isa}) {found.name}", n, found))
    return out


def harness() -> tuple[str, dict[str, tuple[str, int, int]]]:
    parts = ["#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>",
             "#include <time.h>"]  # fmt: skip
    labels: dict[str, tuple[str, int, int]] = {}
    entries = []
    for name, label, n, path in kernels():
        program = asm.parse_file(path).program
        parts.append(to_c(program, name).replace(f"void {name}(", f"static inline void {name}("))
        labels[name] = (label, n, len(program))
        entries.append((name, n))
    parts.append(HAND_WRITTEN)
    for n in (3, 4, 5):
        for name, label in (
            (f"c_network_{n}", "plain C sorting network"),
            (f"insertion_{n}", "insertion sort"),
            (f"qsort_{n}", "qsort"),
        ):
            labels[name] = (label, n, 0)
            entries.append((name, n))
    for name, n in entries:  # one timing loop per function, the function inlined into it
        parts.append(
            f"__attribute__((noinline, aligned(64))) static void pass_{name}(int32_t *w, "
            f"size_t count) {{ for (size_t i = 0; i < count; i++) {name}(w + i * {n}); }}"
        )
    table = ",\n".join(f'    {{"{name}", {n}, {name}, pass_{name}}}' for name, n in entries)
    parts.append(
        "static const struct { const char *name; int n; void (*fn)(int32_t *); "
        "void (*pass)(int32_t *, size_t); } "
        f"ENTRIES[] = {{\n{table}\n}};"
    )
    parts.append(MAIN)
    return "\n".join(parts), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^5 checks, 7 repeats")
    args = parser.parse_args()
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("gcc is not installed: no native benchmark")
    check, repeats = (100_000, 7) if args.quick else (1_000_000, 31)
    source, labels = harness()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "harness.c"
        c_file.write_text(source)
        for opt in ("-O2", "-O3"):
            exe = Path(tmp) / f"harness{opt}"
            subprocess.run([gcc, opt, "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                            str(c_file)], check=True)  # fmt: skip
            done = subprocess.run([str(exe), str(check), str(repeats)], capture_output=True,
                                  text=True, check=False)  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"harness {opt} failed: {done.stdout}{done.stderr}")
            for line in done.stdout.splitlines():
                m = re.match(r"RESULT (\S+) (\d) ([\d.]+)", line)
                if m:
                    results.setdefault(m.group(1), {})[opt] = float(m.group(3))
            print(
                f"{opt}: checked every function against qsort on {check:,} arrays; timed",
                flush=True,
            )

    lines = []
    for n in (3, 4, 5):
        for name, (label, size, length) in labels.items():
            if size != n:
                continue
            isa = "minmax" if "minmax" in label else "cmov"
            ref = results[f"ref_{isa}_{n}"]
            cells = []
            for opt in ("-O2", "-O3"):
                ns = results[name][opt]
                cells.append(f"{ns:.2f} | {ns / ref[opt]:.3f}")
            lines.append(f"| sort{n} | {label} | {length or '-'} | {' | '.join(cells)} |")
    report = [
        "# Native timing of exported kernels",
        "",
        f"`python benchmarks/native.py{' --quick' if args.quick else ''}`: one C harness per "
        f"optimisation level; every function was first checked against `qsort` on {check:,} "
        "random arrays (half with many duplicates). Mean over the middle half of "
        f"{repeats} repeats (functions taking turns) of the ns per call over 262,144 arrays "
        "(half uniform int32, half from {0..3}), each function inlined into its own aligned "
        "timing loop. Ratio: "
        "against the reference network kernel of the same ISA and n (`asm/reference/`, "
        "exported the same way); below 1 is faster.",
        "",
        "| n | function | instructions | -O2 ns/call | ratio | -O3 ns/call | ratio |",
        "|---|---|---|---|---|---|---|",
        *lines,
        "",
    ]
    publish_report(report_path("native.md", args.quick), report)


if __name__ == "__main__":
    main()
