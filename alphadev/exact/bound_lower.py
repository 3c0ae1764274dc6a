"""Admissible lower bounds on the core instructions a state still needs (compiled).

The exact engines prune a state when ``depth + bound > limit``, so a bound here must never
exceed the true number of core instructions still needed to reach a sorted state; otherwise a
proof ("no core of length L exists") could be wrong. Each function says why it never
overestimates. ``tests/test_exact.py`` checks them against breadth-first distances.

Notation: a *column* is one register's values over every test row; ``targets[t]`` is the sorted
column of output slot ``t``; a target is *missing* when no written register holds it. The flags
of the last ``cmp`` split the rows into three *classes* (flag -1, 0, +1).

**Merge DAG.** Every instruction either copies a column (``mov``), writes no column (``cmp``) or
writes a column whose value in each row is the old value of ``dst`` or the value of ``src`` in
that row (``cmov*``, ``min``, ``max``: :func:`alphadev.emulator.result_of` returns ``a`` or
``b``). Call the latter *merges*. Take the columns the registers hold now as leaves; every column
a continuation creates is a node whose two parents are the columns it merged (a ``mov`` makes no
node, it aliases one). By induction, in every row a node's value equals the value of one of its
ancestor leaves. A missing target must be such a node, and distinct missing targets are distinct
nodes, so a continuation performs at least ``m`` merges (``m`` = missing targets).

**Cover.** ``cover(t)`` is the least number of current columns whose row-wise agreement with
``t`` covers every row. A node ``t`` whose ancestors hold ``k`` merges (itself included) has at
most ``k + 1`` ancestor leaves: the ``2k`` parent edges of those ``k`` nodes include at least
``k - 1`` edges between them (each of the ``k - 1`` non-sink nodes is the parent of one of them),
so at most ``k + 1`` edges reach leaves. Its value agrees in every row with one of them, so
``k + 1 >= cover(t)``: the continuation performs at least ``cover(t) - 1`` merges.

**Flags (cmov-only ISAs).** When the only merges are ``cmov*`` (no ``min``/``max``), every merge
selects ``src`` on a union of flag classes and ``dst`` on the rest. Without a further ``cmp`` the
flags stay as they are, so by induction each created column, restricted to one class, equals one
ancestor leaf restricted to that class. Hence a target with some class on which no current column
agrees with it (or any target at all while no ``cmp`` has run) cannot be made without another
``cmp``; and without one, a target needs at least ``classcover(t) - 1`` merges, where
``classcover(t)`` is the least number of current columns such that every non-empty class agrees
with one of them. A ``cmp`` writes no column, so a continuation with one has at least
``1 + merges``. The bound is the smaller of the two cases.

**Compares (cmov-only ISAs).** Take only the rows holding ``n`` distinct values (the
permutations). In such a row every column is a copy of one input (the induction of the merge
DAG), its *leaf*. Group these rows into classes by the leaf of every written register and the
current flags. On a class every column is one fixed leaf and the flags one value. Induction over
a continuation: a ``mov`` copies a fixed-leaf column; a ``cmp`` of two columns with fixed leaves
``i``, ``j`` gives one flag on the whole class when ``i = j`` and splits it in at most two
(``<``, ``>``: the values are distinct) otherwise; a ``cmov`` chooses, by flags fixed on each
part, between two fixed-leaf columns. So after ``c`` more ``cmp`` every class of today has
split into at most ``2**c`` parts on each of which every column has a fixed leaf. When sorted,
the column of target ``t`` holds, in each row, the input of rank ``t``: two permutation rows in
one part agree on the input of every rank, so they are the same row. Hence a class of ``s`` rows
needs ``c >= ceil(log2 s)`` more ``cmp``: :func:`compares_needed`. A ``cmp`` is not a write,
so this adds to the writes (and when it is positive no continuation without a ``cmp`` exists).
Moreover a *shortest* continuation reads every ``cmp`` it makes: a ``cmp`` whose flags no
``cmov`` reads before the next ``cmp`` can be dropped (and the next ``cmp`` too if it then
changes nothing; the moves between are ``mov``, which ignore the flags), leaving a shorter
one. So the shortest continuation has a ``cmov`` after each of its ``c`` compares and makes at
least ``max(writes, c)`` writes: the bound is ``max(writes, c) + c``.

**Writes.** :func:`write_bound` counts register writes (``mov`` and merges) from the final
assignment of targets to registers and the register cycles (swaps) that need a spare copy.
"""

from __future__ import annotations

import numpy as np

from alphadev.jit import njit

__all__ = [
    "compares_needed",
    "lower_bound",
    "merges_only_cmov",
    "permutation_leaves",
    "row_words",
    "state_bound",
    "write_bound",
]

#: A bound that no search ever reaches: the state cannot be completed.
INFEASIBLE = 1 << 20


def row_words(rows: int) -> int:
    """Number of uint64 words in a bitset over ``rows`` rows."""
    return (rows + 63) // 64


def merges_only_cmov(actions: np.ndarray) -> bool:
    """True when every column-merging action in ``actions`` (``int64[A, 3]``) is a ``cmov*``
    (the flags bound applies); False when ``min``/``max`` can merge without flags."""
    return bool(np.all(actions[:, 0] <= 5))


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):  # pragma: no cover - compiled
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@njit(cache=True, nogil=True)
def _least_cover(masks, regs_mask, full, words, num_regs):  # pragma: no cover - compiled
    """Least number of registers in ``regs_mask`` whose ``masks`` rows (``uint64[R, words]``)
    cover ``full`` (``uint64[words]``); a large number when none do."""
    best = INFEASIBLE
    for s in range(1, 1 << num_regs):
        if s & ~regs_mask:
            continue
        pc = _popcount(s)
        if pc >= best:
            continue
        ok = True
        for w in range(words):
            acc = np.uint64(0)
            for r in range(num_regs):
                if s >> r & 1:
                    acc |= masks[r, w]
            if acc != full[w]:
                ok = False
                break
        if ok:
            best = pc
    return best


@njit(cache=True, nogil=True)
def _least_hitting(sets, count, num_regs):  # pragma: no cover - compiled
    """Least size of a register set meeting each of ``sets[:count]`` (bit masks)."""
    best = INFEASIBLE
    for s in range(1, 1 << num_regs):
        pc = _popcount(s)
        if pc >= best:
            continue
        ok = True
        for k in range(count):
            if (s & sets[k]) == 0:
                ok = False
                break
        if ok:
            best = pc
    return best


def permutation_leaves(rows: np.ndarray, registers: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of :func:`compares_needed` for the test rows ``rows`` (``int8[R, n]``):
    ``(perm_rows int64[k], leaf_of int8[k, n])``, the indices of the rows with ``n`` distinct
    values and, for each, ``leaf_of[j, v]`` = the input position holding value ``v``. Empty
    (the bound is then 0) when the class key would not fit 64 bits (4 bits a register)."""
    n = rows.shape[1]
    if n > 16 or 4 * registers + 2 > 64:
        return np.zeros(0, np.int64), np.zeros((0, n), np.int8)
    perm_rows = np.flatnonzero(rows.max(axis=1) == n - 1)
    leaf_of = np.argsort(rows[perm_rows], axis=1).astype(np.int8)
    return np.ascontiguousarray(perm_rows, dtype=np.int64), np.ascontiguousarray(leaf_of)


@njit(cache=True, nogil=True)
def compares_needed(regs, written, flags, flags_valid, perm_rows, leaf_of, keys):
    # pragma: no cover - compiled
    """The least number of further ``cmp`` any continuation needs in a cmov-only ISA: ``ceil(
    log2 s)`` for the largest class of ``s`` permutation rows that agree on the leaf of every
    written register and on the flags (module docstring, *Compares*; exact class keys, no
    hashing). ``regs``: int8[R, rows]; ``written``: int8[R]; ``flags``: int8[rows];
    ``perm_rows``, ``leaf_of``: from :func:`permutation_leaves`; ``keys``: uint64[k] scratch."""
    k = perm_rows.shape[0]
    if k < 2:
        return 0
    num_regs = regs.shape[0]
    for j in range(k):
        i = perm_rows[j]
        key = np.uint64(flags[i] + 1) if flags_valid else np.uint64(0)
        for r in range(num_regs):
            if written[r]:
                key = (key << np.uint64(4)) | np.uint64(leaf_of[j, regs[r, i]])
        keys[j] = key
    keys.sort()
    largest = 1
    run = 1
    for j in range(1, k):
        if keys[j] == keys[j - 1]:
            run += 1
            largest = max(largest, run)
        else:
            run = 1
    c = 0
    while (1 << c) < largest:
        c += 1
    return c


@njit(cache=True, nogil=True)
def _unique_holders(regs, written, distinct_rows, n, uniq):  # pragma: no cover - compiled
    """``uniq[k, v]``: the only written register holding value ``v`` in row
    ``distinct_rows[k]``, or -1 (none or several)."""
    num_regs = regs.shape[0]
    for k in range(distinct_rows.shape[0]):
        i = distinct_rows[k]
        for v in range(n):
            holder = -1
            count = 0
            for r in range(num_regs):
                if written[r] and regs[r, i] == v:
                    holder = r
                    count += 1
            uniq[k, v] = holder if count == 1 else -1


@njit(cache=True, nogil=True)
def _most_cycles(regs, assign, targets, distinct_rows, uniq, owner, seen):
    # pragma: no cover - compiled
    """The largest number, over the distinct rows, of register cycles under the final
    assignment ``assign`` (target -> register), as defined in :func:`write_bound`."""
    n = targets.shape[0]
    num_regs = regs.shape[0]
    for r in range(num_regs):
        owner[r] = -1
    for t in range(n):
        owner[assign[t]] = t
    most = 0
    for k in range(distinct_rows.shape[0]):
        i = distinct_rows[k]
        for r in range(num_regs):
            seen[r] = 0
        cycles = 0
        for r0 in range(num_regs):
            if seen[r0] or owner[r0] < 0:
                continue
            # Follow r -> the only holder of the value r needs, while every step is eligible.
            r = r0
            steps = 0
            while True:
                t = owner[r]
                if t < 0 or seen[r]:
                    break
                cur = regs[r, i]
                need = targets[t, i]
                if cur == need or uniq[k, cur] != r:
                    break
                seen[r] = 1 + r0
                nxt = uniq[k, need]
                if nxt < 0:
                    break
                r = nxt
                steps += 1
                if seen[r] == 1 + r0:
                    cycles += 1
                    break
                if steps > num_regs:
                    break
        if cycles > most:
            most = cycles
    return most


@njit(cache=True, nogil=True)
def write_bound(regs, written, holds, targets, distinct_rows, cap):  # pragma: no cover - compiled
    """A lower bound on the register writes (``mov``, ``cmov*``, ``min``, ``max``) still needed.

    ``distinct_rows``: int64[k], the rows whose ``n`` values are all distinct. With ``cap < 0``
    the result is the bound below. With ``cap >= 0`` only the question "does it exceed
    ``cap``?" is answered exactly: the enumeration stops at the first assignment whose value is
    at most ``cap`` and returns the number of missing targets then (a weaker lower bound, since
    every ``D(a)`` is at least that).

    At the end some injective assignment ``a`` (target ``t`` -> a register ``a(t)`` holding it)
    exists. Fix one. (1) Each register ``a(t)`` whose column is not ``t`` now needs a write, and
    its *last* write is distinct from the other registers' last writes: ``D(a)`` writes. (2) In
    an all-distinct row ``i`` (every value of the row is needed by some slot, and no instruction
    creates a value), call a set ``S`` of registers of ``a``'s image a *cycle* when each
    ``r in S`` must change in row ``i``, holds a value no other written register holds, and the
    values ``S`` needs are exactly the values ``S`` holds. The first write that changes a
    register ``r in S`` in row ``i`` would drop the last copy of ``r``'s value unless an earlier
    write copied a value of ``S`` into a register ``x`` outside ``S`` (not into ``S``: that would
    be an earlier change of ``S``). That copy is not ``x``'s last write when ``x`` is in ``a``'s
    image (``x``'s final value is not a value of ``S``), and is not counted in ``D(a)`` when it
    is not; distinct cycles of one row hold distinct values, so their copies are distinct
    instructions. So every continuation performs at least ``D(a) + cycles_i(a)`` writes for
    every row ``i``, hence at least ``min_a (D(a) + max_i cycles_i(a))``: the value returned
    (or, with ``cap >= 0`` and that minimum at most ``cap``, the missing count).
    """
    num_regs = regs.shape[0]
    n = targets.shape[0]
    uniq = np.empty((distinct_rows.shape[0], n), dtype=np.int64)
    _unique_holders(regs, written, distinct_rows, n, uniq)
    owner = np.empty(num_regs, dtype=np.int64)
    seen = np.empty(num_regs, dtype=np.int64)
    # Candidate registers per target, its holder first (a good assignment early).
    cand = np.empty((n, num_regs), dtype=np.int64)
    missing = 0
    for t in range(n):
        first = -1
        for r in range(num_regs):
            if written[r] and holds[r] == t:
                first = r
                break
        missing += first < 0
        k = 0
        if first >= 0:
            cand[t, 0] = first
            k = 1
        for r in range(num_regs):
            if r != first:
                cand[t, k] = r
                k += 1
    assign = np.full(n, -1, dtype=np.int64)
    choice = np.full(n, -1, dtype=np.int64)
    cost = np.zeros(n + 1, dtype=np.int64)  # cost[t]: D over targets < t
    used = 0
    best = INFEASIBLE
    t = 0
    while t >= 0:
        if assign[t] >= 0:
            used &= ~(1 << assign[t])
            assign[t] = -1
        choice[t] += 1
        if choice[t] >= num_regs:
            choice[t] = -1
            t -= 1
            continue
        r = cand[t, choice[t]]
        if used >> r & 1:
            continue
        extra = 0 if (written[r] and holds[r] == t) else 1
        if cost[t] + extra >= best:
            continue
        assign[t] = r
        used |= 1 << r
        cost[t + 1] = cost[t] + extra
        if t + 1 < n:
            t += 1
            continue
        # cost[n] < best here (the prune above); the cycles term may still keep it below.
        total = cost[n] + _most_cycles(regs, assign, targets, distinct_rows, uniq, owner, seen)
        if total < best:
            best = total
            if best <= cap:
                return missing
    return best


@njit(cache=True, nogil=True)
def lower_bound(
    regs,
    written,
    holds,
    flags,
    flags_valid,
    targets,
    cmov_only,
    use_cover,
    distinct_rows,
    remaining,
    work,
    compares,
):  # pragma: no cover - compiled
    """An admissible lower bound on the core instructions still needed (0 when sorted).

    ``regs``: int8[R, rows]; ``written``: int8[R]; ``holds``: int8[R], the target index each
    written register holds or -1; ``flags``: int8[rows] with ``flags_valid``; ``targets``:
    int8[n, rows]; ``cmov_only``: the only merges are ``cmov*`` (see the module docstring);
    ``use_cover``: add the cover bounds (else only the missing count and the flags case);
    ``distinct_rows``: int64[k], the rows with ``n`` distinct values, for the write bound
    (:func:`write_bound`; pass an empty array to skip it); ``remaining``: the moves the caller
    has left (the write bound is then only refined as far as deciding ``> remaining``; pass -1
    for the full bound); ``work``: uint64[R + 4, words] scratch; ``compares``: the further
    ``cmp`` every continuation needs (:func:`compares_needed`; 0 when not known).

    Admissible: the result is ``min(no_cmp, with_cmp)`` (only ``with_cmp`` when merges need no
    flags), where every continuation without a further ``cmp`` performs at least ``no_cmp``
    merges and every continuation with one performs a ``cmp`` plus at least ``with_cmp - 1``
    merges; both follow from the merge DAG, cover and flags arguments of the module docstring.
    Merges are writes, so each case also needs at least :func:`write_bound` writes; a ``cmp``
    is not a write, so the ``cmp`` case adds one to the larger of its two write counts.
    """
    num_regs, rows = regs.shape
    n = targets.shape[0]
    words = work.shape[1]
    missing = 0
    for t in range(n):
        held = False
        for r in range(num_regs):
            if written[r] and holds[r] == t:
                held = True
                break
        if not held:
            missing += 1
    if missing == 0:
        return 0
    merges = missing  # merges any continuation performs (merge DAG)
    no_cmp = missing  # merges a continuation without another cmp performs
    no_cmp_possible = cmov_only and flags_valid != 0
    full = work[num_regs]
    classes = work[num_regs + 1 : num_regs + 4]
    if use_cover or no_cmp_possible:
        for w in range(words):
            full[w] = 0
            for k in range(3):
                classes[k, w] = 0
        for i in range(rows):
            bit = np.uint64(1) << np.uint64(i & 63)
            full[i >> 6] |= bit
            if no_cmp_possible:
                classes[flags[i] + 1, i >> 6] |= bit
    class_sets = np.zeros(3, dtype=np.int64)
    for t in range(n):
        if not (use_cover or no_cmp_possible):
            break
        held = False
        for r in range(num_regs):
            if written[r] and holds[r] == t:
                held = True
                break
        if held:
            continue
        regs_mask = 0
        for r in range(num_regs):
            for w in range(words):
                work[r, w] = 0
            if not written[r]:
                continue
            any_row = False
            for i in range(rows):
                if regs[r, i] == targets[t, i]:
                    work[r, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
                    any_row = True
            if any_row:
                regs_mask |= 1 << r
        if use_cover:
            cover = _least_cover(work, regs_mask, full, words, num_regs)
            if cover - 1 > merges:
                merges = cover - 1
        if no_cmp_possible:
            count = 0
            for k in range(3):
                nonempty = False
                for w in range(words):
                    if classes[k, w] != 0:
                        nonempty = True
                        break
                if not nonempty:
                    continue
                agree = 0
                for r in range(num_regs):
                    if not (regs_mask >> r & 1):
                        continue
                    ok = True
                    for w in range(words):
                        if classes[k, w] & ~work[r, w]:
                            ok = False
                            break
                    if ok:
                        agree |= 1 << r
                if agree == 0:
                    no_cmp_possible = False
                    break
                class_sets[count] = agree
                count += 1
            if no_cmp_possible and use_cover:
                need = _least_hitting(class_sets, count, num_regs) - 1
                if need > no_cmp:
                    no_cmp = need
    writes = merges
    if distinct_rows.shape[0] > 0:
        cap = remaining
        if remaining >= 0 and cmov_only and not no_cmp_possible:
            cap = remaining - 1
        if remaining < 0 or cap < missing + n // 2:
            writes = max(writes, write_bound(regs, written, holds, targets, distinct_rows, cap))
    if not cmov_only:
        return writes
    if compares > 0:  # no continuation without a cmp exists; each cmp needs its own cmov
        return max(writes, compares) + compares
    with_cmp = writes + 1
    if no_cmp_possible:
        return min(max(no_cmp, writes), with_cmp)
    return with_cmp


def state_bound(
    task, core, *, cover: bool = True, writes: bool = True, compare_classes: bool = True
) -> int:
    """The full lower bound (no early stop) on the core instructions still needed after the
    loads and ``core`` (register indices) for ``task``: what the exact search prunes with, at
    its strongest. For tests and diagnostics."""
    from alphadev.exact.space import core_actions, start_state, target_columns
    from alphadev.tasks import tie_pattern_rows

    state = start_state(task, list(core))
    targets = target_columns(task.n)
    holds = np.full(task.registers, -1, dtype=np.int8)
    for r in range(task.registers):
        if state.written[r]:
            for t in range(task.n):
                if np.array_equal(state.regs[r], targets[t]):
                    holds[r] = t
    rows = tie_pattern_rows(task.n)
    distinct = np.flatnonzero(rows.max(axis=1) == task.n - 1) if writes else np.zeros(0)
    work = np.zeros((task.registers + 4, row_words(rows.shape[0])), dtype=np.uint64)
    cmov_only = merges_only_cmov(core_actions(task.registers, task.isa))
    compares = 0
    if cmov_only and compare_classes:
        perm_rows, leaf_of = permutation_leaves(rows, task.registers)
        keys = np.zeros(perm_rows.shape[0], dtype=np.uint64)
        compares = compares_needed(
            state.regs, state.written, state.flags, int(state.start[0]), perm_rows, leaf_of, keys
        )
    return int(
        lower_bound(
            state.regs,
            state.written,
            holds,
            state.flags,
            int(state.start[0]),
            targets,
            cmov_only,
            cover,
            np.ascontiguousarray(distinct, dtype=np.int64),
            -1,
            work,
            compares,
        )
    )
