import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphadev import exact
from alphadev.baselines.random_search import random_search
from alphadev.baselines.stochastic import propose, stochastic_search
from alphadev.isa import Program, is_legal_form
from alphadev.tasks import SortTask, verify


@pytest.mark.parametrize("isa", ["cmov", "minmax", "full", "mov,cmp,cmovg"])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 60))
def test_stochastic_moves_keep_programs_well_formed(isa, seed, steps):
    task = SortTask(3, isa=isa)
    rng = np.random.default_rng(seed)
    code = np.zeros((0, 3), dtype=np.int32)
    for _ in range(steps):
        code = propose(code, task, rng, max_length=12)
        assert code.dtype == np.int32 and code.ndim == 2 and code.shape[1] == 3
        assert code.shape[0] <= 12
        for op, dst, src in code:
            assert int(op) in {int(o) for o in task.isa.ops}
            assert is_legal_form(task.layout, op, int(dst), int(src))
        Program.from_array(task.layout, code)  # raises on a malformed instruction


def test_stochastic_warm_start_shortens_the_sort3_network_to_17():
    task = SortTask(3)
    start = exact.assemble(task, exact.network_core(task))
    result = stochastic_search(task, start=start, seed=2, max_proposals=60_000, time_limit=120)
    assert result.program is not None and result.length == 17
    assert verify(result.program, task).correct
    assert [length for _, length in result.history] == [18, 17]
    assert result.explored <= 60_000


def test_stochastic_cold_start_is_seeded_and_returns_only_correct_programs():
    task = SortTask(2)
    a = stochastic_search(task, seed=5, max_proposals=3_000, time_limit=120)
    b = stochastic_search(task, seed=5, max_proposals=3_000, time_limit=120)
    assert a.program == b.program and a.explored == b.explored == 3_000
    assert a.program is None or verify(a.program, task).correct


def test_random_search_finds_a_verified_sort2_and_counts_moves():
    task = SortTask(2, isa="minmax")
    result = random_search(task, time_limit=120, seed=0, max_rollouts=60_000)
    assert result.program is not None and verify(result.program, task).correct
    assert result.explored > 0 and result.seconds_to_best <= result.seconds


def test_random_search_is_seeded():
    task = SortTask(2)
    a = random_search(task, seed=3, max_rollouts=200, time_limit=30)
    b = random_search(task, seed=3, max_rollouts=200, time_limit=30)
    assert a.program == b.program and a.explored == b.explored
