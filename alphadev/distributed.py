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
  :data:`MAX_REJOINS` times, and goes on with what it kept: the best program, the parts
  already exhausted.
* **Stop**: at the time limit, the target, a proof, or Ctrl-C the driver tells every worker to
  stop, waits at most :data:`~alphadev.search.STOP_GRACE` seconds, and shuts the job down.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass

import numpy as np

from alphadev import exact
from alphadev.cluster import (
    ActorPool,
    ClusterError,
    DriverNodeLost,
    WorkersLost,
    check_driver_node,
    connect,
)
from alphadev.exact.split import split_space
from alphadev.game import AssemblyGame
from alphadev.isa import Program
from alphadev.latency import critical_path
from alphadev.progress import plural
from alphadev.search import (
    EXACT_MAX_N,
    STOP_GRACE,
    Candidate,
    Race,
    SearchConfig,
    SearchResult,
    comparator_lane,
    other_lanes,
    table_bits,
)
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


class _ClusterShared(Race):
    """A worker's best-so-far: it sends what its engines find to the incumbent and prunes with
    the incumbent's length."""

    def __init__(self, task: SortTask, incumbent, t0: float) -> None:
        super().__init__(task, None, t0)
        self.incumbent = incumbent
        self.known_length: int | None = None  # the incumbent's, at the last look

    def offer(self, program: Program, found_by: str) -> bool:
        better = super().offer(program, found_by)
        if better:
            self.incumbent.offer.remote(program, found_by, time.perf_counter() - self.t0)
        return better

    def best_length(self) -> int | None:
        lengths = [x for x in (super().best_length(), self.known_length) if x is not None]
        return min(lengths, default=None)


class SearchWorker:
    """One search worker (a Ray actor with one CPU and two threads once wrapped by
    ``ray.remote``: a job runs on one, :meth:`stop` arrives on the other)."""

    def __init__(self, config: dict, slot: int) -> None:
        self.config = SearchConfig(**config)
        self.slot = slot
        self.task = SortTask(self.config.n, self.config.registers, self.config.isa)
        self.control: exact.SearchControl | None = None
        self.shared: _ClusterShared | None = None
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
        game = AssemblyGame(self.task)
        self.shared = shared = _ClusterShared(self.task, incumbent, time.perf_counter())
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


#: How many times a job joins the cluster again after losing the node it joined through.
MAX_REJOINS = 3


class _Rejoin(Exception):
    """The job's Ray state on the driver's node (the incumbent) was lost: join again."""


class _Losses:
    """What a job lost to faults over its sessions (a session: one connection to Ray; the job
    joins again when the node it joined through dies); says on stderr what it goes on with."""

    def __init__(self, command: str, workers: int) -> None:
        self.command, self.workers = command, workers
        self.restarts = self.nodes = self.rejoins = self.given_up = 0
        self.left = self.shown = workers

    def check(self, pool: ActorPool) -> None:
        """Say so once each time the pool goes on with fewer workers than asked."""
        if pool.workers < self.shown:
            self.shown = pool.workers
            _say(f"alphadev {self.command}: lost a Ray node and no CPU is free for its workers: "
                 f"going on with {pool.workers} of {self.workers} workers")  # fmt: skip

    def end(self, pool: ActorPool) -> None:
        """A session ended: keep its counts."""
        self.restarts += pool.restarts
        self.given_up += pool.given_up
        self.nodes += pool.nodes_lost()
        self.left, self.shown = pool.up_workers, self.workers

    def rejoin(self, exc: Exception) -> bool:
        """Whether to join the cluster again after ``exc`` (a lost driver's node)."""
        self.rejoins += 1
        if self.rejoins > MAX_REJOINS:
            _say(f"alphadev {self.command}: {exc}; not joining again after {MAX_REJOINS} times")
            return False
        _say(f"alphadev {self.command}: {exc}; joining the cluster again (what was done is kept)")
        return True

    def summary(self) -> str:
        """``continued with K of W workers after losing a node``, or "" if no node was lost."""
        if not (self.nodes or self.rejoins or self.given_up):
            return ""
        return f"continued with {self.left} of {self.workers} workers after losing a node"


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
) -> SplitOutcome:
    """Is there a core of at most ``max_core`` instructions? The space is split into parts
    (:func:`~alphadev.exact.split.split_space`) searched by ``workers`` Ray workers;
    ``on_progress(parts_done, parts, states)`` is called a few times a second. The answer is
    ``"exhausted"`` only when every part came back exhausted."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    split = split_space(task, max_core, parts=PARTS_PER_WORKER * workers)
    if split.solution is not None:
        program = exact.assemble(task, split.solution)
        return SplitOutcome("found", program, max_core, 0, 0, split.depth, 0,
                            time.perf_counter() - t0, workers, 0)  # fmt: skip
    config = SearchConfig(n=task.n, isa=task.isa.name, registers=task.registers)
    prefixes = split.prefixes
    exhausted: set[int] = set()  # the parts that came back exhausted, by index
    status, program, nodes = "stopped", None, 0
    losses = _Losses("prove", workers)

    def session(ray) -> None:
        nonlocal status, program, nodes
        pool = _worker_pool(ray, config, workers, None)
        try:
            for index, prefix in enumerate(prefixes):
                if index not in exhausted:
                    pool.submit(("part", max_core, prefix, index))
            while len(exhausted) < len(prefixes) and time.perf_counter() < deadline:
                item = pool.next(timeout=min(0.25, max(0.01, deadline - time.perf_counter())))
                losses.check(pool)
                if item is not None:
                    nodes += item.result["nodes"]
                    if item.result["status"] == "found":
                        status, program = "found", item.result["program"]
                        return
                    if item.result["status"] == "exhausted":
                        exhausted.add(item.job[3])
                if on_progress is not None:
                    on_progress(len(exhausted), len(prefixes), nodes)
        finally:
            losses.end(pool)
            _stop_all(pool)
            pool.shutdown()

    while status == "stopped" and len(exhausted) < len(prefixes):
        if time.perf_counter() >= deadline:
            break
        try:
            with connect(address, workers=workers, least=1 if losses.rejoins else None) as ray:
                session(ray)
        except WorkersLost as exc:
            _say(f"alphadev prove: {exc}")
            break
        except DriverNodeLost as exc:
            if not losses.rejoin(exc):
                break
        except ClusterError as exc:
            if not losses.rejoins:
                raise
            _say(f"alphadev prove: {exc}")
            break
    if status == "stopped" and len(exhausted) == len(prefixes):
        status = "exhausted"
    if losses.summary():
        _say(f"alphadev prove: {losses.summary()}")
    return SplitOutcome(status, program, max_core, len(prefixes), len(exhausted), split.depth,
                        nodes, time.perf_counter() - t0, workers, losses.restarts,
                        losses.left)  # fmt: skip


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
    t0 = time.perf_counter()
    # The race stops a little before the limit, so that stopping the workers and Ray (about
    # 1.5 s on 2 cores) still ends within about a second of it, as a search without Ray does.
    deadline = t0 + max(config.time_limit / 2, config.time_limit - RAY_SHUTDOWN_RESERVE)
    task = SortTask(config.n, config.registers, config.isa)
    verify(Program(task.layout, ()), task, random_rows=3)  # load the emulator once, here
    shared = Race(task, config.target, t0)
    shared.offer(exact.assemble(task, exact.network_core(task)), "sorting network (constructed)")
    splits = config.method in ("auto", "exact") and task.n <= EXACT_MAX_N
    engine_jobs = _engine_jobs(config.method, splits, workers)
    part_nodes = 0  # states of the exact parts that came back
    counted = {"simulations": 0, "mcts_states": 0, "nodes": 0}  # engines of ended sessions
    engines = {**counted, "evaluator": "none"}  # those of this session
    capped: list[str] = []
    descent: _Descent | None = None
    losses = _Losses("search", workers)

    def session(ray) -> None:
        """One connection to Ray, until the search stops (or the driver's node is lost)."""
        nonlocal part_nodes, engines, descent
        incumbent = _incumbent(ray)
        best = shared.best
        try:
            ray.get(incumbent.offer.remote(best.program, best.found_by, best.seconds),
                    timeout=START_TIMEOUT)  # fmt: skip
        except ray.exceptions.GetTimeoutError:
            pass  # slow to start: the offer waits at the incumbent, the search goes on
        except ray.exceptions.RayError as exc:
            check_driver_node(ray)
            raise _Rejoin(f"the incumbent actor did not start ({type(exc).__name__})") from None
        pool = _worker_pool(ray, config, workers, incumbent)

        def offer(program: Program, found_by: str) -> bool:
            """A program found by the driver's side: kept here and told to the workers."""
            better = shared.offer(program, found_by)
            if better:
                incumbent.offer.remote(program, found_by, time.perf_counter() - t0)
            return better

        def take(item) -> None:
            nonlocal part_nodes
            if item.job[0] == "engines":  # its counters are at the incumbent
                capped.extend(item.result["capped"])
                return
            part_nodes += item.result["nodes"]
            if item.result["program"] is not None:
                offer(item.result["program"], "exact descent (split)")
            if descent is not None:
                descent.record(item.job, item.result, closing=shared.stop.is_set())

        lost = False
        try:
            for k in range(engine_jobs):
                pool.submit(("engines", config.seed + k))
            if splits and descent is None:
                descent = _Descent(task, pool, max(1, workers - engine_jobs))
                descent.ask(shared.best.core_length, offer)
            elif descent is not None:  # a new session: the parts not yet exhausted
                descent.pool = pool
                descent.resubmit()
            while not shared.stop.is_set():
                if descent is not None and descent.proved:
                    shared.optimal = True
                    shared.finish("proved optimal")
                    break
                if time.perf_counter() >= deadline:
                    shared.finish("time limit")
                    break
                if not pool.running and not pool.queue:
                    shared.finish("search space exhausted")
                    break
                try:
                    item = pool.next(timeout=min(0.25, max(0.01, deadline - time.perf_counter())))
                except WorkersLost as exc:
                    _say(f"alphadev search: {exc}")
                    shared.finish("every worker lost")
                    break
                if pool.workers < workers:  # a node was lost: fewer engines, if any
                    losses.check(pool)
                    _fit_engines(pool, _engine_jobs(config.method, splits, pool.workers))
                if item is not None:
                    take(item)
                try:
                    found, engines = ray.get([incumbent.get.remote(), incumbent.totals.remote()],
                                             timeout=SYNC_TIMEOUT)  # fmt: skip
                except (ray.exceptions.GetTimeoutError, ray.exceptions.ActorUnavailableError):
                    found = None  # it may answer again; if its node died, Ray will say so
                except ray.exceptions.RayError as exc:  # it lived on the driver's node
                    check_driver_node(ray)
                    raise _Rejoin(f"the incumbent actor was lost ({type(exc).__name__})") from None
                if found is not None:
                    shared.offer(found[0], found[1])
                best = shared.best
                if descent is not None and best.core_length - 1 < descent.max_core:
                    descent.ask(best.core_length, offer)
                if on_progress is not None:
                    on_progress(time.perf_counter() - t0, shared.best,
                                counted["simulations"] + engines["simulations"],
                                part_nodes + counted["nodes"] + engines["nodes"])  # fmt: skip
        except KeyboardInterrupt:
            shared.finish("interrupted")
        except (DriverNodeLost, _Rejoin):
            lost = True
            raise
        finally:
            losses.end(pool)
            if not lost:
                if not shared.stop.is_set():
                    shared.finish("done")
                for item in _stop_all(pool):
                    take(item)
            pool.shutdown()
            if not lost:
                with suppress(Exception):  # the engines' last reports
                    engines = ray.get(incumbent.totals.remote(), timeout=STOP_GRACE)
            for key in counted:
                counted[key] += engines[key]
            evaluator = engines["evaluator"]
            engines = {key: 0 for key in counted} | {"evaluator": evaluator}

    try:  # Ctrl-C while Ray starts, too: the search ends with what it has
        while not shared.stop.is_set():
            if losses.rejoins and time.perf_counter() >= deadline:
                shared.finish("time limit")
                break
            try:
                with connect(address, workers=workers, least=1 if losses.rejoins else None) as ray:
                    session(ray)
            except (DriverNodeLost, _Rejoin) as exc:
                if not losses.rejoin(exc):
                    shared.finish("lost the cluster")
            except ClusterError as exc:
                if not losses.rejoins:
                    raise
                _say(f"alphadev search: {exc}")
                shared.finish("lost the cluster")
    except KeyboardInterrupt:
        shared.finish("interrupted")
    cluster = (f"Ray ({address or 'local'}), {plural(workers, 'worker')}: "
               f"{plural(engine_jobs, 'engine')} running side by side")  # fmt: skip
    if descent is not None:
        cluster += (f"; the exact descent (is there a shorter kernel?) cut into "
                    f"{plural(descent.parts, 'part')} for the workers, "
                    f"{descent.exhausted:,} of them searched to the end, on the last of "
                    f"{plural(descent.questions, 'length')} asked")  # fmt: skip
    cluster += f"; {plural(losses.restarts, 'worker')} replaced"
    if losses.summary():
        cluster += f"; {losses.summary()}"
        _say(f"alphadev search: {losses.summary()}")
    return shared.result(config, time.perf_counter() - t0, simulations=counted["simulations"],
                         mcts_states=counted["mcts_states"],
                         enumeration_states=part_nodes + counted["nodes"],
                         evaluator=engines["evaluator"], memory_capped=tuple(capped),
                         cluster=cluster)  # fmt: skip
