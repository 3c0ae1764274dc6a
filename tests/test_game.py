import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given
from hypothesis import strategies as st

import alphadev.env  # noqa: F401  (registers the env)
from alphadev import asm
from alphadev.emulator import reference_run
from alphadev.env import AssemblyGameEnv
from alphadev.game import AssemblyGame, IllegalActionError, RewardConfig
from alphadev.isa import CMOV_OPS, Instruction, Op, Program
from alphadev.latency import length as program_length
from alphadev.tasks import static_error, verify

from .conftest import ROOT, shortest_completion


@functools.cache
def game(n: int, isa: str = "cmov") -> AssemblyGame:
    return AssemblyGame(n=n, isa=isa)


def reference_program(n: int, isa: str = "cmov") -> Program:
    return asm.parse_file(ROOT / "asm" / "reference" / f"sort{n}_{isa}.s").program


def obeys_rules(program: Program) -> str | None:
    """An independent, plain statement of the game's rules: the first one broken, or None."""
    layout = program.layout
    n = layout.n
    written = set(range(n))
    loaded, stored = [], set()
    regs_used = 0
    seen_cmp = last_cmp = False
    for i, (op, dst, src) in enumerate(program.code):
        if dst == src:
            return f"{i}: no-op"
        if op == Op.MOV and src < n:
            if loaded != list(range(src)) or src in loaded:
                return f"{i}: load out of order"
            loaded.append(src)
        if op == Op.MOV and dst < n and (dst in stored or dst not in loaded):
            return f"{i}: bad store"
        if op != Op.MOV and (dst < n or src < n):
            return f"{i}: memory operand"
        reads = [src] if op == Op.MOV else [src, dst]
        if any(loc not in written for loc in reads):
            return f"{i}: uninitialised read"
        if op == Op.CMP and last_cmp:
            return f"{i}: two cmp"
        if op in CMOV_OPS and not seen_cmp:
            return f"{i}: cmov before cmp"
        if op != Op.CMP and dst >= n:
            if dst - n > regs_used:
                return f"{i}: register out of order"
            regs_used = max(regs_used, dst - n + 1)
        if op == Op.MOV and dst < n:
            stored.add(dst)
        if op != Op.CMP:
            written.add(dst)
        seen_cmp |= op == Op.CMP
        last_cmp = op == Op.CMP
    return None


@pytest.mark.parametrize("n", [3, 4])
def test_env_checker_passes_with_default_settings(n):
    env = gym.make("alphadev/AssemblyGame-v0", n=n)
    check_env(env.unwrapped)


def test_env_ends_on_illegal_action_by_default_and_raises_on_request():
    env = gym.make("alphadev/AssemblyGame-v0", n=3)
    _, info = env.reset(seed=0)
    illegal = int(np.flatnonzero(info["action_mask"] == 0)[0])
    _, reward, terminated, _, info = env.step(illegal)
    assert terminated and reward == -1.0 and info["illegal_action"]
    strict = gym.make("alphadev/AssemblyGame-v0", n=3, illegal_action="raise")
    strict.reset(seed=0)
    with pytest.raises(IllegalActionError, match="illegal action"):
        strict.step(illegal)


def test_importing_the_game_loads_neither_gymnasium_nor_torch():
    import subprocess
    import sys

    code = (
        "import sys, alphadev, alphadev.game, alphadev.exact, alphadev.search;"
        "print(sorted(m for m in ('gymnasium', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_env_episode_with_masked_samples_and_clone_restore():
    env = AssemblyGameEnv(n=3)
    obs, info = env.reset(seed=1)
    assert obs["program"].shape == (env.game.max_length, 3) and (obs["program"] == -1).all()
    assert info["action_mask"].dtype == np.int8
    snapshot = env.clone()
    done = False
    while not done:
        action = env.action_space.sample()
        assert info["action_mask"][action] == 1
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    env.restore(snapshot)
    assert env.get_state().length == 0


@pytest.mark.parametrize(("n", "isa"), [(3, "cmov"), (4, "cmov"), (5, "cmov"), (3, "minmax")])
def test_reference_kernel_plays_to_a_correct_terminal_with_the_hand_reward(n, isa):
    g = AssemblyGame(n=n, isa=isa)
    program = reference_program(n, isa)
    gs, total = g.initial_state(), 0.0
    for ins in program.code:
        gs, reward, terminal = g.step(gs, g.action_space.index(ins))
        total += reward
    assert terminal and gs.correct
    # by hand: correctness gain from the initial score, bonus, latency (length) penalty
    initial = int((g.task.inputs == g.task.expected).sum())
    cfg = RewardConfig()
    want = (g.max_score - initial) / g.max_score + cfg.correct_bonus - 0.01 * len(program)
    assert total == pytest.approx(want)
    assert g.program(gs) == program


def rollout(g: AssemblyGame, rng: np.random.Generator):
    gs = g.initial_state()
    states = [gs]
    while not g.is_terminal(gs):
        gs = g.apply(gs, int(rng.choice(np.flatnonzero(g.legal_actions(gs)))))
        states.append(gs)
    return states


@given(st.integers(0, 2**32 - 1), st.sampled_from([(3, "cmov"), (4, "cmov"), (3, "full")]))
def test_random_rollouts_obey_rules_and_match_reference(seed, case):
    n, isa = case
    g = game(n, isa)
    states = rollout(g, np.random.default_rng(seed))
    for gs in states[1:]:
        program = g.program(gs)
        assert obeys_rules(program) is None, obeys_rules(program)
        assert static_error(program) is None
    final = states[-1]
    program = g.program(final)
    k = g.layout.registers
    want = reference_run(program, [list(r) + [0] * k for r in g.task.inputs.tolist()])
    assert final.state.tolist() == want
    assert final.score == int((final.state[:, :n] == g.task.expected).sum())
    assert final.correct == verify(program, n).correct


@given(st.integers(0, 2**32 - 1))
def test_mask_agrees_with_the_plain_rules(seed):
    g = game(3, "full")
    rng = np.random.default_rng(seed)
    gs = g.initial_state()
    for _ in range(int(rng.integers(0, 12))):
        if g.is_terminal(gs):
            break
        gs = g.apply(gs, int(rng.choice(np.flatnonzero(g.legal_actions(gs)))))
    mask = g.legal_actions(gs)
    program = g.program(gs)
    for a in range(g.num_actions):
        extended = program.append(g.action_space.instruction(a))
        assert bool(mask[a]) == (obeys_rules(extended) is None and not g.is_terminal(gs)), a


def test_same_key_means_same_future():
    """Different programs with one state_key, extended by the same random legal suffix,
    are correct on the same set of rows."""
    g = game(3)
    rng = np.random.default_rng(0)
    by_key: dict[int, list] = {}
    frontier = [g.initial_state()]
    for _ in range(6):  # breadth-first over six moves
        nxt = []
        for gs in frontier:
            for a in np.flatnonzero(g.legal_actions(gs)):
                child = g.apply(gs, int(a))
                by_key.setdefault(g.state_key(child), []).append(child)
                nxt.append(child)
        frontier = [nxt[i] for i in rng.choice(len(nxt), size=min(len(nxt), 400), replace=False)]
    groups = [v for v in by_key.values() if len({s.program for s in v}) > 1]
    assert len(groups) > 50
    for group in groups[:200]:
        a, b = group[0], group[-1]
        for _ in range(10):
            if g.is_terminal(a):
                break
            np.testing.assert_array_equal(g.legal_actions(a), g.legal_actions(b))
            action = int(rng.choice(np.flatnonzero(g.legal_actions(a))))
            a, b = g.apply(a, action), g.apply(b, action)
            assert g.state_key(a) == g.state_key(b)
        rows_a = {
            tuple(r) for r, ok in zip(a.state.tolist(), correct_rows(g, a), strict=True) if ok
        }
        rows_b = {
            tuple(r) for r, ok in zip(b.state.tolist(), correct_rows(g, b), strict=True) if ok
        }
        assert rows_a == rows_b
        assert a.correct == b.correct


def correct_rows(g: AssemblyGame, gs) -> list[bool]:
    return (gs.state[:, : g.n] == g.task.expected).all(axis=1).tolist()


def test_distinct_rows_and_key_basics():
    g = game(3)
    gs = g.initial_state()
    assert g.distinct_rows(gs) == 13
    child = g.apply(gs, g.action_space.index(Instruction(Op.MOV, 3, 0)))
    assert g.state_key(child) != g.state_key(gs)


# ---------------------------------------------------------------- pruning keeps the optima


def unpruned_shortest(n: int, registers: int, isa: str, max_length: int):
    """All shortest correct programs by exhaustive search over every action of the action space
    under only the rules that define the searched space (rule 1: memory read once, in order;
    rule 4: each slot stored once, after its load) and static validity (no flag or register read
    before it is set, which verify rejects). None of the symmetry or no-op rules (2, 3, 5, 6, 7)
    is applied. Memoised on the exact machine state."""
    g = AssemblyGame(n=n, registers=registers, isa=isa)
    actions = g.instructions
    expected = g.task.expected
    from alphadev.emulator import apply_instruction_into

    def correct(state):
        return bool((state[:, :n] == expected).all())

    memo: dict[tuple, list] = {}  # (exact state, depth) -> every correct suffix of that length

    def solutions(state, flags, written, seen_cmp, depth, next_load=0, stored=0):
        key = (
            state.tobytes(), flags.tobytes() if seen_cmp else b"", written, seen_cmp, depth,
            next_load, stored,
        )  # fmt: skip
        if key in memo:
            return memo[key]
        if depth == 0:
            return [()] if correct(state) else []
        found = []
        for a, (op, dst, src) in enumerate(actions):
            reads = [src] if op == Op.MOV else [src, dst]
            if any(not (written >> loc) & 1 for loc in reads):
                continue
            if Op(op) in CMOV_OPS and not seen_cmp:
                continue
            load, store = op == Op.MOV and src < n, op == Op.MOV and dst < n
            if load and src != next_load:
                continue
            if store and ((stored >> dst) & 1 or dst >= next_load):
                continue
            out, out_flags = np.empty_like(state), np.empty_like(flags)
            apply_instruction_into(state, flags, out, out_flags, op, dst, src)
            w = written if op == Op.CMP else written | (1 << dst)
            cmp = seen_cmp or op == Op.CMP
            nl = src + 1 if load else next_load
            st = stored | (1 << dst) if store else stored
            for rest in solutions(out, out_flags, w, cmp, depth - 1, nl, st):
                found.append((a, *rest))
        memo[key] = found
        return found

    start = g.task.initial_state.copy()
    flags = g.task.initial_flags.copy()
    for length in range(1, max_length + 1):
        sols = solutions(start, flags, (1 << n) - 1, False, length)
        if sols:
            return length, [
                Program(g.layout, tuple(g.action_space.instruction(a) for a in s)) for s in sols
            ]
    return None, []


def rename_registers(program: Program) -> Program:
    """Rename registers in order of first appearance as a destination."""
    n = program.layout.n
    order: dict[int, int] = {}
    for ins in program.code:
        if ins.dst >= n and ins.op != Op.CMP and ins.dst not in order:
            order[ins.dst] = n + len(order)
    mapping = lambda loc: order.get(loc, loc)  # noqa: E731
    return Program(
        program.layout, tuple(Instruction(i.op, mapping(i.dst), mapping(i.src)) for i in program)
    )


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
def test_pruning_keeps_every_shortest_sort2_kernel(isa):
    length, programs = unpruned_shortest(2, 3, isa, 8)
    assert length is not None and programs
    g = AssemblyGame(n=2, registers=3, isa=isa)
    assert shortest_completion(g, g.initial_state(), 8) == length  # no optimum lost
    for program in programs[:: max(1, len(programs) // 50)]:
        assert verify(program, 2).correct
    for renamed in {rename_registers(p) for p in programs}:
        gs = g.initial_state()
        for ins in renamed:  # replays under every rule, up to register renaming
            gs = g.apply(gs, g.action_space.index(ins))
        assert gs.correct and gs.length == length


def test_illegal_action_message_names_the_rule():
    g = game(3)
    gs = g.initial_state()
    with pytest.raises(IllegalActionError, match="next load must read m0"):
        g.apply(gs, g.action_space.index(Instruction(Op.MOV, 3, 1)))
    with pytest.raises(IllegalActionError, match="out of range"):
        g.apply(gs, 10_000)


def test_length_of_reference():
    assert program_length(reference_program(3)) == 18
