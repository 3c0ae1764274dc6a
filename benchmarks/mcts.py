"""MCTS throughput: simulations per second beside bare game moves per second, same run.

A *simulation* is one descent from the root by PUCT, at most one new node (one game move:
legal mask, one instruction over all test rows, state key, lower bound), its evaluation, and
the backup. A *game move* is the same move played by :meth:`alphadev.game.AssemblyGame.play`
in a loop of uniformly random legal rollouts (``benchmarks/game.py``'s ``game`` loop): the
baseline. For sort3, sort4 and sort5 (cmov ISA), each for a fixed wall-clock budget on one
core and one thread, the search plays episodes the way ``alphadev search --method mcts`` does
(``simulations`` per move, then a sampled move; the tree kept across episodes, pruned by the
best length found):

* ``heuristic``: uniform prior, the progress potential as the value: all in compiled code;
* ``network``: the untrained policy/value network (PyTorch, CPU, one thread), leaves batched
  ``batch_size`` at a time.

Writes ``benchmarks/results/mcts.md`` (``--quick``: ``results/quick/mcts.md``) and ends with the
line ``mcts/game-move throughput ratio: X`` (heuristic, sort3).

Usage: ``python benchmarks/mcts.py [--quick] [--seconds S] [--sizes 3,4,5] [--out PATH]``
"""

from __future__ import annotations

import argparse
import random
import resource
import time

import numpy as np
import torch
from common import check_output, machine_info, publish_report, report_path
from game import run_game

from alphadev.game import AssemblyGame
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
from alphadev.network import NetworkEvaluator, PolicyValueNet

SIMULATIONS_PER_MOVE = 64


def run_mcts(game: AssemblyGame, evaluator, seconds: float, seed: int) -> tuple[int, float, int]:
    """Search episodes for ``seconds``: ``(simulations, seconds taken, best length or 0)``."""
    best = []
    mcts = MCTS(game, evaluator, MCTSConfig(max_nodes=100_000), rng=np.random.default_rng(seed),
                prune=True, on_correct=lambda gs: best.append(gs.length))  # fmt: skip
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        node = mcts.root(game.initial_state())
        if mcts.is_dead(node):
            break
        while not mcts.is_terminal(node) and time.perf_counter() - start < seconds:
            node = mcts.run(node, SIMULATIONS_PER_MOVE)
            if mcts.is_dead(node) or not mcts.is_expanded(node):
                break
            node = mcts.child(node, mcts.select_action(node, temperature=1.0))
    return mcts.simulations, time.perf_counter() - start, min(best, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sort3 only, about 15 seconds")
    parser.add_argument("--seconds", type=float, help="seconds per loop and size")
    parser.add_argument("--sizes", help="comma-separated n (default 3,4,5; --quick: 3)")
    parser.add_argument("--out", help="report (default results/mcts.md; --quick: results/quick/)")
    args = parser.parse_args()
    out = check_output(args.out or report_path("mcts.md", args.quick), args.quick)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    sizes = (3,) if args.quick else (3, 4, 5)
    if args.sizes:
        sizes = tuple(int(n) for n in args.sizes.split(","))
    torch.set_num_threads(1)

    rows = []
    for n in sizes:
        game = AssemblyGame(n=n)
        net = PolicyValueNet()
        run_game(game, 0.2, random.Random(0))  # warm the caches and code paths
        run_mcts(game, HeuristicEvaluator(game), 0.5, 0)  # compiled loop: compiles here
        run_mcts(game, NetworkEvaluator(net, game), 0.5, 0)  # batched leaves: other kernels
        moves, moves_s = run_game(game, seconds, random.Random(1))
        h_sims, h_s, h_best = run_mcts(game, HeuristicEvaluator(game), seconds, 1)
        n_sims, n_s, n_best = run_mcts(game, NetworkEvaluator(net, game), seconds, 1)
        row = (n, moves / moves_s, h_sims / h_s, n_sims / n_s, h_best, n_best)
        rows.append(row)
        print(f"sort{n}: game {row[1]:,.0f} moves/s, mcts heuristic {row[2]:,.0f} sims/s "
              f"(ratio {row[2] / row[1]:.2f}), mcts network {row[3]:,.0f} sims/s "
              f"(ratio {row[3] / row[1]:.3f}; network/heuristic {row[3] / row[2]:.3f})"
              )  # fmt: skip

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = machine_info()
    lines = [
        "# MCTS throughput",
        "",
        f"Machine: {info['CPU']} ({info['cores']}), {info['OS']}; one process, one thread. "
        f"Python {info['Python']}, numpy {info['numpy']}, numba {info['numba']}, "
        f"torch {torch.__version__}.",
        f"Each loop runs {seconds:g} s per size (cmov ISA). Baseline, measured in the same run: "
        "bare game moves/s (random legal rollouts with `AssemblyGame.play`). The MCTS plays "
        f"search episodes ({SIMULATIONS_PER_MOVE} simulations per move, tree kept, pruned by "
        "the best length found); `best` is the shortest correct program it found in the loop.",
        "",
        "| task | game moves/s | heuristic sims/s | heuristic/game | network sims/s "
        "| network/game | best (heuristic) | best (network) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, g, h, net_rate, hb, nb in rows:
        lines.append(f"| sort{n} | {g:,.0f} | {h:,.0f} | {h / g:.2f} | {net_rate:,.0f} | "
                     f"{net_rate / g:.3f} | {hb or '-'} | {nb or '-'} |")  # fmt: skip
    lines += ["", f"Peak resident memory of the benchmark process: {peak_mb:,.0f} MB.", ""]
    publish_report(out, lines)
    ratio = rows[0][2] / rows[0][1]
    print(f"mcts/game-move throughput ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
