"""Self-play on Ray (``alphadev train --ray [ADDRESS] --workers W``): the same episodes as the
worker processes of :mod:`alphadev.train.loop`, played by ``W`` Ray actors.

The shape is muzero-general's: the learner (this process, with its own replay buffer) sends
each new set of weights to every actor once, and every actor plays one episode per call.
Checkpoints, metrics and the run folder are those of a run without Ray, so either kind of run
resumes the other.

Nothing this process sends or receives goes through Ray's object store: the weights ride inside
the first call an actor gets after each publish, and the episodes come back inside the replies
(:data:`INLINE_BYTES`). Ray ends a process at once, with no word and no checkpoint, when it
touches the object store of its node after that node died; kept out of it, the run outlives
its node.

Faults (:class:`alphadev.cluster.ActorPool` does the bookkeeping):

* An actor that dies (killed, or its node lost) is replaced by a fresh one with a new seed, and
  the episodes it was playing are asked again first, of the actors that are up; every episode
  already received is in the replay. When a node dies and the cluster has no free CPU for its
  actors' replacements, the run goes on with the actors left and says so on stderr
  (``going on with K of W self-play workers``; at the end ``continued with K of W self-play
  workers after losing a node``); a slot given up starts again when a CPU comes free.
* When the node this process joined through dies (Ray then ends every actor of the job), the
  run joins the cluster again (at most :data:`~alphadev.cluster.MAX_REJOINS` times, needing
  one CPU) and goes on with the current weights.
* When no actor can be had (every node lost, joining again failed, or the cluster's head no
  longer answers: :class:`~alphadev.cluster.ClusterLost`), :meth:`RaySelfPlay.next_episode`
  raises :class:`~alphadev.train.loop.TrainError` with one line: the loop writes the
  checkpoint and the command exits 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import torch

from alphadev.cluster import (
    MAX_REJOINS,
    ActorPool,
    ClusterError,
    ClusterLost,
    DriverNodeLost,
    Losses,
    WorkersLost,
    connect,
)
from alphadev.game import AssemblyGame
from alphadev.network import NetworkConfig, PolicyValueNet
from alphadev.replay import Sample
from alphadev.tasks import SortTask
from alphadev.train.config import TrainConfig
from alphadev.train.self_play import SelfPlayer, derived_seed
from alphadev.train.stopping import ShouldStop, check

__all__ = ["EPISODES_IN_FLIGHT", "INLINE_BYTES", "RaySelfPlay", "SelfPlayActor"]

#: Episodes asked of each actor at a time.
EPISODES_IN_FLIGHT = 2
#: Seconds between two looks at the clock while waiting for an actor's episode.
POLL_SECONDS = 0.1
#: Episodes in a row that may fail (raise inside an actor) before the run stops, per actor.
FAILURES_PER_WORKER = 3
#: Ray passes results (and arguments, up to its own limit of 10 MiB a call) up to this size
#: inside its calls and replies rather than through the object store (Ray's own default is
#: 100 KiB: a network's weights are larger).
INLINE_BYTES = 64 << 20
#: Ray's setting for :data:`INLINE_BYTES`, read from the environment by every Ray process.
INLINE_SETTING = "RAY_max_direct_call_object_size"


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name]`` is ``value`` within the block."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


class SelfPlayActor:
    """One self-play actor (a Ray actor class once wrapped by ``ray.remote``): a
    :class:`~alphadev.train.self_play.SelfPlayer` with its own network copy and seed."""

    def __init__(self, config: dict, seed: int) -> None:
        torch.set_num_threads(1)
        cfg = TrainConfig(**config)
        game = AssemblyGame(SortTask(cfg.n, cfg.registers, cfg.isa), max_length=cfg.longest,
                            moves=cfg.moves)  # fmt: skip
        seed = derived_seed(seed)
        torch.manual_seed(seed)
        self.net = PolicyValueNet(NetworkConfig(**cfg.network))
        self.player = SelfPlayer(game, self.net, cfg, np.random.default_rng(seed))
        self.version = -1

    def play(self, weights: dict | None, version: int,
             target_length: int) -> tuple[list[Sample], dict]:  # fmt: skip
        """One episode at ``target_length``, after loading ``weights`` (the state dict of
        ``version``) when given: the driver sends them with the first call after each publish,
        and Ray runs one caller's calls to an actor in order."""
        if weights is not None:
            self.net.load_state_dict(weights)
            self.version = version
        return self.player.episode(target_length)


class RaySelfPlay:
    """Where episodes come from in a Ray run (the interface of ``loop.SelfPlay``):
    :meth:`next_episode`, :meth:`publish`, :meth:`close`.

    Args:
        config: the run's config (``config.ray`` the address, ``config.workers`` the actors).
        curriculum: the loop's curriculum (its ``target`` is sent with every episode asked).
        net: the learner's network, whose weights :meth:`publish` sends.
        first_seed: actor ``i``'s seed is ``first_seed + i``, and ``+ 1000 * k`` for its
            ``k``-th replacement (the actors of a session after joining the cluster again
            count as replacements).
        should_stop: polled while an episode is awaited
            (:class:`~alphadev.train.stopping.Stopped`; the actors are stopped by
            :meth:`close`).
    """

    def __init__(self, config: TrainConfig, curriculum, net: PolicyValueNet,
                 first_seed: int, *, should_stop: ShouldStop | None = None) -> None:  # fmt: skip
        self.config, self.curriculum, self.net = config, curriculum, net
        self.first_seed = first_seed
        self.should_stop = should_stop
        self.losses = Losses("train", config.workers, noun="self-play workers")
        self.version = 0
        self.weights = self._state_dict()
        self.failures = 0  # episodes in a row that raised inside an actor
        self._fatal = False  # the run ends with a TrainError that says what was lost
        self._replaced = 0  # replacements of the sessions before this one (for the seeds)
        self._sent: dict[int, tuple[object, int]] = {}  # id(actor) -> (actor, version sent)
        self.pool: ActorPool | None = None
        self._cluster = None
        self._join()

    def _join(self) -> None:
        """Join the cluster (again: then one CPU is enough) and start the actors, each asked
        :data:`EPISODES_IN_FLIGHT` episodes."""
        cluster = connect(self.config.ray, workers=self.config.workers,
                          least=1 if self.losses.rejoins else None)  # fmt: skip
        inline = os.environ.get(INLINE_SETTING, str(INLINE_BYTES))
        with _environment(INLINE_SETTING, inline):  # this process's Ray reads it as it starts
            self.ray = ray = cluster.__enter__()
        self._cluster = cluster
        try:
            inline = {"env_vars": {INLINE_SETTING: inline}}  # the actors' (on any node)
            actor_class = ray.remote(num_cpus=1, runtime_env=inline)(SelfPlayActor)
            settings = asdict(self.config)
            replaced = self._replaced
            self._sent.clear()

            def make(slot: int, incarnation: int):
                seed = self.first_seed + slot + 1000 * (replaced + incarnation)
                return actor_class.remote(settings, seed)

            def call(actor, job):
                sent = self._sent.get(id(actor))
                weights = None if sent is not None and sent[1] == self.version else self.weights
                self._sent[id(actor)] = (actor, self.version)  # (the actor kept: its id too)
                return actor.play.remote(weights, self.version, self.curriculum.target)

            # Two episodes asked of each actor at a time: it starts the next one without
            # waiting for the round trip (that one may use weights one publish older).
            self.pool = ActorPool(make, call, self.config.workers, depth=EPISODES_IN_FLIGHT)
            self._top_up()
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        """End this session: stop the actors (their counts kept) and leave Ray."""
        pool, cluster = self.pool, self._cluster
        self.pool = self._cluster = None
        self._sent.clear()
        try:
            if pool is not None:
                self.losses.end(pool)
                self._replaced += max(pool.incarnations, default=0) + 1
                pool.shutdown()
        finally:
            if cluster is not None:
                cluster.__exit__(None, None, None)

    @property
    def restarts(self) -> int:
        """Actors replaced so far (a session that joined again counts its actors' replacements
        too)."""
        return self.losses.restarts + (self.pool.restarts if self.pool is not None else 0)

    def _state_dict(self) -> dict:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def _top_up(self) -> None:
        """Keep :data:`EPISODES_IN_FLIGHT` episodes asked per actor the pool has (running or
        queued; one actor's worth while every actor is being replaced), never more: an episode
        asked while no actor can take it waits in the queue, and no second one is added."""
        pool = self.pool
        wanted = EPISODES_IN_FLIGHT * max(1, pool.workers)
        for _ in range(wanted - len(pool.running_jobs()) - len(pool.queue)):
            pool.submit("episode")

    def next_episode(self) -> tuple[list[Sample], dict]:
        """The next episode any actor finishes (the actor is given its next one at once)."""
        while True:
            check(self.should_stop)
            if self.pool is None:  # the last session ended with this process's node
                self._rejoin()
            try:
                finished = self.pool.next(timeout=POLL_SECONDS)
            except DriverNodeLost as exc:
                self._leave()
                if not self.losses.rejoin(exc):
                    raise self._stop(f"{exc}; not joining the cluster again after "
                                     f"{MAX_REJOINS} times") from None  # fmt: skip
                continue
            except (WorkersLost, ClusterLost) as exc:
                self._leave()
                raise self._stop(str(exc)) from None
            except self.ray.exceptions.RayTaskError as exc:  # the episode itself raised
                self._failed(exc)
                continue
            self.losses.check(self.pool)
            if finished is not None:
                self.failures = 0
                self._top_up()
                return finished.result
            self._top_up()  # none came: the pool keeps its episodes asked, no more

    def _failed(self, exc: Exception) -> None:
        """An episode raised inside its actor: asked again, unless too many in a row failed
        (TrainError, naming the cause in one line)."""
        self.failures += 1
        if self.failures > FAILURES_PER_WORKER * self.config.workers:
            cause = getattr(exc, "cause", None) or exc
            first = (str(cause).strip().splitlines() or [""])[0]
            raise self._stop(f"{self.failures} self-play episodes in a row failed on Ray "
                             f"({type(cause).__name__}: {first})") from None  # fmt: skip
        self._top_up()

    def _rejoin(self) -> None:
        """Join the cluster again after this process's node died; TrainError when it cannot."""
        try:
            self._join()
        except ClusterError as exc:
            raise self._stop(f"lost the Ray node this run joined through and cannot join "
                             f"again ({exc})") from None  # fmt: skip

    def _stop(self, message: str) -> Exception:
        """The :class:`~alphadev.train.loop.TrainError` that ends the run (the loop writes the
        checkpoint and adds so to ``message``, the one line the command prints)."""
        from alphadev.train.loop import TrainError  # (the loop imports this module)

        self._fatal = True
        return TrainError(message)

    def publish(self) -> None:
        """The current weights are sent to each actor with the next episode asked of it."""
        self.version += 1
        self.weights = self._state_dict()

    def close(self) -> None:
        """Stop the actors and leave (or shut down the local) Ray; say what was lost."""
        try:
            self._leave()
        finally:
            if self.losses.summary() and not self._fatal:  # (else the error says what)
                self.losses.say(f"alphadev train: {self.losses.summary()}")
