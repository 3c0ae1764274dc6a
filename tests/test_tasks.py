import itertools
import math

import numpy as np
import pytest

from alphadev import asm
from alphadev.emulator import reference_run
from alphadev.isa import Program
from alphadev.tasks import SortTask, random_int32_rows, static_error, tie_pattern_rows, verify

from .conftest import DATA, REFERENCE


def ordered_bell(n: int) -> int:
    """Fubini numbers from the recurrence a(n) = sum_k C(n, k) a(n - k)."""
    a = [1]
    for m in range(1, n + 1):
        a.append(sum(math.comb(m, k) * a[m - k] for k in range(1, m + 1)))
    return a[n]


@pytest.mark.parametrize("n", range(1, 8))
def test_tie_pattern_rows_count_is_ordered_bell(n):
    rows = tie_pattern_rows(n)
    assert rows.shape == (ordered_bell(n), n)
    assert [ordered_bell(k) for k in range(3, 8)] == [13, 75, 541, 4683, 47293]
    assert len({tuple(r) for r in rows}) == len(rows)
    for row in rows[:: max(1, len(rows) // 200)]:
        assert set(row) == set(range(max(row) + 1))


def test_tie_rows_cover_every_order_pattern_of_random_inputs():
    """Any int32 row has the same order pattern (dense rank) as exactly one tie row."""
    rows = {tuple(r) for r in tie_pattern_rows(4)}
    for values in random_int32_rows(4, 300, seed=3):
        ranks = {v: i for i, v in enumerate(sorted(set(values.tolist())))}
        assert tuple(ranks[v] for v in values.tolist()) in rows


def test_task_arrays_and_score():
    task = SortTask(3)
    assert task.layout.registers == 4 and task.num_rows == 13
    assert task.initial_state.shape == (13, 7)
    np.testing.assert_array_equal(task.initial_state[:, :3], task.inputs)
    assert not task.initial_state[:, 3:].any()
    np.testing.assert_array_equal(task.expected, np.sort(task.inputs, axis=1))
    by_hand = int((task.inputs == task.expected).sum())
    assert task.correctness(task.initial_state) == by_hand
    sorted_state = task.initial_state.copy()
    sorted_state[:, :3] = task.expected
    assert task.correctness(sorted_state) == task.max_correctness == 39
    assert task.is_correct(sorted_state) and not task.is_correct(task.initial_state)


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_kernels_verify(path):
    program = asm.parse_file(path).program
    result = verify(program, program.layout.n)
    assert result.correct and result.counterexample is None
    n = program.layout.n
    assert result.rows == result.tie_rows + result.random_rows == ordered_bell(n) + 30_000


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_removing_any_instruction_breaks_a_reference_kernel(path):
    program = asm.parse_file(path).program
    for i in range(len(program)):
        mutant = Program(program.layout, program.code[:i] + program.code[i + 1 :])
        result = verify(mutant, program.layout.n, random_rows=300)
        assert not result.correct, f"still correct without instruction {i + 1}"
        if static_error(mutant) is None:
            assert result.counterexample is not None


def reference_sorts(program: Program, inputs: np.ndarray) -> bool:
    """Oracle: the pure-Python interpreter sorts every input row."""
    k = program.layout.registers
    finals = reference_run(program, [list(r) + [0] * k for r in inputs.tolist()])
    n = program.layout.n
    return all(f[:n] == sorted(r) for f, r in zip(finals, inputs.tolist(), strict=True))


@pytest.mark.parametrize("path", REFERENCE[:4], ids=lambda p: p.name)
def test_changing_one_instruction_is_judged_like_the_oracle(path):
    """Each single-instruction change is rejected unless the slow oracle agrees it still sorts
    (e.g. cmovg -> cmovge in a compare-exchange moves an equal value: same result)."""
    program = asm.parse_file(path).program
    task = SortTask(program.layout.n, program.layout.registers, "full")
    rng = np.random.default_rng(0)
    checked = failed = 0
    for i in range(len(program)):
        for a in rng.choice(task.action_space.num_actions, size=12, replace=False):
            ins = task.action_space.instruction(int(a))
            if ins == program.code[i]:
                continue
            mutant = Program(program.layout, (*program.code[:i], ins, *program.code[i + 1 :]))
            result = verify(mutant, task, random_rows=60, seed=i)
            inputs = np.concatenate([task.inputs, random_int32_rows(task.n, 60, seed=i)])
            oracle = static_error(mutant) is None and reference_sorts(mutant, inputs)
            assert result.correct == oracle, asm.format(mutant)
            if not result.correct and static_error(mutant) is None:
                assert result.counterexample is not None
                ce = result.counterexample
                assert list(ce.expected) == sorted(ce.input) and ce.got != ce.expected
            checked += 1
            failed += not result.correct
    assert failed >= 0.9 * checked


def test_kernel_right_on_distinct_values_but_wrong_on_ties_is_rejected():
    program = asm.parse_file(DATA / "sort3_fails_on_ties.s").program
    perms = np.array(list(itertools.permutations([-5, 0, 9])), dtype=np.int32)
    assert reference_sorts(program, perms)  # every permutation of distinct values sorts
    result = verify(program, 3)
    assert not result.correct
    ce = result.counterexample
    assert len(set(ce.input)) < 3  # the failing input has a tie
    assert list(ce.expected) == sorted(ce.input) and list(ce.got) != list(ce.expected)


def test_undefined_reads_are_never_correct():
    text = "; task: sort2\nmov r0, m0\nmov r1, m1\ncmovl r0, r1\nmov m0, r0\nmov m1, r1\n"
    result = verify(asm.parse(text).program, 2)
    assert not result.correct and "before any cmp" in result.reason
    text = "; task: sort1\nmov m0, r0\n"
    result = verify(asm.parse(text).program, 1)
    assert not result.correct and "reads r0 before it is written" in result.reason


def test_random_rows_include_edges_and_duplicates():
    rows = random_int32_rows(4, 3000, seed=1)
    assert rows.dtype == np.int32 and rows.shape == (3000, 4)
    assert rows.min() == np.iinfo(np.int32).min and rows.max() == np.iinfo(np.int32).max
    assert (rows < 0).any() and (rows == 0).any()
    assert sum(len(set(r)) < 4 for r in rows.tolist()) > 1000
