"""The MCTS a caller drives: roots, simulations, root decisions (visit counts or Gumbel).

Node ids are ints into a :class:`~alphadev.mcts.tree.Tree`; everything per simulation runs in
compiled code. With a *compiled* evaluator (:class:`HeuristicEvaluator`, or a subclass that
sets ``phi_weight = 0`` for a pure tree search: no Python per leaf) a whole call of
:meth:`MCTS.run` is one compiled loop; otherwise each batch of ``batch_size`` descents
(virtual loss) sends its distinct leaves to the evaluator in one call, ``[B, A]`` logits and
``[B]`` values, the way ``mctx`` batches: as :class:`Leaves` (views of the tree's node arrays
and the leaves' programs, gathered in compiled code) to an evaluator with ``evaluate_leaves``,
as :class:`~alphadev.game.GameState` objects otherwise.

* PUCT selection with ``pb_c_init``/``pb_c_base``; Dirichlet noise on a root prior.
* Gumbel root selection with sequential halving (Danihelka et al., 2022) and the completed-Q
  improved policy, for small simulation budgets.
* Branch and bound (``prune=True``, or :attr:`MCTS.bound` set): a node whose length plus the
  admissible lower bound reaches the best correct length known is a dead end; with ``prune`` a
  correct program found lowers the bound at once.
* At :attr:`MCTSConfig.max_nodes` the tree is full: :meth:`MCTS.run` starts a fresh tree at the
  position it was searching (statistics are lost, the best length known is kept) and counts it
  in :attr:`MCTS.resets`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from alphadev.game import AssemblyGame, GameState
from alphadev.mcts import gumbel as G
from alphadev.mcts import tree as T
from alphadev.state_encoding import Leaves

__all__ = [
    "MCTS",
    "Evaluator",
    "HeuristicEvaluator",
    "Leaves",
    "MCTSConfig",
]


@dataclass(frozen=True, kw_only=True)
class MCTSConfig:
    """Search hyperparameters (keyword-only)."""

    pb_c_init: float = 1.25
    pb_c_base: float = 19652.0
    dirichlet_alpha: float = 0.3
    root_exploration_fraction: float = 0.25
    batch_size: int = 16  # descents per evaluator call (network evaluators)
    virtual_loss: float = 1.0
    discount: float = 1.0
    gumbel_max_actions: int = 16
    gumbel_c_visit: float = 50.0
    gumbel_c_scale: float = 1.0
    max_nodes: int = 200_000  # tree capacity; see MCTS.resets


class Evaluator(Protocol):
    """Priors and values for a batch of non-terminal states, dense over the action space.

    ``evaluate(states)`` returns ``(logits float32[B, A], values float64[B])``: logits over all
    ``A`` actions (entries of illegal actions are ignored), values an estimate of the return
    still to come minus ``phi_weight`` times the potential (the search adds it back).
    ``compiled = True`` promises constant logits and zero values: the search then never calls
    :meth:`evaluate` and runs whole in compiled code. An evaluator may also have
    ``evaluate_leaves(leaves: Leaves)``, the same answer for the same states: the search then
    hands it its batches of leaves that way (no :class:`GameState` made per leaf).
    """

    phi_weight: float
    compiled: bool

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]: ...


class HeuristicEvaluator:
    """No network: a uniform prior, and the potential (:mod:`alphadev.mcts.potential`) as the
    value. Runs inside the compiled search."""

    phi_weight = 1.0
    compiled = True

    def __init__(self, game: AssemblyGame) -> None:
        self.game = game

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        b = len(states)
        return np.zeros((b, self.game.num_actions), np.float32), np.zeros(b)


class MCTS:
    """Tree search over one game with one evaluator.

    Args:
        game: the game.
        evaluator: see :class:`Evaluator`.
        config: hyperparameters.
        rng: for Dirichlet noise, Gumbel draws and sampled moves; its first draw seeds the
            compiled tie-breaking, so one seed reproduces a search.
        on_correct: called with the :class:`GameState` of each correct program the search
            creates (after the call of :meth:`run` that created it).
        prune: treat the shortest correct program found as the bound at once.
    """

    def __init__(
        self,
        game: AssemblyGame,
        evaluator: Evaluator,
        config: MCTSConfig | None = None,
        *,
        rng: np.random.Generator | None = None,
        on_correct: Callable[[GameState], None] | None = None,
        prune: bool = False,
    ) -> None:
        if game.reward_config.latency_model != "length":
            raise ValueError("the MCTS computes rewards with the 'length' latency model only")
        self.game = game
        self.evaluator = evaluator
        self.config = cfg = config or MCTSConfig()
        self.rng = rng or np.random.default_rng(0)
        self.on_correct = on_correct
        reward = game.reward_config
        params = np.array([
            cfg.pb_c_init, cfg.pb_c_base, cfg.virtual_loss, cfg.discount,
            reward.correctness_weight, reward.correct_bonus, reward.latency_weight,
            game.max_score, evaluator.phi_weight, 1.0 if prune else 0.0,
        ])  # fmt: skip
        rows, locations = game.task.initial_state.shape
        self.tree = T.allocate(cfg.max_nodes, rows, locations, game.num_actions, game.max_length,
                               cfg.batch_size, params)  # fmt: skip
        self._expected = game.task.expected
        self._roots: dict[int, tuple[int, ...]] = {}  # parentless node -> its program
        self._program = np.zeros(game.max_length + 1, np.int32)
        self._by_leaves = callable(getattr(evaluator, "evaluate_leaves", None))
        self._leaf_program = np.zeros((cfg.batch_size, game.max_length + 1), np.int32)
        self._leaf_length = np.zeros(cfg.batch_size, np.int32)
        self._root_table = None  # (nodes, lengths, programs) of _roots, made when needed
        self.bound = None
        self.resets = 0  # times the tree filled up and was started afresh
        self._past_simulations = 0  # run in trees before the last reset
        self._past_evaluations = 0
        T.seed_random(int(self.rng.integers(2**31)))

    # ------------------------------------------------------------------ counters

    @property
    def simulations(self) -> int:
        """Simulations run in total (across resets)."""
        return int(self.tree.counters[T.C_SIMULATIONS]) + self._past_simulations

    @property
    def evaluations(self) -> int:
        """Leaves evaluated in total (across resets)."""
        return int(self.tree.counters[T.C_EVALUATIONS]) + self._past_evaluations

    @property
    def nodes(self) -> int:
        """Nodes in the current tree."""
        return int(self.tree.counters[T.C_NODES])

    @property
    def bound(self) -> int | None:
        """The best correct length known (nodes that cannot beat it are dead), or None."""
        value = int(self.tree.counters[T.C_BOUND])
        return None if value > self.game.max_length else value

    @bound.setter
    def bound(self, value: int | None) -> None:
        # A program has at most max_length moves: a node that cannot finish by then is dead.
        limit = self.game.max_length + 1
        self.tree.counters[T.C_BOUND] = limit if value is None else min(int(value), limit)

    # ------------------------------------------------------------------ nodes

    def _game_args(self):
        g = self.game
        return g.moves, g.n, self._expected, g.max_length

    def root(self, gs: GameState) -> int:
        """The node of ``gs`` (found in the table or added); a full tree is reset first."""
        node = T.add_root(self.tree, gs.state, gs.flags, gs.book, gs.score, gs.length,
                          *self._game_args())  # fmt: skip
        if node < 0:
            self.reset()
            node = T.add_root(self.tree, gs.state, gs.flags, gs.book, gs.score, gs.length,
                              *self._game_args())  # fmt: skip
        program = tuple(gs.program)
        if self.tree.parent[node] < 0 and self._roots.get(node) != program:
            self._roots[node] = program
            self._root_table = None
        self._drain()
        return node

    def loosen(self, bound: int) -> None:
        """Raise :attr:`bound` to ``bound`` (the best correct length known, or a length a
        caller allows), opening again the edges the tighter bound killed that lead to nodes
        alive under this one (:func:`tree.revive <alphadev.mcts.tree.revive>`)."""
        self.bound = bound
        T.revive(self.tree)

    def reset(self) -> None:
        """Forget every node (the bound and the counters are kept)."""
        self._past_simulations += int(self.tree.counters[T.C_SIMULATIONS])
        self._past_evaluations += int(self.tree.counters[T.C_EVALUATIONS])
        bound = self.tree.counters[T.C_BOUND]
        T.clear(self.tree)
        self.tree.counters[T.C_SIMULATIONS] = self.tree.counters[T.C_EVALUATIONS] = 0
        self.tree.counters[T.C_BOUND] = bound
        self._roots.clear()
        self._root_table = None
        self.resets += 1

    def program(self, node: int) -> tuple[int, ...]:
        """The instruction ids of the program that first reached ``node``."""
        top, steps = T.program_of(self.tree, node, self.game.moves, self._program)
        return self._roots.get(top, ()) + tuple(int(a) for a in self._program[:steps])

    def state(self, node: int) -> GameState:
        """A :class:`GameState` of ``node`` (fresh arrays)."""
        t = self.tree
        return GameState(self.game, self.program(node), t.state[node].copy(),
                         t.flags[node].copy(), t.book[node].copy(), int(t.score[node]))  # fmt: skip

    def actions(self, node: int) -> np.ndarray:
        """int64[k]: the legal action ids of ``node``."""
        return np.flatnonzero(self.tree.edge[node])

    def is_terminal(self, node: int) -> bool:
        return bool(self.tree.status[node] & T.TERMINAL)

    def is_correct(self, node: int) -> bool:
        return bool(self.tree.status[node] & T.CORRECT)

    def is_expanded(self, node: int) -> bool:
        return bool(self.tree.status[node] & T.EXPANDED)

    def is_dead(self, node: int) -> bool:
        """See :func:`alphadev.mcts.tree.is_dead`."""
        return bool(T.is_dead(self.tree, node))

    def visits(self, node: int) -> np.ndarray:
        """int32[A]: visits per action at ``node``."""
        return self.tree.visits[node]

    def child(self, node: int, action: int) -> int:
        """The node after ``action`` (made if new). A full tree is started afresh with the
        child as a root; a child state reached more cheaply before comes back as a dead root."""
        c = int(T.child_of(self.tree, node, action, *self._game_args()))
        if c >= 0:
            self._drain()
            return c
        return self.root(self.game.play(self.state(node), int(action)))

    # ------------------------------------------------------------------ simulations

    def _drain(self) -> None:
        found = int(self.tree.counters[T.C_FOUND])
        if found and self.on_correct is not None:
            for node in self.tree.found[: min(found, len(self.tree.found))]:
                self.on_correct(self.state(int(node)))
        self.tree.counters[T.C_FOUND] = 0

    def ensure_expanded(self, node: int) -> None:
        """Evaluate and expand ``node`` if it is a fresh non-terminal node."""
        t = self.tree
        if t.status[node] & (T.EXPANDED | T.TERMINAL):
            return
        if self.evaluator.compiled:
            logits, values = np.zeros((1, self.game.num_actions), np.float32), np.zeros(1)
        else:
            logits, values = self.evaluator.evaluate([self.state(node)])
        T.evaluate_now(t, node, np.ascontiguousarray(logits[0], np.float32), float(values[0]),
                       self._expected)  # fmt: skip

    def run(self, node: int, simulations: int, *, forced_action: int = -1) -> int:
        """Run ``simulations`` simulations from ``node`` (all through ``forced_action`` at the
        root if given). Returns the node to go on with: ``node``, or its copy in a fresh tree
        when the tree filled up."""
        self.ensure_expanded(node)
        done = 0
        while done < simulations and not self.is_dead(node) and not self.is_terminal(node):
            if self.evaluator.compiled:
                code, ran = T.run_heuristic(self.tree, node, simulations - done, forced_action,
                                            *self._game_args())  # fmt: skip
            else:
                batch = min(self.config.batch_size, simulations - done)
                code, ran = self._run_batch(node, batch, forced_action)
            done += ran
            self._drain()
            if code == T.FULL:
                node = self._restart_at(node)
            elif code == T.RAN and ran == 0:
                break
        return node

    def _run_batch(self, node: int, batch: int, forced: int) -> tuple[int, int]:
        code, descents, count = T.select_batch(self.tree, node, batch, forced, *self._game_args())
        if count:
            if self._by_leaves:
                logits, values = self.evaluator.evaluate_leaves(
                    self.leaves(self.tree.pending[:count])
                )
            else:
                logits, values = self.evaluator.evaluate(
                    [self.state(int(c)) for c in self.tree.pending[:count]]
                )
            logits = np.ascontiguousarray(logits, np.float32)
            values = np.ascontiguousarray(values, np.float64)
        else:
            logits = np.zeros((0, self.game.num_actions), np.float32)
            values = np.zeros(0)
        T.expand_and_backup(self.tree, descents, count, logits, values, self._expected)
        return code, descents

    def leaves(self, nodes: np.ndarray) -> Leaves:
        """The :class:`Leaves` of ``nodes`` (int[B]); their programs are those :meth:`program`
        gives, in buffers reused by the next call."""
        nodes = np.ascontiguousarray(nodes, np.int32)
        count = len(nodes)
        table = self._root_programs()
        width = max(self.game.max_length, table[2].shape[1]) + 1
        if count > self._leaf_program.shape[0] or width > self._leaf_program.shape[1]:
            self._leaf_program = np.zeros((count, width), np.int32)
            self._leaf_length = np.zeros(count, np.int32)
        T.leaf_programs(self.tree, nodes, count, self.game.moves, *table, self._leaf_program,
                        self._leaf_length)  # fmt: skip
        t = self.tree
        return Leaves(nodes, t.state, t.flags, t.book, t.score, self._leaf_program[:count],
                      self._leaf_length[:count])  # fmt: skip

    def _root_programs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parentless nodes int32[K], the lengths int32[K] and the instruction ids
        int32[K, >= 1] of their programs (made again only after the roots change)."""
        if self._root_table is None:
            roots = self._roots
            width = max((len(p) for p in roots.values()), default=0)
            programs = np.zeros((max(1, len(roots)), max(1, width)), np.int32)
            for row, program in enumerate(roots.values()):
                programs[row, : len(program)] = program
            lengths = np.fromiter(map(len, roots.values()), np.int32, len(roots))
            self._root_table = (np.fromiter(roots, np.int32, len(roots)), lengths, programs)
        return self._root_table

    def _restart_at(self, node: int) -> int:
        gs = self.state(node)
        self.reset()
        fresh = self.root(gs)
        self.ensure_expanded(fresh)
        return fresh

    # ------------------------------------------------------------------ decisions

    def add_exploration_noise(self, node: int) -> None:
        """Mix Dirichlet noise into the prior of ``node`` (expanded first if needed)."""
        self.ensure_expanded(node)
        legal = self.actions(node)
        if len(legal) == 0:
            return
        cfg = self.config
        noise = self.rng.dirichlet([cfg.dirichlet_alpha] * len(legal))
        frac = cfg.root_exploration_fraction
        prior = self.tree.prior[node]
        prior[legal] = ((1 - frac) * prior[legal] + frac * noise).astype(np.float32)

    def visit_policy(self, node: int) -> np.ndarray:
        """float32[A]: visit counts at ``node`` normalised (zeros off the legal set)."""
        visits = self.tree.visits[node].astype(np.float32)
        total = visits.sum()
        return visits / total if total > 0 else visits

    def select_action(self, node: int, temperature: float = 0.0) -> int:
        """The most visited action (temperature 0) or one sampled ∝ N^(1/T), among edges still
        open (all legal edges if none is)."""
        t = self.tree
        open_ = t.edge[node] == T.OPEN
        legal = t.edge[node] != T.ILLEGAL
        allowed = open_ if open_.any() else legal
        candidates = np.flatnonzero(allowed)
        if len(candidates) == 0:
            raise ValueError("select_action needs a node with at least one legal action")
        counts = t.visits[node, candidates].astype(np.float64)
        if temperature <= 0:
            best = candidates[counts == counts.max()]
            return int(best[0] if len(best) == 1 else self.rng.choice(best))
        weights = counts ** (1.0 / temperature)
        if weights.sum() == 0:
            weights = np.ones_like(weights)
        return int(self.rng.choice(candidates, p=weights / weights.sum()))

    def _completed_q(self, node: int) -> np.ndarray:
        t = self.tree
        q = G.normalised_q(t.reward[node], t.value_sum[node], t.visits[node],
                           self.config.discount, t.minmax)  # fmt: skip
        return G.completed_q(q, t.visits[node], float(t.value[node]), t.minmax)

    def _sigma(self, node: int) -> np.ndarray:
        cfg = self.config
        return G.sigma(self._completed_q(node), self.tree.visits[node], cfg.gumbel_c_visit,
                       cfg.gumbel_c_scale)  # fmt: skip

    def _logits(self, node: int) -> np.ndarray:
        return G.prior_logits(self.tree.prior[node])

    def improved_policy(self, node: int) -> np.ndarray:
        """float32[A]: softmax(logits + sigma(completed Q)) over the legal actions."""
        legal = self.tree.edge[node] != T.ILLEGAL
        return G.improved_policy(self._logits(node), self._sigma(node), legal)

    def gumbel_search(self, node: int, simulations: int) -> tuple[int, np.ndarray, int]:
        """Gumbel root selection with sequential halving from ``node``. Returns ``(action,
        improved policy float32[A], node)`` (the node changes only if the tree filled up)."""
        self.ensure_expanded(node)
        legal = self.actions(node)
        if len(legal) == 0:
            raise ValueError("gumbel_search needs a node with at least one legal action")
        cfg = self.config
        logits = self._logits(node)
        gumbel = np.zeros(self.game.num_actions)
        gumbel[legal] = self.rng.gumbel(size=len(legal))
        m = min(cfg.gumbel_max_actions, len(legal), max(simulations, 1))
        remaining = [int(a) for a in legal[np.argsort(-(gumbel[legal] + logits[legal]))[:m]]]
        phases = max(1, math.ceil(math.log2(m))) if m > 1 else 1
        budget = simulations
        for phase in range(phases):
            if budget <= 0:
                break
            per = max(1, budget // (len(remaining) * (phases - phase)))
            for action in remaining:
                node = self.run(node, per, forced_action=action)
                budget -= per
            if len(remaining) > 1:
                sigma = self._sigma(node)
                scores = [gumbel[a] + logits[a] + sigma[a] for a in remaining]
                order = np.argsort(scores)[::-1]
                remaining = [remaining[i] for i in order[: max(1, len(remaining) // 2)]]
        return remaining[0], self.improved_policy(node), node
