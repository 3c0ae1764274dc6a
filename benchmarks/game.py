"""Game throughput: moves per second of random legal rollouts, numba game vs pure Python.

A *move* is what a search does per node: compute the legal-action mask of a state and apply
one legal action (copy the parent's machine state, run one instruction over all test rows,
update the score). Three loops play uniformly random legal rollouts to the end of the episode,
for sort3, sort4 and sort5 (cmov ISA), each for a fixed wall-clock budget on one core:

* ``game``: :class:`alphadev.game.AssemblyGame` (numba mask + step);
* ``env``: ``AssemblyGameEnv.step`` (the Gymnasium adapter, observation and info included);
* ``python``: the same rules and semantics written in plain Python in this file (a list per
  row), the baseline.

The action choice (a Python ``random`` index into the legal list) is inside every loop. Writes
``benchmarks/results/game.md``. ``--quick`` runs about 30 s.

Usage: ``python benchmarks/game.py [--quick] [--seconds S] [--out PATH]``
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from common import check_output, machine_info, report_path, write_atomic

from alphadev.env import AssemblyGameEnv
from alphadev.game import AssemblyGame
from alphadev.isa import Op

TARGETS = {3: 50_000, 5: 10_000}


def run_game(game: AssemblyGame, seconds: float, rng: random.Random) -> tuple[int, float]:
    moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        gs = game.initial_state()
        while True:
            legal = np.flatnonzero(game.legal_actions(gs))
            if len(legal) == 0:
                break
            gs = game.play(gs, int(legal[rng.randrange(len(legal))]))
            moves += 1
            if gs.correct or gs.length >= game.max_length:
                break
    return moves, time.perf_counter() - start


def run_env(env: AssemblyGameEnv, seconds: float, rng: random.Random) -> tuple[int, float]:
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, info = env.reset()
        done = False
        while not done:
            legal = np.flatnonzero(info["action_mask"])
            _, _, terminated, truncated, info = env.step(int(legal[rng.randrange(len(legal))]))
            steps += 1
            done = terminated or truncated
    return steps, time.perf_counter() - start


class PythonGame:
    """The game's rules and semantics in plain Python: the baseline."""

    def __init__(self, game: AssemblyGame) -> None:
        self.n = game.n
        self.actions = [tuple(int(v) for v in a) for a in game.instructions]
        self.rows = game.task.initial_state.tolist()
        self.expected = game.task.expected.tolist()
        self.max_length = game.max_length

    def initial(self):
        # rows, flags, written set, next load, stored set, regs used, flags valid, last cmp, len
        return ([list(r) for r in self.rows], [0] * len(self.rows), set(range(self.n)),
                0, set(), 0, False, False, 0)  # fmt: skip

    def legal(self, s) -> list[int]:
        _, _, written, next_load, stored, regs_used, valid, last_cmp, _ = s
        n, out = self.n, []
        for a, (op, dst, src) in enumerate(self.actions):
            if dst == src:
                continue
            if op == Op.MOV:
                if src < n:
                    ok = src == next_load and dst - n <= regs_used
                elif dst < n:
                    ok = src in written and dst not in stored and dst < next_load
                else:
                    ok = src in written and dst - n <= regs_used
            elif op == Op.CMP:
                ok = not last_cmp and src in written and dst in written
            elif op in (Op.MIN, Op.MAX):
                ok = src in written and dst in written
            else:
                ok = valid and src in written and dst in written
            if ok:
                out.append(a)
        return out

    def apply(self, s, action: int):
        rows, flags, written, next_load, stored, regs_used, valid, _, length = s
        op, dst, src = self.actions[action]
        rows = [list(r) for r in rows]
        flags = list(flags)
        for i, r in enumerate(rows):
            if op == Op.MOV:
                r[dst] = r[src]
            elif op == Op.CMP:
                flags[i] = (r[dst] > r[src]) - (r[dst] < r[src])
            elif op == Op.MIN:
                r[dst] = min(r[dst], r[src])
            elif op == Op.MAX:
                r[dst] = max(r[dst], r[src])
            elif (
                (op == Op.CMOVL and flags[i] < 0) or (op == Op.CMOVG and flags[i] > 0)
                or (op == Op.CMOVLE and flags[i] <= 0) or (op == Op.CMOVGE and flags[i] >= 0)
            ):  # fmt: skip
                r[dst] = r[src]
        if op != Op.CMP:
            written = written | {dst}
            if op == Op.MOV and src < self.n:
                next_load = src + 1
            if dst < self.n:
                stored = stored | {dst}
            elif dst - self.n == regs_used:
                regs_used += 1
        return (rows, flags, written, next_load, stored, regs_used, valid or op == Op.CMP,
                op == Op.CMP, length + 1)  # fmt: skip

    def correct(self, s) -> bool:
        return all(r[: self.n] == e for r, e in zip(s[0], self.expected, strict=True))


def run_python(pg: PythonGame, seconds: float, rng: random.Random) -> tuple[int, float]:
    moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        s = pg.initial()
        while True:
            legal = pg.legal(s)
            if not legal:
                break
            s = pg.apply(s, legal[rng.randrange(len(legal))])
            moves += 1
            if pg.correct(s) or s[-1] >= pg.max_length:
                break
    return moves, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 30 seconds in all")
    parser.add_argument("--seconds", type=float, help="seconds per loop and size")
    parser.add_argument("--out", help="report (default results/game.md; --quick: results/quick/)")
    args = parser.parse_args()
    out = check_output(args.out or report_path("game.md", args.quick), args.quick)
    seconds = args.seconds or (2.0 if args.quick else 8.0)

    rows = []
    for n in (3, 4, 5):
        game = AssemblyGame(n=n)
        env = AssemblyGameEnv(n=n)
        pg = PythonGame(game)
        run_game(game, 0.2, random.Random(0))  # warm numba's cache and the code paths
        g_moves, g_s = run_game(game, seconds, random.Random(1))
        e_steps, e_s = run_env(env, seconds, random.Random(1))
        p_moves, p_s = run_python(pg, seconds, random.Random(1))
        g_rate, e_rate, p_rate = g_moves / g_s, e_steps / e_s, p_moves / p_s
        rows.append((n, game.task.num_rows, game.num_actions, g_rate, e_rate, p_rate))
        print(
            f"sort{n}: game {g_rate:,.0f} moves/s, env {e_rate:,.0f} steps/s, "
            f"python {p_rate:,.0f} moves/s, game/python {g_rate / p_rate:.1f}x"
        )

    info = machine_info()
    lines = [
        "# Game throughput",
        "",
        f"Machine: {info['CPU']} ({info['cores']}), {info['OS']}; one process. "
        f"Python {info['Python']}, numpy {info['numpy']}, numba {info['numba']}.",
        f"Each loop plays random legal rollouts (cmov ISA) for {seconds:g} s per size; a move is",
        "legal mask + apply one action over all test rows. Baseline: the same rules and",
        "semantics in plain Python (benchmarks/game.py, `PythonGame`), measured in the same run.",
        "",
        "| task | rows | actions | game moves/s | env steps/s | python moves/s "
        "| game/python | env/python | target (moves/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, nrows, actions, g, e, p in rows:
        target = (
            f"{TARGETS[n]:,}" + (" met" if g >= TARGETS[n] else " NOT met") if n in TARGETS else "-"
        )
        lines.append(
            f"| sort{n} | {nrows} | {actions} | {g:,.0f} | {e:,.0f} | {p:,.0f} | "
            f"{g / p:.1f}x | {e / p:.1f}x | {target} |"
        )
    write_atomic(out, "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
