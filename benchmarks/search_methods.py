"""Benchmark: every search engine on sort3..sort8, both ISAs, beside the published anchors.

Each run is ``alphadev search --method M --json`` in a fresh process (so its peak memory is
its own), capped at the same time limit. Engines: ``comparators`` (compare-exchange moves with
their cheapest lowerings, from scratch: no constructed seed), ``best-first`` (the row-set beam,
counterexample-guided rows), ``exact`` (the whole exact lane: constructed seeds, comparator
search, exact tail searches and descent, which can prove), and ``mcts`` (heuristic evaluator;
sort3 and sort4 only). For each task: the best verified length each engine reached (median
over seeds, and the minimum), the seconds to it, peak resident memory, and the ratio to the
lowered optimal-size sorting network (the baseline, built in the same run). Writes
``benchmarks/results/search_methods.md`` and ``search_methods.png`` (``--quick``: under
``benchmarks/results/quick/``).

    python benchmarks/search_methods.py [--quick] [--seeds 3] [--large-seeds 1] [--cap 120]
        [--ns 3,4,5,6,7,8] [--isas cmov,minmax] [--engines ...] [--report NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import check_output, publish_report, report_path, save_figure

from alphadev import exact
from alphadev.tasks import SortTask

ENGINES = ("comparators", "best-first", "exact", "mcts")
MCTS_MAX_N = 4

#: Published anchors: (AlphaDev length, Ullrich & Hack core) per (n, isa); None: none published.
PUBLISHED = {
    (3, "cmov"): "AlphaDev 17 (6 min, TPU fleet); U&H core 11 (length 17), 97 ms on 8 cores",
    (4, "cmov"): "AlphaDev 28 (30 min); U&H core 20 (28), 2.4 s",
    (5, "cmov"): "AlphaDev 42-43 (0.73 days); U&H core 33 (43), 11 min",
    (6, "cmov"): "AlphaDev 57 (the kernel in its public repository)",
    (7, "cmov"): "AlphaDev 76 (the kernel in its public repository)",
    (8, "cmov"): "AlphaDev 91 (the kernel in its public repository)",
    (3, "minmax"): "U&H core 8 (14)",
    (4, "minmax"): "U&H core 15 (23; reads an uninitialised register)",
    (5, "minmax"): "U&H core 26 (36)",
}


def run_engine(n: int, isa: str, engine: str, seed: int, cap: float) -> dict:
    """One ``alphadev search`` process; its JSON plus the wall time of the process."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "alphadev", "search", "--n", str(n), "--isa", isa,
            "--method", engine, "--seed", str(seed), "--time-limit", str(cap),
            "--checkpoint", "heuristic", "--out", out, "--json",
        ]  # fmt: skip
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    result["wall"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 10 s cap, sort3..5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--ns", default="3,4,5,6,7,8", help="sort sizes")
    parser.add_argument("--isas", default="cmov,minmax")
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines to run")
    parser.add_argument("--large-seeds", type=int, default=1, help="seeds for n >= 6")
    parser.add_argument("--report", default="search_methods", help="report name (no suffix)")
    args = parser.parse_args()
    path = check_output(report_path(f"{args.report}.md", args.quick), args.quick, "--report")
    check_output(path.with_suffix(".png"), args.quick, "--report")
    seeds = 1 if args.quick else args.seeds
    cap = 10.0 if args.quick else args.cap
    ns = [3, 4, 5] if args.quick else [int(x) for x in args.ns.split(",")]

    print("warming the numba cache ...", flush=True)
    run_engine(3, "cmov", "exact", 0, 30)

    rows, plot = [], {}
    for isa in args.isas.split(","):
        for n in ns:
            task = SortTask(n, isa=isa)
            network = len(exact.assemble(task, exact.network_core(task)))
            for engine in args.engines.split(","):
                if engine == "mcts" and n > MCTS_MAX_N:
                    continue
                runs = []
                for seed in range(seeds if n < 6 else min(seeds, args.large_seeds)):
                    res = run_engine(n, isa, engine, seed, cap)
                    runs.append(res)
                    print(
                        f"sort{n} {isa} {engine} seed {seed}: best {res['length']} "
                        f"({res['found_by']}) after {res['seconds_to_best']} s, "
                        f"{res['peak_rss_mb']} MB, wall {res['wall']:.1f} s",
                        flush=True,
                    )
                lengths = [r["length"] for r in runs if r["length"] is not None]
                if len(lengths) == len(runs):
                    median = statistics.median(lengths)
                    best_text = f"{median:g} (core {median - 2 * n:g}), min {min(lengths)}"
                    ratio = f"{median / network:.3f}"
                else:
                    median = None
                    best_text = f"{len(lengths)}/{len(runs)} found" + (
                        f", min {min(lengths)}" if lengths else ""
                    )
                    ratio = "-"
                hits = [r["seconds_to_best"] for r in runs if r["seconds_to_best"] is not None]
                seconds = f"{statistics.median(hits):.3g}" if hits else "-"
                memory = max(r["peak_rss_mb"] for r in runs)
                proved = sum(bool(r["optimal"]) for r in runs)
                how = sorted({r["found_by"] for r in runs if r["found_by"]})
                rows.append(
                    f"| sort{n} {isa} | {engine} | {best_text} | {ratio} | {seconds} | "
                    f"{memory:,.0f} | {proved}/{len(runs)} | {'; '.join(how)} |"
                )
                plot[(f"sort{n} {isa}", engine)] = (median or (min(lengths) if lengths else 0),
                                                    network)  # fmt: skip
            anchor = PUBLISHED.get((n, isa), "none published")
            rows.append(
                f"| sort{n} {isa} | *baseline / published* | network {network} "
                f"(core {network - 2 * n}) | 1.000 | | | | {anchor} |"
            )

    report = [
        "# Search engines side by side",
        "",
        f"`python benchmarks/search_methods.py{' --quick' if args.quick else ''}`: "
        f"{seeds} seed(s) ({args.large_seeds} for n >= 6), each run one "
        "`alphadev search --method ENGINE --json` process "
        f"capped at {cap:g} s. Best length: median over seeds of the verified kernel each run "
        "returned (all tie patterns and 30,000 random int32 rows), and the minimum. Ratio: "
        "median over the lowered optimal-size sorting network (the baseline, built in this "
        "run). Seconds: median time to the best. Memory: the largest peak resident set of the "
        "runs (MB). Proved: runs whose exact descent exhausted the shorter cores.",
        "",
        "| task | engine | best length | / network | seconds to best | peak MB | proved | "
        "found by |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Published figures: AlphaDev (Mankowitz et al., Nature 2023) and Ullrich & Hack, "
        "Synthesis of Sorting Kernels (CGO 2025); their hardware is not this machine.",
        "",
    ]
    publish_report(path, report)
    try:
        _plot(plot, path.with_suffix(".png"), cap, seeds)
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")


def _plot(plot: dict, path: Path, cap: float, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({label for label, _ in plot}, key=lambda s: (s.split()[1], s))
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(ENGINES)
    for i, engine in enumerate(ENGINES):
        values = [
            (plot[(label, engine)][0] / plot[(label, engine)][1]) if (label, engine) in plot
            else 0.0
            for label in labels
        ]  # fmt: skip
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=engine)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, rotation=30)
    ax.set_ylabel("best length / lowered network (0 = none)")
    ax.set_ylim(0.6, 1.1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Best verified kernel within {cap:g} s (median of {seeds} seeds)")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


if __name__ == "__main__":
    main()
