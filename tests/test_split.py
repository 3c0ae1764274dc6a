"""The split of the exact space (alphadev.exact.split): the parts, searched one by one, answer
every question as the undivided search does (no Ray needed)."""

import numpy as np
import pytest

from alphadev import exact
from alphadev.exact.split import MAX_SPLIT_DEPTH, split_space
from alphadev.tasks import SortTask, verify


def answer_by_parts(task, max_core, parts, *, shared_table=False):
    """(status, program, prefixes) of the split question, its parts searched in order."""
    split = split_space(task, max_core, parts=parts)
    if split.solution is not None:
        return "found", exact.assemble(task, split.solution), split
    table = (np.zeros(1 << 16, np.uint64), np.zeros(1 << 16, np.int16)) if shared_table else None
    for prefix in split.prefixes:
        outcome = exact.find(task, max_core, prefix=prefix, shared_table=table)
        assert outcome.status in ("found", "exhausted")
        if outcome.status == "found":
            return "found", outcome.program, split
    return "exhausted", None, split


@pytest.mark.parametrize(
    ("n", "isa", "max_core"),
    [(3, "cmov", 10), (3, "cmov", 11), (3, "minmax", 7), (3, "minmax", 8), (2, "cmov", 2),
     (2, "cmov", 3), (4, "minmax", 12), (4, "minmax", 15)],
)  # fmt: skip
@pytest.mark.parametrize("parts", [1, 5, 40, 10_000])
def test_the_parts_answer_as_the_undivided_search(n, isa, max_core, parts):
    task = SortTask(n, isa=isa)
    whole = exact.find(task, max_core)
    status, program, split = answer_by_parts(task, max_core, parts)
    assert status == whole.status
    if program is not None:
        assert verify(program, task).correct and len(program) - 2 * n <= max_core
    assert split.depth <= min(MAX_SPLIT_DEPTH, max_core)
    assert all(len(prefix) == split.depth for prefix in split.prefixes)
    deepest = min(MAX_SPLIT_DEPTH, max_core)
    if parts > 1 and split.solution is None and split.prefixes and split.depth < deepest:
        assert len(split.prefixes) >= parts  # it went deep enough


def test_a_table_kept_across_exhausted_parts_answers_the_same():
    for n, isa, max_core, expected in ((3, "cmov", 10, "exhausted"), (3, "cmov", 11, "found"),
                                       (4, "minmax", 14, "exhausted")):  # fmt: skip
        status, _, _ = answer_by_parts(SortTask(n, isa=isa), max_core, 30, shared_table=True)
        assert status == expected


def renamed(state):
    """A state up to register renaming: its sorted written columns, flags, last move."""
    columns = sorted(bytes(c) for c, w in zip(state.regs, state.written, strict=True) if w)
    return (*columns, bytes(state.flags) if state.start[0] else b"", int(state.start[1]))


def test_the_prefixes_are_distinct_states_and_every_shortest_program_starts_with_one():
    task = SortTask(3)
    split = split_space(task, 11, parts=20)
    states = {renamed(exact.space.start_state(task, p)) for p in split.prefixes}
    assert len(states) == len(split.prefixes)
    # Programs found in other move orders: each starts, up to renaming, with some part.
    for seed in range(6):
        found = exact.find(task, 11, order_seed=seed)
        assert found.status == "found"
        head = exact.core_of(task, found.program)[: split.depth]
        assert renamed(exact.space.start_state(task, head)) in states


def test_a_solution_shorter_than_the_split_depth_is_returned():
    task = SortTask(2, isa="minmax")  # sort2 with min/max: a core of 2 (mov, then min or max)
    split = split_space(task, 5, parts=10_000)
    assert split.solution is not None and not split.prefixes
    assert verify(exact.assemble(task, split.solution), task).correct
