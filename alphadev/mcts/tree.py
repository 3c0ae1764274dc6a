"""The MCTS tree as preallocated arrays, and the compiled kernels that grow and search it.

The layout follows the array trees of DeepMind's ``mctx``: nodes are rows, and every edge
statistic is a ``[capacity, num_actions]`` array indexed by (node, action), so selection is a
loop over one row and no Python object exists per node. Capacity ``C`` nodes are allocated
once (uninitialised: a page is resident only once a node on it is made); at the cap the
search stops growing and the caller decides (the driver starts a fresh tree at the current
position).

Nodes are game states, one per (state key, length): the tree is a DAG through a transposition
table (open addressing, ``tt_node``/``tt_key``). A state reached again by a longer program is
dominated (the shorter one has the same futures at lower cost): the longer edge dies. A state
reached by a *shorter* program than its node marks that node dominated and gets a new node.

Per node ``c``: ``state[c]`` int32[rows, locations], ``flags[c]`` int8[rows], ``book[c]``
int64[BOOK_SIZE], ``score``, ``length``, ``key``, ``bound`` (the admissible lower bound on
moves still needed, ``DEAD`` = -1), ``status`` bits (:data:`EXPANDED`, :data:`TERMINAL`,
:data:`CORRECT`, :data:`EXHAUSTED`, :data:`DOMINATED`), ``value`` (the evaluator's leaf
value), ``parent``/``parent_action`` (the program that first created it), ``node_visits``.
Per edge ``[c, a]``: ``edge`` (0 illegal, 1 open, 2 dead), ``prior`` float32, ``visits``
int32, ``value_sum`` float64 (returns backed up through the edge), ``reward`` float32,
``child`` int32 (-1 until created).

A simulation descends by PUCT (``pb_c_init``, ``pb_c_base``; Q normalised by the min and max
return seen), creates at most one node, evaluates it, and backs the return up the path.
Batched descents use virtual loss. Leaves are valued ``evaluator value + phi_weight * phi``
(:mod:`alphadev.mcts.potential`): with ``phi_weight = 1`` and no network the search is the
heuristic MCTS; with a network the value head learns the residual.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from alphadev.bounds import DEAD, lower_bound
from alphadev.game import BOOK_SIZE, legal_mask, play_move, row_set_key
from alphadev.jit import njit
from alphadev.mcts.potential import phi

__all__ = [
    "CORRECT",
    "C_BOUND",
    "C_EVALUATIONS",
    "C_FOUND",
    "C_FULL",
    "C_NODES",
    "C_SIMULATIONS",
    "DOMINATED",
    "EXHAUSTED",
    "EXPANDED",
    "F_PARAMS",
    "I_COUNTERS",
    "TERMINAL",
    "Tree",
    "allocate",
    "bytes_per_node",
]

EXPANDED, TERMINAL, CORRECT, EXHAUSTED, DOMINATED = 1, 2, 4, 8, 16
ILLEGAL, OPEN, DEAD_EDGE = 0, 1, 2

#: Layout of ``Tree.params`` (float64): search hyperparameters and reward weights.
F_PARAMS = (
    "pb_c_init", "pb_c_base", "virtual_loss", "discount", "correctness_weight",
    "correct_bonus", "latency_weight", "max_score", "phi_weight", "prune",
)  # fmt: skip
_PB_C_INIT, _PB_C_BASE, _VL, _DISCOUNT, _CW, _BONUS, _LW, _MAX_SCORE, _PHI_W, _PRUNE = range(10)

#: Layout of ``Tree.counters`` (int64).
I_COUNTERS = ("nodes", "simulations", "bound", "evaluations", "full", "found")
#: Named slots of ``Tree.counters`` (in the order of :data:`I_COUNTERS`).
C_NODES, C_SIMULATIONS, C_BOUND, C_EVALUATIONS, C_FULL, C_FOUND = range(len(I_COUNTERS))
_NODES, _SIMS, _BOUND, _EVALS, _FULL, _FOUND = (
    C_NODES,
    C_SIMULATIONS,
    C_BOUND,
    C_EVALUATIONS,
    C_FULL,
    C_FOUND,
)

#: ``Tree.counters[bound]`` when no correct length is known.
NO_BOUND = 1 << 30

#: Return codes of :func:`run_heuristic` and :func:`select_batch`.
RAN, FULL, FOUND = 0, 1, 2

#: Correct nodes remembered between two drains by the driver.
FOUND_CAPACITY = 64


class Tree(NamedTuple):
    """The arrays of one tree (shapes in the module docstring; ``B`` = batch, ``D`` = depth)."""

    state: np.ndarray  # int32[C, R, L]
    flags: np.ndarray  # int8[C, R]
    book: np.ndarray  # int64[C, BOOK_SIZE]
    score: np.ndarray  # int64[C]
    length: np.ndarray  # int32[C]
    key: np.ndarray  # uint64[C]
    bound: np.ndarray  # int32[C]
    status: np.ndarray  # int8[C]
    value: np.ndarray  # float64[C]
    parent: np.ndarray  # int32[C]
    parent_action: np.ndarray  # int32[C]
    node_visits: np.ndarray  # int64[C]
    edge: np.ndarray  # int8[C, A]
    prior: np.ndarray  # float32[C, A]
    visits: np.ndarray  # int32[C, A]
    value_sum: np.ndarray  # float64[C, A]
    reward: np.ndarray  # float32[C, A]
    child: np.ndarray  # int32[C, A]
    tt_key: np.ndarray  # uint64[T], T a power of two >= 2C
    tt_node: np.ndarray  # int32[T], -1 = empty
    params: np.ndarray  # float64[len(F_PARAMS)]
    counters: np.ndarray  # int64[len(I_COUNTERS)]
    minmax: np.ndarray  # float64[2]: lowest and highest return seen
    found: np.ndarray  # int32[FOUND_CAPACITY]: correct nodes created since the last drain
    path_node: np.ndarray  # int32[B, D]
    path_action: np.ndarray  # int32[B, D]
    path_length: np.ndarray  # int32[B]
    path_leaf: np.ndarray  # int32[B], -1 = the path ended on a dead edge
    pending: np.ndarray  # int32[B]: distinct leaves waiting for the evaluator


def bytes_per_node(rows: int, locations: int, num_actions: int) -> int:
    """Bytes one node takes in a :class:`Tree` (node arrays, edge rows, two table slots)."""
    node = rows * locations * 4 + rows + BOOK_SIZE * 8 + 8 + 4 + 8 + 4 + 1 + 8 + 4 + 4 + 8
    edges = num_actions * (1 + 4 + 4 + 8 + 4 + 4)
    return node + edges + 2 * (8 + 4)


def allocate(
    capacity: int, rows: int, locations: int, num_actions: int, max_depth: int, batch: int,
    params: np.ndarray,
) -> Tree:  # fmt: skip
    """An empty tree for ``capacity`` nodes (call :func:`clear` before reuse)."""
    capacity = max(int(capacity), 2)
    table = 1 << max(2, math.ceil(math.log2(2 * capacity)))
    c, a = capacity, num_actions
    e = np.empty  # node rows are written when a node is made (no page is touched before)
    tree = Tree(
        state=e((c, rows, locations), np.int32), flags=e((c, rows), np.int8),
        book=e((c, BOOK_SIZE), np.int64), score=e(c, np.int64), length=e(c, np.int32),
        key=e(c, np.uint64), bound=e(c, np.int32), status=e(c, np.int8),
        value=e(c, np.float64), parent=e(c, np.int32), parent_action=e(c, np.int32),
        node_visits=e(c, np.int64), edge=e((c, a), np.int8), prior=e((c, a), np.float32),
        visits=e((c, a), np.int32), value_sum=e((c, a), np.float64),
        reward=e((c, a), np.float32), child=e((c, a), np.int32),
        tt_key=np.zeros(table, np.uint64), tt_node=np.full(table, -1, np.int32),
        params=np.asarray(params, np.float64).copy(),
        counters=np.zeros(len(I_COUNTERS), np.int64), minmax=np.array([np.inf, -np.inf]),
        found=np.full(FOUND_CAPACITY, -1, np.int32),
        path_node=np.zeros((batch, max_depth + 1), np.int32),
        path_action=np.zeros((batch, max_depth + 1), np.int32),
        path_length=np.zeros(batch, np.int32), path_leaf=np.zeros(batch, np.int32),
        pending=np.zeros(batch, np.int32),
    )  # fmt: skip
    tree.counters[_BOUND] = NO_BOUND
    return tree


def clear(tree: Tree) -> None:
    """Forget every node (the arrays are kept; a node's rows are reset when it is reused)."""
    tree.tt_node[:] = -1
    tree.counters[_NODES] = 0
    tree.counters[_FOUND] = 0
    tree.counters[_FULL] = 0
    tree.minmax[0], tree.minmax[1] = np.inf, -np.inf


# ---------------------------------------------------------------------- nodes


@njit(cache=True, nogil=True)
def _lookup(tree, key):  # pragma: no cover - compiled
    """(slot, node) of ``key`` in the transposition table; node -1 with the free slot."""
    mask = tree.tt_node.shape[0] - 1
    slot = np.int64(key & np.uint64(mask))
    while True:
        node = tree.tt_node[slot]
        if node < 0 or tree.tt_key[slot] == key:
            return slot, node
        slot = (slot + 1) & mask


@njit(cache=True, nogil=True)
def is_dead(tree, c):  # pragma: no cover - compiled
    """No continuation through ``c`` can give a new best: exhausted, dominated, over without a
    sort, or (with a bound) ``length + lower bound`` reaches the best length known."""
    s = tree.status[c]
    if s & (EXHAUSTED | DOMINATED):
        return True
    if (s & TERMINAL) and not (s & CORRECT):
        return True
    return tree.length[c] + tree.bound[c] >= tree.counters[_BOUND]


@njit(cache=True, nogil=True)
def revive(tree):  # pragma: no cover - compiled
    """Open again every killed edge whose child is alive under the bound now in
    ``counters[bound]`` (a looser one than killed it; set it first), and clear the exhausted
    mark of every node with an edge open again: the tree as that bound would have left it.
    Longest nodes first, so a child's own mark is settled before its parents look at it. An
    edge killed without a child (a shorter path reaches its state) stays dead. The statistics
    are kept."""
    count = tree.counters[_NODES]
    longest = 0
    for c in range(count):
        longest = max(longest, tree.length[c])
    for length in range(longest, -1, -1):
        for c in range(count):
            if tree.length[c] != length:
                continue
            any_open = False
            for a in range(tree.edge.shape[1]):
                if tree.edge[c, a] == DEAD_EDGE:
                    child = tree.child[c, a]
                    if child >= 0 and not is_dead(tree, child):
                        tree.edge[c, a] = OPEN
                        any_open = True
                elif tree.edge[c, a] == OPEN:
                    any_open = True
            if any_open and (tree.status[c] & EXHAUSTED):
                tree.status[c] = tree.status[c] & ~EXHAUSTED


@njit(cache=True, nogil=True)
def _init_node(tree, c, moves, n, expected, max_length):  # pragma: no cover - compiled
    """Fill the non-state fields of a node whose state, flags, book and score are written."""
    bound = lower_bound(tree.state[c], tree.book[c], expected)
    tree.bound[c] = bound
    correct = tree.score[c] == np.int64(tree.params[_MAX_SCORE])
    status = 0
    if correct:
        status |= CORRECT | TERMINAL
    if bound == DEAD:
        status |= TERMINAL
        tree.bound[c] = 0
    tree.edge[c, :] = 0
    if not status & TERMINAL and tree.length[c] < max_length:
        legal_mask(moves, tree.book[c], n, max_length - tree.length[c], tree.edge[c])
    if tree.length[c] >= max_length:
        status |= TERMINAL
    elif not status & TERMINAL:
        any_legal = False
        for a in range(tree.edge.shape[1]):
            if tree.edge[c, a]:
                any_legal = True
                break
        if not any_legal:
            status |= TERMINAL
    tree.status[c] = status
    tree.value[c] = 0.0
    tree.node_visits[c] = 0
    tree.prior[c, :] = 0.0
    tree.visits[c, :] = 0
    tree.value_sum[c, :] = 0.0
    tree.reward[c, :] = 0.0
    tree.child[c, :] = -1
    if correct:
        found = tree.counters[_FOUND]
        if found < tree.found.shape[0]:
            tree.found[found] = c
        tree.counters[_FOUND] = found + 1
        if tree.params[_PRUNE] > 0 and tree.length[c] < tree.counters[_BOUND]:
            tree.counters[_BOUND] = tree.length[c]


@njit(cache=True, nogil=True)
def add_root(  # pragma: no cover - compiled
    tree, state, flags, book, score, length, moves, n, expected, max_length
):
    """The node of a given state (found, or created without a parent); -1 when full."""
    key, _ = row_set_key(state, flags, expected, book)
    slot, found = _lookup(tree, key)
    if found >= 0 and tree.length[found] == length:
        return found
    c = tree.counters[_NODES]
    if c >= tree.state.shape[0]:
        tree.counters[_FULL] = 1
        return -1
    tree.state[c] = state
    tree.flags[c] = flags
    tree.book[c] = book
    shorter_known = found >= 0 and tree.length[found] < length
    if found >= 0 and not shorter_known:
        tree.status[found] |= DOMINATED
    _register(tree, c, -1 if shorter_known else slot, key, score, length, -1, -1)
    _init_node(tree, c, moves, n, expected, max_length)
    if shorter_known:
        tree.status[c] |= DOMINATED
    return c


@njit(cache=True, nogil=True)
def _register(tree, c, slot, key, score, length, parent, action):  # pragma: no cover
    """Count node ``c`` as made, with its identity, and enter it in the table at ``slot``
    (-1: not entered)."""
    tree.counters[_NODES] = c + 1
    if slot >= 0:
        tree.tt_key[slot] = key
        tree.tt_node[slot] = c
    tree.score[c] = score
    tree.length[c] = length
    tree.key[c] = key
    tree.parent[c] = parent
    tree.parent_action[c] = action


@njit(cache=True, nogil=True)
def _make_child(tree, p, a, moves, n, expected, max_length):  # pragma: no cover - compiled
    """The node along edge ``(p, a)``, created on first use with the edge's reward. Returns the
    node, -2 if the edge leads to a state already reached more cheaply, -1 if the tree is full."""
    c = tree.counters[_NODES]
    if c >= tree.state.shape[0]:
        tree.counters[_FULL] = 1
        return -1
    score, steps = play_move(
        tree.state[p], tree.flags[p], tree.book[p], moves, a, n, expected,
        tree.state[c], tree.flags[c], tree.book[c],
    )  # fmt: skip
    length = tree.length[p] + steps
    correct = score == np.int64(tree.params[_MAX_SCORE])
    r = tree.params[_CW] * (score - tree.score[p]) / tree.params[_MAX_SCORE]
    if correct:
        r += tree.params[_BONUS] - tree.params[_LW] * length
    tree.reward[p, a] = r
    key, _ = row_set_key(tree.state[c], tree.flags[c], expected, tree.book[c])
    slot, found = _lookup(tree, key)
    if found >= 0:
        if tree.length[found] == length:
            tree.child[p, a] = found
            return found
        if tree.length[found] < length:
            return -2
        tree.status[found] |= DOMINATED
    _register(tree, c, slot, key, score, length, p, a)
    _init_node(tree, c, moves, n, expected, max_length)
    tree.child[p, a] = c
    return c


# ---------------------------------------------------------------------- selection and backup


@njit(cache=True, nogil=True)
def _normalise(tree, q):  # pragma: no cover - compiled
    lo, hi = tree.minmax[0], tree.minmax[1]
    if hi > lo:
        return min(max((q - lo) / (hi - lo), 0.0), 1.0)
    return 0.0


@njit(cache=True, nogil=True)
def _select(tree, c):  # pragma: no cover - compiled
    """PUCT over the open edges of ``c`` (ties broken uniformly at random); -1 if none."""
    total = tree.node_visits[c]
    pb_c = tree.params[_PB_C_INIT] + math.log(
        (total + tree.params[_PB_C_BASE] + 1.0) / tree.params[_PB_C_BASE]
    )
    scale = pb_c * math.sqrt(total + 1.0)
    discount = tree.params[_DISCOUNT]
    best, best_score, ties = -1, -np.inf, 0
    for a in range(tree.edge.shape[1]):
        if tree.edge[c, a] != OPEN:
            continue
        nv = tree.visits[c, a]
        q = 0.0
        if nv > 0:
            q = _normalise(tree, tree.reward[c, a] + discount * tree.value_sum[c, a] / nv)
        score = q + scale * tree.prior[c, a] / (1.0 + nv)
        if score > best_score:
            best, best_score, ties = a, score, 1
        elif score == best_score:
            ties += 1
            if np.random.randint(0, ties) == 0:
                best = a
    return best


@njit(cache=True, nogil=True)
def _kill_edge(tree, c, a):  # pragma: no cover - compiled
    tree.edge[c, a] = DEAD_EDGE
    for b in range(tree.edge.shape[1]):
        if tree.edge[c, b] == OPEN:
            return
    tree.status[c] |= EXHAUSTED


@njit(cache=True, nogil=True)
def _descend(tree, root, forced, slot, moves, n, expected, max_length):  # pragma: no cover
    """One descent with virtual loss, recorded in path row ``slot``. Returns FULL or RAN; the
    leaf (-1: the path ended on a dead edge) is in ``path_leaf[slot]``."""
    vl = tree.params[_VL]
    c = root
    depth = 0
    while (tree.status[c] & EXPANDED) and not (tree.status[c] & TERMINAL) and not is_dead(tree, c):
        a = forced if (depth == 0 and forced >= 0) else _select(tree, c)
        if a < 0:
            tree.status[c] |= EXHAUSTED
            break
        child = tree.child[c, a]
        if child < 0:
            child = _make_child(tree, c, a, moves, n, expected, max_length)
            if child == -1:
                _undo(tree, slot, depth)
                return FULL
        tree.path_node[slot, depth] = c
        tree.path_action[slot, depth] = a
        depth += 1
        tree.visits[c, a] += 1
        tree.node_visits[c] += 1
        tree.value_sum[c, a] -= vl
        if child == -2 or is_dead(tree, child):
            _kill_edge(tree, c, a)
            if child == -2:
                c = -1
                break
        c = child
    tree.path_length[slot] = depth
    tree.path_leaf[slot] = c
    return RAN


@njit(cache=True, nogil=True)
def _undo(tree, slot, depth):  # pragma: no cover - compiled
    """Take back the virtual loss of a descent that could not finish."""
    vl = tree.params[_VL]
    for i in range(depth):
        c, a = tree.path_node[slot, i], tree.path_action[slot, i]
        tree.visits[c, a] -= 1
        tree.node_visits[c] -= 1
        tree.value_sum[c, a] += vl


@njit(cache=True, nogil=True)
def _backup(tree, slot, value):  # pragma: no cover - compiled
    """Back ``value`` (the leaf's return to come) up path ``slot``, removing virtual loss."""
    vl = tree.params[_VL]
    discount = tree.params[_DISCOUNT]
    ret = value
    for i in range(tree.path_length[slot] - 1, -1, -1):
        c, a = tree.path_node[slot, i], tree.path_action[slot, i]
        ret = tree.reward[c, a] + discount * ret
        tree.value_sum[c, a] += vl + ret
        if ret < tree.minmax[0]:
            tree.minmax[0] = ret
        if ret > tree.minmax[1]:
            tree.minmax[1] = ret
    tree.counters[_SIMS] += 1


@njit(cache=True, nogil=True)
def _needs_evaluation(tree, c):  # pragma: no cover - compiled
    return c >= 0 and not (tree.status[c] & (EXPANDED | TERMINAL)) and not is_dead(tree, c)


@njit(cache=True, nogil=True)
def _leaf_phi(tree, c, expected):  # pragma: no cover - compiled
    w = tree.params[_PHI_W]
    if w == 0.0:
        return 0.0
    p = tree.params
    phi_params = np.array([p[_BONUS], p[_LW], p[_CW], p[_MAX_SCORE]])
    return w * phi(tree.state[c], tree.book[c], tree.score[c], tree.length[c], tree.bound[c],
                   expected, phi_params)  # fmt: skip


@njit(cache=True, nogil=True)
def _expand(tree, c, logits, value, expected):  # pragma: no cover - compiled
    """Priors = softmax of ``logits`` (float32[A]) over the legal edges; leaf value = ``value``
    plus the weighted potential."""
    top = -np.inf
    for a in range(tree.edge.shape[1]):
        if tree.edge[c, a] and logits[a] > top:
            top = logits[a]
    total = 0.0
    for a in range(tree.edge.shape[1]):
        if tree.edge[c, a]:
            e = math.exp(logits[a] - top)
            tree.prior[c, a] = e
            total += e
    if total > 0:
        for a in range(tree.edge.shape[1]):
            tree.prior[c, a] /= total
    tree.value[c] = value + _leaf_phi(tree, c, expected)
    tree.status[c] |= EXPANDED
    tree.counters[_EVALS] += 1


@njit(cache=True, nogil=True)
def _leaf_value(tree, c):  # pragma: no cover - compiled
    if c < 0 or (tree.status[c] & TERMINAL) or is_dead(tree, c):
        return 0.0
    return tree.value[c]


# ---------------------------------------------------------------------- entry points


@njit(cache=True, nogil=True)
def seed_random(seed):  # pragma: no cover - compiled
    """Seed the compiled code's random stream (tie-breaking), per thread."""
    np.random.seed(seed)


@njit(cache=True, nogil=True)
def run_heuristic(  # pragma: no cover - compiled
    tree, root, simulations, forced, moves, n, expected, max_length
):
    """``simulations`` descents from ``root`` with uniform priors and the potential as the leaf
    value, one at a time. Returns ``(code, simulations run)``: RAN, FULL (no room for a node),
    or FOUND (the found list is full: drain it and call again)."""
    logits = np.zeros(tree.edge.shape[1], np.float32)
    for s in range(simulations):
        if tree.counters[_FOUND] >= tree.found.shape[0]:
            return FOUND, s
        if _descend(tree, root, forced, 0, moves, n, expected, max_length) == FULL:
            return FULL, s
        leaf = tree.path_leaf[0]
        if _needs_evaluation(tree, leaf):
            _expand(tree, leaf, logits, 0.0, expected)
        _backup(tree, 0, _leaf_value(tree, leaf))
        if is_dead(tree, root):
            return RAN, s + 1
    return RAN, simulations


@njit(cache=True, nogil=True)
def select_batch(  # pragma: no cover - compiled
    tree, root, batch, forced, moves, n, expected, max_length
):
    """Up to ``batch`` descents with virtual loss. Returns ``(code, descents, distinct leaves
    to evaluate)``: paths in rows ``0..descents-1``, the leaves in ``pending[:count]``."""
    count = 0
    for b in range(batch):
        if _descend(tree, root, forced, b, moves, n, expected, max_length) == FULL:
            return FULL, b, count
        leaf = tree.path_leaf[b]
        if _needs_evaluation(tree, leaf):
            seen = False
            for i in range(count):
                if tree.pending[i] == leaf:
                    seen = True
                    break
            if not seen:
                tree.pending[count] = leaf
                count += 1
        if is_dead(tree, root):
            return RAN, b + 1, count
    return RAN, batch, count


@njit(cache=True, nogil=True)
def expand_and_backup(tree, descents, count, logits, values, expected):  # pragma: no cover
    """Expand ``pending[:count]`` with ``logits`` float32[count, A] and ``values``
    float64[count], then back up the first ``descents`` paths."""
    for i in range(count):
        _expand(tree, tree.pending[i], logits[i], values[i], expected)
    for b in range(descents):
        _backup(tree, b, _leaf_value(tree, tree.path_leaf[b]))


@njit(cache=True, nogil=True)
def evaluate_now(tree, c, logits, value, expected):  # pragma: no cover - compiled
    """Expand one node outside a simulation (e.g. a root)."""
    if not (tree.status[c] & (EXPANDED | TERMINAL)):
        _expand(tree, c, logits, value, expected)


@njit(cache=True, nogil=True)
def child_of(tree, p, a, moves, n, expected, max_length):  # pragma: no cover - compiled
    """The node along edge ``(p, a)`` (made if new): a node, -2 if the state was reached more
    cheaply (the edge dies), -1 if the tree is full."""
    c = tree.child[p, a]
    if c >= 0:
        return c
    c = _make_child(tree, p, a, moves, n, expected, max_length)
    if c == -2 or (c >= 0 and is_dead(tree, c)):
        _kill_edge(tree, p, a)
    return c


@njit(cache=True, nogil=True)
def leaf_programs(  # pragma: no cover - compiled
    tree, nodes, count, moves, root_nodes, root_lengths, root_programs, out, out_length
):
    """The programs of ``nodes[:count]`` for an evaluator: row ``i`` of ``out`` (int32[>= count,
    >= longest]) gets the program of ``nodes[i]`` as :func:`program_of` and the driver's roots
    give it (the instruction ids of its parentless ancestor ``root_nodes[j]``,
    ``root_programs[j, :root_lengths[j]]``, none for an ancestor not listed, then those of the
    moves from there), and ``out_length[i]`` its length in instructions."""
    for i in range(count):
        top, steps = program_of(tree, nodes[i], moves, out[i])
        root = -1
        for j in range(root_nodes.shape[0]):
            if root_nodes[j] == top:
                root = j
                break
        prefix = root_lengths[root] if root >= 0 else 0
        for k in range(steps - 1, -1, -1):  # make room for the root's instructions
            out[i, prefix + k] = out[i, k]
        for k in range(prefix):
            out[i, k] = root_programs[root, k]
        out_length[i] = prefix + steps


@njit(cache=True, nogil=True)
def program_of(tree, c, moves, out):  # pragma: no cover - compiled
    """Write the instruction ids of the moves (``moves`` int32[M, K, 4], the game's table) that
    first reached ``c`` into ``out`` (int32[>= length]) from the node's nearest parentless
    ancestor; returns ``(that ancestor, instructions written)``."""
    node = c
    while tree.parent[node] >= 0:
        node = tree.parent[node]
    top = node
    start = tree.length[top]
    node = c
    while tree.parent[node] >= 0:
        p = tree.parent[node]
        a = tree.parent_action[node]
        at = tree.length[p] - start
        for k in range(tree.length[node] - tree.length[p]):
            out[at + k] = moves[a, k, 3]
        node = p
    return top, tree.length[c] - start
