"""Benchmark: does the learned cost-to-go guide the comparator search to its best kernels with
fewer expansions than the hand rule, and does it transfer to sort7 and sort8?

The engine is :func:`alphadev.exact.comparators.comparator_search`; ``hand`` ranks each beam
level by instruction count (its default), ``learned`` by count plus the packaged cost-to-go's
estimate of the instructions still needed (``--guide``: another checkpoint). An *expansion* is
the engine's own count of instruction-level states its lowering step generated
(``ComparatorResult.nodes``), the same counter for both; the learned runs' seconds include
the features and the net.

* **In distribution** (sort5, sort6; both ISAs; 3 seeds): each seed runs a ladder of beam
  widths (1, 2, 4, ... up to ``--max-width``) for each guide. The *best* of a task is the
  shortest kernel any run of either guide found; a guide's *expansions to best* for a seed are
  those of its narrowest width that found the best; the table gives the median over the seeds
  that reached it (and how many did).
* **Transfer** (sort7, sort8; both ISAs; seed 0): the same ladder for each guide until
  ``--seconds`` of search are spent (the run in flight is stopped at the deadline); the best
  verified length each guide reached. The net never saw n > 6.

Writes ``benchmarks/results/guidance.md`` (``--quick``: sort5 only in distribution with widths
up to 8 and 20 s per transfer guide, under ``results/quick/``). Its last line is exactly::

    guidance: hand/learned expansions to best sort5 X, sort6 Y; sort8 best learned L vs hand H

where X and Y are the cmov ratios (above 1: the learned guide needed fewer) and L and H the
sort8 cmov lengths (``none``: no kernel within the time).

    python benchmarks/guidance.py [--quick] [--seconds S] [--guide PATH] [--no-transfer]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time

from common import check_output, publish_report, refuse, report_path

from alphadev.cost_to_go import PACKAGED_GUIDE, LearnedGuide, load_guide
from alphadev.exact.comparators import comparator_search
from alphadev.exact.control import SearchControl
from alphadev.network import CheckpointError
from alphadev.tasks import SortTask

GUIDES = ("hand", "learned")
ISAS = ("cmov", "minmax")


def _run(task, width, seed, guide, deadline=None):
    """``(length or None, expansions, seconds)`` of one beam run, stopped at ``deadline``."""
    control = SearchControl()
    timer = None
    if deadline is not None:
        timer = threading.Timer(max(0.0, deadline - time.perf_counter()), control.stop)
        timer.start()
    try:
        found = comparator_search(task, width=width, seed=seed, guide=guide, control=control)
    finally:
        if timer is not None:
            timer.cancel()
    length = None if found.core is None else len(found.core) + 2 * task.n
    return length, found.nodes, found.seconds, found.stopped


def _ladder(max_width):
    width, out = 1, []
    while width <= max_width:
        out.append(width)
        width *= 2
    return out


def in_distribution(n, isa, net, seeds, max_width, log):
    """Per guide and seed: ``[(width, length, expansions, seconds)]``."""
    task = SortTask(n, isa=isa)
    runs = {}
    for name in GUIDES:
        guide = None if name == "hand" else LearnedGuide(net, task)
        for seed in seeds:
            rows = []
            for width in _ladder(max_width):
                length, nodes, seconds, _ = _run(task, width, seed, guide)
                rows.append((width, length, nodes, seconds))
                log(f"sort{n} {isa} {name} seed {seed} width {width}: {length} "
                    f"({nodes:,} expansions, {seconds:.2f} s)")  # fmt: skip
            runs[name, seed] = rows
    return runs


def to_best(runs, seeds):
    """The best length of a task and, per guide, ``(median expansions, median seconds,
    seeds that reached it, narrowest widths)``."""
    best = min(r[1] for rows in runs.values() for r in rows if r[1] is not None)
    out = {}
    for name in GUIDES:
        hits = []
        for seed in seeds:
            first = next((r for r in runs[name, seed] if r[1] == best), None)
            if first is not None:
                hits.append(first)
        if hits:
            out[name] = (statistics.median(h[2] for h in hits),
                         statistics.median(h[3] for h in hits), len(hits),
                         [h[0] for h in hits])  # fmt: skip
        else:
            out[name] = None
    return best, out


def transfer(n, isa, net, seconds, max_width, log):
    """Per guide: ``(best length, expansions and seconds to it, widths run)`` within
    ``seconds`` of ladder runs (seed 0)."""
    task = SortTask(n, isa=isa)
    out = {}
    for name in GUIDES:
        guide = None if name == "hand" else LearnedGuide(net, task)
        t0 = time.perf_counter()
        deadline = t0 + seconds
        best = (None, 0, 0.0)
        spent = 0
        widths = []
        for width in _ladder(max_width):
            if time.perf_counter() >= deadline:
                break
            length, nodes, _, stopped = _run(task, width, 0, guide, deadline)
            spent += nodes
            widths.append(width if not stopped else f"{width} (stopped)")
            if length is not None and (best[0] is None or length < best[0]):
                best = (length, spent, time.perf_counter() - t0)
            log(f"sort{n} {isa} {name} width {width}: {length} ({nodes:,} expansions"
                f"{', stopped at the deadline' if stopped else ''})")  # fmt: skip
        out[name] = (*best, widths)
    return out


def _ratio(stats):
    hand, learned = stats.get("hand"), stats.get("learned")
    if hand is None or learned is None:
        return "n/a"
    return f"{hand[0] / learned[0]:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sort5 only, widths up to 8, 20 s")
    parser.add_argument("--seconds", type=float, help="search seconds per transfer guide "
                        "(default 240; --quick 20)")  # fmt: skip
    parser.add_argument("--guide", default=str(PACKAGED_GUIDE), help="the cost-to-go checkpoint")
    parser.add_argument("--out", help="report (default results/guidance.md)")
    parser.add_argument("--no-transfer", action="store_true",
                        help="sort5 and sort6 only (no sort7, sort8)")  # fmt: skip
    args = parser.parse_args()
    out = check_output(args.out or report_path("guidance.md", args.quick), args.quick)
    seconds = args.seconds if args.seconds is not None else (20.0 if args.quick else 240.0)
    if not 0 < seconds <= 3600:
        refuse(f"--seconds must be in (0, 3600], got {seconds}")
    try:
        net, provenance = load_guide(args.guide)
    except CheckpointError as exc:
        refuse(str(exc))
    sizes = (5,) if args.quick else (5, 6)
    max_width = 8 if args.quick else 64
    seeds = (0, 1, 2)
    comparator_search(SortTask(3), guide=LearnedGuide(net, SortTask(3)))  # warm-up: compile
    comparator_search(SortTask(3, isa="minmax"))

    def log(line):
        print(line, flush=True)

    table, ratios, per_expansion = [], {}, {name: [0.0, 0] for name in GUIDES}
    for n in sizes:
        for isa in ISAS:
            runs = in_distribution(n, isa, net, seeds, max_width, log)
            for (name, _), rows in runs.items():
                per_expansion[name][0] += sum(r[3] for r in rows)
                per_expansion[name][1] += sum(r[2] for r in rows)
            best, stats = to_best(runs, seeds)
            ratios[n, isa] = _ratio(stats)
            cells = []
            for name in GUIDES:
                s = stats[name]
                cells.append("not reached" if s is None else
                             f"{s[0]:,.0f} exp., {s[1]:.2f} s ({s[2]}/3 seeds; widths "
                             f"{', '.join(map(str, s[3]))})")  # fmt: skip
            shortest = {
                name: min((r[1] for seed in seeds for r in runs[name, seed] if r[1] is not None),
                          default=None)
                for name in GUIDES
            }  # fmt: skip
            table.append(f"| sort{n} {isa} | {best} | {cells[0]} | {cells[1]} | {ratios[n, isa]} "
                         f"| {shortest['hand']} / {shortest['learned']} |")  # fmt: skip
    transfer_rows, sort8 = [], {}
    for n in () if args.no_transfer else (7, 8):
        for isa in ISAS:
            result = transfer(n, isa, net, seconds, 1024, log)
            if n == 8 and isa == "cmov":
                sort8 = result
            cells = []
            for name in GUIDES:
                length, spent, secs, widths = result[name]
                cells.append("none" if length is None else
                             f"{length} ({spent:,} exp., {secs:.0f} s; widths "
                             f"{', '.join(map(str, widths))})")  # fmt: skip
            transfer_rows.append(f"| sort{n} {isa} | {cells[0]} | {cells[1]} |")
    hand_rate = per_expansion["hand"][0] / max(per_expansion["hand"][1], 1) * 1e6
    learned_rate = per_expansion["learned"][0] / max(per_expansion["learned"][1], 1) * 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def length_text(result):
        return "none" if result is None or result[0] is None else str(result[0])

    summary = (
        f"guidance: hand/learned expansions to best sort5 {ratios.get((5, 'cmov'), 'n/a')}, "
        f"sort6 {ratios.get((6, 'cmov'), 'n/a')}; sort8 best learned "
        f"{length_text(sort8.get('learned'))} vs hand {length_text(sort8.get('hand'))}"
    )

    def described(record):
        keys = ("trained_on_n", "trained_on_isas", "seconds", "states", "seed",
                "engine_programs_in_data", "data")  # fmt: skip
        text = ", ".join(f"{k}: {record[k]}" for k in keys if k in record)
        if "init_from" in record:
            text += f"; trained on from a net with {described(record['init_from'])}"
        return text

    prov = described(provenance)
    packaged = args.guide == str(PACKAGED_GUIDE)
    shown_guide = "alphadev/checkpoints/cost_to_go.pt" if packaged else args.guide
    lines = [
        "# The comparator search guided by a learned cost-to-go",
        "",
        f"`python benchmarks/guidance.py{' --quick' if args.quick else ''}`. The guide: "
        f"`{shown_guide}` "
        f"({prov}). Expansions: instruction-level states the engine's lowering step generated "
        "(the same counter for both guides). Lengths count loads and stores; every kernel is "
        "verified on every tie row and random int32 rows. A beam is not exhaustive: nothing "
        "here is a proof.",
        "",
        f"## In distribution (widths 1..{max_width}, seeds 0-2)",
        "",
        "Best: the shortest length any run of either guide found. Per guide: the median over "
        "the seeds that reached it of the expansions and seconds of its narrowest width that "
        "did. Ratio: hand / learned expansions (above 1: the learned guide needed fewer).",
        "",
        "| task | best | hand | learned | ratio | shortest hand / learned |",
        "|---|---|---|---|---|---|",
        *table,
        "",
        f"Cost per expansion, all in-distribution runs: hand {hand_rate:.2f} µs, learned "
        f"{learned_rate:.2f} µs ({learned_rate / hand_rate:.1f}x; the learned runs' time "
        "includes the features and the net).",
        "",
        f"## Transfer (seed 0, widths 1, 2, 4, ... until {seconds:.0f} s per guide)",
        "",
        "Best verified length within the time, with the expansions and seconds spent up to it.",
        "",
        "| task | hand | learned |",
        "|---|---|---|",
        *transfer_rows,
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
