"""Benchmark: self-play with compare-exchange moves (``--moves macro``) on sort4, and transfer.

Measured in one run, one job at a time on this machine:

1. **Self-play alone on sort4.** ``alphadev train --n 4 --moves macro --target 28`` for at most
   ``--seconds`` (1800: the issue's 30 minutes) per seed, default options otherwise (no
   demonstrations, no ``--init-from``: the checkpoint's provenance is checked to say "self-play
   only"). A compare-exchange is 4 instructions in the cmov ISA, so the lengths go 40, 36, 32,
   28 (28 = 4 loads, 5 exchanges, 4 stores: sort4's shortest known). Per seed: the training
   seconds at which the best correct length first reached each of them (from ``metrics.csv``),
   the episodes, the best.
2. **Transfer to sort5.** Each seed's sort4 checkpoint (never trained on sort5) in
   ``alphadev search --n 5 --method mcts --moves macro --target 46`` (46 = a 9-comparator
   network, the shortest with these moves) until 46 or ``--cap`` seconds, beside the heuristic
   MCTS and the untrained net with the same moves, one search per seed: the simulations to 46
   (a miss counts as all the simulations run by the cap, marked ">"). Twice: with episodes of
   at most sort5's default 48 instructions (room for no wasted move) and of 48 + ``--slack``
   (``--max-length``; 10, where train's curriculum starts).

``--transfer-only`` trains nothing: it reads the sort4 runs a full run left in its run folder
(their checkpoints' counters and ``metrics.csv``) and runs the transfer searches again.

Writes ``benchmarks/results/macro_training.md`` (``--quick``: under ``results/quick/``, short
budgets, one seed). Training runs go to ``runs/benchmark-macro/``.

    python benchmarks/macro_training.py [--quick] [--seconds 1800] [--seeds 3] [--cap 60]
        [--slack 10] [--transfer-only]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from common import check_output, publish_report, refuse, report_path

from alphadev.game import default_max_length
from alphadev.search import SearchConfig, run_search
from alphadev.train import TrainConfig, train
from alphadev.train.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
MILESTONES = (40, 36, 32, 28)
SORT4_GOAL, SORT5_GOAL = 28, 46


def learning_run(seconds: float, seed: int, runs: Path) -> dict:
    """Self-play sort4 with compare-exchanges until 28 or ``seconds``; the run's summary."""
    run_dir = runs / f"sort4-macro-seed{seed}"
    if run_dir.exists():
        for path in sorted(run_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    config = TrainConfig(n=4, moves="macro", seed=seed, time_limit=seconds, steps=10**7,
                         target=SORT4_GOAL)  # fmt: skip
    train(config, run_dir=run_dir)
    return summary_of(run_dir, seed)


def summary_of(run_dir: Path, seed: int) -> dict:
    """A finished sort4 run's summary from its folder (``metrics.csv`` and the checkpoint's
    counters): the episodes, the best, the training seconds to each milestone, and whether it
    stopped at the target or the time."""
    checkpoint = load_checkpoint(run_dir)
    provenance = checkpoint.get("provenance", {})
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    first = {}
    for row in rows:
        best = int(row["best_length"]) if row["best_length"] else None
        for length in MILESTONES:
            if best is not None and best <= length and length not in first:
                first[length] = float(row["seconds"])
    counters = checkpoint["counters"]
    best = (checkpoint.get("best") or {}).get("length")
    if best is not None and best <= SORT4_GOAL:
        first.setdefault(SORT4_GOAL, float(counters["seconds"]))
    return {"seed": seed, "run_dir": run_dir, "episodes": int(counters["episodes"]),
            "best": best, "first": first,
            "stop": "target" if best is not None and best <= SORT4_GOAL else "time",
            "self_play_only": provenance.get("self_play_only") is True,
            "moves": provenance.get("moves")}  # fmt: skip


def simulations_to(checkpoint: str, seed: int, cap: float,
                   max_length: int) -> tuple[int, bool, int | None]:  # fmt: skip
    """(simulations run, reached 46?, best length) of the MCTS alone on sort5 with
    compare-exchanges and episodes of at most ``max_length`` instructions, stopping at 46 or
    the cap."""
    result = run_search(SearchConfig(n=5, method="mcts", moves="macro", checkpoint=checkpoint,
                                     seed=seed, target=SORT5_GOAL, time_limit=cap,
                                     max_length=max_length))  # fmt: skip
    best = result.best
    reached = best is not None and best.length <= SORT5_GOAL
    return result.simulations, reached, best.length if best else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, one seed")
    parser.add_argument("--seconds", type=float, help="training seconds per seed (1800)")
    parser.add_argument("--seeds", type=int, help="seeds (default 3)")
    parser.add_argument("--cap", type=float, help="seconds per sort5 search (default 60)")
    parser.add_argument("--slack", type=int, default=10,
                        help="the looser transfer row's episodes: sort5's default max length "
                        "+ this (default 10, where train's curriculum starts)")  # fmt: skip
    parser.add_argument("--transfer-only", action="store_true",
                        help="do not train: read the sort4 runs already in the run folder "
                        "(summaries, checkpoints) and run the transfer searches")  # fmt: skip
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.quick else 1800.0)
    seeds = args.seeds or (1 if args.quick else 3)
    cap = args.cap or (10.0 if args.quick else 60.0)
    runs_dir = ROOT / "runs" / ("benchmark-macro-quick" if args.quick else "benchmark-macro")
    checkpoints = [runs_dir / f"sort4-macro-seed{seed}" / "checkpoint.pt" for seed in range(seeds)]
    if args.transfer_only:
        missing = [path for path in checkpoints if not path.is_file()]
        if missing:
            refuse(f"--transfer-only: no finished run at {missing[0]}; run without it first")
    if not 0 <= args.slack <= 40:
        refuse(f"--slack must be between 0 and 40, got {args.slack}")
    out = check_output(report_path("macro_training.md", args.quick), args.quick, "report")

    print("warming the numba cache ...", flush=True)
    run_search(SearchConfig(n=2, method="mcts", moves="macro", time_limit=30,
                            checkpoint="heuristic"))  # fmt: skip

    runs = []
    for seed in range(seeds):
        if args.transfer_only:
            runs.append(summary_of(runs_dir / f"sort4-macro-seed{seed}", seed))
        else:
            runs.append(learning_run(seconds, seed, runs_dir))
        r = runs[-1]
        print(f"seed {seed}: best {r['best']}, first at {r['first']}, {r['episodes']} episodes",
              flush=True)  # fmt: skip
    trained_on = time.strftime("%Y-%m-%d", time.localtime(checkpoints[0].stat().st_mtime))

    evaluators = [(f"trained sort4, seed {r['seed']}", str(r["run_dir"] / "checkpoint.pt"))
                  for r in runs]  # fmt: skip
    default_length = default_max_length(5)
    lengths = (default_length, default_length + args.slack)
    searches: dict[int, dict[str, list]] = {}
    for max_length in lengths:
        table = searches[max_length] = {}
        for label, spec in evaluators:
            table[label] = [simulations_to(spec, 0, cap, max_length)]
            print("sort5", max_length, label, table[label], flush=True)
        for label, spec in (("untrained network", "untrained"), ("heuristic", "heuristic")):
            table[label] = [simulations_to(spec, seed, cap, max_length) for seed in range(seeds)]
            print("sort5", max_length, label, table[label], flush=True)

    def pooled(max_length: int, labels: list[str]) -> str:
        outcomes = [o for label in labels for o in searches[max_length][label]]
        missed = any(not o[1] for o in outcomes)
        return f"{'>' if missed else ''}{statistics.median(o[0] for o in outcomes):,.0f}"

    reached = sum(r["best"] is not None and r["best"] <= SORT4_GOAL for r in runs)
    source = (f" The runs are those of {trained_on}, read back from their folders "
              "(`--transfer-only`: not trained again)." if args.transfer_only else "")  # fmt: skip
    lines = [
        "# Self-play with compare-exchange moves: sort4, and transfer to sort5",
        "",
        f"{time.strftime('%Y-%m-%d')}. `alphadev train --n 4 --moves macro --target "
        f"{SORT4_GOAL}`, at most {seconds:.0f} s per seed, default options otherwise; one job "
        f"at a time.{source}",
        "",
        f"**sort4 = {SORT4_GOAL} by self-play alone: {reached} of {len(runs)} seeds within "
        f"{seconds:.0f} s.**",
        "",
        "| seed | self-play only | episodes | best | training s to best ≤ "
        + " / ".join(str(m) for m in MILESTONES)
        + " | stopped |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        firsts = " / ".join(f"{r['first'][m]:.0f}" if m in r["first"] else "-" for m in MILESTONES)
        lines.append(f"| {r['seed']} | {'yes' if r['self_play_only'] else 'NO'} | "
                     f"{r['episodes']:,} | {r['best']} | {firsts} | {r['stop']} |")  # fmt: skip
    trained = [label for label, _ in evaluators]
    lines += [
        "",
        f"## Transfer: the MCTS alone on sort5 with compare-exchanges, to {SORT5_GOAL}",
        "",
        f"One search per evaluator and seed, stopped at {SORT5_GOAL} or {cap:.0f} s. The sort4 "
        "nets never saw sort5 (their weights do not depend on n). `--max-length`: the most "
        f"instructions an episode may hold until a first kernel bounds it. At the default "
        f"{default_length}, only a 9-comparator network played with no wasted move sorts; "
        f"{lengths[1]} (`--slack {args.slack}`) leaves room for two more compare-exchanges.",
    ]
    for max_length in lengths:
        lines += [
            "",
            f"### `--max-length {max_length}`",
            "",
            "| evaluator | simulations (reached?, best) per search |",
            "|---|---|",
        ]
        for label, outcomes in searches[max_length].items():
            cells = ", ".join(f"{o[0]:,} ({'yes' if o[1] else 'no'}, {o[2]})" for o in outcomes)
            lines.append(f"| {label} | {cells} |")
        lines += [
            "",
            f'Median simulations to {SORT5_GOAL} (">": a search missed, its cap counted): '
            f"trained sort4 nets {pooled(max_length, trained)}, untrained "
            f"{pooled(max_length, ['untrained network'])}, heuristic "
            f"{pooled(max_length, ['heuristic'])}.",
        ]
    publish_report(out, lines)
    loose = lengths[1]
    print(
        f"macro: sort4 {SORT4_GOAL} in {reached} of {len(runs)} seeds; sort5 {SORT5_GOAL} "
        f"simulations (max length {loose}) trained {pooled(loose, trained)} vs heuristic "
        f"{pooled(loose, ['heuristic'])}"
    )


if __name__ == "__main__":
    main()
