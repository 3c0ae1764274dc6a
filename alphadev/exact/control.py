"""A typed handle shared with an exact search running on another thread.

The numba kernels poll a small ``int64`` array (they cannot take a Python object); this class
names its slots so that no caller indexes it by hand.
"""

from __future__ import annotations

import numpy as np

__all__ = ["POLL_EVERY", "POLL_ROWS", "SearchControl"]

#: The kernels look at the stop flag once every this many generated states...
POLL_EVERY = 4096
#: ... or more often when the states are large: about once every this many row operations
#: (a state over ``rows`` rows counts ``rows``), so that a stop is seen within a few tens of
#: milliseconds whatever the number of rows (sort7 and sort8 have 47,293 and 545,835).
POLL_ROWS = 1 << 24

# Slots of the shared array (the kernels use these same constants).
STOP = 0
NODES = 1
DEPTH_LIMIT = 2


class SearchControl:
    """Stop a running search and read its progress from any thread.

    Attributes:
        array: ``int64[4]``, the slots the compiled kernels read and write: stop flag,
            states generated (cumulative over every search given this control), the core
            length being searched, spare.
    """

    def __init__(self) -> None:
        self.array = np.zeros(4, dtype=np.int64)

    def stop(self) -> None:
        """Ask every search using this control to return as soon as it next polls."""
        self.array[STOP] = 1

    @property
    def stopped(self) -> bool:
        return bool(self.array[STOP])

    @property
    def nodes(self) -> int:
        """States generated so far, by every search that used this control."""
        return int(self.array[NODES])

    @property
    def depth_limit(self) -> int:
        """The core length the current search is asking about."""
        return int(self.array[DEPTH_LIMIT])

    @depth_limit.setter
    def depth_limit(self, value: int) -> None:
        self.array[DEPTH_LIMIT] = value
