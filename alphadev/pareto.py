"""Short and fast: the trade-off set of the kernels a search found, and the final pick.

Every correct program an engine offers is scored by the cost model (:func:`alphadev.cost.
predict`: cycles per call in throughput and latency mode) and kept in a :class:`ParetoSet`
while no other kernel is at least as short and at least as fast in both modes. The objective
(``length``, ``throughput`` or ``latency``) picks from it: the shortest, or the lowest
predicted cycles in that mode (then the other mode, then length). With gcc, :func:`pick`
then times the few best candidates natively beside the lowered sorting network
(:func:`alphadev.native.time_kernels`, the hardware in the loop) and keeps the one measured
fastest in the objective's mode among those measured no slower than the network in the other
mode, the network included: a kernel measured slower than the network is never called the
fastest.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphadev.cost import MODES, best_lowering, predict
from alphadev.export import lowering_error
from alphadev.isa import Program
from alphadev.native import NativeTiming, TimedKernel, machine_name, time_kernels

__all__ = ["OBJECTIVES", "NativePick", "ParetoSet", "Scored", "pick", "score"]

#: What a search optimises: ``length`` (instructions), or predicted cycles per call in one mode.
OBJECTIVES = ("length", "throughput", "latency")
#: Kernels the set keeps at most (the oldest non-dominated ones stay; later ties are dropped).
LIMIT = 256


@dataclass(frozen=True)
class Scored:
    """A correct program with its length and predicted cycles per call (``throughput``,
    ``latency``: :class:`alphadev.cost.Prediction`), and who found it when (s)."""

    program: Program
    found_by: str
    seconds: float
    length: int
    throughput: float
    latency: float
    #: How it is exported and timed (:func:`alphadev.cost.best_lowering`: ``sse`` for
    #: mov/min/max kernels, else ``gpr``).
    lowering: str = "gpr"

    def key(self, objective: str) -> tuple[float, float, int]:
        """Sort key for ``objective``: lower is better."""
        if objective == "length":
            return (self.length, self.latency, self.throughput)
        other = "latency" if objective == "throughput" else "throughput"
        return (getattr(self, objective), getattr(self, other), self.length)

    def dominates(self, other: Scored) -> bool:
        """At least as short and as fast in both modes, and better in one."""
        mine = (self.length, self.throughput, self.latency)
        theirs = (other.length, other.throughput, other.latency)
        return all(a <= b for a, b in zip(mine, theirs, strict=True)) and mine != theirs


def score(program: Program, found_by: str, seconds: float) -> Scored:
    """``program`` scored by the cost model (Zen 3 parameters) in its faithful lowering."""
    lowering = best_lowering(program)
    p = predict(program, lowering)
    return Scored(program, found_by, seconds, len(program), p.throughput, p.latency, lowering)


class ParetoSet:
    """The non-dominated kernels over (length, predicted throughput, predicted latency), and
    beside them a pool of every distinct kernel scored (at most ``limit``, the fastest kept):
    the cost model ranks near-ties imperfectly, so the native pick draws on the pool."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.members: list[Scored] = []
        self.pool: dict[Program, Scored] = {}

    def add(self, item: Scored) -> bool:
        """Pool ``item``; keep it in the set unless a member dominates it or equals it in all
        three figures, and drop the members it dominates. True if it entered the set."""
        if item.program not in self.pool:
            self.pool[item.program] = item
            if len(self.pool) > self.limit:
                worst = max(self.pool.values(), key=lambda m: m.throughput + m.latency)
                del self.pool[worst.program]
        figures = (item.length, item.throughput, item.latency)
        for m in self.members:
            if m.dominates(item) or (m.length, m.throughput, m.latency) == figures:
                return False
        self.members = [m for m in self.members if not item.dominates(m)]
        if len(self.members) >= self.limit:
            return False
        self.members.append(item)
        return True

    def ranked(self, objective: str, *, pool: bool = False) -> list[Scored]:
        """Members (or, with ``pool``, every kernel pooled), best first for ``objective``."""
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}: expected one of {OBJECTIVES}")
        items = self.pool.values() if pool else self.members
        return sorted(items, key=lambda m: m.key(objective))

    def __len__(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class NativePick:
    """What the native timing said: every candidate timed (the network first), the machine."""

    timings: tuple[tuple[Scored, NativeTiming], ...]
    network: NativeTiming
    machine: str

    def ratio(self, item: Scored, mode: str) -> float:
        """``item``'s ns over the network's ns in ``mode`` (below 1: faster)."""
        for scored, timing in self.timings:
            if scored is item:
                return timing.of(mode) / self.network.of(mode)
        raise KeyError("not timed")

    def timing(self, item: Scored) -> NativeTiming:
        for scored, timing in self.timings:
            if scored is item:
                return timing
        raise KeyError("not timed")


def pick(
    pareto: ParetoSet,
    objective: str,
    network: Scored,
    *,
    native: bool = True,
    top: int = 4,
    repeats: int = 11,
) -> tuple[Scored | None, NativePick | None, str]:
    """The kernel ``objective`` asks for, ``(kernel, native timing or None, note)``.

    ``length``: the shortest (then the lowest predicted latency). A speed objective: the
    ``top`` kernels of the pool predicted fastest in that mode; where ``native`` and gcc is
    installed, they and ``network`` (the lowered sorting network, the baseline) are timed
    natively and, of those measured no slower than the network in the other mode, the one
    measured fastest in the objective's mode is kept (the network included). The note says
    what was timed or why nothing was."""
    ranked = pareto.ranked(objective, pool=objective != "length")
    if not ranked:
        return None, None, "no kernel"
    if objective == "length":
        return ranked[0], None, "shortest kernel"
    mode = objective
    assert mode in MODES
    if not native:
        return ranked[0], None, "predicted by the cost model (--no-native: nothing timed)"
    # Only kernels with an x86 lowering can be timed (with --isa full, a cmov after a min/max
    # reads flags the lowered min/max overwrites): the others are left out of the timing.
    field = [s for s in ranked if lowering_error(s.program, s.lowering) is None][:top]
    entries = [network] + [f for f in field if f.program != network.program]
    kernels = [TimedKernel(f"candidate {i}", e.program, e.lowering) for i, e in enumerate(entries)]
    timings = time_kernels(kernels, repeats=repeats, count=1 << 15)
    if timings is None:
        return ranked[0], None, "predicted by the cost model (gcc is not installed: nothing timed)"
    pairs = tuple(zip(entries, timings, strict=True))
    other = "latency" if mode == "throughput" else "throughput"
    # Only kernels measured no slower than the network in the other mode qualify (the network
    # itself always does), so the kernel handed back beats or matches it in both modes.
    eligible = [p for p in pairs if p[1].of(other) <= timings[0].of(other)]
    chosen = min(eligible, key=lambda p: (p[1].of(mode), p[0].key(objective)))[0]
    result = NativePick(pairs, timings[0], machine_name())
    note = f"timed natively: {len(entries) - 1} candidates and the network (gcc -O2)"
    return chosen, result, note
