"""A compare-exchange-level engine: a beam over comparators, each lowered in as few
instructions as the state allows.

The space is :class:`~alphadev.exact.space.Space` (``n`` loads into ``r0..r{n-1}``, a register
core, ``n`` stores). A node of the search is an instruction-level state (register columns
over the rows, flags) together with its core and its *wire columns*: the ``n`` logical values
of a comparator network applied so far. A move applies one comparator ``(i, j)`` (``min`` on
wire ``i``, ``max`` on ``j``) by appending its shortest lowerings from this state
(:func:`~alphadev.exact.comparators_kernels.lowerings`: 4 instructions in general, 3 when some
register already holds a suitable copy, e.g. the scratch left by the previous compare-exchange,
and the order the values are known to have makes it correct). Stale copies left in registers
are kept: they are what later short lowerings feed on.

**The beam** (:func:`comparator_search`): level = comparators applied. A child is kept only
on a shortest-network path: the fewest comparators that still sort the wires, computed
exactly on the 0-1 vectors the wires hold (0-1 principle, memoised depth-first search), must
fit in ``OPTIMAL_COMPARATORS[n] + extra_comparators - level`` (a test that runs past
:data:`FITS_WORK` expanded sets, for n >= 7 only, lets the child through: there the exact
test can take minutes; a child let through wrongly only dies at the last level). A level is
ranked by instruction count (ties in a seeded random order), deduplicated on the register
state up to renaming plus the wire columns, and cut to ``width`` nodes. With a
:class:`Guide` (a learned cost-to-go, :mod:`alphadev.cost_to_go`) a level is ranked by
instruction count plus the guide's estimate of the instructions still needed: every child is
built once to be keyed and encoded, the guide estimates the distinct ones in one batch, and
the ``width`` best are built again. :class:`ComparatorGame` offers the same moves (comparators
on a shortest-network path, each in its shortest lowerings) as a game to learn from.
:func:`lower_network` runs the same beam restricted to one comparator sequence (the best
lowering of that network the beam finds); :func:`insertion_network` is the composition
``sort(n-1)`` then an insertion.

**Rows.** For ``n <= 6`` the search runs on every tie-pattern row, so what it finds is
correct; for larger ``n`` it runs on the permutations plus the 0-1 rows and adds the tie rows
that a candidate gets wrong (counterexample-guided rounds). Every core returned has passed
:func:`alphadev.tasks.verify` (every tie row and random int32 rows).

**Threads.** Both the outer loop and the compiled inner step poll a
:class:`~alphadev.exact.control.SearchControl`; ``nodes`` counts the instruction-level states
the inner step generated.
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from alphadev.cost import partial_cost
from alphadev.exact import comparators_kernels as kernels
from alphadev.exact.cegis import Round, refine
from alphadev.exact.control import SearchControl
from alphadev.exact.networks import sorting_network
from alphadev.exact.space import Core, core_actions, failing_rows
from alphadev.isa import Instruction, Isa, Op, Program
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask, tie_pattern_rows

__all__ = [
    "BeamState",
    "ComparatorGame",
    "ComparatorResult",
    "Guide",
    "comparator_search",
    "insertion_network",
    "lower_network",
    "lower_network_any_order",
    "min_comparators",
    "next_comparators",
]

#: Default beam width per level.
DEFAULT_WIDTH = 200
#: Longest lowering of one comparator that the inner step looks for.
MAX_LOWERING = 4
#: Sets of 0-1 vectors the shortest-network test may expand per child for n >= 7 before it
#: lets the child through (for n <= 6 it is always run to the end, so it is exact).
FITS_WORK = 5_000
#: Most distinct lowerings (end states) kept per (node, comparator).
MAX_LOWERINGS = 24


@dataclass(frozen=True)
class ComparatorResult:
    """What a comparator-level search found.

    Attributes:
        core: the shortest core found, over register indices, verified on every tie row and
            on random int32 rows; None if none was found.
        network: the comparator sequence ``core`` lowers.
        nodes: instruction-level states the inner step generated (all rounds).
        seconds: wall-clock time.
        stopped: a stop request ended the search early.
        rounds: searches run (more than one when rows were added after a failed check).
        rows: the rows the last round searched on.
        levels: the number of nodes kept at each level of the last round.
    """

    core: Core | None
    network: list[tuple[int, int]] | None
    nodes: int
    seconds: float
    stopped: bool
    rounds: int = 1
    rows: int = 0
    levels: tuple[int, ...] = field(default=())
    #: With ``variants=K``: up to K distinct verified cores the last round finished, shortest
    #: first (the raw material of a speed objective: equally short kernels differ in speed).
    variants: tuple[Core, ...] = field(default=())
    #: States a ``guide`` estimated (0 without one): its cost beside ``nodes``.
    guided: int = 0

    @property
    def length(self) -> int | None:
        """Core length, or None."""
        return None if self.core is None else len(self.core)


def insertion_network(n: int) -> list[tuple[int, int]]:
    """``sorting_network(n - 1)`` followed by the insertion of the last wire:
    ``(n-2, n-1), (n-3, n-2), ..., (0, 1)``."""
    if n < 2:
        return []
    return list(sorting_network(n - 1)) + [(k, k + 1) for k in range(n - 2, -1, -1)]


# --------------------------------------------------------------------------------------------
# The 0-1 principle: the fewest comparators that still sort a set of 0-1 vectors
# --------------------------------------------------------------------------------------------


class _OutOfWork(Exception):
    pass


class _ZeroOne:
    """Sets of 0-1 vectors over ``n`` wires as Python ints (bit ``v`` set: vector ``v`` is in
    the set; bit ``k`` of ``v`` is wire ``k``), and the exact fewest comparators that sort
    a set, memoised."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.size = 1 << n
        self.full = (1 << self.size) - 1
        sorted_mask = 0
        for ones in range(n + 1):
            sorted_mask |= 1 << (((1 << n) - 1) ^ ((1 << (n - ones)) - 1))
        self.sorted_mask = sorted_mask
        self.pairs = list(itertools.combinations(range(n), 2))
        # Comparator (i, j), i < j, moves a vector v with bit i set and bit j clear to
        # v - 2^i + 2^j: in the set's bits, every member of ``movers`` shifts up by the same
        # 2^j - 2^i, so a whole set is mapped by three big-int operations (:meth:`apply`).
        self.moves = {}
        for i, j in self.pairs:
            movers = 0
            for v in range(self.size):
                if (v >> i) & 1 and not (v >> j) & 1:
                    movers |= 1 << v
            self.moves[(i, j)] = (movers, self.full ^ movers, (1 << j) - (1 << i))
        # Wire k is settled for vector v when bit k already equals the sorted vector's.
        self.unsettled_masks = []
        for k in range(n):
            mask = 0
            for v in range(self.size):
                ones = bin(v).count("1")
                if ((v >> k) & 1) != (1 if k >= n - ones else 0):
                    mask |= 1 << v
            self.unsettled_masks.append(mask)
        self.work = -1
        self.control: SearchControl | None = None
        self.lower: dict[int, int] = {}  # set -> fewest comparators is at least this
        self.upper: dict[int, int] = {}  # set -> fewest comparators is at most this

    def apply(self, vectors: int, pair: tuple[int, int]) -> int:
        """The set of vectors after comparator ``pair`` (i < j: the smaller value to wire
        i) on every vector of ``vectors``."""
        movers, stayers, shift = self.moves[pair]
        return (vectors & stayers) | ((vectors & movers) << shift)

    def is_sorted(self, vectors: int) -> bool:
        return vectors & ~self.sorted_mask == 0

    def _bound(self, vectors: int) -> int:
        unsettled = sum(1 for mask in self.unsettled_masks if vectors & mask)
        return (unsettled + 1) // 2

    def fits(self, vectors: int, budget: int) -> bool:
        """Whether at most ``budget`` more comparators can sort ``vectors`` (exact)."""
        self.work = -1
        self.control = None
        return self._fits(vectors, budget)

    def allows(self, vectors: int, budget: int, work: int, control: SearchControl) -> bool:
        """:meth:`fits`, but True (not known to be impossible) once ``work`` sets were
        expanded (``work`` < 0: no cap) or ``control`` asks to stop (looked at before each
        expansion, also when the test runs to the end); what was settled stays memoised."""
        self.work = work
        self.control = control
        try:
            return self._fits(vectors, budget)
        except _OutOfWork:
            return True

    def _fits(self, vectors: int, budget: int) -> bool:
        if self.is_sorted(vectors):
            return True
        if budget <= 0:
            return False
        lower = max(self.lower.get(vectors, 1), self._bound(vectors))
        if lower > budget:
            return False
        upper = self.upper.get(vectors)
        if upper is not None and upper <= budget:
            return True
        if self.control is not None and self.control.stopped:  # an expansion costs far more
            raise _OutOfWork
        if self.work >= 0:
            self.work -= 1
            if self.work < 0:
                raise _OutOfWork
        children = []
        for pair in self.pairs:
            child = self.apply(vectors, pair)
            if child != vectors:
                children.append((child.bit_count(), child))
        children.sort()
        for _, child in children:
            if self._fits(child, budget - 1):
                self.upper[vectors] = min(self.upper.get(vectors, budget), budget)
                return True
        self.lower[vectors] = budget + 1
        return False

    def fewest(self, vectors: int, limit: int = 64) -> int:
        """The fewest comparators that sort ``vectors`` (at most ``limit`` is searched)."""
        for budget in range(limit + 1):
            if self.fits(vectors, budget):
                return budget
        raise ValueError("no network within the limit")


@functools.lru_cache(maxsize=8)
def _zero_one(n: int) -> _ZeroOne:
    return _ZeroOne(n)


def min_comparators(n: int, network: list[tuple[int, int]] | None = None) -> int:
    """The fewest comparators that sort ``n`` wires after ``network`` (0-1 principle)."""
    zo = _zero_one(n)
    vectors = zo.full
    for pair in network or []:
        vectors = zo.apply(vectors, (int(pair[0]), int(pair[1])))
    return zo.fewest(vectors)


# --------------------------------------------------------------------------------------------
# The beam
# --------------------------------------------------------------------------------------------


@dataclass
class BeamState:
    """One node of the comparator beam: an instruction-level state and the comparator
    network it has applied.

    ``regs`` int8[R, rows] (register columns over the searched rows), ``written`` int8[R],
    ``flags`` int8[rows] (the last ``cmp``'s -1/0/+1), ``status`` int64[2] (flags valid, last
    move was a ``cmp``), ``wires`` int8[n, rows] (the network's ``n`` logical values), ``core``
    the instructions ``(op, dst, src)`` after the loads, ``network`` the comparators applied,
    ``vectors`` the 0-1 vectors the wires hold (a set as an int, see :class:`_ZeroOne`)."""

    regs: np.ndarray  # int8[R, rows]
    written: np.ndarray  # int8[R]
    flags: np.ndarray  # int8[rows]
    status: np.ndarray  # int64[2]: flags valid, last move was a cmp
    wires: np.ndarray  # int8[n, rows]
    core: tuple[tuple[int, int, int], ...]
    network: tuple[tuple[int, int], ...]
    vectors: int  # the 0-1 vectors the wires hold


@functools.lru_cache(maxsize=64)
def _local_actions(count: int, isa: Isa) -> np.ndarray:
    return np.ascontiguousarray(core_actions(count, isa), dtype=np.int64)


def _root(task: SortTask, rows: np.ndarray) -> BeamState:
    n, registers = task.n, task.registers
    regs = np.zeros((registers, rows.shape[0]), dtype=np.int8)
    regs[:n] = rows.T
    written = np.zeros(registers, dtype=np.int8)
    written[:n] = 1
    return BeamState(
        regs,
        written,
        np.zeros(rows.shape[0], dtype=np.int8),
        np.zeros(2, dtype=np.int64),
        np.ascontiguousarray(rows.T.astype(np.int8)),
        (),
        (),
        _zero_one(n).full,
    )


def _local_registers(node: BeamState, pair: tuple[int, int]) -> np.ndarray:
    """Registers the lowering of ``pair`` may touch: all but the first holder of each other
    wire."""
    held = kernels.holders(node.regs, node.written, node.wires)
    reserved = set()
    for w in range(node.wires.shape[0]):
        if w in pair:
            continue
        for r, h in enumerate(held):
            if h == w:
                reserved.add(r)
                break
    return np.array([r for r in range(len(held)) if r not in reserved], dtype=np.int64)


def _unfinished(task: SortTask, core) -> Program:
    """The loads and ``core`` (no stores yet) as a program."""
    layout = task.layout
    code = [Instruction(Op.MOV, layout.register(i), layout.memory(i)) for i in range(task.n)]
    code += [Instruction(Op(op), layout.register(d), layout.register(s)) for op, d, s in core]
    return Program(layout, tuple(code))


class Guide(Protocol):
    """A cost-to-go the beam ranks by (``--guide learned``): ``g + h`` instead of ``g``.

    The beam calls :meth:`encode` once per child it generates (the child's arrays are then
    dropped: only the width it keeps is built again) and :meth:`estimate` once per level on
    the encodings of the distinct unfinished children."""

    def encode(self, state: BeamState, remaining: int) -> object:
        """A compact encoding of ``state``; ``remaining``: comparators still in the budget."""

    def estimate(self, encoded: list) -> np.ndarray:
        """float64[B]: the instructions still needed after each encoded state."""


@dataclass
class _Beam:
    task: SortTask
    rows: np.ndarray
    width: int
    control: SearchControl
    rng: np.random.Generator
    max_lowerings: int = MAX_LOWERINGS
    max_len: int = MAX_LOWERING
    slack: int = 0
    nodes: int = 0
    memo: dict = field(default_factory=dict)
    #: Ranks a level by ``g + h`` with this cost-to-go (None: by ``g`` alone, the hand rule).
    guide: Guide | None = None
    #: The comparator budget (``OPTIMAL_COMPARATORS[n] + extra``), for the guide's input.
    budget: int = 0
    #: States the guide estimated.
    guided: int = 0
    #: ``length``: rank a level by instruction count; ``throughput`` / ``latency``: by the
    #: cost model's score of the unfinished kernel (:func:`alphadev.cost.partial_cost`; a
    #: mov/min/max ISA in the sse lowering), then by instruction count.
    objective: str = "length"

    def rank(self, node: BeamState, seq) -> tuple[float, int]:
        length = len(node.core) + len(seq)
        if self.objective == "length":
            return (length, 0)
        program = _unfinished(self.task, node.core + tuple(seq))
        lowering = "sse" if self.task.isa.ops <= {Op.MOV, Op.MIN, Op.MAX} else "gpr"
        return (partial_cost(program, self.objective, lowering), length)

    def lowerings(self, node: BeamState, pair: tuple[int, int]) -> list[list[tuple[int, int, int]]]:
        """The shortest lowerings of ``pair`` from ``node`` as lists of ``(op, dst, src)``."""
        i, j = pair
        local = _local_registers(node, pair)
        low = np.minimum(node.wires[i], node.wires[j])
        goal = np.stack([low, np.maximum(node.wires[i], node.wires[j])])
        cregs, cwritten, cflags, cgoal = kernels.compress_rows(
            node.regs, node.written, node.flags, int(node.status[0]), local, goal
        )
        key = (
            cregs.tobytes(),
            cregs.shape,
            cwritten.tobytes(),
            cflags.tobytes() if node.status[0] else b"",
            int(node.status[1]),
            cgoal.tobytes(),
        )
        found = self.memo.get(key)
        if found is None:
            actions = _local_actions(len(local), self.task.isa)
            length, count, seqs, generated, stopped = kernels.lowerings(
                cregs,
                cwritten,
                cflags,
                int(node.status[0]),
                int(node.status[1]),
                cgoal,
                actions,
                self.max_len,
                self.slack,
                self.max_lowerings,
                self.control.array,
            )
            self.nodes += int(generated)
            if stopped:
                return []
            found = []
            if length >= 0:
                for s in range(count):
                    moves = [int(a) for a in seqs[s] if a >= 0] if length > 0 else []
                    found.append([tuple(int(v) for v in actions[a]) for a in moves])
            self.memo[key] = found
        return [[(op, int(local[d]), int(local[s])) for op, d, s in seq] for seq in found]

    def child(self, node: BeamState, pair, seq, zo: _ZeroOne) -> BeamState:
        regs = node.regs.copy()
        written = node.written.copy()
        flags = node.flags.copy()
        status = node.status.copy()
        if seq:
            kernels.apply_core(regs, written, flags, status, np.array(seq, dtype=np.int64))
        wires = node.wires.copy()
        i, j = pair
        wires[i] = np.minimum(node.wires[i], node.wires[j])
        wires[j] = np.maximum(node.wires[i], node.wires[j])
        return BeamState(
            regs,
            written,
            flags,
            status,
            wires,
            node.core + tuple(seq),
            (*node.network, pair),
            zo.apply(node.vectors, pair),
        )

    def run(self, choose) -> tuple[list[BeamState], bool, list[int]]:
        """Beam levels until no node is left; ``choose(level, node)`` gives the comparators a
        node may apply. Returns the finished nodes (wires sorted), whether it was stopped, and
        the number of nodes kept at each level."""
        task = self.task
        zo = _zero_one(task.n)
        targets = np.ascontiguousarray(np.sort(self.rows, axis=1).T.astype(np.int8))
        level_nodes = [_root(task, self.rows)]
        finished: list[BeamState] = []
        kept = [1]
        level = 0
        while level_nodes:
            candidates = []
            for index, node in enumerate(level_nodes):
                if self.control.stopped:
                    return finished, True, kept
                for pair in choose(level, node):
                    if self.control.stopped:
                        return finished, True, kept
                    for seq in self.lowerings(node, pair):
                        candidates.append((self.rank(node, seq), index, pair, seq))
            if self.control.stopped:
                return finished, True, kept
            if self.guide is not None:
                level_nodes = self._guided_level(level_nodes, candidates, targets, finished, zo)
                if level_nodes is None:
                    return finished, True, kept
                kept.append(len(level_nodes))
                level += 1
                continue
            order = self.rng.permutation(len(candidates))
            order = sorted(order, key=lambda c: candidates[c][0])
            seen = set()
            next_nodes = []
            for c in order:
                if self.control.stopped:
                    return finished, True, kept
                _, index, pair, seq = candidates[c]
                child = self.child(level_nodes[index], pair, seq, zo)
                key = int(
                    kernels.node_key(
                        child.regs,
                        child.written,
                        child.flags,
                        int(child.status[0]),
                        int(child.status[1]),
                        child.wires,
                    )
                )
                if key in seen:
                    continue
                seen.add(key)
                if np.array_equal(child.wires, targets):
                    finished.append(child)
                    continue
                next_nodes.append(child)
                if len(next_nodes) >= self.width:
                    break
            level_nodes = next_nodes
            kept.append(len(next_nodes))
            level += 1
        return finished, False, kept

    def _guided_level(self, level_nodes, candidates, targets, finished, zo):
        """The next level ranked by ``g + h``: every candidate child is built once to key,
        check and encode it (the shortest ``g`` of a key wins; ties by the seeded order), the
        guide estimates the distinct unfinished ones in one batch, and the ``width`` best are
        built again. None when a stop was requested."""
        best: dict[int, tuple[int, int]] = {}  # key -> (g, candidate)
        encoded: dict[int, object] = {}
        done: dict[int, BeamState] = {}  # finished children by key, the shortest
        for c in self.rng.permutation(len(candidates)):
            if self.control.stopped:
                return None
            _, index, pair, seq = candidates[c]
            node = level_nodes[index]
            g = len(node.core) + len(seq)
            child = self.child(node, pair, seq, zo)
            status = child.status
            key = int(kernels.node_key(child.regs, child.written, child.flags, int(status[0]),
                                       int(status[1]), child.wires))  # fmt: skip
            if np.array_equal(child.wires, targets):
                if key not in done or len(done[key].core) > g:
                    done[key] = child
                continue
            if key in best and best[key][0] <= g:
                continue
            if key not in encoded:
                encoded[key] = self.guide.encode(child, self.budget - len(child.network))
            best[key] = (g, int(c))
        finished.extend(done.values())
        keys = list(best)
        if not keys:
            return []
        h = np.asarray(self.guide.estimate([encoded[k] for k in keys]), dtype=np.float64)
        self.guided += len(keys)
        order = sorted(range(len(keys)), key=lambda k: (best[keys[k]][0] + h[k], best[keys[k]][0]))
        out = []
        for k in order[: self.width]:
            _, index, pair, seq = candidates[best[keys[k]][1]]
            out.append(self.child(level_nodes[index], pair, seq, zo))
        return out


def _search_rows(task: SortTask) -> np.ndarray:
    """The rows a search runs on: every tie row for n <= 6; the permutations and the 0-1 rows
    beyond (the counterexample rounds add what is missing)."""
    rows = tie_pattern_rows(task.n)
    if task.n <= 6:
        return np.asarray(rows)
    keep = (rows.max(axis=1) == task.n - 1) | (rows.max(axis=1) <= 1)
    return np.ascontiguousarray(rows[keep])


def _drive(
    task: SortTask,
    choose_for,
    *,
    width: int,
    control: SearchControl | None,
    seed: int,
    rows: np.ndarray | None,
    max_rounds: int,
    slack: int = 0,
    add_per_round: int = 64,
    variants: int = 0,
    objective: str = "length",
    guide: Guide | None = None,
    budget: int = 0,
) -> ComparatorResult:
    if task.registers <= task.n:
        raise ValueError("a compare-exchange needs a scratch register (registers > n)")
    if not 2 <= task.n <= 8:
        raise ValueError(f"the comparator engine is built for 2 <= n <= 8, got n={task.n}")
    control = SearchControl() if control is None else control
    t0 = time.perf_counter()
    beams: list[_Beam] = []
    finished: list[BeamState] = []
    kept: list[int] = []

    def one_round(rows: np.ndarray) -> Round:
        nonlocal finished, kept
        beam = _Beam(task, rows, width, control, np.random.default_rng(seed), slack=slack,
                     objective=objective, guide=guide, budget=budget)  # fmt: skip
        beams.append(beam)
        finished, stopped, kept = beam.run(choose_for(beam))
        finished = sorted(finished, key=lambda f: len(f.core))
        return Round([list(f.core) for f in finished], stopped=stopped)

    start = _search_rows(task) if rows is None else rows
    refined = refine(task, one_round, start, max_rounds=max_rounds, add_per_round=add_per_round)
    best = None
    if refined.best is not None:
        best = next(f for f in finished if list(f.core) == refined.best)
    kept_variants = _verified_variants(task, finished, variants) if variants and finished else ()
    return ComparatorResult(
        None if best is None else list(best.core),
        None if best is None else list(best.network),
        sum(beam.nodes for beam in beams),
        time.perf_counter() - t0,
        refined.stopped,
        refined.rounds,
        int(refined.rows.shape[0]),
        tuple(kept),
        kept_variants,
        sum(beam.guided for beam in beams),
    )


def _verified_variants(task: SortTask, finished: list[BeamState], limit: int) -> tuple[Core, ...]:
    """Up to ``limit`` distinct cores of ``finished`` that verify, shortest first."""
    out: list[Core] = []
    seen: set[tuple] = set()
    for node in sorted(finished, key=lambda f: len(f.core)):
        if len(out) >= limit:
            break
        if node.core in seen:
            continue
        seen.add(node.core)
        if failing_rows(task, list(node.core)) is None:
            out.append(list(node.core))
    return tuple(out)


def comparator_search(
    task: SortTask,
    *,
    width: int = DEFAULT_WIDTH,
    extra_comparators: int = 0,
    control: SearchControl | None = None,
    seed: int = 0,
    rows: np.ndarray | None = None,
    max_rounds: int = 8,
    lowering_slack: int = 0,
    variants: int = 0,
    objective: str = "length",
    guide: Guide | None = None,
) -> ComparatorResult:
    """Beam over comparator networks of at most ``OPTIMAL_COMPARATORS[n] +
    extra_comparators`` comparators, each comparator lowered in as few instructions as the
    state allows. Returns the shortest verified core found (not a proof of anything).

    ``width``: nodes kept per level. ``seed``: the order among equally short nodes.
    ``rows``: the rows to search on (default: every tie row for n <= 6, else the
    permutations and 0-1 rows, with failing tie rows added between rounds, at most
    ``max_rounds`` rounds). ``variants``: also return up to that many distinct verified cores
    of the last round (:attr:`ComparatorResult.variants`). ``objective``: ``length`` ranks each
    level by instruction count; ``throughput`` or ``latency`` by the cost model's score of the
    unfinished kernels (:func:`alphadev.cost.partial_cost`), so the beam keeps the kernels
    predicted fastest (a level costs more: each candidate is scored). ``guide``: rank each
    level by instruction count plus the guide's estimate of the instructions still needed
    (:class:`Guide`; the same children, deduplication and width; ``objective`` must be
    ``length``)."""
    if guide is not None and objective != "length":
        raise ValueError("a guide ranks by length plus its estimate: objective must be length")
    budget = OPTIMAL_COMPARATORS[task.n] + extra_comparators

    def choose_for(beam: _Beam):
        def choose(level: int, node: BeamState):
            return next_comparators(task.n, node, budget - level - 1, beam.control)

        return choose

    return _drive(
        task,
        choose_for,
        width=width,
        control=control,
        seed=seed,
        rows=rows,
        max_rounds=max_rounds,
        slack=lowering_slack,
        variants=variants,
        objective=objective,
        guide=guide,
        budget=budget,
    )


def next_comparators(n: int, node: BeamState, left: int, control: SearchControl,
                     work: int = FITS_WORK) -> list:  # fmt: skip
    """The comparators ``(i, j)`` that change ``node``'s wires (not ordered on every row) and
    after which at most ``left`` more comparators still sort them (0-1 principle; exact for
    n <= 6, let through past ``work`` expanded sets beyond)."""
    zo = _zero_one(n)
    work = -1 if n <= 6 else work
    out = []
    for pair in zo.pairs:
        child = zo.apply(node.vectors, pair)
        if child == node.vectors:
            continue
        i, j = pair
        if np.all(node.wires[i] <= node.wires[j]):
            continue
        if zo.allows(child, left, work, control):
            out.append(pair)
    return out


class ComparatorGame:
    """The comparator search's moves as a game, for learners (a cost-to-go trained on the
    states it reaches): the root, the children of a state (every comparator on a
    shortest-network path, each in every shortest lowering, with its instruction count),
    and the end (the wires sorted: the stores finish the kernel). The rows are the search's
    (every tie row for n <= 6)."""

    #: Lowering results memoised before the memo is cleared (bounds a long run's memory).
    MEMO_LIMIT = 200_000

    def __init__(self, task: SortTask, *, control: SearchControl | None = None) -> None:
        if task.registers <= task.n:
            raise ValueError("a compare-exchange needs a scratch register (registers > n)")
        self.task = task
        self.budget = OPTIMAL_COMPARATORS[task.n]
        rows = _search_rows(task)
        control = SearchControl() if control is None else control
        self._beam = _Beam(task, rows, 0, control, np.random.default_rng(0))
        self._targets = np.ascontiguousarray(np.sort(rows, axis=1).T.astype(np.int8))

    def root(self) -> BeamState:
        """The loads done, no comparator applied."""
        return _root(self.task, self._beam.rows)

    def remaining(self, state: BeamState) -> int:
        """Comparators still in the budget after ``state``."""
        return self.budget - len(state.network)

    def finished(self, state: BeamState) -> bool:
        """Whether ``state``'s wires are sorted on every row."""
        return bool(np.array_equal(state.wires, self._targets))

    def children(self, state: BeamState) -> list[tuple[int, BeamState]]:
        """``(instructions, child)`` for every shortest lowering of every comparator on a
        shortest-network path from ``state``."""
        beam = self._beam
        if len(beam.memo) > self.MEMO_LIMIT:
            beam.memo.clear()
        zo = _zero_one(self.task.n)
        out = []
        for pair in next_comparators(self.task.n, state, self.remaining(state) - 1,
                                         beam.control):  # fmt: skip
            for seq in beam.lowerings(state, pair):
                out.append((len(seq), beam.child(state, pair, seq, zo)))
        return out

    def key(self, state: BeamState) -> int:
        """The beam's dedup key of ``state``: its registers up to renaming, and its wires."""
        status = state.status
        return int(kernels.node_key(state.regs, state.written, state.flags, int(status[0]),
                                    int(status[1]), state.wires))  # fmt: skip

    @property
    def nodes(self) -> int:
        """Instruction-level states the lowering step generated so far."""
        return self._beam.nodes


def _checked_network(task: SortTask, network: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``network`` as ``(i, j)`` int pairs; ``ValueError`` unless ``0 <= i < j < n`` for each."""
    pairs = [(int(i), int(j)) for i, j in network]
    for i, j in pairs:
        if not 0 <= i < j < task.n:
            raise ValueError(f"comparator ({i}, {j}) is not i < j on {task.n} wires")
    return pairs


def lower_network_any_order(
    task: SortTask,
    network: list[tuple[int, int]],
    *,
    width: int = DEFAULT_WIDTH,
    control: SearchControl | None = None,
    seed: int = 0,
    rows: np.ndarray | None = None,
    max_rounds: int = 8,
    variants: int = 0,
    objective: str = "length",
) -> ComparatorResult:
    """The shortest lowering of ``network`` the beam finds with its comparators in any order
    that keeps, on every wire, the order of the comparators touching it (so every order sorts
    exactly as ``network`` does). Which comparators come first decides which stale copies a
    lowering can reuse; the beam picks, at each level, among the comparators whose earlier
    wire-sharers are all applied. No 0-1 test is needed (the network is known to sort), so
    this reaches n = 8, where :func:`comparator_search` spends its time proving prefixes."""
    network = _checked_network(task, network)
    before = [
        frozenset(m for m in range(k) if set(network[m]) & set(network[k]))
        for k in range(len(network))
    ]

    indices = range(len(network))
    applied_sets: dict[tuple[tuple[int, int], ...], frozenset[int]] = {(): frozenset()}

    def free(k: int, done: frozenset[int]) -> bool:  # not applied, earlier wire-sharers are
        return k not in done and before[k] <= done

    def done_of(applied: tuple[tuple[int, int], ...]) -> frozenset[int]:
        """The network indices ``applied`` used: its parent's set plus one, each applied pair
        being the first free comparator equal to it (one step per node, never a replay)."""
        done = applied_sets.get(applied)
        if done is None:
            before_last = done_of(applied[:-1])
            last = next(k for k in indices if free(k, before_last) and network[k] == applied[-1])
            done = applied_sets[applied] = before_last | {last}
        return done

    def ready(applied: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
        done = done_of(applied)
        return list(dict.fromkeys(network[k] for k in indices if free(k, done)))

    def choose_for(beam: _Beam):
        def choose(level: int, node: BeamState):
            return ready(node.network)

        return choose

    return _drive(
        task,
        choose_for,
        width=width,
        control=control,
        seed=seed,
        rows=rows,
        max_rounds=max_rounds,
        variants=variants,
        objective=objective,
    )


def lower_network(
    task: SortTask,
    network: list[tuple[int, int]],
    *,
    width: int = DEFAULT_WIDTH,
    control: SearchControl | None = None,
    seed: int = 0,
    rows: np.ndarray | None = None,
    max_rounds: int = 8,
    lowering_slack: int = 0,
) -> ComparatorResult:
    """The shortest lowering of ``network`` (comparators ``(i, j)``, ``i < j``) the beam
    finds; a comparator already ordered on every row costs nothing and is skipped."""
    network = _checked_network(task, network)

    def choose_for(beam: _Beam):
        def choose(level: int, node: BeamState):
            if level >= len(network):
                return []
            return [network[level]]

        return choose

    return _drive(
        task,
        choose_for,
        width=width,
        control=control,
        seed=seed,
        rows=rows,
        max_rounds=max_rounds,
        slack=lowering_slack,
    )
