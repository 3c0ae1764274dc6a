"""What a learned cost-to-go sees of a comparator-beam state: n-independent features, compiled.

A state of the comparator search (:class:`~alphadev.exact.comparators.BeamState`) is encoded
as one token per pair of wires ``(i, j)``, ``i < j`` (``n(n-1)/2`` tokens) and a few global
numbers, so one set of weights reads sort3 and sort8 alike. Everything is measured on a
fixed sample of the state's rows (:func:`sample_rows`: at most :data:`SAMPLE_ROWS`, chosen
by a seeded generator from the row count alone, so a state's encoding never depends on the
search that reached it). "On every row" below means on every sampled row.

**A pair token** (:data:`PAIR_FEATURES` floats; a lowering of comparator ``(i, j)`` is short
when such copies and flags are at hand):

0. spare copies of wire ``i`` (registers other than its first holder equal to it), at most 3
1. spare copies of wire ``j``
2. registers equal to ``min(w_i, w_j)`` and to neither wire
3. registers equal to ``max(w_i, w_j)`` and to neither wire
4. registers equal, row by row, to one of the two wires and to none of the above
5. share of rows with ``w_i > w_j`` (the comparator's work)
6. share of rows with ``w_i == w_j``
7. 1 if ``w_i <= w_j`` on every row (the comparator is done)
8. 1 if the flags are valid and equal ``cmp w_i, w_j`` on every row
9. 1 if the flags are valid and equal ``cmp w_j, w_i`` on every row
10. ``i / (n - 1)``; 11. ``j / (n - 1)``; 12. ``(j - i) / (n - 1)``
13-16. registers no wire is first held by (those a lowering may overwrite) equal to ``w_i``,
    to ``w_j`` on the rows where ``w_i > w_j``, and to ``w_i``, to ``w_j`` on the rows where
    ``w_i < w_j`` (each at most 3; on a tie row the register must equal the tied value)
17. 1 if the comparator keeps the state on a shortest-network path (the caller's answer,
    :func:`encode_state`'s ``next_pairs``)

**The globals** (:data:`GLOBAL_FEATURES` floats): ``n / 8``, comparators still in the
budget / 16, comparators applied / 16, unwritten registers, written registers that hold no
wire, flags valid, last move a ``cmp``, registers beyond ``n``, and whether the ISA has
``min``/``max``.
"""

from __future__ import annotations

import functools

import numpy as np

from alphadev.jit import njit

__all__ = [
    "GLOBAL_FEATURES",
    "PAIR_FEATURES",
    "SAMPLE_ROWS",
    "encode_state",
    "sample_rows",
]

#: Floats per pair token.
PAIR_FEATURES = 18
#: Global floats per state.
GLOBAL_FEATURES = 9
#: Most rows the features are measured on.
SAMPLE_ROWS = 512
#: Spare-copy counts are clipped to this.
_MAX_COUNT = 3.0


@functools.lru_cache(maxsize=32)
def sample_rows(rows: int) -> np.ndarray:
    """int64[min(rows, SAMPLE_ROWS)]: the sampled row indices, ascending (all rows when there
    are few enough; otherwise a draw of ``numpy.random.default_rng(0)``)."""
    if rows <= SAMPLE_ROWS:
        return np.arange(rows, dtype=np.int64)
    picked = np.random.default_rng(0).choice(rows, size=SAMPLE_ROWS, replace=False)
    return np.sort(picked).astype(np.int64)


@njit(cache=True, nogil=True)
def _features(
    regs, written, flags, flags_valid, last_cmp, wires, sample, pair_out, global_out
):  # pragma: no cover - compiled
    num = regs.shape[0]
    n = wires.shape[0]
    count = sample.shape[0]
    # equal[r, w]: register r equals wire w on every sampled row.
    equal = np.zeros((num, n), dtype=np.bool_)
    holds_any = np.zeros(num, dtype=np.bool_)
    for r in range(num):
        if not written[r]:
            continue
        for w in range(n):
            same = True
            for k in range(count):
                row = sample[k]
                if regs[r, row] != wires[w, row]:
                    same = False
                    break
            equal[r, w] = same
            if same:
                holds_any[r] = True
    first = np.full(n, -1, dtype=np.int64)
    for w in range(n):
        for r in range(num):
            if equal[r, w]:
                first[w] = r
                break
    scale = max(n - 1, 1)
    p = 0
    for i in range(n):
        for j in range(i + 1, n):
            spare_i = 0.0
            spare_j = 0.0
            mins = 0.0
            maxs = 0.0
            mixed = 0.0
            for r in range(num):
                if not written[r]:
                    continue
                if equal[r, i] or equal[r, j]:
                    if equal[r, i] and r != first[i]:
                        spare_i += 1.0
                    if equal[r, j] and r != first[j]:
                        spare_j += 1.0
                    continue
                is_min = True
                is_max = True
                is_either = True
                for k in range(count):
                    row = sample[k]
                    v = regs[r, row]
                    a = wires[i, row]
                    b = wires[j, row]
                    low = min(a, b)
                    high = max(a, b)
                    if v != low:
                        is_min = False
                    if v != high:
                        is_max = False
                    if v != a and v != b:
                        is_either = False
                        break
                if not is_either:
                    continue
                if is_min:
                    mins += 1.0
                elif is_max:
                    maxs += 1.0
                else:
                    mixed += 1.0
            # Conditional copies among the registers a lowering of (i, j) may use (not the
            # first holder of any wire): equal to w_i / w_j on the rows where w_i > w_j, and
            # on the rows where w_i < w_j (a tie row agrees with both).
            part = np.zeros(4)
            for r in range(num):
                if not written[r]:
                    continue
                held = False
                for w in range(n):
                    if first[w] == r:
                        held = True
                if held:
                    continue
                a_hi = True
                b_hi = True
                a_lo = True
                b_lo = True
                for k in range(count):
                    row = sample[k]
                    v = regs[r, row]
                    a = wires[i, row]
                    b = wires[j, row]
                    if a > b:
                        a_hi = a_hi and v == a
                        b_hi = b_hi and v == b
                    elif a < b:
                        a_lo = a_lo and v == a
                        b_lo = b_lo and v == b
                    elif v != a:
                        a_hi = False
                        b_hi = False
                        a_lo = False
                        b_lo = False
                if a_hi:
                    part[0] += 1.0
                if b_hi:
                    part[1] += 1.0
                if a_lo:
                    part[2] += 1.0
                if b_lo:
                    part[3] += 1.0
            for q in range(4):
                pair_out[p, 13 + q] = min(part[q], _MAX_COUNT)
            above = 0
            ties = 0
            forward = flags_valid != 0
            backward = flags_valid != 0
            for k in range(count):
                row = sample[k]
                a = wires[i, row]
                b = wires[j, row]
                if a > b:
                    above += 1
                elif a == b:
                    ties += 1
                sign = (a > b) - (a < b)
                if flags[row] != sign:
                    forward = False
                if flags[row] != -sign:
                    backward = False
            pair_out[p, 0] = min(spare_i, _MAX_COUNT)
            pair_out[p, 1] = min(spare_j, _MAX_COUNT)
            pair_out[p, 2] = min(mins, _MAX_COUNT)
            pair_out[p, 3] = min(maxs, _MAX_COUNT)
            pair_out[p, 4] = min(mixed, _MAX_COUNT)
            pair_out[p, 5] = above / count
            pair_out[p, 6] = ties / count
            pair_out[p, 7] = 1.0 if above == 0 else 0.0
            pair_out[p, 8] = 1.0 if forward else 0.0
            pair_out[p, 9] = 1.0 if backward else 0.0
            pair_out[p, 10] = i / scale
            pair_out[p, 11] = j / scale
            pair_out[p, 12] = (j - i) / scale
            p += 1
    unwritten = 0.0
    free = 0.0
    for r in range(num):
        if not written[r]:
            unwritten += 1.0
        elif not holds_any[r]:
            free += 1.0
    global_out[3] = unwritten
    global_out[4] = free
    global_out[5] = 1.0 if flags_valid != 0 else 0.0
    global_out[6] = 1.0 if last_cmp != 0 else 0.0
    global_out[7] = num - n


def encode_state(
    regs: np.ndarray,
    written: np.ndarray,
    flags: np.ndarray,
    status: np.ndarray,
    wires: np.ndarray,
    *,
    remaining: int,
    applied: int,
    has_min_max: bool,
    next_pairs: list[tuple[int, int]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """The features of one state: ``(pairs float32[n(n-1)/2, PAIR_FEATURES], globals
    float32[GLOBAL_FEATURES])``.

    ``regs`` int8[R, rows], ``written`` int8[R], ``flags`` int8[rows], ``status`` int64[2]
    (flags valid, last move a ``cmp``), ``wires`` int8[n, rows]; ``remaining``: comparators
    still in the budget; ``applied``: comparators applied; ``has_min_max``: the ISA's;
    ``next_pairs``: the comparators ``(i, j)``, ``i < j``, that keep a shortest network."""
    n = wires.shape[0]
    pairs = np.zeros((n * (n - 1) // 2, PAIR_FEATURES), dtype=np.float32)
    glob = np.zeros(GLOBAL_FEATURES, dtype=np.float32)
    sample = sample_rows(regs.shape[1])
    _features(regs, written, flags, int(status[0]), int(status[1]), wires, sample, pairs, glob)
    index = {}
    for i in range(n):
        for j in range(i + 1, n):
            index[(i, j)] = len(index)
    for pair in next_pairs:
        pairs[index[pair], 17] = 1.0
    glob[0] = n / 8.0
    glob[1] = remaining / 16.0
    glob[2] = applied / 16.0
    glob[8] = 1.0 if has_min_max else 0.0
    return pairs, glob
