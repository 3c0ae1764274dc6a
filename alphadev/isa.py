"""The toy x86 machine as data: opcodes, locations, ISA variants, operand forms, encodings.

Locations are numbered densely for a :class:`Layout` with ``n`` memory slots and ``k``
registers: memory ``m0..m{n-1}`` are locations ``0..n-1`` and registers ``r0..r{k-1}`` are
locations ``n..n+k-1``. A machine state is therefore an ``int32[rows, n + k]`` array.

A program is a sequence of :class:`Instruction` ``(op, dst, src)``; its dense encoding is an
``int32[length, 3]`` array of ``(op, dst, src)`` rows with locations as above. The action space
of a layout and ISA is every legal ``(op, dst, src)`` triple, in a fixed order, so an action is a
single integer in ``[0, num_actions)``.

Operand forms (Intel order, ``op dst, src``):

* ``mov``: register <- register, register <- memory (load), memory <- register (store).
  Memory-to-memory is not an x86 form and is illegal.
* ``cmp a, b``: registers only; sets the flags to the signed comparison of ``a`` and ``b``.
* ``cmovl/cmovg/cmovle/cmovge dst, src``: registers only.
* ``min/max dst, src``: registers only (``dst = min/max(dst, src)``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "FLAGS",
    "ISAS",
    "MAX_REGISTERS",
    "ActionSpace",
    "Instruction",
    "Isa",
    "Layout",
    "Op",
    "Program",
    "get_isa",
    "reads",
    "writes",
]


class Op(enum.IntEnum):
    """Opcodes. The integer values are the encoding used by the emulator."""

    MOV = 0
    CMP = 1
    CMOVL = 2
    CMOVG = 3
    CMOVLE = 4
    CMOVGE = 5
    MIN = 6
    MAX = 7

    @property
    def mnemonic(self) -> str:
        return self.name.lower()

    @classmethod
    def from_mnemonic(cls, text: str) -> Op:
        """The opcode an ASCII mnemonic names, in any case (``KeyError`` otherwise: a look-alike
        such as ``mın`` with a dotless i is not folded into ``min``)."""
        if not text.isascii():
            raise KeyError(text)
        return cls[text.upper()]


CMOV_OPS = frozenset({Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE})
MINMAX_OPS = frozenset({Op.MIN, Op.MAX})
#: Opcodes that read the flags.
FLAG_READERS = CMOV_OPS


#: Pseudo-location of the flags in :func:`reads` and :func:`writes`.
FLAGS = -1

#: Most registers a layout may have: the general registers x86-64 leaves a kernel once
#: ``%rdi`` (the array pointer) and ``%rsp`` are taken, so every kernel that verifies can be
#: exported (:mod:`alphadev.export` maps toy register ``rK`` to one of them). The parser, the
#: tasks, the search and the export all read this one constant.
MAX_REGISTERS = 14


def reads(ins: Instruction) -> tuple[int, ...]:
    """The locations ``ins`` reads, with :data:`FLAGS` for the flags: the one statement of the
    machine's data flow (``mov`` reads its source; ``cmp`` both operands; ``cmov*``, ``min``
    and ``max`` both operands, since the destination is kept when the move does not happen;
    ``cmov*`` also the flags). The emulator's :func:`~alphadev.emulator.result_of` computes
    what these reads produce."""
    op = Op(ins.op)
    if op == Op.MOV:
        return (ins.src,)
    if op in FLAG_READERS:
        return (ins.src, ins.dst, FLAGS)
    return (ins.src, ins.dst)


def writes(ins: Instruction) -> int:
    """The one location ``ins`` writes: :data:`FLAGS` for ``cmp``, else its destination."""
    return FLAGS if ins.op == Op.CMP else ins.dst


@dataclass(frozen=True)
class Isa:
    """A named set of opcodes. Variants are data: every rule is expressed over ``ops``."""

    name: str
    ops: frozenset[Op]

    def __post_init__(self) -> None:
        if Op.MOV not in self.ops:
            raise ValueError(f"ISA {self.name!r} must contain mov (the only way to touch memory)")
        if (self.ops & CMOV_OPS) and Op.CMP not in self.ops:
            raise ValueError(f"ISA {self.name!r} has cmov but no cmp to set the flags")

    def __str__(self) -> str:
        return self.name

    @property
    def can_sort(self) -> bool:
        """Whether a compare-exchange can be written: ``min`` and ``max``, or ``cmp`` and a
        ``cmov`` (every sorting kernel needs one; ``mov`` alone only permutes copies)."""
        return {Op.MIN, Op.MAX} <= self.ops or (Op.CMP in self.ops and bool(self.ops & CMOV_OPS))


ISAS: dict[str, Isa] = {
    "cmov": Isa("cmov", frozenset({Op.MOV, Op.CMP, Op.CMOVL, Op.CMOVG, Op.CMOVLE, Op.CMOVGE})),
    "minmax": Isa("minmax", frozenset({Op.MOV, Op.MIN, Op.MAX})),
    "full": Isa("full", frozenset(Op)),
}


def get_isa(spec: str | Isa) -> Isa:
    """Return a named ISA, or build a subset from a comma list such as ``"mov,cmp,cmovg"``."""
    if isinstance(spec, Isa):
        return spec
    if spec in ISAS:
        return ISAS[spec]
    names = [part.strip() for part in spec.split(",") if part.strip()]
    try:
        ops = frozenset(Op.from_mnemonic(name) for name in names)
    except KeyError as exc:
        known = ", ".join(op.mnemonic for op in Op)
        raise ValueError(
            f"unknown ISA {spec!r}: expected one of {', '.join(ISAS)} or a comma list of "
            f"opcodes from: {known}"
        ) from exc
    return Isa(",".join(op.mnemonic for op in sorted(ops)), ops)


@dataclass(frozen=True)
class Layout:
    """``n`` memory slots followed by ``registers`` registers."""

    n: int
    registers: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"need at least one memory slot, got n={self.n}")
        if not 1 <= self.registers <= MAX_REGISTERS:
            raise ValueError(
                f"register counts 1 to {MAX_REGISTERS} are supported (the general registers "
                f"x86-64 has for a kernel), got registers={self.registers}"
            )

    @property
    def num_locations(self) -> int:
        return self.n + self.registers

    def is_memory(self, loc: int) -> bool:
        return 0 <= loc < self.n

    def is_register(self, loc: int) -> bool:
        return self.n <= loc < self.n + self.registers

    def memory(self, index: int) -> int:
        """Location of memory slot ``m{index}``."""
        if not 0 <= index < self.n:
            raise ValueError(f"m{index} out of range m0..m{self.n - 1}")
        return index

    def register(self, index: int) -> int:
        """Location of register ``r{index}``."""
        if not 0 <= index < self.registers:
            raise ValueError(f"r{index} out of range r0..r{self.registers - 1}")
        return self.n + index

    def name(self, loc: int) -> str:
        """Assembly name of a location: ``m2`` or ``r0``."""
        if self.is_memory(loc):
            return f"m{loc}"
        if self.is_register(loc):
            return f"r{loc - self.n}"
        raise ValueError(f"location {loc} out of range for {self}")

    def __str__(self) -> str:
        return f"n={self.n}, registers={self.registers}"


class Instruction(NamedTuple):
    """One instruction; ``dst`` and ``src`` are location numbers of a :class:`Layout`."""

    op: Op
    dst: int
    src: int


def operand_form_error(layout: Layout, op: Op, dst: int, src: int) -> str | None:
    """Why ``op dst, src`` is not a legal operand form for ``layout``, or None if it is."""
    for role, loc in (("destination", dst), ("source", src)):
        if not 0 <= loc < layout.num_locations:
            return f"{role} location {loc} out of range for layout {layout}"
    if op == Op.MOV:
        if layout.is_memory(dst) and layout.is_memory(src):
            return "mov cannot copy memory to memory"
        return None
    if not (layout.is_register(dst) and layout.is_register(src)):
        return f"{Op(op).mnemonic} takes registers only"
    return None


def is_legal_form(layout: Layout, op: Op, dst: int, src: int) -> bool:
    return operand_form_error(layout, op, dst, src) is None


@dataclass(frozen=True)
class Program:
    """A straight-line program for a layout. Equality is by layout and instructions."""

    layout: Layout
    code: tuple[Instruction, ...]

    def __post_init__(self) -> None:
        for i, ins in enumerate(self.code):
            why = operand_form_error(self.layout, ins.op, ins.dst, ins.src)
            if why is not None:
                raise ValueError(f"instruction {i}: {why}")

    def __len__(self) -> int:
        return len(self.code)

    def __iter__(self):
        return iter(self.code)

    @property
    def ops_used(self) -> frozenset[Op]:
        return frozenset(ins.op for ins in self.code)

    def to_array(self) -> np.ndarray:
        """Dense encoding, ``int32[length, 3]`` of ``(op, dst, src)``."""
        arr = np.zeros((len(self.code), 3), dtype=np.int32)
        for i, ins in enumerate(self.code):
            arr[i] = (int(ins.op), ins.dst, ins.src)
        return arr

    @classmethod
    def from_array(cls, layout: Layout, array: np.ndarray) -> Program:
        """Inverse of :meth:`to_array`; ``array`` is ``int[length, 3]``."""
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(f"expected an int array of shape [length, 3], got {array.shape}")
        return cls(layout, tuple(Instruction(Op(int(o)), int(d), int(s)) for o, d, s in array))

    def append(self, ins: Instruction) -> Program:
        return Program(self.layout, (*self.code, ins))

    def first_undefined_read(self) -> tuple[int, int] | None:
        """``(index, location)`` of the first instruction that reads a location (or, as
        :data:`FLAGS`, the flags) before anything wrote it, or None. Memory starts defined
        (it holds the input); registers and the flags do not (a real machine holds garbage)."""
        defined = set(range(self.layout.n))
        for i, ins in enumerate(self.code):
            for loc in reads(ins):
                if loc not in defined:
                    return i, loc
            defined.add(writes(ins))
        return None


class ActionSpace:
    """Every legal ``(op, dst, src)`` for a layout and ISA, as a dense integer action space.

    ``actions`` is ``int32[num_actions, 3]`` in a fixed order: by opcode, then destination,
    then source. Forms that are legal but never useful (``mov r0, r0``) are kept here; the
    game's pruning rules remove them from the legal-action mask.
    """

    def __init__(self, layout: Layout, isa: Isa | str) -> None:
        self.layout = layout
        self.isa = get_isa(isa)
        rows = [
            (int(op), dst, src)
            for op in sorted(self.isa.ops)
            for dst in range(layout.num_locations)
            for src in range(layout.num_locations)
            if is_legal_form(layout, op, dst, src)
        ]
        self.actions = np.array(rows, dtype=np.int32).reshape(-1, 3)
        self.actions.setflags(write=False)
        self._index = {row: i for i, row in enumerate(rows)}

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    def instruction(self, action: int) -> Instruction:
        op, dst, src = self.actions[action]
        return Instruction(Op(int(op)), int(dst), int(src))

    def index(self, ins: Instruction) -> int:
        """Action number of an instruction; KeyError if it is not in this space."""
        key = (int(ins.op), int(ins.dst), int(ins.src))
        if key not in self._index:
            raise KeyError(
                f"{Op(ins.op).mnemonic} {self.layout.name(ins.dst)}, "
                f"{self.layout.name(ins.src)} is not in the {self.isa} action space"
            )
        return self._index[key]

    def __repr__(self) -> str:
        return f"ActionSpace({self.layout}, isa={self.isa}, num_actions={self.num_actions})"
