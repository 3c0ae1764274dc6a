"""Native timing of exported kernels with gcc: the ground truth of "fast".

:func:`time_kernels` writes one C harness holding every kernel (exported with
:func:`alphadev.export.to_c`, in the lowering asked for) inlined into two timing loops of its
own, compiles it with gcc, checks every kernel against ``qsort`` on random arrays (uniform
int32, values from {0..3}, INT32_MIN/INT32_MAX), and times both modes:

* **throughput**: one pass sorts ``count`` separate arrays of n int32 values in place (half
  uniform int32, half from {0..3}), so many calls are in flight at once;
* **latency**: ``count`` calls on one array, each sorting what the previous call wrote; between
  two calls one value (at a random position, from a table) is replaced by XOR with a random
  word, so the input stays random and each call's loads wait for the previous call's stores.

Every figure is ns per call: the mean over the middle half of ``repeats`` timed passes, after
0.2 s of warm-up, the kernels taking turns within each repeat (each repeat starting with
another kernel, so drift and order hit all alike); each kernel is forced inline into its two
timing loops. Ratios are only meaningful
between kernels timed in the same call. Returns nothing (and says why) where gcc is missing.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alphadev.export import to_c
from alphadev.isa import Program

__all__ = [
    "NativeError",
    "NativeTiming",
    "TimedKernel",
    "cpu_name",
    "gcc",
    "machine_name",
    "run_harness",
    "time_kernels",
]

#: Arrays per timed pass (both modes).
COUNT = 1 << 16


@dataclass(frozen=True)
class TimedKernel:
    """A kernel to time: ``label`` names it in the results; ``lowering`` is ``"gpr"`` or
    ``"sse"`` (see :mod:`alphadev.export`)."""

    label: str
    program: Program
    lowering: str = "gpr"


@dataclass(frozen=True)
class NativeTiming:
    """ns per call of one kernel, in each mode, from one harness run."""

    label: str
    throughput_ns: float
    latency_ns: float

    def of(self, mode: str) -> float:
        return self.throughput_ns if mode == "throughput" else self.latency_ns


def gcc() -> str | None:
    """The gcc on PATH, or None."""
    return shutil.which("gcc")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where readable)."""
    cpu = platform.processor() or platform.machine() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine_name() -> str:
    """CPU model name and the gcc version."""
    cpu = cpu_name()
    version = ""
    if gcc() is not None:
        out = subprocess.run([gcc(), "-dumpfullversion"], capture_output=True, text=True)
        version = f", gcc {out.stdout.strip()}"
    return f"{cpu}{version}"


_MAIN = r"""
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 16);
}
static int32_t value(size_t i) {
    uint32_t r = next_u32();
    if ((i & 15u) == 3u) return (r & 1u) ? INT32_MIN : INT32_MAX;
    return (i & 1u) ? (int32_t)(r & 3u) : (int32_t)r;
}
static int cmp_i32(const void *p, const void *q) {
    int32_t x = *(const int32_t *)p, y = *(const int32_t *)q; return (x > y) - (x < y);
}
static int cmp_f64(const void *p, const void *q) {
    double x = *(const double *)p, y = *(const double *)q; return (x > y) - (x < y);
}
static double now_ns(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec;
}
static double middle_mean(double *s, int k) {
    qsort(s, k, sizeof(double), cmp_f64);
    int lo = k / 4, hi = k - k / 4; double sum = 0;
    for (int i = lo; i < hi; i++) sum += s[i];
    return sum / (hi - lo);
}
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    size_t checks = strtoul(argv[1], 0, 10);
    int repeats = atoi(argv[2]);
    size_t count = strtoul(argv[3], 0, 10);
    size_t total = sizeof(ENTRIES) / sizeof(ENTRIES[0]);
    for (size_t k = 0; k < total; k++) {
        int n = ENTRIES[k].n; int32_t x[8], y[8];
        for (size_t i = 0; i < checks; i++) {
            for (int j = 0; j < n; j++) x[j] = value(i * 7 + j);
            memcpy(y, x, sizeof(int32_t) * n);
            ENTRIES[k].fn(x); qsort(y, n, sizeof(int32_t), cmp_i32);
            if (memcmp(x, y, sizeof(int32_t) * n) != 0) { printf("WRONG %zu\n", k); return 1; }
        }
    }
    int32_t *pristine = malloc(sizeof(int32_t) * 8 * count);
    int32_t *work = malloc(sizeof(int32_t) * 8 * count);
    uint32_t *noise = malloc(sizeof(uint32_t) * 1024);
    uint8_t *where = malloc(1024);
    double *tput = malloc(sizeof(double) * repeats * total);
    double *lat = malloc(sizeof(double) * repeats * total);
    for (size_t i = 0; i < 8 * count; i++) pristine[i] = value(i);
    for (int i = 0; i < 1024; i++) { noise[i] = next_u32(); where[i] = (uint8_t)next_u32(); }
    double warm = now_ns();  /* warm up (clock, caches, predictors): 0.2 s of every kernel */
    while (now_ns() - warm < 2e8)
        for (size_t k = 0; k < total; k++) {
            memcpy(work, pristine, sizeof(int32_t) * ENTRIES[k].n * count);
            ENTRIES[k].pass(work, count);
            ENTRIES[k].chain(work, count, noise, where);
        }
    for (int r = 0; r < repeats; r++) {
        for (size_t j = 0; j < total; j++) {
            size_t k = (j + (size_t)r) % total;  /* each repeat starts with another kernel */
            int n = ENTRIES[k].n;
            memcpy(work, pristine, sizeof(int32_t) * n * count);
            double t0 = now_ns();
            ENTRIES[k].pass(work, count);
            double t1 = now_ns();
            ENTRIES[k].chain(work, count, noise, where);
            double t2 = now_ns();
            tput[k * repeats + r] = (t1 - t0) / count;
            lat[k * repeats + r] = (t2 - t1) / count;
        }
    }
    for (size_t k = 0; k < total; k++)
        printf("RESULT %zu %.5f %.5f\n", k, middle_mean(tput + k * repeats, repeats),
               middle_mean(lat + k * repeats, repeats));
    return 0;
}
"""


def harness(kernels: list[TimedKernel]) -> str:
    """The C source timing ``kernels`` (functions ``k0, k1, ...`` in this order)."""
    parts = [
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>",
        "#include <time.h>",
    ]
    entries = []
    for index, kernel in enumerate(kernels):
        name = f"k{index}"
        n = kernel.program.layout.n
        extra = {} if kernel.lowering == "gpr" else {"lowering": kernel.lowering}
        source = to_c(kernel.program, name, **extra)
        # always_inline: a plain inline is a hint gcc drops for long kernels or large files,
        # and a call would add its own cost to the figure.
        inline = "static inline __attribute__((always_inline)) void"
        parts.append(source.replace(f"void {name}(", f"{inline} {name}("))
        parts.append(
            f"__attribute__((noinline, aligned(64))) static void pass_{name}(int32_t *w, "
            f"size_t count) {{ for (size_t i = 0; i < count; i++) {name}(w + i * {n}); }}\n"
            f"__attribute__((noinline, aligned(64))) static void chain_{name}(int32_t *a, "
            "size_t count, const uint32_t *noise, const uint8_t *where) {\n"
            f"    for (size_t i = 0; i < count; i++) {{ {name}(a); "
            f"a[where[i & 1023] % {n}] ^= (int32_t)noise[i & 1023]; }}\n}}"
        )
        entries.append(f"    {{{n}, {name}, pass_{name}, chain_{name}}}")
    parts.append(
        "static const struct { int n; void (*fn)(int32_t *); void (*pass)(int32_t *, size_t); "
        "void (*chain)(int32_t *, size_t, const uint32_t *, const uint8_t *); } ENTRIES[] = {\n"
        + ",\n".join(entries)
        + "\n};"
    )
    parts.append(_MAIN)
    return "\n".join(parts)


class NativeError(RuntimeError):
    """The harness did not compile, or a kernel sorted wrongly natively."""


def run_harness(
    source: str,
    *,
    opt: str = "-O2",
    repeats: int = 15,
    checks: int = 20_000,
    count: int = COUNT,
    timeout: float = 600.0,
) -> list[tuple[float, float]]:
    """Compile a harness ``source`` (:func:`harness`, perhaps with more entries) with gcc
    ``opt`` and run it: ``(throughput ns, latency ns)`` per entry, in table order. Raises
    :class:`NativeError` when gcc is missing, the source does not compile, an entry sorts
    wrongly (``.entry`` names its index) or an entry is not reported."""
    compiler = gcc()
    if compiler is None:
        raise NativeError("gcc is not installed")
    with tempfile.TemporaryDirectory(prefix="alphadev-native-") as tmp:
        c_file = Path(tmp) / "harness.c"
        exe = Path(tmp) / "harness"
        c_file.write_text(source)
        built = subprocess.run(
            [compiler, opt, "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(c_file)],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if built.returncode != 0:
            raise NativeError(f"gcc {opt} failed: {built.stderr.strip()[:2000]}")
        done = subprocess.run(
            [str(exe), str(checks), str(repeats), str(count)],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    if done.returncode != 0:
        wrong = re.search(r"WRONG (\d+)", done.stdout)
        error = NativeError(
            f"entry {wrong.group(1)} sorts wrongly natively" if wrong
            else f"the harness failed: {done.stdout[-500:]}{done.stderr[-500:]}"
        )  # fmt: skip
        error.entry = int(wrong.group(1)) if wrong else None
        raise error
    found = {
        int(m.group(1)): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"RESULT (\d+) ([\d.]+) ([\d.]+)", done.stdout)
    }
    if sorted(found) != list(range(len(found))):
        raise NativeError("the harness did not report every entry")
    return [found[k] for k in range(len(found))]


def time_kernels(
    kernels: list[TimedKernel],
    *,
    opt: str = "-O2",
    repeats: int = 15,
    checks: int = 20_000,
    count: int = COUNT,
    timeout: float = 600.0,
) -> list[NativeTiming] | None:
    """ns per call of each kernel in both modes, from one gcc-compiled harness (see the module
    docstring); None where gcc is not installed. Raises :class:`NativeError` when the harness
    does not compile or a kernel disagrees with ``qsort``."""
    if gcc() is None:
        return None
    if not kernels:
        return []
    try:
        figures = run_harness(harness(kernels), opt=opt, repeats=repeats, checks=checks,
                              count=count, timeout=timeout)  # fmt: skip
    except NativeError as exc:
        if getattr(exc, "entry", None) is not None:
            raise NativeError(f"{kernels[exc.entry].label} sorts wrongly natively") from None
        raise
    if len(figures) != len(kernels):
        raise NativeError("the harness did not report every kernel")
    return [NativeTiming(k.label, t, lat) for k, (t, lat) in zip(kernels, figures, strict=True)]
