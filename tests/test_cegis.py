"""The counterexample-guided loop (alphadev.exact.cegis) with scripted searches on sort3."""

import numpy as np

from alphadev import exact
from alphadev.exact.best_first import permutation_rows
from alphadev.exact.cegis import Round, refine
from alphadev.exact.space import core_of, failing_rows
from alphadev.tasks import SortTask

TASK = SortTask(3)
GOOD = core_of(TASK, exact.find(TASK, 11).program)  # a verified 11-instruction core
BAD = GOOD[:-1]  # wrong on some tie rows


def scripted(rounds):
    """A search that returns the scripted rounds in order and records the rows it got."""
    seen = []

    def search(rows):
        seen.append(rows.copy())
        return rounds[len(seen) - 1]

    return search, seen


def test_a_failing_candidate_adds_its_new_rows_and_the_next_round_ends_on_a_verified_one():
    search, seen = scripted([Round([BAD]), Round([BAD, GOOD])])
    start = permutation_rows(3)
    refined = refine(TASK, search, start, max_rounds=5, add_per_round=100)
    assert refined.best == GOOD and refined.rounds == 2
    failing = {tuple(r) for r in failing_rows(TASK, BAD).tolist()}
    new = failing - {tuple(r) for r in start.tolist()}
    assert new and {tuple(r) for r in seen[1].tolist()} == {tuple(r) for r in start} | new
    # Second round: BAD brings nothing new, GOOD verifies: the loop ends there.
    assert refined.rows.shape == seen[1].shape


def test_the_rows_added_per_round_are_capped_first_or_spread():
    failing = [r for r in failing_rows(TASK, BAD).tolist()]
    start = np.zeros((0, 3), np.int32)
    for spread, expected in ((False, failing[:2]), (True, failing[:: len(failing) // 2][:2])):
        search, seen = scripted([Round([BAD]), Round([])])
        refine(TASK, search, start, max_rounds=5, add_per_round=2, spread=spread)
        assert seen[1].tolist() == expected


def test_a_verified_core_from_the_search_stops_the_checks_at_its_length():
    search, _ = scripted([Round([GOOD, BAD + [(0, 0, 1)] * 2], verified=GOOD)])
    refined = refine(TASK, search, permutation_rows(3), max_rounds=5, add_per_round=8)
    assert refined.best == GOOD and refined.rounds == 1 and refined.added_nothing


def test_a_stopped_search_or_the_round_limit_ends_the_loop_without_a_core():
    search, _ = scripted([Round([BAD], stopped=True)])
    refined = refine(TASK, search, permutation_rows(3), max_rounds=5, add_per_round=8)
    assert refined.best is None and refined.stopped and refined.rounds == 1
    search, _ = scripted([Round([BAD])] * 3)
    refined = refine(TASK, search, np.zeros((0, 3), np.int32), max_rounds=2, add_per_round=1)
    assert refined.best is None and refined.rounds == 2 and refined.rows.shape == (2, 3)
