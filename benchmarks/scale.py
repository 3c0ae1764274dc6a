"""Scale-out on Ray beside the single-machine default, measured in one run on this machine.

Two workloads, each with 1 and 2 workers, on Ray (a local Ray, one CPU per actor) and without:

* **self-play games/s** (sort3, cmov, the default network, ``--simulations`` per move): the
  default trainer's worker processes (``loop.SelfPlay``) against Ray actors
  (:class:`alphadev.train.ray_self_play.RaySelfPlay`), each counted over a fixed window after
  the first episode of every worker (start-up excluded from the rate, reported beside it), the
  settings taking turns for ``--rounds`` rounds (the report gives medians: on a 2-core VM one
  window varies by 10-20%); ``workers=0`` (in-process) is the baseline of one core.
* **search states/s** on one exact question (default sort4, cmov, "a core of at most 12?", the
  ``alphadev prove --n 4 --max-length 20`` proof): the undivided depth-first search in one
  process (what ``alphadev prove`` runs), the same space split into parts searched by threads of
  this process (the single-machine form of the split, at equal workers), and the split on Ray
  (:func:`alphadev.distributed.prove_on_ray`, actor start included; the Ray start itself is
  timed apart). Splitting costs states (parts do not share a transposition table across
  workers): the report gives states, seconds and states/s, so the split's cost and Ray's are
  told apart.

Ray's overhead at equal workers = 1 - (Ray rate / the same work without Ray). Writes
``benchmarks/results/scale.md`` (``--quick``: ``results/quick/scale.md``, sort3 and short
windows) and ends with ``ray overhead: self-play X%, search Y% (2 workers)``.

Usage: ``python benchmarks/scale.py [--quick] [--window S] [--rounds R] [--out PATH]``
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import torch
from common import check_output, machine_info, publish_report, report_path

from alphadev import exact
from alphadev.distributed import PARTS_PER_WORKER, prove_on_ray
from alphadev.exact.split import split_space
from alphadev.game import AssemblyGame, default_max_length
from alphadev.network import NetworkConfig, PolicyValueNet
from alphadev.tasks import SortTask
from alphadev.train.config import TrainConfig
from alphadev.train.loop import Curriculum, SelfPlay
from alphadev.train.ray_self_play import RaySelfPlay


def ray_worker_peak_mb() -> float:
    """The largest peak resident memory (VmHWM) of this machine's Ray actor processes."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmdline = (status.parent / "cmdline").read_bytes()
            if not cmdline.startswith(b"ray::"):
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def self_play_rate(kind: str, workers: int, window: float, simulations: int) -> dict:
    """Games/s of ``kind`` (``local`` or ``ray``) self-play with ``workers``, over ``window``
    seconds after every worker's first episode."""
    config = TrainConfig(n=3, workers=workers, simulations=simulations, seed=0,
                         ray="local" if kind == "ray" else None)  # fmt: skip
    longest = default_max_length(3) + config.curriculum_slack
    game = AssemblyGame(SortTask(3), max_length=longest)
    curriculum = Curriculum(longest, config.curriculum_window, config.curriculum_threshold)
    torch.manual_seed(0)
    net = PolicyValueNet(NetworkConfig(**config.network))
    t0 = time.perf_counter()
    if kind == "ray":
        play = RaySelfPlay(config, curriculum, net, first_seed=1)
    else:
        play = SelfPlay(config, curriculum, game, net, np.random.default_rng(0), 1)
    try:
        for _ in range(max(workers, 1)):
            play.next_episode()
        start_up = time.perf_counter() - t0
        games, simulations_done = 0, 0
        begin = time.perf_counter()
        while time.perf_counter() - begin < window:
            _, stats = play.next_episode()
            games += 1
            simulations_done += stats["simulations"]
        elapsed = time.perf_counter() - begin
        worker_peak = ray_worker_peak_mb() if kind == "ray" else 0.0
    finally:
        play.close()
    if kind == "local" and workers:
        worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"games_per_s": games / elapsed, "sims_per_s": simulations_done / elapsed,
            "start_up": start_up, "worker_peak_mb": worker_peak}  # fmt: skip


def median_rate(rates: list[dict]) -> dict:
    """The median of each figure over rounds, with the lowest and highest games/s."""
    games = sorted(r["games_per_s"] for r in rates)
    return {"games_per_s": statistics.median(games), "low": games[0], "high": games[-1],
            "sims_per_s": statistics.median(r["sims_per_s"] for r in rates),
            "start_up": statistics.median(r["start_up"] for r in rates),
            "worker_peak_mb": max(r["worker_peak_mb"] for r in rates)}  # fmt: skip


def split_in_threads(task: SortTask, max_core: int, workers: int) -> tuple[str, int, float, int]:
    """The split question searched by ``workers`` threads of this process, each with its own
    table (kept across its exhausted parts, as a Ray worker does): (status, states, s, parts)."""
    t0 = time.perf_counter()
    split = split_space(task, max_core, parts=PARTS_PER_WORKER * workers)
    jobs: queue.Queue = queue.Queue()
    for prefix in split.prefixes:
        jobs.put(prefix)
    found = threading.Event()
    totals = []

    def run() -> None:
        keys, depths = np.zeros(1 << 22, np.uint64), np.zeros(1 << 22, np.int16)
        nodes = 0
        while not found.is_set():
            try:
                prefix = jobs.get_nowait()
            except queue.Empty:
                break
            outcome = exact.find(task, max_core, prefix=prefix, shared_table=(keys, depths))
            nodes += outcome.nodes
            if outcome.status == "found":
                found.set()
        totals.append(nodes)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status = "found" if found.is_set() or split.solution is not None else "exhausted"
    return status, sum(totals), time.perf_counter() - t0, len(split.prefixes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sort3 question, 5 s windows")
    parser.add_argument("--window", type=float, help="seconds of self-play counted per setting")
    parser.add_argument("--simulations", type=int, default=16, help="MCTS simulations per move")
    parser.add_argument("--rounds", type=int, help="rounds of the self-play settings (median)")
    parser.add_argument("--out", help="report (default results/scale.md; --quick: results/quick/)")
    args = parser.parse_args()
    out = check_output(args.out or report_path("scale.md", args.quick), args.quick)
    window = args.window or (5.0 if args.quick else 15.0)
    rounds = args.rounds or (1 if args.quick else 3)
    n, max_core = (3, 10) if args.quick else (4, 12)
    task = SortTask(n)
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    import ray

    exact.find(SortTask(3), 10)  # load the compiled kernels before any clock runs

    # ---- search states/s
    search_rows = []
    t0 = time.perf_counter()
    whole = exact.find(task, max_core)
    seconds = time.perf_counter() - t0
    search_rows.append(("one process, undivided (`alphadev prove`)", 1, whole.status,
                        whole.nodes, seconds, 1))  # fmt: skip
    print(f"undivided: {whole.status} {whole.nodes:,} states {seconds:.1f} s", flush=True)
    for workers in (1, 2):
        status, nodes, seconds, parts = split_in_threads(task, max_core, workers)
        search_rows.append(("split, threads of one process", workers, status, nodes, seconds,
                            parts))  # fmt: skip
        print(f"threads x{workers}: {status} {nodes:,} states {seconds:.1f} s", flush=True)
    t0 = time.perf_counter()
    ray.init(num_cpus=2, object_store_memory=128 << 20, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    ray_start = time.perf_counter() - t0
    ray_peaks = []
    try:
        for workers in (1, 2):
            outcome = prove_on_ray(task, max_core, address=None, workers=workers,
                                   time_limit=3600)  # fmt: skip
            ray_peaks.append(ray_worker_peak_mb())
            search_rows.append(("split, Ray actors", workers, outcome.status, outcome.nodes,
                                outcome.seconds, outcome.parts))  # fmt: skip
            print(f"ray x{workers}: {outcome.status} {outcome.nodes:,} states "
                  f"{outcome.seconds:.1f} s", flush=True)  # fmt: skip
        # ---- self-play games/s (Ray already up: its start is timed above); the settings
        # take turns, round after round, so that a slow spell of the machine hits them all
        settings = [(0, "local", "in-process (workers=0)")]
        settings += [(w, kind, label) for w in (1, 2) for kind, label in
                     (("local", "worker processes (default)"), ("ray", "Ray actors"))]  # fmt: skip
        samples: dict = {}
        for _ in range(rounds):
            for workers, kind, label in settings:
                rate = self_play_rate(kind, workers, window, args.simulations)
                samples.setdefault((label, workers), []).append(rate)
                print(f"self-play {kind} x{workers}: {rate['games_per_s']:.2f} games/s",
                      flush=True)  # fmt: skip
        play_rows = [(label, w, median_rate(rates)) for (label, w), rates in samples.items()]
    finally:
        ray.shutdown()

    driver_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = machine_info()
    base_games = play_rows[0][2]["games_per_s"]
    lines = [
        "# Scale-out on Ray",
        "",
        f"Machine: {info['CPU']} ({info['cores']}), {info['OS']}. Python {info['Python']}, "
        f"numba {info['numba']}, torch {torch.__version__}, ray {ray.__version__}. A local Ray "
        f"(2 CPUs; started in {ray_start:.1f} s, not counted below). One benchmark at a time.",
        "",
        f"## Self-play games/s (sort3, cmov, {args.simulations} simulations per move, default "
        f"network; {window:g} s counted per setting, {rounds} rounds, medians)",
        "",
        "Rates are counted after every worker's first episode; `start-up` is the time to it. The "
        "settings take turns within each round. Baseline: in-process self-play on one core, "
        "measured in the same run.",
        "",
        "| self-play | workers | games/s (median) | lowest-highest | simulations/s "
        "| vs in-process | start-up s | worker peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, workers, rate in play_rows:
        lines.append(f"| {label} | {workers} | {rate['games_per_s']:.2f} | "
                     f"{rate['low']:.2f}-{rate['high']:.2f} | {rate['sims_per_s']:,.0f} | "
                     f"{rate['games_per_s'] / base_games:.2f}x | {rate['start_up']:.1f} | "
                     f"{rate['worker_peak_mb']:,.0f} |")  # fmt: skip
    overhead_play = {}
    for workers in (1, 2):
        local = next(r for lbl, w, r in play_rows if w == workers and lbl.startswith("worker"))
        on_ray = next(r for lbl, w, r in play_rows if w == workers and lbl.startswith("Ray"))
        overhead_play[workers] = 1 - on_ray["games_per_s"] / local["games_per_s"]
    lines += [
        "",
        "Ray's overhead at equal workers (1 - Ray games/s / worker-process games/s): "
        + ", ".join(f"{w} worker{'s' * (w > 1)}: {o:+.0%}" for w, o in overhead_play.items()),
        "",
        f"## Search states/s (sort{n}, cmov: is there a core of at most {max_core} "
        f"instructions, i.e. a program of at most {max_core + 2 * n}?)",
        "",
        "Baseline: the undivided search in one process, measured in the same run. The Ray rows "
        "include starting the actors (importing alphadev in each).",
        "",
        "| search | workers | answer | parts | states | seconds | states/s | wall vs undivided |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base_seconds = search_rows[0][4]
    for label, workers, status, nodes, seconds, parts in search_rows:
        lines.append(f"| {label} | {workers} | {status} | {parts} | {nodes:,} | {seconds:.1f} | "
                     f"{nodes / seconds:,.0f} | {base_seconds / seconds:.2f}x |")  # fmt: skip
    overhead_search = {}
    for workers in (1, 2):
        threads = next(r for r in search_rows if r[1] == workers and "threads" in r[0])
        on_ray = next(r for r in search_rows if r[1] == workers and "Ray" in r[0])
        overhead_search[workers] = 1 - (on_ray[3] / on_ray[4]) / (threads[3] / threads[4])
    lines += [
        "",
        "Ray's overhead at equal workers (1 - Ray states/s / threads states/s): "
        + ", ".join(f"{w} worker{'s' * (w > 1)}: {o:+.0%}" for w, o in overhead_search.items()),
        "",
        f"Peak resident memory: benchmark process {driver_peak:,.0f} MB; largest Ray search "
        f"actor {max(ray_peaks):,.0f} MB.",
        "",
    ]
    publish_report(out, lines)
    print(f"ray overhead: self-play {overhead_play[2]:+.0%}, search {overhead_search[2]:+.0%} "
          "(2 workers)")  # fmt: skip


if __name__ == "__main__":
    main()
