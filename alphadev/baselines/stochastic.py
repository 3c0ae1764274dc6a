"""A stochastic superoptimiser in the style of AlphaDev-S (after STOKE): Markov chain Monte
Carlo over whole programs.

The cost of a program is ``wrong + static + alpha * length``. ``wrong`` sums over the
tie-pattern rows and output slots: 0 where the slot holds its sorted value, 1/2 where it does not
but some register does (a store away, STOKE's credit for a right value in the wrong place), else
1; it is 0 exactly when the program sorts every row. ``static`` is ``rows * n`` when the program
reads the flags or a register before they are set (garbage on a real machine). ``alpha`` is the
price of one instruction in wrong items. A proposal is one of six moves, drawn uniformly:

* **insert** a random instruction at a random place; **delete** one;
* **swap** two instructions;
* change an instruction's **opcode** (same operands) or one **operand** (same opcode);
* **replace** an instruction with a random one.

Every proposal is a well-formed program of the ISA (a legal operand form, at most
``max_length`` instructions). It is accepted with the Metropolis rule at inverse temperature
``beta``: always when the cost does not rise, else with probability ``exp(-beta * rise)``.
Cold start: the empty program. Warm start: a given program (e.g. a sorting network).
"""

from __future__ import annotations

import math
import time

import numpy as np

from alphadev.baselines.result import BaselineResult
from alphadev.emulator import run_program
from alphadev.game import default_max_length
from alphadev.isa import Op, Program, is_legal_form
from alphadev.jit import njit
from alphadev.tasks import SortTask, static_error

__all__ = ["MOVES", "propose", "stochastic_search"]

MOVES = ("insert", "delete", "swap", "opcode", "operand", "replace")


def propose(
    code: np.ndarray, task: SortTask, rng: np.random.Generator, max_length: int
) -> np.ndarray:
    """A neighbour of ``code`` (int32[L, 3] of op, dst, src), well-formed for ``task``'s
    layout and ISA; ``code`` is not modified. A move that does not apply (delete from an empty
    program, insert into a full one) is replaced by one that does."""
    actions = task.action_space.actions
    layout = task.layout
    ops = sorted(task.isa.ops)
    length = code.shape[0]
    while True:
        move = MOVES[rng.integers(len(MOVES))]
        if move == "insert" and length < max_length:
            at = int(rng.integers(length + 1))
            ins = actions[rng.integers(len(actions))]
            return np.concatenate([code[:at], ins[None, :], code[at:]]).astype(np.int32)
        if length == 0:
            continue
        if move == "delete":
            at = int(rng.integers(length))
            return np.delete(code, at, axis=0)
        if move == "swap" and length >= 2:
            i, j = rng.choice(length, size=2, replace=False)
            out = code.copy()
            out[[i, j]] = out[[j, i]]
            return out
        if move == "replace":
            out = code.copy()
            out[rng.integers(length)] = actions[rng.integers(len(actions))]
            return out
        if move == "opcode":
            at = int(rng.integers(length))
            _, dst, src = code[at]
            choices = [op for op in ops if is_legal_form(layout, op, int(dst), int(src))]
            out = code.copy()
            out[at, 0] = int(choices[rng.integers(len(choices))])
            return out
        if move == "operand":
            at = int(rng.integers(length))
            op, dst, src = (int(v) for v in code[at])
            which = 1 + int(rng.integers(2))
            choices = [
                loc
                for loc in range(layout.num_locations)
                if is_legal_form(layout, Op(op), *((loc, src) if which == 1 else (dst, loc)))
            ]
            out = code.copy()
            out[at, which] = choices[rng.integers(len(choices))]
            return out


@njit(cache=True, nogil=True)
def _misplaced(state, expected, n):  # pragma: no cover - compiled
    """Sum over rows and slots: 0 if the slot is right, 0.5 if a register holds the value,
    else 1."""
    total = 0.0
    for r in range(state.shape[0]):
        for i in range(n):
            want = expected[r, i]
            if state[r, i] == want:
                continue
            near = False
            for c in range(n, state.shape[1]):
                if state[r, c] == want:
                    near = True
                    break
            total += 0.5 if near else 1.0
    return total


class _Cost:
    """``cost(code) -> (cost, correct)`` over the task's tie-pattern rows."""

    def __init__(self, task: SortTask, alpha: float) -> None:
        self.task = task
        self.alpha = alpha
        self.max_wrong = task.max_correctness
        # Registers start at -1, a value no tie-pattern row holds, so an unwritten register
        # never looks like a right value.
        self.start = np.array(task.initial_state, copy=True)
        self.start[:, task.n :] = -1

    def __call__(self, code: np.ndarray) -> tuple[float, bool]:
        task = self.task
        state = self.start.copy()
        flags = np.array(task.initial_flags, copy=True)
        run_program(state, flags, code)
        wrong = float(_misplaced(state, task.expected, task.n))
        static = 0
        if wrong == 0 and static_error(Program.from_array(task.layout, code)) is not None:
            static = self.max_wrong
        return wrong + static + self.alpha * code.shape[0], wrong + static == 0


def stochastic_search(
    task: SortTask,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    start: Program | None = None,
    alpha: float = 0.05,
    beta: float = 10.0,
    max_length: int | None = None,
    max_proposals: int | None = None,
) -> BaselineResult:
    """MCMC from ``start`` (None: the empty program) for ``time_limit`` seconds or
    ``max_proposals`` proposals; returns the shortest program found that sorts every
    tie-pattern row and is statically defined."""
    rng = np.random.default_rng(seed)
    max_length = max_length or default_max_length(task.n)
    cost_of = _Cost(task, alpha)
    code = np.zeros((0, 3), dtype=np.int32) if start is None else start.to_array()
    cost, correct = cost_of(code)
    best: np.ndarray | None = code.copy() if correct else None
    t0 = time.perf_counter()
    history = [(0.0, len(code))] if correct else []
    best_time = 0.0 if correct else None
    proposals = 0
    while True:
        if max_proposals is not None and proposals >= max_proposals:
            break
        if proposals % 256 == 0 and time.perf_counter() - t0 >= time_limit:
            break
        proposals += 1
        candidate = propose(code, task, rng, max_length)
        new_cost, new_correct = cost_of(candidate)
        if new_cost <= cost or rng.random() < math.exp(-beta * (new_cost - cost)):
            code, cost = candidate, new_cost
            if new_correct and (best is None or len(code) < len(best)):
                best = code.copy()
                best_time = time.perf_counter() - t0
                history.append((best_time, len(best)))
    program = None if best is None else Program.from_array(task.layout, best)
    name = "stochastic (warm)" if start is not None else "stochastic (cold)"
    return BaselineResult(name, program, best_time, time.perf_counter() - t0, proposals, history)
