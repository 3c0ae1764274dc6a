"""The training loop, top to bottom: set up, (resume), start self-play, then alternate
"gather episodes until the data ratio is met" and "one learner step", logging and
checkpointing as it goes; at exit (Ctrl-C included) stop the workers and checkpoint.

* **Self-play** (:mod:`alphadev.train.self_play`): ``workers`` processes play with the newest
  weights they were sent (every ``publish_every`` steps); ``workers=0`` plays in-process on a
  fixed schedule, so a seeded run is reproducible. With ``ray`` set, ``workers`` Ray actors
  play instead (:mod:`alphadev.train.ray_self_play`), on this machine or a cluster; the rest
  of the loop, and the run folder, are the same.
* **Learner** (:mod:`alphadev.train.learner`): batches sampled uniformly from the replay buffer
  (newest ``replay_capacity`` positions), plus ``demo_fraction`` from the demonstrations if any.
* **Curriculum** (:class:`Curriculum`): an episode counts as correct only if it sorts within
  the target length. The target starts loose (the game's default ``max_length`` plus
  ``curriculum_slack``), where the search sorts more often. Each time
  ``curriculum_window`` episodes at it were ``curriculum_threshold`` correct, it drops to one
  below the longest of their correct programs (so it follows what the agent already does);
  past the game's default it keeps going (shorter programs); when a whole window fails it
  steps back one, and tries again after the next good window. Every metrics row also plays
  the policy alone (no search) on the default game: ``policy_correct``, ``policy_length``.
* **Provenance**: the checkpoint records whether any program from outside the agent's own
  search (demonstrations, or weights given by ``init_from``) entered the run.
* **Run folder** (:mod:`alphadev.train.checkpoints`): ``checkpoint.pt``, ``metrics.csv``,
  TensorBoard logs, and ``best_sort{n}_{isa}.s``, the best verified program of the run.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from alphadev import asm
from alphadev.atomic import write_atomic
from alphadev.game import AssemblyGame, default_max_length
from alphadev.isa import Program
from alphadev.network import NetworkConfig, PolicyValueNet, load_network
from alphadev.replay import ReplayBuffer, Sample
from alphadev.tasks import SortTask, verify
from alphadev.train.checkpoints import (
    CHECKPOINT,
    FORMAT,
    METRICS,
    append_metrics,
    load_checkpoint,
    metrics_row,
    restore_rng,
    rng_state,
    save_checkpoint,
    tensorboard_writer,
    truncate_metrics,
)
from alphadev.train.config import TrainConfig
from alphadev.train.learner import learner_step
from alphadev.train.ray_self_play import RaySelfPlay
from alphadev.train.self_play import (
    SelfPlayer,
    demonstration_samples,
    greedy_policy_episode,
    worker,
)

__all__ = ["TrainResult", "train"]

#: Demonstration positions kept at most.
DEMO_CAPACITY = 100_000


@dataclass
class TrainResult:
    """What :func:`train` did: its folder, counters, the best length, every step's losses."""

    run_dir: Path
    step: int
    episodes: int
    best_length: int | None
    losses: list[dict[str, float]]
    interrupted: bool


@dataclass
class Counters:
    """The run's counters and best program: what a checkpoint keeps besides the tensors."""

    step: int = 0
    episodes: int = 0
    correct_episodes: int = 0
    simulations: int = 0
    seconds: float = 0.0  # wall time of earlier invocations (resumed runs)
    best: dict = field(default_factory=lambda: {"length": None, "text": ""})
    recent: deque = field(default_factory=lambda: deque(maxlen=100))  # correct? per episode
    recent_sorted: deque = field(default_factory=lambda: deque(maxlen=100))  # in the game


@dataclass
class Curriculum:
    """The target length of the episodes (see the module docstring)."""

    start: int
    window: int
    threshold: float
    target: int = 0
    results: list = field(default_factory=list)  # length if correct else 0, per episode

    def __post_init__(self) -> None:
        self.target = self.target or self.start

    def record(self, correct: bool, target: int, length: int) -> None:
        """Count an episode played at ``target`` that ended with ``length`` moves."""
        if target != self.target:
            return  # played before the last change
        self.results.append(length if correct else 0)
        if len(self.results) < self.window:
            return
        solved = [n for n in self.results[-self.window :] if n]
        if len(solved) >= self.threshold * self.window and max(solved) > 1:
            # below the longest recent correct episode: the next target asks for better
            self.target = min(self.target, max(solved)) - 1
            self.results = []
        elif not solved and self.target < self.start:
            self.target += 1  # a whole window failed: back one; it tries again later
            self.results = []

    def state_dict(self) -> dict:
        return {"target": self.target}


class SelfPlay:
    """Where episodes come from: ``workers`` processes, or this process when 0."""

    def __init__(self, config: TrainConfig, curriculum: Curriculum, game: AssemblyGame,
                 net: PolicyValueNet,
                 rng: np.random.Generator, first_seed: int) -> None:  # fmt: skip
        self.config, self.curriculum, self.net, self.rng = config, curriculum, net, rng
        self.player = SelfPlayer(game, net, config, rng) if config.workers == 0 else None
        self.procs, self.weight_queues = [], []
        self.episodes = self.stop = None
        if config.workers == 0:
            return
        ctx = torch.multiprocessing.get_context("spawn")
        self.episodes, self.stop = ctx.Queue(), ctx.Event()
        for w in range(config.workers):
            queue = ctx.Queue()
            queue.put(self._weights())
            proc = ctx.Process(target=worker, daemon=True,
                               args=(asdict(config), first_seed + w, queue, self.episodes,
                                     self.stop))  # fmt: skip
            proc.start()
            self.procs.append(proc)
            self.weight_queues.append(queue)

    def _weights(self) -> tuple[dict, int]:
        state = {k: v.clone() for k, v in self.net.state_dict().items()}
        return state, self.curriculum.target

    def next_episode(self) -> tuple[list[Sample], dict]:
        if self.player is not None:
            return self.player.episode(self.curriculum.target)
        return self.episodes.get()

    def publish(self) -> None:
        """Send the current weights to every worker."""
        snapshot = self._weights()
        for queue in self.weight_queues:
            queue.put(snapshot)

    def close(self) -> None:
        if self.stop is not None:
            self.stop.set()
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def train(
    config: TrainConfig,
    *,
    run_dir: str | Path,
    resume: bool = False,
    init_from: str | None = None,
    on_progress: Callable[[dict], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> TrainResult:
    """Run (or resume) training in ``run_dir``. ``on_progress(row)`` gets each metrics row;
    ``on_status(text)`` a line about the data gathered while no learner step has run yet."""
    # ---- set up: every random choice of the run is seeded here, once.
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    task = SortTask(config.n, config.registers, config.isa)
    longest = default_max_length(config.n) + config.curriculum_slack
    game = AssemblyGame(task, max_length=longest)  # self-play's and the learner's
    default_game = AssemblyGame(task)  # for the policy-alone metric
    curriculum = Curriculum(longest, config.curriculum_window, config.curriculum_threshold)
    net = PolicyValueNet(NetworkConfig(**config.network))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    replay = ReplayBuffer(config.replay_capacity)
    demos = ReplayBuffer(DEMO_CAPACITY)
    counters = Counters()

    # What entered the run besides the agent's own search.
    provenance = {"demonstrations": config.demonstrations, "init_from": init_from,
                  "self_play_only": config.demonstrations == 0 and init_from is None}  # fmt: skip

    # ---- resume, or start fresh (optionally from other weights and with demonstrations).
    if resume:
        saved = load_checkpoint(run_dir)
        net.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        replay = ReplayBuffer.from_state_dict(saved["replay"])
        demos = ReplayBuffer.from_state_dict(saved["demonstrations"])
        for key in ("step", "episodes", "correct_episodes", "simulations", "seconds"):
            setattr(counters, key, saved["counters"][key])
        counters.best = saved["best"]
        restore_rng(rng, saved["rng"])
        curriculum.target = saved["curriculum"]["target"]
        provenance = saved.get("provenance", provenance)
    else:
        if init_from is not None:
            net.load_state_dict(load_network(init_from).state_dict())
        if config.demonstrations > 0:
            demos.add(demonstration_samples(game, config.demonstrations))

    metrics_path = run_dir / METRICS
    truncate_metrics(metrics_path, counters.step)
    writer = tensorboard_writer(run_dir)
    losses: list[dict[str, float]] = []
    state_cache: dict = {}  # programs -> game states, for the learner
    t0 = time.perf_counter()
    deadline = None if config.time_limit is None else t0 + config.time_limit

    def elapsed() -> float:
        return counters.seconds + time.perf_counter() - t0

    def checkpoint() -> None:
        payload = {
            "format": FORMAT,
            "network_config": dict(config.network),
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "replay": replay.state_dict(),
            "demonstrations": demos.state_dict(),
            "counters": {"step": counters.step, "episodes": counters.episodes,
                         "correct_episodes": counters.correct_episodes,
                         "simulations": counters.simulations, "seconds": elapsed()},
            "rng": rng_state(rng),
            "config": asdict(config),
            "best": counters.best,
            "curriculum": curriculum.state_dict(),
            "provenance": provenance,
        }  # fmt: skip
        save_checkpoint(run_dir / CHECKPOINT, payload)

    # ---- self-play and learning.
    first_seed = config.seed * 1000 + 1 + counters.episodes
    if config.ray is not None:
        play = RaySelfPlay(config, curriculum, net, first_seed)
    else:
        play = SelfPlay(config, curriculum, game, net, rng, first_seed)
    interrupted = False
    try:
        while counters.step < config.steps and not _past(deadline):
            # Gather episodes until the replay is warm and the data ratio is met.
            wanted = math.ceil((counters.step + 1) * config.episodes_per_step)
            while len(replay) < config.min_replay or counters.episodes < wanted:
                if _past(deadline):
                    break
                samples, stats = play.next_episode()
                replay.add(samples)
                _record_episode(counters, stats, task, config, run_dir)
                target_before = curriculum.target
                curriculum.record(stats["correct"], stats["target_length"], stats["length"])
                if config.workers and curriculum.target != target_before:
                    play.publish()
                if on_status is not None and counters.step == 0:
                    on_status(f"self-play: {counters.episodes} episodes, {len(replay)} of "
                              f"{config.min_replay} positions before the first step")  # fmt: skip
            else:
                # One learner step.
                from_demos = round(config.batch_size * config.demo_fraction) if len(demos) else 0
                batch = replay.sample(config.batch_size - from_demos, rng)
                if from_demos:
                    batch += demos.sample(from_demos, rng)
                losses.append(learner_step(net, optimizer, game, batch, state_cache))
                counters.step += 1
                step = counters.step
                if config.workers and step % config.publish_every == 0:
                    play.publish()
                if step % config.log_every == 0 or step == config.steps:
                    row = metrics_row(step, counters.episodes, counters.simulations,
                                      counters.correct_episodes, counters.recent, counters.best,
                                      losses[-config.log_every:], len(replay),
                                      elapsed())  # fmt: skip
                    policy_correct, policy_length = greedy_policy_episode(default_game, net)
                    sorted_share = sum(counters.recent_sorted) / max(len(counters.recent_sorted), 1)
                    row.update(target_length=curriculum.target,
                               sorted_fraction=round(sorted_share, 3),
                               policy_correct=int(policy_correct),
                               policy_length=policy_length if policy_correct else "")  # fmt: skip
                    append_metrics(metrics_path, row)
                    if writer is not None:
                        for key, value in row.items():
                            if key != "step" and value != "":
                                writer.add_scalar(key, float(value), step)
                    if on_progress is not None:
                        on_progress(row)
                if step % config.checkpoint_every == 0:
                    checkpoint()
                continue
            break  # the time limit ran out while gathering data
    except KeyboardInterrupt:
        interrupted = True
    finally:
        play.close()
        checkpoint()
        if writer is not None:
            writer.close()
    return TrainResult(run_dir, counters.step, counters.episodes, counters.best["length"],
                       losses, interrupted)  # fmt: skip


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def _record_episode(counters: Counters, stats: dict, task: SortTask, config: TrainConfig,
                    run_dir: Path) -> None:  # fmt: skip
    """Count an episode; a new best correct program is verified and written to the run."""
    counters.episodes += 1
    counters.simulations += stats["simulations"]
    counters.recent.append(stats["correct"])
    counters.recent_sorted.append(stats.get("sorted", stats["correct"]))
    if not stats["correct"]:
        return
    counters.correct_episodes += 1
    program: Program = stats["program"]
    best = counters.best["length"]
    if best is not None and len(program) >= best:
        return
    result = verify(program, task)
    if not result.correct:
        return
    text = asm.format(program, header={
        "task": task.name, "isa": task.isa.name, "registers": str(task.registers),
        "length": str(len(program)),
        "found_by": f"alphadev train self-play, episode {counters.episodes}",
        "seed": str(config.seed),
        "verified": f"{result.tie_rows} tie-pattern rows + {result.random_rows} random int32 rows",
    })  # fmt: skip
    write_atomic(run_dir / f"best_{task.name}_{task.isa.name}.s", text)
    counters.best = {"length": len(program), "text": text}
