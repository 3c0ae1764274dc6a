"""Gumbel root selection's arithmetic as pure array functions (Danihelka et al., 2022, "Policy
improvement by planning with Gumbel"): normalised Q, the completed Q of unvisited actions, the
sigma transform, and the improved policy that is the training target. :meth:`MCTS.gumbel_search
<alphadev.mcts.driver.MCTS.gumbel_search>` reads the root's slots of the tree and calls these;
nothing here touches the tree. ``A`` is the game's number of actions."""

from __future__ import annotations

import numpy as np

__all__ = ["completed_q", "improved_policy", "normalised_q", "prior_logits", "sigma"]


def normalised_q(
    reward: np.ndarray, value_sum: np.ndarray, visits: np.ndarray, discount: float,
    minmax: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """float64[A]: ``reward + discount * mean value`` per action, scaled into [0, 1] by the
    tree's ``minmax`` (float[2]: lowest, highest value seen); 0 where unvisited.

    Args: ``reward``, ``value_sum`` float[A]; ``visits`` int[A]."""
    n = visits.astype(np.float64)
    q = reward + discount * np.divide(value_sum, n, out=np.zeros_like(n), where=n > 0)
    lo, hi = minmax
    q = np.clip((q - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(q)
    return np.where(n > 0, q, 0.0)


def completed_q(q: np.ndarray, visits: np.ndarray, value: float, minmax: np.ndarray) -> np.ndarray:
    """float64[A]: ``q`` where visited; elsewhere the mean of the visited ``q`` (or, with
    nothing visited, the node's own ``value`` scaled by ``minmax``)."""
    visited = visits > 0
    if visited.any():
        mixed = float(q[visited].mean())
    else:
        lo, hi = minmax
        mixed = float(np.clip((value - lo) / (hi - lo), 0, 1)) if hi > lo else 0.0
    return np.where(visited, q, mixed)


def sigma(completed: np.ndarray, visits: np.ndarray, c_visit: float, c_scale: float) -> np.ndarray:
    """float64[A]: ``(c_visit + most visits of an action) * c_scale * completed``: the bonus
    added to the logits, growing with the search's confidence."""
    return (c_visit + float(visits.max(initial=0))) * c_scale * completed


def prior_logits(prior: np.ndarray) -> np.ndarray:
    """float64[A]: log of the prior (floored at 1e-12)."""
    return np.log(np.maximum(prior.astype(np.float64), 1e-12))


def improved_policy(logits: np.ndarray, bonus: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """float32[A]: softmax(``logits + bonus``) over the ``legal`` actions (bool[A]), 0 on the
    others: the completed-Q policy a network learns from."""
    z = np.where(legal, logits + bonus, -np.inf)
    z = np.exp(z - z.max())
    return (z / z.sum()).astype(np.float32)
