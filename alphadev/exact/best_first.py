"""Best-first search over row-set states: a greedy/beam mode that gets past sorting networks,
an exact A* mode that proves, and a counterexample-guided loop for large ``n``.

The space is :class:`~alphadev.exact.space.Space` (``n`` loads into ``r0..r{n-1}``, a register
core, ``n`` stores) with the game's rules in the core, as in
:mod:`~alphadev.exact.branch_bound`: a fresh register is the lowest unwritten one, no two
``cmp`` in a row, no ``cmov`` before a ``cmp``, only written registers are read, and every move
must change the state.

**Row sets.** A state is the register columns over a set of input rows. Two rows whose
registers, flags (when valid) and sorted target agree behave the same forever, so each state is
expanded on one representative per class of equal rows (the first in the input order). Each
row is packed into a ``uint64`` (3 bits per register value, 2 bits of flags, 3 bits per target
value; hence ``n <= 8`` and at most 10 registers), which makes "equal rows" exact, not hashed.
The state key (:func:`_state_key`) is the multiset of register columns over the
representatives plus the flags, so it is invariant under register renaming and independent of
the path that reached the state.

**Modes.**

* ``beam`` (:func:`beam_search`): best-first on ``f = depth_weight * g + weight * log2(h)``
  where ``h`` is the number of
  distinct *output contents* (the rows projected onto ``n`` registers, minimised over which
  registers are left out as scratch, plus the target), the progress measure of Ullrich & Hack
  (CGO 2025): it falls from ``n!`` to 1 on the permutations and to ``2**(n-1)`` on all tie
  rows. A child is cut when its ``h`` exceeds ``slack`` times the smallest ``h`` seen at its
  depth, and (with ``width``) when its depth already holds ``width`` states. The search is
  anytime: after each solution it keeps going for a shorter one until the (finite, because
  cut) frontier runs dry. Fast, never a proof.
* ``exact`` (:func:`astar`): A* with ``h`` = the number of sorted columns no register holds
  (each needs its own write, so ``h`` is consistent), the dead-state prune and the last-move
  prune of :mod:`~alphadev.exact.columns`, and a transposition table of best depths. The first
  solution generated is optimal; an empty frontier below ``max_core`` proves that no core of
  at most ``max_core`` exists (up to 64-bit key collisions, which can only hide a program).

**Memory.** Node records (16 bytes: parent, move, depth, ``h``, next; no state) and the
transposition table (10 bytes a slot) are sized from ``memory_bytes``. A state taken from the
frontier is therefore rebuilt by replaying its path from the root (one pass over every row per
move of the path); each of its children is then one pass over its representative rows. A full
table is only weaker dedup (nothing is dropped, so a proof still stands); a full node store
stops the search (``capped``, and then nothing is proved).

**Threads.** The kernel is ``@njit(nogil=True)``, polls ``control.array[STOP]`` every
:data:`~alphadev.exact.control.POLL_EVERY` states, and on more than 4,096 rows (sort7's and
sort8's permutations) before every state it takes and every move it tries, so that a stop is
seen within milliseconds; it adds generated states to ``control.array[NODES]``.

Every core returned has passed :func:`alphadev.tasks.verify` on all tie-pattern rows; a
search on fewer rows (:func:`with_counterexamples`) adds the rows a candidate gets wrong and
searches again.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alphadev.exact.cegis import Round, refine
from alphadev.exact.columns import (
    column_result,
    creates_target,
    is_dead,
    missing_targets,
)
from alphadev.exact.control import NODES, POLL_EVERY, POLL_ROWS, STOP, SearchControl
from alphadev.exact.moves import CMP, compare_changes, may_play, play, write_changes
from alphadev.exact.space import Core, core_actions, failing_rows
from alphadev.hashing import UNWRITTEN, finish, fnv_mix, fnv_seed, mix64, renaming_key_of
from alphadev.jit import njit
from alphadev.tasks import SortTask, tie_pattern_rows

__all__ = [
    "BestFirstResult",
    "astar",
    "beam_search",
    "permutation_rows",
    "with_counterexamples",
]


# Kernel statuses (out[0]).
_FOUND = 0
_EXHAUSTED = 1
_STOPPED = 2
_CAPPED = 3

# Slots of the kernel's int64 parameter array (``_P_SIZE`` of them).
(_P_EXACT, _P_LIMIT, _P_WIDTH, _P_SLACK, _P_MAX_NODES, _P_MAX_SOLUTIONS) = range(6)
_P_WEIGHT, _P_FINAL, _P_DEPTH_WEIGHT = 6, 7, 8
_P_SIZE = 9
# Slots of the kernel's int64 output array (``_O_SIZE`` of them).
_O_STATUS, _O_NODES, _O_EXPANDED, _O_TABLE_FULL, _O_NODE_FULL, _O_SOLUTIONS, _O_USED = range(7)
_O_SIZE = 7

_NODE_BYTES = 16  # parent int32, action int16, depth int16, h int32, next int32
_SLOT_BYTES = 10  # key uint64, depth int16
_PROBES = 64


@dataclass(frozen=True, kw_only=True)
class BestFirstResult:
    """What one search saw.

    Attributes:
        status: ``"found"`` (``core`` is set), ``"exhausted"`` (the frontier ran dry with no
            verified core), or ``"stopped"`` (stop request, ``max_nodes``, or the memory cap).
        core: the best core found, over register indices, verified on every tie pattern.
        mode: ``"beam"`` or ``"exact"``.
        proved: True only for an exact run that was not capped: a found core is then optimal
            in the space, and ``"exhausted"`` means no core of at most ``max_core`` exists.
        nodes: states generated; ``expanded``: states expanded.
        seconds: wall-clock time.
        capped: some table reached its ``memory_bytes`` share.
        rows: the number of input rows searched on (the last round for a CEGIS loop).
        rounds: search rounds (1, or the CEGIS iterations).
        candidate: the shortest core found on the searched rows, verified or not (on a
            subset of the rows it may fail on the others; :func:`with_counterexamples` uses it).
    """

    status: str
    core: Core | None
    mode: str
    proved: bool
    nodes: int
    seconds: float
    capped: bool
    expanded: int = 0
    rows: int = 0
    rounds: int = 1
    candidate: Core | None = None

    @property
    def length(self) -> int | None:
        """Core length, or None."""
        return None if self.core is None else len(self.core)


# --------------------------------------------------------------------------------------------
# Compiled pieces
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _masked_hash(values, mask, count):  # pragma: no cover - compiled
    """Hash of ``values[i]`` over the rows ``i < count`` with ``mask[i] != 0``."""
    h = fnv_seed()
    for i in range(count):
        if mask[i]:
            h = fnv_mix(h, values[i] + 3)
    return finish(h)


@njit(cache=True, nogil=True)
def _state_key(regs, written, flags, flags_valid, last_cmp, first, count, hashes):
    # pragma: no cover - compiled
    """Renaming-invariant hash of a state over the rows with ``first[i] != 0`` among the first
    ``count`` columns of ``regs`` (int8[registers, >= count]). ``hashes``: uint64[registers]
    work space. Never 0."""
    for r in range(regs.shape[0]):
        hashes[r] = _masked_hash(regs[r], first, count) if written[r] else UNWRITTEN
    flags_hash = _masked_hash(flags, first, count) if flags_valid else np.uint64(0)
    return renaming_key_of(hashes, flags_hash, flags_valid, last_cmp)


@njit(cache=True, nogil=True)
def _distinct(values, count, mask, set_keys, set_stamp, epoch, first):
    # pragma: no cover - compiled
    """Number of distinct ``values[i] & mask`` for ``i < count``; with ``first`` (int8[>=
    count], or a 0-length array) marks the first occurrence of each. ``set_keys``/``set_stamp``
    are a hash set (power-of-two size >= 2 * count) cleared by bumping ``epoch``."""
    size_mask = np.uint64(set_keys.shape[0] - 1)
    distinct = 0
    mark = first.shape[0] > 0
    for i in range(count):
        v = values[i] & mask
        slot = mix64(v) & size_mask
        while True:
            if set_stamp[slot] != epoch:
                set_stamp[slot] = epoch
                set_keys[slot] = v
                distinct += 1
                if mark:
                    first[i] = 1
                break
            if set_keys[slot] == v:
                if mark:
                    first[i] = 0
                break
            slot = (slot + np.uint64(1)) & size_mask
    return distinct


@njit(cache=True, nogil=True, inline="always")
def _report(out, status, generated, expanded, used):  # pragma: no cover - compiled
    """The kernel's end: its status and counters into ``out`` (int64[_O_SIZE])."""
    out[_O_STATUS] = status
    out[_O_NODES] = generated
    out[_O_EXPANDED] = expanded
    out[_O_USED] = used


@njit(cache=True, nogil=True, inline="always")
def _flag_bits(f, shift):  # pragma: no cover - compiled
    return np.uint64(f + 2) << np.uint64(shift)


@njit(cache=True, nogil=True)
def _kernel(
    regs0,
    written0,
    targets,
    target_bits,
    actions,
    exclusions,
    params,
    parent,
    action_of,
    depth_of,
    h_of,
    next_of,
    keys,
    key_depth,
    control,
    out,
    solutions,
    depth_stats,
):  # pragma: no cover - compiled
    """Best-first search from the state after the loads.

    ``regs0``: int8[R, rows] (registers after the loads, unwritten ones 0); ``written0``:
    int8[R]; ``targets``: int8[n, rows], the sorted column of each slot; ``target_bits``:
    uint64[rows], each row's packed target (bits above the registers and flags);
    ``actions``: int64[A, 3]; ``exclusions``: int64[M], bitmasks of the register sets that may
    be left out as scratch when counting output contents; ``params``: int64[9] (``_P_SIZE``,
    see ``_P_*``); node store ``parent``/``next_of``/``h_of`` int32[N], ``action_of``/
    ``depth_of`` int16[N]; table ``keys`` uint64[T] (power of two, zeroed) and ``key_depth``
    int16[T]; ``control``: int64[4]; ``out``: int64[7] (``_O_SIZE``, see ``_O_*``);
    ``solutions``: int64[S], node ids of each improving solution, shortest last;
    ``depth_stats``: int64[limit + 2, 2], work space (beam: per depth, the smallest ``h`` seen
    and the states pushed).
    """
    num_regs, rows = regs0.shape
    n = targets.shape[0]
    exact = params[_P_EXACT] != 0
    limit = params[_P_LIMIT]
    width = params[_P_WIDTH]
    slack = params[_P_SLACK]  # thousandths
    max_nodes = params[_P_MAX_NODES]
    max_solutions = params[_P_MAX_SOLUTIONS]
    weight = params[_P_WEIGHT] / 1000.0  # beam: f = g + weight * log2(h / final)
    final = max(params[_P_FINAL], 1)
    depth_weight = params[_P_DEPTH_WEIGHT] / 1000.0  # beam: the weight of g in f, in [-1, 1]
    offset = 0 if exact else limit + 1  # beam: keeps f >= 0 when depth_weight < 0
    capacity = parent.shape[0]
    table_mask = np.uint64(keys.shape[0] - 1)
    flag_shift = 3 * num_regs
    flag_clear = ~(np.uint64(3) << np.uint64(flag_shift))

    # Per-depth bookkeeping (beam): smallest h seen and states pushed.
    best_h = depth_stats[:, 0]
    pushed = depth_stats[:, 1]
    best_h[:] = np.int64(1) << 40
    pushed[:] = 0
    buckets = limit + rows + 2
    if not exact:
        buckets = 2 * limit + int(weight * np.log2(rows + 1.0)) + 6
    heads = np.full(buckets, -1, dtype=np.int32)

    # Work space.
    cur = np.empty((num_regs, rows), dtype=np.int8)
    cur_flags = np.zeros(rows, dtype=np.int8)
    cur_written = np.empty(num_regs, dtype=np.int8)
    full_packed = np.empty(rows, dtype=np.uint64)
    first = np.zeros(rows, dtype=np.int8)
    reps = np.empty(rows, dtype=np.int64)
    p_regs = np.empty((num_regs, rows), dtype=np.int8)  # parent over its representatives
    p_flags = np.empty(rows, dtype=np.int8)
    p_targets = np.empty((n, rows), dtype=np.int8)
    p_packed = np.empty(rows, dtype=np.uint64)
    c_regs = np.empty((num_regs, rows), dtype=np.int8)
    c_flags = np.empty(rows, dtype=np.int8)
    c_written = np.empty(num_regs, dtype=np.int8)
    c_packed = np.empty(rows, dtype=np.uint64)
    column = np.empty(rows, dtype=np.int8)
    scratch = np.empty(rows, dtype=np.int8)
    hashes = np.empty(num_regs, dtype=np.uint64)
    chain = np.empty(limit + 2, dtype=np.int64)
    set_size = 1
    while set_size < 2 * rows + 2:
        set_size *= 2
    set_keys = np.zeros(set_size, dtype=np.uint64)
    set_stamp = np.zeros(set_size, dtype=np.int64)
    no_mark = np.zeros(0, dtype=np.int8)
    epoch = 0
    exclusion_masks = np.empty(exclusions.shape[0], dtype=np.uint64)
    for m in range(exclusions.shape[0]):
        mask = ~np.uint64(0)
        for r in range(num_regs):
            if (exclusions[m] >> r) & 1:
                mask &= ~(np.uint64(7) << np.uint64(3 * r))
        exclusion_masks[m] = mask & flag_clear

    out[_O_STATUS] = _EXHAUSTED
    out[_O_SOLUTIONS] = 0
    generated = 0
    expanded = 0

    # Root.
    for r in range(num_regs):
        for i in range(rows):
            cur[r, i] = regs0[r, i]
    for i in range(rows):
        v = target_bits[i]
        for r in range(num_regs):
            v |= np.uint64(cur[r, i]) << np.uint64(3 * r)
        full_packed[i] = v
    if missing_targets(regs0, written0, targets) == 0:
        parent[0] = -1
        depth_of[0] = 0
        out[_O_USED] = 1
        solutions[0] = 0
        out[_O_SOLUTIONS] = 1
        out[_O_STATUS] = _FOUND
        return
    unwritten0 = 0
    for r in range(num_regs):
        if not written0[r]:
            unwritten0 |= 1 << r
    if exact:
        root_h = missing_targets(regs0, written0, targets)
    else:
        root_h = 1 << 40
        for m in range(exclusions.shape[0]):
            if unwritten0 & ~exclusions[m]:
                continue
            epoch += 1
            d = _distinct(
                full_packed, rows, exclusion_masks[m], set_keys, set_stamp, epoch, no_mark
            )
            root_h = min(root_h, d)
    parent[0] = -1
    action_of[0] = -1
    depth_of[0] = 0
    h_of[0] = root_h
    next_of[0] = -1
    root_f = root_h
    if not exact:
        root_f = offset + np.int64(np.floor(weight * np.log2(max(root_h, final) / final) + 0.5))
    if root_f > buckets - 1:
        root_f = buckets - 1
    heads[root_f] = 0
    low = root_f
    used = 1
    node_full = False

    # Large states (sort7 and sort8): look at the stop flag before every state taken and every
    # move tried, each a pass over every row; small ones: every POLL_EVERY states generated.
    fine = rows > POLL_ROWS // POLL_EVERY
    while True:
        if fine and control[STOP] != 0:
            _report(out, _STOPPED, generated, expanded, used)
            return
        while low < buckets and heads[low] < 0:
            low += 1
        if low >= buckets:
            break
        if exact and low > limit:
            break
        node = heads[low]
        heads[low] = next_of[node]
        g = np.int64(depth_of[node])
        if g >= limit:
            continue
        if not exact and h_of[node] * 1000 > slack * best_h[g]:
            continue
        # Rebuild the state by replaying the path from the root over every row.
        length = 0
        walk = node
        while walk > 0:
            chain[length] = action_of[walk]
            length += 1
            walk = parent[walk]
        for r in range(num_regs):
            cur_written[r] = written0[r]
            for i in range(rows):
                cur[r, i] = regs0[r, i]
        flags_valid = 0
        last_cmp = 0
        for k in range(length - 1, -1, -1):
            a = chain[k]
            op = actions[a, 0]
            dst = actions[a, 1]
            src = actions[a, 2]
            last_cmp = 1 if play(op, dst, src, cur, cur_written, cur_flags, column) else 0
            flags_valid = flags_valid | last_cmp
        # Representatives: the first row of each class of equal packed rows.
        for i in range(rows):
            v = target_bits[i]
            for r in range(num_regs):
                v |= np.uint64(cur[r, i]) << np.uint64(3 * r)
            if flags_valid:
                v |= _flag_bits(cur_flags[i], flag_shift)
            full_packed[i] = v
        epoch += 1
        count = _distinct(full_packed, rows, ~np.uint64(0), set_keys, set_stamp, epoch, first)
        k = 0
        for i in range(rows):
            if first[i]:
                reps[k] = i
                k += 1
        for j in range(count):
            i = reps[j]
            for r in range(num_regs):
                p_regs[r, j] = cur[r, i]
            for t in range(n):
                p_targets[t, j] = targets[t, i]
            p_flags[j] = cur_flags[i]
            p_packed[j] = full_packed[i]
        pr = p_regs[:, :count]
        pt = p_targets[:, :count]
        pf = p_flags[:count]
        cr = c_regs[:, :count]
        cf = c_flags[:count]
        col = column[:count]
        # A stale entry: the state was reached again at a smaller depth after this push.
        for j in range(count):
            first[j] = 1
        key = _state_key(pr, cur_written, pf, flags_valid, last_cmp, first, count, hashes)
        slot = key & table_mask
        stale = False
        for _ in range(_PROBES):
            stored = keys[slot]
            if stored == 0:
                break
            if stored == key:
                stale = key_depth[slot] < g
                break
            slot = (slot + np.uint64(1)) & table_mask
        if stale:
            continue
        expanded += 1
        child_g = g + 1
        for a in range(actions.shape[0]):
            if fine and control[STOP] != 0:
                _report(out, _STOPPED, generated, expanded, used)
                return
            op = actions[a, 0]
            dst = actions[a, 1]
            src = actions[a, 2]
            if not may_play(op, dst, src, cur_written, flags_valid, last_cmp):
                continue
            child_flags_valid = flags_valid
            child_last_cmp = 0
            if op == CMP:
                if not compare_changes(pr, dst, src, pf, flags_valid, count, cf):
                    continue
                for r in range(num_regs):
                    c_written[r] = cur_written[r]
                    for j in range(count):
                        cr[r, j] = pr[r, j]
                child_flags_valid = 1
                child_last_cmp = 1
                for j in range(count):
                    c_packed[j] = (p_packed[j] & flag_clear) | _flag_bits(cf[j], flag_shift)
            else:
                column_result(op, dst, src, pr, pf, col)
                if not write_changes(col, pr, dst, cur_written, count):
                    continue
                for r in range(num_regs):
                    c_written[r] = cur_written[r]
                    for j in range(count):
                        cr[r, j] = pr[r, j]
                for j in range(count):
                    cr[dst, j] = col[j]
                    cf[j] = pf[j]
                c_written[dst] = 1
                shift = np.uint64(3 * dst)
                clear = ~(np.uint64(7) << shift)
                for j in range(count):
                    c_packed[j] = (p_packed[j] & clear) | (np.uint64(col[j]) << shift)
            generated += 1
            control[NODES] += 1
            if generated % POLL_EVERY == 0 and (
                control[STOP] != 0 or (max_nodes > 0 and generated >= max_nodes)
            ):
                _report(out, _STOPPED, generated, expanded, used)
                return
            missing = missing_targets(cr, c_written, pt)
            if missing == 0:
                if used >= capacity:
                    node_full = True
                    break
                parent[used] = node
                action_of[used] = a
                depth_of[used] = child_g
                h_of[used] = 0
                next_of[used] = -1
                solutions[out[_O_SOLUTIONS]] = used
                out[_O_SOLUTIONS] += 1
                used += 1
                if exact or out[_O_SOLUTIONS] >= max_solutions:
                    _report(out, _FOUND, generated, expanded, used)
                    return
                limit = child_g - 1  # anytime: from now on only shorter cores
                break
            if child_g + missing > limit:
                continue
            # Progress measure (beam) before the costlier checks: it cuts most children.
            if exact:
                # Admissible and consistent: when no single cmov/min/max makes a missing
                # column now, the next move cannot lower ``missing``.
                h = missing
                if not creates_target(
                    cr, c_written, cf, child_flags_valid, pt, actions, scratch[:count]
                ):
                    h += 1
                    if child_g + h > limit:
                        continue
            else:
                unwritten = 0
                for r in range(num_regs):
                    if not c_written[r]:
                        unwritten |= 1 << r
                h = 1 << 40
                for m in range(exclusions.shape[0]):
                    if unwritten & ~exclusions[m]:
                        continue
                    epoch += 1
                    d = _distinct(
                        c_packed, count, exclusion_masks[m], set_keys, set_stamp, epoch, no_mark
                    )
                    if d < h:
                        h = d
                if h * 1000 > slack * best_h[child_g]:
                    continue
                if width > 0 and pushed[child_g] >= width:
                    continue
            if is_dead(cr, c_written, pt):
                continue
            if child_g + missing == limit and not creates_target(
                cr, c_written, cf, child_flags_valid, pt, actions, scratch[:count]
            ):
                continue
            epoch += 1
            _distinct(c_packed, count, ~np.uint64(0), set_keys, set_stamp, epoch, first)
            key = _state_key(
                cr, c_written, cf, child_flags_valid, child_last_cmp, first, count, hashes
            )
            slot = key & table_mask
            seen = False
            stored_ok = False
            for _ in range(_PROBES):
                stored = keys[slot]
                if stored == 0:
                    keys[slot] = key
                    key_depth[slot] = child_g
                    stored_ok = True
                    break
                if stored == key:
                    if key_depth[slot] <= child_g:
                        seen = True
                    else:
                        key_depth[slot] = child_g
                    stored_ok = True
                    break
                slot = (slot + np.uint64(1)) & table_mask
            if seen:
                continue
            if not stored_ok:
                out[_O_TABLE_FULL] = 1
            if used >= capacity:
                node_full = True
                break
            if not exact:
                if h < best_h[child_g]:
                    best_h[child_g] = h
                pushed[child_g] += 1
            parent[used] = node
            action_of[used] = a
            depth_of[used] = child_g
            h_of[used] = h
            f = child_g + h
            if not exact:
                f = offset + np.int64(
                    np.floor(depth_weight * child_g + weight * np.log2(max(h, final) / final) + 0.5)
                )
            if f > buckets - 1:
                f = buckets - 1
            next_of[used] = heads[f]
            heads[f] = used
            if f < low:
                low = f
            used += 1
        if node_full:
            out[_O_NODE_FULL] = 1
            out[_O_STATUS] = _CAPPED
            break
    _report(out, out[_O_STATUS], generated, expanded, used)
    if out[_O_STATUS] == _EXHAUSTED and out[_O_SOLUTIONS] > 0:
        out[_O_STATUS] = _FOUND


# --------------------------------------------------------------------------------------------
# Python side
# --------------------------------------------------------------------------------------------


def permutation_rows(n: int) -> np.ndarray:
    """The ``n!`` tie-pattern rows with distinct values: ``int32[n!, n]``, lexicographic."""
    rows = tie_pattern_rows(n)
    return np.ascontiguousarray(rows[rows.max(axis=1) == n - 1])


@dataclass(frozen=True)
class _Raw:
    status: int
    cores: list[Core]  # improving solutions on the searched rows, shortest last
    nodes: int
    expanded: int
    seconds: float
    capped: bool
    node_full: bool


def _exclusions(n: int, registers: int) -> np.ndarray:
    """Bitmasks of the register sets of size ``registers - n`` (the scratch registers)."""
    spare = registers - n
    masks = [
        sum(1 << r for r in combo) for combo in itertools.combinations(range(registers), spare)
    ]
    return np.array(masks or [0], dtype=np.int64)


def _sizes(memory_bytes: int, rows: int, registers: int) -> tuple[int, int]:
    """Node capacity and table slots (a power of two) for a memory budget."""
    fixed = rows * (registers * 4 + 64) + (1 << 16)
    budget = max(memory_bytes - fixed, 1 << 12)
    table_bytes = budget // 2
    slots = 1 << max(4, math.floor(math.log2(max(table_bytes // _SLOT_BYTES, 16))))
    nodes = max(4, (budget - slots * _SLOT_BYTES) // _NODE_BYTES)
    return int(nodes), int(slots)


def _run(
    task: SortTask,
    rows: np.ndarray,
    *,
    exact: bool,
    limit: int,
    width: int,
    slack: float,
    seed: int | None,
    control: SearchControl,
    memory_bytes: int,
    max_nodes: int,
    max_solutions: int,
    weight: float = 0.0,
    depth_weight: float = 1.0,
) -> _Raw:
    n, registers = task.n, task.registers
    if not 2 <= n <= 8:
        raise ValueError(f"best-first search is built for 2 <= n <= 8, got n={n}")
    if not n <= registers <= 10:
        raise ValueError(f"need n <= registers <= 10, got {registers} for sort{n}")
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    if rows.ndim != 2 or rows.shape[1] != n or rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows must be int[rows, {n}] with values in 0..{n - 1}")
    actions = core_actions(registers, task.isa)
    if seed is not None:
        actions = np.ascontiguousarray(np.random.default_rng(seed).permutation(actions))
    regs0 = np.zeros((registers, rows.shape[0]), dtype=np.int8)
    regs0[:n] = rows.T
    written0 = np.zeros(registers, dtype=np.int8)
    written0[:n] = 1
    ordered = np.sort(rows, axis=1)
    targets = np.ascontiguousarray(ordered.T.astype(np.int8))
    base = 3 * registers + 2
    target_bits = np.zeros(rows.shape[0], dtype=np.uint64)
    for slot in range(n):
        target_bits |= ordered[:, slot].astype(np.uint64) << np.uint64(base + 3 * slot)
    capacity, slots = _sizes(memory_bytes, rows.shape[0], registers)
    parent = np.empty(capacity, dtype=np.int32)
    action_of = np.empty(capacity, dtype=np.int16)
    depth_of = np.empty(capacity, dtype=np.int16)
    h_of = np.empty(capacity, dtype=np.int32)
    next_of = np.empty(capacity, dtype=np.int32)
    keys = np.zeros(slots, dtype=np.uint64)
    key_depth = np.zeros(slots, dtype=np.int16)
    params = np.zeros(_P_SIZE, dtype=np.int64)
    params[_P_EXACT] = int(exact)
    params[_P_LIMIT] = limit
    params[_P_WIDTH] = width
    params[_P_SLACK] = round(slack * 1000)
    params[_P_MAX_NODES] = max_nodes
    params[_P_MAX_SOLUTIONS] = max_solutions
    params[_P_WEIGHT] = round(weight * 1000)
    params[_P_FINAL] = len({tuple(r) for r in np.sort(rows, axis=1).tolist()})
    params[_P_DEPTH_WEIGHT] = round(depth_weight * 1000)
    out = np.zeros(_O_SIZE, dtype=np.int64)
    solutions = np.zeros(max(max_solutions, 1) + 1, dtype=np.int64)
    depth_stats = np.zeros((limit + 2, 2), dtype=np.int64)
    control.depth_limit = limit
    t0 = time.perf_counter()
    _kernel(
        regs0,
        written0,
        targets,
        target_bits,
        actions,
        _exclusions(n, registers),
        params,
        parent,
        action_of,
        depth_of,
        h_of,
        next_of,
        keys,
        key_depth,
        control.array,
        out,
        solutions,
        depth_stats,
    )
    seconds = time.perf_counter() - t0
    cores = []
    for s in range(int(out[_O_SOLUTIONS])):
        node = int(solutions[s])
        path = []
        while node > 0:
            path.append(tuple(int(v) for v in actions[int(action_of[node])]))
            node = int(parent[node])
        cores.append(path[::-1])
    node_full = bool(out[_O_NODE_FULL])
    return _Raw(
        int(out[_O_STATUS]),
        cores,
        int(out[_O_NODES]),
        int(out[_O_EXPANDED]),
        seconds,
        node_full or bool(out[_O_TABLE_FULL]),
        node_full,
    )


def _first_verified(task: SortTask, cores: list[Core]) -> Core | None:
    for core in sorted(cores, key=len):
        if failing_rows(task, core) is None:
            return core
    return None


def _limit_for(task: SortTask, max_core: int | None) -> int:
    if max_core is not None:
        return int(max_core)
    return 2 * task.n * task.n + 8 * task.n  # above every lowered network for n <= 8


def beam_search(
    task: SortTask,
    *,
    slack: float = 1.0,
    width: int = 0,
    weight: float = 8.0,
    depth_weight: float = 0.5,
    max_core: int | None = None,
    control: SearchControl | None = None,
    rows: np.ndarray | None = None,
    seed: int | None = 0,
    memory_bytes: int = 512 << 20,
    max_nodes: int = 0,
    max_solutions: int = 64,
) -> BestFirstResult:
    """Greedy best-first search (not a proof) for a core of at most ``max_core`` instructions.

    ``slack``: cut a child whose number of distinct output contents exceeds ``slack`` times
    the smallest seen at its depth (1.0: Ullrich & Hack's strict cut; larger is wider and
    slower). ``weight`` and ``depth_weight``: the frontier is ordered by
    ``f = depth_weight * g + weight * log2(h / final)`` (``h``: distinct output contents,
    ``final``: their number in a sorted state), smallest first, last in first out among equals;
    ``weight`` above the instructions a halving of ``h`` costs makes the search greedy, and
    ``depth_weight < 1`` keeps it from sweeping the plateaus where ``h`` does not move.
    ``width``: at most this many states kept per depth (0: no cap). ``rows``:
    ``int[k, n]`` inputs to search on (default: every tie pattern, so a core found is correct);
    on fewer rows the core found may fail on the rest (see :func:`with_counterexamples`).
    ``seed``: shuffles the move order (None: the fixed order). ``max_nodes``: stop after this
    many generated states (0: no cap). ``max_solutions``: stop after this many improving
    solutions. Returns the shortest core found that verifies on every tie pattern.
    """
    rows = np.asarray(task.inputs) if rows is None else rows
    control = SearchControl() if control is None else control
    raw = _run(
        task,
        rows,
        exact=False,
        limit=_limit_for(task, max_core),
        width=width,
        slack=slack,
        seed=seed,
        control=control,
        memory_bytes=memory_bytes,
        max_nodes=max_nodes,
        max_solutions=max_solutions,
        weight=weight,
        depth_weight=depth_weight,
    )
    core = _first_verified(task, raw.cores)
    if core is not None:
        status = "found"
    elif raw.status in (_STOPPED, _CAPPED):
        status = "stopped"
    else:
        status = "exhausted"
    return BestFirstResult(
        status=status,
        core=core,
        mode="beam",
        proved=False,
        nodes=raw.nodes,
        seconds=raw.seconds,
        capped=raw.capped,
        expanded=raw.expanded,
        rows=int(rows.shape[0]),
        rounds=1,
        candidate=min(raw.cores, key=len) if raw.cores else None,
    )


def astar(
    task: SortTask,
    *,
    max_core: int,
    control: SearchControl | None = None,
    memory_bytes: int = 512 << 20,
    max_nodes: int = 0,
) -> BestFirstResult:
    """Exact A* for a shortest core of at most ``max_core`` instructions, on every tie row.

    ``proved`` is True when the run was not capped: then a found core is optimal in the space
    and ``"exhausted"`` means no core of at most ``max_core`` exists (up to 64-bit key
    collisions). A capped run (``memory_bytes`` too small for the node store) stops with
    ``"stopped"`` and proves nothing."""
    control = SearchControl() if control is None else control
    raw = _run(
        task,
        np.asarray(task.inputs),
        exact=True,
        limit=int(max_core),
        width=0,
        slack=1.0,
        seed=None,
        control=control,
        memory_bytes=memory_bytes,
        max_nodes=max_nodes,
        max_solutions=1,
    )
    core = _first_verified(task, raw.cores)
    if raw.cores and core is None:  # pragma: no cover - an engine bug, never returned
        raise AssertionError("exact search produced a core that fails verification")
    if core is not None:
        status = "found"
    elif raw.status == _EXHAUSTED:
        status = "exhausted"
    else:
        status = "stopped"
    proved = status != "stopped" and not raw.node_full
    return BestFirstResult(
        status=status,
        core=core,
        mode="exact",
        proved=proved,
        nodes=raw.nodes,
        seconds=raw.seconds,
        capped=raw.capped,
        expanded=raw.expanded,
        rows=int(task.num_rows),
        rounds=1,
        candidate=core,
    )


def with_counterexamples(
    task: SortTask,
    search: Callable[..., BestFirstResult] = beam_search,
    *,
    rows: np.ndarray | None = None,
    max_rounds: int = 20,
    add_per_round: int = 16,
    control: SearchControl | None = None,
    **options,
) -> BestFirstResult:
    """Counterexample-guided search for large ``n``: run ``search`` on a small row set
    (default: the ``n!`` permutations), check its shortest candidate on every tie row, add up
    to ``add_per_round`` of the rows it gets wrong (spread evenly over them), and search again,
    until the shortest candidate verifies or ``max_rounds`` searches ran.

    ``search`` is :func:`beam_search` or any function with its keywords ``rows=`` and
    ``control=`` that fills :attr:`BestFirstResult.candidate`; ``options`` go to it unchanged.
    Returns the shortest verified core any round found (``rounds``: searches run; ``rows``:
    the final row-set size; ``nodes``/``seconds`` summed over the rounds).
    """
    control = SearchControl() if control is None else control
    results: list[BestFirstResult] = []

    def one_round(rows: np.ndarray) -> Round:
        result = search(task, rows=rows, control=control, **options)
        results.append(result)
        candidates = [] if result.candidate is None else [result.candidate]
        return Round(candidates, verified=result.core, stopped=control.stopped)

    start = permutation_rows(task.n) if rows is None else np.asarray(rows, dtype=np.int32)
    refined = refine(task, one_round, start, max_rounds=max_rounds,
                     add_per_round=add_per_round, spread=True)  # fmt: skip
    last = results[-1]
    best = refined.best
    if best is not None:
        status = "found"
    elif last.candidate is None:
        status = last.status
    else:
        status = "stopped" if control.stopped else "exhausted"
    return BestFirstResult(
        status=status,
        core=best,
        mode=last.mode,
        proved=False,
        nodes=sum(r.nodes for r in results),
        seconds=sum(r.seconds for r in results),
        capped=any(r.capped for r in results),
        expanded=sum(r.expanded for r in results),
        rows=int(refined.rows.shape[0]),
        rounds=refined.rounds,
    )
