"""The assembly game: a pure state machine (no Gymnasium, no torch).

A move appends one instruction, or with ``moves="macro"``/``"both"`` a compare-exchange's 3 or 4
(:mod:`alphadev.move_table`). The machine state over all test rows is carried along, so a
move costs one compiled pass per instruction: copy the parent's state and apply its
instructions (:func:`alphadev.emulator.apply_instruction_into`), never a replay of the program.

Rules (the legal-action mask), after AlphaDev's pruning:

1. memory is read in increasing order, each slot once (``mov rX, m{next}``);
2. registers are first used in increasing order (a new register must be the lowest unused one);
3. ``cmp``/``cmov*``/``min``/``max`` take registers only (the action space has no other forms);
4. each memory slot is written once, and only after it was read (a store before the load would
   destroy that input: no correct program does it);
5. no read of a register that was never written;
6. no two ``cmp`` in a row (the first would be dead);
7. no-ops are removed: ``mov x, x``, ``cmp x, x``, ``cmov* x, x``, ``min/max x, x``, and any
   ``cmov`` before the first ``cmp``.

Rules 2, 6 and 7 only remove programs that have an equivalent, no longer one left in (symmetry
and dead code). Rules 1 and 4 restrict the space to kernels that read each input once in order
and write each output once: that is the space we search (README, "The game").

The game ends when the program sorts every test row, at ``max_length``, or when no legal move is
left. Reward (:class:`RewardConfig`): ``correctness_weight * (score_t - score_{t-1}) / max_score``
each move, where the score counts items in their sorted place summed over rows (AlphaDev's), plus
``correct_bonus - latency_weight * latency(program)`` on the move that makes it correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphadev.emulator import apply_instruction, apply_instruction_into
from alphadev.hashing import fnv_mix, fnv_mix_sorted, fnv_seed
from alphadev.isa import FLAGS, Op, Program, reads
from alphadev.jit import njit
from alphadev.latency import latency
from alphadev.move_table import move_names, move_table
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask, count_in_place

__all__ = [
    "BOOK_SIZE",
    "FLAGS_VALID",
    "LAST_CMP",
    "NEXT_LOAD",
    "REGS_USED",
    "STORED",
    "WRITTEN",
    "AssemblyGame",
    "GameState",
    "IllegalActionError",
    "RewardConfig",
    "apply_move",
    "default_max_length",
    "legal_mask",
    "play_move",
    "row_set_key",
]

# The bookkeeping vector ``book: int64[BOOK_SIZE]`` carried by every state. Its layout is part
# of the game's public interface: compiled code outside the game (``bounds``) reads it.
WRITTEN = 0  # bitmask over locations holding a defined value (memory starts defined)
NEXT_LOAD = 1  # the only memory slot a load may read next
STORED = 2  # bitmask over memory slots already stored
REGS_USED = 3  # registers r0..r{REGS_USED-1} have been written
FLAGS_VALID = 4  # a cmp has run
LAST_CMP = 5  # the previous instruction was a cmp
BOOK_SIZE = 6

_MOV, _CMP, _MIN, _MAX = int(Op.MOV), int(Op.CMP), int(Op.MIN), int(Op.MAX)
_CMOV_LO, _CMOV_HI = int(Op.CMOVL), int(Op.CMOVGE)


def default_max_length(n: int) -> int:
    """The cmov sorting-network length for ``n`` plus 2: 10, 20, 30, 48 for n = 2..5."""
    comparators = OPTIMAL_COMPARATORS[n] if n < len(OPTIMAL_COMPARATORS) else n * n
    return 2 * n + 4 * comparators + 2


@njit(cache=True, nogil=True, inline="always")
def _instruction_legal(op, dst, src, book, n):  # pragma: no cover - compiled
    """Whether ``op dst, src`` is legal under the rules above in a state of bookkeeping
    ``book``."""
    if dst == src:
        return False
    written = book[WRITTEN]
    src_ok = (written >> src) & 1
    dst_ok = (written >> dst) & 1
    if op == _MOV:
        if src < n:  # load: next slot in order, into a used or the next fresh register
            return src == book[NEXT_LOAD] and dst - n <= book[REGS_USED]
        if dst < n:  # store: once, after that slot was loaded
            return src_ok == 1 and ((book[STORED] >> dst) & 1) == 0 and dst < book[NEXT_LOAD]
        return src_ok == 1 and dst - n <= book[REGS_USED]
    if op == _CMP:
        return book[LAST_CMP] == 0 and src_ok == 1 and dst_ok == 1
    if _CMOV_LO <= op <= _CMOV_HI:
        return book[FLAGS_VALID] == 1 and src_ok == 1 and dst_ok == 1
    return src_ok == 1 and dst_ok == 1  # min, max


@njit(cache=True, nogil=True, inline="always")
def _book_after(book, op, dst, src, n, out_book):  # pragma: no cover - compiled
    """``out_book`` = the bookkeeping after ``op dst, src`` (``out_book`` may be ``book``)."""
    regs_used = book[REGS_USED]
    for i in range(BOOK_SIZE):
        out_book[i] = book[i]
    if op == _CMP:
        out_book[FLAGS_VALID] = 1
        out_book[LAST_CMP] = 1
    else:
        out_book[LAST_CMP] = 0
        out_book[WRITTEN] |= np.int64(1) << dst
        if op == _MOV and src < n:
            out_book[NEXT_LOAD] = src + 1
        if dst < n:
            out_book[STORED] |= np.int64(1) << dst
        elif dst - n == regs_used:
            out_book[REGS_USED] = regs_used + 1


@njit(cache=True, nogil=True)
def legal_mask(moves, book, n, room, out):  # pragma: no cover - compiled
    """Fill ``out: int8[M]`` with 1 for the moves of ``moves`` (the table of
    :mod:`alphadev.move_table`, int32[M, K, 4]) whose instructions are each legal under the
    rules above in turn, ``room`` instructions at most."""
    scratch = np.empty(BOOK_SIZE, np.int64)
    for m in range(moves.shape[0]):
        ok = _instruction_legal(moves[m, 0, 0], moves[m, 0, 1], moves[m, 0, 2], book, n)
        if ok and moves.shape[1] > 1 and moves[m, 1, 0] >= 0:
            _book_after(book, moves[m, 0, 0], moves[m, 0, 1], moves[m, 0, 2], n, scratch)
            for k in range(1, moves.shape[1]):
                op = moves[m, k, 0]
                if op < 0:
                    break
                if k >= room or not _instruction_legal(op, moves[m, k, 1], moves[m, k, 2],
                                                       scratch, n):  # fmt: skip
                    ok = False
                    break
                _book_after(scratch, op, moves[m, k, 1], moves[m, k, 2], n, scratch)
        out[m] = 1 if ok and room > 0 else 0


@njit(cache=True, nogil=True)
def apply_move(
    state, flags, book, op, dst, src, n, expected, out_state, out_flags, out_book
):  # pragma: no cover - compiled
    """One instruction: child state/flags/book from the parent's; returns the child's score."""
    apply_instruction_into(state, flags, out_state, out_flags, op, dst, src)
    _book_after(book, op, dst, src, n, out_book)
    return count_in_place(out_state, expected)


@njit(cache=True, nogil=True)
def play_move(
    state, flags, book, moves, m, n, expected, out_state, out_flags, out_book
):  # pragma: no cover - compiled
    """Move ``m`` of ``moves`` (int32[M, K, 4]): the child state/flags/book from the parent's;
    returns ``(the child's score, instructions played)``."""
    apply_instruction_into(state, flags, out_state, out_flags, moves[m, 0, 0], moves[m, 0, 1],
                           moves[m, 0, 2])  # fmt: skip
    _book_after(book, moves[m, 0, 0], moves[m, 0, 1], moves[m, 0, 2], n, out_book)
    steps = 1
    for k in range(1, moves.shape[1]):
        op = moves[m, k, 0]
        if op < 0:
            break
        apply_instruction(out_state, out_flags, op, moves[m, k, 1], moves[m, k, 2])
        _book_after(out_book, op, moves[m, k, 1], moves[m, k, 2], n, out_book)
        steps += 1
    return count_in_place(out_state, expected), steps


@njit(cache=True, nogil=True)
def row_set_key(state, flags, expected, book):  # pragma: no cover - compiled
    """64-bit hash of the *set* of distinct rows ``(locations, flag, expected)`` plus the
    bookkeeping; returns ``(key, number of distinct rows)``."""
    rows, cols = state.shape
    n = expected.shape[1]
    use_flags = book[FLAGS_VALID] == 1
    hashes = np.empty(rows, dtype=np.uint64)
    for r in range(rows):
        h = fnv_seed()
        for c in range(cols):
            h = fnv_mix(h, state[r, c])
        h = fnv_mix(h, np.int64(flags[r]) + 7 if use_flags else 0)
        for c in range(n):
            h = fnv_mix(h, expected[r, c])
        hashes[r] = h ^ (h >> np.uint64(29))
    key, distinct = fnv_mix_sorted(hashes, True)
    for i in range(BOOK_SIZE):
        key = fnv_mix(key, book[i])
        key = fnv_mix(key, book[i] >> 32)
    return key, distinct


@dataclass(frozen=True)
class RewardConfig:
    """Reward weights. Defaults: the shaping term sums to at most 1 over an episode (score
    fraction gained), a correct program earns 1, and each unit of latency costs 0.01."""

    correctness_weight: float = 1.0
    correct_bonus: float = 1.0
    latency_weight: float = 0.01
    latency_model: str = "length"


class IllegalActionError(ValueError):
    """An action that the rules forbid in this state."""


class GameState:
    """A node of the game. Treat as immutable: children get fresh arrays.

    Attributes:
        program: tuple of action ids played so far.
        state: int32[rows, locations], the machine state over the task's test rows.
        flags: int8[rows], the flags of the last cmp per row.
        book: int64[6], the bookkeeping the rules need (see module constants).
        score: items in their sorted place summed over rows.
    """

    __slots__ = ("_distinct", "_key", "_mask", "book", "flags", "game", "program", "score", "state")

    def __init__(self, game, program, state, flags, book, score):
        self.game = game
        self.program = program
        self.state = state
        self.flags = flags
        self.book = book
        self.score = score
        self._mask = None
        self._key = None
        self._distinct = None

    @property
    def length(self) -> int:
        return len(self.program)

    @property
    def correct(self) -> bool:
        return self.score == self.game.max_score

    @property
    def registers_used(self) -> int:
        return int(self.book[REGS_USED])

    @property
    def flags_valid(self) -> bool:
        return bool(self.book[FLAGS_VALID])

    @property
    def last_was_cmp(self) -> bool:
        return bool(self.book[LAST_CMP])

    @property
    def next_load(self) -> int:
        return int(self.book[NEXT_LOAD])

    def is_written(self, location: int) -> bool:
        return bool((int(self.book[WRITTEN]) >> location) & 1)

    def is_stored(self, slot: int) -> bool:
        return bool((int(self.book[STORED]) >> slot) & 1)

    def __repr__(self) -> str:
        return f"GameState(length={self.length}, score={self.score}/{self.game.max_score})"


class AssemblyGame:
    """The rules and reward for one sort task. Stateless apart from its constants.

    Args:
        task: a :class:`~alphadev.tasks.SortTask`; or give ``n``, ``registers``, ``isa``.
        max_length: the episode ends at this many instructions (default
            :func:`default_max_length`); a move of several instructions is legal only when
            they all fit.
        reward: reward weights.
        moves: the move set, ``instructions``, ``macro`` or ``both``
            (:mod:`alphadev.move_table`). A state's ``program`` holds instruction ids either
            way; an action id is a move.
    """

    def __init__(
        self,
        task: SortTask | None = None,
        *,
        n: int = 3,
        registers: int | None = None,
        isa: str = "cmov",
        max_length: int | None = None,
        reward: RewardConfig | None = None,
        moves: str = "instructions",
    ) -> None:
        self.task = task if task is not None else SortTask(n, registers, isa)
        self.n = self.task.n
        self.layout = self.task.layout
        self.action_space = self.task.action_space
        self.instructions = np.ascontiguousarray(self.action_space.actions, dtype=np.int32)
        self.move_kind = moves
        self.moves = np.ascontiguousarray(move_table(self.action_space, moves))
        self.num_actions = len(self.moves)
        self._move_index: dict[str, int] | None = None
        self.max_length = max_length if max_length is not None else default_max_length(self.n)
        self.reward_config = reward or RewardConfig()
        self.max_score = self.task.max_correctness
        if self.layout.num_locations > 62:
            raise ValueError("bookkeeping bitmasks hold at most 62 locations")

    # ------------------------------------------------------------------ states and moves

    def initial_state(self) -> GameState:
        book = np.zeros(BOOK_SIZE, dtype=np.int64)
        book[WRITTEN] = (1 << self.n) - 1
        state = self.task.initial_state
        score = int(count_in_place(state, self.task.expected))
        return GameState(self, (), state, self.task.initial_flags, book, score)

    def legal_actions(self, gs: GameState) -> np.ndarray:
        """``int8[num_actions]``, 1 = legal (empty mask once the game is over)."""
        if gs._mask is None:
            mask = np.zeros(self.num_actions, dtype=np.int8)
            if not self.is_terminal_length_or_correct(gs):
                legal_mask(self.moves, gs.book, self.n, self.max_length - gs.length, mask)
            mask.setflags(write=False)
            gs._mask = mask
        return gs._mask

    def apply(self, gs: GameState, action: int) -> GameState:
        """The state after playing ``action``; raises :class:`IllegalActionError`."""
        if not 0 <= action < self.num_actions:
            raise IllegalActionError(f"action {action} out of range [0, {self.num_actions})")
        if not self.legal_actions(gs)[action]:
            raise IllegalActionError(self._why_illegal(gs, action))
        return self.play(gs, action)

    def play(self, gs: GameState, action: int) -> GameState:
        """The state after ``action``, without the legality check of :meth:`apply`: for callers
        that drew ``action`` from :meth:`legal_actions` (tree search, rollouts, replays of
        programs that were legal when recorded). An illegal action gives a state outside the
        game's rules."""
        state = np.empty_like(gs.state)
        flags = np.empty_like(gs.flags)
        book = np.empty_like(gs.book)
        score, steps = play_move(
            gs.state, gs.flags, gs.book, self.moves, action, self.n, self.task.expected,
            state, flags, book,
        )  # fmt: skip
        played = (int(i) for i in self.moves[action, :steps, 3])
        return GameState(self, (*gs.program, *played), state, flags, book, int(score))

    def replay(self, program: Program, gs: GameState | None = None) -> GameState:
        """The state after ``program``'s instructions one by one from ``gs`` (default: the
        initial state), whatever the move set: each must be legal under the rules (else
        :class:`IllegalActionError`), but need not be a move of its own."""
        gs = gs if gs is not None else self.initial_state()
        for ins in program.code:
            i = self.action_space.index(ins)
            mask = np.zeros(1, np.int8)
            single = np.full((1, 1, 4), -1, np.int32)
            single[0, 0] = (*self.instructions[i], i)
            over = self.is_terminal_length_or_correct(gs)
            if not over:
                legal_mask(single, gs.book, self.n, self.max_length - gs.length, mask)
            if not mask[0]:
                raise IllegalActionError(
                    f"illegal instruction {Op(ins.op).mnemonic} {self.layout.name(ins.dst)}, "
                    f"{self.layout.name(ins.src)} after {gs.length} instructions: "
                    f"{'the game is over' if over else _reason(gs, ins)}"
                )
            gs = self.play_instruction(gs, i)
        return gs

    def step(self, gs: GameState, action: int) -> tuple[GameState, float, bool]:
        """Play ``action``: ``(child, reward, terminal)``."""
        child = self.apply(gs, action)
        return child, self.reward(gs, child), self.is_terminal(child)

    def reward(self, parent: GameState, child: GameState) -> float:
        cfg = self.reward_config
        value = cfg.correctness_weight * (child.score - parent.score) / self.max_score
        if child.correct:
            value += cfg.correct_bonus - cfg.latency_weight * latency(
                self.program(child), cfg.latency_model
            )
        return value

    def is_terminal_length_or_correct(self, gs: GameState) -> bool:
        return gs.correct or gs.length >= self.max_length

    def is_terminal(self, gs: GameState) -> bool:
        """Correct on all rows, at ``max_length``, or no legal move left."""
        return self.is_terminal_length_or_correct(gs) or not self.legal_actions(gs).any()

    # ------------------------------------------------------------------ views

    def program(self, gs: GameState) -> Program:
        return Program(self.layout, tuple(self.action_space.instruction(a) for a in gs.program))

    def state_key(self, gs: GameState) -> int:
        """Hash of the set of distinct rows (locations, flags when valid, expected output) and
        the bookkeeping: states with equal keys have the same legal futures and the same
        correctness under every suffix (up to 64-bit hash collisions)."""
        if gs._key is None:
            key, distinct = row_set_key(gs.state, gs.flags, self.task.expected, gs.book)
            gs._key, gs._distinct = int(key), int(distinct)
        return gs._key

    def distinct_rows(self, gs: GameState) -> int:
        """Number of distinct rows in the state (a cheap progress signal)."""
        if gs._distinct is None:
            self.state_key(gs)
        return gs._distinct

    def move_name(self, action: int) -> str:
        """Move ``action`` as text (``mov r0, m1``; ``cx r0, r1 (r4)`` for a compare-exchange)."""
        return move_names(self.action_space, self.moves[action : action + 1])[0]

    def move_name_index(self, name: str) -> int:
        """The move called ``name`` (as :meth:`move_name` writes it); KeyError if none is."""
        if self._move_index is None:
            names = move_names(self.action_space, self.moves)
            self._move_index = {text: m for m, text in enumerate(names)}
        if name not in self._move_index:
            raise KeyError(f"no move {name!r} in the {self.move_kind} moves of {self.task}")
        return self._move_index[name]

    def _why_illegal(self, gs: GameState, action: int) -> str:
        if self.moves.shape[1] > 1 and self.moves[action, 1, 0] >= 0:
            return self._why_move_illegal(gs, action)
        ins = self.action_space.instruction(int(self.moves[action, 0, 3]))
        text = f"{Op(ins.op).mnemonic} {self.layout.name(ins.dst)}, {self.layout.name(ins.src)}"
        if self.is_terminal_length_or_correct(gs):
            return f"illegal action {action} ({text}): the game is over"
        return (
            f"illegal action {action} ({text}) after {gs.length} instructions: {_reason(gs, ins)}"
        )

    def _why_move_illegal(self, gs: GameState, action: int) -> str:
        text = self.move_name(action)
        if self.is_terminal_length_or_correct(gs):
            return f"illegal move {action} ({text}): the game is over"
        steps = [int(i) for i in self.moves[action, :, 3] if i >= 0]
        if gs.length + len(steps) > self.max_length:
            return (
                f"illegal move {action} ({text}): its {len(steps)} instructions do not fit "
                f"in max_length={self.max_length} after {gs.length}"
            )
        try:
            self.replay(Program(self.layout, tuple(self.action_space.instruction(i)
                                                   for i in steps)), gs)  # fmt: skip
        except IllegalActionError as error:
            return f"illegal move {action} ({text}): {error}"
        return f"illegal move {action} ({text})"

    def play_instruction(self, gs: GameState, instruction: int) -> GameState:
        """The state after one instruction (its id in :attr:`action_space`), whatever the move
        set, without a legality check (as :meth:`play`)."""
        op, dst, src = self.instructions[instruction]
        state, flags = np.empty_like(gs.state), np.empty_like(gs.flags)
        book = np.empty_like(gs.book)
        score = apply_move(gs.state, gs.flags, gs.book, op, dst, src, self.n,
                           self.task.expected, state, flags, book)  # fmt: skip
        return GameState(self, (*gs.program, instruction), state, flags, book, int(score))


def _reason(gs: GameState, ins) -> str:
    """A human-readable rule a (known illegal) instruction breaks."""
    layout = gs.game.layout
    if ins.dst == ins.src:
        return "no-op (same source and destination)"
    if ins.op == Op.MOV and layout.is_memory(ins.src):
        return f"memory is read in order, once: the next load must read m{gs.next_load}"
    if ins.op == Op.MOV and layout.is_memory(ins.dst):
        if gs.is_stored(ins.dst):
            return f"m{ins.dst} was already written"
        if ins.dst >= gs.next_load:
            return f"m{ins.dst} has not been read yet (a store would destroy that input)"
    if ins.op == Op.CMP and gs.last_was_cmp:
        return "two cmp in a row"
    for loc in reads(ins):
        if loc == FLAGS and not gs.flags_valid:
            return "cmov before any cmp"
        if loc != FLAGS and not gs.is_written(loc):
            return f"reads {layout.name(loc)}, which was never written"
    return f"registers are first used in order: the next new register is r{gs.registers_used}"
