"""Random search: uniformly random legal rollouts of the assembly game; keep the shortest
correct program. The floor every other method has to beat."""

from __future__ import annotations

import time

import numpy as np

from alphadev.baselines.result import BaselineResult
from alphadev.game import AssemblyGame
from alphadev.tasks import SortTask

__all__ = ["random_search"]


def random_search(
    task: SortTask,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    max_rollouts: int | None = None,
) -> BaselineResult:
    """Roll out until ``time_limit`` seconds or ``max_rollouts`` episodes; ``explored`` counts
    moves played. An episode ends as the game says: correct, at ``max_length``, or stuck."""
    rng = np.random.default_rng(seed)
    game = AssemblyGame(task)
    t0 = time.perf_counter()
    best = None
    best_time = None
    history: list[tuple[float, int]] = []
    moves = rollouts = 0
    while time.perf_counter() - t0 < time_limit:
        if max_rollouts is not None and rollouts >= max_rollouts:
            break
        rollouts += 1
        gs = game.initial_state()
        while not game.is_terminal(gs):
            if best is not None and gs.length >= len(best):
                break  # cannot beat the best any more
            legal = np.flatnonzero(game.legal_actions(gs))
            gs = game.play(gs, int(legal[rng.integers(len(legal))]))
            moves += 1
        if gs.correct and (best is None or gs.length < len(best)):
            best = game.program(gs)
            best_time = time.perf_counter() - t0
            history.append((best_time, len(best)))
    return BaselineResult("random", best, best_time, time.perf_counter() - t0, moves, history)
