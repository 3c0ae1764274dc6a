"""Benchmark: is there a sort5 below 42 within the comparator engine's reach? (not a proof)

The comparator search (:func:`alphadev.exact.comparators.comparator_search`) found the
catalogue's sort5 cmov 42 (core 32) at its default beam width of 200. This script runs it on
sort5 cmov at wider beams, with one spare comparator (networks of 10 comparators instead of 9)
and with lowering slack 1 (each comparator's lowerings one instruction longer than its
shortest kept too), and reports the shortest verified kernel of each run, its states and
seconds. A beam keeps the best ``width`` nodes per level, so no width here is exhaustive: the
report bounds what this engine finds, not what exists.

Writes ``benchmarks/results/sort5_width.md`` (``--quick``: widths 200 and 400 only, under
``results/quick/``). Last line::

    sort5 cmov comparator beam: shortest L up to width W (S runs, not a proof)

    python benchmarks/sort5_width.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import time

from common import check_output, publish_report, report_path

from alphadev.exact.comparators import comparator_search
from alphadev.tasks import SortTask

#: (width, spare comparators, lowering slack) of the full run.
RUNS = ((200, 0, 0), (800, 0, 0), (3200, 0, 0), (12800, 0, 0), (800, 1, 0), (3200, 0, 1))
QUICK_RUNS = ((200, 0, 0), (400, 0, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="widths 200 and 400 only")
    parser.add_argument("--out", help="report (default results/sort5_width.md)")
    args = parser.parse_args()
    out = check_output(args.out or report_path("sort5_width.md", args.quick), args.quick)
    task = SortTask(5, isa="cmov")
    comparator_search(SortTask(3, isa="cmov"))  # warm-up: compile the kernels
    rows = []
    for width, spare, slack in QUICK_RUNS if args.quick else RUNS:
        t0 = time.perf_counter()
        found = comparator_search(task, width=width, extra_comparators=spare,
                                  lowering_slack=slack)  # fmt: skip
        seconds = time.perf_counter() - t0
        length = None if found.core is None else len(found.core) + 2 * task.n
        rows.append((width, spare, slack, length, found.nodes, seconds))
        print(f"width {width}, spare {spare}, slack {slack}: {length} "
              f"({found.nodes:,} states, {seconds:.1f} s)", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = min(r[3] for r in rows if r[3] is not None)
    summary = (f"sort5 cmov comparator beam: shortest {best} up to width "
               f"{max(r[0] for r in rows)} ({len(rows)} runs, not a proof)")  # fmt: skip
    table = [f"| {w} | {e} | {s} | {length} | {nodes:,} | {sec:.1f} |"
             for w, e, s, length, nodes, sec in rows]  # fmt: skip
    lines = [
        "# sort5 cmov: the comparator beam at wider widths (not a proof)",
        "",
        "Each run: `comparator_search(SortTask(5, isa='cmov'), width=W, extra_comparators=E, "
        "lowering_slack=S)`, seed 0, every tie-pattern row; length counts loads and stores "
        "(core = length - 10). A beam is not exhaustive: these bound what the engine finds.",
        "",
        "| width | spare comparators | lowering slack | shortest length | states | seconds |",
        "|---|---|---|---|---|---|",
        *table,
        "",
        f"Peak resident memory of the benchmark process: {peak:,.0f} MB.",
        "",
        summary,
        "",
    ]
    publish_report(out, lines)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
