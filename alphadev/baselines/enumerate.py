"""Exact enumerative search for sorting kernels: iterative depth-first branch and bound.

The space searched (:class:`Space`) is the game's, with loads first and stores last: a program
is ``n`` loads ``mov r{i}, m{i}``, then a *core* over registers only, then ``n`` stores. Within
the core the game's rules hold (a fresh register is the lowest unused one, no two ``cmp`` in a
row, no ``cmov`` before a ``cmp``) and every instruction must change the machine state (an
instruction that changes nothing never shortens a program).

:func:`find` answers "is there a core of at most ``L`` instructions that sorts every
tie-pattern row?" by depth-first search with three exact prunes:

* **dead states**: some row lost a value that some sorted slot needs (no instruction creates
  values, they only copy them);
* **a lower bound**: each sorted column that no register holds needs its own write (``mov``
  only copies an existing column, so a ``cmov``/``min``/``max``); and when every move left must
  be such a write, one of them must be possible right now;
* **a transposition table** keyed by the state up to register renaming (the multiset of register
  columns over all rows, the flags when a ``cmp`` has run, whether the last move was a ``cmp``):
  a state reached again at the same or a greater depth has nothing new below it.

So when ``find`` exhausts the space, no program of that length exists in it (up to 64-bit hash
collisions in the table: a collision could only hide a program, never invent one, and every
program found is checked by the caller). The numba kernel releases the GIL and polls a
``control`` array, so it can run on a worker thread beside the MCTS and be stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from alphadev.isa import Instruction, Isa, Op, Program, get_isa
from alphadev.tasks import SortTask, tie_pattern_rows

__all__ = [
    "Outcome",
    "Space",
    "assemble",
    "compare_exchange",
    "core_of",
    "find",
    "network_core",
    "new_control",
    "shorten_tail",
    "sorting_network",
]

_MOV, _CMP, _CMOVL, _CMOVG, _CMOVLE, _CMOVGE, _MIN, _MAX = (int(op) for op in Op)

# Slots of the ``control: int64[4]`` array shared with a running search.
STOP = 0  # set to 1 from another thread to stop the search
NODES = 1  # states generated so far (read it for progress)
DEPTH_LIMIT = 2  # the core length being searched
POLL_EVERY = 4096

_FOUND_STOPPED = -2
_EXHAUSTED = -1


@dataclass(frozen=True)
class Space:
    """The programs :func:`find` searches: sort ``n`` with ``registers`` registers and ``isa``,
    loads first in order into ``r0..r{n-1}``, stores last, the game's rules in between."""

    n: int
    registers: int
    isa: Isa

    @classmethod
    def of(cls, task: SortTask) -> Space:
        return cls(task.n, task.registers, task.isa)

    def describe(self) -> str:
        ops = ", ".join(op.mnemonic for op in sorted(self.isa.ops))
        return (
            f"sort{self.n} programs with {self.registers} registers and ops {{{ops}}}: "
            f"{self.n} loads first (m_i into r_i), {self.n} stores last, the game's rules "
            f"between, checked on all {tie_pattern_rows(self.n).shape[0]} tie-pattern rows"
        )


@dataclass(frozen=True)
class Outcome:
    """What one :func:`find` call saw.

    Attributes:
        status: ``"found"``, ``"exhausted"`` (no core of at most ``max_core`` exists in the
            space), or ``"stopped"`` (asked to stop first).
        program: the full program (loads, core, stores) when found, else None.
        max_core: the core length searched up to.
        nodes: states generated.
        seconds: wall-clock time of the search.
    """

    status: str
    program: Program | None
    max_core: int
    nodes: int
    seconds: float


def new_control() -> np.ndarray:
    """A fresh ``int64[4]`` control array (stop flag, node counter, depth limit, spare)."""
    return np.zeros(4, dtype=np.int64)


def core_actions(registers: int, isa: Isa) -> np.ndarray:
    """``int64[A, 3]`` of ``(op, dst, src)`` over register indices ``0..registers-1``.

    ``cmp`` is taken with ``a < b`` only: ``cmp b, a`` gives the mirrored flags, and every
    cmov condition has its mirror in the same ISA only when both are present, so the mirrored
    form is kept when the ISA lacks a condition's mirror.
    """
    ops = isa.ops
    mirror = {Op.CMOVL: Op.CMOVG, Op.CMOVG: Op.CMOVL, Op.CMOVLE: Op.CMOVGE, Op.CMOVGE: Op.CMOVLE}
    cmovs = [op for op in (Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE) if op in ops]
    both_orders = any(mirror[op] not in ops for op in cmovs)
    pairs = [(d, s) for d in range(registers) for s in range(registers) if d != s]
    rows: list[tuple[int, int, int]] = [(_MOV, d, s) for d, s in pairs]
    if Op.CMP in ops:
        rows += [(_CMP, a, b) for a, b in pairs if both_orders or a < b]
    for op in (*cmovs, *(op for op in (Op.MIN, Op.MAX) if op in ops)):
        rows += [(int(op), d, s) for d, s in pairs]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


@njit(cache=True, nogil=True, inline="always")
def _column_hash(column):  # pragma: no cover - compiled
    h = np.uint64(0xCBF29CE484222325)
    for v in column:
        h = (h ^ np.uint64(v + 3)) * np.uint64(0x100000001B3)
    return h ^ (h >> np.uint64(29))


@njit(cache=True, nogil=True)
def _state_key(regs, written, flags, flags_valid, last_cmp):  # pragma: no cover - compiled
    """Hash of the state up to register renaming (sorted register-column hashes)."""
    count = regs.shape[0]
    hashes = np.empty(count, dtype=np.uint64)
    for r in range(count):
        hashes[r] = _column_hash(regs[r]) if written[r] else np.uint64(7)
    hashes.sort()
    key = np.uint64(0x84222325CBF29CE4)
    for r in range(count):
        key = (key ^ hashes[r]) * np.uint64(0x100000001B3)
        key ^= key >> np.uint64(31)
    if flags_valid:
        key = (key ^ _column_hash(flags)) * np.uint64(0x100000001B3)
    if last_cmp:
        key ^= np.uint64(0x9E3779B97F4A7C15)
    key ^= key >> np.uint64(33)
    return key if key != 0 else np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _execute(op, dst, src, regs, flags, out):  # pragma: no cover - compiled
    """``out[row]`` = the new value of register ``dst`` after ``op dst, src``."""
    for i in range(regs.shape[1]):
        a = regs[dst, i]
        b = regs[src, i]
        f = flags[i]
        if op == _MOV:
            v = b
        elif op == _CMOVL:
            v = b if f < 0 else a
        elif op == _CMOVG:
            v = b if f > 0 else a
        elif op == _CMOVLE:
            v = b if f <= 0 else a
        elif op == _CMOVGE:
            v = b if f >= 0 else a
        elif op == _MIN:
            v = min(a, b)
        else:
            v = max(a, b)
        out[i] = v


@njit(cache=True, nogil=True)
def _missing(regs, written, targets):  # pragma: no cover - compiled
    """How many target columns no written register holds."""
    missing = 0
    for t in range(targets.shape[0]):
        held = False
        for r in range(regs.shape[0]):
            if written[r]:
                same = True
                for i in range(regs.shape[1]):
                    if regs[r, i] != targets[t, i]:
                        same = False
                        break
                if same:
                    held = True
                    break
        if not held:
            missing += 1
    return missing


@njit(cache=True, nogil=True)
def _dead(regs, written, targets):  # pragma: no cover - compiled
    """Some row lacks, in every written register, a value some target needs there."""
    for t in range(targets.shape[0]):
        for i in range(regs.shape[1]):
            found = False
            for r in range(regs.shape[0]):
                if written[r] and regs[r, i] == targets[t, i]:
                    found = True
                    break
            if not found:
                return True
    return False


@njit(cache=True, nogil=True)
def _creates_target(regs, written, flags, flags_valid, targets, actions, scratch):
    # pragma: no cover - compiled
    """Some single cmov/min/max makes a register hold a target column."""
    for a in range(actions.shape[0]):
        op = actions[a, 0]
        dst = actions[a, 1]
        src = actions[a, 2]
        if op <= _CMP or not (written[dst] and written[src]):  # skip mov (0) and cmp (1)
            continue
        if _CMOVL <= op <= _CMOVGE and not flags_valid:
            continue
        _execute(op, dst, src, regs, flags, scratch)
        for t in range(targets.shape[0]):
            same = True
            for i in range(regs.shape[1]):
                if scratch[i] != targets[t, i]:
                    same = False
                    break
            if same:
                return True
    return False


@njit(cache=True, nogil=True)
def _search(
    regs0,
    written0,
    flags0,
    start,
    targets,
    actions,
    limit,
    max_nodes,
    keys,
    depths,
    control,
    solution,
):  # pragma: no cover - compiled
    """Depth-first branch and bound for at most ``limit`` more core moves.

    ``regs0``: int8[registers, rows], the start (after the loads and any core prefix);
    ``written0``: int8[registers]; ``flags0``: int8[rows]; ``start``: int64[2], whether the
    flags are valid and whether the last move was a ``cmp``; ``max_nodes``: give up (as if
    stopped) after this many states, 0 for no cap;
    ``targets``: int8[n, rows], the sorted columns; ``actions``: int64[A, 3];
    ``keys``: uint64[size] and ``depths``: int64[size], the transposition table (size a power
    of two, zeroed by the caller);
    ``control``: int64[4]; ``solution``: int64[limit] action indices.
    Returns the core length found, -1 when exhausted, -2 when stopped.
    """
    num_regs, rows = regs0.shape
    mask = np.uint64(keys.shape[0] - 1)
    regs = np.empty((limit + 1, num_regs, rows), dtype=np.int8)
    written = np.empty((limit + 1, num_regs), dtype=np.int8)
    flags = np.zeros((limit + 1, rows), dtype=np.int8)
    flags_valid = np.zeros(limit + 1, dtype=np.int8)
    last_cmp = np.zeros(limit + 1, dtype=np.int8)
    next_action = np.zeros(limit + 1, dtype=np.int64)
    column = np.empty(rows, dtype=np.int8)
    scratch = np.empty(rows, dtype=np.int8)
    regs[0] = regs0
    written[0] = written0
    flags[0] = flags0
    flags_valid[0] = start[0]
    last_cmp[0] = start[1]
    if _missing(regs0, written0, targets) == 0:
        return 0
    generated = 0
    num_actions = actions.shape[0]
    depth = 0
    while depth >= 0:
        a = next_action[depth]
        if a >= num_actions or depth >= limit:
            depth -= 1
            if depth >= 0:
                next_action[depth] += 1
            continue
        next_action[depth] = a + 1
        op = actions[a, 0]
        dst = actions[a, 1]
        src = actions[a, 2]
        if not written[depth, src]:
            continue
        child = depth + 1
        if op == _CMP:
            if last_cmp[depth] or not written[depth, dst]:
                continue
            same = flags_valid[depth] == 1
            for i in range(rows):
                x = regs[depth, dst, i]
                y = regs[depth, src, i]
                f = np.int8(-1) if x < y else (np.int8(1) if x > y else np.int8(0))
                flags[child, i] = f
                if f != flags[depth, i]:
                    same = False
            if same:
                continue
            regs[child] = regs[depth]
            written[child] = written[depth]
            flags_valid[child] = 1
            last_cmp[child] = 1
        else:
            if op == _MOV:
                if not written[depth, dst]:
                    lowest = True
                    for r in range(dst):
                        if not written[depth, r]:
                            lowest = False
                    if not lowest:
                        continue
            elif not written[depth, dst] or (_CMOVL <= op <= _CMOVGE and not flags_valid[depth]):
                continue
            _execute(op, dst, src, regs[depth], flags[depth], column)
            if written[depth, dst]:
                same = True
                for i in range(rows):
                    if column[i] != regs[depth, dst, i]:
                        same = False
                        break
                if same:
                    continue
            regs[child] = regs[depth]
            regs[child, dst] = column
            written[child] = written[depth]
            written[child, dst] = 1
            flags[child] = flags[depth]
            flags_valid[child] = flags_valid[depth]
            last_cmp[child] = 0
        control[NODES] += 1
        generated += 1
        if generated % POLL_EVERY == 0 and (
            control[STOP] != 0 or (max_nodes > 0 and generated >= max_nodes)
        ):
            return _FOUND_STOPPED
        missing = _missing(regs[child], written[child], targets)
        if missing == 0:
            for k in range(depth + 1):
                solution[k] = next_action[k] - 1
            return child
        if child + missing > limit or _dead(regs[child], written[child], targets):
            continue
        if child + missing == limit and not _creates_target(
            regs[child], written[child], flags[child], flags_valid[child], targets, actions, scratch
        ):
            continue
        key = _state_key(
            regs[child], written[child], flags[child], flags_valid[child], last_cmp[child]
        )
        slot = key & mask
        seen = False
        for _ in range(64):
            stored = keys[slot]
            if stored == 0:
                keys[slot] = key
                depths[slot] = child
                break
            if stored == key:
                if depths[slot] <= child:
                    seen = True
                else:
                    depths[slot] = child
                break
            slot = (slot + np.uint64(1)) & mask
        if seen:
            continue
        depth = child
        next_action[depth] = 0
    return _EXHAUSTED


def _registers_after(task: SortTask, core: list[tuple[int, int, int]]):
    """Search state after the loads and ``core``: ``(regs int8[registers, rows], written
    int8[registers], flags int8[rows], start int64[2])``."""
    rows = tie_pattern_rows(task.n)
    regs = np.zeros((task.registers, rows.shape[0]), dtype=np.int8)
    regs[: task.n] = rows.T
    written = np.zeros(task.registers, dtype=np.int8)
    written[: task.n] = 1
    flags = np.zeros(rows.shape[0], dtype=np.int8)
    start = np.zeros(2, dtype=np.int64)  # flags valid, last move was a cmp
    for op, dst, src in core:
        if op == _CMP:
            flags = np.sign(regs[dst].astype(np.int16) - regs[src]).astype(np.int8)
            start[:] = 1
            continue
        column = np.empty(rows.shape[0], dtype=np.int8)
        _execute(op, dst, src, regs, flags, column)
        regs[dst] = column
        written[dst] = 1
        start[1] = 0
    return regs, written, flags, start


def _targets(task: SortTask) -> np.ndarray:
    """The sorted columns, ``int8[n, rows]``."""
    return np.ascontiguousarray(np.sort(tie_pattern_rows(task.n), axis=1).T.astype(np.int8))


def assemble(task: SortTask, core: list[tuple[int, int, int]]) -> Program:
    """Loads, then ``core`` (``(op, dst, src)`` over register indices), then the stores, which
    take each sorted column from a register that holds it."""
    layout = task.layout
    code = [Instruction(Op.MOV, layout.register(i), layout.memory(i)) for i in range(task.n)]
    code += [Instruction(Op(op), layout.register(d), layout.register(s)) for op, d, s in core]
    program = Program(layout, tuple(code))
    state, _ = task.run(program)
    for slot in range(task.n):
        holder = next(
            (
                reg
                for reg in range(task.registers)
                if np.array_equal(state[:, layout.register(reg)], task.expected[:, slot])
            ),
            None,
        )
        if holder is None:
            raise ValueError(f"core leaves sorted slot {slot} in no register")
        code.append(Instruction(Op.MOV, layout.memory(slot), layout.register(holder)))
    return Program(layout, tuple(code))


def core_of(task: SortTask, program: Program) -> list[tuple[int, int, int]]:
    """The core of a loads-first, stores-last ``program``, over register indices."""
    n = task.n
    core = program.code[n : len(program.code) - n]
    return [(int(ins.op), ins.dst - n, ins.src - n) for ins in core]


def find(
    task: SortTask,
    max_core: int,
    *,
    prefix: list[tuple[int, int, int]] | None = None,
    control: np.ndarray | None = None,
    max_nodes: int = 0,
    table_bits: int = 22,
    order_seed: int | None = None,
) -> Outcome:
    """Search for a program whose core has at most ``max_core`` instructions.

    With ``prefix`` (core instructions over register indices), only programs whose core starts
    with it are searched: the search runs from the state after it. ``control`` (from
    :func:`new_control`) lets another thread stop the search and read its node count;
    ``max_nodes`` caps the states generated (0: no cap), reported as ``"stopped"``.
    ``table_bits`` sizes the transposition table (``2**bits`` entries, 16 bytes each); a full
    table only weakens pruning, never exactness. ``order_seed`` shuffles the order in which
    moves are tried (the answer's existence does not change; which program is found first
    does).
    """
    if task.n < 2:
        raise ValueError("enumeration needs n >= 2")
    if task.registers < task.n:
        raise ValueError(f"sort{task.n} needs at least {task.n} registers")
    prefix = list(prefix or [])
    regs, written, flags, start = _registers_after(task, prefix)
    more = max_core - len(prefix)
    actions = core_actions(task.registers, task.isa)
    if order_seed is not None:
        actions = np.ascontiguousarray(np.random.default_rng(order_seed).permutation(actions))
    control = new_control() if control is None else control
    control[DEPTH_LIMIT] = max_core
    keys = np.zeros(1 << table_bits, dtype=np.uint64)
    depths = np.zeros(1 << table_bits, dtype=np.int64)
    solution = np.zeros(max(more, 1), dtype=np.int64)
    start_nodes = int(control[NODES])
    t0 = time.perf_counter()
    result = -1
    if more >= 0:
        result = int(
            _search(
                regs,
                written,
                flags,
                start,
                _targets(task),
                actions,
                more,
                max_nodes,
                keys,
                depths,
                control,
                solution,
            )
        )
    seconds = time.perf_counter() - t0
    nodes = int(control[NODES]) - start_nodes
    if result == _FOUND_STOPPED:
        return Outcome("stopped", None, max_core, nodes, seconds)
    if result == _EXHAUSTED:
        return Outcome("exhausted", None, max_core, nodes, seconds)
    core = prefix + [tuple(int(v) for v in actions[a]) for a in solution[:result]]
    return Outcome("found", assemble(task, core), max_core, nodes, seconds)


# ------------------------------------------------------------------ fast mode (not exact)


def compare_exchange(isa: Isa, i: int, j: int, scratch: int) -> list[tuple[int, int, int]]:
    """Core instructions that put ``min`` in register ``i`` and ``max`` in ``j`` using
    ``scratch``: ``mov t, ri; min ri, rj; max rj, t`` when the ISA has min/max, else
    ``mov t, ri; cmp ri, rj; cmovg ri, rj; cmovg rj, t``."""
    if Op.MIN in isa.ops and Op.MAX in isa.ops:
        return [(_MOV, scratch, i), (_MIN, i, j), (_MAX, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVG in isa.ops:
        return [(_MOV, scratch, i), (_CMP, i, j), (_CMOVG, i, j), (_CMOVG, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVL in isa.ops:
        return [(_MOV, scratch, i), (_CMP, j, i), (_CMOVL, i, j), (_CMOVL, j, scratch)]
    raise ValueError(f"ISA {isa.name} cannot express a compare-exchange")


def sorting_network(n: int, *, max_comparators: int = 40) -> list[tuple[int, int]]:
    """A shortest sorting network on ``n`` wires, by breadth-first search over the sets of
    0-1 vectors it leaves (the 0-1 principle: sorting every 0-1 input sorts every input).
    Exact for the comparator count; fast for n <= 6."""
    rows = ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int8)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]

    def canonical(block: np.ndarray) -> bytes:
        return np.unique(block, axis=0).tobytes()

    layer = {canonical(rows): (rows, [])}
    seen = set(layer)
    for _ in range(max_comparators + 1):
        for block, network in layer.values():
            if np.all(block[:, :-1] <= block[:, 1:]):
                return network
        nxt = {}
        for block, network in layer.values():
            for i, j in pairs:
                child = block.copy()
                child[:, i] = np.minimum(block[:, i], block[:, j])
                child[:, j] = np.maximum(block[:, i], block[:, j])
                child = np.unique(child, axis=0)
                key = child.tobytes()
                if key not in seen:
                    seen.add(key)
                    nxt[key] = (child, [*network, (i, j)])
        layer = nxt
    raise ValueError(f"no sorting network on {n} wires within {max_comparators} comparators")


def network_core(task: SortTask) -> list[tuple[int, int, int]]:
    """The core of a shortest sorting network lowered with :func:`compare_exchange`."""
    if task.registers <= task.n:
        raise ValueError("a compare-exchange needs a scratch register (registers > n)")
    core: list[tuple[int, int, int]] = []
    for i, j in sorting_network(task.n):
        core += compare_exchange(task.isa, i, j, task.n)
    return core


def shorten_tail(
    task: SortTask,
    core: list[tuple[int, int, int]],
    *,
    control: np.ndarray | None = None,
    max_nodes: int = 2_000_000,
) -> list[tuple[int, int, int]] | None:
    """Try to replace a tail of ``core`` with a shorter one: for cuts from the end backwards,
    an exact search from the state after ``core[:cut]`` for a tail one instruction shorter,
    each capped at ``max_nodes`` states. Returns the first shorter core found, or None."""
    for cut in range(len(core) - 1, -1, -1):
        if control is not None and control[STOP]:
            return None
        outcome = find(task, len(core) - 1, prefix=core[:cut], control=control, max_nodes=max_nodes)
        if outcome.status == "found":
            return core_of(task, outcome.program)
    return None


def space_of(n: int, registers: int | None = None, isa: str | Isa = "cmov") -> Space:
    """The :class:`Space` for sort ``n``."""
    return Space(n, n + 1 if registers is None else registers, get_isa(isa))
