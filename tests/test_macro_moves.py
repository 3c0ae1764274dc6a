"""Compare-exchange macro moves (``--moves macro|both``): each lowering computes a
compare-exchange, a move is legal exactly when its instructions are in turn, playing it is
playing them, and the length, the tree and the training count instructions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev import asm
from alphadev.emulator import execute
from alphadev.env import AssemblyGameEnv
from alphadev.game import AssemblyGame, IllegalActionError
from alphadev.isa import ActionSpace, Layout, Program
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
from alphadev.move_table import PAD, compare_exchange, move_names, move_table
from alphadev.tasks import verify
from alphadev.train.config import TrainConfig

ISAS = ("cmov", "minmax", "full", "mov,cmp,cmovl", "mov,cmp,cmovge", "mov,cmp,cmovle")
GAMES = {(n, isa, kind): AssemblyGame(n=n, isa=isa, moves=kind)
         for n in (3, 4) for isa in ("cmov", "minmax") for kind in ("macro", "both")}  # fmt: skip


@pytest.mark.parametrize("isa", ISAS)
def test_every_lowering_puts_the_min_in_a_the_max_in_b_and_the_old_a_in_t(isa):
    layout = Layout(3, 4)
    space = ActionSpace(layout, isa)
    rng = np.random.default_rng(0)
    rows = rng.integers(-(2**31), 2**31, size=(300, layout.num_locations)).astype(np.int32)
    rows[:100, 3:] = rng.integers(0, 3, size=(100, 4))  # ties
    rows[0, 3:5] = (np.iinfo(np.int32).max, np.iinfo(np.int32).min)
    for a, b, t in [(3, 4, 5), (5, 3, 6), (6, 5, 4)]:
        code = compare_exchange(space, a, b, t)
        assert 3 <= len(code) <= 4
        out, _ = execute(Program(layout, code), rows)
        assert (out[:, a] == np.minimum(rows[:, a], rows[:, b])).all()
        assert (out[:, b] == np.maximum(rows[:, a], rows[:, b])).all()
        assert (out[:, t] == rows[:, a]).all()


def test_an_isa_without_a_compare_exchange_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="no compare-exchange"):
        move_table(ActionSpace(Layout(3, 4), "mov,cmp"), "macro")
    with pytest.raises(ValueError, match="unknown move set"):
        move_table(ActionSpace(Layout(3, 4), "cmov"), "swaps")


def test_the_move_sets_hold_what_they_say():
    space = ActionSpace(Layout(4, 5), "cmov")
    single = move_table(space, "instructions")
    assert single.shape == (space.num_actions, 1, 4)
    assert (single[:, 0, 3] == np.arange(space.num_actions)).all()
    macro, both = move_table(space, "macro"), move_table(space, "both")
    names = move_names(space, macro)
    exchanges = [name for name in names if name.startswith("cx ")]
    assert len(exchanges) == 5 * 4 * 3  # (a, b, scratch) over 5 registers
    assert len(names) - len(exchanges) == 2 * 4 * 5  # every load and every store
    assert len(both) == space.num_actions + len(exchanges)
    assert all(name.startswith("mov") for name in names if not name.startswith("cx "))
    assert "cx r0, r1 (r4)" in names and (macro[:, :, 0] == PAD).any()


def rollouts(game, picks):
    gs, out = game.initial_state(), []
    for pick in picks:
        out.append(gs)
        legal = np.flatnonzero(game.legal_actions(gs))
        gs = game.initial_state() if pick % 9 == 0 or not len(legal) else game.play(
            gs, int(legal[pick % len(legal)]))  # fmt: skip
    return [*out, gs]


@pytest.mark.parametrize("key", sorted(GAMES))
@settings(max_examples=25, deadline=None)
@given(picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=40))
def test_a_move_is_legal_iff_its_instructions_are_in_turn_and_plays_as_them(key, picks):
    game = GAMES[key]
    for gs in rollouts(game, picks):
        mask = game.legal_actions(gs)
        for action in range(game.num_actions):
            ids = [int(i) for i in game.moves[action, :, 3] if i >= 0]
            steps = Program(game.layout, tuple(map(game.action_space.instruction, ids)))
            try:
                replayed = game.replay(steps, gs)
            except IllegalActionError:
                replayed = None
            assert bool(mask[action]) == (replayed is not None), game.move_name(action)
            if replayed is None:
                with pytest.raises(IllegalActionError):
                    game.apply(gs, action)
                continue
            played = game.apply(gs, action)
            assert played.program == replayed.program
            assert played.length == gs.length + len(steps.code)
            assert np.array_equal(played.state, replayed.state)
            assert np.array_equal(played.book, replayed.book)
            assert played.score == replayed.score


def test_a_macro_that_does_not_fit_in_max_length_is_illegal():
    game = AssemblyGame(n=3, moves="macro", max_length=6)
    gs = game.initial_state()
    for slot in range(3):
        gs = game.apply(gs, game.move_name_index(f"mov r{slot}, m{slot}"))
    cx = game.move_name_index("cx r0, r1 (r3)")
    assert game.legal_actions(gs)[cx] == 0  # 3 + 4 > 6
    with pytest.raises(IllegalActionError, match="do not fit"):
        game.apply(gs, cx)
    roomy = AssemblyGame(n=3, moves="macro")  # the same position with room: legal
    assert roomy.legal_actions(roomy.replay(game.program(gs)))[cx]


@pytest.mark.parametrize("isa, length", [("cmov", 28), ("minmax", 23)])
def test_a_sorting_network_of_compare_exchanges_sorts_sort4(isa, length):
    game = AssemblyGame(n=4, isa=isa, moves="macro")
    gs = game.initial_state()
    names = [f"mov r{i}, m{i}" for i in range(4)]
    names += [f"cx r{a}, r{b} (r4)" for a, b in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]]
    names += [f"mov m{i}, r{i}" for i in range(4)]
    for name in names:
        gs = game.apply(gs, game.move_name_index(name))
    assert gs.correct and gs.length == length
    assert verify(game.program(gs), game.task).correct


@pytest.mark.parametrize("kind", ["macro", "both"])
def test_the_mcts_counts_instructions_and_its_programs_verify(kind):
    game = AssemblyGame(n=3, moves=kind)
    found = []
    mcts = MCTS(game, HeuristicEvaluator(game), MCTSConfig(max_nodes=20_000),
                rng=np.random.default_rng(0), prune=True,
                on_correct=lambda gs: found.append(gs))  # fmt: skip
    for _ in range(40):  # episodes of 64 simulations a move, until one sorts
        node = mcts.root(game.initial_state())
        while not found and not mcts.is_terminal(node) and not mcts.is_dead(node):
            node = mcts.run(node, 64)
            node = mcts.child(node, mcts.select_action(node, 1.0))
        if found:
            break
    assert found, "the heuristic MCTS sorts sort3 with compare-exchanges"
    for gs in found:
        assert gs.length == len(gs.program) and verify(game.program(gs), game.task).correct
        node = mcts.root(gs)
        assert mcts.tree.length[node] == gs.length


def test_the_env_takes_moves_and_shows_their_instructions():
    env = AssemblyGameEnv(n=3, moves="macro")
    obs, info = env.reset(seed=0)
    assert env.action_space.n == env.unwrapped.game.num_actions == len(info["action_mask"])
    game = env.unwrapped.game
    for slot in range(3):
        obs, *_ = env.step(game.move_name_index(f"mov r{slot}, m{slot}"))
    obs, _, terminated, truncated, info = env.step(game.move_name_index("cx r0, r1 (r3)"))
    assert (
        obs["length"] == 7 and (obs["program"][:7] >= 0).all() and (obs["program"][7:] == -1).all()
    )
    assert not terminated and not truncated


def test_train_config_takes_the_move_set_and_refuses_what_cannot_work():
    assert TrainConfig(n=4, moves="macro", workers=0).plan is not None
    with pytest.raises(ValueError, match="--demonstrations needs --moves instructions"):
        TrainConfig(n=3, moves="macro", demonstrations=4, workers=0)
    assert TrainConfig(n=3, isa="mov,cmp,cmovle", moves="both", workers=0).plan is not None


def test_self_play_with_compare_exchanges_learns_and_its_kernel_verifies(tmp_path):
    from alphadev.train.checkpoints import load_checkpoint
    from alphadev.train.loop import train

    from .test_train import tiny

    config = tiny(steps=500, simulations=16, moves="macro", target=8)
    result = train(config, run_dir=tmp_path / "run")
    assert result.best_length == 8  # sort2: two loads, one compare-exchange, two stores
    assert result.stop_reason == "target" and result.step < 500
    kernel = asm.parse_file(tmp_path / "run" / "best_sort2_cmov.s").program
    assert len(kernel.code) == 8 and verify(kernel, AssemblyGame(n=2).task).correct
    assert load_checkpoint(tmp_path / "run")["provenance"]["moves"] == "macro"


def test_the_packaged_net_is_looked_up_by_task_isa_and_moves():
    from alphadev.search import packaged_checkpoint

    assert packaged_checkpoint(AssemblyGame(n=3)).name == "sort3_cmov.pt"
    assert packaged_checkpoint(AssemblyGame(n=4, moves="macro")).name == "sort4_cmov_macro.pt"
    assert packaged_checkpoint(AssemblyGame(n=4, isa="minmax", moves="both")).name == (
        "sort4_minmax_both.pt"
    )


def test_search_max_length_sets_the_mcts_episode_cap_and_is_checked():
    from alphadev.search import PACKAGED_CHECKPOINTS, SearchConfig, make_evaluator, run_search

    with pytest.raises(ValueError, match="--max-length"):
        SearchConfig(n=5, max_length=9)  # loads and stores alone take 10
    result = run_search(SearchConfig(n=4, method="mcts", moves="macro", max_length=40,
                                     checkpoint="heuristic", time_limit=30, target=40,
                                     objective="length"))  # fmt: skip
    assert result.best is not None and result.best.length <= 40
    assert verify(result.best.program, AssemblyGame(n=4).task).correct
    long_game = AssemblyGame(n=4, moves="macro", max_length=70)
    with pytest.raises(ValueError, match=r"at most 64 instructions.*may hold 70"):
        make_evaluator(str(PACKAGED_CHECKPOINTS / "sort4_cmov_macro.pt"), long_game)
    evaluator, _ = make_evaluator("untrained", long_game)  # sized to the episodes
    assert evaluator.net.config.max_length >= 70
