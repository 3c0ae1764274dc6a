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

from numba import njit

from alphadev.game import NEXT_LOAD, STORED, WRITTEN

__all__ = ["DEAD", "lower_bound", "placed", "progress"]

DEAD = -1


@njit(cache=True, nogil=True)
def _held_by_register(state, book, expected, n, slot):  # pragma: no cover - compiled
    """Some written register holds ``expected[:, slot]`` in every row."""
    rows, cols = state.shape
    for c in range(n, cols):
        if not (book[WRITTEN] >> c) & 1:
            continue
        ok = True
        for r in range(rows):
            if state[r, c] != expected[r, slot]:
                ok = False
                break
        if ok:
            return True
    return False


@njit(cache=True, nogil=True)
def lower_bound(state, book, expected):  # pragma: no cover - compiled
    """Moves still needed at least, or ``DEAD`` (-1) if no continuation can be correct.
    ``state``: int32[rows, locations]; ``book``: the game's int64[6]; ``expected``:
    int32[rows, n]."""
    rows, cols = state.shape
    n = expected.shape[1]
    stored = book[STORED]
    next_load = book[NEXT_LOAD]
    for r in range(rows):
        for i in range(n):
            if (stored >> i) & 1:
                continue
            want = expected[r, i]
            found = False
            for c in range(next_load, cols):  # unread memory, then the written registers
                if (c < n or (book[WRITTEN] >> c) & 1) and state[r, c] == want:
                    found = True
                    break
            if not found:
                return DEAD
    bound = n - next_load
    for i in range(n):
        if (stored >> i) & 1:
            for r in range(rows):
                if state[r, i] != expected[r, i]:
                    return DEAD
            continue
        bound += 1
        if n >= 2 and not _held_by_register(state, book, expected, n, i):
            bound += 1
    return bound


@njit(cache=True, nogil=True)
def placed(state, book, expected):  # pragma: no cover - compiled
    """Output slots already solved: stored right, or held by a register in every row."""
    rows = state.shape[0]
    n = expected.shape[1]
    stored = book[STORED]
    count = 0
    for i in range(n):
        if (stored >> i) & 1:
            ok = True
            for r in range(rows):
                if state[r, i] != expected[r, i]:
                    ok = False
                    break
            count += ok
        elif _held_by_register(state, book, expected, n, i):
            count += 1
    return count


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
