"""The progress potential Φ of a game state: a heuristic estimate of the return still to come.

``phi = p * (correct_bonus - latency_weight * (length + bound))
+ correctness_weight * p * (1 - score / max_score)``, with ``p`` =
:func:`alphadev.bounds.progress` (per output slot, the best fraction of rows one register
already gets right, in [0, 1]) and ``bound`` the admissible :func:`alphadev.bounds.lower_bound`
on the moves still needed: the reward still to come if the program finished at its lower-bound
length, weighted by a crude chance that it does. 0 for a dead state.

It serves twice: as the whole leaf value of the heuristic evaluator (no network), and as the
potential of potential-based shaping (Ng, Harada & Russell, 1999) for a network, whose value
head then learns only the residual ``return - phi``. Adding ``phi`` to a learned value at the
leaves is the same as shaping every reward by ``phi(s') - phi(s)`` (with discount 1), so the
best programs are unchanged.
"""

from __future__ import annotations

import numpy as np

from alphadev.bounds import DEAD, lower_bound, progress
from alphadev.game import AssemblyGame, GameState
from alphadev.jit import njit

__all__ = ["PHI_PARAMS", "phi", "phi_of_state", "phi_params"]

#: Layout of the float64 parameter vector of :func:`phi`.
PHI_PARAMS = ("correct_bonus", "latency_weight", "correctness_weight", "max_score")


def phi_params(game: AssemblyGame) -> np.ndarray:
    """float64[4]: the game's reward weights and ``max_score`` in :data:`PHI_PARAMS` order."""
    cfg = game.reward_config
    return np.array(
        [cfg.correct_bonus, cfg.latency_weight, cfg.correctness_weight, game.max_score],
        dtype=np.float64,
    )


@njit(cache=True, nogil=True)
def phi(state, book, score, length, bound, expected, params):  # pragma: no cover - compiled
    """Φ of one state. ``state``: int32[rows, locations]; ``book``: int64[BOOK_SIZE];
    ``bound``: its lower bound (``DEAD`` = -1 for a dead state); ``params``: float64[4]."""
    if bound == DEAD:
        return 0.0
    p = progress(state, book, expected)
    finish = params[0] - params[1] * (length + bound)
    return p * finish + params[2] * p * (1.0 - score / params[3])


def phi_of_state(game: AssemblyGame, gs: GameState, params: np.ndarray | None = None) -> float:
    """Φ of a :class:`~alphadev.game.GameState` (see the module docstring)."""
    params = phi_params(game) if params is None else params
    expected = game.task.expected
    bound = lower_bound(gs.state, gs.book, expected)
    return float(phi(gs.state, gs.book, gs.score, gs.length, bound, expected, params))
