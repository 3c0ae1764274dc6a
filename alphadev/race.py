"""The race: lanes (engines on worker threads, or jobs on Ray) writing to one best-so-far, and
the clock that stops them.

* :class:`Race`: the best-so-far every lane offers its correct programs to (the shortest, then
  the lowest critical path), the length/speed trade-off set of everything offered, the stop
  signal every engine polls, and the result (:class:`SearchResult`, the winner verified). A
  race may be one of several (on Ray: one per worker, and the driver's): ``on_better`` tells
  the others of each better program, ``known_length`` is the best length they told.
* :func:`start_lane`: a lane on a daemon thread; an exception it raises stops the race and is
  kept for the calling thread.
* :func:`watch`: the one clock-watching loop (``search``, ``search --ray``, ``prove`` and
  ``prove --ray``): until the race stops, stop it at the time limit, when its lanes have all
  ended, or for a reason of the caller's; between two looks, wait and report progress.
* :func:`stop_lanes`: stop the race and wait at most :data:`STOP_GRACE` seconds for its lanes;
  one that has not stopped by then (a numba kernel compiling on a first run) is left behind.

The engines themselves (what each lane runs) are :mod:`alphadev.search`'s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alphadev import exact, pareto
from alphadev.isa import Program
from alphadev.latency import critical_path
from alphadev.pareto import NativePick, ParetoSet, Scored
from alphadev.precompile import Precompiler
from alphadev.tasks import SortTask, VerifyResult, verify

__all__ = [
    "LOOK_EVERY",
    "STOP_GRACE",
    "Candidate",
    "Race",
    "SearchResult",
    "start_lane",
    "stop_lanes",
    "watch",
]

#: Seconds a lane may take, once told to stop, to reach its next poll before the search goes
#: on without it.
STOP_GRACE = 1.0
#: Seconds between two looks at the clock (at most).
LOOK_EVERY = 0.25


@dataclass(frozen=True)
class Candidate:
    """A correct program (on the tie-pattern rows) and when and how it was found."""

    program: Program
    length: int
    core_length: int
    critical_path: int
    found_by: str
    seconds: float

    @property
    def rank(self) -> tuple[int, int]:
        return (self.length, self.critical_path)


@dataclass
class SearchResult:
    """The outcome of a search (:func:`alphadev.search.run_search`,
    :func:`alphadev.distributed.search_on_ray`).

    ``config`` is the :class:`alphadev.search.SearchConfig` it ran with (typed loosely: the race
    sits below the search). ``optimal`` is True when the enumeration exhausted every shorter
    core in its space. ``states`` counts MCTS nodes created plus enumeration states generated.
    """

    config: Any
    best: Candidate | None
    verified: VerifyResult | None
    optimal: bool
    stop_reason: str
    seconds: float
    simulations: int
    mcts_states: int
    enumeration_states: int
    evaluator: str
    history: list[Candidate] = field(default_factory=list)
    #: Lanes that had not stopped :data:`STOP_GRACE` seconds after the stop (on a first run:
    #: still compiling their numba kernels) and were left behind.
    left_behind: tuple[str, ...] = ()
    #: what each lane of ``left_behind`` was doing when last said ("" when not known)
    left_behind_doing: tuple[str, ...] = ()
    #: kernel groups the compile helper goes on compiling after the search (first runs)
    compiling_after: tuple[str, ...] = ()
    #: The tables that reached their share of ``--memory`` and how the search went on.
    memory_capped: tuple[str, ...] = ()
    #: On Ray (:mod:`alphadev.distributed`): the workers and what they ran; else empty.
    cluster: str = ""
    #: The kernel the objective asks for (a speed objective: predicted and, with gcc, timed
    #: fastest; ``length``: the shortest), verified; None when nothing was found.
    fastest: Scored | None = None
    fastest_verified: VerifyResult | None = None
    #: The native timing behind ``fastest`` (None: not timed), and how it was chosen.
    native: NativePick | None = None
    pick_note: str = ""
    #: How many kernels the trade-off set (length, predicted cycles) held at the end.
    pareto_size: int = 0
    #: The lowered sorting network, scored: the baseline of every speed figure.
    network: Scored | None = None

    @property
    def states(self) -> int:
        return self.mcts_states + self.enumeration_states

    @property
    def correct(self) -> bool:
        return self.best is not None and self.verified is not None and self.verified.correct


class Race:
    """The best-so-far the lanes write to, and the stop signal."""

    def __init__(self, task: SortTask, target: int | None, t0: float) -> None:
        self.task = task
        self.target = target
        self.t0 = t0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.control = exact.SearchControl()
        self.best: Candidate | None = None
        self.history: list[Candidate] = []
        self.optimal = False
        self.simulations = 0
        self.mcts_states = 0
        self.evaluator = "none"
        self.errors: list[BaseException] = []
        self.stop_reason = "time limit"
        self.capped: list[str] = []  # tables that reached their share of the memory budget
        self.doing: dict[str, str] = {}  # lane name -> a slow step it is in (for the notes)
        self.pareto = ParetoSet()
        self.network: Scored | None = None
        # Kernels a lane needs later, compiled by a helper process on a first run; until the
        # cost model is compiled, programs offered wait in ``unscored`` (program, by, seconds).
        self.precompiler = Precompiler(())
        self.unscored: list[tuple[Program, str, float]] = []
        # With other races (on Ray): told of each better program, and the best length they know.
        self.on_better: Callable[[Candidate], None] | None = None
        self.known_length: int | None = None
        # The comparator search's cost-to-go (an exact.comparators.Guide; None: the hand rule).
        self.guide = None

    def consider(self, program: Program, found_by: str) -> None:
        """Score a correct program (on the tie rows) for the speed objectives and keep it in the
        trade-off set if nothing found so far is as short and as fast in both modes. While
        the cost model is still being compiled by the helper, the program waits unscored."""
        with self.lock:
            self.unscored.append((program, found_by, time.perf_counter() - self.t0))
        if self.precompiler.is_ready("cost"):
            self.score_unscored()

    def score_unscored(self) -> None:
        """Score the programs offered while the cost model was compiling (its first use here
        compiles it, if the helper could not)."""
        with self.lock:
            waiting, self.unscored = self.unscored, []
        items = [pareto.score(program, by, seconds) for program, by, seconds in waiting]
        with self.lock:
            for item in items:
                self.pareto.add(item)

    def offer(self, program: Program, found_by: str) -> bool:
        """Record ``program`` (correct on the tie rows) if it beats the best; True if it did
        (``on_better`` is then told). Every program offered also enters the trade-off set
        (:meth:`consider`)."""
        self.consider(program, found_by)
        n = self.task.n
        cand = Candidate(
            program=program,
            length=len(program),
            core_length=len(program) - 2 * n,
            critical_path=critical_path(program),
            found_by=found_by,
            seconds=time.perf_counter() - self.t0,
        )
        with self.lock:
            if self.best is not None and cand.rank >= self.best.rank:
                return False
            self.best = cand
            self.history.append(cand)
            if self.target is not None and cand.length <= self.target:
                self.finish("target reached")
        if self.on_better is not None:
            self.on_better(cand)
        return True

    def best_length(self) -> int | None:
        """The best length known: this race's, or ``known_length`` where that is shorter (the
        engines prune with it)."""
        best = self.best
        lengths = [x for x in (None if best is None else best.length, self.known_length)
                   if x is not None]  # fmt: skip
        return min(lengths, default=None)

    def result(self, config: Any, seconds: float, **counters) -> SearchResult:
        """The :class:`SearchResult` of this best-so-far, its winner verified (all tie
        patterns and random int32 rows); ``counters`` replace the ones kept here (a search on
        Ray sums its workers')."""
        with self.lock:
            best = self.best
            history = list(self.history)
        verified = verify(best.program, self.task) if best is not None else None
        if verified is not None and not verified.correct:
            raise AssertionError(f"search returned a program that fails verification: {verified}")
        fields = {"simulations": self.simulations, "mcts_states": self.mcts_states,
                  "enumeration_states": self.control.nodes, "evaluator": self.evaluator,
                  "memory_capped": tuple(self.capped), **counters}  # fmt: skip
        if best is not None:
            fields.update(self.fastest(config, best, verified))
        return SearchResult(config=config, best=best, verified=verified, optimal=self.optimal,
                            stop_reason=self.stop_reason, seconds=seconds, history=history,
                            **fields)  # fmt: skip

    def fastest(self, config: Any, best: Candidate, verified: VerifyResult) -> dict:
        """The objective's pick from the trade-off set (:func:`alphadev.pareto.pick`: timed
        natively beside the lowered network unless ``--no-native``, gcc is missing or the
        search was interrupted), verified, as :class:`SearchResult` fields."""
        task = self.task
        self.precompiler.wait("cost")
        self.score_unscored()
        network = pareto.score(exact.assemble(task, exact.network_core(task)),
                               "sorting network (constructed)", 0.0)  # fmt: skip
        with self.lock:
            self.pareto.add(pareto.score(best.program, best.found_by, best.seconds))
            front = self.pareto
        native = not config.no_native and self.stop_reason != "interrupted"
        chosen, timed, note = pareto.pick(front, config.objective, network, native=native)
        if chosen is None:
            return {}
        checked = verified if chosen.program == best.program else verify(chosen.program, task)
        if not checked.correct:
            raise AssertionError(f"the fastest kernel fails verification: {checked}")
        return {"fastest": chosen, "fastest_verified": checked, "native": timed,
                "pick_note": note, "pareto_size": len(front), "network": network}  # fmt: skip

    def finish(self, reason: str) -> None:
        """Stop the race (every engine sees it at its next poll); the first reason given
        stands."""
        if not self.stop.is_set():
            self.stop_reason = reason
        self.stop.set()
        self.control.stop()


def start_lane(race: Race, name: str, body: Callable[[], None]) -> threading.Thread:
    """Run ``body`` on a daemon thread named ``name``; an exception it raises stops the race
    (``"error"``) and waits in ``race.errors`` for the calling thread to raise it again."""

    def lane() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the calling thread
            race.errors.append(exc)
            race.finish("error")

    thread = threading.Thread(target=lane, name=name, daemon=True)
    thread.start()
    return thread


def watch(
    race: Race,
    deadline: float,
    *,
    lanes: Sequence[threading.Thread] = (),
    until: Callable[[], str | None] | None = None,
    wait: Callable[[float], bool | None] | None = None,
    on_tick: Callable[[], None] | None = None,
    every: float = LOOK_EVERY,
) -> None:
    """Watch the clock until ``race`` stops. At each look it stops the race
    (:meth:`Race.finish`) with the first reason there is: ``until()`` (the caller's, or None),
    ``"done"`` when ``lanes`` were given and have all ended, ``"time limit"`` from
    ``deadline`` (a :func:`time.perf_counter` reading) on. Otherwise it waits for the next look
    with ``wait(seconds)`` (default: for the stop signal; at most ``every`` seconds, never past
    the deadline, at least 0.01 s), a truthy answer ending the watch at once, then calls
    ``on_tick()`` (progress). A ``KeyboardInterrupt`` is the caller's (what a Ctrl-C means
    differs), and so is stopping the lanes afterwards (:func:`stop_lanes`)."""
    wait = race.stop.wait if wait is None else wait
    while not race.stop.is_set():
        reason = until() if until is not None else None
        if reason is None and lanes and not any(lane.is_alive() for lane in lanes):
            reason = "done"
        if reason is None and time.perf_counter() >= deadline:
            reason = "time limit"
        if reason is not None:
            race.finish(reason)
            return
        if wait(min(every, max(0.01, deadline - time.perf_counter()))):
            return
        if on_tick is not None:
            on_tick()


def stop_lanes(race: Race, lanes: Sequence[threading.Thread]) -> tuple[str, ...]:
    """Stop the race (``"done"`` unless it has its reason) and wait at most
    :data:`STOP_GRACE` seconds in all for ``lanes`` to return; the names of those still running,
    left behind (each is a daemon thread)."""
    race.finish("done")
    grace = time.perf_counter() + STOP_GRACE
    for lane in lanes:  # each stops at its next poll; one still compiling is left behind
        lane.join(max(0.0, grace - time.perf_counter()))
    return tuple(lane.name for lane in lanes if lane.is_alive())
