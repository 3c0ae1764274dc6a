"""The exact engines search one space: ``split``, ``find``, ``best_first`` and the comparator
lowering allow, move for move, exactly the moves the rules of alphadev.exact.moves state.

The rules are written out again below in plain Python (:func:`reference_moves`), from the
module docstring, not from the code; each engine is then asked, on states reached by random
legal prefixes, for the moves it tries:

* ``split._children`` lists them (and the child states);
* ``find`` and ``best_first`` count the states they generate: with one move left and at least
  two sorted columns missing, no prune acts before the count, so the count is the number of
  moves the engine allows (``best_first`` from the root only: it takes no prefix);
* ``lowerings`` (the comparator engine's inner search) reports its generated count likewise
  when asked for sequences of one move towards two missing goal columns.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphadev.emulator import compare, result_of
from alphadev.exact import best_first, split
from alphadev.exact.branch_bound import find
from alphadev.exact.columns import is_dead, missing_targets
from alphadev.exact.comparators_kernels import lowerings
from alphadev.exact.control import SearchControl
from alphadev.exact.space import core_actions, start_state, target_columns
from alphadev.isa import Op
from alphadev.tasks import SortTask

CMOVS = {int(Op.CMOVL), int(Op.CMOVG), int(Op.CMOVLE), int(Op.CMOVGE)}


def reference_moves(regs, written, flags, flags_valid, last_cmp, actions):
    """``{(op, dst, src): (regs, written, flags, flags_valid, last_cmp)}`` for every move the
    rules allow: only written registers are read (``dst`` too, except by ``mov``), a fresh
    register is the lowest unwritten one and only ``mov`` writes one, no ``cmp`` after a
    ``cmp``, no cmov before a ``cmp``, and the move changes the flags or the register."""
    moves = {}
    rows = regs.shape[1]
    for op, dst, src in (tuple(int(v) for v in a) for a in actions):
        if not written[src]:
            continue
        if op == int(Op.CMP):
            if last_cmp or not written[dst]:
                continue
            new_flags = np.array([compare(regs[dst, i], regs[src, i]) for i in range(rows)],
                                 dtype=np.int8)  # fmt: skip
            if flags_valid and np.array_equal(new_flags, flags):
                continue
            moves[(op, dst, src)] = (regs, written, new_flags, 1, 1)
            continue
        if op == int(Op.MOV) and not written[dst]:
            if any(not written[r] for r in range(dst)):
                continue
        elif not written[dst] or (op in CMOVS and not flags_valid):
            continue
        column = np.array([result_of(op, regs[dst, i], regs[src, i], flags[i])
                           for i in range(rows)], dtype=np.int8)  # fmt: skip
        if written[dst] and np.array_equal(column, regs[dst]):
            continue
        new_regs, new_written = regs.copy(), written.copy()
        new_regs[dst], new_written[dst] = column, 1
        moves[(op, dst, src)] = (new_regs, new_written, flags, flags_valid, 0)
    return moves


def random_states(task, count, seed):
    """``count`` (core, state) pairs reached by random legal prefixes of 0..7 moves."""
    rng = np.random.default_rng(seed)
    actions = core_actions(task.registers, task.isa)
    targets = target_columns(task.n)
    found = []
    while len(found) < count:
        core = []
        state = start_state(task, core)
        for _ in range(int(rng.integers(0, 8))):
            moves = reference_moves(state.regs, state.written, state.flags, state.start[0],
                                    state.start[1], actions)  # fmt: skip
            live = [m for m, s in moves.items() if not is_dead(s[0], s[1], targets)]
            if not live:
                break
            core.append(live[int(rng.integers(len(live)))])
            state = start_state(task, core)
        found.append((core, state))
    return found


SPACES = [(3, "cmov", 4), (3, "minmax", 4), (4, "cmov", 5), (4, "minmax", 6)]


@pytest.mark.parametrize(("n", "isa", "registers"), SPACES)
def test_split_lists_exactly_the_moves_the_rules_allow_and_their_states(n, isa, registers):
    task = SortTask(n, registers, isa=isa)
    actions = core_actions(registers, task.isa)
    targets = target_columns(n)
    for core, state in random_states(task, 40, seed=n * 10 + registers):
        expected = reference_moves(state.regs, state.written, state.flags, state.start[0],
                                   state.start[1], actions)  # fmt: skip
        expected = {m: s for m, s in expected.items() if not is_dead(s[0], s[1], targets)}
        children = split._children(task, core, state, actions, targets)
        assert {tuple(c[-1]) for c, _ in children} == set(expected)
        for c, child in children:
            regs, written, flags, flags_valid, last_cmp = expected[tuple(c[-1])]
            assert np.array_equal(child.regs, regs) and np.array_equal(child.written, written)
            assert np.array_equal(child.flags, flags)
            assert tuple(child.start) == (flags_valid, last_cmp)


def _counted_states(task, count, seed):
    """States with at least two sorted columns missing and no value lost (the engines' counts
    see every allowed move there), with the number of moves the rules allow."""
    actions = core_actions(task.registers, task.isa)
    targets = target_columns(task.n)
    for core, state in random_states(task, count, seed):
        if is_dead(state.regs, state.written, targets):
            continue
        if missing_targets(state.regs, state.written, targets) < 2:
            continue
        moves = reference_moves(state.regs, state.written, state.flags, state.start[0],
                                state.start[1], actions)  # fmt: skip
        yield core, state, len(moves)


@pytest.mark.parametrize(("n", "isa", "registers"), SPACES)
def test_find_generates_one_state_per_allowed_move(n, isa, registers):
    task = SortTask(n, registers, isa=isa)
    checked = 0
    for core, _, allowed in _counted_states(task, 40, seed=n + registers):
        outcome = find(task, len(core) + 1, prefix=core, table=False)
        assert outcome.nodes == allowed, core
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(("n", "isa", "registers"), SPACES)
def test_best_first_generates_one_state_per_allowed_move_at_the_root(n, isa, registers):
    task = SortTask(n, registers, isa=isa)
    state = start_state(task, [])
    allowed = reference_moves(state.regs, state.written, state.flags, 0, 0,
                              core_actions(registers, task.isa))  # fmt: skip
    result = best_first.beam_search(task, max_core=1)  # the root is expanded, nothing deeper
    assert result.nodes == len(allowed)


def _widen(columns, pad):
    """``columns`` (``[..., rows]``) with ``pad`` more rows, copies of row 0."""
    return np.ascontiguousarray(np.concatenate([columns, np.repeat(columns[..., :1], pad, -1)], -1))


@pytest.mark.parametrize(("n", "isa", "registers"), SPACES)
def test_the_comparator_lowering_generates_one_state_per_allowed_move(n, isa, registers):
    task = SortTask(n, registers, isa=isa)
    actions = core_actions(registers, task.isa)
    targets = target_columns(n)
    checked = 0
    for _, state, allowed in _counted_states(task, 40, seed=7 * n + registers):
        held = {state.regs[r].tobytes() for r in np.flatnonzero(state.written)}
        goal = np.array([t for t in targets if t.tobytes() not in held][:2])
        # The lowering hashes whole 8-row words: pad with copies of row 0 (same moves).
        pad = (-state.regs.shape[1]) % 8
        regs, flags, goal = (_widen(a, pad) for a in (state.regs, state.flags, goal))
        length, _, _, generated, stopped = lowerings(
            regs, state.written, flags, state.start[0], state.start[1], goal, actions,
            1, 0, 64, SearchControl().array,
        )  # fmt: skip
        assert not stopped and length == -1
        assert generated == allowed
        checked += 1
    assert checked >= 10
