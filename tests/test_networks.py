"""Constructed seeds: sorting networks of optimal size for n = 2..8, and their lowering."""

import itertools

import numpy as np
import pytest

from alphadev import exact
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask, verify


@pytest.mark.parametrize("n", range(2, 9))
def test_networks_sort_every_zero_one_input_with_the_optimal_comparator_count(n):
    network = exact.sorting_network(n)
    assert len(network) == OPTIMAL_COMPARATORS[n]
    for bits in itertools.product((0, 1), repeat=n):  # the 0-1 principle, row by row
        wires = list(bits)
        for i, j in network:
            assert 0 <= i < j < n
            wires[i], wires[j] = min(wires[i], wires[j]), max(wires[i], wires[j])
        assert wires == sorted(bits)


@pytest.mark.parametrize(("n", "isa"), [(6, "cmov"), (7, "minmax"), (8, "cmov")])
def test_lowered_networks_of_large_n_verify_on_every_tie_pattern(n, isa):
    task = SortTask(n, isa=isa)
    program = exact.assemble(task, exact.network_core(task))
    per = 4 if isa == "cmov" else 3
    assert len(program) == 2 * n + per * OPTIMAL_COMPARATORS[n]
    result = verify(program, task, random_rows=3000)
    assert result.correct and result.tie_rows == task.num_rows
    assert np.array_equal(task.run(program)[0][:, :n], task.expected)
