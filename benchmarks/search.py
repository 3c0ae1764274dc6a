"""Benchmark: time and simulations until `alphadev search` reaches a target length.

For each case (sort3 = 17 and sort4 = 28 with the cmov ISA; sort3 with the minmax ISA, whose
target is the best this machine has found, 14), over several seeds, it runs

* the default search (``method="auto"``: exact enumeration and MCTS side by side), and
* the baseline measured in the same run: the MCTS alone with the heuristic evaluator,

each with ``target`` set so it stops at the target, under a time cap. It reports the median and
range of the seconds to the target and of the MCTS simulations run by then, how many seeds
reached it, and the ratio baseline/default, beside the published anchors, in
``benchmarks/results/search.md``. A search that misses the target counts as the cap (a lower
bound on its time, marked ">").

    python benchmarks/search.py [--quick] [--seeds 5] [--cap 60]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import check_output, publish_report, report_path

from alphadev.search import SearchConfig, run_search

RESULTS = Path(__file__).resolve().parent / "results" / "search.md"

CASES = [  # (n, isa, target length, published anchors)
    (
        3,
        "cmov",
        17,
        "AlphaDev-RL 6 min (TPU fleet); enumerative A* 97 ms (8 cores), 64 ms (1 thread)",
    ),
    (
        4,
        "cmov",
        28,
        "AlphaDev-RL 30 min (TPU fleet); enumerative A* 2.4 s (8 cores), 3.2 s (1 thread)",
    ),
    (3, "minmax", 14, "no published figure for this ISA"),
]


def time_to_target(n: int, isa: str, target: int, method: str, seed: int, cap: float):
    """(seconds to reach ``target`` or None, MCTS simulations by then, best length)."""
    result = run_search(
        SearchConfig(
            n=n,
            isa=isa,
            method=method,
            seed=seed,
            target=target,
            time_limit=cap,
            checkpoint="heuristic",
        )
    )
    best = result.best
    if best is None:
        return None, result.simulations, None
    hit = best.length <= target
    return (
        (best.seconds if hit else None),
        (best.simulations if hit else result.simulations),
        (best.length),
    )


def summary(values: list[float | None], cap: float, unit: str = "s") -> str:
    got = [v for v in values if v is not None]
    if not got:
        return f">{cap:g} {unit} (none reached)"
    filled = [v if v is not None else cap for v in values]
    med = statistics.median(filled)
    prefix = ">" if med >= cap else ""
    return f"{prefix}{med:.3g} {unit} [{min(got):.3g}, {max(filled):.3g}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 s cap")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per search")
    args = parser.parse_args()
    out = check_output(report_path("search.md", args.quick), args.quick, "report")
    seeds = 2 if args.quick else args.seeds
    cap = 20.0 if args.quick else args.cap

    print("warming the numba cache ...", flush=True)
    run_search(SearchConfig(n=2, time_limit=30, checkpoint="heuristic"))

    lines = []
    for n, isa, target, anchors in CASES:
        row = {}
        for method in ("auto", "mcts"):
            secs, sims, lengths = [], [], []
            for seed in range(seeds):
                t0 = time.perf_counter()
                s, sim, length = time_to_target(n, isa, target, method, seed, cap)
                secs.append(s)
                sims.append(sim if s is not None else None)
                lengths.append(length)
                print(
                    f"sort{n} {isa} {method} seed {seed}: best {length}, "
                    f"{'reached' if s is not None else 'missed'} {target} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
            row[method] = (secs, sims, lengths)
        auto_secs = row["auto"][0]
        mcts_secs = row["mcts"][0]
        auto_med = statistics.median([v if v is not None else cap for v in auto_secs])
        mcts_med = statistics.median([v if v is not None else cap for v in mcts_secs])
        ratio = mcts_med / auto_med if auto_med > 0 else float("inf")
        ratio_text = (">" if any(v is None for v in mcts_secs) else "") + f"{ratio:.0f}x"
        lines.append(
            f"| sort{n} {isa} = {target} | {sum(v is not None for v in auto_secs)}/{seeds} | "
            f"{summary(auto_secs, cap)} | {summary(row['auto'][1], 10**12, 'sims')} | "
            f"{sum(v is not None for v in mcts_secs)}/{seeds} | {summary(mcts_secs, cap)} | "
            f"best {sorted(x for x in row['mcts'][2] if x is not None) or 'none'} | "
            f"{ratio_text} | {anchors} |"
        )

    report = [
        "# Search: time to a target length",
        "",
        f"`python benchmarks/search.py{' --quick' if args.quick else ''}`: {seeds} seeds, "
        f"each search capped at {cap:g} s, stopping at the target. Median [range] of the "
        "seconds from the start of the search to the first program of the target length "
        "(Python start-up and the numba cache load are not included), and of the MCTS "
        "simulations run by then. A seed that missed counts as the cap. `auto` is the default "
        "`alphadev search` (exact enumeration on one core, MCTS on the other); the baseline, "
        "measured in the same run, is the MCTS alone with the heuristic evaluator.",
        "",
        "| case | auto reached | auto seconds | auto simulations | MCTS-only reached | "
        "MCTS-only seconds | MCTS-only best lengths | MCTS-only / auto | published anchors |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
    ]
    publish_report(out, report)


if __name__ == "__main__":
    main()
