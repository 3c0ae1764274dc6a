"""Shared test helpers: paths and hypothesis strategies for programs and int32 rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from alphadev.isa import ActionSpace, Instruction, Layout, Op, Program

# No compile helper beside each search (alphadev.precompile): the suite's two workers compile
# what they need, and tests/test_precompile.py turns the helper on where it is tested.
os.environ.setdefault("ALPHADEV_PRECOMPILE", "0")

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = sorted((ROOT / "asm" / "reference").glob("*.s"))
DATA = Path(__file__).resolve().parent / "data"

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
EDGE_INT32 = st.sampled_from([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 2, 2**31 - 1])


@st.composite
def layouts(draw, max_n: int = 5, max_registers: int = 6) -> Layout:
    return Layout(draw(st.integers(1, max_n)), draw(st.integers(1, max_registers)))


@st.composite
def programs(draw, layout: Layout | None = None, isa: str = "full", max_length: int = 30):
    """A program whose first flag reader, if any, follows a cmp (the only rule the emulator
    needs); registers may be read before written (they start at 0 in every interpreter)."""
    layout = layout or draw(layouts())
    space = ActionSpace(layout, isa)
    picks = draw(st.lists(st.integers(0, space.num_actions - 1), max_size=max_length))
    code = [space.instruction(a) for a in picks]
    if layout.registers >= 1 and any(ins.op not in (Op.MOV, Op.MIN, Op.MAX) for ins in code):
        r = layout.register(0)
        code.insert(0, Instruction(Op.CMP, r, layout.register(layout.registers - 1)))
    return Program(layout, tuple(code))


def int32_rows(n_rows: int, width: int):
    """``int32[n_rows, width]`` arrays mixing uniform and edge values."""
    return st.lists(
        st.lists(st.one_of(INT32, EDGE_INT32), min_size=width, max_size=width),
        min_size=n_rows,
        max_size=n_rows,
    ).map(lambda rows: np.array(rows, dtype=np.int32).reshape(n_rows, width))


def shortest_completion(game, start, limit: int) -> int | None:
    """Exact, by breadth-first search under the game's rules with state-key dedup: the fewest
    further moves from ``start`` to a correct state, or None if none within ``limit``."""
    if start.correct:
        return 0
    frontier = {game.state_key(start): start}
    for depth in range(1, limit + 1):
        nxt = {}
        for gs in frontier.values():
            for a in np.flatnonzero(game.legal_actions(gs)):
                child = game.apply(gs, int(a))
                if child.correct:
                    return depth
                nxt.setdefault(game.state_key(child), child)
        frontier = nxt
    return None
