import threading

import numpy as np
import pytest

from alphadev import exact
from alphadev.exact import best_first as bf
from alphadev.game import AssemblyGame
from alphadev.tasks import SortTask, verify

from .conftest import shortest_completion


def verifies(task, core):
    return verify(exact.assemble(task, core), task).correct


@pytest.mark.parametrize(("isa", "shortest"), [("cmov", 8), ("minmax", 7)])
def test_sort2_exact_mode_agrees_with_breadth_first_search_over_the_game(isa, shortest):
    task = SortTask(2, isa=isa)
    game = AssemblyGame(task)
    assert shortest_completion(game, game.initial_state(), shortest) == shortest
    found = bf.astar(task, max_core=shortest)  # a loose bound: A* still returns the optimum
    assert found.status == "found" and found.proved and found.mode == "exact"
    assert len(found.core) + 4 == shortest and verifies(task, found.core)
    below = bf.astar(task, max_core=shortest - 4 - 1)
    assert below.status == "exhausted" and below.proved and below.core is None


@pytest.mark.parametrize(("isa", "core"), [("cmov", 11), ("minmax", 8)])
def test_sort3_exact_mode_agrees_with_the_branch_and_bound_engine(isa, core):
    task = SortTask(3, isa=isa)
    found = bf.astar(task, max_core=core)
    assert found.status == "found" and found.proved and len(found.core) == core
    assert verifies(task, found.core)
    below = bf.astar(task, max_core=core - 1)
    assert below.status == "exhausted" and below.proved and not below.capped
    assert exact.find(task, core - 1).status == "exhausted"  # the independent engine agrees


def test_beam_finds_the_optimal_sort3_core_and_proves_nothing():
    task = SortTask(3)
    result = bf.with_counterexamples(task, slack=1.0, weight=4.0)
    assert result.status == "found" and result.length == 11 and not result.proved
    assert verifies(task, result.core)
    on_all_rows = bf.beam_search(task, slack=1.5, weight=4.0)
    assert on_all_rows.status == "found" and on_all_rows.length == 11
    assert verifies(task, on_all_rows.core)


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
def test_beam_results_always_verify(isa):
    task = SortTask(3, isa=isa)
    for seed in range(3):
        result = bf.beam_search(task, seed=seed, max_nodes=200_000)
        assert result.core is None or verifies(task, result.core)


def test_a_search_on_the_permutations_alone_never_returns_an_unverified_core():
    task = SortTask(3)
    result = bf.beam_search(task, rows=bf.permutation_rows(3), slack=1.0, weight=4.0)
    assert result.candidate is not None
    assert result.core is None or verifies(task, result.core)


def test_a_stopped_control_stops_both_modes():
    control = exact.SearchControl()
    control.stop()
    for run in (
        lambda: bf.astar(SortTask(4), max_core=20, control=control),
        lambda: bf.beam_search(SortTask(4), control=control),
    ):
        result = run()
        assert result.status == "stopped" and result.core is None and not result.proved
        assert result.nodes >= exact.POLL_EVERY
    assert control.nodes >= 2 * exact.POLL_EVERY


def test_a_search_on_a_worker_thread_reports_progress_and_stops():
    control = exact.SearchControl()
    box = {}
    worker = threading.Thread(
        target=lambda: box.update(r=bf.astar(SortTask(4), max_core=20, control=control))
    )
    worker.start()
    while control.nodes == 0 and worker.is_alive():
        worker.join(0.01)
    control.stop()
    worker.join(30)
    assert not worker.is_alive() and box["r"].status in ("stopped", "found")


def test_a_tiny_memory_cap_is_sound_and_proves_nothing():
    task = SortTask(3)
    result = bf.astar(task, max_core=10, memory_bytes=1)
    assert result.capped and not result.proved and result.status == "stopped"
    beam = bf.beam_search(task, memory_bytes=1)
    assert beam.capped and not beam.proved
    assert beam.core is None or verifies(task, beam.core)


def test_the_counterexample_loop_adds_rows_and_ends_verified():
    task = SortTask(3)
    # Start from two permutations only: a kernel for them fails on other rows.
    start = bf.permutation_rows(3)[:2]
    result = bf.with_counterexamples(task, rows=start, slack=2.0, weight=4.0)
    assert result.rounds > 1 and result.rows > 2
    assert result.status == "found" and verifies(task, result.core)


def test_permutation_rows_are_the_distinct_valued_tie_patterns():
    rows = bf.permutation_rows(4)
    assert rows.shape == (24, 4)
    assert all(len(set(r)) == 4 for r in rows.tolist())
    assert np.array_equal(np.sort(rows, axis=1), np.tile(np.arange(4), (24, 1)))
