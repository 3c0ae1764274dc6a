"""Sorting networks and their lowering to the ISA: the constructed seeds of a search.

A network is a list of comparators ``(i, j)``, ``i < j``, each putting the smaller of wires
``i`` and ``j`` on ``i``. :func:`sorting_network` builds one of optimal size for n <= 8;
:func:`network_core` lowers it with :func:`compare_exchange`. Neither is an
exact search over instructions: a lowered network is a starting point, not an optimum.
"""

from __future__ import annotations

from alphadev.exact.space import Core
from alphadev.isa import Isa, Op
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask

__all__ = ["OPTIMAL_COMPARATORS", "compare_exchange", "network_core", "sorting_network"]

_MOV, _CMP, _CMOVL, _CMOVG, _CMOVLE, _CMOVGE, _MIN, _MAX = (
    int(Op.MOV),
    int(Op.CMP),
    int(Op.CMOVL),
    int(Op.CMOVG),
    int(Op.CMOVLE),
    int(Op.CMOVGE),
    int(Op.MIN),
    int(Op.MAX),
)


def compare_exchange(isa: Isa, i: int, j: int, scratch: int) -> Core:
    """Core instructions that put ``min`` in register ``i`` and ``max`` in ``j`` using
    ``scratch``: ``mov t, ri; min ri, rj; max rj, t`` when the ISA has min/max, else
    ``mov t, ri; cmp ri, rj; cmovg ri, rj; cmovg rj, t`` (or the same with the ISA's one
    cmov, the compare turned around for ``cmovl``/``cmovle``)."""
    if Op.MIN in isa.ops and Op.MAX in isa.ops:
        return [(_MOV, scratch, i), (_MIN, i, j), (_MAX, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVG in isa.ops:
        return [(_MOV, scratch, i), (_CMP, i, j), (_CMOVG, i, j), (_CMOVG, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVL in isa.ops:
        return [(_MOV, scratch, i), (_CMP, j, i), (_CMOVL, i, j), (_CMOVL, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVGE in isa.ops:  # ties exchange equal values: still sorted
        return [(_MOV, scratch, i), (_CMP, i, j), (_CMOVGE, i, j), (_CMOVGE, j, scratch)]
    if Op.CMP in isa.ops and Op.CMOVLE in isa.ops:
        return [(_MOV, scratch, i), (_CMP, j, i), (_CMOVLE, i, j), (_CMOVLE, j, scratch)]
    raise ValueError(f"ISA {isa.name} cannot express a compare-exchange")


def sorting_network(n: int) -> list[tuple[int, int]]:
    """A sorting network on ``n`` wires: Batcher's odd-even merge sort on the next power of
    two, without the comparators that touch a wire ``>= n`` (those wires hold +infinity, so
    their comparators never exchange). For n <= 8 its size is the optimum,
    :data:`OPTIMAL_COMPARATORS` (1, 3, 5, 9, 12, 16, 19 for n = 2..8)."""
    if n < 1:
        raise ValueError(f"a sorting network needs at least one wire, got n={n}")
    width = 1
    while width < n:
        width *= 2
    network = []
    merged = 1  # sorted runs of this length are merged pairwise in each pass
    while merged < width:
        gap = merged
        while gap >= 1:
            for base in range(gap % merged, width - gap, 2 * gap):
                for i in range(min(gap, width - base - gap)):
                    lo, hi = base + i, base + i + gap
                    if lo // (2 * merged) == hi // (2 * merged) and hi < n:
                        network.append((lo, hi))
            gap //= 2
        merged *= 2
    return network


def network_core(task: SortTask) -> Core:
    """The core of a shortest sorting network lowered with :func:`compare_exchange`."""
    if task.registers <= task.n:
        raise ValueError("a compare-exchange needs a scratch register (registers > n)")
    core: Core = []
    for i, j in sorting_network(task.n):
        core += compare_exchange(task.isa, i, j, task.n)
    return core
