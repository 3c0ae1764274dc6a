"""Self-play on Ray (``alphadev train --ray [ADDRESS] --workers W``): the same episodes as the
worker processes of :mod:`alphadev.train.loop`, played by ``W`` Ray actors.

The shape is muzero-general's: the learner (this process, with its own replay buffer) puts
each new set of weights in Ray's object store once; every actor plays one episode per call and,
before it, pulls the newest weights when their version changed. An actor that dies (its node
lost, or killed) is replaced by a fresh one with a new seed and the episode it was playing is
asked of the new one; every episode already received is in the replay. Checkpoints, metrics
and the run folder are those of a run without Ray, so either kind of run resumes the other.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from alphadev.cluster import ActorPool, connect
from alphadev.game import AssemblyGame
from alphadev.network import NetworkConfig, PolicyValueNet
from alphadev.replay import Sample
from alphadev.tasks import SortTask
from alphadev.train.config import TrainConfig
from alphadev.train.self_play import SelfPlayer, derived_seed
from alphadev.train.stopping import ShouldStop, check

__all__ = ["EPISODES_IN_FLIGHT", "RaySelfPlay", "SelfPlayActor"]

#: Episodes asked of each actor at a time.
EPISODES_IN_FLIGHT = 2
#: Seconds between two looks at the clock while waiting for an actor's episode.
POLL_SECONDS = 0.1


class SelfPlayActor:
    """One self-play actor (a Ray actor class once wrapped by ``ray.remote``): a
    :class:`~alphadev.train.self_play.SelfPlayer` with its own network copy and seed."""

    def __init__(self, config: dict, seed: int) -> None:
        torch.set_num_threads(1)
        cfg = TrainConfig(**config)
        game = AssemblyGame(SortTask(cfg.n, cfg.registers, cfg.isa), max_length=cfg.longest)
        seed = derived_seed(seed)
        torch.manual_seed(seed)
        self.net = PolicyValueNet(NetworkConfig(**cfg.network))
        self.player = SelfPlayer(game, self.net, cfg, np.random.default_rng(seed))
        self.version = -1

    def play(self, weights: list, version: int, target_length: int) -> tuple[list[Sample], dict]:
        """One episode at ``target_length`` with the weights of ``version``: ``weights`` is a
        one-element list holding their ``ObjectRef`` (in a list, so that Ray hands it over
        unresolved and the actor fetches it only when the version is new)."""
        if version != self.version:
            import ray

            self.net.load_state_dict(ray.get(weights[0]))
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
            ``k``-th replacement.
        should_stop: polled while an episode is awaited
            (:class:`~alphadev.train.stopping.Stopped`; the actors are stopped by
            :meth:`close`).
    """

    def __init__(self, config: TrainConfig, curriculum, net: PolicyValueNet,
                 first_seed: int, *, should_stop: ShouldStop | None = None) -> None:  # fmt: skip
        self.config, self.curriculum, self.net = config, curriculum, net
        self.should_stop = should_stop
        self._cluster = connect(config.ray, workers=config.workers)
        ray = self._cluster.__enter__()
        try:
            actor_class = ray.remote(num_cpus=1)(SelfPlayActor)
            settings = asdict(config)

            def make(slot: int, incarnation: int):
                return actor_class.remote(settings, first_seed + slot + 1000 * incarnation)

            def call(actor, job):
                weights, version = self.weights
                return actor.play.remote([weights], version, self.curriculum.target)

            self.ray = ray
            self.version = 0
            self.weights = (ray.put(self._state_dict()), self.version)
            # Two episodes asked of each actor at a time: it starts the next one without
            # waiting for the round trip (that one may use weights one publish older).
            self.pool = ActorPool(make, call, config.workers, depth=EPISODES_IN_FLIGHT)
            for _ in range(EPISODES_IN_FLIGHT * config.workers):
                self.pool.submit("episode")
        except BaseException:
            self._cluster.__exit__(None, None, None)
            raise

    @property
    def restarts(self) -> int:
        """Actors replaced so far."""
        return self.pool.restarts

    def _state_dict(self) -> dict:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def next_episode(self) -> tuple[list[Sample], dict]:
        """The next episode any actor finishes (the actor is given its next one at once)."""
        timeout = None if self.should_stop is None else POLL_SECONDS
        while True:
            check(self.should_stop)
            finished = self.pool.next(timeout=timeout)
            if finished is not None:
                self.pool.submit("episode")
                return finished.result
            if not self.pool.running_jobs():
                self.pool.submit("episode")  # nothing ran (every actor replaced): start again

    def publish(self) -> None:
        """Put the current weights in the object store; each actor pulls them before its next
        episode."""
        self.version += 1
        self.weights = (self.ray.put(self._state_dict()), self.version)

    def close(self) -> None:
        """Stop the actors and leave (or shut down the local) Ray."""
        try:
            self.pool.shutdown()
        finally:
            self._cluster.__exit__(None, None, None)
