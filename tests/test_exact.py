import numpy as np
import pytest

from alphadev import exact
from alphadev.game import AssemblyGame
from alphadev.isa import Op, get_isa
from alphadev.tasks import SortTask, verify

from .conftest import shortest_completion


def replays_in_the_game(program, task):
    """Every instruction is legal under the game's rules and the end state is correct."""
    game = AssemblyGame(task)
    gs = game.initial_state()
    for ins in program:
        gs = game.apply(gs, task.action_space.index(ins))  # raises if illegal
    return gs.correct


def test_cmp_is_taken_in_one_order_only_when_every_condition_has_its_mirror():
    cmov = exact.core_actions(4, get_isa("cmov"))
    cmps = cmov[cmov[:, 0] == int(Op.CMP)]
    assert len(cmps) == 6 and np.all(cmps[:, 1] < cmps[:, 2])
    only_g = exact.core_actions(4, get_isa("mov,cmp,cmovg"))
    assert np.count_nonzero(only_g[:, 0] == int(Op.CMP)) == 12


@pytest.mark.parametrize(("isa", "shortest"), [("cmov", 8), ("minmax", 7)])
def test_sort2_shortest_agrees_with_breadth_first_search_over_the_game(isa, shortest):
    task = SortTask(2, isa=isa)
    assert exact.find(task, shortest - 4 - 1).status == "exhausted"
    found = exact.find(task, shortest - 4)
    assert found.status == "found" and len(found.program) == shortest
    game = AssemblyGame(task)
    assert shortest_completion(game, game.initial_state(), shortest) == shortest


@pytest.mark.parametrize(("isa", "core"), [("cmov", 11), ("minmax", 8)])
def test_sort3_shortest_core_is_found_and_one_shorter_is_exhausted(isa, core):
    task = SortTask(3, isa=isa)
    found = exact.find(task, core)
    assert found.status == "found" and len(found.program) == core + 6
    assert verify(found.program, task).correct
    assert replays_in_the_game(found.program, task)
    assert exact.find(task, core - 1).status == "exhausted"


def test_a_prefix_is_kept_and_the_tail_search_shortens_the_network():
    task = SortTask(3)
    network = exact.network_core(task)
    assert len(network) == 12
    with_prefix = exact.find(task, 12, prefix=network[:4])
    assert with_prefix.status == "found"
    assert exact.core_of(task, with_prefix.program)[:4] == network[:4]
    shorter = exact.shorten_tail(task, network)
    assert shorter is not None and len(shorter) == 11
    assert verify(exact.assemble(task, shorter), task).correct


@pytest.mark.parametrize(("n", "comparators"), [(2, 1), (3, 3), (4, 5), (5, 9)])
def test_sorting_networks_have_the_optimal_comparator_counts(n, comparators):
    assert len(exact.sorting_network(n)) == comparators


@pytest.mark.parametrize("isa", ["cmov", "minmax", "mov,cmp,cmovl"])
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_lowered_networks_verify_and_replay(n, isa):
    task = SortTask(n, isa=isa)
    program = exact.assemble(task, exact.network_core(task))
    assert verify(program, task).correct
    assert replays_in_the_game(program, task)


def test_a_stop_request_stops_the_search():
    control = exact.SearchControl()
    control.stop()
    outcome = exact.find(SortTask(4), 20, control=control)
    assert outcome.status == "stopped" and outcome.program is None
    assert outcome.nodes >= exact.POLL_EVERY


def test_a_node_cap_stops_the_search():
    outcome = exact.find(SortTask(4), 20, max_nodes=10_000)
    assert outcome.status == "stopped" and outcome.nodes < 20_000


def test_space_description_names_the_restrictions():
    text = exact.Space.of(SortTask(3)).describe()
    assert "4 registers" in text and "loads first" in text and "13 tie-pattern rows" in text
