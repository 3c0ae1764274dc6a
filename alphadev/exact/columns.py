"""Compiled kernels over the exact engines' state: register columns over the test rows.

The exact engines keep a state as ``regs: int8[registers, rows]`` (register-major, so one
register's values over every row is a contiguous *column*), ``written: int8[registers]`` (1 for
a register that holds a defined value), and ``flags: int8[rows]``. What an instruction computes
comes from :func:`alphadev.emulator.result_of` (the one definition every engine uses); this
module adds what only the exact engines need: the state key up to register renaming and the
facts about the sorted columns that their prunes use. ``targets: int8[n, rows]`` holds the
sorted column of each output slot.
"""

from __future__ import annotations

import numpy as np

from alphadev.emulator import result_of
from alphadev.hashing import UNWRITTEN, column_hash, renaming_key_of
from alphadev.isa import Op
from alphadev.jit import njit

__all__ = [
    "column_result",
    "creates_target",
    "held_target",
    "is_dead",
    "missing_targets",
    "renaming_key",
]

# Module-level ints: numba reads them as compile-time constants.
_MOV, _CMP = int(Op.MOV), int(Op.CMP)
_CMOVL, _CMOVG, _CMOVLE, _CMOVGE = int(Op.CMOVL), int(Op.CMOVG), int(Op.CMOVLE), int(Op.CMOVGE)
_MIN, _MAX = int(Op.MIN), int(Op.MAX)
# creates_target skips mov and cmp with one comparison and tells a cmov by a range: the
# encoding must keep that order.
if not max(_MOV, _CMP) < _CMOVL < _CMOVG < _CMOVLE < _CMOVGE < min(_MIN, _MAX):
    raise ImportError("alphadev.exact.columns assumes mov, cmp < cmovl..cmovge < min, max")


@njit(cache=True, nogil=True, inline="always")
def _column_loop(op, dst, src, regs, flags, out):  # pragma: no cover - compiled
    for i in range(regs.shape[1]):
        out[i] = result_of(op, regs[dst, i], regs[src, i], flags[i])


@njit(cache=True, nogil=True, inline="always")
def column_result(op, dst, src, regs, flags, out):  # pragma: no cover - compiled
    """``out[i]`` = the new value of register ``dst`` in row ``i`` after ``op dst, src``, for
    an opcode that writes a register (``mov``, the cmovs, ``min``, ``max``); any other opcode,
    ``cmp`` included, raises ``ValueError`` (a caller applies ``cmp`` to the flags itself).
    The opcode is decoded once: each branch hands :func:`result_of` a constant opcode, which
    the compiler folds into that opcode's loop."""
    if op == _MOV:
        _column_loop(_MOV, dst, src, regs, flags, out)
    elif op == _CMOVL:
        _column_loop(_CMOVL, dst, src, regs, flags, out)
    elif op == _CMOVG:
        _column_loop(_CMOVG, dst, src, regs, flags, out)
    elif op == _CMOVLE:
        _column_loop(_CMOVLE, dst, src, regs, flags, out)
    elif op == _CMOVGE:
        _column_loop(_CMOVGE, dst, src, regs, flags, out)
    elif op == _MIN:
        _column_loop(_MIN, dst, src, regs, flags, out)
    elif op == _MAX:
        _column_loop(_MAX, dst, src, regs, flags, out)
    else:
        raise ValueError("column_result: the opcode writes no register (cmp) or is unknown")


@njit(cache=True, nogil=True, inline="always")
def _merge_column(op, dst, src, regs, flags, out):  # pragma: no cover - compiled
    """:func:`column_result` for the merges only: ``op`` is one of ``cmovl..cmovge``, ``min``,
    ``max``, which its one caller, :func:`creates_target`, makes sure of just before (it skips
    ``mov`` and ``cmp``). This is the innermost call of the A* bound, over a dozen rows, where
    :func:`column_result`'s extra test and exit for a bad opcode made sort3's A* a third
    slower."""
    if op == _CMOVL:
        _column_loop(_CMOVL, dst, src, regs, flags, out)
    elif op == _CMOVG:
        _column_loop(_CMOVG, dst, src, regs, flags, out)
    elif op == _CMOVLE:
        _column_loop(_CMOVLE, dst, src, regs, flags, out)
    elif op == _CMOVGE:
        _column_loop(_CMOVGE, dst, src, regs, flags, out)
    elif op == _MIN:
        _column_loop(_MIN, dst, src, regs, flags, out)
    else:
        _column_loop(_MAX, dst, src, regs, flags, out)


@njit(cache=True, nogil=True)
def renaming_key(regs, written, flags, flags_valid, last_cmp):  # pragma: no cover - compiled
    """Hash of the state up to register renaming: the multiset of written register columns,
    the flags when a ``cmp`` has run, and whether the last move was a ``cmp``. Never 0."""
    count = regs.shape[0]
    hashes = np.empty(count, dtype=np.uint64)
    for r in range(count):
        hashes[r] = column_hash(regs[r]) if written[r] else UNWRITTEN
    flags_hash = column_hash(flags) if flags_valid else np.uint64(0)
    return renaming_key_of(hashes, flags_hash, flags_valid, last_cmp)


@njit(cache=True, nogil=True)
def missing_targets(regs, written, targets):  # pragma: no cover - compiled
    """How many target columns no written register holds (each needs its own write)."""
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
def is_dead(regs, written, targets):  # pragma: no cover - compiled
    """Some row lacks, in every written register, a value some target needs there: no
    continuation can be correct (instructions only copy values)."""
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
def creates_target(regs, written, flags, flags_valid, targets, actions, scratch):
    # pragma: no cover - compiled
    """Some single cmov/min/max in ``actions`` (``int64[A, 3]``) makes a register hold a
    target column that it did not hold. ``scratch``: int8[rows] work space."""
    for a in range(actions.shape[0]):
        op = actions[a, 0]
        dst = actions[a, 1]
        src = actions[a, 2]
        if op <= _CMP or not (written[dst] and written[src]):  # skip mov and cmp
            continue
        if _CMOVL <= op <= _CMOVGE and not flags_valid:
            continue
        _merge_column(op, dst, src, regs, flags, scratch)
        if held_target(scratch, targets) >= 0:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def held_target(column, targets):  # pragma: no cover - compiled
    """Index of the target column (row of ``targets``) equal to ``column``, or -1."""
    for t in range(targets.shape[0]):
        same = True
        for i in range(column.shape[0]):
            if column[i] != targets[t, i]:
                same = False
                break
        if same:
            return t
    return -1
