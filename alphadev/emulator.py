"""Run programs of the toy machine: a numba core over all test rows at once, and a reference.

Machine state: ``int32[rows, locations]`` (locations as in :class:`~alphadev.isa.Layout`:
memory first, then registers). Flags: ``int8[rows]`` holding the sign of the last ``cmp a, b``
for each row: ``-1`` if ``a < b``, ``0`` if equal, ``+1`` if ``a > b`` (signed 32-bit compare).
``cmovl`` moves when the flag is -1, ``cmovg`` when +1, ``cmovle`` when <= 0, ``cmovge`` when >= 0.

The compiled functions assume a legal program (operand forms checked by
:class:`~alphadev.isa.Program`, no flag read before a ``cmp``); they do no checking of their own
so that a search step costs one pass over the rows. :func:`reference_run` is the slow,
obviously-correct interpreter used as the oracle in tests and the baseline in benchmarks.
"""

from __future__ import annotations

import numpy as np

from alphadev.isa import Op, Program
from alphadev.jit import njit

__all__ = [
    "apply_instruction",
    "apply_instruction_into",
    "compare",
    "execute",
    "reference_run",
    "reference_trace",
    "result_of",
    "run_program",
]

_MOV = int(Op.MOV)
_CMP = int(Op.CMP)
_CMOVL = int(Op.CMOVL)
_CMOVG = int(Op.CMOVG)
_CMOVLE = int(Op.CMOVLE)
_CMOVGE = int(Op.CMOVGE)
_MIN = int(Op.MIN)
_MAX = int(Op.MAX)


@njit(cache=True, nogil=True, inline="always")
def compare(a, b):  # pragma: no cover - compiled
    """The flag ``cmp a, b`` leaves: -1 if ``a < b``, 0 if equal, +1 if ``a > b`` (int8)."""
    return np.int8((a > b) - (a < b))


@njit(cache=True, nogil=True, inline="always")
def result_of(op, a, b, flag):  # pragma: no cover - compiled
    """The one definition of what an instruction computes.

    The new value of the destination of ``op dst, src`` when the destination holds ``a``, the
    source ``b`` and the flags ``flag`` (as :func:`compare` leaves them). ``cmp`` writes no
    location: it returns ``a`` (the destination unchanged). Every engine, compiled or not,
    goes through this function or :func:`compare`."""
    if op == _MOV:
        return b
    if op == _CMOVL:
        return b if flag < 0 else a
    if op == _CMOVG:
        return b if flag > 0 else a
    if op == _CMOVLE:
        return b if flag <= 0 else a
    if op == _CMOVGE:
        return b if flag >= 0 else a
    if op == _MIN:
        return min(a, b)
    if op == _MAX:
        return max(a, b)
    return a


@njit(cache=True, nogil=True, inline="always")
def _write_rows(state, flags, op, dst, src, start, stop):  # pragma: no cover - compiled
    """``state[r, dst] = result_of(op, ...)`` for rows ``start..stop-1``."""
    for r in range(start, stop):
        state[r, dst] = result_of(op, state[r, dst], state[r, src], flags[r])


@njit(cache=True, nogil=True, inline="always")
def _apply_rows(state, flags, op, dst, src, start, stop):  # pragma: no cover - compiled
    """Apply ``op dst, src`` in place to rows ``start..stop-1``. The opcode is decoded once,
    outside the row loop: each branch passes a constant opcode to :func:`result_of`, so the
    compiler folds it to that opcode's loop body (the semantics stay in one place)."""
    if op == _CMP:
        for r in range(start, stop):
            flags[r] = compare(state[r, dst], state[r, src])
    elif op == _MOV:
        _write_rows(state, flags, _MOV, dst, src, start, stop)
    elif op == _CMOVL:
        _write_rows(state, flags, _CMOVL, dst, src, start, stop)
    elif op == _CMOVG:
        _write_rows(state, flags, _CMOVG, dst, src, start, stop)
    elif op == _CMOVLE:
        _write_rows(state, flags, _CMOVLE, dst, src, start, stop)
    elif op == _CMOVGE:
        _write_rows(state, flags, _CMOVGE, dst, src, start, stop)
    elif op == _MIN:
        _write_rows(state, flags, _MIN, dst, src, start, stop)
    elif op == _MAX:
        _write_rows(state, flags, _MAX, dst, src, start, stop)


@njit(cache=True, nogil=True)
def apply_instruction(state, flags, op, dst, src):  # pragma: no cover - compiled
    """Apply ``op dst, src`` in place to every row. ``state``: int32[rows, locations];
    ``flags``: int8[rows]."""
    _apply_rows(state, flags, op, dst, src, 0, state.shape[0])


@njit(cache=True, nogil=True)
def apply_instruction_into(
    state, flags, out_state, out_flags, op, dst, src
):  # pragma: no cover - compiled
    """Copy ``state``/``flags`` into ``out_state``/``out_flags`` (same shapes) and apply
    ``op dst, src`` there; the inputs are left unchanged. This is one search step."""
    rows, cols = state.shape
    for r in range(rows):
        for c in range(cols):
            out_state[r, c] = state[r, c]
        out_flags[r] = flags[r]
    apply_instruction(out_state, out_flags, op, dst, src)


#: Rows per block in :func:`run_program`: small enough that a block of sort6 state stays in L1.
ROW_BLOCK = 128


@njit(cache=True, nogil=True)
def run_program(state, flags, program):  # pragma: no cover - compiled
    """Run ``program`` (int32[length, 3] of op, dst, src) in place over every row.

    Rows are taken in blocks of :data:`ROW_BLOCK`; within a block the instructions run in order,
    each over all the block's rows. The opcode is decoded once per block, and the rows of a
    block are independent, so the CPU overlaps them (a row-at-a-time loop is one serial
    dependency chain through the locations and runs about 2x slower)."""
    rows = state.shape[0]
    length = program.shape[0]
    for start in range(0, rows, ROW_BLOCK):
        stop = min(start + ROW_BLOCK, rows)
        for i in range(length):
            op = program[i, 0]
            dst = program[i, 1]
            src = program[i, 2]
            _apply_rows(state, flags, op, dst, src, start, stop)


def execute(program: Program | np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a program from ``state`` (int32[rows, locations], not modified).

    Returns the final ``(state int32[rows, locations], flags int8[rows])``."""
    code = program.to_array() if isinstance(program, Program) else program
    out = np.array(state, dtype=np.int32, copy=True, order="C")
    flags = np.zeros(out.shape[0], dtype=np.int8)
    run_program(out, flags, np.ascontiguousarray(code, dtype=np.int32))
    return out, flags


# --------------------------------------------------------------------------------------------
# Reference interpreter: plain Python, one row at a time, written to be read.
# --------------------------------------------------------------------------------------------

_CONDITIONS = {
    Op.CMOVL: lambda a, b: a < b,
    Op.CMOVG: lambda a, b: a > b,
    Op.CMOVLE: lambda a, b: a <= b,
    Op.CMOVGE: lambda a, b: a >= b,
}


def _reference_rows(program: Program, row: list[int]):
    """Yield the list of location values after each instruction for one input ``row``."""
    layout = program.layout
    values = [int(v) for v in row]
    if len(values) != layout.num_locations:
        raise ValueError(f"a row needs {layout.num_locations} locations, got {len(values)}")
    compared = None  # (a, b) of the last cmp
    for i, (op, dst, src) in enumerate(program.code):
        op = Op(op)
        if op == Op.MOV:
            values[dst] = values[src]
        elif op == Op.CMP:
            compared = (values[dst], values[src])
        elif op in _CONDITIONS:
            if compared is None:
                raise ValueError(f"instruction {i} ({op.mnemonic}) reads the flags before any cmp")
            if _CONDITIONS[op](*compared):
                values[dst] = values[src]
        elif op == Op.MIN:
            values[dst] = min(values[dst], values[src])
        elif op == Op.MAX:
            values[dst] = max(values[dst], values[src])
        else:  # pragma: no cover - Op is closed
            raise ValueError(f"unknown opcode {op}")
        yield list(values)


def reference_trace(program: Program, row: list[int]) -> list[list[int]]:
    """Location values after each instruction for one row: ``length`` lists of ``locations``."""
    return list(_reference_rows(program, row))


def reference_run(program: Program, rows) -> list[list[int]]:
    """Final location values for each row in ``rows`` (``[rows][locations]`` ints)."""
    finals = []
    for row in rows:
        final = [int(v) for v in row]
        for after in _reference_rows(program, row):
            final = after
        finals.append(final)
    return finals
