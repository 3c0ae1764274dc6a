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

__all__ = [
    "CATALOGUE",
    "HeaderKernel",
    "fast_file",
    "fast_is_better",
    "header_kernels",
    "predicted_cycles",
    "shortest_file",
]

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


def fast_file(folder: str | Path, n: int, isa: str) -> Path:
    """Where the fastest kernel of ``sort{n}`` in ``isa`` lives in ``folder``."""
    return Path(folder) / f"sort{n}_{isa}_fast.s"


def predicted_cycles(path: Path) -> tuple[float, float, int, str] | None:
    """``(throughput, latency, length, lowering)`` of the kernel in ``path``: the cost model's
    cycles per call in its faithful lowering (predicted anew, not read from the header, so
    kernels scored by older parameters or in another lowering compare fairly); None when the
    file is missing or unreadable."""
    from alphadev.cost import best_lowering, predict

    try:
        program = asm.parse_file(path).program
    except (OSError, ValueError):
        return None
    lowering = best_lowering(program)
    p = predict(program, lowering)
    return p.throughput, p.latency, len(program), lowering


def fast_is_better(path: Path, throughput: float, latency: float, length: int) -> tuple[bool, str]:
    """Whether a kernel predicted at ``throughput`` and ``latency`` cycles per call may replace
    the fastest kernel at ``path``: yes where there is none, never where ``path`` is not a
    regular kernel file this code can read (a folder, a FIFO, a link, a damaged file), else
    only if it is predicted no slower in either mode and faster in one, or as fast and
    shorter. The reason, for the user, comes with the answer."""
    if not path.exists() and not path.is_symlink():
        return True, "no fastest kernel yet"
    if path.is_symlink() or not path.is_file():
        return False, f"{path} is not a regular file; nothing replaces it"
    old = predicted_cycles(path)
    if old is None:
        return False, f"{path} cannot be read as a kernel; nothing replaces it"
    mine, theirs = (throughput, latency), old[:2]
    if all(a <= b for a, b in zip(mine, theirs, strict=True)) and mine != theirs:
        return True, f"predicted faster than {path}"
    if mine == theirs and length < old[2]:
        return True, f"as fast as {path} and shorter"
    return False, (
        f"{path} is predicted at least as fast ({old[0]:.2f} / {old[1]:.2f} cycles "
        f"throughput / latency, {old[2]} instructions; this one {throughput:.2f} / "
        f"{latency:.2f}, {length})"
    )


def header_kernels(folder: Path = CATALOGUE) -> list[HeaderKernel]:
    """One kernel per n = 2..8 for the pasteable header: of the catalogue's fastest kernels
    (``sort{n}_cmov_fast.s``, ``sort{n}_minmax_fast.s``), the one predicted fastest in latency
    (then throughput) in its faithful lowering (minmax: SSE4.1); else the shortest cmov
    kernel; else the lowered sorting network."""
    from alphadev import exact
    from alphadev.tasks import SortTask

    out = []
    for n in range(2, 9):
        scored = []
        for isa in ("cmov", "minmax"):
            path = fast_file(folder, n, isa)
            figures = predicted_cycles(path) if path.is_file() else None
            if figures is not None:
                scored.append(((figures[1], figures[0], figures[2]), figures[3], path))
        if scored:
            _, lowering, path = min(scored)
            out.append(HeaderKernel(n, asm.parse_file(path).program, lowering, path.name))
            continue
        path = shortest_file(folder, n, "cmov")
        if path is not None:
            out.append(HeaderKernel(n, asm.parse_file(path).program, "gpr", path.name))
            continue
        task = SortTask(n, n + 1, "cmov")
        program = exact.assemble(task, exact.network_core(task))
        out.append(HeaderKernel(n, program, "gpr", "lowered sorting network"))
    return out
