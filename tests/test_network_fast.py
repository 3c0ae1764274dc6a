"""The network's fast path (compiled encoding, ``PolicyValueNet.infer``, leaves straight from
the tree) against the plain one it replaced, kept here as the reference."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from alphadev import asm
from alphadev.game import AssemblyGame
from alphadev.mcts import MCTS, MCTSConfig
from alphadev.network import (
    NetworkConfig,
    NetworkEvaluator,
    PolicyValueNet,
    encode_states,
    location_ids,
)
from alphadev.state_encoding import StateEncoder, leaves_of
from alphadev.train.self_play import ChunkedEvaluator

from .conftest import ROOT

SMALL = NetworkConfig(embed_dim=16, program_layers=1, heads=2, row_hidden=16, trunk_hidden=32)
ODD_HEADS = NetworkConfig(embed_dim=12, program_layers=2, heads=3, row_hidden=8, trunk_hidden=16)
GAMES = {(n, isa): AssemblyGame(n=n, isa=isa) for n in (3, 4) for isa in ("cmov", "minmax")}
# compare-exchange moves (several instructions a move): the same references must hold
GAMES.update({(4, f"{isa} {kind}"): AssemblyGame(n=4, isa=isa, moves=kind)
              for isa in ("cmov", "minmax") for kind in ("macro", "both")})  # fmt: skip


def reference_encode_states(game, states, config):
    """``network.encode_states`` as it was before the compiled encoder (the reference)."""
    if any(gs.length > config.max_length for gs in states):
        raise ValueError(f"a program is longer than the network's max_length={config.max_length}")
    ids = location_ids(game, config)
    b, t = len(states), max(1, max(gs.length for gs in states))  # pad to the longest only
    program = np.full((b, t, 3), -1, dtype=np.int64)
    for i, gs in enumerate(states):
        if gs.length:
            code = game.instructions[list(gs.program)].astype(np.int64)
            program[i, : gs.length, 0] = code[:, 0]
            program[i, : gs.length, 1:] = ids[code[:, 1:]]
    values = np.stack([gs.state for gs in states]).astype(np.int64)
    flags = np.stack([gs.flags.astype(np.int64) + 2 if gs.flags_valid else
                      np.zeros(len(gs.flags), np.int64) for gs in states])  # fmt: skip
    rows = values.shape[1]
    expected = np.broadcast_to(game.task.expected.astype(np.int64), (b, rows, game.n))
    legal = np.stack([game.legal_actions(gs) for gs in states]).astype(bool)
    actions = np.full((game.num_actions, game.moves.shape[1], 3), -1, np.int64)
    for m, steps in enumerate(game.moves):
        for k, (op, dst, src, _) in enumerate(steps):
            if op >= 0:
                actions[m, k] = (op, ids[dst], ids[src])
    return {
        "program": torch.from_numpy(program),
        "values": torch.from_numpy(values),
        "location_ids": torch.from_numpy(ids),
        "expected": torch.from_numpy(np.array(expected)),
        "flags": torch.from_numpy(flags),
        "row_mask": torch.ones(b, rows, dtype=torch.bool),
        "actions": torch.from_numpy(actions),
        "legal": torch.from_numpy(legal),
    }


@torch.no_grad()
def reference_evaluate(net, game, states):
    """``NetworkEvaluator.evaluate`` as it was: ``forward`` on the reference encoding."""
    net.eval()
    logits, v_correct, v_latency = net(**reference_encode_states(game, states, net.config))
    values = net.config.value_weight * (v_correct + v_latency).double().numpy()
    return logits.numpy().astype(np.float32), values


def random_net(config, seed=0):
    """A net with every weight random (the zero-initialised heads too), so that no output is
    trivially 0."""
    torch.manual_seed(seed)
    net = PolicyValueNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.2)
    return net


def close(a, b) -> bool:
    """Equal up to float32 rounding, at the scale of ``b``."""
    return np.allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(b).max())))


def rollout_states(game, picks):
    """States along random rollouts: each pick chooses a legal move (or, at a multiple of 7,
    starts again from the initial state); terminal states (correct, or at max_length) are
    kept, so the empty legal mask is covered."""
    gs, out = game.initial_state(), []
    for pick in picks:
        out.append(gs)
        legal = np.flatnonzero(game.legal_actions(gs))
        if pick % 7 == 0 or not len(legal):
            gs = game.initial_state()
        else:
            gs = game.play(gs, int(legal[pick % len(legal)]))
    out.append(gs)
    return out


def correct_state(game):
    """The state after the reference kernel of the game's task (a correct program)."""
    path = ROOT / "asm" / "reference" / f"sort{game.n}_{game.task.isa.name}.s"
    gs = game.replay(asm.parse_file(path).program)
    assert gs.correct
    return gs


def assert_same_batch(fast, reference):
    assert fast.keys() == reference.keys()
    fast = {key: torch.as_tensor(value) for key, value in fast.items()}
    for key, tensor in reference.items():
        assert fast[key].dtype == tensor.dtype, key
        assert torch.equal(fast[key], tensor), key


picks = st.lists(st.integers(0, 10**6), min_size=0, max_size=60)


@pytest.mark.parametrize("game_key", sorted(GAMES))
@given(picks=picks)
def test_encode_states_is_bit_identical_to_the_reference(game_key, picks):
    game = GAMES[game_key]
    states = rollout_states(game, picks)
    for config in (NetworkConfig(), SMALL):
        assert_same_batch(encode_states(game, states, config),
                          reference_encode_states(game, states, config))  # fmt: skip


@pytest.mark.parametrize("game_key", sorted(GAMES))
def test_encode_states_of_correct_and_full_length_states(game_key):
    game = GAMES[game_key]
    states = [game.initial_state(), correct_state(game)]
    gs = game.initial_state()
    while gs.length < game.max_length:  # a program up to max_length: the mask is empty there
        legal = np.flatnonzero(game.legal_actions(gs))
        gs = game.play(gs, int(legal[-1]))
        states.append(gs)
    batch = encode_states(game, states, NetworkConfig())
    assert not batch["legal"][1].any() and not batch["legal"][-1].any()
    assert_same_batch(batch, reference_encode_states(game, states, NetworkConfig()))


@pytest.mark.parametrize("game_key", sorted(GAMES))
@given(picks=picks)
def test_the_features_of_infer_are_the_reference_batch_rearranged(game_key, picks):
    game = GAMES[game_key]
    states = rollout_states(game, picks)
    config = NetworkConfig()
    ref = reference_encode_states(game, states, config)
    encoder = StateEncoder(game, config)
    for _ in range(2):  # the second call reuses the buffers
        fast = {k: torch.from_numpy(v) for k, v in encoder.features(leaves_of(states)).items()}
        program = ref["program"]
        moves = fast["moves"]  # the summary's id, then instruction ids: their tokens are program's
        assert (moves[:, 0] == len(game.instructions)).all()
        tokens = torch.from_numpy(encoder.tokens)[moves[:, 1:]]
        assert torch.equal(torch.where(program < 0, -1, tokens), program)
        assert (moves[:, 1:][program[..., 0] < 0] == 0).all()
        pad = torch.cat([torch.zeros(len(states), 1, dtype=torch.bool), program[..., 0] < 0], 1)
        assert torch.equal(fast["padding"], torch.zeros(pad.shape).masked_fill(pad, -np.inf))
        v = config.max_value
        values = torch.cat([ref["values"], ref["expected"]], dim=2).clamp(0, v - 1)
        counts = torch.nn.functional.one_hot(values, v).sum(2)
        flags = torch.nn.functional.one_hot(ref["flags"], 4)
        assert torch.equal(fast["features"], torch.cat([counts, flags], 2).float())
        assert torch.equal(fast["illegal"], ~ref["legal"])
        assert fast.keys() == {"moves", "padding", "features", "illegal"}
    assert torch.equal(torch.from_numpy(encoder.location_ids), ref["location_ids"])
    assert torch.equal(torch.from_numpy(encoder.move_tokens), ref["actions"])
    instructions = game.instructions.astype(np.int64)
    instructions[:, 1:] = encoder.location_ids[instructions[:, 1:]]
    assert np.array_equal(encoder.tokens, instructions)


CONFIGS = {"default": NetworkConfig(), "small": SMALL, "odd-heads": ODD_HEADS}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("game_key", sorted(GAMES))
def test_evaluator_outputs_are_those_of_forward(game_key, config):
    game = GAMES[game_key]
    net = random_net(config)
    states = rollout_states(game, np.random.default_rng(1).integers(0, 10**6, 40))
    states.append(correct_state(game))
    logits, values = NetworkEvaluator(net, game).evaluate(states)
    ref_logits, ref_values = reference_evaluate(net, game, states)
    assert logits.dtype == np.float32 and values.dtype == np.float64
    assert np.array_equal(np.isneginf(logits), np.isneginf(ref_logits))
    finite = np.isfinite(ref_logits)
    assert close(logits[finite], ref_logits[finite])
    assert close(values, ref_values)
    assert not np.allclose(ref_values, 0.0)  # the check has teeth


def test_evaluator_puts_a_training_net_in_eval_mode_and_keeps_the_value_weight():
    game = GAMES[(3, "cmov")]
    config = NetworkConfig(value_weight=0.5, phi_weight=1.0)
    net = random_net(config)
    net.train()
    states = rollout_states(game, range(1, 30))
    evaluator = NetworkEvaluator(net, game)
    assert evaluator.phi_weight == 1.0
    _, values = evaluator.evaluate(states)
    assert not net.training
    assert close(values, reference_evaluate(net, game, states)[1])


class StatesOnly:
    """A network evaluator reached through GameStates only (the path before Leaves)."""

    compiled = False

    def __init__(self, inner):
        self.inner = inner
        self.phi_weight = inner.phi_weight

    def evaluate(self, states):
        return self.inner.evaluate(states)


class Checking(NetworkEvaluator):
    """Checks every batch of leaves against the reference encoding of the driver's states."""

    mcts = None

    def evaluate_leaves(self, leaves):
        states = [self.mcts.state(int(c)) for c in leaves.index]
        assert [gs.length for gs in states] == list(leaves.length)
        assert_same_batch(StateEncoder(self.game, self.net.config).encode(leaves),
                          reference_encode_states(self.game, states, self.net.config))  # fmt: skip
        self.batches = getattr(self, "batches", 0) + 1
        return super().evaluate_leaves(leaves)


@pytest.mark.parametrize("game_key", [(3, "cmov"), (4, "minmax")])
def test_leaves_from_the_tree_encode_as_the_driver_states(game_key):
    game = GAMES[game_key]
    evaluator = Checking(random_net(SMALL), game)
    # a tiny tree: it fills up and restarts at positions past the start (roots with programs)
    m = MCTS(game, evaluator, MCTSConfig(max_nodes=60, batch_size=8),
             rng=np.random.default_rng(0))  # fmt: skip
    evaluator.mcts = m
    start = rollout_states(game, [3, 5, 2])[-1]
    for first in (game.initial_state(), start):
        node = m.root(first)
        for _ in range(6):
            if m.is_terminal(node) or m.is_dead(node):
                break
            node = m.run(node, 24)
            if not m.is_expanded(node):
                break
            node = m.child(node, m.select_action(node, temperature=1.0))
    assert m.resets >= 1 and evaluator.batches >= 5


@pytest.mark.parametrize("game_key", [(3, "cmov"), (4, "cmov")])
def test_a_search_through_leaves_is_the_search_through_states(game_key):
    game = GAMES[game_key]
    net = random_net(SMALL, seed=3)
    trees = []
    for evaluator in (NetworkEvaluator(net, game), StatesOnly(NetworkEvaluator(net, game))):
        m = MCTS(game, evaluator, MCTSConfig(batch_size=8), rng=np.random.default_rng(5),
                 prune=True)  # fmt: skip
        node = m.root(game.initial_state())
        for _ in range(4):
            node = m.run(node, 40)
            node = m.child(node, m.select_action(node, temperature=1.0))
        trees.append(m)
    fast, slow = trees
    assert fast.nodes == slow.nodes and fast.simulations == slow.simulations
    c = fast.nodes
    for name in ("visits", "child", "edge", "prior", "value_sum", "value"):
        a, b = getattr(fast.tree, name)[:c], getattr(slow.tree, name)[:c]
        assert np.array_equal(a, b), name


def test_chunked_leaves_are_the_whole_batch():
    game = GAMES[(3, "cmov")]
    net = random_net(NetworkConfig())
    states = rollout_states(game, range(2, 40))
    leaves = leaves_of(states)
    whole = NetworkEvaluator(net, game).evaluate_leaves(leaves)
    chunked = ChunkedEvaluator(net, game, chunk=7).evaluate_leaves(leaves)
    for a, b in zip(whole, chunked, strict=True):
        assert a.shape == b.shape
        finite = np.isfinite(a)
        assert close(b[finite], a[finite])
        assert np.array_equal(np.isneginf(a), np.isneginf(b))
    assert close(ChunkedEvaluator(net, game, chunk=5).evaluate(states)[1], whole[1])


def test_a_program_longer_than_the_net_allows_is_a_clear_error():
    game = GAMES[(3, "cmov")]
    config = NetworkConfig(max_length=2)
    states = rollout_states(game, [1, 1, 1])
    with pytest.raises(ValueError, match="longer than the network's max_length=2"):
        encode_states(game, states, config)
    with pytest.raises(ValueError, match="longer than the network's max_length=2"):
        NetworkEvaluator(PolicyValueNet(config), game).evaluate(states)


def test_the_evaluator_follows_the_weights_an_optimiser_or_a_checkpoint_changes():
    game = GAMES[(3, "cmov")]
    net = random_net(NetworkConfig())
    states = rollout_states(game, range(3, 30))
    evaluator = NetworkEvaluator(net, game)
    evaluator.evaluate(states)  # its constants are made from these weights
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    net.train()
    logits, v_correct, _ = net(**encode_states(game, states, net.config))
    (logits[torch.isfinite(logits)].square().mean() + v_correct.sum()).backward()
    optimizer.step()
    for _ in range(2):  # an optimiser step, then a checkpoint's weights
        logits, values = evaluator.evaluate(states)
        ref_logits, ref_values = reference_evaluate(net, game, states)
        finite = np.isfinite(ref_logits)
        assert close(logits[finite], ref_logits[finite]) and close(values, ref_values)
        net.load_state_dict(random_net(NetworkConfig(), seed=7).state_dict())
