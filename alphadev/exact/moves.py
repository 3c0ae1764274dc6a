"""The moves of the exact space: the one statement of which ``(op, dst, src)`` may follow a
state and whether it changes anything. Every exact engine (:mod:`~alphadev.exact.branch_bound`,
:mod:`~alphadev.exact.best_first`, :mod:`~alphadev.exact.split`, the comparator lowering in
:mod:`~alphadev.exact.comparators_kernels`) asks these functions, so they search one space, and
the split's proofs (which need ``split`` to match ``find`` exactly) stay sound.

A state is ``regs: int8[registers, rows]`` (a register's column over the rows),
``written: int8[registers]``, ``flags: int8[rows]`` (the last ``cmp``'s outcome per row) with
``flags_valid`` (a ``cmp`` has run) and ``last_cmp`` (the last move was a ``cmp``). A move is
played when

1. it reads only written registers: ``src`` always, ``dst`` too for ``cmp``, the cmovs, ``min``
   and ``max`` (which keep or combine it); only ``mov`` may write an unwritten register, and
   then only the lowest unwritten one (fresh registers are named in order, so no two programs
   differ by the name of a fresh register alone);
2. it follows the flag rules: no ``cmp`` right after a ``cmp`` (the second would overwrite the
   first unread), no cmov before the first ``cmp``;
3. it changes the state: a ``cmp`` gives flags that differ from the valid ones on some row, a
   write gives ``dst`` a column that differs from the one it holds (a move that changes nothing
   never shortens a program).

Rules 1 and 2 are :func:`may_play`; rule 3 is :func:`compare_changes` and
:func:`write_changes`; :func:`play` applies a move (replays, start states). Engines add prunes
of their own (bounds, dead states, tables) after these.
Opcodes come from :class:`alphadev.isa.Op`; what an instruction computes from
:mod:`alphadev.emulator` (``compare`` and ``result_of``).
"""

from __future__ import annotations

from alphadev.emulator import compare
from alphadev.exact.columns import column_result
from alphadev.isa import Op
from alphadev.jit import njit

__all__ = [
    "CMOV_FIRST",
    "CMOV_LAST",
    "CMP",
    "MAX",
    "MIN",
    "MOV",
    "compare_changes",
    "is_cmov",
    "may_play",
    "play",
    "write_changes",
]

# Module-level ints: numba reads them as compile-time constants.
MOV, CMP, MIN, MAX = int(Op.MOV), int(Op.CMP), int(Op.MIN), int(Op.MAX)
CMOV_FIRST, CMOV_LAST = int(Op.CMOVL), int(Op.CMOVGE)
if sorted(int(op) for op in (Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE)) != list(
    range(CMOV_FIRST, CMOV_LAST + 1)
):
    raise ImportError("alphadev.exact.moves assumes the cmovs are the opcodes cmovl..cmovge")


@njit(cache=True, nogil=True, inline="always")
def is_cmov(op):  # pragma: no cover - compiled
    """Whether ``op`` is one of ``cmovl``, ``cmovg``, ``cmovle``, ``cmovge``."""
    return CMOV_FIRST <= op <= CMOV_LAST


@njit(cache=True, nogil=True, inline="always")
def may_play(op, dst, src, written, flags_valid, last_cmp):  # pragma: no cover - compiled
    """Rules 1 and 2 of the module docstring: ``op dst, src`` reads only written registers,
    writes a fresh register only by ``mov`` into the lowest unwritten one, is no ``cmp`` right
    after a ``cmp`` and no cmov before the first ``cmp``. ``written``: ``int8[registers]``."""
    if not written[src]:
        return False
    if op == CMP:
        return not last_cmp and written[dst] != 0
    if op == MOV:
        if written[dst]:
            return True
        for r in range(dst):  # noqa: SIM110 - numba compiles loops, not all() over a generator
            if not written[r]:
                return False
        return True
    if not written[dst]:
        return False
    return flags_valid != 0 or not is_cmov(op)


@njit(cache=True, nogil=True, inline="always")
def compare_changes(regs, dst, src, flags, flags_valid, rows, out):  # pragma: no cover - compiled
    """Rule 3 for ``cmp dst, src``: writes the new flags of rows ``0..rows-1`` into ``out``
    (``int8[>= rows]``) and returns whether they differ from ``flags`` on some row (always
    True when the flags were not valid). ``regs``: ``int8[registers, >= rows]``."""
    changed = flags_valid == 0
    for i in range(rows):
        f = compare(regs[dst, i], regs[src, i])
        out[i] = f
        if f != flags[i]:
            changed = True
    return changed


@njit(cache=True, nogil=True, inline="always")
def write_changes(column, regs, dst, written, rows):  # pragma: no cover - compiled
    """Rule 3 for a write: whether ``column`` (``int8[>= rows]``) differs from what ``dst``
    holds on rows ``0..rows-1`` (always True when ``dst`` is unwritten)."""
    if not written[dst]:
        return True
    for i in range(rows):  # noqa: SIM110 - numba compiles loops, not any() over a generator
        if column[i] != regs[dst, i]:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def play(op, dst, src, regs, written, flags, column):  # pragma: no cover - compiled
    """Apply ``op dst, src`` in place over every row: a ``cmp`` sets ``flags`` (``int8[rows]``),
    a write sets ``regs[dst]`` (``int8[registers, rows]``) and ``written[dst]``; ``column`` is
    ``int8[rows]`` work space. Returns whether the move was a ``cmp`` (the caller's flags are
    then valid and its last move a ``cmp``)."""
    if op == CMP:
        for i in range(regs.shape[1]):
            flags[i] = compare(regs[dst, i], regs[src, i])
        return True
    column_result(op, dst, src, regs, flags, column)
    regs[dst, :] = column
    written[dst] = 1
    return False
