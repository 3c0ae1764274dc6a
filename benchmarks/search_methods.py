"""Benchmark: every search method on the same tasks, under the same time cap.

Methods: the MCTS alone (heuristic evaluator), the exact enumeration (``alphadev search
--method enumerate``: sorting-network fast mode, exact tail searches, exact descent), the
stochastic superoptimiser from a cold start (empty program) and a warm start (the sorting
network), and random legal rollouts. Tasks: sort3, sort4, sort5 (cmov) and sort3, sort4
(minmax). For each, over seeds, the best length reached within the cap, the seconds to reach it
and what was explored (MCTS simulations, enumeration states, MCMC proposals, rollout moves),
medians; the ratio of the best length to the hand-written sorting network's (the baseline, in
the same terms); and the published figures with their hardware. Writes
``benchmarks/results/search_methods.md`` and ``search_methods.png``.

    python benchmarks/search_methods.py [--quick] [--seeds 3] [--cap 20]

``--quick``: one seed, a 4 s cap (under 5 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import publish_report, report_path

from alphadev import exact
from alphadev.baselines.random_search import random_search
from alphadev.baselines.stochastic import stochastic_search
from alphadev.search import SearchConfig, run_search
from alphadev.tasks import SortTask, verify

RESULTS = Path(__file__).resolve().parent / "results"

TASKS = [(3, "cmov"), (4, "cmov"), (5, "cmov"), (3, "minmax"), (4, "minmax")]
METHODS = ["MCTS (heuristic)", "enumeration", "stochastic cold", "stochastic warm", "random"]

PUBLISHED = {
    (3, "cmov"): "17: AlphaDev-RL 6 min, AlphaDev-S warm 0.4 s (TPU/CPU fleet); "
    "enumerative A* 97 ms (8 cores)",
    (4, "cmov"): "28: AlphaDev-RL 30 min, AlphaDev-S warm 0.6 s; enumerative A* 2.4 s",
    (5, "cmov"): "42-43: AlphaDev-RL 0.73 d, AlphaDev-S warm 0.24 d; enumerative A* 11 min",
    (3, "minmax"): "no published figure",
    (4, "minmax"): "no published figure",
}


def run_method(method: str, task: SortTask, seed: int, cap: float):
    """``(program or None, seconds to it, explored, unit)``."""
    if method in ("MCTS (heuristic)", "enumeration"):
        result = run_search(
            SearchConfig(
                n=task.n, isa=task.isa.name, seed=seed, time_limit=cap, checkpoint="heuristic",
                method="mcts" if method.startswith("MCTS") else "enumerate",
            )
        )  # fmt: skip
        best = result.best
        if method.startswith("MCTS"):
            return (best and best.program), (best and best.seconds), result.simulations, "sims"
        return (best and best.program), (best and best.seconds), result.states, "states"
    if method.startswith("stochastic"):
        start = None
        if method.endswith("warm"):
            start = exact.assemble(task, exact.network_core(task))
        res = stochastic_search(task, time_limit=cap, seed=seed, start=start)
        return res.program, res.seconds_to_best, res.explored, "proposals"
    res = random_search(task, time_limit=cap, seed=seed)
    return res.program, res.seconds_to_best, res.explored, "moves"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 4 s cap")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=20.0, help="seconds per run")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    cap = 4.0 if args.quick else args.cap

    print("warming the numba cache ...", flush=True)
    run_search(SearchConfig(n=2, time_limit=30, checkpoint="heuristic"))
    stochastic_search(SortTask(2), max_proposals=100)

    rows, plot = [], {}
    for n, isa in TASKS:
        task = SortTask(n, isa=isa)
        network = len(exact.assemble(task, exact.network_core(task)))
        for method in METHODS:
            lengths, times, explored = [], [], []
            unit = ""
            for seed in range(seeds):
                t0 = time.perf_counter()
                program, seconds, count, unit = run_method(method, task, seed, cap)
                if program is not None and not verify(program, task).correct:
                    raise AssertionError(f"{method} returned a wrong sort{n} program")
                lengths.append(len(program) if program is not None else None)
                times.append(seconds)
                explored.append(count)
                print(
                    f"sort{n} {isa} {method} seed {seed}: best "
                    f"{lengths[-1]} ({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
            found = [x for x in lengths if x is not None]
            med_len = statistics.median(found) if len(found) == len(lengths) else None
            best_text = (
                f"{med_len:g} (min {min(found)})" if med_len is not None
                else (f"{len(found)}/{seeds} found, min {min(found)}" if found else "none")
            )  # fmt: skip
            ratio = f"{med_len / network:.3f}" if med_len is not None else "-"
            hit_times = [t for t in times if t is not None]
            time_text = f"{statistics.median(hit_times):.3g}" if hit_times else "-"
            rows.append(
                f"| sort{n} {isa} | {method} | {best_text} | {ratio} | {time_text} | "
                f"{statistics.median(explored):,.0f} {unit} |"
            )
            plot[(f"sort{n} {isa}", method)] = (med_len or (min(found) if found else None), network)
        rows.append(f"| sort{n} {isa} | *published* | {PUBLISHED[(n, isa)]} | | | |")

    report = [
        "# Search methods side by side",
        "",
        f"`python benchmarks/search_methods.py{' --quick' if args.quick else ''}`: "
        f"{seeds} seed(s), each run capped at {cap:g} s. Best length: the median over seeds "
        "of the shortest program each run found that passes `tasks.verify` (all tie patterns "
        "and 30,000 random int32 rows). Ratio: that median over the length of the shortest "
        "sorting network lowered to the ISA (the hand-written baseline, 18/28/46 cmov, "
        "15/23 minmax). Seconds: median time from the start of the run to its best. Explored: "
        "median MCTS simulations, enumeration states, MCMC proposals, or rollout moves.",
        "",
        "| task | method | best length | / network | seconds to best | explored |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Published figures are from the AlphaDev paper (Mankowitz et al., Nature 2023) and "
        "Ullrich & Hack (CGO 2025); their hardware is not this machine.",
        "",
    ]
    publish_report(report_path("search_methods.md", args.quick), report)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib absent (pip install -e '.[bench]'): no plot")
        return
    labels = [f"sort{n} {isa}" for n, isa in TASKS]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(METHODS)
    for i, method in enumerate(METHODS):
        values = [(plot[(label, method)][0] or 0) / plot[(label, method)][1] for label in labels]
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=method)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels)
    ax.set_ylabel("best length / sorting network (0 = none found)")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Best verified kernel within {cap:g} s (median of {seeds} seeds)")
    fig.tight_layout()
    tmp = RESULTS / ".search_methods.png.tmp.png"
    fig.savefig(tmp, dpi=120)
    tmp.replace(RESULTS / "search_methods.png")


if __name__ == "__main__":
    main()
