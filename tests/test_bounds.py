import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev import asm
from alphadev.bounds import DEAD, lower_bound, placed, progress
from alphadev.game import AssemblyGame
from alphadev.isa import Instruction, Op

from .conftest import REFERENCE, shortest_completion


def bound(g, gs):
    return int(lower_bound(gs.state, gs.book, g.task.expected))


def test_reference_kernels_never_look_dead_and_the_bound_is_admissible():
    for path in REFERENCE:
        listing = asm.parse_file(path)
        program = listing.program
        g = AssemblyGame(n=program.layout.n, isa=listing.header["isa"])
        gs = g.initial_state()
        assert bound(g, gs) == 3 * g.n  # n loads, n stores, n register writes
        for i, ins in enumerate(program.code):
            remaining = len(program) - i
            assert 0 <= bound(g, gs) <= remaining
            gs = g.apply(gs, g.action_space.index(ins))
        assert gs.correct and bound(g, gs) == 0
        assert placed(gs.state, gs.book, g.task.expected) == g.n
        assert progress(gs.state, gs.book, g.task.expected) == 1.0


def play(g, text):
    gs = g.initial_state()
    for line in text.strip().splitlines():
        ins = asm.parse(f"; task: sort{g.n}\n; registers: {g.layout.registers}\n{line}\n")
        gs = g.apply(gs, g.action_space.index(ins.program.code[0]))
    return gs


def test_wrong_store_and_lost_value_are_dead():
    g = AssemblyGame(n=3)
    assert bound(g, play(g, "mov r0, m0\nmov m0, r0")) == DEAD  # m0 stored unsorted
    # r0 held the only copy of input m0 (already read, cannot be read again)
    assert bound(g, play(g, "mov r0, m0\nmov r1, m1\nmov r0, r1")) == DEAD
    assert bound(g, play(g, "mov r0, m0\nmov r1, m1\nmov r2, r0\nmov r0, r1")) != DEAD


@functools.cache
def sort2_game(isa):
    return AssemblyGame(n=2, isa=isa, max_length=10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["cmov", "minmax"]), st.integers(0, 6))
def test_bound_never_overestimates_and_dead_means_no_completion(seed, isa, steps):
    g = sort2_game(isa)
    rng = np.random.default_rng(seed)
    gs = g.initial_state()
    for _ in range(steps):
        if g.is_terminal(gs):
            break
        gs = g.apply(gs, int(rng.choice(np.flatnonzero(g.legal_actions(gs)))))
    exact = shortest_completion(g, gs, g.max_length - gs.length)
    b = bound(g, gs)
    if b == DEAD:
        assert exact is None
    elif exact is not None:
        assert b <= exact


def test_progress_counts_rows_a_register_gets_right():
    g = AssemblyGame(n=2, isa="minmax")
    gs = play(g, "mov r0, m0\nmov r1, m1\nmov r2, r0\nmin r0, r1")
    # r0 = min(a, b) holds sorted[0] in every row; sorted[1] is in r1 only where b >= a
    rows = g.task.num_rows
    right = int((gs.state[:, 2:] == g.task.expected[:, [1]]).sum(axis=0).max())
    assert progress(gs.state, gs.book, g.task.expected) == (1.0 + right / rows) / 2
    assert placed(gs.state, gs.book, g.task.expected) == 1
    assert Instruction(Op.MIN, 2, 3).op == Op.MIN
