"""Self-play: episodes of the assembly game played by an MCTS guided by the network.

Targets per position: the search's policy (visit counts, or with ``gumbel`` the completed-Q
improved policy); for the correctness head the ``n_step`` return of the correctness rewards,
bootstrapped with the network's correctness value plus the potential; for the latency head the
Monte-Carlo return of the latency term (``-latency_weight * latency`` of the finished program
if it is correct, else 0). With ``phi_weight`` > 0 (potential-based shaping,
:mod:`alphadev.mcts.potential`) the correctness target is the residual: the return minus
``phi_weight * phi(position)``; the search adds the potential back at its leaves.

An episode ends when the program is correct, or as soon as the search finds no continuation
that can still be correct within the episode's target length (the curriculum's, see
:mod:`alphadev.train.loop`): a dead position, where the rest would be noise.

:func:`demonstration_samples` turns programs of the exact enumeration into the same kind of
samples (imitation data; a run that uses them is not the agent learning alone).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal

import numpy as np
import torch

from alphadev.game import AssemblyGame, default_max_length
from alphadev.latency import latency
from alphadev.mcts import MCTS, Leaves, MCTSConfig
from alphadev.mcts.potential import phi_of_state, phi_params
from alphadev.network import NetworkConfig, NetworkEvaluator, PolicyValueNet, encode_states
from alphadev.replay import Sample
from alphadev.tasks import SortTask
from alphadev.train.config import TrainConfig
from alphadev.train.stopping import ShouldStop, Stopped, check, left_behind, stoppable

__all__ = [
    "ChunkedEvaluator",
    "SelfPlayer",
    "demonstration_samples",
    "derived_seed",
    "greedy_policy_episode",
    "self_play_episode",
    "worker",
]


class ChunkedEvaluator:
    """The network's MCTS evaluator run on ``chunk`` positions at a time (what the memory
    plan allows: a sort7 position takes 0.4 GB of activations), polling ``should_stop``
    before each pass (:class:`~alphadev.train.stopping.Stopped`)."""

    compiled = False

    def __init__(self, net: PolicyValueNet, game: AssemblyGame, chunk: int,
                 should_stop: ShouldStop | None = None, *,
                 threaded: bool = False) -> None:  # fmt: skip
        self.inner = NetworkEvaluator(net, game)
        self.phi_weight = self.inner.phi_weight
        self.chunk = max(1, int(chunk))
        self.should_stop = should_stop
        self.threaded = threaded

    def evaluate(self, states) -> tuple[np.ndarray, np.ndarray]:
        return self._chunked(len(states), lambda a, b: self.inner.evaluate(states[a:b]))

    def evaluate_leaves(self, leaves: Leaves) -> tuple[np.ndarray, np.ndarray]:
        def part(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            return self.inner.evaluate_leaves(leaves._replace(
                index=leaves.index[a:b], program=leaves.program[a:b], length=leaves.length[a:b]
            ))  # fmt: skip

        return self._chunked(len(leaves.index), part)

    def _chunked(self, count: int, evaluate) -> tuple[np.ndarray, np.ndarray]:
        """``evaluate(start, stop)`` over chunks of ``range(count)``, joined."""
        parts = []
        for start in range(0, count, self.chunk):
            stop = min(count, start + self.chunk)
            parts.append(stoppable(lambda a=start, b=stop: evaluate(a, b), self.should_stop,
                                   threaded=self.threaded))  # fmt: skip
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class SelfPlayer:
    """Plays episodes of one game with one network, keeping its search tree across episodes.

    The tree is the agent's search memory: a position seen in an earlier episode keeps its
    statistics, so later episodes build on earlier ones. Priors and values at a node are those
    of the weights when it was expanded; the tree is started afresh every
    ``config.tree_episodes`` episodes (and when it fills up: its node cap is the memory plan's,
    :mod:`alphadev.train.memory`) so that newer weights take over. When the target length
    rises, what the tighter target killed in the tree is opened again
    (:meth:`~alphadev.mcts.MCTS.loosen`).

    Episodes at a target below the shortest program this player has sorted in (attempts at a
    record that may not exist) are played in a second tree of their own (``plan.attempt_nodes``
    nodes; none where the budget leaves no room for one): the tree's statistics do not know
    the target, so hundreds of failed attempts played in the first tree would bury the paths
    that sort at the best length (measured: sort3 runs that held 17 or 19 at 95% correct fell
    to 0-10% after an attempt below it). An attempt that sorts makes its tree the player's
    tree; one the curriculum gives up on is dropped with its tree.
    ``target_length`` (the curriculum's, see :mod:`alphadev.train.loop`) is the longest
    program an episode may end correct with: positions that cannot finish in time are dead.
    ``should_stop`` is polled before every network pass and every move: when it says so, the
    episode is dropped with :class:`~alphadev.train.stopping.Stopped`.
    """

    def __init__(self, game: AssemblyGame, net: PolicyValueNet, config: TrainConfig,
                 rng: np.random.Generator,
                 should_stop: ShouldStop | None = None) -> None:  # fmt: skip
        self.game, self.net, self.config, self.rng = game, net, config, rng
        self.should_stop = should_stop
        self.mcts: MCTS | None = None
        self._tree_target = 0  # the target the tree was last pruned for
        self._tree_episodes = 0  # episodes played in it
        self.attempt: MCTS | None = None  # the tree of the attempt below the best, if any
        self._attempt_target = 0
        self.best: int | None = None  # the shortest program this player has sorted in

    def episode(self, target_length: int) -> tuple[list[Sample], dict]:
        """One episode; returns its training samples and ``{correct, length, program,
        simulations, target_length}``."""
        game, config, plan = self.game, self.config, self.config.plan
        check(self.should_stop)
        mcts = self._tree(target_length)
        before = mcts.simulations
        node = mcts.root(game.initial_state())
        programs, policies, rewards = [], [], []
        pending, bootstrap, potential = [], [], []  # positions not valued yet; their values
        state = mcts.state(node)
        while not mcts.is_terminal(node) and not mcts.is_dead(node):
            check(self.should_stop)
            if config.gumbel:  # sequential halving picks the move; completed Q gives the target
                action, policy, node = mcts.gumbel_search(node, config.simulations)
            else:
                mcts.add_exploration_noise(node)
                node = mcts.run(node, config.simulations)
                policy = mcts.visit_policy(node)
                temperature = 1.0 if len(programs) < config.temperature_moves else 0.0
                action = mcts.select_action(node, temperature)
            node = mcts.child(node, action)
            child_state = mcts.state(node)
            programs.append(state.program)
            pending.append(state)
            policies.append(policy)
            rewards.append(game.reward(state, child_state))
            if len(pending) >= plan.value_chunk:  # value them now: their states can go
                self._value(pending, bootstrap, potential)
                pending = []
            state = child_state
        self._value(pending, bootstrap, potential)
        correct = mcts.is_correct(node) and state.length <= target_length
        if correct:
            self.best = state.length if self.best is None else min(self.best, state.length)
            if mcts is self.attempt:  # a new best: the attempt's tree goes on as the player's
                self.mcts, self._tree_target = mcts, target_length
                self._tree_episodes, self.attempt = 0, None
        samples = self._samples(programs, policies, rewards, state, correct, bootstrap,
                                potential)  # fmt: skip
        stats = {
            "correct": correct,
            "length": state.length,
            "program": game.program(state) if correct else None,
            "simulations": mcts.simulations - before,
            "target_length": target_length,
            # sorted within the standard game (its default max_length), whatever the target
            "sorted": mcts.is_correct(node) and state.length <= default_max_length(game.n),
        }
        return samples, stats

    def _tree(self, target_length: int) -> MCTS:
        """The tree to play an episode at ``target_length`` in, its bound set: the attempt
        tree below the best length (made on first use), else the player's tree (started
        afresh every ``tree_episodes`` episodes)."""
        config, plan = self.config, self.config.plan
        if self.best is not None and target_length < self.best and plan.attempt_nodes:
            if self.attempt is None:
                self.attempt = self._new_tree(plan.attempt_nodes)
                self._attempt_target = target_length
            self._attempt_target = _bound_for(self.attempt, self._attempt_target, target_length)
            return self.attempt
        self.attempt = None  # an attempt given up on: its tree goes
        if self.mcts is None or self._tree_episodes >= config.tree_episodes:
            self.mcts = None  # the old tree goes before the new one is allocated
            self.mcts = self._new_tree(plan.tree_nodes)
            self._tree_target, self._tree_episodes = target_length, 0
        self._tree_episodes += 1
        self._tree_target = _bound_for(self.mcts, self._tree_target, target_length)
        return self.mcts

    def _new_tree(self, nodes: int) -> MCTS:
        plan = self.config.plan
        evaluator = ChunkedEvaluator(self.net, self.game, plan.eval_chunk, self.should_stop,
                                     threaded=plan.threaded)  # fmt: skip
        return MCTS(self.game, evaluator, MCTSConfig(batch_size=plan.mcts_batch, max_nodes=nodes),
                    rng=self.rng)  # fmt: skip

    def _value(self, states, bootstrap: list, potential: list) -> None:
        """Append the correctness value and the weighted potential of each of ``states``."""
        if not states:
            return
        check(self.should_stop)
        game, net = self.game, self.net
        weight = float(net.config.phi_weight)
        params = phi_params(game)
        potential.extend(weight * phi_of_state(game, gs, params) if weight else 0.0
                         for gs in states)  # fmt: skip
        bootstrap.extend(stoppable(lambda: _correctness_values(net, game, states),
                                   self.should_stop,
                                   threaded=self.config.plan.threaded))  # fmt: skip

    def _samples(self, programs, policies, rewards, final, correct, bootstrap,
                 potential) -> list[Sample]:  # fmt: skip
        game, config = self.game, self.config
        cfg = game.reward_config
        latency_return = 0.0
        if correct:
            latency_return = -cfg.latency_weight * latency(game.program(final), cfg.latency_model)
        correctness_rewards = np.array(rewards, dtype=np.float64)
        if final.correct:
            # the last reward held the correct bonus and the latency term
            correctness_rewards[-1] += cfg.latency_weight * final.length
        samples = []
        for t, (program, policy) in enumerate(zip(programs, policies, strict=True)):
            end = min(t + config.n_step, len(programs))
            target = float(correctness_rewards[t:end].sum())
            if end < len(programs):
                target += float(bootstrap[end]) + potential[end]
            samples.append(Sample(program, policy, target - potential[t], latency_return))
        return samples


def _bound_for(mcts: MCTS, pruned_for: int, target_length: int) -> int:
    """Set ``mcts``'s bound for episodes at ``target_length`` (its tree last pruned for
    ``pruned_for``); returns the target it is now pruned for."""
    if target_length > pruned_for:
        # a tighter target killed edges for good: they open again, the statistics stay
        # (a fresh tree instead loses the search memory the agent sorts with)
        mcts.loosen(target_length + 1)
    else:
        mcts.bound = target_length + 1
    return target_length


def self_play_episode(
    game: AssemblyGame, net: PolicyValueNet, config: TrainConfig, rng: np.random.Generator
) -> tuple[list[Sample], dict]:
    """One episode with a fresh tree and the game's own ``max_length`` as the target length."""
    return SelfPlayer(game, net, config, rng).episode(game.max_length)


@torch.no_grad()
def _correctness_values(net: PolicyValueNet, game: AssemblyGame, states) -> np.ndarray:
    if not states:
        return np.zeros(0)
    net.eval()
    _, v_correct, _ = net(**encode_states(game, states, net.config))
    return v_correct.double().numpy()


def derived_seed(seed: int) -> int:
    """A worker's or actor's seed (the run's seed times 1000 plus its number, and so on) folded
    into what numpy and torch accept."""
    return seed % 2**63


#: Seconds between two looks at the stop signal while a worker waits for room in the queue.
HAND_OVER_POLL_SECONDS = 0.1


def worker(config: dict, seed: int, weights, episodes, stop) -> None:  # pragma: no cover
    """A self-play process: newest ``(weights, target_length)`` in, episodes out (``episodes``
    is bounded: a worker ahead of the learner waits, so it never plays far behind the newest
    weights), until ``stop`` is set or its parent is gone (polled inside an episode too: the
    episode under way is dropped). It owns its process, so it sets its own torch threads and
    seeds. Ctrl-C is the parent's to handle (the parent stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spawner = multiprocessing.parent_process()  # the pid the parent had when it started us
    parent = spawner.pid if spawner is not None else os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died while this process was starting (imports)
        os._exit(0)
    episodes.cancel_join_thread()  # never wait at exit for a parent that stopped reading
    torch.set_num_threads(1)
    cfg = TrainConfig(**config)
    game = AssemblyGame(SortTask(cfg.n, cfg.registers, cfg.isa), max_length=cfg.longest,
                        moves=cfg.moves)  # fmt: skip
    net = PolicyValueNet(NetworkConfig(**cfg.network))
    seed = derived_seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def should_stop() -> bool:
        return stop.is_set() or os.getppid() != parent

    player = SelfPlayer(game, net, cfg, rng, should_stop)
    target_length = game.max_length
    while not should_stop():
        latest = None
        while not weights.empty():
            latest = weights.get()
        if latest is not None:
            state_dict, target_length = latest
            net.load_state_dict(state_dict)
        try:
            played = player.episode(target_length)
        except Stopped:
            break
        _hand_over(episodes, played, should_stop)
    if left_behind():  # a long pass the stop left running: its result is not wanted
        os._exit(0)


def _hand_over(episodes, played, should_stop) -> None:  # pragma: no cover - in the worker
    """Put ``played`` on the bounded ``episodes`` queue, waiting while it is full (the learner
    is behind) and giving up when ``should_stop`` says so."""
    while not should_stop():
        try:
            episodes.put(played, timeout=HAND_OVER_POLL_SECONDS)
            return
        except queue.Full:
            continue


def _die_with_parent() -> None:  # pragma: no cover - runs in the worker process
    """Ask Linux to kill this process when its parent dies (even by SIGKILL); elsewhere the
    worker notices a new parent id between episodes."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def demonstration_samples(game: AssemblyGame, count: int, control=None) -> list[Sample]:
    """Positions of up to ``count`` distinct shortest programs from the exact enumeration;
    ``control`` (an :class:`alphadev.exact.SearchControl`) stops the enumeration early, with
    the programs found by then."""
    from alphadev import exact

    task = game.task
    core = exact.network_core(task)
    while (shorter := exact.shorten_tail(task, core, control=control)) is not None:
        core = shorter
    programs = {}
    for seed in range(4 * count):
        if len(programs) >= count or (control is not None and control.stopped):
            break
        found = exact.find(task, len(core), order_seed=seed, max_nodes=5_000_000,
                           control=control)  # fmt: skip
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


def greedy_policy_episode(game: AssemblyGame, net: PolicyValueNet,
                          should_stop: ShouldStop | None = None, *,
                          threaded: bool = False) -> tuple[bool, int]:  # fmt: skip
    """The policy alone, no search: from the initial state play the most probable legal move
    until the game ends. Returns ``(correct, length)``; ``should_stop`` is polled before each
    move (and during its network pass if ``threaded``: :func:`~alphadev.train.stopping.
    stoppable`)."""
    net.eval()
    gs = game.initial_state()
    while not game.is_terminal(gs):
        action = stoppable(lambda gs=gs: _greedy_action(game, net, gs), should_stop,
                           threaded=threaded)  # fmt: skip
        gs = game.play(gs, action)
    return bool(gs.correct), gs.length


@torch.no_grad()
def _greedy_action(game: AssemblyGame, net: PolicyValueNet, gs) -> int:
    logits, _, _ = net(**encode_states(game, [gs], net.config))
    return int(torch.argmax(logits[0]))
