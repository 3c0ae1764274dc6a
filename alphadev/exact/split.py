"""Split the exact search space into parts at a shallow depth, for workers that search them apart.

A *part* is a core prefix of ``depth`` instructions: :func:`~alphadev.exact.find` with that
``prefix`` searches exactly the cores that start with it. :func:`split_space` lists the prefixes
so that every core the undivided search could reach starts with one of them:

* it applies, level by level, only the rules the depth-first kernel itself applies to every move
  (:mod:`~alphadev.exact.branch_bound`): a read register must be written; ``cmp`` needs a written
  destination, never follows a ``cmp`` and must change the flags; a ``cmov`` needs flags; ``min``,
  ``max`` and ``cmov`` need a written destination; a fresh register is the lowest unwritten one;
  every move must change the state; a state that lost a value some sorted slot needs is dead.
  It skips the kernel's other prunes (lower bounds, the "tight" rule), so the parts cover a
  superset of what the kernel explores below depth ``depth``;
* two prefixes that reach the same state up to register renaming have the same continuations,
  so only the first is kept; so is a prefix whose state was met at a shallower depth (the
  children of that shallower state cover every continuation with more moves left). The
  comparison is exact (the sorted register columns, the flags, the last move), not a hash: no
  collision can drop a part;
* a prefix after which more sorted columns are missing than moves are left is dropped (each
  needs a write of its own: the kernel's first bound);
* a prefix that already sorts is a solution shorter than ``depth``, returned as such.

So if every part is exhausted at a core length ``L`` and no solution was returned, no core of at
most ``L`` instructions exists in the space: the same claim :func:`~alphadev.exact.find` makes
undivided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphadev.emulator import compare
from alphadev.exact.columns import column_result, is_dead, missing_targets
from alphadev.exact.space import Core, StartState, core_actions, start_state, target_columns
from alphadev.isa import Op
from alphadev.tasks import SortTask

__all__ = ["MAX_SPLIT_DEPTH", "Split", "split_space"]

#: The deepest split: the prefixes multiply by about ten per level.
MAX_SPLIT_DEPTH = 4

_CMOVS = (int(Op.CMOVL), int(Op.CMOVG), int(Op.CMOVLE), int(Op.CMOVGE))


@dataclass(frozen=True)
class Split:
    """The parts of the space of cores of at most ``max_core`` instructions.

    Attributes:
        prefixes: the parts, each a core prefix of ``depth`` instructions (register indices).
        depth: the prefixes' length.
        max_core: the core length the split is for.
        solution: a core shorter than ``depth`` that already sorts, if one was met (then
            ``prefixes`` is empty: the question is answered).
    """

    prefixes: list[Core]
    depth: int
    max_core: int
    solution: Core | None = None


def _key(state: StartState) -> tuple:
    """The state up to register renaming, exactly: the sorted written columns, the flags when
    valid, whether the last move was a ``cmp``."""
    written = np.flatnonzero(state.written)
    columns = sorted(state.regs[r].tobytes() for r in written)
    flags = state.flags.tobytes() if state.start[0] else b""
    return (tuple(columns), flags, int(state.start[1]))


def _children(task: SortTask, prefix: Core, state: StartState, actions: np.ndarray,
              targets: np.ndarray) -> list[tuple[Core, StartState]]:  # fmt: skip
    """The moves the kernel would try from ``state`` (see the module docstring), with the
    state after each."""
    regs, written, flags = state.regs, state.written, state.flags
    flags_valid, last_cmp = bool(state.start[0]), bool(state.start[1])
    lowest_free = next((r for r in range(written.shape[0]) if not written[r]), -1)
    column = np.empty(regs.shape[1], dtype=np.int8)
    found = []
    for op, dst, src in (tuple(int(v) for v in row) for row in actions):
        if not written[src]:
            continue
        if op == int(Op.CMP):
            if last_cmp or not written[dst]:
                continue
            new_flags = np.array([compare(a, b) for a, b in zip(regs[dst], regs[src], strict=True)],
                                 dtype=np.int8)  # fmt: skip
            if flags_valid and np.array_equal(new_flags, flags):
                continue
            child = StartState(regs, written, new_flags, np.array([1, 1], dtype=np.int64))
        else:
            if op == int(Op.MOV):
                if not written[dst] and dst != lowest_free:
                    continue
            elif not written[dst] or (op in _CMOVS and not flags_valid):
                continue
            column_result(op, dst, src, regs, flags, column)
            if written[dst] and np.array_equal(column, regs[dst]):
                continue
            new_regs = regs.copy()
            new_regs[dst] = column
            new_written = written.copy()
            new_written[dst] = 1
            child = StartState(new_regs, new_written, flags,
                               np.array([state.start[0], 0], dtype=np.int64))  # fmt: skip
            if is_dead(child.regs, child.written, targets):
                continue
        found.append(([*prefix, (op, dst, src)], child))
    return found


def split_space(task: SortTask, max_core: int, *, parts: int) -> Split:
    """Prefixes covering every core of at most ``max_core`` instructions: the shallowest depth
    (at most :data:`MAX_SPLIT_DEPTH` and ``max_core``) with at least ``parts`` of them, or the
    deepest tried. Prefixes are listed in the kernel's move order."""
    actions = core_actions(task.registers, task.isa)
    targets = target_columns(task.n)
    root = start_state(task, [])
    if missing_targets(root.regs, root.written, targets) == 0:
        return Split([], 0, max_core, solution=[])
    frontier: list[tuple[Core, StartState]] = [([], root)]
    seen = {_key(root): 0}  # state up to renaming -> the shallowest depth it was met at
    depth = 0
    while len(frontier) < parts and depth < min(MAX_SPLIT_DEPTH, max_core) and frontier:
        deeper = []
        for prefix, state in frontier:
            for child_prefix, child in _children(task, prefix, state, actions, targets):
                missing = missing_targets(child.regs, child.written, targets)
                if missing == 0:
                    return Split([], depth + 1, max_core, solution=child_prefix)
                if depth + 1 + missing > max_core:
                    continue  # each missing sorted column needs a write of its own
                key = _key(child)
                if key in seen:
                    continue  # met at this depth or shallower: covered there
                seen[key] = depth + 1
                deeper.append((child_prefix, child))
        frontier = deeper
        depth += 1
    return Split([prefix for prefix, _ in frontier], depth, max_core)
