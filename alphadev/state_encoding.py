"""Game states as the network's inputs (numpy arrays, no torch), written by compiled kernels.

A batch of ``B`` states is a :class:`Leaves`: arrays, no Python object per state (the MCTS
hands its leaves this way, views of its tree's node arrays; :func:`leaves_of` stacks game
states). A :class:`StateEncoder` per game and network size holds the constants (location ids,
action tokens, expected rows) and writes a batch with the kernels below, each filling one
preallocated output: :meth:`StateEncoder.encode` the inputs of ``PolicyValueNet.forward``
(``alphadev.network.encode_states``), :meth:`StateEncoder.features` those of the search's
``PolicyValueNet.infer``, in buffers it reuses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from alphadev.game import FLAGS_VALID, AssemblyGame, GameState, legal_mask
from alphadev.jit import njit

__all__ = [
    "Leaves",
    "StateEncoder",
    "expected_counts",
    "flag_codes",
    "leaves_of",
    "legal",
    "location_ids",
    "moves",
    "padding",
    "program_tokens",
    "row_features",
    "values",
]


class Leaves(NamedTuple):
    """A batch of ``B`` states without a Python object per state: state ``i`` is row
    ``index[i]`` of the node arrays (``C`` rows: views of an MCTS tree's, or stacked states)
    and ``program[i, :length[i]]`` its instruction ids (a move of several instructions stands
    there as its instructions)."""

    index: np.ndarray  # int32[B]
    state: np.ndarray  # int32[C, R, L]
    flags: np.ndarray  # int8[C, R]
    book: np.ndarray  # int64[C, BOOK_SIZE]
    score: np.ndarray  # int64[C]
    program: np.ndarray  # int32[B, >= max(length)]
    length: np.ndarray  # int32[B]


def leaves_of(states: Sequence[GameState]) -> Leaves:
    """The :class:`Leaves` of game states (fresh arrays)."""
    b = len(states)
    length = np.array([gs.length for gs in states], np.int32).reshape(b)
    program = np.zeros((b, max(1, int(length.max(initial=0)))), np.int32)
    for i, gs in enumerate(states):
        program[i, : gs.length] = gs.program
    return Leaves(
        index=np.arange(b, dtype=np.int32),
        state=np.stack([gs.state for gs in states]).astype(np.int32, copy=False),
        flags=np.stack([gs.flags for gs in states]).astype(np.int8, copy=False),
        book=np.stack([gs.book for gs in states]).astype(np.int64, copy=False),
        score=np.array([gs.score for gs in states], np.int64).reshape(b),
        program=program,
        length=length,
    )


def location_ids(game: AssemblyGame, config) -> np.ndarray:
    """Table ids of the game's locations for a network of ``config`` (a ``NetworkConfig``):
    int64[L] (memory j -> j, register j -> max_memory+j)."""
    n, k = game.layout.n, game.layout.registers
    if n > config.max_memory or k > config.max_registers:
        raise ValueError(
            f"sort{n} with {k} registers exceeds the network's max_memory={config.max_memory}, "
            f"max_registers={config.max_registers}"
        )
    return np.concatenate([np.arange(n), config.max_memory + np.arange(k)]).astype(np.int64)


class StateEncoder:
    """One game's states as a network's inputs, for its ``config`` (a ``NetworkConfig``):
    the constants made once (:attr:`location_ids` int64[L], :attr:`tokens` int64[I, 3]: each
    instruction's op, dst-id, src-id, the program's tokens; :attr:`move_tokens` int64[M, K, 3]:
    the instructions of each move, the policy's actions, op -1 past a move's last), each batch
    written by the kernels below. :meth:`features` writes into buffers it reuses (its arrays
    hold until its next call: one caller at a time)."""

    def __init__(self, game: AssemblyGame, config) -> None:
        self.game, self.config = game, config
        self.location_ids = location_ids(game, config)
        tokens = game.instructions.astype(np.int64)
        tokens[:, 1:] = self.location_ids[tokens[:, 1:]]
        self.tokens = tokens
        steps = game.moves[..., 3].astype(np.int64)  # [M, K] instruction ids, -1 past the last
        self.move_tokens = np.where(steps[..., None] >= 0, tokens[steps.clip(min=0)], -1)
        self.expected = game.task.expected.astype(np.int64)  # int64[R, n]
        self._legal_args = (game.moves, game.n, game.max_length, game.max_score)
        self._expected_counts = None  # float32[R, V + 4], made at the first features()
        self._buffers: dict[str, np.ndarray] = {}

    def encode(self, leaves: Leaves) -> dict[str, np.ndarray]:
        """Fresh inputs for ``PolicyValueNet.forward`` (shapes in its docstring)."""
        b, t, rows = self._shape(leaves)
        program = np.empty((b, t, 3), np.int64)
        program_tokens(self.tokens, leaves.program, leaves.length, -1, program)
        states = np.empty((b, rows, leaves.state.shape[2]), np.int64)
        values(leaves.index, leaves.state, states)
        flags = np.empty((b, rows), np.int64)
        flag_codes(leaves.index, leaves.flags, leaves.book, flags)
        mask = np.empty((b, self.game.num_actions), np.bool_)
        self._legal(leaves, mask, illegal=False)
        return {
            "program": program,
            "values": states,
            "location_ids": self.location_ids.copy(),
            "expected": np.array(np.broadcast_to(self.expected, (b, rows, self.game.n))),
            "flags": flags,
            "row_mask": np.ones((b, rows), np.bool_),
            "actions": self.move_tokens.copy(),
            "legal": mask,
        }

    def features(self, leaves: Leaves) -> dict[str, np.ndarray]:
        """Inputs for ``PolicyValueNet.infer`` but its constants (views of this encoder's
        buffers): ``moves`` int64[B, 1 + T], ``padding`` float32[B, 1 + T], ``features``
        float32[B, R, V + 4], ``illegal`` bool[B, A] (see :func:`moves`, :func:`padding`,
        :func:`row_features`, :func:`legal`)."""
        b, t, rows = self._shape(leaves)
        summary_moves = self._buffer("moves", (b, 1 + t), np.int64)
        moves(leaves.program, leaves.length, len(self.tokens), summary_moves)
        mask = self._buffer("padding", (b, 1 + t), np.float32)
        padding(leaves.length, mask)
        if self._expected_counts is None:
            self._expected_counts = expected_counts(self.expected, self.config.max_value)
        counts = self._buffer("features", (b, rows, self.config.max_value + 4), np.float32)
        row_features(leaves.index, leaves.state, leaves.flags, leaves.book,
                     self._expected_counts, counts)  # fmt: skip
        illegal = self._buffer("illegal", (b, self.game.num_actions), np.bool_)
        self._legal(leaves, illegal, illegal=True)
        return {"moves": summary_moves, "padding": mask, "features": counts, "illegal": illegal}

    def _shape(self, leaves: Leaves) -> tuple[int, int, int]:
        """``(B, T, R)``: states, program slots (the longest program, at least 1), rows."""
        t = int(leaves.length.max(initial=0))
        if t > self.config.max_length:
            raise ValueError(
                f"a program is longer than the network's max_length={self.config.max_length}"
            )
        return len(leaves.index), max(1, t), leaves.state.shape[1]

    def _legal(self, leaves: Leaves, out: np.ndarray, *, illegal: bool) -> None:
        legal(*self._legal_args, leaves.index, leaves.book, leaves.score, leaves.length,
              illegal, out.view(np.int8))  # fmt: skip

    def _buffer(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A C-contiguous ``shape`` view of the reused buffer ``name`` (grown as needed)."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(2 * size, dtype)
        return buffer[:size].reshape(shape)


# ---------------------------------------------------------------------- compiled kernels


@njit(cache=True, nogil=True)
def program_tokens(tokens, program, length, pad, out):  # pragma: no cover - compiled
    """``out`` int64[B, T, 3]: slot ``t < length[i]`` of row ``i`` the token of instruction
    ``program[i, t]`` (``tokens`` int64[I, 3]: op, dst-id, src-id), every later slot ``pad``."""
    for i in range(out.shape[0]):
        for t in range(out.shape[1]):
            if t < length[i]:
                for k in range(3):
                    out[i, t, k] = tokens[program[i, t], k]
            else:
                for k in range(3):
                    out[i, t, k] = pad


@njit(cache=True, nogil=True)
def moves(program, length, summary, out):  # pragma: no cover - compiled
    """``out`` int64[B, 1 + T]: ``summary`` (the summary token's id), then the program's
    instruction ids, then 0 in the padding slots."""
    for i in range(out.shape[0]):
        out[i, 0] = summary
        for t in range(out.shape[1] - 1):
            out[i, t + 1] = program[i, t] if t < length[i] else 0


@njit(cache=True, nogil=True)
def padding(length, out):  # pragma: no cover - compiled
    """``out`` float32[B, 1 + T]: 0 on the summary slot and the program's, -inf after (an
    attention mask over the keys)."""
    for i in range(out.shape[0]):
        out[i, 0] = 0.0
        for t in range(out.shape[1] - 1):
            out[i, t + 1] = 0.0 if t < length[i] else -np.inf


@njit(cache=True, nogil=True)
def legal(  # pragma: no cover - compiled
    moves, n, max_length, max_score, index, book, score, length, illegal, out
):
    """``out`` int8[B, M]: the game's legal mask of each state (``moves`` its move table;
    empty once the game is over: correct, or ``max_length`` long), or with ``illegal`` its
    complement."""
    for i in range(out.shape[0]):
        c = index[i]
        if score[c] == max_score or length[i] >= max_length:
            out[i, :] = 0
        else:
            legal_mask(moves, book[c], n, max_length - length[i], out[i])
        if illegal:
            for a in range(out.shape[1]):
                out[i, a] = 1 - out[i, a]


@njit(cache=True, nogil=True)
def flag_codes(index, flags, book, out):  # pragma: no cover - compiled
    """``out`` int64[B, R]: each row's flag + 2 (1 <, 2 =, 3 >) once a cmp ran, else 0."""
    for i in range(out.shape[0]):
        c = index[i]
        valid = book[c, FLAGS_VALID] != 0
        for r in range(out.shape[1]):
            out[i, r] = flags[c, r] + 2 if valid else 0


@njit(cache=True, nogil=True)
def values(index, state, out):  # pragma: no cover - compiled
    """``out`` int64[B, R, L]: the states' values."""
    for i in range(out.shape[0]):
        out[i] = state[index[i]]


@njit(cache=True, nogil=True)
def row_features(index, state, flags, book, expected, out):  # pragma: no cover - compiled
    """``out`` float32[B, R, V + 4]: per row, how many of its locations hold each value
    (clamped to ``[0, V)``) plus ``expected`` (:func:`expected_counts`), then the one-hot of
    its flag code (as :func:`flag_codes`)."""
    top = out.shape[2] - 5  # V - 1
    for i in range(out.shape[0]):
        c = index[i]
        valid = book[c, FLAGS_VALID] != 0
        for r in range(out.shape[1]):
            out[i, r] = expected[r]
            for j in range(state.shape[2]):
                out[i, r, min(max(state[c, r, j], 0), top)] += 1.0
            out[i, r, top + 1 + (flags[c, r] + 2 if valid else 0)] += 1.0


def expected_counts(expected: np.ndarray, max_value: int) -> np.ndarray:
    """float32[R, V + 4]: per row of ``expected`` (int[R, n]), how many of its items hold each
    value (clamped to ``[0, V)``, ``V = max_value``); zeros in the flag columns."""
    rows = len(expected)
    counts = np.zeros((rows, max_value + 4), np.float32)
    np.add.at(counts, (np.arange(rows)[:, None], np.clip(expected, 0, max_value - 1)), 1.0)
    return counts
