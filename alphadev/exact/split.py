"""Split the exact search space into parts at a shallow depth, for workers that search them apart.

A *part* is a core prefix of ``depth`` instructions: :func:`~alphadev.exact.find` with that
``prefix`` searches exactly the cores that start with it. :func:`split_space` lists the prefixes
so that every core the undivided search could reach starts with one of them:

* it applies, level by level, only the rules the depth-first kernel itself applies to every move:
  the move rules of :mod:`~alphadev.exact.moves` (the same compiled functions the kernel calls),
  and a state that lost a value some sorted slot needs is dead.
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

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from alphadev.exact.branch_bound import find
from alphadev.exact.columns import column_result, is_dead, missing_targets
from alphadev.exact.control import SearchControl
from alphadev.exact.moves import CMP, compare_changes, may_play, write_changes
from alphadev.exact.space import Core, StartState, core_actions, start_state, target_columns
from alphadev.isa import Program
from alphadev.tasks import SortTask

__all__ = ["MAX_SPLIT_DEPTH", "PartsOutcome", "Split", "search_parts", "split_space"]

#: The deepest split: the prefixes multiply by about ten per level.
MAX_SPLIT_DEPTH = 4


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
    flags_valid, last_cmp = int(state.start[0]), int(state.start[1])
    rows = regs.shape[1]
    column = np.empty(rows, dtype=np.int8)
    found = []
    for op, dst, src in (tuple(int(v) for v in row) for row in actions):
        if not may_play(op, dst, src, written, flags_valid, last_cmp):
            continue
        if op == CMP:
            new_flags = np.empty(rows, dtype=np.int8)
            if not compare_changes(regs, dst, src, flags, flags_valid, rows, new_flags):
                continue
            child = StartState(regs, written, new_flags, np.array([1, 1], dtype=np.int64))
        else:
            column_result(op, dst, src, regs, flags, column)
            if not write_changes(column, regs, dst, written, rows):
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


@dataclass(frozen=True)
class PartsOutcome:
    """What :func:`search_parts` saw.

    Attributes:
        status: ``"found"``, ``"exhausted"`` (every part, this run's and the skipped ones), or
            ``"stopped"`` (asked to stop first; the parts exhausted so far stay recorded).
        program: the program found, else None.
        nodes: states generated by this run.
        exhausted: parts exhausted by this run.
    """

    status: str
    program: Program | None
    nodes: int
    exhausted: int


def search_parts(
    task: SortTask,
    max_core: int,
    prefixes: list[Core],
    *,
    skip: Collection[int] = (),
    on_exhausted: Callable[[int, int, float], None] | None = None,
    control: SearchControl | None = None,
    table_bits: int = 22,
) -> PartsOutcome:
    """Answer the split question part by part on this thread: ``find(prefix=...)`` for every
    part not in ``skip`` (indices into ``prefixes``, already exhausted), in order, with one
    transposition table (``2**table_bits`` entries, 10 bytes each) kept across the exhausted
    parts and zeroed after any other ending. ``on_exhausted(part, states, seconds)`` is called
    as each part comes back exhausted (the ledger's record). ``"exhausted"`` only when every
    part is: the claim of :func:`~alphadev.exact.find` undivided (see the module docstring).
    For parts on several cores, :func:`alphadev.distributed.prove_on_ray` takes the same
    split."""
    control = SearchControl() if control is None else control
    keys = np.zeros(1 << table_bits, dtype=np.uint64)
    depths = np.zeros(1 << table_bits, dtype=np.int16)
    nodes = exhausted = 0
    for part, prefix in enumerate(prefixes):
        if part in skip:
            continue
        if control.stopped:
            return PartsOutcome("stopped", None, nodes, exhausted)
        outcome = find(task, max_core, prefix=prefix, control=control,
                       shared_table=(keys, depths))  # fmt: skip
        nodes += outcome.nodes
        if outcome.status == "found":
            return PartsOutcome("found", outcome.program, nodes, exhausted)
        if outcome.status != "exhausted":
            return PartsOutcome("stopped", None, nodes, exhausted)
        exhausted += 1
        if on_exhausted is not None:
            on_exhausted(part, outcome.nodes, outcome.seconds)
    return PartsOutcome("exhausted", None, nodes, exhausted)
