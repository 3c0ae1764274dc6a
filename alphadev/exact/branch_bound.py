"""Exact search for sorting kernels: iterative depth-first branch and bound.

:func:`find` answers "is there a core of at most ``L`` instructions that sorts every
tie-pattern row?" over the :class:`~alphadev.exact.space.Space` by depth-first search, where
every instruction must change the machine state (one that changes nothing never shortens a
program), with three exact prunes:

* **dead states**: some row lost a value that some sorted slot needs (no instruction creates
  values, they only copy them);
* **a lower bound**: each sorted column that no register holds needs its own write (``mov``
  only copies an existing column, so a ``cmov``/``min``/``max``); and when every move left must
  be such a write, one of them must be possible right now;
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
from numba import njit

from alphadev.emulator import compare
from alphadev.exact.columns import (
    column_result,
    creates_target,
    is_dead,
    missing_targets,
    renaming_key,
)
from alphadev.exact.control import NODES, POLL_EVERY, STOP, SearchControl
from alphadev.exact.space import Core, assemble, core_actions, core_of, start_state, target_columns
from alphadev.isa import Op, Program
from alphadev.tasks import SortTask

__all__ = ["Outcome", "find", "shorten_tail"]

_MOV, _CMP, _CMOVL, _CMOVG, _CMOVLE, _CMOVGE, _MIN, _MAX = (int(op) for op in Op)

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
):  # pragma: no cover - compiled
    """Depth-first branch and bound for at most ``limit`` more core moves.

    ``regs0``: int8[registers, rows], the start (after the loads and any core prefix);
    ``written0``: int8[registers]; ``flags0``: int8[rows]; ``start``: int64[2], whether the
    flags are valid and whether the last move was a ``cmp``; ``max_nodes``: give up (as if
    stopped) after this many states, 0 for no cap;
    ``targets``: int8[n, rows], the sorted columns; ``actions``: int64[A, 3];
    ``keys``: uint64[size] and ``depths``: int64[size], the transposition table (size a power
    of two, zeroed by the caller);
    ``control``: int64[4]; ``solution``: int64[limit] action indices.
    Returns the core length found, -1 when exhausted, -2 when stopped.
    """
    num_regs, rows = regs0.shape
    mask = np.uint64(keys.shape[0] - 1)
    regs = np.empty((limit + 1, num_regs, rows), dtype=np.int8)
    written = np.empty((limit + 1, num_regs), dtype=np.int8)
    flags = np.zeros((limit + 1, rows), dtype=np.int8)
    flags_valid = np.zeros(limit + 1, dtype=np.int8)
    last_cmp = np.zeros(limit + 1, dtype=np.int8)
    next_action = np.zeros(limit + 1, dtype=np.int64)
    column = np.empty(rows, dtype=np.int8)
    scratch = np.empty(rows, dtype=np.int8)
    regs[0] = regs0
    written[0] = written0
    flags[0] = flags0
    flags_valid[0] = start[0]
    last_cmp[0] = start[1]
    if missing_targets(regs0, written0, targets) == 0:
        return 0
    generated = 0
    num_actions = actions.shape[0]
    depth = 0
    while depth >= 0:
        a = next_action[depth]
        if a >= num_actions or depth >= limit:
            depth -= 1
            if depth >= 0:
                next_action[depth] += 1
            continue
        next_action[depth] = a + 1
        op = actions[a, 0]
        dst = actions[a, 1]
        src = actions[a, 2]
        if not written[depth, src]:
            continue
        child = depth + 1
        if op == _CMP:
            if last_cmp[depth] or not written[depth, dst]:
                continue
            same = flags_valid[depth] == 1
            for i in range(rows):
                x = regs[depth, dst, i]
                y = regs[depth, src, i]
                f = compare(x, y)
                flags[child, i] = f
                if f != flags[depth, i]:
                    same = False
            if same:
                continue
            regs[child] = regs[depth]
            written[child] = written[depth]
            flags_valid[child] = 1
            last_cmp[child] = 1
        else:
            if op == _MOV:
                if not written[depth, dst]:
                    lowest = True
                    for r in range(dst):
                        if not written[depth, r]:
                            lowest = False
                    if not lowest:
                        continue
            elif not written[depth, dst] or (_CMOVL <= op <= _CMOVGE and not flags_valid[depth]):
                continue
            column_result(op, dst, src, regs[depth], flags[depth], column)
            if written[depth, dst]:
                same = True
                for i in range(rows):
                    if column[i] != regs[depth, dst, i]:
                        same = False
                        break
                if same:
                    continue
            regs[child] = regs[depth]
            regs[child, dst] = column
            written[child] = written[depth]
            written[child, dst] = 1
            flags[child] = flags[depth]
            flags_valid[child] = flags_valid[depth]
            last_cmp[child] = 0
        control[NODES] += 1
        generated += 1
        if generated % POLL_EVERY == 0 and (
            control[STOP] != 0 or (max_nodes > 0 and generated >= max_nodes)
        ):
            return _FOUND_STOPPED
        missing = missing_targets(regs[child], written[child], targets)
        if missing == 0:
            for k in range(depth + 1):
                solution[k] = next_action[k] - 1
            return child
        if child + missing > limit or is_dead(regs[child], written[child], targets):
            continue
        if child + missing == limit and not creates_target(
            regs[child], written[child], flags[child], flags_valid[child], targets, actions, scratch
        ):
            continue
        key = renaming_key(
            regs[child], written[child], flags[child], flags_valid[child], last_cmp[child]
        )
        slot = key & mask
        seen = False
        for _ in range(64):
            stored = keys[slot]
            if stored == 0:
                keys[slot] = key
                depths[slot] = child
                break
            if stored == key:
                if depths[slot] <= child:
                    seen = True
                else:
                    depths[slot] = child
                break
            slot = (slot + np.uint64(1)) & mask
        if seen:
            continue
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
    does).
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
    keys = np.zeros(1 << table_bits, dtype=np.uint64)
    depths = np.zeros(1 << table_bits, dtype=np.int64)
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
