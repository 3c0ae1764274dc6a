"""Stopping a run on time: the deadline of ``--time-limit`` (or a stop request) is polled
inside every long phase (each network pass of the self-play search, each move, each
micro-batch of a learner step, the wait for a worker's episode), so a run ends within about
one network pass of its deadline; the work under way is dropped.

Where one pass is long (a sort8 position: about 10 s on one core), :func:`stoppable` runs it
on a helper thread and polls the deadline while it waits: at the deadline the caller stops
waiting and the pass finishes alone in the background, its result unused. Such a pass is
waited for when the interpreter exits (a thread still inside torch then would abort the
process); ``alphadev train`` instead ends its process at once with :func:`os._exit` once
everything is written (:func:`left_behind`).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Deadline", "ShouldStop", "Stopped", "check", "left_behind", "stoppable"]

T = TypeVar("T")
#: Seconds between two looks at the clock while a pass runs on its helper thread.
POLL_SECONDS = 0.05
#: Helper threads whose pass the deadline left behind.
_LEFT_BEHIND: list[threading.Thread] = []


def left_behind() -> bool:
    """Whether a pass left behind by a deadline is still running."""
    return any(thread.is_alive() for thread in _LEFT_BEHIND)


@atexit.register
def _wait_for_left_behind() -> None:  # pragma: no cover - runs at interpreter exit
    for thread in _LEFT_BEHIND:
        thread.join()


#: A callable that says whether the run must stop now.
ShouldStop = Callable[[], bool]


class Stopped(Exception):
    """Raised inside self-play or a learner step when the run must stop; the episode or the
    step under way is dropped (a checkpoint keeps everything done before it)."""


def check(should_stop: ShouldStop | None) -> None:
    """Raise :class:`Stopped` if ``should_stop()`` says so."""
    if should_stop is not None and should_stop():
        raise Stopped


class Deadline:
    """``Deadline(started, seconds)()`` is True once ``seconds`` have passed since
    ``started`` (a :func:`time.perf_counter` reading; never with ``seconds=None``) or once
    :meth:`interrupt` was called (a Ctrl-C: a request every poll sees, where the
    ``KeyboardInterrupt`` raised with it can be swallowed by a library's callback)."""

    def __init__(self, started: float, seconds: float | None) -> None:
        self.at = None if seconds is None else started + seconds
        self.interrupted = False

    def interrupt(self) -> None:
        """Ask the run to stop now (the next poll raises :class:`Stopped`)."""
        self.interrupted = True

    def __call__(self) -> bool:
        return self.interrupted or (self.at is not None and time.perf_counter() >= self.at)

    def left(self) -> float | None:
        """Seconds left (at least 0), or None without a limit."""
        return None if self.at is None else max(0.0, self.at - time.perf_counter())


def stoppable(compute: Callable[[], T], should_stop: ShouldStop | None, *,
              threaded: bool) -> T:  # fmt: skip
    """``compute()``, after :func:`check`; with ``threaded`` (a long pass) on a helper thread,
    raising :class:`Stopped` as soon as ``should_stop()`` says so while it runs (the pass then
    finishes in the background and its result is dropped). Torch's grad mode is per thread:
    ``compute`` sets its own (as the network's evaluators and the learner do)."""
    check(should_stop)
    if not threaded or should_stop is None:
        return compute()
    box: dict = {}

    def target() -> None:
        try:
            box["result"] = compute()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="alphadev-train-pass", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(POLL_SECONDS)
        if thread.is_alive() and should_stop():
            _LEFT_BEHIND.append(thread)
            raise Stopped
    if "error" in box:
        raise box["error"]
    return box["result"]
