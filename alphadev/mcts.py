"""Monte Carlo tree search over the assembly game (single player, AlphaZero/MuZero style).

* PUCT selection with ``pb_c_init``/``pb_c_base``; Dirichlet noise on the root prior.
* Q values are normalised to [0, 1] by the min and max seen in the tree (single-player
  returns have no natural scale).
* A transposition table keyed by :func:`alphadev.game.AssemblyGame.state_key` and length: the
  tree is a DAG, each state is one node and is evaluated once; statistics live on edges. A
  state reached again by a longer program is dominated (the shorter one has the same future at
  lower cost) and is a dead end.
* Batched leaf evaluation: a batch of simulations descends with virtual loss, the distinct leaves
  go to the evaluator in one call, then every path is backed up.
* Gumbel root selection with sequential halving (Danihelka et al., 2022) as an option for small
  simulation budgets, with the completed-Q improved policy.
* Branch and bound: with ``bound`` set (the best correct length known), a node whose length plus
  the admissible :func:`alphadev.bounds.lower_bound` reaches it is a dead end.

The search talks to an :class:`Evaluator`: a network, or :class:`HeuristicEvaluator`.
Edge rewards are the game's rewards; a leaf's value estimates the return still to come.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from alphadev.bounds import DEAD, lower_bound, progress
from alphadev.game import AssemblyGame, GameState

__all__ = ["MCTS", "Evaluator", "HeuristicEvaluator", "MCTSConfig", "Node"]


@dataclass(frozen=True, kw_only=True)
class MCTSConfig:
    """Search hyperparameters (keyword-only)."""

    pb_c_init: float = 1.25
    pb_c_base: float = 19652.0
    dirichlet_alpha: float = 0.3
    root_exploration_fraction: float = 0.25
    batch_size: int = 8  # leaves per evaluator call
    virtual_loss: float = 1.0
    discount: float = 1.0
    gumbel_max_actions: int = 16
    gumbel_c_visit: float = 50.0
    gumbel_c_scale: float = 1.0
    max_nodes: int = 400_000  # the table is cleared past this many nodes


class Evaluator(Protocol):
    """Priors and values for a batch of non-terminal states.

    ``evaluate(states)`` returns ``(priors, values)``: ``priors[i]`` is float32[k_i], a
    distribution over ``np.flatnonzero(game.legal_actions(states[i]))`` in that order, and
    ``values`` is float64[len(states)], each an estimate of the return still to come.
    """

    def evaluate(self, states: Sequence[GameState]) -> tuple[list[np.ndarray], np.ndarray]: ...


class HeuristicEvaluator:
    """No network: a uniform prior, and a value from how much of the sort is done.

    ``value = p * (correct_bonus - latency_weight * (length + lower_bound))
    + correctness_weight * p * (1 - score / max_score)``, with ``p`` =
    :func:`alphadev.bounds.progress` (per output slot, the best fraction of rows one register
    already gets right): the reward still to come if the program finishes at its lower-bound
    length, weighted by a crude chance that it does.
    """

    def __init__(self, game: AssemblyGame) -> None:
        self.game = game
        self.cfg = game.reward_config

    def value(self, gs: GameState) -> float:
        game, cfg = self.game, self.cfg
        expected = game.task.expected
        bound = lower_bound(gs.state, gs.book, expected)
        if bound == DEAD:
            return 0.0
        p = progress(gs.state, gs.book, expected)
        finish = cfg.correct_bonus - cfg.latency_weight * (gs.length + bound)
        return p * finish + cfg.correctness_weight * p * (1.0 - gs.score / game.max_score)

    def evaluate(self, states: Sequence[GameState]) -> tuple[list[np.ndarray], np.ndarray]:
        priors = []
        for gs in states:
            k = int(np.count_nonzero(self.game.legal_actions(gs)))
            priors.append(np.full(k, 1.0 / max(k, 1), dtype=np.float32))
        values = np.array([self.value(gs) for gs in states], dtype=np.float64)
        return priors, values


class Node:
    """One game state. Edge arrays are aligned with ``actions`` (its legal action ids)."""

    __slots__ = (
        "N", "R", "W", "actions", "alive", "bound", "children", "exhausted", "expanded", "key",
        "prior", "state", "terminal", "value",
    )  # fmt: skip

    def __init__(self, state: GameState, key: int, terminal: bool, bound: int) -> None:
        self.state = state
        self.key = key
        self.terminal = terminal
        self.bound = bound
        self.expanded = False
        self.exhausted = False  # every edge leads to a dead end
        self.value = 0.0
        self.actions = np.empty(0, dtype=np.int64)
        self.prior = np.empty(0, dtype=np.float32)
        self.N = np.empty(0, dtype=np.float64)
        self.W = np.empty(0, dtype=np.float64)
        self.R = np.empty(0, dtype=np.float64)
        self.alive = np.empty(0, dtype=bool)
        self.children: list[Node | None] = []

    @property
    def visits(self) -> int:
        return int(self.N.sum())

    def q(self) -> np.ndarray:
        """Mean return per edge (0 where unvisited)."""
        return np.divide(self.W, self.N, out=np.zeros_like(self.W), where=self.N > 0)


class _MinMax:
    def __init__(self) -> None:
        self.lo, self.hi = math.inf, -math.inf

    def update(self, value: float) -> None:
        self.lo = min(self.lo, value)
        self.hi = max(self.hi, value)

    def normalise(self, values: np.ndarray) -> np.ndarray:
        if self.hi > self.lo:
            return np.clip((values - self.lo) / (self.hi - self.lo), 0.0, 1.0)
        return np.zeros_like(values)


class MCTS:
    """Tree search over one game with one evaluator; the table persists across calls (tree
    reuse between moves and episodes) until :attr:`MCTSConfig.max_nodes` is reached.

    ``on_state(gs)`` is called for every new state created (e.g. to record correct programs).
    ``bound``: best correct length known; nodes that cannot beat it are dead ends.
    """

    def __init__(
        self,
        game: AssemblyGame,
        evaluator: Evaluator,
        config: MCTSConfig | None = None,
        *,
        rng: np.random.Generator | None = None,
        on_state: Callable[[GameState], None] | None = None,
    ) -> None:
        self.game = game
        self.evaluator = evaluator
        self.config = config or MCTSConfig()
        self.rng = rng or np.random.default_rng(0)
        self.on_state = on_state
        self.table: dict[tuple[int, int], Node] = {}
        self.shortest: dict[int, int] = {}  # state key -> shortest length it was reached at
        self.minmax = _MinMax()
        self.bound: int | None = None
        self.simulations = 0  # total simulations run
        self.evaluations = 0  # states sent to the evaluator

    # ------------------------------------------------------------------ nodes

    def node(self, gs: GameState) -> Node:
        """The table's node for a state (created if new)."""
        key = self.game.state_key(gs)
        found = self.table.get((key, gs.length))
        if found is not None:
            return found
        if len(self.table) >= self.config.max_nodes:
            self.table.clear()
            self.shortest.clear()
        if gs.length < self.shortest.get(key, gs.length + 1):
            self.shortest[key] = gs.length
        bound = int(lower_bound(gs.state, gs.book, self.game.task.expected))
        terminal = bound == DEAD or self.game.is_terminal(gs)
        node = Node(gs, key, terminal, bound)
        self.table[(key, gs.length)] = node
        if self.on_state is not None:
            self.on_state(gs)
        return node

    def is_dead(self, node: Node) -> bool:
        """No continuation from here can be a new best: game over without a sort, a dead state,
        every edge dead, reached more cheaply by another program, or (with a bound) its length
        plus lower bound reaches the best known length. A correct terminal node is not dead
        unless the bound says so."""
        if node.exhausted or (node.terminal and not node.state.correct):
            return True
        length = node.state.length
        if self.shortest.get(node.key, length) < length:
            return True
        return self.bound is not None and length + node.bound >= self.bound

    def _expand(self, node: Node, prior: np.ndarray, value: float) -> None:
        actions = np.flatnonzero(self.game.legal_actions(node.state))
        node.actions = actions
        node.prior = np.asarray(prior, dtype=np.float32)
        k = len(actions)
        node.N = np.zeros(k)
        node.W = np.zeros(k)
        node.R = np.zeros(k)
        node.alive = np.ones(k, dtype=bool)
        node.children = [None] * k
        node.value = float(value)
        node.expanded = True

    def child(self, node: Node, index: int) -> Node:
        """The node along edge ``index`` of ``node`` (created, with its reward, on first use)."""
        child = node.children[index]
        if child is None:
            gs = self.game.play(node.state, int(node.actions[index]))
            node.R[index] = self.game.reward(node.state, gs)
            child = self.node(gs)
            node.children[index] = child
        return child

    # ------------------------------------------------------------------ selection

    def _ucb(self, node: Node) -> np.ndarray:
        cfg = self.config
        total = node.N.sum()
        c = cfg.pb_c_init + math.log((total + cfg.pb_c_base + 1.0) / cfg.pb_c_base)
        q = self.minmax.normalise(node.R + cfg.discount * node.q())
        q = np.where(node.N > 0, q, 0.0)
        scores = q + c * node.prior * math.sqrt(total + 1.0) / (1.0 + node.N)
        return np.where(node.alive, scores, -np.inf)

    def _select_index(self, node: Node) -> int:
        scores = self._ucb(node)
        best = np.flatnonzero(scores == scores.max())
        return int(best[0] if len(best) == 1 else self.rng.choice(best))

    def add_exploration_noise(self, node: Node) -> None:
        if not node.expanded or len(node.actions) == 0:
            return
        cfg = self.config
        noise = self.rng.dirichlet([cfg.dirichlet_alpha] * len(node.actions))
        frac = cfg.root_exploration_fraction
        node.prior = ((1 - frac) * node.prior + frac * noise).astype(np.float32)

    # ------------------------------------------------------------------ simulations

    def _evaluate_and_expand(self, leaves: list[Node]) -> None:
        if not leaves:
            return
        priors, values = self.evaluator.evaluate([leaf.state for leaf in leaves])
        self.evaluations += len(leaves)
        for leaf, prior, value in zip(leaves, priors, values, strict=True):
            self._expand(leaf, prior, float(value))

    def ensure_expanded(self, node: Node) -> None:
        if not node.expanded and not node.terminal:
            self._evaluate_and_expand([node])

    def run(self, root: Node, num_simulations: int, *, forced_root_index: int | None = None):
        """Run simulations from ``root`` in batches of ``config.batch_size``."""
        self.ensure_expanded(root)
        if root.terminal or len(root.actions) == 0:
            return
        cfg = self.config
        done = 0
        while done < num_simulations:
            batch = min(cfg.batch_size, num_simulations - done)
            paths: list[tuple[list[tuple[Node, int]], Node]] = []
            pending: dict[int, Node] = {}
            for _ in range(batch):
                path, leaf = self._descend(root, forced_root_index)
                paths.append((path, leaf))
                if not (leaf.terminal or leaf.expanded or self.is_dead(leaf)):
                    pending[id(leaf)] = leaf
            self._evaluate_and_expand(list(pending.values()))
            for path, leaf in paths:
                value = 0.0 if leaf.terminal or self.is_dead(leaf) else leaf.value
                self._backup(path, value)
            done += batch
            self.simulations += batch

    def _descend(self, root: Node, forced: int | None) -> tuple[list[tuple[Node, int]], Node]:
        node, path = root, []
        vl = self.config.virtual_loss
        while node.expanded and not node.terminal and not self.is_dead(node):
            forced_here = forced is not None and node is root
            index = forced if forced_here else self._select_index(node)
            path.append((node, index))
            node.N[index] += 1  # virtual loss: looks visited and bad until backed up
            node.W[index] -= vl
            child = self.child(node, index)
            if self.is_dead(child):
                node.alive[index] = False  # never select this edge again
                if not node.alive.any():
                    node.exhausted = True
            node = child
        return path, node

    def _backup(self, path: list[tuple[Node, int]], value: float) -> None:
        vl = self.config.virtual_loss
        ret = value
        for node, index in reversed(path):
            ret = node.R[index] + self.config.discount * ret
            node.N[index] -= 1
            node.W[index] += vl
            node.N[index] += 1
            node.W[index] += ret
            self.minmax.update(ret)

    # ------------------------------------------------------------------ decisions

    def visit_policy(self, root: Node) -> np.ndarray:
        """float32[num_actions]: root visit counts normalised (zeros off the legal set)."""
        policy = np.zeros(self.game.num_actions, dtype=np.float32)
        if root.expanded and root.N.sum() > 0:
            policy[root.actions] = root.N / root.N.sum()
        return policy

    def select_action(self, root: Node, temperature: float = 0.0) -> int:
        """An action id at the root: most visited (temperature 0) or sampled ∝ N^(1/T), among
        edges that are still alive (all edges if none is)."""
        counts = np.where(root.alive, root.N, 0.0) if root.alive.any() else root.N
        if temperature <= 0:
            best = np.flatnonzero(counts == counts.max())
            return int(root.actions[best[0] if len(best) == 1 else self.rng.choice(best)])
        weights = counts ** (1.0 / temperature)
        if weights.sum() == 0:
            weights = np.ones_like(weights)
        return int(self.rng.choice(root.actions, p=weights / weights.sum()))

    def gumbel_search(self, root: Node, num_simulations: int) -> tuple[int, np.ndarray]:
        """Gumbel root selection with sequential halving. Returns the chosen action id and the
        completed-Q improved policy, float32[num_actions]."""
        self.ensure_expanded(root)
        cfg = self.config
        k = len(root.actions)
        if k == 0:
            raise ValueError("gumbel_search needs a root with at least one legal action")
        logits = np.log(np.maximum(root.prior.astype(np.float64), 1e-12))
        gumbel = self.rng.gumbel(size=k)
        m = min(cfg.gumbel_max_actions, k, max(num_simulations, 1))
        remaining = list(np.argsort(-(gumbel + logits))[:m])
        phases = max(1, math.ceil(math.log2(m))) if m > 1 else 1
        budget = num_simulations
        for phase in range(phases):
            if budget <= 0:
                break
            per = max(1, budget // (len(remaining) * (phases - phase)))
            for index in remaining:
                self.run(root, per, forced_root_index=int(index))
                budget -= per
            if len(remaining) > 1:
                scores = gumbel[remaining] + logits[remaining] + self._sigma(root)[remaining]
                order = np.argsort(-scores)
                remaining = [remaining[i] for i in order[: max(1, len(remaining) // 2)]]
        chosen = int(root.actions[remaining[0]])
        return chosen, self.improved_policy(root, logits)

    def _sigma(self, root: Node) -> np.ndarray:
        cfg = self.config
        q = self._completed_q(root)
        return (cfg.gumbel_c_visit + root.N.max(initial=0.0)) * cfg.gumbel_c_scale * q

    def _completed_q(self, root: Node) -> np.ndarray:
        q = self.minmax.normalise(root.R + self.config.discount * root.q())
        visited = root.N > 0
        if visited.any():
            mixed = float(q[visited].mean())
        else:
            mixed = float(self.minmax.normalise(np.array([root.value]))[0])
        return np.where(visited, q, mixed)

    def improved_policy(self, root: Node, logits: np.ndarray | None = None) -> np.ndarray:
        """float32[num_actions]: softmax(logits + sigma(completed Q)) over the legal actions."""
        if logits is None:
            logits = np.log(np.maximum(root.prior.astype(np.float64), 1e-12))
        z = logits + self._sigma(root)
        z = np.exp(z - z.max())
        policy = np.zeros(self.game.num_actions, dtype=np.float32)
        policy[root.actions] = z / z.sum()
        return policy
