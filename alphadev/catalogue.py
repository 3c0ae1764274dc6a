"""The kernel catalogue (``asm/discovered/``): which file holds the shortest and the fastest
kernel for each sort size and ISA.

File names: ``sort{n}_{isa}_{length}.s`` holds a shortest kernel (a search adds one only when
it is strictly shorter than every such file); ``sort{n}_{isa}_fast.s`` holds the fastest kernel
found for that task (header keys ``cycles_throughput`` and ``cycles_latency``: the cost model's
predictions, :mod:`alphadev.cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphadev import asm
from alphadev.isa import Program

__all__ = ["CATALOGUE", "HeaderKernel", "header_kernels", "shortest_file"]

#: The committed catalogue.
CATALOGUE = Path(__file__).resolve().parent.parent / "asm" / "discovered"


@dataclass(frozen=True)
class HeaderKernel:
    """The kernel ``alphadev export --header`` writes for one sort size.

    ``lowering`` is ``"gpr"`` (cmp/cmov on general registers) or ``"sse"`` (``pminsd`` /
    ``pmaxsd`` on xmm registers; minmax kernels only). ``source`` names where it came from."""

    n: int
    program: Program
    lowering: str
    source: str


def shortest_file(folder: Path, n: int, isa: str) -> Path | None:
    """The shortest ``sort{n}_{isa}_{length}.s`` in ``folder`` (by the length in its name)."""
    best = None
    for path in folder.glob(f"sort{n}_{isa}_*.s"):
        length = path.stem.rsplit("_", 1)[-1]
        if length.isdigit() and (best is None or int(length) < best[0]):
            best = (int(length), path)
    return None if best is None else best[1]


def header_kernels(folder: Path = CATALOGUE) -> list[HeaderKernel]:
    """One kernel per n = 2..8 for the pasteable header (stub: the shortest cmov kernel in the
    catalogue, else the lowered sorting network)."""
    from alphadev import exact
    from alphadev.tasks import SortTask

    out = []
    for n in range(2, 9):
        path = shortest_file(folder, n, "cmov")
        if path is not None:
            out.append(HeaderKernel(n, asm.parse_file(path).program, "gpr", path.name))
            continue
        task = SortTask(n, n + 1, "cmov")
        program = exact.assemble(task, exact.network_core(task))
        out.append(HeaderKernel(n, program, "gpr", "lowered sorting network"))
    return out
