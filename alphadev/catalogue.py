"""The kernel catalogue (``asm/discovered/``, or a search's ``--out``): which file holds the
shortest and the fastest kernel for each sort size and ISA, and how a search adds one.

File names: ``sort{n}_{isa}_{length}.s`` holds a shortest kernel (a search adds one only when
it is strictly shorter than every such kernel: :func:`write_kernel`); ``sort{n}_{isa}_fast.s``
holds the fastest kernel found for that task (header keys ``cycles_throughput`` and
``cycles_latency``: the cost model's predictions, :mod:`alphadev.cost`; replaced only by a
kernel predicted no slower in both modes: :func:`write_fastest`). ``{isa}`` is
:func:`isa_tag`: ``cmov``, ``minmax`` or ``full``, and for any other opcode set ``custom-``
and its opcodes (``custom-mov-cmp-cmovl``), so that a subset's kernels never share a name
with, or are compared against, a named ISA's.

The catalogue never trusts a file name alone: a kernel counts only if it is a regular file (not
a link, folder, FIFO, device or socket) whose header parses, names the task and ISA of its
file name, whose length is the one in its name, and which sorts every tie pattern
(:func:`read_kernel`). What is not a regular file is never replaced, not even with ``force``.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphadev import asm
from alphadev.atomic import not_regular, write_atomic
from alphadev.isa import ISAS, Isa, Program, get_isa

__all__ = [
    "CATALOGUE",
    "HeaderKernel",
    "catalogue_best",
    "fast_file",
    "fast_is_better",
    "header_kernels",
    "isa_tag",
    "kernel_header",
    "predicted_cycles",
    "read_kernel",
    "shortest_file",
    "write_fastest",
    "write_kernel",
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


def isa_tag(isa: str | Isa) -> str:
    """The ISA's part of a catalogue file name: a named ISA's name (``cmov``, ``minmax``,
    ``full``); for any other opcode set, even one equal to a named ISA's, ``custom-`` and its
    opcodes joined by ``-`` in the ISA's own order (``custom-mov-cmp-cmovl``: no comma in a
    file name, and no name a named ISA's file pattern matches)."""
    isa = get_isa(isa)
    if ISAS.get(isa.name) == isa:
        return isa.name
    return "custom-" + "-".join(op.mnemonic for op in sorted(isa.ops))


def _regular(path: Path) -> bool:
    """A regular file, not a link (the only kind of file the catalogue reads or replaces);
    looked at with ``lstat``, so a FIFO is never opened."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_kernel(path: Path, n: int, isa: str | Isa) -> Program | None:
    """The kernel in ``path`` if it is one of the catalogue's for ``sort{n}`` in ``isa``, else
    None: ``path`` is a regular file (not a link), it parses, its header names ``sort{n}`` and
    an ISA of the same :func:`isa_tag` (a header without ``isa``: every opcode in ``isa``), and
    it sorts every tie pattern with no undefined read."""
    from alphadev.tasks import verify

    if not _regular(path):
        return None
    try:
        listing = asm.parse_file(path)
    except (OSError, ValueError):  # AsmError, HeaderConflict, a missing task header
        return None
    program = listing.program
    stated = listing.isa
    if stated is not None:
        if isa_tag(stated) != isa_tag(isa):
            return None
    elif not program.ops_used <= get_isa(isa).ops:
        return None
    if program.layout.n != n or listing.header.get("task", "").lower() != f"sort{n}":
        return None
    try:
        if not verify(program, n, random_rows=0).correct:
            return None
    except ValueError:
        return None
    return program


def _named(folder: Path, n: int, isa: str | Isa) -> list[tuple[int, Path]]:
    """The ``(length, path)`` of every entry of ``folder`` named exactly
    ``sort{n}_{isa_tag}_{length}.s``, shortest first (whatever each entry is)."""
    pattern = re.compile(rf"sort{n}_{re.escape(isa_tag(isa))}_([0-9]{{1,9}})\.s")
    try:
        names = os.listdir(folder)
    except (OSError, ValueError):  # no folder yet, or not one
        return []
    found = []
    for name in names:
        match = pattern.fullmatch(name)
        if match is not None:
            found.append((int(match.group(1)), Path(folder) / name))
    return sorted(found)


def catalogue_best(out_dir: str | Path, n: int, isa: str | Isa) -> tuple[int, Path] | None:
    """The shortest kernel for ``sort{n}`` in ``isa`` already in ``out_dir``, as ``(length,
    path)``, or None. Only a file named ``sort{n}_{isa_tag}_{length}.s`` that :func:`read_kernel`
    accepts and whose kernel has that length counts: a folder, FIFO or link of that name, a
    damaged file, or one whose name lies about its length is no kernel (and blocks nothing)."""
    for length, path in _named(Path(out_dir), n, isa):
        program = read_kernel(path, n, isa)
        if program is not None and len(program) == length:
            return length, path
    return None


def shortest_file(folder: Path, n: int, isa: str | Isa) -> Path | None:
    """The path of :func:`catalogue_best`, or None."""
    best = catalogue_best(folder, n, isa)
    return None if best is None else best[1]


def fast_file(folder: str | Path, n: int, isa: str | Isa) -> Path:
    """Where the fastest kernel of ``sort{n}`` in ``isa`` lives in ``folder``."""
    return Path(folder) / f"sort{n}_{isa_tag(isa)}_fast.s"


def _figures(program: Program) -> tuple[float, float, int, str]:
    from alphadev.cost import best_lowering, predict

    lowering = best_lowering(program)
    p = predict(program, lowering)
    return p.throughput, p.latency, len(program), lowering


def predicted_cycles(path: Path) -> tuple[float, float, int, str] | None:
    """``(throughput, latency, length, lowering)`` of the kernel in ``path``: the cost model's
    cycles per call in its faithful lowering (predicted anew, not read from the header, so
    kernels scored by older parameters or in another lowering compare fairly); None when the
    file is missing, unreadable or not a regular file."""
    if not _regular(path):
        return None
    try:
        program = asm.parse_file(path).program
    except (OSError, ValueError):
        return None
    return _figures(program)


def fast_is_better(
    path: Path,
    throughput: float,
    latency: float,
    length: int,
    *,
    n: int | None = None,
    isa: str | Isa | None = None,
) -> tuple[bool, str]:
    """Whether a kernel predicted at ``throughput`` and ``latency`` cycles per call may replace
    the fastest kernel at ``path``: yes where there is none, never where ``path`` is not a
    regular kernel file this code can read (a folder, a FIFO, a link, a damaged file; with
    ``n`` and ``isa``, also one :func:`read_kernel` refuses: another task's, another ISA's, a
    wrong one), else only if it is predicted no slower in either mode and faster in one, or
    as fast and shorter. The reason, for the user, comes with the answer."""
    if not os.path.lexists(path):
        return True, "no fastest kernel yet"
    if not _regular(path):
        return False, f"{path} is not a regular file; nothing replaces it"
    if n is not None and isa is not None:
        program = read_kernel(path, n, isa)
        old = None if program is None else _figures(program)
    else:
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


def search_command(cfg: Any) -> str:
    """The ``alphadev search`` command line that runs the search ``cfg`` (a
    ``search.SearchConfig``) again: same task, engines, seed, objective and time limit. An
    engine run alone (``--method``) repeats its result with its seed; the race of ``auto``
    depends on which lane finds what first."""
    words = ["alphadev search", f"--n {cfg.n}", f"--isa {shlex.quote(cfg.isa)}"]
    if cfg.registers is not None:
        words.append(f"--registers {cfg.registers}")
    words += [f"--method {cfg.method}", f"--seed {cfg.seed}", f"--time-limit {cfg.time_limit:g}"]
    if cfg.objective != "latency":
        words.append(f"--objective {cfg.objective}")
    if cfg.checkpoint is not None and cfg.method in ("auto", "mcts"):
        words.append(f"--checkpoint {shlex.quote(cfg.checkpoint)}")
    if cfg.method in ("auto", "mcts") and (cfg.simulations != 64 or cfg.gumbel):
        words.append(f"--simulations {cfg.simulations}" + (" --gumbel" if cfg.gumbel else ""))
    return " ".join(words)


def kernel_header(result: Any, kernel: Any = None, verified: Any = None) -> dict[str, str]:
    """The ``.s`` header of ``kernel`` (a ``search.Candidate`` or ``pareto.Scored``; default:
    the shortest, ``result.best``) found by the search ``result`` (a
    :class:`alphadev.search.SearchResult`, typed loosely: the catalogue sits below the
    search), verified by ``verified`` (default ``result.verified``)."""
    from alphadev import pareto
    from alphadev.latency import critical_path

    cfg = result.config
    kernel = result.best if kernel is None else kernel
    ver = result.verified if verified is None else verified
    assert kernel is not None and ver is not None
    program = kernel.program
    speed = pareto.score(program, kernel.found_by, kernel.seconds)
    header = {
        "task": f"sort{cfg.n}",
        "isa": get_isa(cfg.isa).name,
        "registers": str(program.layout.registers),
        "length": str(len(program)),
        "core_length": str(len(program) - 2 * cfg.n),
        "critical_path": str(critical_path(program)),
        "cycles_throughput": f"{speed.throughput:.2f}",
        "cycles_latency": f"{speed.latency:.2f}",
        "lowering": speed.lowering,
        "found_by": f"alphadev search ({kernel.found_by})",
        "optimal": "yes, no shorter core in the enumeration space (exact descent exhausted)"
        if result.optimal and len(program) == result.best.length
        else "not proved",
        "command": search_command(cfg),
        "seed": str(cfg.seed),
        "simulations": str(result.simulations),
        "seconds": f"{kernel.seconds:.2f}",
        "verified": f"{ver.tie_rows} tie-pattern rows + {ver.random_rows} random int32 rows",
    }
    native = result.native
    if native is not None and any(item.program == program for item, _ in native.timings):
        item = next(item for item, _ in native.timings if item.program == program)
        header["native"] = (
            f"throughput {native.ratio(item, 'throughput'):.3f}x, latency "
            f"{native.ratio(item, 'latency'):.3f}x the lowered sorting network "
            f"({native.machine}, -O2)"
        )
    return header


def _not_replaced(path: Path) -> str | None:
    """Why nothing may be written at ``path`` whatever ``force`` says (a link, folder, FIFO,
    device or socket is there), or None."""
    if not_regular(path) is None:
        return None
    return f"not written: {path} is not a regular file (nothing replaces it)"


def write_kernel(
    result: Any, out_dir: str | Path, *, force: bool = False
) -> tuple[Path | None, str]:
    """Write the verified best program of the search ``result`` to
    ``out_dir/sort{n}_{isa_tag}_{length}.s`` atomically, unless ``out_dir`` already holds a
    kernel for the task at least as short (:func:`catalogue_best`), or a regular file of that
    name that is no such kernel (then nothing is written, unless ``force``), or something that
    is not a regular file (then nothing is written at all). Returns ``(path written or None,
    what happened)``."""
    if not result.correct:
        raise ValueError("only a verified program is written")
    n, isa = result.config.n, result.config.isa
    header = kernel_header(result)
    path = Path(out_dir) / f"sort{n}_{isa_tag(isa)}_{header['length']}.s"
    refused = _not_replaced(path)
    if refused is not None:
        return None, refused
    existing = catalogue_best(out_dir, n, isa)
    if existing is not None and existing[0] <= result.best.length and not force:
        again = "re-discovered" if existing[0] == result.best.length else "beaten by"
        return None, (
            f"not written: {again} {existing[1]} ({existing[0]} instructions), already in "
            f"{out_dir}; a search adds only a strictly shorter kernel (--out DIR writes this "
            "one elsewhere, --force replaces)"
        )
    if os.path.lexists(path) and not force:  # a regular file there, but not a kernel of ours
        return None, (
            f"not written: {path} exists and is not a verified sort{n} {isa_tag(isa)} kernel "
            "of that length; nothing replaces it (--out DIR writes this one elsewhere, --force "
            "replaces)"
        )
    write_atomic(path, asm.format(result.best.program, header=header))
    return path, f"written to {path}"


def write_fastest(
    result: Any, out_dir: str | Path, *, force: bool = False
) -> tuple[Path | None, str]:
    """Write the objective's pick (``result.fastest``, a speed objective only) to
    ``out_dir/sort{n}_{isa_tag}_fast.s`` atomically, unless that file holds a kernel predicted
    at least as fast in both modes, or is no readable kernel of the task
    (:func:`fast_is_better`; ``force`` writes anyway), or is not a regular file (never
    replaced). Returns ``(path written or None, what happened)``."""
    fastest = result.fastest
    if fastest is None or result.fastest_verified is None or not result.fastest_verified.correct:
        raise ValueError("only a verified program is written")
    header = kernel_header(result, fastest, result.fastest_verified)
    header["objective"] = result.config.objective
    n, isa = result.config.n, result.config.isa
    path = fast_file(out_dir, n, isa)
    refused = _not_replaced(path)
    if refused is not None:
        return None, refused
    better, why = fast_is_better(
        path, fastest.throughput, fastest.latency, fastest.length, n=n, isa=isa
    )
    if not better and not force:
        return None, f"not written: {why} (--force to write anyway)"
    write_atomic(path, asm.format(fastest.program, header=header))
    return path, f"written to {path}"


def header_kernels(folder: Path = CATALOGUE) -> list[HeaderKernel]:
    """One kernel per n = 2..8 for the pasteable header: of the catalogue's fastest kernels
    (``sort{n}_cmov_fast.s``, ``sort{n}_minmax_fast.s``, each counted only if
    :func:`read_kernel` accepts it), the one predicted fastest in latency (then throughput)
    in its faithful lowering (minmax: SSE4.1); else the shortest cmov kernel; else the
    lowered sorting network."""
    from alphadev import exact
    from alphadev.tasks import SortTask

    out = []
    for n in range(2, 9):
        scored = []
        for isa in ("cmov", "minmax"):
            path = fast_file(folder, n, isa)
            program = read_kernel(path, n, isa)
            if program is not None:
                figures = _figures(program)
                scored.append(((figures[1], figures[0], figures[2]), figures[3], path, program))
        if scored:
            _, lowering, path, program = min(scored, key=lambda item: item[:3])
            out.append(HeaderKernel(n, program, lowering, path.name))
            continue
        path = shortest_file(folder, n, "cmov")
        if path is not None:
            out.append(HeaderKernel(n, asm.parse_file(path).program, "gpr", path.name))
            continue
        task = SortTask(n, n + 1, "cmov")
        program = exact.assemble(task, exact.network_core(task))
        out.append(HeaderKernel(n, program, "gpr", "lowered sorting network"))
    return out
