"""Ray, for runs that outgrow one machine: join (or start) a cluster, and a pool of actors that
replaces the ones that die.

Ray is an optional extra (``pip install -e ".[ray]"``) and is imported only by the functions
here, when a command is given ``--ray``; without it, training and search use their own worker
processes and threads. The actors' own code lives with what they do
(:mod:`alphadev.train.ray_self_play`, :mod:`alphadev.distributed`); this room knows nothing
of sorting.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "LOCAL",
    "MAX_REJOINS",
    "ActorPool",
    "ClusterError",
    "ClusterLost",
    "DriverNodeLost",
    "Finished",
    "Losses",
    "WorkersLost",
    "ask_head",
    "check_address",
    "check_driver_node",
    "check_reachable",
    "connect",
    "import_ray",
]

#: ``--ray`` without an address, or with this one: start a Ray on this machine.
LOCAL = "local"
INSTALL_HINT = 'pip install -c constraints.txt -e ".[ray]"'
#: The object store of a local Ray (the weights and results that travel are small).
LOCAL_OBJECT_STORE_BYTES = 128 << 20


class ClusterError(ValueError):
    """Ray is missing, the cluster cannot be reached, or it is too small: a user error."""


def import_ray():
    """The ``ray`` module, or :class:`ClusterError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs the ray extra: {INSTALL_HINT}") from None
    return ray


#: Seconds to wait for a cluster's head to answer before giving up with one line.
REACH_TIMEOUT = 5.0


def local_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_address(address: str) -> None:
    """:class:`ClusterError` unless ``address`` is one Ray can join: ``local``, ``auto``,
    ``HOST:PORT`` (a host name, an IPv4 address or a bracketed IPv6 one, a port 1..65535) or
    ``ray://HOST:PORT`` (Ray Client). Checked before anything starts: Ray itself takes an
    ``http://`` address for a module name and a bad port for a minutes-long retry."""
    if address in (LOCAL, "auto"):
        return
    rest = address[len("ray://") :] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    valid_host = bool(name) and all(c.isalnum() or c in ".-_:" for c in name) and name.isascii()
    if not sep or not valid_host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ClusterError(
            f"--ray {address}: not an address Ray can join; give HOST:PORT (port 1..65535, as "
            "`ray start --head --port=PORT` printed), ray://HOST:PORT, auto, or --ray alone"
        )


def check_reachable(address: str, timeout: float = REACH_TIMEOUT) -> None:
    """:class:`ClusterError` unless something listens at ``HOST:PORT`` (Ray itself retries a
    missing head for minutes). Other forms (``auto``, ``ray://...``) are left to Ray."""
    check_address(address)
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(
            f"--ray {address}: no Ray head answers there ({exc.strerror or exc}); start one "
            "with `ray start --head --port=PORT` or check the address"
        ) from None


@contextmanager
def connect(address: str | None, *, workers: int, least: int | None = None) -> Iterator[Any]:
    """Ray, connected for the length of the ``with`` block, then shut down.

    ``address`` None or :data:`LOCAL` starts a Ray on this machine with ``workers`` CPUs (each
    actor takes one); any other address (``HOST:PORT`` of ``ray start --head``, or ``auto``)
    joins that cluster, which must offer at least ``least`` CPUs (default ``workers``; a job
    that joins again after losing a node asks for fewer). When Ray is already initialised in
    this process (a test, a notebook), that one is used and left running.
    """
    global _head_lost
    ray = import_ray()
    if address not in (None, LOCAL):
        check_reachable(address)
    elif workers > local_cpus():
        raise ClusterError(
            f"--workers {workers}: this machine has {local_cpus()} CPUs and a local Ray gives "
            "each worker one; ask for at most that many, or join a cluster with --ray HOST:PORT"
        )
    _head_lost = False
    if ray.is_initialized():
        yield ray
        return
    # Ray 2.5x warns at every start about a future change of GPU env handling: not ours.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    local = address in (None, LOCAL)
    where = "a local Ray" if local else f"the Ray cluster at {address}"
    verb = "starting" if local else "joining"
    print(f"alphadev: {verb} {where} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        if address in (None, LOCAL):
            ray.init(num_cpus=workers, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"--ray {address}: cannot join the cluster ({exc})") from None
    except BaseException:  # Ctrl-C while Ray starts: what it started so far is stopped
        with suppress(Exception):
            ray.shutdown()
        raise
    _cluster_errors_to_stderr()
    seconds = time.perf_counter() - started
    done = "started" if local else "joined"
    print(f"alphadev: {where} {done} in {seconds:.1f} s", file=sys.stderr, flush=True)
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < (workers if least is None else least):
            raise ClusterError(
                f"--workers {workers}: the cluster at {address} offers {cpus:g} CPUs; each "
                "worker takes one"
            )
        yield ray
    finally:
        ray.shutdown()


def _cluster_errors_to_stderr() -> None:
    """Ray prints the cluster's error messages (a node's raylet died, a worker was killed) to
    stdout, where the commands print their answers (``--json``): send them to stderr. Ray has
    no switch for it, so its printer is wrapped; a Ray without that printer is left as is."""
    with suppress(Exception):
        from ray._private import worker

        printer = worker.print_to_stdstream
        if getattr(printer, "to_stderr", False):
            return

        def to_stderr(data: dict, *args: Any, **kwargs: Any) -> None:
            printer({**data, "is_err": True}, *args, **kwargs)

        to_stderr.to_stderr = True  # type: ignore[attr-defined]
        worker.print_to_stdstream = to_stderr


#: Seconds the cluster's head (its GCS) may take to answer a question about the cluster before
#: it is taken for lost (Ray's own calls then wait a minute, and Ray ends the process).
GCS_TIMEOUT = 15.0
#: What :class:`ClusterLost` says.
HEAD_LOST = (f"the Ray cluster's head does not answer (for {GCS_TIMEOUT:g} s): it died or is "
             "out of reach, and Ray ends this job")  # fmt: skip
_head_lost = False  # the head did not answer within GCS_TIMEOUT since connect() joined


def ask_head(question: Callable[[], Any], timeout: float = GCS_TIMEOUT) -> Any:
    """``question()`` (a call of Ray that asks the cluster's head: ``ray.nodes``,
    ``ray.available_resources``, ...), or :class:`ClusterLost` when no answer came within
    ``timeout`` seconds, or at once once one did not. The call runs on a helper thread: Ray
    releases the GIL while it waits, but waits a minute for a head that died."""
    global _head_lost
    if _head_lost:
        raise ClusterLost(HEAD_LOST)
    answer: list = []

    def ask() -> None:
        try:
            answer.append((True, question()))
        except BaseException as exc:  # (handed to the caller's thread)
            answer.append((False, exc))

    thread = threading.Thread(target=ask, name="alphadev-ask-head", daemon=True)
    thread.start()
    thread.join(timeout)
    if not answer:
        _head_lost = True
        raise ClusterLost(HEAD_LOST)
    ok, value = answer[0]
    if not ok:
        raise value
    return value


def _alive(ray) -> dict[str, bool]:
    """Every node the cluster knows of: id -> alive (:class:`ClusterLost`: no answer)."""
    return {node["NodeID"]: bool(node["Alive"]) for node in ask_head(ray.nodes)}


def check_driver_node(ray, alive: dict[str, bool] | None = None) -> None:
    """:class:`DriverNodeLost` if the cluster marked the node this process joined through
    dead (nothing if the cluster cannot tell, as with Ray Client); ``alive`` (node id ->
    alive) if the caller has just asked the cluster; :class:`ClusterLost` if its head does not
    answer."""
    try:
        here = ray.get_runtime_context().get_node_id()
        if alive is None:
            alive = _alive(ray)
    except ClusterLost:
        raise
    except Exception:
        return
    if not alive.get(here, True):
        raise DriverNodeLost(
            "the Ray node this command joined through died (Ray ends the job's workers on "
            "every node with it)"
        )


#: Times a job joins the cluster again after the node it joined through died.
MAX_REJOINS = 3


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Losses:
    """What a job lost to faults over its sessions (a session: one connection to Ray, one
    :class:`ActorPool`; the job joins again when the node it joined through dies), and the
    lines that say so on stderr: ``alphadev COMMAND: ...``, the workers called ``noun``.

    :meth:`check` after each :meth:`ActorPool.next` (one line each time the pool goes on with
    fewer workers than asked), :meth:`end` when a session ends, :meth:`rejoin` after a
    :class:`DriverNodeLost`, and :meth:`summary` at the end (``continued with K of W workers
    after losing a node``, or "" when nothing was lost). The workers left at a session's end
    are its pool's slots not given up (their actors up or starting), or with ``up_only`` its
    actors that are up (a replacement still waiting for a CPU not counted).
    """

    def __init__(self, command: str, workers: int, noun: str = "workers", say=_say, *,
                 up_only: bool = False) -> None:  # fmt: skip
        self.command, self.workers, self.noun, self.say = command, workers, noun, say
        self.up_only = up_only
        self.restarts = self.nodes = self.rejoins = self.given_up = 0
        self.left = self.shown = workers

    def check(self, pool: ActorPool) -> None:
        """Say so once each time the pool goes on with fewer workers than asked."""
        if pool.workers < self.shown:
            self.shown = pool.workers
            self.say(f"alphadev {self.command}: lost a Ray node and no CPU is free for its "
                     f"workers: going on with {pool.workers} of {self.workers} "
                     f"{self.noun}")  # fmt: skip

    def end(self, pool: ActorPool) -> None:
        """A session ended: keep its counts (and the workers left, as the class says)."""
        self.restarts += pool.restarts
        self.given_up += pool.given_up
        self.nodes += pool.nodes_lost()
        self.left = pool.up_workers if self.up_only else pool.workers
        self.shown = self.workers

    def rejoin(self, exc: Exception) -> bool:
        """Whether to join the cluster again after ``exc`` (a lost driver's node), at most
        :data:`MAX_REJOINS` times; a line says so when it does (the caller says why not)."""
        self.rejoins += 1
        if self.rejoins > MAX_REJOINS:
            return False
        self.say(f"alphadev {self.command}: {exc}; joining the cluster again (what was done "
                 "is kept)")  # fmt: skip
        return True

    def summary(self) -> str:
        """``continued with K of W workers after losing a node``, or "" if no node was lost."""
        if not (self.nodes or self.rejoins or self.given_up):
            return ""
        return f"continued with {self.left} of {self.workers} {self.noun} after losing a node"


@dataclass(frozen=True)
class Finished:
    """A job an actor of an :class:`ActorPool` finished: the job, its result, the actor slot."""

    job: Any
    result: Any
    slot: int


class WorkersLost(ClusterError):
    """Every actor of an :class:`ActorPool` was lost and the cluster has no free CPU for a new
    one (its nodes died): nothing can run."""


class ClusterLost(ClusterError):
    """The cluster's head (its GCS) does not answer: it died, or the network to it did. Ray
    cannot go on without it (it ends the process about a minute later): stop with what was
    kept."""


class DriverNodeLost(ClusterError):
    """The Ray node this process joined through (its raylet) died: Ray ends the job and every
    actor it owns, wherever they ran. The process itself lives: it may join the cluster again
    (:func:`connect`) and start over with what it kept."""


#: Seconds a new actor may wait for a CPU, while the cluster has too few for the pool, before
#: its slot is given up (the pool goes on with the actors it has).
PLACE_TIMEOUT = 5.0
#: Seconds between two looks for a free CPU for the slots given up (a node that joins).
RETRY_EVERY = 10.0
#: The longest single wait of :meth:`ActorPool.next` (it then looks after its new actors).
POLL = 1.0
#: Seconds between two looks at which nodes the cluster has marked dead.
NODES_EVERY = 2.0


def _node_id(actor: Any) -> str:
    """The node an actor runs on (called in the actor, through ``__ray_call__``)."""
    import ray

    return ray.get_runtime_context().get_node_id()


class ActorPool:
    """``size`` actors, each running one job at a time from a queue; a dead actor is replaced
    and its jobs queued again (first), so no job is lost to a fault.

    ``make(slot, incarnation)`` creates the actor for ``slot`` (``incarnation`` counts its
    replacements, for example to seed it afresh); ``call(actor, job)`` starts the job and
    returns its ``ObjectRef``. ``depth`` jobs at most are under way per actor (Ray queues them
    at the actor in order: with 2, an actor starts its next job without waiting for the
    driver's round trip). An exception the job itself raised is raised by :meth:`next`;
    so is :class:`ClusterError` when ``max_failures`` actors in a row died before finishing a
    job (a node that cannot run them: nothing would ever finish).

    The first actors take their jobs at once (Ray holds the calls until each is up); a
    replacement takes jobs only once it is up (its first call, which says its node, answered),
    so the jobs of one that waits for a CPU go to the actors that are up. When a node dies, its
    actors' jobs go back to the queue (first) and each actor is replaced, as soon as a call
    fails or the cluster marks the node dead (looked at every :data:`NODES_EVERY` seconds: a
    call under way on a lost node may never answer); Ray places a replacement where a CPU is
    free. When none is (the cluster lost those CPUs), a slot whose actor still waits
    after :data:`PLACE_TIMEOUT` seconds is given up, its jobs queued again, and the pool goes
    on with fewer actors (:attr:`workers`; :attr:`given_up` counts the slots given up so far);
    every :data:`RETRY_EVERY` seconds a slot given up is started again if a CPU came free.
    :meth:`next` raises :class:`WorkersLost` when every slot was given up, and
    :class:`DriverNodeLost` when the node this process joined through died (Ray then ends
    every actor of the job: the caller may join again with :func:`connect` and a new pool).
    """

    def __init__(self, make: Callable[[int, int], Any], call: Callable[[Any, Any], Any],
                 size: int, *, depth: int = 1,
                 max_failures: int | None = None) -> None:  # fmt: skip
        self.ray = ray = import_ray()
        self.make, self.call = make, call
        self.size = size
        self.actors: list[Any] = [None] * size  # None: the slot was given up
        self.incarnations = [0] * size
        self.up = [False] * size
        self.eager = [True] * size  # takes jobs before it is up (the first actors only)
        self.starting: dict[Any, int] = {}  # the first call's ObjectRef -> slot
        self.started_at = [0.0] * size
        self.queue: deque = deque()
        self.running: dict[Any, tuple[int, Any]] = {}  # ObjectRef -> (slot, job)
        self.depth = depth
        self.restarts = 0
        self.given_up = 0
        self.failures_in_a_row = 0
        self.max_failures = max_failures if max_failures is not None else 4 * size + 4
        self.node_of: list[str | None] = [None] * size  # each actor's node, once it is up
        self._next_look = 0.0  # when the cluster's CPUs may be asked about next
        self._next_retry = 0.0
        self._next_nodes_look = time.monotonic() + NODES_EVERY
        errors = ray.exceptions
        #: What a job's result raises when its actor, its worker or its node was lost.
        self._faults = (errors.RayActorError, errors.WorkerCrashedError, errors.NodeDiedError,
                        errors.ObjectLostError, errors.ActorUnschedulableError)  # fmt: skip
        self.nodes_at_start = [node for node, alive in (self._nodes() or {}).items() if alive]
        for slot in range(size):
            self._start(slot)

    @property
    def workers(self) -> int:
        """The slots that have an actor (up, or starting)."""
        return sum(actor is not None for actor in self.actors)

    @property
    def up_workers(self) -> int:
        """The actors that are up (their first call answered)."""
        return sum(self.up)

    def submit(self, job: Any) -> None:
        """Queue ``job``; it starts as soon as an actor is idle."""
        self.queue.append(job)
        self._dispatch()

    def idle_slots(self) -> list[int]:
        """The slots of actors that take jobs (see the class docstring) with fewer than
        ``depth`` jobs under way, once per free place."""
        load = [0] * self.size
        for slot, _ in self.running.values():
            load[slot] += 1
        return [slot for extra in range(self.depth) for slot in range(self.size)
                if (self.up[slot] or self.eager[slot]) and self.actors[slot] is not None
                and load[slot] + extra < self.depth]  # fmt: skip

    def running_jobs(self) -> list[tuple[int, Any]]:
        """``(slot, job)`` of every job under way."""
        return list(self.running.values())

    def drop_queued(self, keep: Callable[[Any], bool] = lambda job: False) -> None:
        """Forget the queued jobs (those ``keep`` refuses)."""
        self.queue = deque(job for job in self.queue if keep(job))

    def next(self, timeout: float | None = None) -> Finished | None:
        """The next finished job, or None after ``timeout`` seconds (None: no limit) or when
        no job is under way or queued."""
        ray = self.ray
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            self._tend()
            if not self.running and not self.queue:
                return None
            left = POLL if end is None else min(POLL, max(0.0, end - time.monotonic()))
            waiting = [*self.running, *self.starting]
            if waiting:
                done, _ = ray.wait(waiting, num_returns=1, timeout=left)
            else:  # jobs queued and no actor at all: wait for a CPU to come free
                time.sleep(left)
                done = []
            if not done:
                if end is not None and time.monotonic() >= end:
                    return None
                continue
            ref = done[0]
            if ref in self.starting:
                self._started(ref)
                continue
            slot, job = self.running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                self._dispatch()
                raise exc.as_instanceof_cause() from None
            except self._faults:
                self._replace(slot, job)
                continue
            self.failures_in_a_row = 0
            self._dispatch()
            return Finished(job, result, slot)

    def _start(self, slot: int, *, eager: bool = True) -> None:
        """A new actor in ``slot``: up once its first call (which says its node) answers; it
        takes jobs then, or at once if ``eager``."""
        for ref in [ref for ref, where in self.starting.items() if where == slot]:
            del self.starting[ref]
        actor = self.make(slot, self.incarnations[slot])
        self.actors[slot] = actor
        self.up[slot] = False
        self.node_of[slot] = None
        self.eager[slot] = eager
        self.started_at[slot] = time.monotonic()
        self.starting[actor.__ray_call__.remote(_node_id)] = slot

    def _started(self, ref: Any) -> None:
        """The first call of a new actor answered: it is up (on that node), or it died
        starting."""
        slot = self.starting.pop(ref)
        try:
            node = self.ray.get(ref)
        except (self.ray.exceptions.RayTaskError, *self._faults):  # it died starting
            self._replace(slot, None)
            return
        self.up[slot] = True
        self.node_of[slot] = node if isinstance(node, str) else None
        self._dispatch()

    def _replace_the_lost(self) -> None:
        """Replace the actors on the nodes the cluster marked dead: Ray does not always fail
        the calls an actor had under way when its node died (they may never answer), so the
        pool does not wait for them. :class:`DriverNodeLost` if this process's own node is one."""
        alive = self._nodes()
        if not alive or all(alive.values()):
            return
        check_driver_node(self.ray, alive)
        for slot, node in enumerate(self.node_of):
            if node is not None and alive.get(node) is False and self.actors[slot] is not None:
                self._replace(slot, None)

    def _tend(self) -> None:
        """Note the new actors that are up; give up the slots whose new actor waits for a CPU
        the cluster no longer has; start again those given up when a CPU came free; hand out
        the queue."""
        if self.starting:
            ready, _ = self.ray.wait(list(self.starting), num_returns=len(self.starting),
                                     timeout=0)  # fmt: skip
            for ref in ready:
                if ref in self.starting:  # (a replacement started meanwhile drops old refs)
                    self._started(ref)
        now = time.monotonic()
        if now >= self._next_nodes_look:
            self._next_nodes_look = now + NODES_EVERY
            self._replace_the_lost()
        waiting = [slot for slot in self.starting.values()
                   if now - self.started_at[slot] > PLACE_TIMEOUT]  # fmt: skip
        given_up = [slot for slot in range(self.size) if self.actors[slot] is None]
        retry = bool(given_up) and now >= self._next_retry
        if (waiting and now >= self._next_look) or retry:
            self._next_look = now + POLL
            self.check_driver_node()
            free, total = self._cpus()
            if waiting and free < 1 and total < self.workers:
                for slot in waiting[: self.workers - int(total)]:
                    self._give_up(slot)
            if retry:
                self._next_retry = now + RETRY_EVERY
                for slot in given_up[: int(free)]:
                    self._start(slot, eager=False)
        self._dispatch()

    def _nodes(self) -> dict[str, bool] | None:
        """Every node the cluster knows of: id -> alive; None if the GCS did not answer with
        one (:class:`ClusterLost` if it did not answer at all)."""
        try:
            return _alive(self.ray)
        except ClusterLost:
            raise
        except Exception:
            return None

    def nodes_lost(self) -> int:
        """The nodes alive when the pool started that the cluster has marked dead since (all
        of them when its head was lost)."""
        try:
            now = self._nodes()
        except ClusterLost:
            return len(self.nodes_at_start)
        return 0 if now is None else sum(not now.get(node, False) for node in self.nodes_at_start)

    def check_driver_node(self) -> None:
        """:class:`DriverNodeLost` if the cluster marked this process's own node dead."""
        check_driver_node(self.ray)

    def _cpus(self) -> tuple[float, float]:
        """The cluster's free and total CPUs (those of the nodes alive)."""
        ray = self.ray
        try:
            free, total = ask_head(lambda: (ray.available_resources(), ray.cluster_resources()))
        except ClusterLost:
            raise
        except Exception:  # the GCS did not answer: assume room, give nothing up
            return 1.0, float(self.size)
        return free.get("CPU", 0.0), total.get("CPU", 0.0)

    def _give_up(self, slot: int) -> None:
        """No CPU is left for ``slot``'s new actor: the pool goes on without it (and its jobs,
        if it was given any, go to the others)."""
        for ref in [ref for ref, where in self.starting.items() if where == slot]:
            del self.starting[ref]
        with suppress(Exception):  # already gone
            self.ray.kill(self.actors[slot])
        self._requeue(slot)
        self.actors[slot] = None
        self.up[slot] = False
        self.given_up += 1
        if self.workers == 0:
            raise WorkersLost(
                f"every Ray worker was lost ({self.restarts} replaced) and the cluster has no "
                "free CPU for a new one"
            )

    def _replace(self, slot: int, job: Any) -> None:
        """The actor in ``slot`` died: a new one takes its place, and its jobs (``job``, if it
        was one, and any other it had under way) go first."""
        self.restarts += 1
        self.failures_in_a_row += 1
        self.check_driver_node()
        if self.failures_in_a_row > self.max_failures:
            raise ClusterError(
                f"{self.failures_in_a_row} Ray actors in a row died before finishing a job; "
                "is alphadev (the same version) installed on every node?"
            )
        self.incarnations[slot] += 1
        with suppress(Exception):  # already gone
            self.ray.kill(self.actors[slot])
        self._requeue(slot)
        if job is not None:
            self.queue.appendleft(job)
        self._start(slot, eager=False)
        self._dispatch()

    def _requeue(self, slot: int) -> None:
        """The jobs under way in ``slot`` go back to the queue, first, in their order."""
        lost = [ref for ref, (where, _) in self.running.items() if where == slot]
        for ref in reversed(lost):
            self.queue.appendleft(self.running.pop(ref)[1])

    def _dispatch(self) -> None:
        for slot in self.idle_slots():
            if not self.queue:
                return
            job = self.queue.popleft()
            self.running[self.call(self.actors[slot], job)] = (slot, job)

    def shutdown(self) -> None:
        """Kill every actor (their running jobs are abandoned; with the cluster's head lost,
        Ray ends them with the job)."""
        for actor in self.actors:
            if actor is not None and not _head_lost:
                with suppress(Exception):  # already gone
                    self.ray.kill(actor)
        self.running.clear()
        self.starting.clear()
        self.queue.clear()
