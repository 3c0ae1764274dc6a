"""The common result type of the baseline searches."""

from __future__ import annotations

from dataclasses import dataclass, field

from alphadev.isa import Program

__all__ = ["BaselineResult"]


@dataclass
class BaselineResult:
    """What a baseline search found.

    Attributes:
        method: the method's name.
        program: the best program correct on every tie-pattern row, or None.
        seconds_to_best: seconds from the start to finding ``program``.
        seconds: seconds the search ran.
        explored: programs (or game states) the search evaluated.
        history: ``(seconds, length)`` each time the best improved.
    """

    method: str
    program: Program | None
    seconds_to_best: float | None
    seconds: float
    explored: int
    history: list[tuple[float, int]] = field(default_factory=list)

    @property
    def length(self) -> int | None:
        return None if self.program is None else len(self.program)
