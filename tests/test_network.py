import numpy as np
import pytest
import torch

from alphadev.game import AssemblyGame
from alphadev.mcts import MCTS, MCTSConfig
from alphadev.network import (
    NetworkConfig,
    NetworkEvaluator,
    PolicyValueNet,
    encode_states,
)

SMALL = NetworkConfig(embed_dim=16, program_layers=1, heads=2, row_hidden=16, trunk_hidden=32)


def some_states(g, count=5, seed=0):
    rng = np.random.default_rng(seed)
    gs, out = g.initial_state(), []
    for _ in range(count):
        out.append(gs)
        legal = np.flatnonzero(g.legal_actions(gs))
        if not len(legal):
            break
        gs = g.apply(gs, int(rng.choice(legal)))
    return out


def test_output_shapes_and_masked_logits():
    torch.manual_seed(0)
    g = AssemblyGame(n=3)
    net = PolicyValueNet(SMALL)
    states = some_states(g)
    batch = encode_states(g, states, SMALL)
    logits, v_correct, v_latency = net(**batch)
    assert logits.shape == (len(states), g.num_actions)
    assert v_correct.shape == v_latency.shape == (len(states),)
    legal = batch["legal"]
    assert torch.isneginf(logits[~legal]).all() and torch.isfinite(logits[legal]).all()
    probs = torch.softmax(logits, -1)
    assert (probs[~legal] == 0).all()
    assert torch.allclose(probs.sum(-1), torch.ones(len(states)))


def test_a_net_built_for_sort3_loads_into_sort4():
    torch.manual_seed(0)
    net3 = PolicyValueNet(SMALL)
    net4 = PolicyValueNet(SMALL)
    net4.load_state_dict(net3.state_dict())  # same shapes: no weight depends on n
    g4 = AssemblyGame(n=4)
    batch = encode_states(g4, some_states(g4), SMALL)
    for a, b in zip(net3(**batch), net4(**batch), strict=True):
        assert torch.equal(a, b)


def test_evaluator_logits_mask_exactly_the_illegal_actions_and_drive_mcts():
    torch.manual_seed(0)
    g = AssemblyGame(n=3)
    ev = NetworkEvaluator(PolicyValueNet(SMALL), g)
    states = some_states(g)
    logits, values = ev.evaluate(states)
    assert logits.shape == (len(states), g.num_actions) and values.shape == (len(states),)
    for gs, row in zip(states, logits, strict=True):
        legal = g.legal_actions(gs).astype(bool)
        assert np.isfinite(row[legal]).all() and np.isneginf(row[~legal]).all()
    m = MCTS(g, ev, MCTSConfig(batch_size=4), rng=np.random.default_rng(0))
    root = m.root(states[-1])
    m.run(root, 16)
    assert m.simulations == 16 and m.evaluations >= 2
    prior = m.tree.prior[root]
    legal = g.legal_actions(states[-1]).astype(bool)
    assert prior[~legal].sum() == 0 and prior.sum() == pytest.approx(1.0, abs=1e-5)


def test_an_untrained_net_is_neutral_a_uniform_prior_and_value_zero():
    g = AssemblyGame(n=3)
    ev = NetworkEvaluator(PolicyValueNet(SMALL), g)
    logits, values = ev.evaluate(some_states(g))
    finite = logits[np.isfinite(logits)]
    assert np.all(finite == 0.0) and np.all(values == 0.0)


def test_task_too_large_for_the_tables_is_a_clear_error():
    g = AssemblyGame(n=5, registers=6)
    cfg = NetworkConfig(max_memory=4)
    with pytest.raises(ValueError, match="exceeds the network's max_memory=4"):
        encode_states(g, [g.initial_state()], cfg)
