import numpy as np
import pytest

from alphadev import asm
from alphadev.game import AssemblyGame
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig

OPTIMAL_SORT2 = {"cmov": 8, "minmax": 7}  # by exhaustive search (tests/test_game.py)


def search_to_exhaustion(g, seed, config=None):
    best = []

    def on_state(gs):
        if gs.correct and (not best or gs.length < best[-1].length):
            best.append(gs)
            m.bound = gs.length

    m = MCTS(g, HeuristicEvaluator(g), config, rng=np.random.default_rng(seed), on_state=on_state)
    root = m.node(g.initial_state())
    while not m.is_dead(root) and m.simulations < 50_000:
        m.run(root, 200)
    return m, root, best


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
@pytest.mark.parametrize("seed", [0, 1])
def test_branch_and_bound_mcts_finds_the_shortest_sort2_and_exhausts(isa, seed):
    g = AssemblyGame(n=2, isa=isa)
    m, root, best = search_to_exhaustion(g, seed)
    assert best and best[-1].length == OPTIMAL_SORT2[isa]
    assert m.is_dead(root)  # nothing shorter is left anywhere: the search space is exhausted


class PerfectEvaluator:
    """Prior one-hot on the next move of a known optimal program; high value on its path."""

    def __init__(self, g, program):
        self.g = g
        self.path = [g.action_space.index(ins) for ins in program.code]

    def evaluate(self, states):
        priors, values = [], []
        for gs in states:
            legal = np.flatnonzero(self.g.legal_actions(gs))
            prior = np.full(len(legal), 1e-3, dtype=np.float32)
            on_path = list(gs.program) == self.path[: gs.length]
            if on_path and gs.length < len(self.path):
                prior[np.flatnonzero(legal == self.path[gs.length])] = 1.0
            priors.append(prior / prior.sum())
            values.append(1.5 if on_path else 0.0)
        return priors, np.array(values)


def test_with_a_perfect_evaluator_it_follows_the_optimal_program():
    program = asm.parse_file("asm/reference/sort3_cmov.s").program
    g = AssemblyGame(n=3)
    ev = PerfectEvaluator(g, program)
    m = MCTS(g, ev, MCTSConfig(batch_size=1), rng=np.random.default_rng(0))
    gs = g.initial_state()
    while not gs.correct:
        root = m.node(gs)
        m.run(root, 16)
        action = m.select_action(root)
        assert action == ev.path[gs.length]
        gs = g.apply(gs, action)
    assert gs.length == len(program)


def test_two_move_orders_share_one_node_and_visits_add_up():
    g = AssemblyGame(n=3)

    def action(text):
        return g.action_space.index(asm.parse(f"; task: sort3\n{text}\n").program.code[0])

    gs = g.initial_state()
    for i in range(3):
        gs = g.apply(gs, action(f"mov r{i}, m{i}"))
    copy, cmp, x = action("mov r3, r0"), action("cmp r1, r2"), action("cmovl r3, r1")
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(batch_size=1), rng=np.random.default_rng(0))
    p1 = m.node(g.apply(g.apply(gs, copy), cmp))  # mov then cmp
    p2 = m.node(g.apply(g.apply(gs, cmp), copy))  # cmp then mov
    assert p1 is not p2  # they differ in "last move was a cmp"
    shared = m.node(g.apply(p1.state, x))
    assert m.node(g.apply(p2.state, x)) is shared  # one state, two move orders, one node
    m.ensure_expanded(p1)
    m.ensure_expanded(p2)
    i1 = int(np.flatnonzero(p1.actions == x)[0])
    i2 = int(np.flatnonzero(p2.actions == x)[0])
    m.run(p1, 15, forced_root_index=i1)  # every simulation from p1 takes the edge to x
    m.run(p2, 25, forced_root_index=i2)
    assert p1.children[i1] is shared and p2.children[i2] is shared
    incoming = p1.N[i1] + p2.N[i2]
    assert incoming == 40
    # every arrival either expanded the node (once) or continued through one of its edges
    assert incoming == shared.visits + 1


def test_no_illegal_action_is_expanded_selected_or_given_mass():
    g = AssemblyGame(n=3, isa="full")
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(batch_size=4), rng=np.random.default_rng(3))
    gs = g.initial_state()
    for _ in range(6):
        root = m.node(gs)
        m.ensure_expanded(root)
        m.add_exploration_noise(root)
        m.run(root, 64)
        policy = m.visit_policy(root)
        legal = g.legal_actions(root.state).astype(bool)
        assert policy[~legal].sum() == 0 and policy.sum() == pytest.approx(1.0)
        action = m.select_action(root, temperature=1.0)
        assert legal[action]
        gs = g.apply(gs, action)
    for node in m.table.values():
        if node.expanded:
            legal = g.legal_actions(node.state).astype(bool)
            assert legal[node.actions].all() and len(node.actions) == legal.sum()
            assert len(node.prior) == len(node.actions)
            assert node.prior.sum() == pytest.approx(1.0, abs=1e-5)


def test_gumbel_root_selection_returns_legal_action_and_policy():
    g = AssemblyGame(n=3)
    cfg = MCTSConfig(gumbel_max_actions=4)
    m = MCTS(g, HeuristicEvaluator(g), cfg, rng=np.random.default_rng(0))
    gs = g.initial_state()
    for i in range(3):
        load = asm.parse(f"; task: sort3\nmov r{i}, m{i}\n").program.code[0]
        gs = g.apply(gs, g.action_space.index(load))
    root = m.node(gs)
    action, policy = m.gumbel_search(root, 32)
    legal = g.legal_actions(gs).astype(bool)
    assert legal[action]
    assert policy[~legal].sum() == 0 and policy.sum() == pytest.approx(1.0, abs=1e-5)
    assert m.simulations >= 16
