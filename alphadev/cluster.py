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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "LOCAL",
    "ActorPool",
    "ClusterError",
    "Finished",
    "check_address",
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
def connect(address: str | None, *, workers: int) -> Iterator[Any]:
    """Ray, connected for the length of the ``with`` block, then shut down.

    ``address`` None or :data:`LOCAL` starts a Ray on this machine with ``workers`` CPUs (each
    actor takes one); any other address (``HOST:PORT`` of ``ray start --head``, or ``auto``)
    joins that cluster, which must offer at least ``workers`` CPUs. When Ray is already
    initialised in this process (a test, a notebook), that one is used and left running.
    """
    ray = import_ray()
    if address not in (None, LOCAL):
        check_reachable(address)
    elif workers > local_cpus():
        raise ClusterError(
            f"--workers {workers}: this machine has {local_cpus()} CPUs and a local Ray gives "
            "each worker one; ask for at most that many, or join a cluster with --ray HOST:PORT"
        )
    if ray.is_initialized():
        yield ray
        return
    # Ray 2.5x warns at every start about a future change of GPU env handling: not ours.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address in (None, LOCAL):
            ray.init(num_cpus=workers, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"--ray {address}: cannot join the cluster ({exc})") from None
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < workers:
            raise ClusterError(
                f"--workers {workers}: the cluster at {address} offers {cpus:g} CPUs; each "
                "worker takes one"
            )
        yield ray
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class Finished:
    """A job an actor of an :class:`ActorPool` finished: the job, its result, the actor slot."""

    job: Any
    result: Any
    slot: int


class ActorPool:
    """``size`` actors, each running one job at a time from a queue; a dead actor is replaced
    and its job queued again (first), so no job is lost to a fault.

    ``make(slot, incarnation)`` creates the actor for ``slot`` (``incarnation`` counts its
    replacements, for example to seed it afresh); ``call(actor, job)`` starts the job and
    returns its ``ObjectRef``. ``depth`` jobs at most are under way per actor (Ray queues them
    at the actor in order: with 2, an actor starts its next job without waiting for the
    driver's round trip). An exception the job itself raised is raised by :meth:`next`;
    so is :class:`ClusterError` when ``max_failures`` actors in a row died before finishing a
    job (a node that cannot run them: nothing would ever finish).
    """

    def __init__(self, make: Callable[[int, int], Any], call: Callable[[Any, Any], Any],
                 size: int, *, depth: int = 1,
                 max_failures: int | None = None) -> None:  # fmt: skip
        self.ray = import_ray()
        self.make, self.call = make, call
        self.actors = [make(slot, 0) for slot in range(size)]
        self.incarnations = [0] * size
        self.queue: deque = deque()
        self.running: dict[Any, tuple[int, Any]] = {}  # ObjectRef -> (slot, job)
        self.depth = depth
        self.restarts = 0
        self.failures_in_a_row = 0
        self.max_failures = max_failures if max_failures is not None else 4 * size + 4

    def submit(self, job: Any) -> None:
        """Queue ``job``; it starts as soon as an actor is idle."""
        self.queue.append(job)
        self._dispatch()

    def idle_slots(self) -> list[int]:
        """The slots with fewer than ``depth`` jobs under way, once per free place."""
        load = [0] * len(self.actors)
        for slot, _ in self.running.values():
            load[slot] += 1
        return [slot for extra in range(self.depth) for slot in range(len(load))
                if load[slot] + extra < self.depth]  # fmt: skip

    def running_jobs(self) -> list[tuple[int, Any]]:
        """``(slot, job)`` of every job under way."""
        return list(self.running.values())

    def drop_queued(self, keep: Callable[[Any], bool] = lambda job: False) -> None:
        """Forget the queued jobs (those ``keep`` refuses)."""
        self.queue = deque(job for job in self.queue if keep(job))

    def next(self, timeout: float | None = None) -> Finished | None:
        """The next finished job, or None after ``timeout`` seconds or when nothing runs."""
        ray = self.ray
        while self.running:
            done, _ = ray.wait(list(self.running), num_returns=1, timeout=timeout)
            if not done:
                return None
            ref = done[0]
            slot, job = self.running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError:
                self._replace(slot, job)
                continue
            except ray.exceptions.RayTaskError as exc:
                self._dispatch()
                raise exc.as_instanceof_cause() from None
            self.failures_in_a_row = 0
            self._dispatch()
            return Finished(job, result, slot)
        return None

    def _replace(self, slot: int, job: Any) -> None:
        """The actor in ``slot`` died: a new one takes its place, and its jobs (``job`` and any
        other it had queued) go first."""
        self.restarts += 1
        self.failures_in_a_row += 1
        if self.failures_in_a_row > self.max_failures:
            raise ClusterError(
                f"{self.failures_in_a_row} Ray actors in a row died before finishing a job; "
                "is alphadev (the same version) installed on every node?"
            )
        self.incarnations[slot] += 1
        with suppress(Exception):  # already gone
            self.ray.kill(self.actors[slot])
        self.actors[slot] = self.make(slot, self.incarnations[slot])
        lost = [ref for ref, (where, _) in self.running.items() if where == slot]
        for ref in reversed(lost):
            self.queue.appendleft(self.running.pop(ref)[1])
        self.queue.appendleft(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in self.idle_slots():
            if not self.queue:
                return
            job = self.queue.popleft()
            self.running[self.call(self.actors[slot], job)] = (slot, job)

    def shutdown(self) -> None:
        """Kill every actor (their running jobs are abandoned)."""
        for actor in self.actors:
            with suppress(Exception):  # already gone
                self.ray.kill(actor)
        self.running.clear()
        self.queue.clear()
