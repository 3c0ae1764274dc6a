"""Self-play: episodes of the assembly game played by an MCTS guided by the network.

Targets per position: the search's policy (visit counts, or with ``gumbel`` the completed-Q
improved policy); for the correctness head the ``n_step`` return of the correctness rewards,
bootstrapped with the network's correctness value; for the latency head the Monte-Carlo return
of the latency term (``-latency_weight * latency`` of the finished program if it is correct,
else 0). :func:`demonstration_samples` turns programs of the exact enumeration into the same
kind of samples (imitation data; a run that uses them is not the agent learning alone).
"""

from __future__ import annotations

import numpy as np
import torch

from alphadev.game import AssemblyGame
from alphadev.latency import latency
from alphadev.mcts import MCTS, MCTSConfig
from alphadev.network import NetworkConfig, NetworkEvaluator, PolicyValueNet, encode_states
from alphadev.replay import Sample
from alphadev.tasks import SortTask
from alphadev.train.config import TrainConfig

__all__ = ["demonstration_samples", "self_play_episode", "worker"]


def self_play_episode(
    game: AssemblyGame, net: PolicyValueNet, config: TrainConfig, rng: np.random.Generator
) -> tuple[list[Sample], dict]:
    """Play one episode; returns its training samples and ``{correct, length, program,
    simulations}``."""
    mcts = MCTS(game, NetworkEvaluator(net, game), MCTSConfig(), rng=rng)
    node = mcts.node(game.initial_state())
    positions, policies, rewards = [], [], []
    while not node.terminal:
        mcts.ensure_expanded(node)
        if len(node.actions) == 0:
            break
        if config.gumbel:  # sequential halving picks the move; completed Q gives the target
            action, policy = mcts.gumbel_search(node, config.simulations)
        else:
            mcts.add_exploration_noise(node)
            mcts.run(node, config.simulations)
            policy = mcts.visit_policy(node)
            temperature = 1.0 if len(positions) < config.temperature_moves else 0.0
            action = mcts.select_action(node, temperature)
        index = int(np.flatnonzero(node.actions == action)[0])
        child = mcts.child(node, index)
        positions.append(node.state)
        policies.append(policy)
        rewards.append(game.reward(node.state, child.state))
        node = child
    final = node.state
    cfg = game.reward_config
    latency_return = 0.0
    if final.correct:
        latency_return = -cfg.latency_weight * latency(game.program(final), cfg.latency_model)
    correctness_rewards = np.array(rewards, dtype=np.float64)
    if final.correct:
        correctness_rewards[-1] -= latency_return  # the reward held both terms
    bootstrap = _correctness_values(net, game, positions)
    samples = []
    for t, (gs, policy) in enumerate(zip(positions, policies, strict=True)):
        end = min(t + config.n_step, len(positions))
        target = float(correctness_rewards[t:end].sum())
        if end < len(positions):
            target += float(bootstrap[end])
        samples.append(Sample(gs.program, policy, target, latency_return))
    stats = {
        "correct": bool(final.correct),
        "length": final.length,
        "program": game.program(final) if final.correct else None,
        "simulations": mcts.simulations,
    }
    return samples, stats


@torch.no_grad()
def _correctness_values(net: PolicyValueNet, game: AssemblyGame, states) -> np.ndarray:
    if not states:
        return np.zeros(0)
    net.eval()
    _, v_correct, _ = net(**encode_states(game, states, net.config))
    return v_correct.double().numpy()


def worker(config: dict, seed: int, weights, episodes, stop) -> None:  # pragma: no cover
    """A self-play process: newest weights in, episodes out, until ``stop`` is set. It owns
    its process, so it sets its own torch threads and seeds."""
    torch.set_num_threads(1)
    cfg = TrainConfig(**config)
    game = AssemblyGame(SortTask(cfg.n, cfg.registers, cfg.isa))
    net = PolicyValueNet(NetworkConfig(**cfg.network))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    while not stop.is_set():
        latest = None
        while not weights.empty():
            latest = weights.get()
        if latest is not None:
            net.load_state_dict(latest)
        samples, stats = self_play_episode(game, net, cfg, rng)
        episodes.put((samples, stats))


def demonstration_samples(game: AssemblyGame, count: int) -> list[Sample]:
    """Positions of up to ``count`` distinct shortest programs from the exact enumeration."""
    from alphadev import exact

    task = game.task
    core = exact.network_core(task)
    while (shorter := exact.shorten_tail(task, core)) is not None:
        core = shorter
    programs = {}
    for seed in range(4 * count):
        if len(programs) >= count:
            break
        found = exact.find(task, len(core), order_seed=seed, max_nodes=5_000_000)
        if found.status == "found":
            programs.setdefault(tuple(found.program.code), found.program)
    samples = []
    for program in programs.values():
        gs = game.initial_state()
        trajectory = []
        for ins in program:
            action = task.action_space.index(ins)
            child = game.apply(gs, action)
            trajectory.append((gs, action, game.reward(gs, child)))
            gs = child
        cfg = game.reward_config
        lat = -cfg.latency_weight * latency(program, cfg.latency_model)
        rewards = np.array([r for _, _, r in trajectory])
        rewards[-1] -= lat
        for t, (state, action, _) in enumerate(trajectory):
            policy = np.zeros(game.num_actions, dtype=np.float32)
            policy[action] = 1.0
            samples.append(Sample(state.program, policy, float(rewards[t:].sum()), lat))
    return samples
