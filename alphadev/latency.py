"""Cost models of a straight-line program: length, critical path, and an issue-width schedule.

Latencies are in cycles, from a :class:`LatencyTable`. The defaults are round figures for a
modern x86-64 core: register ``mov``, ``cmp``, ``cmov*`` and ``min``/``max`` (pminsd/pmaxsd)
take 1 cycle; a load (``mov rX, mY``) takes 4 (an L1 hit, load to use); a store takes 1 (it
only has to enter the store buffer). They rank kernels; they are not a simulation of a core.

Dependencies are the true (read-after-write) ones only, as on a core that renames registers:
an instruction waits for the last writer of every location it reads
(:func:`alphadev.isa.reads`: a ``cmov`` also waits for the last ``cmp``, the flags).
"""

from __future__ import annotations

from dataclasses import dataclass

from alphadev.isa import FLAG_READERS, Instruction, Layout, Op, Program, reads, writes

__all__ = ["LATENCY_MODELS", "LatencyTable", "critical_path", "latency", "length", "schedule"]


@dataclass(frozen=True)
class LatencyTable:
    """Cycles per instruction kind."""

    mov: int = 1
    load: int = 4
    store: int = 1
    cmp: int = 1
    cmov: int = 1
    minmax: int = 1

    def cycles(self, layout: Layout, ins: Instruction) -> int:
        op = Op(ins.op)
        if op == Op.MOV:
            if layout.is_memory(ins.src):
                return self.load
            if layout.is_memory(ins.dst):
                return self.store
            return self.mov
        if op == Op.CMP:
            return self.cmp
        if op in FLAG_READERS:
            return self.cmov
        return self.minmax


DEFAULT_TABLE = LatencyTable()


def length(program: Program) -> int:
    """Instructions, loads and stores included (AlphaDev's convention)."""
    return len(program)


def _finish(program: Program, table: LatencyTable, width: int | None) -> int:
    """Cycle at which the last result is ready: each instruction issues at the first cycle at
    or after its operands are ready that has an issue slot free (``width=None``: unlimited)."""
    issued: dict[int, int] = {}  # cycle -> instructions issued in it
    done: dict[int, int] = {}  # location -> cycle its last value is ready
    finish = 0
    for ins in program.code:
        cycle = max((done.get(loc, 0) for loc in reads(ins)), default=0)
        if width is not None:
            while issued.get(cycle, 0) >= width:
                cycle += 1
            issued[cycle] = issued.get(cycle, 0) + 1
        end = cycle + table.cycles(program.layout, ins)
        done[writes(ins)] = end
        finish = max(finish, end)
    return finish


def critical_path(program: Program, table: LatencyTable = DEFAULT_TABLE) -> int:
    """Longest chain of true dependencies, in cycles (the time on an infinitely wide core)."""
    return _finish(program, table, None)


def schedule(program: Program, width: int = 4, table: LatencyTable = DEFAULT_TABLE) -> int:
    """Cycles on a core that issues at most ``width`` instructions per cycle.

    Greedy list schedule in program order: each instruction issues in the first cycle at or
    after its operands are ready that still has an issue slot free. Returns the cycle at which
    the last result is ready. ``width=1`` gives at least the length; a large width gives the
    critical path.
    """
    if width < 1:
        raise ValueError(f"issue width must be at least 1, got {width}")
    return _finish(program, table, width)


LATENCY_MODELS = {
    "length": length,
    "critical_path": critical_path,
    "schedule": schedule,
}


def latency(program: Program, model: str = "length") -> int:
    """The named cost model of ``program``: ``length``, ``critical_path`` or ``schedule``
    (4-wide issue, default table)."""
    if model not in LATENCY_MODELS:
        raise ValueError(f"unknown latency model {model!r}; expected one of {list(LATENCY_MODELS)}")
    return LATENCY_MODELS[model](program)
