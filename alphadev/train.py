"""Train the policy/value network by self-play (AlphaZero style), resumably.

Read top to bottom: the hyperparameters (:class:`TrainConfig`), one self-play episode, the
self-play worker process, one learner step, checkpoints, then :func:`train`, the loop that ties
them together, and the command line (``alphadev train`` or ``python -m alphadev.train``).

* **Self-play**: an episode of the assembly game where every move is chosen by an MCTS with
  the network as evaluator (``simulations`` per move, Dirichlet noise at the root, moves sampled
  from the visit counts for the first ``temperature_moves`` moves, then the most visited).
  Targets per position: the visit-count policy; for the correctness head the ``n_step`` return of
  the correctness rewards, bootstrapped with the network's correctness value; for the latency
  head the Monte-Carlo return of the latency term (``-latency_weight * latency`` of the finished
  program if it is correct, else 0).
* **Workers**: ``workers`` processes play episodes with the newest weights they were sent
  (published every ``publish_every`` learner steps); ``workers=0`` plays in-process on a fixed
  schedule, so a seeded run is reproducible.
* **Learner**: policy cross-entropy plus the two value MSEs, Adam, batches sampled uniformly
  from the replay buffer (newest ``replay_capacity`` positions).
* **Demonstrations** (optional, off by default): ``demonstrations`` distinct shortest programs
  found by the exact enumeration (:mod:`alphadev.exact`, move order shuffled per
  program), as positions with a one-hot policy on the next instruction and their true returns;
  ``demo_fraction`` of every batch comes from them (imitation, as AlphaGo's supervised start).
* **Checkpoints** (``checkpoint.pt`` in the run folder, written atomically): every
  ``checkpoint_every`` steps and at exit, Ctrl-C included: weights, optimizer, replay contents,
  counters, RNG states, the config, the best program. ``resume`` continues from it.
* **Metrics**: ``metrics.csv`` (one row per ``log_every`` steps; on resume, rows past the
  checkpoint are dropped so the file stays continuous), TensorBoard when installed, a progress
  bar. Each new best correct program is verified and written to the run folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from alphadev import asm
from alphadev.atomic import write_atomic, write_with
from alphadev.game import AssemblyGame
from alphadev.latency import latency
from alphadev.mcts import MCTS, MCTSConfig
from alphadev.network import (
    CheckpointError,
    NetworkConfig,
    NetworkEvaluator,
    PolicyValueNet,
    encode_states,
    load_network,
    read_checkpoint_file,
)
from alphadev.replay import ReplayBuffer, Sample
from alphadev.tasks import SortTask, verify

__all__ = ["TrainConfig", "load_checkpoint", "self_play_episode", "train"]

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
FORMAT = "alphadev-train-1"
METRIC_FIELDS = [
    "step", "episodes", "seconds", "games_per_s", "simulations_per_s", "policy_loss",
    "value_correctness_loss", "value_latency_loss", "loss", "best_length", "correct_fraction",
    "replay_size",
]  # fmt: skip


@dataclass(kw_only=True)
class TrainConfig:
    """Every hyperparameter of a run (keyword-only)."""

    n: int = 3
    isa: str = "cmov"
    registers: int | None = None
    steps: int = 2000  # learner steps in total (a resumed run continues to this count)
    time_limit: float | None = None  # seconds for this invocation
    workers: int = field(default_factory=lambda: max((os.cpu_count() or 1) - 1, 0))
    simulations: int = 32  # MCTS simulations per move
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    replay_capacity: int = 50_000
    min_replay: int = 256  # positions before the first learner step
    episodes_per_step: float = 0.25  # self-play episodes per learner step (the data ratio)
    publish_every: int = 10  # learner steps between weight broadcasts to the workers
    checkpoint_every: int = 100
    log_every: int = 10
    n_step: int = 8
    temperature_moves: int = 6
    demonstrations: int = 0  # shortest programs from the exact enumeration to imitate (0: none)
    demo_fraction: float = 0.25  # share of each batch drawn from the demonstrations
    network: dict = field(default_factory=lambda: NetworkConfig().to_dict())


# --------------------------------------------------------------------------- self-play


def self_play_episode(
    game: AssemblyGame, net: PolicyValueNet, config: TrainConfig, rng: np.random.Generator
) -> tuple[list[Sample], dict]:
    """Play one episode; returns its training samples and ``{correct, length, program,
    simulations}``."""
    mcts = MCTS(game, NetworkEvaluator(net, game), MCTSConfig(), rng=rng)
    node = mcts.node(game.initial_state())
    positions, policies, rewards = [], [], []
    while not node.terminal:
        mcts.ensure_expanded(node)
        if len(node.actions) == 0:
            break
        mcts.add_exploration_noise(node)
        mcts.run(node, config.simulations)
        policy = mcts.visit_policy(node)
        temperature = 1.0 if len(positions) < config.temperature_moves else 0.0
        action = mcts.select_action(node, temperature)
        index = int(np.flatnonzero(node.actions == action)[0])
        child = mcts.child(node, index)
        positions.append(node.state)
        policies.append(policy)
        rewards.append(game.reward(node.state, child.state))
        node = child
    final = node.state
    cfg = game.reward_config
    latency_return = 0.0
    if final.correct:
        latency_return = -cfg.latency_weight * latency(game.program(final), cfg.latency_model)
    correctness_rewards = np.array(rewards, dtype=np.float64)
    if final.correct:
        correctness_rewards[-1] -= latency_return  # the reward held both terms
    bootstrap = _correctness_values(net, game, positions)
    samples = []
    for t, (gs, policy) in enumerate(zip(positions, policies, strict=True)):
        end = min(t + config.n_step, len(positions))
        target = float(correctness_rewards[t:end].sum())
        if end < len(positions):
            target += float(bootstrap[end])
        samples.append(Sample(gs.program, policy, target, latency_return))
    stats = {
        "correct": bool(final.correct),
        "length": final.length,
        "program": game.program(final) if final.correct else None,
        "simulations": mcts.simulations,
    }
    return samples, stats


@torch.no_grad()
def _correctness_values(net: PolicyValueNet, game: AssemblyGame, states) -> np.ndarray:
    if not states:
        return np.zeros(0)
    net.eval()
    _, v_correct, _ = net(**encode_states(game, states, net.config))
    return v_correct.double().numpy()


def _worker(config: dict, seed: int, weights, episodes, stop) -> None:  # pragma: no cover
    """A self-play process: newest weights in, episodes out, until ``stop`` is set."""
    torch.set_num_threads(1)
    cfg = TrainConfig(**config)
    game = AssemblyGame(SortTask(cfg.n, cfg.registers, cfg.isa))
    net = PolicyValueNet(NetworkConfig(**cfg.network))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    while not stop.is_set():
        latest = None
        while not weights.empty():
            latest = weights.get()
        if latest is not None:
            net.load_state_dict(latest)
        samples, stats = self_play_episode(game, net, cfg, rng)
        episodes.put((samples, stats))


def demonstration_samples(game: AssemblyGame, count: int) -> list[Sample]:
    """Positions of up to ``count`` distinct shortest programs from the exact enumeration."""
    from alphadev import exact

    task = game.task
    core = exact.network_core(task)
    while (shorter := exact.shorten_tail(task, core)) is not None:
        core = shorter
    programs = {}
    for seed in range(4 * count):
        if len(programs) >= count:
            break
        found = exact.find(task, len(core), order_seed=seed, max_nodes=5_000_000)
        if found.status == "found":
            programs.setdefault(tuple(found.program.code), found.program)
    samples = []
    for program in programs.values():
        gs = game.initial_state()
        trajectory = []
        for ins in program:
            action = task.action_space.index(ins)
            child = game.apply(gs, action)
            trajectory.append((gs, action, game.reward(gs, child)))
            gs = child
        cfg = game.reward_config
        lat = -cfg.latency_weight * latency(program, cfg.latency_model)
        rewards = np.array([r for _, _, r in trajectory])
        rewards[-1] -= lat
        for t, (state, action, _) in enumerate(trajectory):
            policy = np.zeros(game.num_actions, dtype=np.float32)
            policy[action] = 1.0
            samples.append(Sample(state.program, policy, float(rewards[t:].sum()), lat))
    return samples


# --------------------------------------------------------------------------- learner


def learner_step(
    net: PolicyValueNet, optimizer: torch.optim.Optimizer, game: AssemblyGame,
    batch: list[Sample], states: dict,
) -> dict[str, float]:  # fmt: skip
    """One gradient step; ``states`` caches rebuilt game states by program."""
    net.train()
    positions = [_state_of(game, s.program, states) for s in batch]
    inputs = encode_states(game, positions, net.config)
    logits, v_correct, v_latency = net(**inputs)
    target_policy = torch.from_numpy(np.stack([s.policy for s in batch]))
    log_probs = torch.log_softmax(logits, dim=-1).masked_fill(~inputs["legal"], 0.0)
    policy_loss = -(target_policy * log_probs).sum(-1).mean()
    vc = torch.tensor([s.value_correctness for s in batch], dtype=torch.float32)
    vl = torch.tensor([s.value_latency for s in batch], dtype=torch.float32)
    vc_loss = F.mse_loss(v_correct, vc)
    vl_loss = F.mse_loss(v_latency, vl)
    loss = policy_loss + vc_loss + vl_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_correctness_loss": vc_loss.item(),
            "value_latency_loss": vl_loss.item(), "loss": loss.item()}  # fmt: skip


def _state_of(game: AssemblyGame, program: tuple[int, ...], cache: dict):
    """The state after ``program``: its prefix's state (cached) plus one move."""
    gs = cache.get(program)
    if gs is None:
        if program:
            gs = game._apply_unchecked(_state_of(game, program[:-1], cache), program[-1])
        else:
            gs = game.initial_state()
        if len(cache) > 200_000:
            cache.clear()
        cache[program] = gs
    return gs


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, payload: dict) -> None:
    def fill(handle) -> None:
        torch.save(payload, handle)

    write_with(path, fill)


def load_checkpoint(path: str | Path) -> dict:
    """A training checkpoint; :class:`~alphadev.network.CheckpointError` names the file and
    what is wrong when it is missing, corrupted or foreign."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an alphadev training checkpoint ({FORMAT})")
    return data


def _rng_state(rng: np.random.Generator) -> dict:
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
    }


def _restore_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))


# --------------------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    episodes: int
    best_length: int | None
    losses: list[dict[str, float]]
    interrupted: bool


def train(
    config: TrainConfig,
    *,
    run_dir: str | Path,
    resume: bool = False,
    init_from: str | None = None,
    on_progress=None,
) -> TrainResult:
    """Run (or resume) training in ``run_dir``; ``on_progress(row)`` gets each metrics row."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    task = SortTask(config.n, config.registers, config.isa)
    game = AssemblyGame(task)
    net = PolicyValueNet(NetworkConfig(**config.network))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    replay = ReplayBuffer(config.replay_capacity)
    demos = ReplayBuffer(max(1, 100_000))
    step = episodes = correct_episodes = simulations = 0
    best: dict = {"length": None, "text": ""}
    elapsed_before = 0.0

    if resume:
        ckpt = load_checkpoint(run_dir)
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        replay = ReplayBuffer.from_state_dict(ckpt["replay"])
        demos = ReplayBuffer.from_state_dict(ckpt["demonstrations"])
        counters = ckpt["counters"]
        step, episodes = counters["step"], counters["episodes"]
        correct_episodes, simulations = counters["correct_episodes"], counters["simulations"]
        elapsed_before = counters["seconds"]
        best = ckpt["best"]
        _restore_rng(rng, ckpt["rng"])
    else:
        if init_from is not None:
            net.load_state_dict(load_network(init_from).state_dict())
        if config.demonstrations > 0:
            demos.add(demonstration_samples(game, config.demonstrations))

    metrics_path = run_dir / METRICS
    _truncate_metrics(metrics_path, step)
    writer = _tensorboard(run_dir)
    recent = deque(maxlen=100)
    losses: list[dict[str, float]] = []
    state_cache: dict = {}
    t0 = time.perf_counter()

    def checkpoint() -> None:
        save_checkpoint(run_dir / CHECKPOINT, {
            "format": FORMAT,
            "network_config": dict(config.network),
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "replay": replay.state_dict(),
            "demonstrations": demos.state_dict(),
            "counters": {"step": step, "episodes": episodes,
                         "correct_episodes": correct_episodes, "simulations": simulations,
                         "seconds": elapsed_before + time.perf_counter() - t0},
            "rng": _rng_state(rng),
            "config": asdict(config),
            "best": best,
        })  # fmt: skip

    def record(samples: list[Sample], stats: dict) -> None:
        nonlocal episodes, correct_episodes, simulations, best
        replay.add(samples)
        episodes += 1
        simulations += stats["simulations"]
        recent.append(stats["correct"])
        if stats["correct"]:
            correct_episodes += 1
            program = stats["program"]
            if best["length"] is None or len(program) < best["length"]:
                result = verify(program, task)
                if result.correct:
                    text = asm.format(program, header={
                        "task": task.name, "isa": task.isa.name,
                        "registers": str(task.registers), "length": str(len(program)),
                        "found_by": f"alphadev train self-play, episode {episodes}",
                        "seed": str(config.seed),
                        "verified": f"{result.tie_rows} tie-pattern rows + "
                                    f"{result.random_rows} random int32 rows",
                    })  # fmt: skip
                    write_atomic(run_dir / f"best_{task.name}_{task.isa.name}.s", text)
                    best = {"length": len(program), "text": text}

    ctx = torch.multiprocessing.get_context("spawn")
    procs, weights_queues = [], []
    episodes_queue = ctx.Queue() if config.workers > 0 else None
    stop = ctx.Event() if config.workers > 0 else None
    for w in range(config.workers):
        q = ctx.Queue()
        q.put({k: v.clone() for k, v in net.state_dict().items()})
        p = ctx.Process(target=_worker, daemon=True,
                        args=(asdict(config), config.seed * 1000 + w + 1 + episodes, q,
                              episodes_queue, stop))  # fmt: skip
        p.start()
        procs.append(p)
        weights_queues.append(q)

    interrupted = False
    deadline = None if config.time_limit is None else t0 + config.time_limit
    try:
        while step < config.steps and (deadline is None or time.perf_counter() < deadline):
            wanted = max(config.min_replay, 0)
            need_episodes = math.ceil((step + 1) * config.episodes_per_step)
            while len(replay) < wanted or episodes < need_episodes:
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                if config.workers == 0:
                    record(*self_play_episode(game, net, config, rng))
                else:
                    record(*episodes_queue.get())
            else:
                from_demos = round(config.batch_size * config.demo_fraction) if len(demos) else 0
                batch = replay.sample(config.batch_size - from_demos, rng)
                if from_demos:
                    batch += demos.sample(from_demos, rng)
                losses.append(learner_step(net, optimizer, game, batch, state_cache))
                step += 1
                if config.workers and step % config.publish_every == 0:
                    snapshot = {k: v.clone() for k, v in net.state_dict().items()}
                    for q in weights_queues:
                        q.put(snapshot)
                if step % config.log_every == 0 or step == config.steps:
                    row = _metrics_row(step, episodes, simulations, correct_episodes, recent,
                                       best, losses[-config.log_every:], len(replay),
                                       elapsed_before + time.perf_counter() - t0)  # fmt: skip
                    _append_metrics(metrics_path, row)
                    if writer is not None:
                        for key, value in row.items():
                            if key != "step" and value != "":
                                writer.add_scalar(key, float(value), step)
                    if on_progress is not None:
                        on_progress(row)
                if step % config.checkpoint_every == 0:
                    checkpoint()
                continue
            break  # the time limit ran out while waiting for data
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if stop is not None:
            stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        checkpoint()
        if writer is not None:
            writer.close()
    return TrainResult(run_dir, step, episodes, best["length"], losses, interrupted)


def _metrics_row(step, episodes, simulations, correct, recent, best, losses, replay_size,
                 seconds) -> dict:  # fmt: skip
    mean = {k: float(np.mean([x[k] for x in losses])) for k in losses[0]} if losses else {}
    return {
        "step": step,
        "episodes": episodes,
        "seconds": round(seconds, 2),
        "games_per_s": round(episodes / max(seconds, 1e-9), 3),
        "simulations_per_s": round(simulations / max(seconds, 1e-9), 1),
        "policy_loss": round(mean.get("policy_loss", float("nan")), 5),
        "value_correctness_loss": round(mean.get("value_correctness_loss", float("nan")), 5),
        "value_latency_loss": round(mean.get("value_latency_loss", float("nan")), 6),
        "loss": round(mean.get("loss", float("nan")), 5),
        "best_length": best["length"] if best["length"] is not None else "",
        "correct_fraction": round(sum(recent) / max(len(recent), 1), 3),
        "replay_size": replay_size,
    }


def _append_metrics(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=METRIC_FIELDS)
        if new:
            out.writeheader()
        out.writerow(row)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint being resumed (their work is redone)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, fieldnames=METRIC_FIELDS, lineterminator="\n")
    out.writeheader()
    out.writerows(rows)
    write_atomic(path, buffer.getvalue())


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alphadev train", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--isa", default="cmov")
    p.add_argument("--steps", type=int, default=2000, help="learner steps in total")
    p.add_argument("--time-limit", type=float, help="seconds for this invocation")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="self-play processes (default cores - 1; 0 = in-process, reproducible)",
    )
    p.add_argument("--simulations", type=int, default=32, help="MCTS simulations per move")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", help="default runs/<timestamp>-sort<n>")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    p.add_argument("--init-from", metavar="CKPT", help="start from another run's weights")
    p.add_argument(
        "--demonstrations",
        type=int,
        default=0,
        help="imitate this many shortest programs from the exact enumeration "
        "(default 0: pure self-play)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.resume:
            saved = load_checkpoint(args.resume)["config"]
            known = {f.name for f in fields(TrainConfig)}
            config = TrainConfig(**{k: v for k, v in saved.items() if k in known})
            config.steps = args.steps if "--steps" in (argv or sys.argv) else config.steps
            config.time_limit = args.time_limit
            if args.workers is not None:
                config.workers = args.workers
            run_dir = Path(args.resume)
        else:
            if not 2 <= args.n <= 6:
                raise ValueError(f"--n must be between 2 and 6, got {args.n}")
            config = TrainConfig(
                n=args.n, isa=args.isa, steps=args.steps, time_limit=args.time_limit,
                simulations=args.simulations, batch_size=args.batch_size, lr=args.lr,
                seed=args.seed, demonstrations=args.demonstrations,
            )  # fmt: skip
            if args.workers is not None:
                config.workers = args.workers
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_dir = Path(args.run_dir or f"runs/{stamp}-sort{args.n}")
        if config.workers < 0 or config.steps < 0:
            raise ValueError("--workers and --steps must not be negative")
        SortTask(config.n, config.registers, config.isa)  # validates the ISA
        if args.init_from:
            load_network(args.init_from)  # fail early, before any work
    except (CheckpointError, ValueError) as exc:
        print(f"alphadev train: {exc}", file=sys.stderr)
        return 2

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, disable=not console.is_terminal) as bar:  # fmt: skip
        task_id = bar.add_task("training", total=config.steps)

        def on_progress(row: dict) -> None:
            bar.update(
                task_id,
                completed=row["step"],
                description=(
                    f"best {row['best_length'] or '-'}  loss {row['loss']:.3f}  "
                    f"episodes {row['episodes']}  correct {row['correct_fraction']:.0%}"
                ),
            )

        result = train(config, run_dir=run_dir, resume=bool(args.resume),
                       init_from=args.init_from, on_progress=on_progress)  # fmt: skip
    print(
        f"run {result.run_dir}: step {result.step}, episodes {result.episodes}, best length "
        f"{result.best_length or '-'}{' (interrupted)' if result.interrupted else ''}; "
        f"checkpoint {result.run_dir / CHECKPOINT}"
    )
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
