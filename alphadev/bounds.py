"""Cheap facts about how far a game state is from a sorted one.

``lower_bound`` is an admissible bound on the moves still needed (it never overestimates), and
it detects dead states, from which no continuation is correct:

* a memory slot stored with a wrong value can never be fixed (each slot is written once);
* a value that some unstored output slot needs in some row is in no readable location (the
  registers and the memory slots not yet loaded; a loaded or stored slot cannot be read again
  under game rule 1): instructions only copy values, so it can never come back.

The bound counts, for sort ``n >= 2``:

* the loads not yet done (every input must be read once);
* the stores not yet done (every slot must be written once);
* one write per output slot whose sorted value is held by no register in every row (a store
  copies a register; a load yields an input, which is never the i-th smallest in every row; so a
  register has to be written to hold it, and one instruction writes one register).

``placed`` counts the output slots already solved (stored right, or held by some register in
every row): a progress signal for heuristic evaluators.
"""

from __future__ import annotations

import numpy as np

from alphadev.exact.columns import is_dead, missing_targets
from alphadev.game import NEXT_LOAD, STORED, WRITTEN
from alphadev.jit import njit

__all__ = ["DEAD", "lower_bound", "placed", "progress"]

DEAD = -1


@njit(cache=True, nogil=True)
def _open_slots(state, book, expected):  # pragma: no cover - compiled
    """The exact engines' view of a game state: ``(columns int32[locations, rows],
    readable int8[locations], registers int8[locations], targets int32[open, rows],
    wrong_store)``: the location columns, which locations can still be read (unread memory,
    written registers), which are written registers, the sorted columns of the slots not yet
    stored, and whether some stored slot holds a wrong value."""
    rows, cols = state.shape
    n = expected.shape[1]
    stored = book[STORED]
    readable = np.zeros(cols, dtype=np.int8)
    registers = np.zeros(cols, dtype=np.int8)
    for c in range(book[NEXT_LOAD], cols):
        if c < n:
            readable[c] = 1
        elif (book[WRITTEN] >> c) & 1:
            readable[c] = 1
            registers[c] = 1
    open_count = 0
    wrong_store = False
    for i in range(n):
        if (stored >> i) & 1:
            for r in range(rows):
                if state[r, i] != expected[r, i]:
                    wrong_store = True
        else:
            open_count += 1
    targets = np.empty((open_count, rows), dtype=state.dtype)
    k = 0
    for i in range(n):
        if not (stored >> i) & 1:
            for r in range(rows):
                targets[k, r] = expected[r, i]
            k += 1
    return state.T, readable, registers, targets, wrong_store


@njit(cache=True, nogil=True)
def lower_bound(state, book, expected):  # pragma: no cover - compiled
    """Moves still needed at least, or ``DEAD`` (-1) if no continuation can be correct.
    ``state``: int32[rows, locations]; ``book``: the game's int64[BOOK_SIZE]; ``expected``:
    int32[rows, n]. The dead-state and held-column facts are the exact engines' own
    (:func:`alphadev.exact.columns.is_dead`, :func:`~alphadev.exact.columns.missing_targets`)
    applied to the game's locations."""
    n = expected.shape[1]
    columns, readable, registers, targets, wrong_store = _open_slots(state, book, expected)
    if wrong_store or is_dead(columns, readable, targets):
        return DEAD
    bound = (n - book[NEXT_LOAD]) + targets.shape[0]  # loads and stores still to do
    if n >= 2:  # plus one write per open slot that no register holds yet
        bound += missing_targets(columns, registers, targets)
    return bound


@njit(cache=True, nogil=True)
def placed(state, book, expected):  # pragma: no cover - compiled
    """Output slots already solved: stored right, or held by a register in every row."""
    n = expected.shape[1]
    columns, _, registers, targets, wrong_store = _open_slots(state, book, expected)
    solved_stores = 0 if wrong_store else n - targets.shape[0]
    if wrong_store:  # count the right stores one by one
        for i in range(n):
            if (book[STORED] >> i) & 1:
                ok = True
                for r in range(state.shape[0]):
                    if state[r, i] != expected[r, i]:
                        ok = False
                        break
                solved_stores += ok
    return solved_stores + targets.shape[0] - missing_targets(columns, registers, targets)


@njit(cache=True, nogil=True)
def progress(state, book, expected):  # pragma: no cover - compiled
    """How much of the sort is done, in [0, 1]: for each output slot, 1 if stored right, else
    the largest fraction of rows in which one register holds that slot's sorted value; the
    mean over slots. 0 for a dead state (a slot stored wrong)."""
    rows, cols = state.shape
    n = expected.shape[1]
    stored = book[STORED]
    total = 0.0
    for i in range(n):
        if (stored >> i) & 1:
            for r in range(rows):
                if state[r, i] != expected[r, i]:
                    return 0.0
            total += 1.0
            continue
        best = 0
        for c in range(n, cols):
            if not (book[WRITTEN] >> c) & 1:
                continue
            hits = 0
            for r in range(rows):
                if state[r, c] == expected[r, i]:
                    hits += 1
            best = max(best, hits)
        total += best / rows
    return total / n
