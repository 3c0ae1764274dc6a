"""Progress for long commands: a live bar on a terminal, a plain line every few seconds when
stderr is redirected (CI, nohup, a pipe), so a long run is never silent."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import Progress, ProgressColumn

__all__ = ["LINE_EVERY", "Reporter", "plural"]

#: Seconds between plain progress lines when stderr is not a terminal.
LINE_EVERY = 5.0


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and the noun in the number it takes: ``1 time``, ``3 times``, ``0 parts``
    (``nouns``: the plural when it is not ``noun + "s"``); thousands separated by commas."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


class Reporter:
    """``with Reporter(console, columns, total=..., label=...) as r: r.update(done, text)``.

    On a terminal it drives a rich progress bar (``columns``, ``total``; None: no bar); else
    it prints ``label: text (done/total)`` to ``console`` at most every ``every`` seconds, and
    once more at the end.
    """

    def __init__(self, console: Console, columns: tuple[ProgressColumn, ...], *,
                 total: float | None, label: str, every: float = LINE_EVERY) -> None:  # fmt: skip
        self.console = console
        self.total = total
        self.label = label
        self.every = every
        self.live = console.is_terminal
        self.bar = Progress(*columns, console=console, transient=True) if self.live else None
        self.task = None
        self.last_line = 0.0
        self.pending: str | None = None
        self.t0 = time.perf_counter()

    def __enter__(self) -> Reporter:
        if self.bar is not None:
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def update(self, done: float, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, description=text)
            return
        now = time.perf_counter()
        shown = f"{done:,.0f}/{self.total:,.0f}" if self.total else f"{now - self.t0:.0f} s"
        line = f"{self.label} [{shown}] {text}"
        if now - self.last_line >= self.every:
            self.console.print(line, highlight=False, soft_wrap=True)
            self.last_line = now
            self.pending = None
        else:
            self.pending = line

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        elif self.pending is not None:
            self.console.print(self.pending, highlight=False, soft_wrap=True)
