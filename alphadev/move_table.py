"""The game's moves: single instructions, and compare-exchange macro moves.

A move appends one or more instructions. ``--moves`` picks the set:

* ``instructions``: every instruction of the action space, one move each (the game as it was);
* ``macro``: the loads (``mov r, m``), the stores (``mov m, r``), and a compare-exchange of two
  registers ``cx a, b`` through a scratch register ``t`` (``a`` gets the smaller value, ``b``
  the larger, ``t`` the old ``a``), lowered in the fewest instructions the ISA allows:
  ``mov t, a; min a, b; max b, t`` (3) with min and max, else ``mov t, a; cmp a, b;
  cmovg a, b; cmovg b, t`` (4) with cmovg (or cmovge: on a tie both ways agree), else the
  same through ``cmp b, a`` and cmovl (or cmovle): every ISA that can sort has one;
* ``both``: every instruction and every compare-exchange.

The compare-exchange is AlphaDev's "swap" and "copy" moves generalised: a sorting network is a
handful of decisions instead of four times as many instructions. Its instructions are counted in
the program's length and latency like any other; the state and the legal mask stay exact (a
move is legal when each of its instructions is, in turn).

The table: ``int32[M, K, 4]``, move ``m``'s step ``k`` is ``(op, dst, src, instruction id)``
(the id in the task's :class:`~alphadev.isa.ActionSpace`), ``op = -1`` past its last step;
``K`` is 1 for ``instructions``.
"""

from __future__ import annotations

import numpy as np

from alphadev.isa import ActionSpace, Instruction, Op

__all__ = ["MOVE_KINDS", "PAD", "STEP_FIELDS", "compare_exchange", "move_names", "move_table"]

#: The move sets ``--moves`` accepts.
MOVE_KINDS = ("instructions", "macro", "both")
#: The ``op`` of a step past a move's last.
PAD = -1
#: Fields of one step of the table.
STEP_FIELDS = ("op", "dst", "src", "instruction")


def compare_exchange(space: ActionSpace, a: int, b: int, t: int) -> tuple[Instruction, ...]:
    """The shortest lowering of ``cx a, b`` through ``t`` in ``space``'s ISA (locations as
    :class:`~alphadev.isa.Layout` numbers them); ``()`` when the ISA has none."""
    ops = space.isa.ops
    copy = Instruction(Op.MOV, t, a)
    if Op.MIN in ops and Op.MAX in ops:
        return (copy, Instruction(Op.MIN, a, b), Instruction(Op.MAX, b, t))
    if Op.CMP not in ops:
        return ()
    for cmov, first, second in ((Op.CMOVG, a, b), (Op.CMOVGE, a, b), (Op.CMOVL, b, a),
                                (Op.CMOVLE, b, a)):  # fmt: skip
        if cmov in ops:  # after cmp first, second: move when a > b (or a >= b: a tie agrees)
            return (copy, Instruction(Op.CMP, first, second), Instruction(cmov, a, b),
                    Instruction(cmov, b, t))  # fmt: skip
    return ()


def _moves(space: ActionSpace, kind: str) -> list[tuple[Instruction, ...]]:
    layout = space.layout
    singles = [space.instruction(i) for i in range(space.num_actions)]
    if kind == "instructions":
        return [(ins,) for ins in singles]
    touches_memory = [layout.is_memory(ins.src) or layout.is_memory(ins.dst) for ins in singles]
    memory = [(ins,) for ins, mem in zip(singles, touches_memory, strict=True) if mem]
    registers = range(layout.n, layout.num_locations)
    exchanges = [
        lowering
        for a in registers
        for b in registers
        for t in registers
        if len({a, b, t}) == 3 and (lowering := compare_exchange(space, a, b, t))
    ]
    if not exchanges:
        raise ValueError(
            f"--moves {kind}: the ISA {space.isa.name} has no compare-exchange (it needs min and "
            f"max, or cmp and a cmov) or the task fewer than 3 registers"
        )
    return (memory if kind == "macro" else [(ins,) for ins in singles]) + exchanges


def move_table(space: ActionSpace, kind: str = "instructions") -> np.ndarray:
    """``int32[M, K, 4]``: the moves of ``kind`` (see the module docstring) over ``space``."""
    if kind not in MOVE_KINDS:
        raise ValueError(f"unknown move set {kind!r}: expected one of {', '.join(MOVE_KINDS)}")
    moves = _moves(space, kind)
    width = max(len(m) for m in moves)
    table = np.full((len(moves), width, 4), PAD, np.int32)
    for m, steps in enumerate(moves):
        for k, ins in enumerate(steps):
            table[m, k] = (int(ins.op), ins.dst, ins.src, space.index(ins))
    table.setflags(write=False)
    return table


def move_names(space: ActionSpace, table: np.ndarray) -> list[str]:
    """Each move as text: ``mov r0, m1`` for one instruction, ``cx r0, r1 (r4)`` for a
    compare-exchange (destination of the smaller value, of the larger, the scratch)."""
    name = space.layout.name
    out = []
    for steps in table:
        ops, dst, src = steps[:, 0], steps[:, 1], steps[:, 2]
        if ops[1] == PAD:
            out.append(f"{Op(int(ops[0])).mnemonic} {name(int(dst[0]))}, {name(int(src[0]))}")
        else:  # mov t, a first; then a gets the min and b the max
            t, a = int(dst[0]), int(src[0])
            b = int(steps[1, 2]) if int(steps[1, 1]) == a else int(steps[1, 1])
            out.append(f"cx {name(a)}, {name(b)} ({name(t)})")
    return out
