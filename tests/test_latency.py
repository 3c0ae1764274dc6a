import pytest

from alphadev import asm
from alphadev.latency import LatencyTable, critical_path, latency, schedule

from .conftest import ROOT

UNIT = LatencyTable(mov=1, load=1, store=1, cmp=1, cmov=1, minmax=1)

# Worked by hand (unit latencies): two independent loads (cycle 0 -> ready 1), mov r2 <- r0
# (ready 2), cmp r0, r1 (ready 2), cmovg r0, r1 waits for r0, r1, flags (ready 3),
# cmovg r1, r2 waits for r1, r2 (2), flags (2) -> ready 3, stores ready 4.
SORT2 = """; task: sort2
mov r0, m0
mov r1, m1
mov r2, r0
cmp r0, r1
cmovg r0, r1
cmovg r1, r2
mov m0, r0
mov m1, r1
"""


def test_critical_path_by_hand():
    program = asm.parse(SORT2).program
    assert critical_path(program, UNIT) == 4
    # default table: loads take 4 -> everything shifts by 3
    assert critical_path(program) == 7


def test_schedule_by_hand():
    program = asm.parse(SORT2).program
    # width 1: one issue per cycle, 8 instructions; the last store issues at cycle 7 -> 8
    assert schedule(program, 1, UNIT) == 8
    # width 2: loads at 0; mov r2 and cmp at 1; both cmovg at 2; both stores at 3 -> 4
    assert schedule(program, 2, UNIT) == 4
    assert schedule(program, 100, UNIT) == critical_path(program, UNIT)
    with pytest.raises(ValueError):
        schedule(program, 0)


def test_flags_dependency_counts():
    text = "; task: sort1\n; registers: 3\nmov r0, m0\nmov r1, r0\nmov r2, r1\ncmp r2, r0\n"
    text += "cmovl r0, r1\nmov m0, r0\n"
    # chain: load 1, mov 2, mov 3, cmp 4, cmovl 5, store 6
    assert critical_path(asm.parse(text).program, UNIT) == 6


def test_reference_kernels_latency_models():
    program = asm.parse_file(ROOT / "asm/reference/sort3_cmov.s").program
    assert latency(program, "length") == 18
    # loads ready at 4; each compare-exchange in the chain adds cmp (1) + cmovg (1); store 1
    assert critical_path(program) == 4 + 3 * 2 + 1
    with pytest.raises(ValueError, match="unknown latency model"):
        latency(program, "wallclock")
