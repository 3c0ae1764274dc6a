"""64-bit FNV-1a style hashing for compiled state keys (one home for every engine's keys).

Keys are hashes: two different states share one with probability about ``2**-64`` per pair. A
search that dedups on keys may, on such a collision, skip a state it should have expanded
(hiding a program, never inventing one: every program found is verified).
"""

from __future__ import annotations

import numpy as np

from alphadev.jit import njit

__all__ = [
    "FNV_PRIME",
    "FNV_SEED",
    "LAST_CMP_MARK",
    "UNWRITTEN",
    "column_hash",
    "finish",
    "fnv_mix",
    "fnv_mix_sorted",
    "fnv_seed",
    "mix64",
    "renaming_key_of",
]

# numpy scalars at module level: numba compiles them in as constants (no cost in a kernel).
FNV_PRIME = np.uint64(0x100000001B3)
FNV_SEED = np.uint64(0xCBF29CE484222325)
#: XORed into a state key when the last move was a ``cmp`` (the golden-ratio constant).
LAST_CMP_MARK = np.uint64(0x9E3779B97F4A7C15)
#: The column hash an unwritten register counts as in a renaming-invariant key.
UNWRITTEN = np.uint64(7)
_SET_SEED = np.uint64(0x84222325CBF29CE4)
_MIX_MULTIPLIER = np.uint64(0xFF51AFD7ED558CCD)


@njit(cache=True, nogil=True, inline="always")
def fnv_seed():  # pragma: no cover - compiled
    """The starting value of a hash."""
    return FNV_SEED


@njit(cache=True, nogil=True, inline="always")
def fnv_mix(h, value):  # pragma: no cover - compiled
    """Mix the low 32 bits of the integer ``value`` into the hash ``h`` (uint64)."""
    return (h ^ np.uint64(np.int64(value) & 0xFFFFFFFF)) * FNV_PRIME


@njit(cache=True, nogil=True)
def fnv_mix_sorted(hashes, distinct_only):  # pragma: no cover - compiled
    """Hash of a multiset (or, with ``distinct_only``, a set) of hashes: ``hashes`` is
    ``uint64[k]`` and is sorted in place. Returns ``(key, number of distinct hashes)``."""
    hashes.sort()
    key = _SET_SEED
    distinct = 0
    for i in range(hashes.shape[0]):
        new = i == 0 or hashes[i] != hashes[i - 1]
        distinct += new
        if new or not distinct_only:
            key = (key ^ hashes[i]) * FNV_PRIME
            key ^= key >> np.uint64(31)
    return key, distinct


@njit(cache=True, nogil=True, inline="always")
def mix64(x):  # pragma: no cover - compiled
    """Scramble the bits of the uint64 ``x`` (for open-addressing table slots)."""
    x ^= x >> np.uint64(33)
    x *= _MIX_MULTIPLIER
    x ^= x >> np.uint64(33)
    return x


@njit(cache=True, nogil=True, inline="always")
def finish(h):  # pragma: no cover - compiled
    """The last step of a column or flags hash: fold the high bits of ``h`` into the low."""
    return h ^ (h >> np.uint64(29))


@njit(cache=True, nogil=True, inline="always")
def column_hash(column):  # pragma: no cover - compiled
    """Hash of an ``int8[rows]`` column (a register's values, or the flags, over the rows)."""
    h = fnv_seed()
    for v in column:
        h = fnv_mix(h, v + 3)
    return finish(h)


@njit(cache=True, nogil=True, inline="always")
def renaming_key_of(column_hashes, flags_hash, flags_valid, last_cmp):  # pragma: no cover
    """The key of an exact engine's state up to register renaming, from its parts: the
    multiset of register column hashes (``uint64[registers]``, :data:`UNWRITTEN` for an
    unwritten register; sorted in place), the flags' hash when ``flags_valid``, and whether the
    last move was a ``cmp``. Never 0. Engines hash their columns their own way (all rows, a
    subset of rows, whole 8-row words) and share this combination."""
    key, _ = fnv_mix_sorted(column_hashes, False)
    if flags_valid:
        key = (key ^ flags_hash) * FNV_PRIME
    if last_cmp:
        key ^= LAST_CMP_MARK
    key ^= key >> np.uint64(33)
    return key if key != 0 else np.uint64(1)
