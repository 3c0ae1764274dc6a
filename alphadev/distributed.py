"""Search and prove on Ray: ``alphadev search --ray [ADDRESS] --workers W`` and
``alphadev prove --ray [ADDRESS] --workers W``.

Each of the ``W`` workers is a Ray actor with one CPU (:class:`SearchWorker`). The driver
(this process) hands them jobs and keeps the best-so-far; an :class:`Incumbent` actor holds the
best program found by any worker, so every worker prunes with the best length known anywhere.

* **A portfolio of engines**: an ``engines`` job runs the anytime engines of
  :mod:`alphadev.search` (the comparator search, the best-first beam for ISAs with min/max,
  the MCTS for n <= :data:`~alphadev.search.MCTS_MAX_N`) with its own seed until it is stopped;
  what it finds goes to the incumbent at once, and its MCTS prunes with the incumbent's length.
  For ``--method auto`` with n <= :data:`~alphadev.search.EXACT_MAX_N`, one worker in four (at
  least one, none when there is a single worker) runs one; for the other methods, and above
  that n, every worker runs one, with seeds ``seed``, ``seed + 1``, ...
* **The exact descent, split**: the question "is there a core of at most ``L`` instructions?"
  (``L`` one below the best core) is cut into parts at a shallow depth
  (:func:`alphadev.exact.split.split_space`, about :data:`PARTS_PER_WORKER` per worker), each a
  ``part`` job (:func:`alphadev.exact.find` with that prefix). A found part makes a new best and
  a new question (the old parts are stopped and dropped); when every part of a question is
  exhausted, the best is proved optimal in the space. A worker keeps its transposition table
  across the parts of one question as long as each part it ran was exhausted.
* **Faults**: a worker that dies is replaced and its jobs asked again first, by the workers
  that are up (:class:`alphadev.cluster.ActorPool`); what was found is at the incumbent and the
  driver already; a proof counts only the parts that came back exhausted, so a lost part is
  never a proof. When a node dies and the cluster has no free CPU for its workers'
  replacements, the job goes on with the workers it has, and says so on stderr and in the
  result ("continued with K of W workers after losing a node"); a proof completes as long as
  one worker lives (the search goes on with fewer engines: none when one worker is left). The
  incumbent lives on the driver's node. When that node dies (its raylet: Ray then ends every
  actor of the job, on every node), the driver joins the cluster again, up to
  :data:`~alphadev.cluster.MAX_REJOINS` times, and goes on with what it kept: the best
  program, the parts already exhausted.
* **Stop**: at the time limit, the target, a proof, or Ctrl-C the driver tells every worker to
  stop, waits at most :data:`~alphadev.race.STOP_GRACE` seconds, and shuts the job down.

Each worker's engines run in a :class:`~alphadev.race.Race` of their own that hands each better
program to the incumbent and prunes with the incumbent's length; the driver's race keeps the
best-so-far and its clock is :func:`alphadev.race.watch`, as without Ray.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Collection
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np

from alphadev import exact
from alphadev.cluster import (
    MAX_REJOINS,
    ActorPool,
    ClusterError,
    DriverNodeLost,
    Losses,
    WorkersLost,
    check_driver_node,
    connect,
)
from alphadev.exact.split import Split, split_space
from alphadev.game import AssemblyGame
from alphadev.isa import Program
from alphadev.latency import critical_path
from alphadev.progress import plural
from alphadev.race import STOP_GRACE, Candidate, Race, SearchResult, watch
from alphadev.search import EXACT_MAX_N, SearchConfig, comparator_lane, other_lanes, table_bits
from alphadev.tasks import SortTask, verify

__all__ = [
    "PARTS_PER_WORKER",
    "Incumbent",
    "SearchWorker",
    "SplitOutcome",
    "prove_on_ray",
    "search_on_ray",
]

#: Parts per worker a split question is cut into (more parts balance the load better; each
#: part also costs the states it shares with others).
PARTS_PER_WORKER = 8
#: Seconds between two looks of a worker's engines at the incumbent.
SYNC_EVERY = 0.25
#: Seconds the driver waits for the incumbent's answer before it looks again later.
SYNC_TIMEOUT = 10.0
#: Seconds of a search's time limit kept for stopping its workers and Ray at the end.
RAY_SHUTDOWN_RESERVE = 1.5
#: Seconds the driver waits for a new incumbent to take the best so far before it goes on.
START_TIMEOUT = 60.0


class Incumbent:
    """The best program found by any worker (a Ray actor once wrapped by ``ray.remote``)."""

    def __init__(self) -> None:
        self.best: tuple | None = None  # (rank, program, found_by, seconds)
        self.reports: dict[str, dict] = {}  # engine run -> its latest counters

    def report(self, run: str, counters: dict) -> None:
        """The latest counters of one engine run (a job on one actor)."""
        self.reports[run] = counters

    def totals(self) -> dict:
        """The engine runs' counters summed: simulations, MCTS states, enumeration states;
        and the MCTS evaluator they used."""
        total = {key: sum(r[key] for r in self.reports.values())
                 for key in ("simulations", "mcts_states", "nodes")}  # fmt: skip
        evaluators = [r["evaluator"] for r in self.reports.values() if r["evaluator"] != "none"]
        total["evaluator"] = evaluators[-1] if evaluators else "none"
        return total

    def offer(self, program: Program, found_by: str, seconds: float) -> int:
        """Keep ``program`` (correct on the tie rows) if it ranks better; the best length."""
        rank = (len(program), critical_path(program))
        if self.best is None or rank < self.best[0]:
            self.best = (rank, program, found_by, seconds)
        return self.best[0][0]

    def length(self) -> int | None:
        return None if self.best is None else self.best[0][0]

    def get(self) -> tuple | None:
        """``(program, found_by, seconds)`` of the best, or None."""
        return None if self.best is None else self.best[1:]


def _tell(incumbent, candidate: Candidate) -> None:
    """Hand a better program to the incumbent (a race's ``on_better`` on Ray)."""
    incumbent.offer.remote(candidate.program, candidate.found_by, candidate.seconds)


class SearchWorker:
    """One search worker (a Ray actor with one CPU and two threads once wrapped by
    ``ray.remote``: a job runs on one, :meth:`stop` arrives on the other)."""

    def __init__(self, config: dict, slot: int) -> None:
        self.config = SearchConfig(**config)
        self.slot = slot
        self.task = SortTask(self.config.n, self.config.registers, self.config.isa)
        self.control: exact.SearchControl | None = None
        self.shared: Race | None = None
        bits = table_bits(self.config.memory_bytes // 16)
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.depths = np.zeros(1 << bits, dtype=np.int16)
        self.table_for: tuple | None = None  # (max_core, depth) the table's entries belong to

    def stop(self) -> None:
        """Ask the running job to return at its next poll."""
        if self.control is not None:
            self.control.stop()
        if self.shared is not None:
            self.shared.finish("stopped")

    def part(self, max_core: int, prefix: exact.Core) -> dict:
        """Search the cores of at most ``max_core`` instructions that start with ``prefix``:
        ``{status, program, nodes, seconds}`` (status as :class:`alphadev.exact.Outcome`)."""
        self.control = control = exact.SearchControl()
        question = (max_core, len(prefix))
        if self.table_for != question:
            self.keys.fill(0)
            self.depths.fill(0)
        self.table_for = None  # valid again only if this part is exhausted
        outcome = exact.find(self.task, max_core, prefix=prefix, control=control,
                             shared_table=(self.keys, self.depths))  # fmt: skip
        if outcome.status == "exhausted":
            self.table_for = question
        return {"status": outcome.status, "program": outcome.program, "nodes": outcome.nodes,
                "seconds": outcome.seconds}  # fmt: skip

    def engines(self, seed: int, incumbent) -> dict:
        """The anytime engines with ``seed`` until stopped; their counters go to the
        incumbent every :data:`SYNC_EVERY` s and at the end. Returns what the driver keeps."""
        import ray

        config = SearchConfig(**{**asdict(self.config), "seed": seed})
        game = AssemblyGame(self.task, moves=config.moves, max_length=config.max_length)
        # What the engines find goes to the incumbent; they prune with its length, too.
        self.shared = shared = Race(self.task, None, time.perf_counter())
        shared.on_better = partial(_tell, incumbent)
        run = f"{self.slot}/{seed}/{time.time_ns()}"

        def counters() -> dict:
            return {"simulations": shared.simulations, "mcts_states": shared.mcts_states,
                    "nodes": shared.control.nodes, "evaluator": shared.evaluator}  # fmt: skip

        def sync() -> None:
            while not shared.stop.wait(SYNC_EVERY):
                incumbent.report.remote(run, counters())
                with suppress(Exception):  # the incumbent is away (its node lost): next time
                    shared.known_length = ray.get(incumbent.length.remote(), timeout=SYNC_TIMEOUT)

        syncer = threading.Thread(target=sync, name="incumbent", daemon=True)
        syncer.start()
        try:
            if config.method == "auto":
                comparator_lane(shared, config)
            other_lanes(shared, config, game, None)
        finally:
            shared.finish("done")
            with suppress(Exception):  # the incumbent is away: the driver keeps what it has
                ray.get(incumbent.report.remote(run, counters()), timeout=SYNC_TIMEOUT)
        return {"evaluator": shared.evaluator, "capped": list(shared.capped)}


@dataclass(frozen=True)
class SplitOutcome:
    """What a split exact search answered (:func:`prove_on_ray`).

    Attributes:
        status: ``"found"``, ``"exhausted"`` (every part exhausted: no core of at most
            ``max_core`` exists in the space), or ``"stopped"`` (time limit or Ctrl-C first).
        program: the program found, else None.
        max_core: the core length asked about.
        parts: how many parts the space was cut into; ``exhausted``: how many came back
            exhausted; ``depth``: the parts' prefix length.
        nodes: states generated by the parts that came back.
        seconds: wall-clock time.
        workers: Ray workers; ``restarts``: workers replaced after a fault.
        workers_left: the workers at the end: fewer than ``workers`` when a node was lost and
            the cluster had no free CPU for the replacements (the parts went on without them).
    """

    status: str
    program: Program | None
    max_core: int
    parts: int
    exhausted: int
    depth: int
    nodes: int
    seconds: float
    workers: int
    restarts: int
    workers_left: int | None = None


def _worker_pool(ray, config: SearchConfig, workers: int, incumbent) -> ActorPool:
    worker_class = ray.remote(num_cpus=1, max_concurrency=2)(SearchWorker)
    settings = asdict(config)

    def make(slot: int, incarnation: int):
        return worker_class.remote(settings, slot)

    def call(actor, job: tuple):
        if job[0] == "engines":
            return actor.engines.remote(job[1], incumbent)
        return actor.part.remote(job[1], job[2])

    return ActorPool(make, call, workers)


class _Rejoin(Exception):
    """The job's Ray state on the driver's node (the incumbent) was lost: join again."""


def _session(address: str | None, workers: int, losses: Losses,
             body: Callable[[Any], None]) -> bool:  # fmt: skip
    """``body(ray)`` in one session: connected to the cluster at ``address`` (or a local Ray
    started for it) for as long as it runs. Whether the job may join again: not when every
    worker was lost, nor after a failure once it had joined again, nor when the driver's node
    was lost more than :data:`~alphadev.cluster.MAX_REJOINS` times (each said on stderr). A
    cluster that cannot be joined the first time is the user's error, raised."""
    try:
        with connect(address, workers=workers, least=1 if losses.rejoins else None) as ray:
            body(ray)
    except WorkersLost as exc:
        _say(f"alphadev {losses.command}: {exc}")
        return False
    except (DriverNodeLost, _Rejoin) as exc:
        if losses.rejoin(exc):
            return True
        _say(f"alphadev {losses.command}: {exc}; not joining again after {MAX_REJOINS} times")
        return False
    except ClusterError as exc:
        if not losses.rejoins:
            raise
        _say(f"alphadev {losses.command}: {exc}")
        return False
    return True


def _engine_jobs(method: str, splits: bool, workers: int) -> int:
    """How many of ``workers`` run the anytime engines (the others the exact descent)."""
    if method == "exact":
        return 0
    if splits:
        return 0 if workers == 1 else max(1, workers // 4)
    return workers


def _fit_engines(pool: ActorPool, wanted: int) -> None:
    """At most ``wanted`` engines jobs, queued or running, once the pool has fewer workers
    (the queued ones go first; a running one is told to stop)."""
    running = [slot for slot, job in pool.running_jobs() if job[0] == "engines"]
    queued = sum(job[0] == "engines" for job in pool.queue)
    excess = len(running) + queued - wanted
    if excess <= 0:
        return
    dropped = 0

    def keep(job: tuple) -> bool:
        nonlocal dropped
        if job[0] == "engines" and dropped < excess:
            dropped += 1
            return False
        return True

    pool.drop_queued(keep)
    for slot in running[: max(0, excess - queued)]:
        pool.actors[slot].stop.remote()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _incumbent(ray):
    """The :class:`Incumbent` actor, on the driver's node (it then dies only with the driver)."""
    where = {}
    with suppress(Exception):  # Ray Client, or an older Ray: anywhere
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        where["scheduling_strategy"] = NodeAffinitySchedulingStrategy(here, soft=True)
    return ray.remote(num_cpus=0, **where)(Incumbent).remote()


def _stop_all(pool: ActorPool) -> list:
    """Tell every worker to stop; the results that came back within the grace period."""
    for actor in pool.actors:
        if actor is not None:
            actor.stop.remote()
    finished = []
    grace = time.perf_counter() + STOP_GRACE
    while pool.running and time.perf_counter() < grace:
        try:
            item = pool.next(timeout=max(0.0, grace - time.perf_counter()))
        except ClusterError:  # every worker, or the driver's node, lost: nothing will come
            break
        except Exception:  # a job that failed while stopping: nothing to keep from it
            continue
        if item is None:
            break
        finished.append(item)
    return finished


def prove_on_ray(
    task: SortTask,
    max_core: int,
    *,
    address: str | None,
    workers: int,
    time_limit: float,
    on_progress: Callable[[int, int, int], None] | None = None,
    split: Split | None = None,
    skip: Collection[int] = (),
    on_exhausted: Callable[[int, int, float], None] | None = None,
) -> SplitOutcome:
    """Is there a core of at most ``max_core`` instructions? The space is split into parts
    (:func:`~alphadev.exact.split.split_space`; ``split``: the caller's, else about
    :data:`PARTS_PER_WORKER` per worker) searched by ``workers`` Ray workers;
    ``on_progress(parts_done, parts, states)`` is called a few times a second. The parts in
    ``skip`` (indices) count as exhausted already (a resumed proof's ledger);
    ``on_exhausted(part, states, seconds)`` is called as each other part comes back exhausted.
    The answer is ``"exhausted"`` only when every part came back exhausted."""
    t0 = time.perf_counter()
    if split is None:
        split = split_space(task, max_core, parts=PARTS_PER_WORKER * workers)
    if split.solution is not None:
        program = exact.assemble(task, split.solution)
        return SplitOutcome("found", program, max_core, 0, 0, split.depth, 0,
                            time.perf_counter() - t0, workers, 0)  # fmt: skip
    proof = _RayProof(task, max_core, split.prefixes, workers, t0, t0 + time_limit, on_progress)
    proof.exhausted |= set(skip)
    proof.on_exhausted = on_exhausted
    while proof.status == "stopped" and len(proof.exhausted) < len(split.prefixes):
        if time.perf_counter() >= proof.deadline:
            break
        if not _session(address, workers, proof.losses, proof.session):
            break
    if proof.status == "stopped" and len(proof.exhausted) == len(split.prefixes):
        proof.status = "exhausted"
    losses = proof.losses
    if losses.summary():
        _say(f"alphadev prove: {losses.summary()}")
    return SplitOutcome(proof.status, proof.program, max_core, len(split.prefixes),
                        len(proof.exhausted), split.depth, proof.nodes, time.perf_counter() - t0,
                        workers, losses.restarts, losses.left)  # fmt: skip


class _RayProof:
    """The driver of ``prove --ray``: the parts of the one question, which of them came back
    exhausted (over every session), and the answer (``status``: ``stopped``, ``found``)."""

    def __init__(self, task: SortTask, max_core: int, prefixes: list[exact.Core], workers: int,
                 t0: float, deadline: float,
                 on_progress: Callable[[int, int, int], None] | None) -> None:  # fmt: skip
        self.max_core, self.prefixes, self.workers = max_core, prefixes, workers
        self.deadline, self.on_progress = deadline, on_progress
        self.config = SearchConfig(n=task.n, isa=task.isa.name, registers=task.registers)
        self.race = Race(task, None, t0)  # its stop signal and clock (its best-so-far unused)
        self.status, self.program, self.nodes = "stopped", None, 0
        self.exhausted: set[int] = set()  # the parts that came back exhausted, by index
        self.on_exhausted: Callable[[int, int, float], None] | None = None
        self.losses = Losses("prove", workers, say=_say, up_only=True)
        self.pool: ActorPool | None = None

    def session(self, ray) -> None:
        """One connection to Ray: the parts not yet exhausted, until the answer or the time
        limit; then every worker told to stop."""
        self.pool = pool = _worker_pool(ray, self.config, self.workers, None)
        try:
            for index, prefix in enumerate(self.prefixes):
                if index not in self.exhausted:
                    pool.submit(("part", self.max_core, prefix, index))
            watch(self.race, self.deadline, until=self._answered, wait=self._next_part,
                  on_tick=self._progress)  # fmt: skip
        finally:
            self.losses.end(pool)
            _stop_all(pool)
            pool.shutdown()

    def _answered(self) -> str | None:
        return "every part exhausted" if len(self.exhausted) == len(self.prefixes) else None

    def _next_part(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a part: its states counted, its exhaustion noted;
        True (the answer) when it found a program."""
        item = self.pool.next(timeout=timeout)
        self.losses.check(self.pool)
        if item is None:
            return False
        self.nodes += item.result["nodes"]
        if item.result["status"] == "found":
            self.status, self.program = "found", item.result["program"]
            return True
        part = item.job[3]
        if item.result["status"] == "exhausted" and part not in self.exhausted:
            self.exhausted.add(part)
            if self.on_exhausted is not None:
                self.on_exhausted(part, item.result["nodes"], item.result["seconds"])
        return False

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(len(self.exhausted), len(self.prefixes), self.nodes)


class _Descent:
    """The driver's side of the split exact descent: the current question, its parts, and
    which came back exhausted."""

    def __init__(self, task: SortTask, pool: ActorPool, exact_workers: int) -> None:
        self.task, self.pool, self.exact_workers = task, pool, exact_workers
        self.max_core = -1
        self.prefixes: list[exact.Core] = []
        self.done: set[int] = set()  # the parts of the question that came back exhausted
        self.proved = False
        self.questions = 0

    @property
    def parts(self) -> int:
        return len(self.prefixes)

    @property
    def exhausted(self) -> int:
        return len(self.done)

    def ask(self, best_core: int, offer: Callable[[Program, str], bool]) -> None:
        """Ask "is there a core of at most ``best_core - 1``?" (stopping the parts of the last
        question); a solution met while splitting is offered and the next question asked."""
        while True:
            self.pool.drop_queued(keep=lambda job: job[0] != "part")
            for slot, job in self.pool.running_jobs():
                if job[0] == "part":
                    self.pool.actors[slot].stop.remote()
            self.max_core = best_core - 1
            self.questions += 1
            if self.max_core < 0:
                self.proved = True
                return
            split = split_space(self.task, self.max_core,
                                parts=PARTS_PER_WORKER * self.exact_workers)  # fmt: skip
            if split.solution is not None:
                offer(exact.assemble(self.task, split.solution), "exact descent (split)")
                best_core = len(split.solution)
                continue
            self.prefixes, self.done = split.prefixes, set()
            if not split.prefixes:
                self.proved = True
                return
            self.resubmit()
            return

    def resubmit(self) -> None:
        """Queue the parts of the question not yet exhausted (all of them, when just asked; the
        rest, in a new session after the last was lost)."""
        for index, prefix in enumerate(self.prefixes):
            if index not in self.done:
                self.pool.submit(("part", self.max_core, prefix, index))

    def record(self, job: tuple, result: dict, *, closing: bool) -> None:
        """A part came back; the question is answered no when every part is exhausted. A part
        of the current question that was stopped (a stop meant for the part its worker ran
        before) is asked again, unless the search is ``closing``."""
        if job[1] != self.max_core:
            return  # a part of an earlier question
        if result["status"] == "exhausted":
            self.done.add(job[3])
            self.proved = len(self.done) == len(self.prefixes)
        elif result["status"] == "stopped" and not closing:
            self.pool.submit(job)


def search_on_ray(
    config: SearchConfig,
    *,
    address: str | None,
    workers: int,
    on_progress: Callable[[float, Candidate | None, int, int], None] | None = None,
) -> SearchResult:
    """:func:`alphadev.search.run_search` over ``workers`` Ray workers (see the module
    docstring); the same result, with ``cluster`` describing the job."""
    search = _RaySearch(config, workers, on_progress)
    race = search.race
    try:  # Ctrl-C while Ray starts, too: the search ends with what it has
        while not race.stop.is_set():
            if search.losses.rejoins and time.perf_counter() >= search.deadline:
                race.finish("time limit")
                break
            if not _session(address, workers, search.losses, search.session):
                race.finish("lost the cluster")
    except KeyboardInterrupt:
        race.finish("interrupted")
    return search.result(address)


class _RaySearch:
    """The driver of ``search --ray``: its race (the best-so-far, the stop signal), what the
    engines and the exact parts counted, the split descent, and what faults cost. Each
    session (one connection to Ray) starts an incumbent and the workers, hands them jobs, and
    watches the clock (:func:`alphadev.race.watch`) until the race stops."""

    def __init__(self, config: SearchConfig, workers: int,
                 on_progress: Callable[[float, Candidate | None, int, int], None] | None,
                 ) -> None:  # fmt: skip
        self.t0 = t0 = time.perf_counter()
        # The race stops a little before the limit, so that stopping the workers and Ray (about
        # 1.5 s on 2 cores) still ends within about a second of it, as a search without Ray does.
        self.deadline = t0 + max(config.time_limit / 2, config.time_limit - RAY_SHUTDOWN_RESERVE)
        self.config, self.workers, self.on_progress = config, workers, on_progress
        self.task = task = SortTask(config.n, config.registers, config.isa)
        verify(Program(task.layout, ()), task, random_rows=3)  # load the emulator once, here
        self.race = Race(task, config.target, t0)
        self.race.offer(exact.assemble(task, exact.network_core(task)),
                        "sorting network (constructed)")  # fmt: skip
        self.splits = config.method in ("auto", "exact") and task.n <= EXACT_MAX_N
        self.engine_jobs = _engine_jobs(config.method, self.splits, workers)
        self.part_nodes = 0  # states of the exact parts that came back
        self.counted = {"simulations": 0, "mcts_states": 0, "nodes": 0}  # ended sessions' engines
        self.engines = {**self.counted, "evaluator": "none"}  # those of this session
        self.capped: list[str] = []
        self.descent: _Descent | None = None
        self.losses = Losses("search", workers, say=_say, up_only=True)
        self.ray: Any = None  # this session's Ray, incumbent and workers
        self.incumbent: Any = None
        self.pool: ActorPool | None = None

    def session(self, ray) -> None:
        """One connection to Ray, until the search stops (or the driver's node is lost)."""
        self.ray = ray
        self.incumbent = self._start_incumbent()
        self.race.on_better = partial(_tell, self.incumbent)  # the workers prune with it
        self.pool = _worker_pool(ray, self.config, self.workers, self.incumbent)
        lost = False
        try:
            self._submit()
            watch(self.race, self.deadline, until=self._over, wait=self._step,
                  on_tick=self._progress)  # fmt: skip
        except KeyboardInterrupt:
            self.race.finish("interrupted")
        except (DriverNodeLost, _Rejoin):
            lost = True
            raise
        finally:
            self._end(lost)

    def _start_incumbent(self):
        """This session's incumbent, holding the best so far (:class:`_Rejoin` when it did not
        start because the driver's node is lost)."""
        ray = self.ray
        incumbent = _incumbent(ray)
        best = self.race.best
        try:
            ray.get(incumbent.offer.remote(best.program, best.found_by, best.seconds),
                    timeout=START_TIMEOUT)  # fmt: skip
        except ray.exceptions.GetTimeoutError:
            pass  # slow to start: the offer waits at the incumbent, the search goes on
        except ray.exceptions.RayError as exc:
            check_driver_node(ray)
            raise _Rejoin(f"the incumbent actor did not start ({type(exc).__name__})") from None
        return incumbent

    def _submit(self) -> None:
        """Queue the session's jobs: the engines, and the exact descent's parts (a question
        asked in the first session; the parts not yet exhausted in a later one)."""
        for k in range(self.engine_jobs):
            self.pool.submit(("engines", self.config.seed + k))
        if self.splits and self.descent is None:
            self.descent = _Descent(self.task, self.pool, max(1, self.workers - self.engine_jobs))
            self.descent.ask(self.race.best.core_length, self.race.offer)
        elif self.descent is not None:
            self.descent.pool = self.pool
            self.descent.resubmit()

    def _over(self) -> str | None:
        """Why the search ends now, whatever the clock says: the descent proved the best
        optimal, or no job is left."""
        if self.descent is not None and self.descent.proved:
            self.race.optimal = True
            return "proved optimal"
        if not self.pool.running and not self.pool.queue:
            return "search space exhausted"
        return None

    def _step(self, timeout: float) -> bool:
        """Up to the next look: the next job back (within ``timeout`` seconds), fewer engines
        after a lost node, the incumbent's best taken, and a new question when the best got
        shorter. True when every worker was lost."""
        pool = self.pool
        try:
            item = pool.next(timeout=timeout)
        except WorkersLost as exc:
            _say(f"alphadev search: {exc}")
            self.race.finish("every worker lost")
            return True
        if pool.workers < self.workers:  # a node was lost: fewer engines, if any
            self.losses.check(pool)
            _fit_engines(pool, _engine_jobs(self.config.method, self.splits, pool.workers))
        if item is not None:
            self._take(item)
        self._sync()
        best = self.race.best
        if self.descent is not None and best.core_length - 1 < self.descent.max_core:
            self.descent.ask(best.core_length, self.race.offer)
        return False

    def _take(self, item) -> None:
        """A job came back: an engines job's capped tables (its counters are at the
        incumbent); a part's states, its program, and its answer to the descent."""
        if item.job[0] == "engines":
            self.capped.extend(item.result["capped"])
            return
        self.part_nodes += item.result["nodes"]
        if item.result["program"] is not None:
            self.race.offer(item.result["program"], "exact descent (split)")
        if self.descent is not None:
            self.descent.record(item.job, item.result, closing=self.race.stop.is_set())

    def _sync(self) -> None:
        """The incumbent's best (what the workers found) into the race, and the engines'
        counters; :class:`_Rejoin` when the incumbent was lost with the driver's node."""
        ray = self.ray
        try:
            found, self.engines = ray.get([self.incumbent.get.remote(),
                                           self.incumbent.totals.remote()],
                                          timeout=SYNC_TIMEOUT)  # fmt: skip
        except (ray.exceptions.GetTimeoutError, ray.exceptions.ActorUnavailableError):
            found = None  # it may answer again; if its node died, Ray will say so
        except ray.exceptions.RayError as exc:  # it lived on the driver's node
            check_driver_node(ray)
            raise _Rejoin(f"the incumbent actor was lost ({type(exc).__name__})") from None
        if found is not None:
            self.race.offer(found[0], found[1])

    def _progress(self) -> None:
        if self.on_progress is not None:
            counted, engines = self.counted, self.engines
            self.on_progress(time.perf_counter() - self.t0, self.race.best,
                             counted["simulations"] + engines["simulations"],
                             self.part_nodes + counted["nodes"] + engines["nodes"])  # fmt: skip

    def _end(self, lost: bool) -> None:
        """The session's end: its losses counted; unless the driver's node was lost, the
        workers told to stop (what they send back within the grace taken) and the engines'
        last counters read; the workers shut down, and the engines' counters kept."""
        pool = self.pool
        self.losses.end(pool)
        if not lost:
            self.race.finish("done")
            for item in _stop_all(pool):
                self._take(item)
        pool.shutdown()
        if not lost:
            with suppress(Exception):  # the engines' last reports
                self.engines = self.ray.get(self.incumbent.totals.remote(), timeout=STOP_GRACE)
        for key in self.counted:
            self.counted[key] += self.engines[key]
        self.engines = {key: 0 for key in self.counted} | {"evaluator": self.engines["evaluator"]}

    def result(self, address: str | None) -> SearchResult:
        """The race's result (its winner verified) with the counters of every session and a
        line that describes the job."""
        workers, descent, losses = self.workers, self.descent, self.losses
        cluster = (f"Ray ({address or 'local'}), {plural(workers, 'worker')}: "
                   f"{plural(self.engine_jobs, 'engine')} running side by side")  # fmt: skip
        if descent is not None:
            cluster += (f"; the exact descent (is there a shorter kernel?) cut into "
                        f"{plural(descent.parts, 'part')} for the workers, "
                        f"{descent.exhausted:,} of them searched to the end, on the last of "
                        f"{plural(descent.questions, 'length')} asked")  # fmt: skip
        cluster += f"; {plural(losses.restarts, 'worker')} replaced"
        if losses.summary():
            cluster += f"; {losses.summary()}"
            _say(f"alphadev search: {losses.summary()}")
        counted = self.counted
        return self.race.result(self.config, time.perf_counter() - self.t0,
                                simulations=counted["simulations"],
                                mcts_states=counted["mcts_states"],
                                enumeration_states=self.part_nodes + counted["nodes"],
                                evaluator=self.engines["evaluator"],
                                memory_capped=tuple(self.capped), cluster=cluster)  # fmt: skip
