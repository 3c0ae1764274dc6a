import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphadev.emulator import (
    apply_instruction,
    apply_instruction_into,
    execute,
    reference_run,
    reference_trace,
)
from alphadev.isa import Instruction, Layout, Op, Program

from .conftest import int32_rows, layouts, programs


@st.composite
def program_and_rows(draw):
    layout = draw(layouts())
    program = draw(programs(layout))
    rows = draw(int32_rows(draw(st.integers(1, 12)), layout.num_locations))
    return program, rows


@given(program_and_rows())
def test_numba_matches_reference_interpreter(case):
    program, rows = case
    got, _ = execute(program, rows)
    want = np.array(reference_run(program, rows.tolist()), dtype=np.int64)
    np.testing.assert_array_equal(got.astype(np.int64), want)


@given(program_and_rows())
def test_step_by_step_equals_whole_program(case):
    program, rows = case
    state = rows.copy()
    flags = np.zeros(len(rows), dtype=np.int8)
    out_state = np.empty_like(state)
    out_flags = np.empty_like(flags)
    for ins in program:
        before = state.copy()
        apply_instruction_into(state, flags, out_state, out_flags, int(ins.op), ins.dst, ins.src)
        np.testing.assert_array_equal(state, before)  # the parent is left alone
        state, out_state = out_state, state
        flags, out_flags = out_flags, flags
    whole, _ = execute(program, rows)
    np.testing.assert_array_equal(state, whole)


def test_signed_compare_and_each_condition():
    layout = Layout(1, 3)
    lo, hi = -(2**31), 2**31 - 1
    # r0 = a, r1 = b, r2 = marker; after cmp r0, r1 each cmov copies r1 into r2 or not.
    rows = np.array([[0, lo, hi, 7], [0, hi, lo, 7], [0, 5, 5, 7], [0, -1, 0, 7]], np.int32)
    expect = {  # which rows move (a<b, a>b, a==b, a<b)
        Op.CMOVL: [True, False, False, True],
        Op.CMOVG: [False, True, False, False],
        Op.CMOVLE: [True, False, True, True],
        Op.CMOVGE: [False, True, True, False],
    }
    for op, moved in expect.items():
        prog = Program(layout, (Instruction(Op.CMP, 1, 2), Instruction(op, 3, 2)))
        state, flags = execute(prog, rows)
        assert list(flags) == [-1, 1, 0, -1]
        assert list(state[:, 3] == rows[:, 2]) == moved, op
        assert reference_run(prog, rows.tolist()) == state.tolist()


def test_min_max_are_signed():
    layout = Layout(1, 3)  # locations m0, r0, r1, r2
    lo, hi = -(2**31), 2**31 - 1
    rows = np.array([[0, lo, hi, 0]], np.int32)
    prog = Program(
        layout,
        (Instruction(Op.MOV, 3, 1), Instruction(Op.MAX, 3, 2), Instruction(Op.MIN, 2, 1)),
    )
    state, _ = execute(prog, rows)
    assert state.tolist() == [[0, lo, lo, hi]]


def test_in_place_apply():
    state = np.array([[3, 1, 0]], np.int32)
    flags = np.zeros(1, np.int8)
    apply_instruction(state, flags, int(Op.MOV), 2, 0)
    assert state.tolist() == [[3, 1, 3]]


def test_reference_rejects_flag_read_before_cmp():
    prog = Program(Layout(1, 2), (Instruction(Op.CMOVL, 1, 2),))
    with pytest.raises(ValueError, match="before any cmp"):
        reference_trace(prog, [0, 0, 0])
