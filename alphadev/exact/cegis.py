"""The counterexample-guided loop the large-``n`` searches share (CEGIS).

A search over every tie-pattern row of sort7 or sort8 (thousands of rows) is slow; a search
over a few rows is fast but may return a core that is wrong on others. So: search on a small
row set, check the shortest candidates on every tie row, add rows they get wrong, search
again. It ends when a candidate verifies (nothing shorter is left to check), when no
candidate brings a row the set does not hold, when the search was stopped, or after
``max_rounds`` searches. A core it returns has passed the check on every tie row.

Used by :func:`alphadev.exact.best_first.with_counterexamples` and the comparator engine
(:mod:`alphadev.exact.comparators`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alphadev.exact.space import Core, failing_rows
from alphadev.tasks import SortTask

__all__ = ["Refined", "Round", "refine"]


@dataclass(frozen=True)
class Round:
    """What one search on a row set returned.

    Attributes:
        candidates: cores to check on every tie row, shortest first (unverified).
        verified: a core the search already checked on every tie row, or None.
        stopped: the search was asked to stop (no further round runs).
    """

    candidates: list[Core]
    verified: Core | None = None
    stopped: bool = False


@dataclass(frozen=True)
class Refined:
    """What the loop ended with.

    Attributes:
        best: the shortest core that verified in any round, or None.
        rounds: searches run.
        rows: ``int32[k, n]``, the row set of the last search.
        stopped: the last search was stopped.
        added_nothing: the last round's candidates brought no new row (or there were none).
    """

    best: Core | None
    rounds: int
    rows: np.ndarray
    stopped: bool
    added_nothing: bool


def _picked(fresh: list[list[int]], limit: int, spread: bool) -> list[list[int]]:
    if not spread:
        return fresh[:limit]
    step = max(1, len(fresh) // limit)
    return fresh[::step][:limit]


def refine(
    task: SortTask,
    search: Callable[[np.ndarray], Round],
    rows: np.ndarray,
    *,
    max_rounds: int,
    add_per_round: int,
    spread: bool = False,
) -> Refined:
    """Run ``search(rows) -> Round`` on a growing row set (``rows``: ``int32[k, n]`` to start).

    Each round first takes ``verified`` as the best core if it is shorter; then checks the
    candidates shorter than the best, shortest first: the first that verifies becomes the best
    and ends the checks; each that fails gives its tie rows the set does not hold yet, until
    ``add_per_round`` rows are gathered (``spread``: chosen evenly among one candidate's new
    rows instead of the first ones). The loop ends after a round that found a best core, was
    stopped, or added no row."""
    current = np.ascontiguousarray(rows, dtype=np.int32)
    best: Core | None = None
    rounds = 0
    result = Round([])
    added: list[list[int]] = []
    while rounds < max_rounds:
        rounds += 1
        result = search(current)
        if result.verified is not None and (best is None or len(result.verified) < len(best)):
            best = list(result.verified)
        found = False
        added = []
        known = {tuple(r) for r in current.tolist()}
        for core in result.candidates:
            if best is not None and len(core) >= len(best):
                break
            failing = failing_rows(task, list(core))
            if failing is None:
                best, found = list(core), True
                break
            fresh = [r for r in failing.tolist() if tuple(r) not in known]
            fresh = _picked(fresh, add_per_round - len(added), spread)
            known.update(tuple(r) for r in fresh)
            added += fresh
            if len(added) >= add_per_round:
                break
        if found or result.stopped or not added:
            break
        current = np.concatenate([current, np.array(added, dtype=np.int32)])
    return Refined(best, rounds, current, result.stopped, not added)
