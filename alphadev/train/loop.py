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
  past the game's default it keeps going (shorter programs); when a third of a window fails
  in a row it steps back one, and tries again after a good stay one level up that doubles
  with each failure at that target (``k`` failures: ``window * 2**k`` episodes), so the time
  spent asking for a length that may not exist shrinks geometrically. A failed episode
  played at a target below the run's best length is not learned from: it says only that the
  record was not beaten (and perhaps cannot be), while the value head, which does not see the
  target, would learn its positions as lost. Every metrics row also plays
  the policy alone (no search) on the default game: ``policy_correct``, ``policy_length``.
* **Provenance**: the checkpoint records whether any program from outside the agent's own
  search (demonstrations, or weights given by ``init_from``) entered the run.
* **Run folder** (:mod:`alphadev.train.checkpoints`): ``checkpoint.pt``, ``metrics.csv``,
  TensorBoard logs, and ``best_sort{n}_{isa}.s``, the best verified program of the run.

:func:`train` is :func:`prepare` then :func:`run`. :func:`prepare` builds and checks everything
a run starts from (the run folder, the checkpoint being resumed and its metrics file, the
weights of ``init_from``) and writes nothing, so a bad input is refused before any work and
leaves the disk as it was. :func:`run` plays and learns until ``steps``, the time limit
(:mod:`alphadev.train.stopping`: polled inside every long phase, counted from ``started``) or
Ctrl-C, always within the memory plan (:mod:`alphadev.train.memory`), and ends with a
checkpoint; :attr:`TrainResult.stop_reason` says why it stopped. A write that fails (a full or
read-only disk) stops the run with :class:`~alphadev.train.checkpoints.RunFolderError` after
one more try at the checkpoint; the message says whether it was written.
"""

from __future__ import annotations

import contextlib
import math
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from alphadev import asm
from alphadev.atomic import write_atomic
from alphadev.game import AssemblyGame
from alphadev.interrupts import on_sigint
from alphadev.isa import Program
from alphadev.network import (
    CheckpointError,
    NetworkConfig,
    PolicyValueNet,
    load_network,
    read_checkpoint_file,
)
from alphadev.progress import plural
from alphadev.replay import ReplayBuffer, Sample
from alphadev.tasks import SortTask, verify
from alphadev.train.checkpoints import (
    CHECKPOINT,
    FORMAT,
    METRICS,
    RunFolderError,
    append_metrics,
    check_run_folder,
    load_checkpoint,
    metrics_row,
    read_metrics,
    restore_rng,
    rng_state,
    save_checkpoint,
    tensorboard_writer,
    write_metrics,
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
from alphadev.train.stopping import Deadline, ShouldStop, Stopped, check

__all__ = ["STOP_REASONS", "Prepared", "TrainError", "TrainResult", "prepare", "run", "train"]

#: Demonstration positions kept at most.
DEMO_CAPACITY = 100_000
#: Seconds between two looks at the clock while waiting for a worker's episode.
POLL_SECONDS = 0.1
#: Finished episodes each worker may have waiting for the learner; a worker that is this far
#: ahead waits. Without the bound a worker faster than the learner piles up a backlog: the
#: learner then trains on ever older episodes, played with ever older weights, and the run stops
#: learning (measured: sort3 seed 1, 469 episodes waiting after 115 s, 1-4% correct at 300 s;
#: bounded, best 17 by 250 s and 91% correct; see docs/training.md).
EPISODES_AHEAD = 2
#: Seconds the workers get to stop by themselves before they are terminated (what they were
#: playing is dropped either way).
CLOSE_SECONDS = 0.2
#: Why a run stopped (:attr:`TrainResult.stop_reason`), as the command line says it.
STOP_REASONS = {
    "steps": "steps reached",
    "time_limit": "time limit reached",
    "target": "target length reached",
    "interrupted": "interrupted by Ctrl-C",
}


class TrainError(RuntimeError):
    """The run could not go on for a reason other than its input (its self-play workers all
    died); the checkpoint was written first."""


@dataclass
class TrainResult:
    """What :func:`train` did: its folder, counters, the best length, every step's losses, why
    it stopped (a key of :data:`STOP_REASONS`) and the checkpoint it wrote at the end."""

    run_dir: Path
    step: int
    episodes: int
    best_length: int | None
    losses: list[dict[str, float]]
    interrupted: bool
    stop_reason: str = "steps"
    checkpoint: Path | None = None


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
    failed: dict = field(default_factory=dict)  # target -> windows that failed at it

    def __post_init__(self) -> None:
        self.target = self.target or self.start

    def record(self, correct: bool, target: int, length: int) -> None:
        """Count an episode played at ``target`` that ended with ``length`` moves."""
        if target != self.target:
            return  # played before the last change
        self.results.append(length if correct else 0)
        give_up = self.give_up_after << self.failed.get(self.target, 0)
        recent = self.results[-give_up:]
        if self.target < self.start and len(recent) == give_up and not any(recent):
            # failed every time lately: back one; this target waits twice as long next time,
            # and is then tried twice as long
            self.failed[self.target] = self.failed.get(self.target, 0) + 1
            self.target += 1
            self.results = []
            return
        if len(self.results) < self.window:
            return
        solved = [n for n in self.results[-self.window :] if n]
        if len(solved) >= self.threshold * self.window and max(solved) > 1:
            # below the longest recent correct episode: the next target asks for better,
            # once the agent has stayed here for the patience that target has earned
            lower = min(self.target, max(solved)) - 1
            if len(self.results) >= self.window << self.failed.get(lower, 0):
                self.target = lower
                self.results = []

    @property
    def give_up_after(self) -> int:
        """Failed episodes in a row at a target below the start that send it back one, the
        first time: a third of the window (an agent that sorts half the time fails that often
        in a row with odds of about 1 in 65,000 at the default window); twice as many each
        time that target failed before. A shorter program can be rare: the sort4 agent of
        compare-exchanges that held 36 first found a 32 after 43 episodes at target 35, and
        those episodes are short (a tight bound kills most positions early)."""
        return max(1, self.window // 3)

    def state_dict(self) -> dict:
        return {"target": self.target, "failed": {str(t): k for t, k in self.failed.items()}}


class SelfPlay:
    """Where episodes come from: ``workers`` processes, or this process when 0.
    ``should_stop`` is polled while an episode is played here or awaited from a worker
    (:class:`~alphadev.train.stopping.Stopped`)."""

    def __init__(self, config: TrainConfig, curriculum: Curriculum, game: AssemblyGame,
                 net: PolicyValueNet, rng: np.random.Generator, first_seed: int,
                 should_stop: ShouldStop | None = None) -> None:  # fmt: skip
        self.config, self.curriculum, self.net, self.rng = config, curriculum, net, rng
        self.should_stop = should_stop
        self.player = (SelfPlayer(game, net, config, rng, should_stop)
                       if config.workers == 0 else None)  # fmt: skip
        self.procs, self.weight_queues = [], []
        self.episodes = self.stop = None
        if config.workers == 0:
            return
        ctx = torch.multiprocessing.get_context("spawn")
        self.episodes = ctx.Queue(maxsize=EPISODES_AHEAD * config.workers)
        self.stop = ctx.Event()
        for w in range(config.workers):
            queue_ = ctx.Queue()
            queue_.put(self._weights())
            proc = ctx.Process(target=worker, daemon=True,
                               args=(asdict(config), first_seed + w, queue_, self.episodes,
                                     self.stop))  # fmt: skip
            proc.start()
            self.procs.append(proc)
            self.weight_queues.append(queue_)

    def _weights(self) -> tuple[dict, int]:
        state = {k: v.clone() for k, v in self.net.state_dict().items()}
        return state, self.curriculum.target

    def next_episode(self) -> tuple[list[Sample], dict]:
        if self.player is not None:
            return self.player.episode(self.curriculum.target)
        while True:
            check(self.should_stop)
            try:
                return self.episodes.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not any(proc.is_alive() for proc in self.procs):
                    codes = ", ".join(str(proc.exitcode) for proc in self.procs)
                    raise TrainError(
                        f"every self-play worker exited (exit codes {codes}; a negative code "
                        "is the signal that killed it, -9 often the out-of-memory killer)"
                    ) from None

    def publish(self) -> None:
        """Send the current weights to every worker."""
        snapshot = self._weights()
        for queue_ in self.weight_queues:
            queue_.put(snapshot)

    def close(self) -> None:
        """Stop the workers: each drops the episode under way at its next network pass; one
        that has not stopped within :data:`CLOSE_SECONDS` is terminated."""
        if self.stop is not None:
            self.stop.set()
        for queue_ in self.weight_queues:
            queue_.cancel_join_thread()  # never wait at exit on a pipe no one reads
        until = time.perf_counter() + CLOSE_SECONDS
        for proc in self.procs:
            proc.join(timeout=max(0.0, until - time.perf_counter()))
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=1)


@dataclass
class Prepared:
    """Everything a run starts from, built and checked by :func:`prepare` (nothing written)."""

    config: TrainConfig
    run_dir: Path
    resume: bool
    init_from: str | None
    task: SortTask
    game: AssemblyGame
    default_game: AssemblyGame
    curriculum: Curriculum
    net: PolicyValueNet
    optimizer: torch.optim.Optimizer
    replay: ReplayBuffer
    demos: ReplayBuffer
    counters: Counters
    provenance: dict
    rng: np.random.Generator
    metrics_rows: list | None  # resumed: the metrics rows kept (None: no file yet)


def prepare(config: TrainConfig, *, run_dir: str | Path, resume: bool = False,
            init_from: str | None = None, saved: dict | None = None) -> Prepared:  # fmt: skip
    """Build and check what a run starts from, writing nothing: the run folder
    (:func:`~alphadev.train.checkpoints.check_run_folder`; a fresh run must not start over
    another), the checkpoint being resumed (``saved`` if the caller has loaded it already) and
    its metrics file, and the weights of ``init_from``. Seeds every random choice of the run.
    Raises :class:`~alphadev.network.CheckpointError` or
    :class:`~alphadev.train.checkpoints.RunFolderError` naming the file and what is wrong."""
    run_dir = Path(run_dir)
    task = SortTask(config.n, config.registers, config.isa)
    check_run_folder(run_dir, fresh=not resume, others=(_best_name(task),))
    if resume and not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir}: not a folder (nothing to resume)")
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    game = AssemblyGame(task, max_length=config.longest, moves=config.moves)  # self-play's
    default_game = AssemblyGame(task, moves=config.moves)  # for the policy-alone metric
    inherited = _inherited_provenance(init_from) if init_from is not None and not resume else None
    curriculum = Curriculum(config.longest, config.curriculum_window, config.curriculum_threshold)
    net = PolicyValueNet(NetworkConfig(**config.network))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    prepared = Prepared(
        config=config, run_dir=run_dir, resume=resume, init_from=init_from, task=task,
        game=game, default_game=default_game, curriculum=curriculum, net=net,
        optimizer=optimizer, replay=ReplayBuffer(config.replay_capacity),
        demos=ReplayBuffer(DEMO_CAPACITY), counters=Counters(),
        # what entered the run besides the agent's own search
        provenance={"demonstrations": config.demonstrations, "init_from": init_from,
                    "init_from_provenance": inherited, "moves": config.moves,
                    "self_play_only": config.demonstrations == 0 and (
                        init_from is None or bool((inherited or {}).get("self_play_only")))},
        rng=rng, metrics_rows=None,
    )  # fmt: skip
    if resume:
        path = run_dir / CHECKPOINT
        _restore(prepared, load_checkpoint(run_dir) if saved is None else saved, path)
        prepared.metrics_rows = read_metrics(run_dir / METRICS, prepared.counters.step)
    elif init_from is not None:
        weights = load_network(init_from).state_dict()
        try:
            net.load_state_dict(weights)
        except (RuntimeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{init_from}: its weights do not fit this run's network "
                                  f"({_first_line(exc)})") from None  # fmt: skip
    return prepared


def _inherited_provenance(init_from: str) -> dict | None:
    """The provenance saved with the weights a run starts from (None where the file has none:
    a net saved by hand, or before provenance existed). A net trained by self-play alone
    passes that on: a run from it (transfer from a smaller sort) is still self-play only."""
    data = read_checkpoint_file(init_from)
    provenance = data.get("provenance") if isinstance(data, dict) else None
    return dict(provenance) if isinstance(provenance, dict) else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _whole(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _restore(prep: Prepared, saved: dict, path: Path) -> None:
    """Load ``saved`` into ``prep``; :class:`~alphadev.network.CheckpointError` naming ``path``
    and what does not fit when the checkpoint is inconsistent (a valid digest says only that
    the file is as it was written, not that what was written makes sense)."""

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: {why}")

    needed = ("model", "optimizer", "replay", "demonstrations", "counters", "rng", "best",
              "curriculum")  # fmt: skip
    missing = [key for key in needed if key not in saved]
    if missing:
        raise bad(f"incomplete checkpoint (no {', '.join(missing)})")
    try:
        prep.net.load_state_dict(saved["model"])
    except Exception as exc:  # torch: RuntimeError for shapes, others for a foreign object
        raise bad(f"its weights do not fit its network config ({_first_line(exc)})") from None
    try:
        prep.optimizer.load_state_dict(saved["optimizer"])
    except Exception as exc:
        raise bad(f"its optimizer state does not fit its network ({_first_line(exc)})") from None
    game = prep.game
    for key in ("replay", "demonstrations"):
        try:
            buffer = ReplayBuffer.from_state_dict(saved[key])
        except Exception as exc:
            raise bad(f"its {key} buffer is damaged ({_first_line(exc)})") from None
        for sample in buffer.samples:
            if len(sample.policy) != game.num_actions or len(sample.program) > game.max_length:
                raise bad(f"its {key} buffer does not fit sort{prep.config.n} with "
                          f"{prep.task.registers} registers and --isa {prep.config.isa} "
                          f"({game.num_actions} actions, programs of at most "
                          f"{game.max_length} moves)")  # fmt: skip
            if any(not 0 <= a < game.num_actions for a in sample.program):
                raise bad(f"its {key} buffer holds an action outside the action space")
        if key == "replay":
            prep.replay = buffer
        else:
            prep.demos = buffer
    counters = saved["counters"]
    names = ("step", "episodes", "correct_episodes", "simulations")
    if not isinstance(counters, dict) or not all(_whole(counters.get(k)) for k in names):
        raise bad("its counters are damaged (step, episodes, ... must be whole numbers >= 0)")
    seconds = counters.get("seconds")
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise bad("its counters are damaged (seconds must be a finite number >= 0)")
    for key in names:
        setattr(prep.counters, key, counters[key])
    prep.counters.seconds = float(seconds)
    best = saved["best"]
    if (not isinstance(best, dict) or not isinstance(best.get("text"), str)
            or not (best.get("length") is None or _whole(best.get("length"), 1))):  # fmt: skip
        raise bad("its best program is damaged (expected a length and a text)")
    prep.counters.best = {"length": best["length"], "text": best["text"]}
    target = saved["curriculum"].get("target") if isinstance(saved["curriculum"], dict) else None
    if not _whole(target, 1) or target > game.max_length:
        raise bad(f"its curriculum target {target!r} is not a length from 1 to "
                  f"{game.max_length}")  # fmt: skip
    prep.curriculum.target = target
    failed = saved["curriculum"].get("failed", {})
    if not isinstance(failed, dict) or not all(
        isinstance(t, str) and t.isdigit() and _whole(k, 1) for t, k in failed.items()
    ):
        raise bad("its curriculum's failed targets are damaged (expected length: count)")
    prep.curriculum.failed = {int(t): k for t, k in failed.items()}
    try:
        restore_rng(prep.rng, saved["rng"])
    except Exception as exc:
        raise bad(f"its random-number states are damaged ({_first_line(exc)})") from None
    provenance = saved.get("provenance", prep.provenance)
    if not isinstance(provenance, dict):
        raise bad("its provenance is damaged (expected a dict)")
    prep.provenance = provenance


def train(
    config: TrainConfig,
    *,
    run_dir: str | Path,
    resume: bool = False,
    init_from: str | None = None,
    on_progress: Callable[[dict], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    started: float | None = None,
) -> TrainResult:
    """Run (or resume) training in ``run_dir``: :func:`prepare`, then :func:`run`.
    ``on_progress(row)`` gets each metrics row; ``on_status(text)`` a line about the data
    gathered while no learner step has run yet; ``started`` (a :func:`time.perf_counter`
    reading, default now) is when the time limit began."""
    started = time.perf_counter() if started is None else started
    prepared = prepare(config, run_dir=run_dir, resume=resume, init_from=init_from)
    return run(prepared, on_progress=on_progress, on_status=on_status, started=started)


def run(
    prep: Prepared,
    *,
    on_progress: Callable[[dict], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    started: float | None = None,
) -> TrainResult:
    """Play and learn from ``prep`` until the steps are done, the time limit (counted from
    ``started``, default now) is reached or Ctrl-C; then stop the workers and checkpoint."""
    config, counters = prep.config, prep.counters
    t0 = time.perf_counter()
    should_stop = Deadline(t0 if started is None else started, config.time_limit)
    losses: list[dict[str, float]] = []  # every learner step's
    state_cache: dict = {}  # programs -> game states, for the learner
    stop_reason, failure, play, writer = "steps", None, None, None
    with on_sigint(lambda: _interrupt(should_stop)):
        try:
            # 1. The run folder, its metrics so far and the TensorBoard log; demonstrations.
            writer = _open_run_folder(prep)
            if not prep.resume and config.demonstrations > 0 and len(prep.demos) == 0:
                prep.demos.add(_demonstrations(prep.game, config.demonstrations, should_stop))
            # 2. Self-play starts (worker processes, Ray actors, or this process).
            play = _start_self_play(prep, should_stop)
            while counters.step < config.steps:
                check(should_stop)
                # 3. Gather episodes until the replay is warm and the data ratio is met.
                _gather_episodes(prep, play, on_status)
                best = counters.best["length"]
                if config.target is not None and best is not None and best <= config.target:
                    stop_reason = "target"
                    break
                # 4. One learner step (dropped whole if the time runs out in it).
                losses.append(_learner_step(prep, state_cache, should_stop))
                counters.step += 1
                # 5. On their schedules: new weights to the workers, a metrics row, a checkpoint.
                step = counters.step
                if config.workers and step % config.publish_every == 0:
                    play.publish()
                if step % config.log_every == 0 or step == config.steps:
                    _log_metrics(prep, losses, _elapsed(prep, t0), should_stop, writer, on_progress)
                if step % config.checkpoint_every == 0:
                    _checkpoint(prep, _elapsed(prep, t0))
        except Stopped:
            stop_reason = "interrupted" if should_stop.interrupted else "time_limit"
        except KeyboardInterrupt:
            stop_reason = "interrupted"
        except (RunFolderError, TrainError) as exc:
            failure = exc
        finally:
            # 6. Always: stop the workers, write the checkpoint, close the log.
            written, failure, late = _close_run(prep, play, writer, t0, failure)
            if late or should_stop.interrupted:
                stop_reason = "interrupted"
    if failure is not None:
        kept = f"checkpoint {written} written" if written else "no checkpoint written"
        raise type(failure)(f"{failure}; stopped at step {counters.step}; {kept}")
    return TrainResult(prep.run_dir, counters.step, counters.episodes, counters.best["length"],
                       losses, stop_reason == "interrupted", stop_reason, written)  # fmt: skip


def _interrupt(should_stop: Deadline) -> None:
    """Ctrl-C during a run: the stop request every poll sees, then the ``KeyboardInterrupt``
    that ends a blocking wait at once. Where a library swallows the exception (Ray's ctypes
    callbacks print it and go on), the request still stops the run at the next poll."""
    should_stop.interrupt()
    raise KeyboardInterrupt


def _elapsed(prep: Prepared, t0: float) -> float:
    """Seconds of training in all: earlier invocations' (a resumed run) and this one's."""
    return prep.counters.seconds + time.perf_counter() - t0


def _open_run_folder(prep: Prepared):
    """Create the run folder, write the metrics rows a resumed run kept, and open the
    TensorBoard log (None without TensorBoard)."""
    run_dir = prep.run_dir
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"run folder {run_dir}: cannot create it "
                             f"({exc.strerror or exc})") from None  # fmt: skip
    if prep.metrics_rows is not None:
        write_metrics(run_dir / METRICS, prep.metrics_rows)
    return tensorboard_writer(run_dir)


def _start_self_play(prep: Prepared, should_stop: Deadline) -> SelfPlay | RaySelfPlay:
    """Where the episodes come from: Ray actors with ``ray`` set, else :class:`SelfPlay`; the
    seeds go on from the episodes already played."""
    config, counters = prep.config, prep.counters
    first_seed = config.seed * 1000 + 1 + counters.episodes
    if config.ray is not None:
        return RaySelfPlay(config, prep.curriculum, prep.net, first_seed, should_stop=should_stop)
    return SelfPlay(config, prep.curriculum, prep.game, prep.net, prep.rng, first_seed,
                    should_stop)  # fmt: skip


def _gather_episodes(prep: Prepared, play: SelfPlay | RaySelfPlay,
                     on_status: Callable[[str], None] | None) -> None:  # fmt: skip
    """Episodes into the replay until it holds ``min_replay`` positions and the episodes keep
    up with the steps (``episodes_per_step``), each counted (:func:`_record_episode`) and
    told to the curriculum; a new target goes to the workers at once. Before the first step
    ``on_status`` hears how much is gathered."""
    config, counters, replay, curriculum = prep.config, prep.counters, prep.replay, prep.curriculum
    wanted = math.ceil((counters.step + 1) * config.episodes_per_step)
    while len(replay) < config.min_replay or counters.episodes < wanted:
        samples, stats = play.next_episode()
        if _worth_learning(stats, counters.best["length"]):
            replay.add(samples)
        _record_episode(counters, stats, prep.task, config, prep.run_dir)
        target_before = curriculum.target
        curriculum.record(stats["correct"], stats["target_length"], stats["length"])
        if config.workers and curriculum.target != target_before:
            play.publish()
        if on_status is not None and counters.step == 0:
            played = plural(counters.episodes, "episode")
            on_status(f"self-play: {played}, {len(replay)} of {config.min_replay} "
                      "positions before the first step")  # fmt: skip


def _learner_step(prep: Prepared, state_cache: dict, should_stop: Deadline) -> dict[str, float]:
    """One learner step on a batch from the replay (``demo_fraction`` of it from the
    demonstrations, if any), within the memory plan; its losses."""
    config, rng, demos = prep.config, prep.rng, prep.demos
    plan = config.plan
    from_demos = round(config.batch_size * config.demo_fraction) if len(demos) else 0
    batch = prep.replay.sample(config.batch_size - from_demos, rng)
    if from_demos:
        batch += demos.sample(from_demos, rng)
    return learner_step(prep.net, prep.optimizer, prep.game, batch, state_cache,
                        chunk=plan.learn_chunk, cache_bytes=plan.state_cache_bytes,
                        should_stop=should_stop, threaded=plan.threaded)  # fmt: skip


def _log_metrics(prep: Prepared, losses: list, seconds: float, should_stop: Deadline, writer,
                 on_progress: Callable[[dict], None] | None) -> None:  # fmt: skip
    """The step's metrics row (:func:`_metrics`) to ``metrics.csv``, TensorBoard and
    ``on_progress``."""
    row = _metrics(prep, losses, seconds, should_stop)
    append_metrics(prep.run_dir / METRICS, row)
    if writer is not None:
        for key, value in row.items():
            if key != "step" and value != "":
                writer.add_scalar(key, float(value), prep.counters.step)
    if on_progress is not None:
        on_progress(row)


def _checkpoint(prep: Prepared, seconds: float) -> None:
    """Write ``checkpoint.pt``: the tensors, the replay, the counters (``seconds`` of training
    in all), the random states, the config, the best program, the curriculum, the provenance."""
    config, counters, run_dir = prep.config, prep.counters, prep.run_dir
    payload = {
        "format": FORMAT,
        "network_config": dict(config.network),
        "model": prep.net.state_dict(),
        "optimizer": prep.optimizer.state_dict(),
        "replay": prep.replay.state_dict(),
        "demonstrations": prep.demos.state_dict(),
        "counters": {"step": counters.step, "episodes": counters.episodes,
                     "correct_episodes": counters.correct_episodes,
                     "simulations": counters.simulations, "seconds": seconds},
        "rng": rng_state(prep.rng),
        "config": asdict(config),
        "best": counters.best,
        "curriculum": prep.curriculum.state_dict(),
        "provenance": prep.provenance,
    }  # fmt: skip
    try:
        save_checkpoint(run_dir / CHECKPOINT, payload)
    except OSError as exc:
        raise RunFolderError(f"run folder {run_dir}: cannot write {CHECKPOINT} "
                             f"({exc.strerror or exc})") from None  # fmt: skip


def _close_run(
    prep: Prepared, play: SelfPlay | RaySelfPlay | None, writer, t0: float,
    failure: Exception | None,
) -> tuple[Path | None, Exception | None, bool]:  # fmt: skip
    """At the end of a run, however it ended: stop the workers, write the checkpoint (a Ctrl-C
    meanwhile waits for it) and close the TensorBoard log. Returns the checkpoint written
    (None: not written), the failure to raise (``failure``, told of a checkpoint that could
    not be written either), and whether a Ctrl-C came meanwhile."""
    written = None
    late: list[bool] = []
    with on_sigint(lambda: late.append(True)):
        try:
            if play is not None:
                play.close()
        finally:
            try:
                _checkpoint(prep, _elapsed(prep, t0))
                written = prep.run_dir / CHECKPOINT
            except RunFolderError as exc:
                if failure is None:
                    failure = exc
                else:
                    failure = type(failure)(f"{failure}; checkpoint not written either "
                                            f"({exc})")  # fmt: skip
            finally:
                if writer is not None:
                    with contextlib.suppress(OSError):
                        writer.close()
    return written, failure, bool(late)


def _metrics(prep: Prepared, losses: list, seconds: float, should_stop: ShouldStop) -> dict:
    """The metrics row of the step just done (the policy-alone columns empty if the time
    limit came while the policy played)."""
    counters, config = prep.counters, prep.config
    row = metrics_row(counters.step, counters.episodes, counters.simulations,
                      counters.correct_episodes, counters.recent, counters.best,
                      losses[-config.log_every:], len(prep.replay), seconds)  # fmt: skip
    try:
        policy = greedy_policy_episode(prep.default_game, prep.net, should_stop,
                                       threaded=config.plan.threaded)  # fmt: skip
    except Stopped:
        policy = None
    sorted_share = sum(counters.recent_sorted) / max(len(counters.recent_sorted), 1)
    row.update(target_length=prep.curriculum.target, sorted_fraction=round(sorted_share, 3),
               policy_correct="" if policy is None else int(policy[0]),
               policy_length=policy[1] if policy is not None and policy[0] else "")  # fmt: skip
    return row


def _demonstrations(game: AssemblyGame, count: int, should_stop: Deadline) -> list[Sample]:
    """:func:`~alphadev.train.self_play.demonstration_samples`, stopped at the deadline."""
    from alphadev.exact import SearchControl

    control = SearchControl()
    left = should_stop.left()
    timer = None
    if left is not None:
        timer = threading.Timer(left, control.stop)
        timer.daemon = True
        timer.start()
    try:
        samples = demonstration_samples(game, count, control)
    finally:
        if timer is not None:
            timer.cancel()
    check(should_stop)
    return samples


def _worth_learning(stats: dict, best_length: int | None) -> bool:
    """Whether an episode's positions go to the replay: all but a failed attempt at a target
    below the run's best length (see the module docstring, Curriculum)."""
    return stats["correct"] or best_length is None or stats["target_length"] >= best_length


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
    counters.best = {"length": len(program), "text": text}
    name = _best_name(task)
    try:
        write_atomic(run_dir / name, text)
    except OSError as exc:
        raise RunFolderError(f"run folder {run_dir}: cannot write {name} "
                             f"({exc.strerror or exc})") from None  # fmt: skip


def _best_name(task: SortTask) -> str:
    """The run's best program file: ``best_sort3_cmov.s``."""
    return f"best_{task.name}_{task.isa.name}.s"
