import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev import asm
from alphadev.bounds import DEAD, lower_bound
from alphadev.game import AssemblyGame
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
from alphadev.mcts import tree as T
from alphadev.mcts.potential import phi_of_state


class UniformEvaluator(HeuristicEvaluator):
    """No network and no potential: a uniform prior and value 0 (a pure tree search)."""

    phi_weight = 0.0


OPTIMAL_SORT2 = {"cmov": 8, "minmax": 7}  # by exhaustive search (tests/test_game.py)


class DenseHeuristic:
    """The heuristic through the batched (Python) evaluator path: zero logits, zero value,
    the potential added by the search."""

    phi_weight = 1.0
    compiled = False

    def __init__(self, g):
        self.g = g
        self.calls = 0

    def evaluate(self, states):
        self.calls += 1
        return np.zeros((len(states), self.g.num_actions), np.float32), np.zeros(len(states))


def search_to_exhaustion(g, seed, evaluator=None, config=None):
    best = []
    evaluator = evaluator or HeuristicEvaluator(g)
    m = MCTS(g, evaluator, config, rng=np.random.default_rng(seed), prune=True,
             on_correct=lambda gs: best.append(gs))  # fmt: skip
    root = m.root(g.initial_state())
    while not m.is_dead(root) and m.simulations < 50_000:
        root = m.run(root, 200)
    return m, root, best


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
@pytest.mark.parametrize("seed", [0, 1])
def test_branch_and_bound_mcts_finds_the_shortest_sort2_and_exhausts(isa, seed):
    g = AssemblyGame(n=2, isa=isa)
    m, root, best = search_to_exhaustion(g, seed)
    assert best and min(gs.length for gs in best) == OPTIMAL_SORT2[isa]
    assert all(gs.correct for gs in best)
    assert m.bound == OPTIMAL_SORT2[isa]
    assert m.is_dead(root)  # nothing shorter is left anywhere: the search space is exhausted


def test_the_batched_evaluator_path_finds_the_same_optimum():
    g = AssemblyGame(n=2)
    ev = DenseHeuristic(g)
    m, root, best = search_to_exhaustion(g, 0, ev, MCTSConfig(batch_size=4))
    assert ev.calls > 0 and m.evaluations > 0
    assert min(gs.length for gs in best) == OPTIMAL_SORT2["cmov"] and m.is_dead(root)


class PerfectEvaluator:
    """Logits favour the next move of a known optimal program; high value on its path."""

    phi_weight = 0.0
    compiled = False

    def __init__(self, g, program):
        self.g = g
        self.path = [g.action_space.index(ins) for ins in program.code]

    def evaluate(self, states):
        logits = np.zeros((len(states), self.g.num_actions), np.float32)
        values = np.zeros(len(states))
        for i, gs in enumerate(states):
            on_path = list(gs.program) == self.path[: gs.length]
            if on_path and gs.length < len(self.path):
                logits[i, self.path[gs.length]] = 10.0
            values[i] = 1.5 if on_path else 0.0
        return logits, values


def test_with_a_perfect_evaluator_it_follows_the_optimal_program():
    program = asm.parse_file("asm/reference/sort3_cmov.s").program
    g = AssemblyGame(n=3)
    ev = PerfectEvaluator(g, program)
    m = MCTS(g, ev, MCTSConfig(batch_size=1), rng=np.random.default_rng(0))
    node = m.root(g.initial_state())
    while not m.is_correct(node):
        node = m.run(node, 16)
        action = m.select_action(node)
        assert action == ev.path[m.tree.length[node]]
        node = m.child(node, action)
    assert m.tree.length[node] == len(program)
    assert m.state(node).correct and list(m.program(node)) == ev.path


def test_two_move_orders_share_one_node_and_visits_add_up():
    g = AssemblyGame(n=3)

    def action(text):
        return g.action_space.index(asm.parse(f"; task: sort3\n{text}\n").program.code[0])

    gs = g.initial_state()
    for i in range(3):
        gs = g.apply(gs, action(f"mov r{i}, m{i}"))
    copy, cmp, x = action("mov r3, r0"), action("cmp r1, r2"), action("cmovl r3, r1")
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(batch_size=1), rng=np.random.default_rng(0))
    top = m.root(gs)
    p1 = m.child(m.child(top, copy), cmp)  # mov then cmp
    p2 = m.child(m.child(top, cmp), copy)  # cmp then mov
    assert p1 != p2  # they differ in "last move was a cmp"
    shared = m.child(p1, x)
    assert m.child(p2, x) == shared  # one state, two move orders, one node
    m.run(p1, 15, forced_action=x)  # every simulation from p1 takes the edge to x
    m.run(p2, 25, forced_action=x)
    incoming = m.visits(p1)[x] + m.visits(p2)[x]
    assert incoming == 40
    # every arrival either expanded the node (once) or continued through one of its edges
    assert incoming == m.tree.node_visits[shared] + 1


def test_a_state_reached_by_a_longer_program_is_a_dead_edge():
    g = AssemblyGame(n=3)

    def action(text):
        return g.action_space.index(asm.parse(f"; task: sort3\n{text}\n").program.code[0])

    m = MCTS(g, UniformEvaluator(g), rng=np.random.default_rng(0))
    node = m.root(g.initial_state())
    for i in range(3):
        node = m.child(node, action(f"mov r{i}, m{i}"))
    short = m.child(node, action("mov r3, r0"))
    middle = m.child(node, action("mov r3, r1"))
    long_way = m.child(middle, action("mov r3, r0"))  # the same state, one move later
    assert m.tree.length[long_way] == m.tree.length[short] + 1
    assert m.is_dead(long_way) and not m.is_dead(short)
    m.run(middle, 200)
    assert m.visits(middle)[action("mov r3, r0")] <= 1  # tried once at most, then dead


def test_no_illegal_action_is_expanded_selected_or_given_mass():
    g = AssemblyGame(n=3, isa="full")
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(batch_size=4), rng=np.random.default_rng(3))
    gs = g.initial_state()
    node = m.root(gs)
    for _ in range(6):
        m.add_exploration_noise(node)
        node = m.run(node, 64)
        policy = m.visit_policy(node)
        legal = g.legal_actions(m.state(node)).astype(bool)
        assert policy[~legal].sum() == 0 and policy.sum() == pytest.approx(1.0)
        action = m.select_action(node, temperature=1.0)
        assert legal[action]
        node = m.child(node, action)
    t = m.tree
    for c in range(m.nodes):
        if t.status[c] & T.EXPANDED:
            legal = g.legal_actions(m.state(c)).astype(bool)
            assert np.array_equal(t.edge[c] != 0, legal)
            assert t.prior[c, ~legal].sum() == 0 and t.visits[c, ~legal].sum() == 0
            assert t.prior[c].sum() == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([2, 3, 4]))
def test_tree_nodes_match_the_game_played_move_by_move(seed, n):
    """The compiled node creation against the game's own moves: state, flags, book, score,
    key, length, the edge's reward, and the potential."""
    g = AssemblyGame(n=n, isa="full")
    rng = np.random.default_rng(seed)
    m = MCTS(g, UniformEvaluator(g), rng=rng)
    node = m.root(g.initial_state())
    gs = g.initial_state()
    while not g.is_terminal(gs):
        action = int(rng.choice(np.flatnonzero(g.legal_actions(gs))))
        child_gs = g.play(gs, action)
        child = m.child(node, action)
        t = m.tree
        assert np.array_equal(t.state[child], child_gs.state)
        assert np.array_equal(t.book[child], child_gs.book)
        assert t.score[child] == child_gs.score and t.length[child] == child_gs.length
        assert int(t.key[child]) == g.state_key(child_gs)
        assert t.reward[node, action] == pytest.approx(g.reward(gs, child_gs), abs=1e-6)
        if m.is_terminal(child) and not g.is_terminal(child_gs):
            # the tree ends a dead state (no continuation can sort) where the game goes on
            assert lower_bound(child_gs.state, child_gs.book, g.task.expected) == DEAD
            assert not t.edge[child].any()
        else:
            assert np.array_equal(t.edge[child] != 0, g.legal_actions(child_gs).astype(bool))
        assert m.is_correct(child) == child_gs.correct
        assert phi_of_state(g, m.state(child)) == pytest.approx(phi_of_state(g, child_gs))
        node, gs = child, child_gs


def test_a_full_tree_starts_afresh_and_the_search_goes_on():
    g = AssemblyGame(n=2)
    found = []
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(max_nodes=50), rng=np.random.default_rng(0),
             prune=True, on_correct=lambda gs: found.append(gs.length))  # fmt: skip
    node = m.root(g.initial_state())
    for _ in range(20):
        node = m.run(node, 100)
        if m.is_dead(node):
            break
    assert m.resets > 0 and m.nodes <= 50
    assert m.simulations > 100  # counted across resets


def test_the_same_seed_gives_the_same_search():
    g = AssemblyGame(n=3)

    gs = g.initial_state()
    for i in range(3):  # past the loads, where there is a choice
        load = asm.parse(f"; task: sort3\nmov r{i}, m{i}\n").program.code[0]
        gs = g.apply(gs, g.action_space.index(load))

    def visits(seed):
        m = MCTS(g, HeuristicEvaluator(g), rng=np.random.default_rng(seed))
        node = m.root(gs)
        m.add_exploration_noise(node)
        m.run(node, 500)
        return m.visits(node).copy()

    assert np.array_equal(visits(5), visits(5))
    assert not np.array_equal(visits(5), visits(6))


def test_gumbel_root_selection_returns_legal_action_and_policy():
    g = AssemblyGame(n=3)
    m = MCTS(g, HeuristicEvaluator(g), MCTSConfig(gumbel_max_actions=4),
             rng=np.random.default_rng(0))  # fmt: skip
    gs = g.initial_state()
    for i in range(3):
        load = asm.parse(f"; task: sort3\nmov r{i}, m{i}\n").program.code[0]
        gs = g.apply(gs, g.action_space.index(load))
    node = m.root(gs)
    action, policy, node = m.gumbel_search(node, 32)
    legal = g.legal_actions(gs).astype(bool)
    assert legal[action]
    assert policy[~legal].sum() == 0 and policy.sum() == pytest.approx(1.0, abs=1e-5)
    assert m.simulations >= 16


def test_gumbel_arithmetic_as_pure_functions():
    from alphadev.mcts import gumbel as G

    minmax = np.array([0.0, 2.0])
    visits = np.array([2, 0, 1, 0])
    q = G.normalised_q(np.zeros(4), np.array([2.0, 0.0, 2.0, 0.0]), visits, 1.0, minmax)
    assert np.allclose(q, [0.5, 0.0, 1.0, 0.0])  # mean value / range; 0 where unvisited
    done = G.completed_q(q, visits, value=1.0, minmax=minmax)
    assert np.allclose(done, [0.5, 0.75, 1.0, 0.75])  # unvisited: the visited mean
    nothing = G.completed_q(np.zeros(4), np.zeros(4, int), value=1.0, minmax=minmax)
    assert np.allclose(nothing, 0.5)  # nothing visited: the node's own value, scaled
    bonus = G.sigma(done, visits, c_visit=50.0, c_scale=1.0)
    assert np.allclose(bonus, 52.0 * done)
    legal = np.array([True, True, True, False])
    policy = G.improved_policy(G.prior_logits(np.full(4, 0.25)), bonus, legal)
    assert policy.dtype == np.float32 and policy[3] == 0 and abs(policy.sum() - 1) < 1e-6
    assert policy.argmax() == 2  # the best completed Q wins under a uniform prior
