"""Sort tasks: test rows, expected outputs, the correctness score, and verification.

The test rows of sort ``n`` are every permutation of every tie pattern of ``n`` values: every
sequence over ``0..n-1`` whose set of values is ``{0, ..., j-1}`` for some ``j``. Their counts
are the ordered Bell (Fubini) numbers 1, 3, 13, 75, 541, 4683, 47293 for n = 1..7. A
comparison-based kernel sorts every int32 input iff it sorts these rows (only the order
pattern of the input matters), so they are the exact test set; :func:`verify` adds random
int32 rows on top as a guard against an emulator or encoding mistake.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from alphadev.asm import MAX_N, MAX_REGISTERS
from alphadev.emulator import run_program
from alphadev.isa import FLAGS, ActionSpace, Instruction, Isa, Layout, Op, Program, get_isa
from alphadev.jit import njit

__all__ = [
    "MAX_RANDOM_ROWS",
    "OPTIMAL_COMPARATORS",
    "Counterexample",
    "SortTask",
    "VerifyResult",
    "random_int32_rows",
    "static_error",
    "tie_pattern_rows",
    "verify",
]

#: Comparators of the smallest sorting networks for n = 0..8 (Knuth, TAOCP vol. 3, 5.3.4).
OPTIMAL_COMPARATORS = (0, 0, 1, 3, 5, 9, 12, 16, 19)

#: Random int32 rows :func:`verify` runs at most.
MAX_RANDOM_ROWS = 1_000_000

INT32_MIN = int(np.iinfo(np.int32).min)
INT32_MAX = int(np.iinfo(np.int32).max)
_SPECIAL = np.array(
    [INT32_MIN, INT32_MIN + 1, -65536, -2, -1, 0, 1, 2, 65536, INT32_MAX - 1, INT32_MAX],
    dtype=np.int32,
)


@functools.lru_cache(maxsize=16)
def _tie_pattern_rows_cached(n: int) -> np.ndarray:
    if not 1 <= n <= MAX_N:
        raise ValueError(f"tie-pattern rows are built for 1 <= n <= {MAX_N}, got n={n}")
    # Grow the sequences one position at a time, appending each digit 0..n-1 in order (so the
    # result is lexicographic), and keep a prefix only while the values missing below its
    # largest can still be placed in the positions left: at the end the values form {0..j-1}.
    popcount = np.array([bin(m).count("1") for m in range(1 << n)], dtype=np.int64)
    highest = np.array([m.bit_length() for m in range(1 << n)], dtype=np.int64)
    rows = np.zeros((1, 0), dtype=np.int32)
    masks = np.zeros(1, dtype=np.int64)
    digits = np.arange(n, dtype=np.int32)
    for position in range(n):
        left = n - position - 1
        grown = np.empty((rows.shape[0] * n, position + 1), dtype=np.int32)
        grown[:, :position] = np.repeat(rows, n, axis=0)
        grown[:, position] = np.tile(digits, rows.shape[0])
        grown_masks = np.repeat(masks, n) | (np.int64(1) << np.tile(digits, masks.shape[0]))
        gaps = highest[grown_masks] - popcount[grown_masks]
        keep = gaps <= left
        rows, masks = grown[keep], grown_masks[keep]
    rows = np.ascontiguousarray(rows)
    rows.setflags(write=False)
    return rows


def tie_pattern_rows(n: int) -> np.ndarray:
    """Every permutation of every tie pattern of ``n`` values: ``int32[rows, n]``, lexicographic."""
    return _tie_pattern_rows_cached(n)


def random_int32_rows(n: int, count: int, seed: int = 0) -> np.ndarray:
    """``int32[count, n]`` rows mixing three kinds, a third each: uniform over all of int32;
    drawn from edge values (INT32_MIN, INT32_MAX, -1, 0, 1, ...) so ties are frequent; and a
    small range -2..2 (many duplicates)."""
    rng = np.random.default_rng(seed)
    third = count // 3
    uniform = rng.integers(INT32_MIN, INT32_MAX, size=(count - 2 * third, n), endpoint=True)
    special = rng.choice(_SPECIAL, size=(third, n))
    small = rng.integers(-2, 2, size=(third, n), endpoint=True)
    return np.concatenate([uniform, special, small]).astype(np.int32)


@njit(cache=True, nogil=True)
def count_in_place(state, expected):  # pragma: no cover - compiled
    """Items already in their sorted place, summed over rows (AlphaDev's correctness score).
    ``state``: int32[rows, locations] (memory first); ``expected``: int32[rows, n]."""
    rows, n = expected.shape
    total = 0
    for r in range(rows):
        for i in range(n):
            if state[r, i] == expected[r, i]:
                total += 1
    return total


@njit(cache=True, nogil=True)
def first_wrong_row(state, expected):  # pragma: no cover - compiled
    """Index of the first row whose memory differs from ``expected``, or -1."""
    rows, n = expected.shape
    for r in range(rows):
        for i in range(n):
            if state[r, i] != expected[r, i]:
                return r
    return -1


def initial_state(inputs: np.ndarray, layout: Layout) -> np.ndarray:
    """Machine state ``int32[rows, locations]`` with memory = ``inputs`` and registers = 0."""
    state = np.zeros((inputs.shape[0], layout.num_locations), dtype=np.int32)
    state[:, : layout.n] = inputs
    return state


class SortTask:
    """Sort ``n`` int32 values in memory ``m0..m{n-1}``, with ``registers`` registers and an ISA.

    Attributes (all read-only numpy arrays):
        inputs: int32[rows, n], the tie-pattern test rows.
        expected: int32[rows, n], each row sorted ascending.
        initial_state: int32[rows, n + registers], memory = inputs, registers = 0.
        initial_flags: int8[rows], zeros (no cmp has run).
    """

    def __init__(self, n: int, registers: int | None = None, isa: Isa | str = "cmov") -> None:
        if not 1 <= n <= MAX_N:
            raise ValueError(f"sort sizes 1 to {MAX_N} are supported, got n={n}")
        self.n = n
        self.registers = n + 1 if registers is None else registers
        if not 1 <= self.registers <= MAX_REGISTERS:
            raise ValueError(
                f"register counts 1 to {MAX_REGISTERS} are supported, got {self.registers}"
            )
        self.layout = Layout(n, self.registers)
        self.isa = get_isa(isa)
        self.inputs = tie_pattern_rows(n)
        self.expected = np.sort(self.inputs, axis=1).astype(np.int32)
        self.initial_state = initial_state(self.inputs, self.layout)
        self.initial_flags = np.zeros(self.num_rows, dtype=np.int8)
        for array in (self.expected, self.initial_state, self.initial_flags):
            array.setflags(write=False)

    @property
    def name(self) -> str:
        return f"sort{self.n}"

    @property
    def num_rows(self) -> int:
        return self.inputs.shape[0]

    @property
    def max_correctness(self) -> int:
        """The correctness score of a sorted state: ``rows * n``."""
        return self.num_rows * self.n

    @functools.cached_property
    def action_space(self) -> ActionSpace:
        return ActionSpace(self.layout, self.isa)

    def correctness(self, state: np.ndarray) -> int:
        """AlphaDev's score: items in their sorted place, summed over rows."""
        return int(count_in_place(state, self.expected))

    def is_correct(self, state: np.ndarray) -> bool:
        return int(first_wrong_row(state, self.expected)) < 0

    def run(self, program: Program) -> tuple[np.ndarray, np.ndarray]:
        """Final ``(state int32[rows, locations], flags int8[rows])`` over the test rows."""
        state = np.array(self.initial_state, copy=True)
        flags = np.array(self.initial_flags, copy=True)
        run_program(state, flags, program.to_array())
        return state, flags

    def __repr__(self) -> str:
        return f"SortTask(n={self.n}, registers={self.registers}, isa={self.isa.name!r})"


@dataclass(frozen=True)
class Counterexample:
    """A row the program gets wrong: input values, sorted values, and what memory held."""

    input: tuple[int, ...]
    expected: tuple[int, ...]
    got: tuple[int, ...]

    def to_dict(self) -> dict[str, list[int]]:
        return {"input": list(self.input), "expected": list(self.expected), "got": list(self.got)}


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`. ``rows`` counts every row run (tie patterns + random)."""

    correct: bool
    rows: int
    tie_rows: int
    random_rows: int
    counterexample: Counterexample | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.correct


def static_error(program: Program, *, registers_start_at_zero: bool = False) -> str | None:
    """Why the program is undefined on a real machine, or None: a flag read before any ``cmp``,
    or a register read before it is written (its value would be whatever was left there).
    Instructions are numbered from 1, as in every message. ``registers_start_at_zero``: only
    the flags count (the reference interpreter of ``alphadev run`` sets every register to 0,
    but has no flags before a ``cmp``)."""
    checked, skip = program, 0
    if registers_start_at_zero:  # write every register first; the rule stays Program's own
        layout = program.layout
        skip = layout.registers
        preset = tuple(Instruction(Op.MOV, layout.register(r), 0) for r in range(skip))
        checked = Program(layout, preset + program.code)
    bad = checked.first_undefined_read()
    if bad is None:
        return None
    index, loc = bad[0] - skip, bad[1]
    name = Op(program.code[index].op).mnemonic
    if loc == FLAGS:
        return f"instruction {index + 1} ({name}) reads the flags before any cmp"
    return f"instruction {index + 1} ({name}) reads {program.layout.name(loc)} before it is written"


def _check_rows(program: Program, code: np.ndarray, inputs: np.ndarray) -> Counterexample | None:
    state = initial_state(inputs, program.layout)
    flags = np.zeros(inputs.shape[0], dtype=np.int8)
    run_program(state, flags, code)
    expected = np.sort(inputs, axis=1).astype(np.int32)
    wrong = int(first_wrong_row(state, expected))
    if wrong < 0:
        return None
    n = program.layout.n
    return Counterexample(
        tuple(int(v) for v in inputs[wrong]),
        tuple(int(v) for v in expected[wrong]),
        tuple(int(v) for v in state[wrong, :n]),
    )


def verify(
    program: Program, task: SortTask | int, *, random_rows: int = 30_000, seed: int = 0
) -> VerifyResult:
    """Check that ``program`` sorts every tie-pattern row and ``random_rows`` random int32 rows.

    The program's layout must have ``task.n`` memory slots (its register count is its own).
    Returns the first counterexample (tie-pattern rows first) if any row is wrong. A program
    that reads the flags or a register before they are set is never correct (``reason`` says
    why), even where the rows happen to come out sorted with registers starting at zero.
    ``random_rows`` is at most :data:`MAX_RANDOM_ROWS`; ``seed`` is a non-negative integer.
    """
    n = task if isinstance(task, int) else task.n
    if not 0 <= random_rows <= MAX_RANDOM_ROWS:
        raise ValueError(
            f"random_rows must be between 0 and {MAX_RANDOM_ROWS:,}, got {random_rows}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if program.layout.n != n:
        raise ValueError(f"program is for {program.layout.n} memory slots, task is sort{n}")
    ties = tie_pattern_rows(n)
    randoms = random_int32_rows(n, random_rows, seed)
    total = ties.shape[0] + randoms.shape[0]
    why = static_error(program)
    code = program.to_array()
    for inputs in (ties, randoms):
        counter = _check_rows(program, code, inputs)
        if counter is not None:
            return VerifyResult(
                False, total, ties.shape[0], randoms.shape[0], counter, why or "wrong output"
            )
    if why is not None:
        return VerifyResult(False, total, ties.shape[0], randoms.shape[0], None, why)
    return VerifyResult(True, total, ties.shape[0], randoms.shape[0])
