import itertools
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev.emulator import compare
from alphadev.exact import comparators as cmp_engine
from alphadev.exact import comparators_kernels as kernels
from alphadev.exact.comparators import _ZeroOne
from alphadev.exact.control import SearchControl
from alphadev.exact.networks import sorting_network
from alphadev.exact.space import assemble, core_actions
from alphadev.isa import Op, get_isa
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask, verify


def verifies(task, core):
    return verify(assemble(task, core), task).correct


@pytest.mark.parametrize(("n", "core"), [(3, 11), (4, 20)])
def test_search_reaches_the_known_cores_and_verifies(n, core):
    task = SortTask(n)
    result = cmp_engine.comparator_search(task, width=40)
    assert result.core is not None and len(result.core) == core
    assert verifies(task, result.core) and not result.stopped
    assert len(result.network) == OPTIMAL_COMPARATORS[n]
    assert cmp_engine.min_comparators(n, result.network) == 0


def test_insertion_network_sorts_and_its_lowering_verifies():
    assert cmp_engine.insertion_network(4) == [*sorting_network(3), (2, 3), (1, 2), (0, 1)]
    for n in (4, 5):
        assert cmp_engine.min_comparators(n, cmp_engine.insertion_network(n)) == 0
        task = SortTask(n)
        result = cmp_engine.lower_network(task, cmp_engine.insertion_network(n), width=30)
        assert result.core is not None and verifies(task, result.core)
        assert result.network == cmp_engine.insertion_network(n)
        assert len(result.core) < 4 * len(result.network)  # some 3-instruction lowerings
    plain = cmp_engine.lower_network(SortTask(4), sorting_network(4), width=30)
    assert len(plain.core) == 20 and verifies(SortTask(4), plain.core)


def test_min_comparators_matches_the_optimal_network_sizes():
    for n in range(2, 6):
        assert cmp_engine.min_comparators(n) == OPTIMAL_COMPARATORS[n]
    assert cmp_engine.min_comparators(4, [(0, 1)]) == 4


def _run_python(state, seq):
    regs, written, flags, valid, last = state
    regs = [list(c) for c in regs]
    written = list(written)
    flags = list(flags)
    for op, dst, src in seq:
        if op == int(Op.CMP):
            flags = [int(compare(a, b)) for a, b in zip(regs[dst], regs[src], strict=True)]
            valid, last = 1, 1
            continue
        cond = {
            int(Op.MOV): lambda f: True,
            int(Op.CMOVL): lambda f: f < 0,
            int(Op.CMOVG): lambda f: f > 0,
            int(Op.CMOVLE): lambda f: f <= 0,
            int(Op.CMOVGE): lambda f: f >= 0,
        }[op]
        regs[dst] = [
            s if cond(f) else d for d, s, f in zip(regs[dst], regs[src], flags, strict=True)
        ]
        written[dst] = 1
        last = 0
    return regs, written, flags, valid, last


def _legal(state, seq):
    """The space's rules, checked move by move in plain Python."""
    regs, written, flags, valid, last = state
    for op, dst, src in seq:
        if not written[src]:
            return False
        if op == int(Op.CMP):
            if last or not written[dst]:
                return False
        elif op == int(Op.MOV):
            if not written[dst] and any(not written[r] for r in range(dst)):
                return False
        elif not written[dst] or not valid:
            return False
        after = _run_python((regs, written, flags, valid, last), [(op, dst, src)])
        unchanged = after[0] == regs and after[1] == written
        if op == int(Op.CMP):
            unchanged = bool(valid) and after[2] == flags
        if unchanged:
            return False
        regs, written, flags, valid, last = after
    return True


def _holds_goal(state, goal):
    regs, written = state[0], state[1]
    return all(any(written[r] and regs[r] == list(g) for r in range(len(regs))) for g in goal)


def test_inner_step_agrees_with_brute_force_enumeration():
    # Three registers over sort2 rows: r0, r1 hold the wires, r2 is free; comparator (0, 1).
    rows = np.array([[0, 0], [0, 1], [1, 0]], dtype=np.int8)
    regs = np.zeros((3, 3), dtype=np.int8)
    regs[:2] = rows.T
    written = np.array([1, 1, 0], dtype=np.int8)
    flags = np.zeros(3, dtype=np.int8)
    goal = np.stack([rows.min(axis=1), rows.max(axis=1)]).astype(np.int8)
    local = np.arange(3, dtype=np.int64)
    cregs, cwritten, cflags, cgoal = kernels.compress_rows(regs, written, flags, 0, local, goal)
    actions = np.ascontiguousarray(core_actions(3, get_isa("cmov")), dtype=np.int64)
    length, count, seqs, _, stopped = kernels.lowerings(
        cregs, cwritten, cflags, 0, 0, cgoal, actions, 4, 0, 1000, SearchControl().array
    )
    assert not stopped and length == 4
    start = (regs.tolist(), written.tolist(), flags.tolist(), 0, 0)
    found = []
    for s in range(count):
        seq = [tuple(int(v) for v in actions[a]) for a in seqs[s] if a >= 0]
        assert len(seq) == 4 and _legal(start, seq)
        assert _holds_goal(_run_python(start, seq), goal.tolist())
        found.append(seq)
    # Brute force: every legal sequence of at most 4 moves, shortest solving length first.
    action_list = [tuple(int(v) for v in a) for a in actions]
    shortest = None
    ends = set()
    for size in range(1, 5):
        for seq in itertools.product(action_list, repeat=size):
            if _legal(start, list(seq)) and _holds_goal(_run_python(start, list(seq)), goal):
                shortest = size
                end = _run_python(start, list(seq))
                ends.add(_renaming_free(end))
        if shortest is not None:
            break
    assert shortest == 4
    assert {_renaming_free(_run_python(start, seq)) for seq in found} == ends
    assert len(found) == len(ends)  # one sequence per distinct end state


def _renaming_free(state):
    regs, written, flags, valid, last = state
    columns = sorted(tuple(c) for c, w in zip(regs, written, strict=True) if w)
    return tuple(columns), sum(written), tuple(flags) if valid else None, last


def test_a_stopped_control_stops_the_search():
    control = SearchControl()
    control.stop()
    result = cmp_engine.comparator_search(SortTask(5), width=50, control=control)
    assert result.stopped and result.core is None


def test_a_stop_from_another_thread_ends_a_long_search():
    control = SearchControl()
    timer = threading.Timer(0.5, control.stop)
    timer.start()
    result = cmp_engine.comparator_search(SortTask(6), width=100_000, control=control)
    timer.join()
    assert result.stopped and result.seconds < 30
    assert result.core is None or verifies(SortTask(6), result.core)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.data())
def test_a_comparator_maps_a_zero_one_set_as_it_maps_each_vector(n, data):
    """The bit-parallel set map (three big-int operations) against one vector at a time."""
    zo = _ZeroOne(n)
    vectors = data.draw(st.integers(0, zo.full))
    i, j = data.draw(st.sampled_from(zo.pairs))
    expected = 0
    for v in range(zo.size):
        if (vectors >> v) & 1:
            if (v >> i) & 1 and not (v >> j) & 1:  # the larger value leaves wire i for j
                v ^= (1 << i) | (1 << j)
            expected |= 1 << v
    assert zo.apply(vectors, (i, j)) == expected


def test_the_network_lowered_in_any_wire_order_sorts_and_is_no_longer_than_in_its_own_order():
    """Reordering comparators that share no wire keeps the function: every kernel the any-order
    beam returns sorts all tie patterns, and the best order is no worse than the fixed one
    (sort6 cmov: 57 against 59)."""
    task = SortTask(6)
    network = sorting_network(6)
    fixed = cmp_engine.lower_network(task, network)
    free = cmp_engine.lower_network_any_order(task, network, variants=3)
    assert free.core is not None and len(free.core) <= len(fixed.core)
    for core in (free.core, *free.variants):
        assert verify(assemble(task, core), task).correct
    assert sorted(free.network) == sorted(network)  # the same comparators, reordered


def test_any_order_keeps_the_order_on_each_wire():
    """A network whose comparators all share wire 0 has one order: the given one."""
    task = SortTask(4)
    chain = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    result = cmp_engine.lower_network_any_order(task, chain)
    applied = list(result.network)
    first_three = [pair for pair in applied if 0 in pair]
    assert first_three == [(0, 1), (0, 2), (0, 3)]
    assert verify(assemble(task, result.core), task).correct
