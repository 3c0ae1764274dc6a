"""Compiled pieces of the compare-exchange engine (:mod:`~alphadev.exact.comparators`).

The inner step lowers one comparator ``(i, j)`` from an instruction-level state: it finds
every shortest instruction sequence, over a few *local* registers (those that hold wire ``i``
or ``j``, or no wire that is needed elsewhere), after which some written registers hold the
comparator's two outputs (``min`` of the wires on ``i``, ``max`` on ``j``). The other wires
stay where they are: no local register is the only holder of one of them.

**Row classes.** Only the local registers, the flags and the two goal values of a row matter
to the step, so it runs on one representative row per class of equal such tuples
(:func:`compress_rows`): exact, and usually a few dozen rows instead of thousands.

**Enumeration** (:func:`lowerings`): iterative deepening on the length ``L = 0, 1, ...,
max_len``; the first ``L`` with a solution is the only one returned. Moves obey the space's
rules (only written registers are read, a fresh register is the lowest unwritten one, no
``cmov`` before a ``cmp``, no two ``cmp`` in a row, every move changes the state). A branch is
cut when the goal columns no written local register holds outnumber the moves left, or when
some row holds a goal value in no written local register (:func:`~alphadev.exact.columns.is_dead`),
or when its state (up to renaming of the local registers) was reached before at no greater
depth. End states are deduplicated up to renaming; at most ``max_out`` are returned.

What an instruction computes comes from :func:`alphadev.emulator.result_of` and
:func:`alphadev.emulator.compare` only.
"""

from __future__ import annotations

import numpy as np

from alphadev.emulator import result_of
from alphadev.exact.columns import column_result, is_dead, renaming_key
from alphadev.exact.control import NODES, POLL_EVERY, STOP
from alphadev.exact.moves import CMP, compare_changes, may_play, play, write_changes
from alphadev.hashing import (
    FNV_PRIME,
    UNWRITTEN,
    column_hash,
    finish,
    fnv_seed,
    mix64,
    renaming_key_of,
)
from alphadev.jit import njit

__all__ = [
    "apply_core",
    "compress_rows",
    "holders",
    "lowerings",
    "node_key",
]

#: Slots of the table the enumeration dedups on (a power of two).
_TABLE = 1 << 10


@njit(cache=True, nogil=True)
def holders(regs, written, wires):  # pragma: no cover - compiled
    """``int64[R]``: the wire each register holds (its column equals the wire's), or -1."""
    num, rows = regs.shape
    out = np.full(num, -1, dtype=np.int64)
    for r in range(num):
        if not written[r]:
            continue
        for w in range(wires.shape[0]):
            same = True
            for i in range(rows):
                if regs[r, i] != wires[w, i]:
                    same = False
                    break
            if same:
                out[r] = w
                break
    return out


@njit(cache=True, nogil=True)
def compress_rows(regs, written, flags, flags_valid, local, goal):  # pragma: no cover
    """One representative per class of rows equal on the ``local`` registers, the flags (when
    valid) and the goal values, in a canonical order (values in ``0..7``), padded to a
    multiple of 8 rows by repeating the last class. ``goal``: int8[2, rows].
    Returns ``(cregs int8[k, m], cwritten int8[k], cflags int8[m], cgoal int8[2, m])``."""
    k = local.shape[0]
    rows = regs.shape[1]
    size = 64
    while size < 2 * rows:
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)
    size_mask = np.uint64(size - 1)
    codes = np.empty(rows, dtype=np.int64)
    m = 0
    for i in range(rows):
        c = np.int64(0)
        for a in range(k):
            r = local[a]
            v = regs[r, i] if written[r] else 0
            c = (c << 3) | np.int64(v)
        c = (c << 2) | np.int64((flags[i] + 1) if flags_valid else 0)
        c = (c << 3) | np.int64(goal[0, i])
        c = (c << 3) | np.int64(goal[1, i])
        slot = mix64(np.uint64(c)) & size_mask
        while True:
            if slots[slot] < 0:
                slots[slot] = c
                codes[m] = c
                m += 1
                break
            if slots[slot] == c:
                break
            slot = (slot + np.uint64(1)) & size_mask
    unique = np.sort(codes[:m])
    width = (m + 7) // 8 * 8  # whole words; the padding repeats the last class
    cregs = np.zeros((k, width), dtype=np.int8)
    cflags = np.zeros(width, dtype=np.int8)
    cgoal = np.zeros((2, width), dtype=np.int8)
    cwritten = np.zeros(k, dtype=np.int8)
    for a in range(k):
        cwritten[a] = written[local[a]]
    for j in range(width):
        c = unique[min(j, m - 1)]
        cgoal[1, j] = c & 7
        c >>= 3
        cgoal[0, j] = c & 7
        c >>= 3
        cflags[j] = (c & 3) - 1 if flags_valid else 0
        c >>= 2
        for a in range(k - 1, -1, -1):
            cregs[a, j] = c & 7
            c >>= 3
    return cregs, cwritten, cflags, cgoal


@njit(cache=True, nogil=True)
def _local_key(regs, written, flags, flags_valid, last_cmp, hashes):  # pragma: no cover
    """A key up to register renaming, as :func:`~alphadev.exact.columns.renaming_key` but over
    whole 8-row words (the row count is a multiple of 8) and with a caller's work space
    ``hashes`` (uint64[registers]): the multiset of written columns, the flags when valid,
    whether the last move was a ``cmp``. Never 0."""
    count = regs.shape[0]
    for r in range(count):
        if written[r]:
            words = regs[r].view(np.uint64)
            h = fnv_seed()
            for i in range(words.shape[0]):
                h = (h ^ words[i]) * FNV_PRIME
            hashes[r] = finish(h)
        else:
            hashes[r] = UNWRITTEN
    flags_hash = np.uint64(0)
    if flags_valid:
        words = flags.view(np.uint64)
        h = fnv_seed()
        for i in range(words.shape[0]):
            h = (h ^ (words[i] + np.uint64(3))) * FNV_PRIME
        flags_hash = finish(h)
    return renaming_key_of(hashes, flags_hash, flags_valid, last_cmp)


@njit(cache=True, nogil=True, inline="always")
def _missing(regs, written, goal, need):  # pragma: no cover - compiled
    """How many goal columns no written register holds; ``need[g]`` = 1 for each. Columns
    are whole 8-row words."""
    missing = 0
    for g in range(goal.shape[0]):
        target = goal[g].view(np.uint64)
        held = False
        for r in range(regs.shape[0]):
            if written[r]:
                words = regs[r].view(np.uint64)
                same = True
                for i in range(words.shape[0]):
                    if words[i] != target[i]:
                        same = False
                        break
                if same:
                    held = True
                    break
        need[g] = 0 if held else 1
        if not held:
            missing += 1
    return missing


@njit(cache=True, nogil=True)
def lowerings(
    cregs, cwritten, cflags, flags_valid, last_cmp, cgoal, actions, max_len, slack, max_out, control
):  # pragma: no cover - compiled
    """Every shortest sequence (up to ``max_len`` moves over ``actions``, ``int64[A, 3]`` of
    local ``(op, dst, src)``) after which written local registers hold both goal columns,
    one per distinct end state up to renaming, at most ``max_out``.

    With ``slack`` > 0 the sequences ``slack`` moves longer than the shortest are collected
    too (end states new up to renaming only), still at most ``max_len`` moves.

    Returns ``(length, count, sequences int64[max_out, max_len], generated, stopped)``:
    ``length`` is the shortest length, -1 when no sequence of at most ``max_len`` moves exists
    (or on a stop); a sequence ends at its first -1."""
    k, m = cregs.shape
    num_actions = actions.shape[0]
    depth_cap = max_len + 1
    s_regs = np.zeros((depth_cap, k, m), dtype=np.int8)
    s_flags = np.zeros((depth_cap, m), dtype=np.int8)
    s_written = np.zeros((depth_cap, k), dtype=np.int8)
    s_fv = np.zeros(depth_cap, dtype=np.int64)
    s_lc = np.zeros(depth_cap, dtype=np.int64)
    s_next = np.zeros(depth_cap, dtype=np.int64)
    s_missing = np.zeros(depth_cap, dtype=np.int64)
    s_need = np.zeros((depth_cap, 2), dtype=np.int64)
    path = np.zeros(max(max_len, 1), dtype=np.int64)
    seqs = np.full((max(max_out, 1), max(max_len, 1)), -1, dtype=np.int64)
    column = np.empty(m, dtype=np.int8)
    hashes = np.empty(k, dtype=np.uint64)
    table_keys = np.zeros(_TABLE, dtype=np.uint64)
    table_depth = np.zeros(_TABLE, dtype=np.int64)
    end_keys = np.zeros(2 * max(max_out, 1) + 1, dtype=np.uint64)
    mask = np.uint64(_TABLE - 1)
    generated = 0

    s_regs[0] = cregs
    s_flags[0] = cflags
    s_written[0] = cwritten
    s_fv[0] = flags_valid
    s_lc[0] = last_cmp
    count = 0
    shortest = -1
    s_missing[0] = _missing(cregs, cwritten, cgoal, s_need[0])
    if s_missing[0] == 0:
        if slack == 0:
            return 0, 1, seqs, generated, False
        shortest = 0
        count = 1
        root_key = _local_key(cregs, cwritten, cflags, flags_valid, last_cmp, hashes)
        end_keys[root_key % np.uint64(end_keys.shape[0])] = root_key

    for length in range(1, max_len + 1):
        if shortest >= 0 and length > shortest + slack:
            break
        table_keys[:] = 0
        s_next[0] = 0
        depth = 0
        while depth >= 0:
            a = s_next[depth]
            if a >= num_actions or count >= max_out:
                depth -= 1
                continue
            s_next[depth] = a + 1
            op = actions[a, 0]
            dst = actions[a, 1]
            src = actions[a, 2]
            w = s_written[depth]
            if not may_play(op, dst, src, w, s_fv[depth], s_lc[depth]):
                continue
            pr = s_regs[depth]
            pf = s_flags[depth]
            cr = s_regs[depth + 1]
            cf = s_flags[depth + 1]
            cw = s_written[depth + 1]
            # Every move left must now make a goal column that no register holds.
            forced = s_missing[depth] == length - depth
            if op == CMP:
                if forced or not compare_changes(pr, dst, src, pf, s_fv[depth], m, cf):
                    continue
                cr[:, :] = pr
                cw[:] = w
                s_fv[depth + 1] = 1
                s_lc[depth + 1] = 1
            else:
                if forced:
                    make0 = s_need[depth, 0] != 0
                    make1 = s_need[depth, 1] != 0
                    for i in range(m):
                        v = result_of(op, pr[dst, i], pr[src, i], pf[i])
                        column[i] = v
                        if make0 and v != cgoal[0, i]:
                            make0 = False
                        if make1 and v != cgoal[1, i]:
                            make1 = False
                        if not (make0 or make1):
                            break
                    if not (make0 or make1):
                        continue
                else:
                    column_result(op, dst, src, pr, pf, column)
                if not write_changes(column, pr, dst, w, m):
                    continue
                cr[:, :] = pr
                cr[dst, :] = column
                cf[:] = pf
                cw[:] = w
                cw[dst] = 1
                s_fv[depth + 1] = s_fv[depth]
                s_lc[depth + 1] = 0
            generated += 1
            if generated % POLL_EVERY == 0:
                control[NODES] += POLL_EVERY
                if control[STOP] != 0:
                    return -1, 0, seqs, generated, True
            rem = length - depth - 1
            missing = _missing(cr, cw, cgoal, s_need[depth + 1])
            s_missing[depth + 1] = missing
            if missing > rem or (missing == 0 and rem > 0):
                continue
            key = _local_key(cr, cw, cf, s_fv[depth + 1], s_lc[depth + 1], hashes)
            if rem == 0:
                if count >= max_out:
                    continue
                slot = key % np.uint64(end_keys.shape[0])
                fresh = True
                while end_keys[slot] != 0:
                    if end_keys[slot] == key:
                        fresh = False
                        break
                    slot = (slot + np.uint64(1)) % np.uint64(end_keys.shape[0])
                if fresh:
                    end_keys[slot] = key
                    for d in range(depth):
                        seqs[count, d] = path[d]
                    seqs[count, depth] = a
                    count += 1
                continue
            if is_dead(cr, cw, cgoal):
                continue
            slot = key & mask
            seen = False
            for _ in range(64):
                stored = table_keys[slot]
                if stored == 0:
                    table_keys[slot] = key
                    table_depth[slot] = depth + 1
                    break
                if stored == key:
                    if table_depth[slot] <= depth + 1:
                        seen = True
                    else:
                        table_depth[slot] = depth + 1
                    break
                slot = (slot + np.uint64(1)) & mask
            if seen:
                continue
            path[depth] = a
            depth += 1
            s_next[depth] = 0
        if count > 0 and shortest < 0:
            shortest = length
    control[NODES] += generated % POLL_EVERY
    return shortest, count, seqs, generated, False


@njit(cache=True, nogil=True)
def apply_core(regs, written, flags, status, core):  # pragma: no cover - compiled
    """Run ``core`` (``int64[L, 3]`` of ``(op, dst, src)`` over registers) in place on
    ``regs`` int8[R, rows], ``written``, ``flags``; ``status``: int64[2] (flags valid, last
    move was a ``cmp``)."""
    rows = regs.shape[1]
    column = np.empty(rows, dtype=np.int8)
    for t in range(core.shape[0]):
        op = core[t, 0]
        dst = core[t, 1]
        src = core[t, 2]
        was_cmp = play(op, dst, src, regs, written, flags, column)
        status[1] = was_cmp
        if was_cmp:
            status[0] = 1


@njit(cache=True, nogil=True)
def node_key(regs, written, flags, flags_valid, last_cmp, wires):  # pragma: no cover
    """Key of an outer node: the register state up to renaming and the wire columns in order."""
    key = renaming_key(regs, written, flags, flags_valid, last_cmp)
    for w in range(wires.shape[0]):
        key = (key ^ column_hash(wires[w])) * FNV_PRIME
        key ^= key >> np.uint64(31)
    return key if key != 0 else np.uint64(1)
