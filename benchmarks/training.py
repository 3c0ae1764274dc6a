"""Benchmark: what training buys the search, and the learning curves of training runs.

1. For each evaluator (trained checkpoints given on the command line, a freshly initialised
   network, the heuristic), over seeds: the MCTS alone (``alphadev search --method mcts``)
   runs until sort3 = 17 or the cap; reports the median simulations and seconds to 17 and the
   ratio of the untrained network's simulations to each (a miss counts as the simulations
   run by the cap, so the ratio is then a lower bound, marked ">").
2. Learning curves from each run folder's ``metrics.csv``: best correct length and losses
   against wall time, as ``benchmarks/results/training_curves.png``.

Writes ``benchmarks/results/training.md``.

    python benchmarks/training.py --net shipped=alphadev/checkpoints/sort3_cmov.pt \
        --net self-play=runs/sort3-selfplay/checkpoint.pt \
        --curves runs/sort3-shipped runs/sort3-selfplay [--seeds 5] [--cap 60]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from common import publish_report

from alphadev.search import SearchConfig, run_search

RESULTS = Path(__file__).resolve().parent / "results"


def to_target(checkpoint: str, seed: int, cap: float, target: int = 17):
    """(simulations by the target, seconds to it) or (simulations at the cap, None)."""
    result = run_search(
        SearchConfig(n=3, method="mcts", checkpoint=checkpoint, seed=seed, target=target,
                     time_limit=cap)
    )  # fmt: skip
    best = result.best
    if best is not None and best.length <= target:
        return best.simulations, best.seconds
    return result.simulations, None


def curves(run_dirs: list[Path]) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib absent (pip install -e '.[bench]'): no plot"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for run in run_dirs:
        with (run / "metrics.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        seconds = [float(r["seconds"]) for r in rows]
        best = [float(r["best_length"]) if r["best_length"] else float("nan") for r in rows]
        left.plot(seconds, best, label=run.name)
        right.plot([int(r["step"]) for r in rows], [float(r["policy_loss"]) for r in rows],
                   label=f"{run.name} policy")  # fmt: skip
        right.plot([int(r["step"]) for r in rows],
                   [float(r["value_correctness_loss"]) for r in rows],
                   label=f"{run.name} value (correctness)", linestyle="--")  # fmt: skip
    left.set_xlabel("wall-clock seconds")
    left.set_ylabel("best correct length so far")
    left.legend(fontsize=8)
    right.set_xlabel("learner step")
    right.set_ylabel("loss")
    right.legend(fontsize=7)
    fig.tight_layout()
    tmp = RESULTS / ".training_curves.tmp.png"
    fig.savefig(tmp, dpi=110)
    tmp.replace(RESULTS / "training_curves.png")
    return "![learning curves](training_curves.png)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--net",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a trained checkpoint to compare (repeatable)",
    )
    parser.add_argument("--curves", nargs="*", default=[], type=Path, metavar="RUN_DIR")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per search")
    args = parser.parse_args()

    print("warming the numba cache ...", flush=True)
    run_search(SearchConfig(n=2, method="mcts", time_limit=30, checkpoint="heuristic"))
    evaluators = [tuple(spec.split("=", 1)) for spec in args.net]
    evaluators += [("untrained network", "untrained"), ("heuristic", "heuristic")]
    table = {}
    for label, checkpoint in evaluators:
        sims, secs = [], []
        for seed in range(args.seeds):
            s, t = to_target(checkpoint, seed, args.cap)
            sims.append(s)
            secs.append(t)
            print(
                f"{label} seed {seed}: {'reached 17' if t is not None else 'missed'} "
                f"after {s:,} simulations",
                flush=True,
            )
        table[label] = (sims, secs)
    base_sims = statistics.median(table["untrained network"][0])
    base_missed = sum(t is None for t in table["untrained network"][1]) > args.seeds // 2
    lines = []
    for label, (sims, secs) in table.items():
        hits = [t for t in secs if t is not None]
        med_sims = statistics.median(sims)
        missed = sum(t is None for t in secs) > args.seeds // 2
        ratio = base_sims / med_sims if med_sims else float("inf")
        mark = ">" if base_missed and not missed else ("<" if missed and not base_missed else "")
        ratio_text = "-" if missed and base_missed else f"{mark}{ratio:.0f}x"
        sims_text = f"{'>' if missed else ''}{med_sims:,.0f}"
        secs_text = f"{statistics.median(hits):.2f}" if hits else "-"
        lines.append(f"| {label} | {len(hits)}/{args.seeds} | {sims_text} | {secs_text} | "
                     f"{ratio_text} |")  # fmt: skip
    plot = curves(args.curves) if args.curves else ""
    report = [
        "# Training: what a trained policy buys the search",
        "",
        f"`python benchmarks/training.py {' '.join('--net ' + s for s in args.net)}"
        f"{' --curves ' + ' '.join(map(str, args.curves)) if args.curves else ''}`: "
        f"{args.seeds} seeds, MCTS alone (`--method mcts`), each search capped at "
        f"{args.cap:g} s and stopped at sort3 = 17. Simulations: median MCTS simulations run "
        "when the first 17 appeared (a miss counts as all the simulations run by the cap: "
        "'>'). Seconds: median over the seeds that reached 17. Ratio: the untrained network's "
        "median simulations over this row's (the same-run baseline).",
        "",
        "| evaluator | reached 17 | simulations | seconds to 17 | untrained / this |",
        "|---|---|---|---|---|",
        *lines,
        "",
        plot,
        "",
    ]
    publish_report(RESULTS / "training.md", report)


if __name__ == "__main__":
    main()
