import numpy as np
import pytest
from hypothesis import given

from alphadev.isa import ISAS, ActionSpace, Instruction, Layout, Op, Program, get_isa

from .conftest import programs


def test_locations_are_memory_then_registers():
    layout = Layout(3, 4)
    assert [layout.name(i) for i in range(7)] == ["m0", "m1", "m2", "r0", "r1", "r2", "r3"]
    assert layout.register(0) == 3 and layout.memory(2) == 2
    with pytest.raises(ValueError, match="out of range"):
        layout.register(4)


def test_action_space_counts_follow_operand_forms():
    n, k = 3, 4
    space = ActionSpace(Layout(n, k), "cmov")
    mov = k * k + k * n + n * k  # reg<-reg, load, store (no memory to memory)
    reg_pairs = k * k
    assert space.num_actions == mov + reg_pairs + 4 * reg_pairs
    minmax = ActionSpace(Layout(n, k), "minmax")
    assert minmax.num_actions == mov + 2 * reg_pairs
    for op, dst, src in space.actions:
        if op != Op.MOV:
            assert dst >= n and src >= n, "only mov may touch memory"
        else:
            assert not (dst < n and src < n)


def test_action_index_round_trips():
    space = ActionSpace(Layout(4, 5), "full")
    for a in range(space.num_actions):
        assert space.index(space.instruction(a)) == a
    with pytest.raises(KeyError, match="not in the cmov action space"):
        ActionSpace(Layout(4, 5), "cmov").index(Instruction(Op.MIN, 4, 5))


def test_isa_variants_and_subsets():
    assert ISAS["cmov"].ops == {Op.MOV, Op.CMP, Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE}
    assert ISAS["minmax"].ops == {Op.MOV, Op.MIN, Op.MAX}
    assert ISAS["full"].ops == set(Op)
    sub = get_isa("mov,cmp,cmovg")
    assert sub.ops == {Op.MOV, Op.CMP, Op.CMOVG}
    with pytest.raises(ValueError, match="unknown ISA"):
        get_isa("mov,jmp")
    with pytest.raises(ValueError, match="no cmp"):
        get_isa("mov,cmovl")


def test_illegal_forms_are_rejected():
    layout = Layout(2, 2)
    with pytest.raises(ValueError, match="memory to memory"):
        Program(layout, (Instruction(Op.MOV, 0, 1),))
    with pytest.raises(ValueError, match="registers only"):
        Program(layout, (Instruction(Op.CMOVL, 2, 0),))


@given(programs())
def test_dense_encoding_round_trips(program):
    arr = program.to_array()
    assert arr.shape == (len(program), 3) and arr.dtype == np.int32
    assert Program.from_array(program.layout, arr) == program
