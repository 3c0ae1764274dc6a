"""Ctrl-C as a request, not an exception: for the phases where an exception would lose work.

:func:`on_sigint` replaces Python's ``KeyboardInterrupt`` with a callback for the duration of a
``with`` block (the search's stop request while it runs; "note it, finish the write" while a
found kernel is verified and written), then puts the previous handler back. A second Ctrl-C
calls the callback again and changes nothing else. Off the main thread, or where SIGINT is
ignored (a child that must not be interrupted), it installs nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = ["on_sigint"]


@contextlib.contextmanager
def on_sigint(callback: Callable[[], None]) -> Iterator[bool]:
    """Within the block, SIGINT calls ``callback()`` instead of raising ``KeyboardInterrupt``.
    Yields whether the handler was installed."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN or previous is None:
        yield False
        return

    def handler(signum, frame) -> None:
        callback()

    signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
