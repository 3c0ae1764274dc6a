"""The space the exact engines search, and the conversions between its cores and programs.

A program of the space is ``n`` loads ``mov r{i}, m{i}``, then a *core* over registers only,
then ``n`` stores. Within the core the game's rules hold (a fresh register is the lowest unused
one, no two ``cmp`` in a row, no ``cmov`` before a ``cmp``). A core is a list of
``(op, dst, src)`` over register indices ``0..registers-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphadev.exact.moves import play
from alphadev.isa import Instruction, Isa, Op, Program
from alphadev.tasks import SortTask, tie_pattern_rows, verify

__all__ = [
    "Core",
    "Space",
    "StartState",
    "assemble",
    "core_actions",
    "core_of",
    "failing_rows",
    "start_state",
    "target_columns",
]

Core = list[tuple[int, int, int]]


@dataclass(frozen=True)
class Space:
    """Sort ``n`` with ``registers`` registers and ``isa``, loads first in order into
    ``r0..r{n-1}``, stores last, the game's rules in between."""

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


def core_actions(registers: int, isa: Isa) -> np.ndarray:
    """``int64[A, 3]`` of ``(op, dst, src)`` over register indices ``0..registers-1``.

    ``cmp`` is taken with ``a < b`` only when every cmov condition of the ISA has its mirror in
    the ISA (``cmp b, a`` then gives nothing new); otherwise both orders are kept.
    """
    ops = isa.ops
    mirror = {Op.CMOVL: Op.CMOVG, Op.CMOVG: Op.CMOVL, Op.CMOVLE: Op.CMOVGE, Op.CMOVGE: Op.CMOVLE}
    cmovs = [op for op in (Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE) if op in ops]
    both_orders = any(mirror[op] not in ops for op in cmovs)
    pairs = [(d, s) for d in range(registers) for s in range(registers) if d != s]
    rows: list[tuple[int, int, int]] = [(int(Op.MOV), d, s) for d, s in pairs]
    if Op.CMP in ops:
        rows += [(int(Op.CMP), a, b) for a, b in pairs if both_orders or a < b]
    for op in (*cmovs, *(op for op in (Op.MIN, Op.MAX) if op in ops)):
        rows += [(int(op), d, s) for d, s in pairs]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


@dataclass
class StartState:
    """An exact engine's state after the loads and a core prefix.

    Attributes:
        regs: int8[registers, rows], register columns over the tie-pattern rows.
        written: int8[registers], 1 where the register holds a defined value.
        flags: int8[rows], the flags of the last ``cmp``.
        start: int64[2], whether the flags are valid and whether the last move was a ``cmp``.
    """

    regs: np.ndarray
    written: np.ndarray
    flags: np.ndarray
    start: np.ndarray


def start_state(task: SortTask, core: Core, rows: np.ndarray | None = None) -> StartState:
    """The state after the loads and ``core`` over ``rows`` (default: every tie pattern)."""
    rows = tie_pattern_rows(task.n) if rows is None else rows
    regs = np.zeros((task.registers, rows.shape[0]), dtype=np.int8)
    regs[: task.n] = rows.T
    written = np.zeros(task.registers, dtype=np.int8)
    written[: task.n] = 1
    flags = np.zeros(rows.shape[0], dtype=np.int8)
    start = np.zeros(2, dtype=np.int64)
    column = np.empty(rows.shape[0], dtype=np.int8)
    for op, dst, src in core:
        was_cmp = play(op, dst, src, regs, written, flags, column)
        start[0] |= was_cmp
        start[1] = was_cmp
    return StartState(regs, written, flags, start)


def target_columns(n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The sorted column of each output slot, ``int8[n, rows]`` (default rows: tie patterns)."""
    rows = tie_pattern_rows(n) if rows is None else rows
    return np.ascontiguousarray(np.sort(rows, axis=1).T.astype(np.int8))


def assemble(task: SortTask, core: Core) -> Program:
    """Loads, then ``core``, then the stores, which take each sorted column from a register
    that holds it on every tie-pattern row. ValueError if some slot is held by no register."""
    layout = task.layout
    code = [Instruction(Op.MOV, layout.register(i), layout.memory(i)) for i in range(task.n)]
    code += [Instruction(Op(op), layout.register(d), layout.register(s)) for op, d, s in core]
    program = Program(layout, tuple(code))
    state, _ = task.run(program)
    # Columns made contiguous once: sort8 has 545,835 rows, read 8 x 9 times below.
    held = np.ascontiguousarray(state[:, [layout.register(r) for r in range(task.registers)]].T)
    wanted = np.ascontiguousarray(task.expected.T)
    for slot in range(task.n):
        holder = next((reg for reg in range(task.registers)
                       if np.array_equal(held[reg], wanted[slot])), None)  # fmt: skip
        if holder is None:
            raise ValueError(f"core leaves sorted slot {slot} in no register")
        code.append(Instruction(Op.MOV, layout.memory(slot), layout.register(holder)))
    return Program(layout, tuple(code))


def core_of(task: SortTask, program: Program) -> Core:
    """The core of a loads-first, stores-last ``program``, over register indices."""
    n = task.n
    core = program.code[n : len(program.code) - n]
    return [(int(ins.op), ins.dst - n, ins.src - n) for ins in core]


def failing_rows(task: SortTask, core: Core) -> np.ndarray | None:
    """The tie-pattern rows on which ``core`` (loads, core, stores) is wrong, ``int32[k, n]``:
    all of them when it is rejected otherwise (a sorted slot in no register, an undefined
    read); None if it verifies. The counterexample-guided loops add these rows."""
    try:
        program = assemble(task, core)
    except ValueError:
        return np.asarray(task.inputs)
    if verify(program, task).correct:
        return None
    state, _ = task.run(program)
    wrong = np.any(state[:, : task.n] != task.expected, axis=1)
    if not wrong.any():
        return np.asarray(task.inputs)
    return np.asarray(task.inputs)[wrong]
