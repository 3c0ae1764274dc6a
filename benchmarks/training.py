"""Benchmark: does the agent learn from its own play, and what does that buy the search?

Everything is measured in one run, one job at a time on this machine:

1. **Learning from scratch.** ``alphadev train --n 3`` for ``--seconds`` of wall time per seed
   (default options: potential-based shaping, the length curriculum, self-play trees kept
   across episodes; no demonstrations, no ``--init-from``: the checkpoint's provenance is
   checked to say "self-play only"). Per seed: the share of the last 100 self-play episodes
   that were correct, the best length, the policy alone (no search) at the end, and the curve.
2. **Ablations** (``--ablations``; one seed each, the same budget): no shaping
   (``phi_weight=0``), a fresh search tree per episode (``tree_episodes=1``), the net's value
   unused by the search (``value_weight=0``).
3. **What the checkpoints buy the search.** ``alphadev search --n 3 --method mcts`` with each
   seed's checkpoint, the untrained network and the heuristic, until sort3 = 17 or ``--cap``
   seconds; the medians of the simulations to 17 and the ratios (a miss counts as all the
   simulations run by the cap, so a ratio against it is a lower bound, marked ">").
4. **Transfer.** The sort3 checkpoints on sort5 (never trained on it): the best length the
   MCTS alone reaches within ``--transfer-cap`` seconds and the leaves it expanded, beside the
   heuristic at the same budget.
5. **MaskablePPO** (sb3-contrib; the ``sb3`` extra) as the external baseline on sort2 and
   sort3 for ``--ppo-seconds`` per run (``--ppo-seeds``): success rate of its training
   episodes, its policy, best length; beside our agent's curve read at the same wall time.

Writes ``benchmarks/results/training.md`` and ``training_curves.png`` (``--quick``: under
``results/quick/``, with short budgets). Training runs go to ``runs/benchmark-training/``.

    python benchmarks/training.py [--quick] [--seconds 600] [--seeds 3] [--cap 60]
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import time
from pathlib import Path

from common import check_output, publish_report, report_path, save_figure

from alphadev.search import SearchConfig, run_search
from alphadev.train import TrainConfig, train
from alphadev.train.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ABLATIONS = {
    "no shaping (phi_weight 0)": {"phi_weight": 0.0},
    "fresh tree per episode": {"tree_episodes": 1},
    "value unused (value_weight 0)": {"value_weight": 0.0},
}


def learning_run(name: str, seconds: float, seed: int, runs: Path, **options) -> dict:
    """Train sort3 from scratch; returns the run's summary and curve."""
    run_dir = runs / name
    if run_dir.exists():
        for path in sorted(run_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    config = TrainConfig(n=3, seed=seed, time_limit=seconds, steps=10**7, **options)
    start = time.perf_counter()
    result = train(config, run_dir=run_dir)
    wall = time.perf_counter() - start
    saved = load_checkpoint(run_dir)
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    last = rows[-1] if rows else {}
    return {
        "name": name, "seed": seed, "run_dir": run_dir, "wall_s": wall,
        "episodes": result.episodes, "best": result.best_length,
        "correct_last_100": float(last.get("correct_fraction") or 0.0),
        "policy_correct": last.get("policy_correct") == "1",
        "policy_length": last.get("policy_length") or None,
        "target_length": last.get("target_length"),
        "self_play_only": bool(saved.get("provenance", {}).get("self_play_only")),
        "curve": [(float(r["seconds"]), float(r["correct_fraction"]),
                   float(r["best_length"]) if r["best_length"] else None) for r in rows],
    }  # fmt: skip


def simulations_to(checkpoint: str, n: int, seed: int, cap: float, target: int):
    """(simulations run: the search stops at the target, else at the cap; reached?, best
    length, leaves expanded)."""
    result = run_search(SearchConfig(n=n, method="mcts", checkpoint=checkpoint, seed=seed,
                                     target=target, time_limit=cap))  # fmt: skip
    best = result.best
    reached = best is not None and best.length <= target
    return result.simulations, reached, best.length if best else None, result.mcts_states


def point_at(curve: list, seconds: float) -> tuple[float, float | None]:
    """(correct share, best length) of a training curve at ``seconds`` of wall time."""
    before = [p for p in curve if p[0] <= seconds] or curve[:1] or [(0.0, 0.0, None)]
    best = before[-1][2]
    return before[-1][1], int(best) if best is not None else None


def fmt_median(values: list[float], missed: bool) -> str:
    return f"{'>' if missed else ''}{statistics.median(values):,.0f}"


def plot(runs: list[dict], ppo: list[dict], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib absent (the `bench` extra): no plot"
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run in runs:
        seconds = [p[0] for p in run["curve"]]
        left.plot(seconds, [p[1] for p in run["curve"]], label=run["name"])
        right.plot(seconds, [p[2] if p[2] is not None else float("nan") for p in run["curve"]],
                   label=run["name"])  # fmt: skip
    for result in ppo:
        label = f"MaskablePPO sort{result['n']} seed {result['seed']}"
        curve = result["curve"]
        left.plot([p[0] for p in curve], [p[1] for p in curve], "--", label=label)
    left.set(xlabel="wall time (s)", ylabel="correct, last 100 episodes", ylim=(-0.02, 1.02))
    right.set(xlabel="wall time (s)", ylabel="best correct length (sort3)")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return f"![learning curves]({path.name})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, one seed")
    parser.add_argument("--seconds", type=float, help="training seconds per run (default 600)")
    parser.add_argument("--seeds", type=int, help="seeds (default 3)")
    parser.add_argument("--cap", type=float, help="seconds per search (default 60)")
    parser.add_argument("--transfer-cap", type=float, help="seconds per sort5 search (30)")
    parser.add_argument("--ablations", action="store_true", help="also the ablation runs")
    parser.add_argument("--ppo-seconds", type=float, help="seconds per PPO run (--seconds)")
    parser.add_argument("--ppo-seeds", type=int, help="PPO seeds per task (--seeds)")
    parser.add_argument("--no-ppo", action="store_true")
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    seeds = args.seeds or (1 if args.quick else 3)
    cap = args.cap or (10.0 if args.quick else 60.0)
    transfer_cap = args.transfer_cap or (5.0 if args.quick else 30.0)
    ppo_seconds = args.ppo_seconds or seconds
    ppo_seeds = args.ppo_seeds or seeds
    runs_dir = ROOT / "runs" / ("benchmark-training-quick" if args.quick else "benchmark-training")
    out = check_output(report_path("training.md", args.quick), args.quick, "report")
    check_output(out.with_name("training_curves.png"), args.quick, "plot")

    print("warming the numba cache ...", flush=True)
    run_search(SearchConfig(n=2, method="mcts", time_limit=30, checkpoint="heuristic"))

    # 1-2. learning runs
    runs = []
    for seed in range(seeds):
        runs.append(learning_run(f"sort3-seed{seed}", seconds, seed, runs_dir))
        print(f"seed {seed}: {runs[-1]['correct_last_100']:.0%} of the last 100 correct, "
              f"best {runs[-1]['best']}", flush=True)  # fmt: skip
    ablations = []
    if args.ablations:
        for i, (label, options) in enumerate(ABLATIONS.items()):
            ablations.append(learning_run(f"ablation-{i}", seconds, 0, runs_dir, **options))
            ablations[-1]["label"] = label
            print(f"{label}: {ablations[-1]['correct_last_100']:.0%} correct", flush=True)

    # 3. the search with each evaluator
    evaluators = [(f"trained, seed {r['seed']}", str(r["run_dir"] / "checkpoint.pt"))
                  for r in runs]  # fmt: skip
    evaluators += [("untrained network", "untrained"), ("heuristic", "heuristic")]
    searches = {}
    for label, spec in evaluators:
        outcomes = [simulations_to(spec, 3, seed, cap, 17) for seed in range(seeds)]
        searches[label] = outcomes
        print(label, [(o[0], o[1]) for o in outcomes], flush=True)
    trained_sims = [o[0] for r in runs for o in searches[f"trained, seed {r['seed']}"]]
    trained_missed = sum(not o[1] for r in runs for o in searches[f"trained, seed {r['seed']}"])

    # 4. transfer to sort5
    transfer = {}
    for label, spec in [("trained sort3, seed 0", evaluators[0][1]), ("heuristic", "heuristic")]:
        transfer[label] = simulations_to(spec, 5, 0, transfer_cap, 1)
        print("sort5", label, transfer[label], flush=True)

    # 5. MaskablePPO
    ppo, ppo_note = [], ""
    if not args.no_ppo:
        try:
            from ppo_baseline import run_maskable_ppo
        except ImportError:
            ppo_note = "MaskablePPO not run: the `sb3` extra is not installed."
        else:
            for n in (2, 3):
                for seed in range(ppo_seeds):
                    ppo.append(run_maskable_ppo(n=n, seconds=ppo_seconds, seed=seed))
                    print(f"PPO sort{n} seed {seed}: {ppo[-1]['train_success_rate']:.1%}",
                          flush=True)  # fmt: skip

    # ---- report
    lines = [
        "# Training: does the agent learn from its own play?",
        "",
        f"`python benchmarks/training.py{' --quick' if args.quick else ''}`: sort3 (cmov), "
        f"{seeds} seed(s), {seconds:g} s of wall time per training run, the default "
        "`alphadev train` options (one self-play process beside the learner on 2 cores). "
        "No program from the exact enumeration or any other non-agent search entered any run "
        "(checked in each checkpoint's provenance).",
        "",
        "## Learning from scratch",
        "",
        "| run | self-play only | episodes | correct, last 100 | best length | target length "
        "at the end | policy alone (no search) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs + ablations:
        policy = f"correct, {r['policy_length']}" if r["policy_correct"] else "not correct"
        lines.append(f"| {r.get('label', r['name'])} | {'yes' if r['self_play_only'] else 'NO'} "
                     f"| {r['episodes']:,} | {r['correct_last_100']:.0%} | {r['best'] or '-'} "
                     f"| {r['target_length']} | {policy} |")  # fmt: skip
    lines += [
        "",
        "## What the checkpoints buy the search",
        "",
        f"`alphadev search --n 3 --method mcts --target 17 --time-limit {cap:g}` per seed. "
        "Simulations: median MCTS simulations when the first 17 appeared (a miss counts all "
        "simulations run by the cap: '>').",
        "",
        "| evaluator | reached 17 | median simulations |",
        "|---|---|---|",
    ]
    med_trained = statistics.median(trained_sims)
    for label, outcomes in searches.items():
        sims = [o[0] for o in outcomes]
        missed = sum(not o[1] for o in outcomes) > len(outcomes) // 2
        lines.append(f"| {label} | {sum(o[1] for o in outcomes)}/{len(outcomes)} | "
                     f"{fmt_median(sims, missed)} |")  # fmt: skip
    trained_median_missed = trained_missed > len(trained_sims) // 2
    for label in ("untrained network", "heuristic"):
        sims = [o[0] for o in searches[label]]
        base_missed = sum(not o[1] for o in searches[label]) > len(sims) // 2
        ratio = statistics.median(sims) / max(med_trained, 1)
        if trained_median_missed and base_missed:
            text = "not measurable (both medians missed 17)"
        else:
            mark = "<" if trained_median_missed else (">" if base_missed else "")
            text = f"{mark}{ratio:.2f}x"
        pooled = f"{len(trained_sims)} searches, {trained_missed} missed"
        lines.append(f"\n{label} / trained, median simulations to 17 (trained seeds pooled, "
                     f"{pooled}): {text}.")  # fmt: skip
    lines += [
        "",
        "## Transfer to sort5 (the sort3 net was never trained on sort5)",
        "",
        f"`alphadev search --n 5 --method mcts --time-limit {transfer_cap:g}`, seed 0.",
        "",
        "| evaluator | best length | simulations | leaves expanded |",
        "|---|---|---|---|",
    ]
    for label, (sims, _, best, expanded) in transfer.items():
        lines.append(f"| {label} | {best or '-'} | {sims:,} | {expanded:,} |")
    lines += ["", f"## MaskablePPO (sb3-contrib), {ppo_seconds:g} s per run", ""]
    if ppo:
        at = [point_at(r["curve"], ppo_seconds) for r in runs]
        lines += [f"Our agent on sort3 at the same wall time ({ppo_seconds:g} s), per seed: "
                  + "; ".join(f"{c:.0%} of the last 100 correct, best {b or '-'}"
                              for c, b in at) + ".", ""]  # fmt: skip
        lines += ["| task | seed | timesteps | episodes | training episodes correct | "
                  "policy correct (1 greedy + 19 sampled) | best length |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in ppo:
            lines.append(f"| sort{p['n']} | {p['seed']} | {p['timesteps']:,} | "
                         f"{p['episodes']:,} | {p['train_success_rate']:.1%} | "
                         f"{p['policy_success_rate']:.0%} | "
                         f"{p['best_length'] or '-'} |")  # fmt: skip
    else:
        lines.append(ppo_note or "not run (--no-ppo)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", plot(runs + ablations, ppo, out.with_name("training_curves.png")), "",
              f"Peak resident memory of the benchmark process: {peak:,.0f} MB (self-play "
              "worker processes not included).", ""]  # fmt: skip
    publish_report(out, lines)


if __name__ == "__main__":
    main()
