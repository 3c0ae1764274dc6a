"""Exact search for sorting kernels: iterative depth-first branch and bound.

:func:`find` answers "is there a core of at most ``L`` instructions that sorts every
tie-pattern row?" over the :class:`~alphadev.exact.space.Space` by depth-first search, where
every instruction must change the machine state (one that changes nothing never shortens a
program), with three exact prunes:

* **dead states**: some row lost a value that some sorted slot needs (no instruction creates
  values, they only copy them);
* **a lower bound** (:func:`~alphadev.exact.bound_lower.lower_bound`, admissible, proofs in
  its module): each sorted column that no register holds needs its own merge
  (``cmov``/``min``/``max``); in a cmov-only ISA one more ``cmp`` is needed when some missing
  column cannot be assembled under the current flags, and ``ceil(log2 s)`` more ``cmp`` when
  ``s`` permutation rows still agree on which input every register copies and on the flags
  (:func:`~alphadev.exact.bound_lower.compares_needed`, the strongest prune on sort4: core 11
  in 117,917 states instead of 54,788,523); and when every move left must be such a merge,
  only merges that make a missing column are tried;
* **a transposition table** keyed by the state up to register renaming
  (:func:`~alphadev.exact.columns.renaming_key`): a state reached again at the same or a
  greater depth has nothing new below it.

So when ``find`` exhausts the space, no program of that length exists in it (up to 64-bit hash
collisions in the table: a collision could only hide a program, never invent one, and every
program found is checked by the caller). The numba kernel releases the GIL and polls a
:class:`~alphadev.exact.control.SearchControl`, so it can run on a worker thread and be stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from alphadev.exact.bound_lower import (
    compares_needed,
    lower_bound,
    merges_only_cmov,
    permutation_leaves,
)
from alphadev.exact.columns import column_result, held_target, is_dead, missing_targets
from alphadev.exact.control import NODES, POLL_EVERY, POLL_ROWS, STOP, SearchControl
from alphadev.exact.moves import CMP, MOV, compare_changes, may_play, write_changes
from alphadev.exact.space import Core, assemble, core_actions, core_of, start_state, target_columns
from alphadev.hashing import UNWRITTEN, column_hash, renaming_key_of
from alphadev.isa import Program
from alphadev.jit import njit
from alphadev.tasks import SortTask, tie_pattern_rows

__all__ = ["Outcome", "find", "shorten_tail"]

_FOUND_STOPPED = -2
_EXHAUSTED = -1


@dataclass(frozen=True)
class Outcome:
    """What one :func:`find` call saw.

    Attributes:
        status: ``"found"``, ``"exhausted"`` (no core of at most ``max_core`` exists in the
            space), or ``"stopped"`` (asked to stop, or ``max_nodes`` reached, first).
        program: the full program (loads, core, stores) when found, else None.
        max_core: the core length searched up to.
        nodes: states generated.
        seconds: wall-clock time of the search.
    """

    status: str
    program: Program | None
    max_core: int
    nodes: int
    seconds: float


_BUCKET = 8  # transposition-table slots probed per key (one 64-byte line of keys)


@njit(cache=True, nogil=True, inline="always")
def _state_key(hashes, written, scratch, flags_hash, flags_valid, last_cmp):
    # pragma: no cover - compiled
    """The state key up to register renaming (as ``columns.renaming_key``, from cached column
    hashes ``uint64[registers]``; ``scratch`` is work space of the same shape). Never 0."""
    for r in range(hashes.shape[0]):
        scratch[r] = hashes[r] if written[r] else UNWRITTEN
    return renaming_key_of(scratch, flags_hash, flags_valid, last_cmp)


@njit(cache=True, nogil=True, inline="always")
def _count_and_poll(control, generated, poll, max_nodes):  # pragma: no cover - compiled
    """Count the ``generated``-th state in ``control``; whether the search must stop: asked to
    (looked at every ``poll`` states) or ``max_nodes`` reached (every ``POLL_EVERY``)."""
    control[NODES] += 1
    if generated % poll == 0 and control[STOP] != 0:
        return True
    return generated % POLL_EVERY == 0 and max_nodes > 0 and generated >= max_nodes


@njit(cache=True, nogil=True, inline="always")
def _loses_a_value(regs, written, dst, column):  # pragma: no cover - compiled
    """Writing ``column`` into written register ``dst`` drops, in some row, the last copy of a
    value (every value of a row is needed by some sorted slot, and nothing creates values): the
    incremental form of ``columns.is_dead`` for a child of a live state."""
    num_regs = regs.shape[0]
    for i in range(column.shape[0]):
        old = regs[dst, i]
        if column[i] == old:
            continue
        kept = False
        for r in range(num_regs):
            if r != dst and written[r] and regs[r, i] == old:
                kept = True
                break
        if not kept:
            return True
    return False


@njit(cache=True, nogil=True)
def _search(
    regs0,
    written0,
    flags0,
    start,
    targets,
    actions,
    limit,
    max_nodes,
    keys,
    depths,
    control,
    solution,
    options,
    distinct_rows,
    perm_rows,
    leaf_of,
):  # pragma: no cover - compiled
    """Depth-first branch and bound for at most ``limit`` more core moves.

    ``regs0``: int8[registers, rows], the start (after the loads and any core prefix);
    ``written0``: int8[registers]; ``flags0``: int8[rows]; ``start``: int64[2], whether the
    flags are valid and whether the last move was a ``cmp``; ``max_nodes``: give up (as if
    stopped) after this many states, 0 for no cap;
    ``targets``: int8[n, rows], the sorted columns; ``actions``: int64[A, 3];
    ``keys``: uint64[size] and ``depths``: int16[size], the transposition table (size a power
    of two, at least one bucket, zeroed by the caller);
    ``control``: int64[4]; ``solution``: int64[limit] action indices;
    ``options``: int64[3]: merges need flags (cmov-only ISA), use the cover bounds, use the
    table; ``distinct_rows``: int64[k], the rows for the write bound (empty: no write bound);
    ``perm_rows``: int64[p] and ``leaf_of``: int8[p, n], the permutation rows for the compare
    bound (:func:`~alphadev.exact.bound_lower.permutation_leaves`; empty: no compare bound).
    Returns the core length found, -1 when exhausted, -2 when stopped.
    """
    num_regs, rows = regs0.shape
    cmov_only = options[0]
    use_cover = options[1]
    use_table = options[2]
    bucket_mask = np.uint64(keys.shape[0] - 1) & ~np.uint64(_BUCKET - 1)
    regs = np.empty((limit + 1, num_regs, rows), dtype=np.int8)
    written = np.empty((limit + 1, num_regs), dtype=np.int8)
    holds = np.full((limit + 1, num_regs), -1, dtype=np.int8)
    hashes = np.zeros((limit + 1, num_regs), dtype=np.uint64)
    flags = np.zeros((limit + 1, rows), dtype=np.int8)
    flags_hash = np.zeros(limit + 1, dtype=np.uint64)
    flags_valid = np.zeros(limit + 1, dtype=np.int8)
    last_cmp = np.zeros(limit + 1, dtype=np.int8)
    missing = np.zeros(limit + 1, dtype=np.int64)
    next_action = np.zeros(limit + 1, dtype=np.int64)
    column = np.empty(rows, dtype=np.int8)
    key_scratch = np.empty(num_regs, dtype=np.uint64)
    work = np.zeros((num_regs + 4, (rows + 63) // 64), dtype=np.uint64)
    class_keys = np.zeros(perm_rows.shape[0], dtype=np.uint64)
    use_compares = cmov_only and perm_rows.shape[0] > 1
    regs[0] = regs0
    written[0] = written0
    flags[0] = flags0
    flags_hash[0] = column_hash(flags0)
    flags_valid[0] = start[0]
    last_cmp[0] = start[1]
    for r in range(num_regs):
        if written0[r]:
            holds[0, r] = held_target(regs0[r], targets)
            hashes[0, r] = column_hash(regs0[r])
    missing[0] = missing_targets(regs0, written0, targets)
    if missing[0] == 0:
        return 0
    if is_dead(regs0, written0, targets):
        return _EXHAUSTED
    generated = 0
    num_actions = actions.shape[0]
    depth = 0
    poll = max(1, min(POLL_EVERY, POLL_ROWS // max(rows, 1)))  # states between two looks
    while depth >= 0:
        a = next_action[depth]
        if a >= num_actions or depth >= limit:
            depth -= 1  # the parent's next_action already points past the move to here
            continue
        next_action[depth] = a + 1
        op = actions[a, 0]
        dst = actions[a, 1]
        src = actions[a, 2]
        if not may_play(op, dst, src, written[depth], flags_valid[depth], last_cmp[depth]):
            continue
        # When every remaining move must make a distinct missing target, only merges that
        # make one can be part of a solution (exact: a state-and-depth fact, safe with the table).
        tight = limit - depth == missing[depth]
        child = depth + 1
        if op == CMP:
            if tight or not compare_changes(
                regs[depth], dst, src, flags[depth], flags_valid[depth], rows, flags[child]
            ):
                continue
            generated += 1
            if _count_and_poll(control, generated, poll, max_nodes):
                return _FOUND_STOPPED
            regs[child] = regs[depth]
            written[child] = written[depth]
            holds[child] = holds[depth]
            hashes[child] = hashes[depth]
            flags_hash[child] = column_hash(flags[child])
            flags_valid[child] = 1
            last_cmp[child] = 1
            missing[child] = missing[depth]
        else:
            if op == MOV and tight:
                continue
            column_result(op, dst, src, regs[depth], flags[depth], column)
            if not write_changes(column, regs[depth], dst, written[depth], rows):
                continue
            generated += 1
            if _count_and_poll(control, generated, poll, max_nodes):
                return _FOUND_STOPPED
            held = held_target(column, targets)
            if tight:
                if held < 0:
                    continue
                fresh = True
                for r in range(num_regs):
                    if written[depth, r] and holds[depth, r] == held:
                        fresh = False
                        break
                if not fresh:
                    continue
            if written[depth, dst] and _loses_a_value(regs[depth], written[depth], dst, column):
                continue
            regs[child] = regs[depth]
            regs[child, dst] = column
            written[child] = written[depth]
            written[child, dst] = 1
            holds[child] = holds[depth]
            holds[child, dst] = held
            hashes[child] = hashes[depth]
            hashes[child, dst] = column_hash(column)
            flags[child] = flags[depth]
            flags_hash[child] = flags_hash[depth]
            flags_valid[child] = flags_valid[depth]
            last_cmp[child] = 0
            count = 0
            for t in range(targets.shape[0]):
                for r in range(num_regs):
                    if written[child, r] and holds[child, r] == t:
                        count += 1
                        break
            missing[child] = targets.shape[0] - count
            if missing[child] == 0:
                for k in range(depth + 1):
                    solution[k] = next_action[k] - 1
                return child
        if child + missing[child] > limit:
            continue
        compares = 0
        if use_compares:
            compares = compares_needed(
                regs[child],
                written[child],
                flags[child],
                flags_valid[child],
                perm_rows,
                leaf_of,
                class_keys,
            )
            if child + max(missing[child], compares) + compares > limit:
                continue
        bound = lower_bound(
            regs[child],
            written[child],
            holds[child],
            flags[child],
            flags_valid[child],
            targets,
            cmov_only,
            use_cover and limit - child <= num_regs + 1,
            distinct_rows,
            limit - child,
            work,
            compares,
        )
        if child + bound > limit:
            continue
        if use_table:
            key = _state_key(
                hashes[child],
                written[child],
                key_scratch,
                flags_hash[child],
                flags_valid[child],
                last_cmp[child],
            )
            base = key & bucket_mask
            seen = False
            victim = -1
            victim_depth = child
            for j in range(_BUCKET):
                slot = base + np.uint64(j)
                stored = keys[slot]
                if stored == key:
                    if depths[slot] <= child:
                        seen = True
                    else:
                        depths[slot] = child
                    victim = -2
                    break
                if stored == 0:
                    victim = j
                    break
                if depths[slot] > victim_depth:
                    victim = j
                    victim_depth = depths[slot]
            if seen:
                continue
            if victim >= 0:
                slot = base + np.uint64(victim)
                keys[slot] = key
                depths[slot] = child
        depth = child
        next_action[depth] = 0
    return _EXHAUSTED


def find(
    task: SortTask,
    max_core: int,
    *,
    prefix: Core | None = None,
    control: SearchControl | None = None,
    max_nodes: int = 0,
    table_bits: int = 22,
    order_seed: int | None = None,
    cover: bool = False,
    writes: bool = False,
    table: bool = True,
    compare_classes: bool = True,
    shared_table: tuple[np.ndarray, np.ndarray] | None = None,
) -> Outcome:
    """Search for a program whose core has at most ``max_core`` instructions.

    With ``prefix`` (core instructions over register indices), only programs whose core starts
    with it are searched: the search runs from the state after it. ``control`` (a
    :class:`~alphadev.exact.control.SearchControl`) lets another thread stop the search and
    read its node count;
    ``max_nodes`` caps the states generated (0: no cap), reported as ``"stopped"``.
    ``table_bits`` sizes the transposition table (``2**bits`` entries, 16 bytes each); a full
    table only weakens pruning, never exactness. ``order_seed`` shuffles the order in which
    moves are tried (the answer's existence does not change; which program is found first
    does). ``shared_table`` (``uint64[2**bits]`` keys, ``int16[2**bits]`` depths, zeroed
    before the first call) is a transposition table kept across calls with prefixes of one
    length and one ``max_core`` (the parts of :func:`~alphadev.exact.split.split_space`): a state
    an earlier call *exhausted* needs no second look, so the caller must zero it again after a
    call that did not end ``"exhausted"``. ``cover`` and ``writes`` add the costlier
    admissible bounds of :mod:`~alphadev.exact.bound_lower` (off by default: on sort3/sort4
    they prune too little to pay for themselves); ``compare_classes=False`` turns off the
    compare bound (cmov-only ISAs: the ``cmp`` still needed to tell the permutations apart,
    :func:`~alphadev.exact.bound_lower.compares_needed`); ``table=False`` turns the
    transposition table off (for tests).
    """
    if task.n < 2:
        raise ValueError("enumeration needs n >= 2")
    if task.registers < task.n:
        raise ValueError(f"sort{task.n} needs at least {task.n} registers")
    prefix = list(prefix or [])
    begin = start_state(task, prefix)
    more = max_core - len(prefix)
    actions = core_actions(task.registers, task.isa)
    if order_seed is not None:
        actions = np.ascontiguousarray(np.random.default_rng(order_seed).permutation(actions))
    control = SearchControl() if control is None else control
    control.depth_limit = max_core
    if shared_table is not None:
        keys, depths = shared_table
    else:
        table_bits = max(table_bits, 3)
        keys = np.zeros(1 << table_bits, dtype=np.uint64)
        depths = np.zeros(1 << table_bits, dtype=np.int16)
    options = np.array([merges_only_cmov(actions), cover, table], dtype=np.int64)
    rows = tie_pattern_rows(task.n)
    distinct = np.flatnonzero(rows.max(axis=1) == task.n - 1) if writes else np.zeros(0, np.int64)
    distinct = np.ascontiguousarray(distinct, dtype=np.int64)
    perm_rows, leaf_of = permutation_leaves(rows, task.registers)
    if not compare_classes:
        perm_rows, leaf_of = perm_rows[:0], leaf_of[:0]
    solution = np.zeros(max(more, 1), dtype=np.int64)
    start_nodes = control.nodes
    t0 = time.perf_counter()
    result = -1
    if more >= 0:
        result = int(
            _search(
                begin.regs,
                begin.written,
                begin.flags,
                begin.start,
                target_columns(task.n),
                actions,
                more,
                max_nodes,
                keys,
                depths,
                control.array,
                solution,
                options,
                distinct,
                perm_rows,
                leaf_of,
            )
        )
    seconds = time.perf_counter() - t0
    nodes = control.nodes - start_nodes
    if result == _FOUND_STOPPED:
        return Outcome("stopped", None, max_core, nodes, seconds)
    if result == _EXHAUSTED:
        return Outcome("exhausted", None, max_core, nodes, seconds)
    core = prefix + [tuple(int(v) for v in actions[a]) for a in solution[:result]]
    return Outcome("found", assemble(task, core), max_core, nodes, seconds)


def shorten_tail(
    task: SortTask,
    core: Core,
    *,
    control: SearchControl | None = None,
    max_nodes: int = 2_000_000,
) -> Core | None:
    """Try to replace a tail of ``core`` with a shorter one: for cuts from the end backwards,
    an exact search from the state after ``core[:cut]`` for a tail one instruction shorter,
    each capped at ``max_nodes`` states. Returns the first shorter core found, or None."""
    for cut in range(len(core) - 1, -1, -1):
        if control is not None and control.stopped:
            return None
        outcome = find(task, len(core) - 1, prefix=core[:cut], control=control, max_nodes=max_nodes)
        if outcome.status == "found":
            return core_of(task, outcome.program)
    return None
