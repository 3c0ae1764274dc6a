"""64-bit FNV-1a style hashing for compiled state keys (one home for every engine's keys).

Keys are hashes: two different states share one with probability about ``2**-64`` per pair. A
search that dedups on keys may, on such a collision, skip a state it should have expanded
(hiding a program, never inventing one: every program found is verified).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["FNV_PRIME", "FNV_SEED", "fnv_mix", "fnv_mix_sorted", "fnv_seed", "mix64"]

FNV_PRIME = np.uint64(0x100000001B3)
FNV_SEED = np.uint64(0xCBF29CE484222325)


@njit(cache=True, nogil=True, inline="always")
def fnv_seed():  # pragma: no cover - compiled
    """The starting value of a hash."""
    return np.uint64(0xCBF29CE484222325)


@njit(cache=True, nogil=True, inline="always")
def fnv_mix(h, value):  # pragma: no cover - compiled
    """Mix the low 32 bits of the integer ``value`` into the hash ``h`` (uint64)."""
    return (h ^ np.uint64(np.int64(value) & 0xFFFFFFFF)) * np.uint64(0x100000001B3)


@njit(cache=True, nogil=True)
def fnv_mix_sorted(hashes, distinct_only):  # pragma: no cover - compiled
    """Hash of a multiset (or, with ``distinct_only``, a set) of hashes: ``hashes`` is
    ``uint64[k]`` and is sorted in place. Returns ``(key, number of distinct hashes)``."""
    hashes.sort()
    key = np.uint64(0x84222325CBF29CE4)
    distinct = 0
    for i in range(hashes.shape[0]):
        new = i == 0 or hashes[i] != hashes[i - 1]
        distinct += new
        if new or not distinct_only:
            key = (key ^ hashes[i]) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(31)
    return key, distinct


@njit(cache=True, nogil=True, inline="always")
def mix64(x):  # pragma: no cover - compiled
    """Scramble the bits of the uint64 ``x`` (for open-addressing table slots)."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    return x
