"""Sorting networks and their lowering to the ISA: the constructed seeds of a search.

A network is a list of comparators ``(i, j)``, ``i < j``, each putting the smaller of wires
``i`` and ``j`` on ``i``. :func:`sorting_network` finds a shortest one by breadth-first search
over 0-1 inputs; :func:`network_core` lowers it with :func:`compare_exchange`. Neither is an
exact search over instructions: a lowered network is a starting point, not an optimum.
"""

from __future__ import annotations

import numpy as np

from alphadev.exact.space import Core
from alphadev.isa import Isa, Op
from alphadev.tasks import SortTask

__all__ = ["compare_exchange", "network_core", "sorting_network"]

_MOV, _CMP, _CMOVL, _CMOVG, _MIN, _MAX = (
    int(Op.MOV),
    int(Op.CMP),
    int(Op.CMOVL),
    int(Op.CMOVG),
    int(Op.MIN),
    int(Op.MAX),
)


def compare_exchange(isa: Isa, i: int, j: int, scratch: int) -> Core:
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


def network_core(task: SortTask) -> Core:
    """The core of a shortest sorting network lowered with :func:`compare_exchange`."""
    if task.registers <= task.n:
        raise ValueError("a compare-exchange needs a scratch register (registers > n)")
    core: Core = []
    for i, j in sorting_network(task.n):
        core += compare_exchange(task.isa, i, j, task.n)
    return core
