import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from alphadev.cli import main
from alphadev.game import AssemblyGame
from alphadev.mcts.tree import DEAD_EDGE, EXHAUSTED, OPEN
from alphadev.network import CheckpointError, NetworkConfig, PolicyValueNet, load_network
from alphadev.replay import ReplayBuffer
from alphadev.tasks import SortTask
from alphadev.train import (
    CHECKPOINT,
    METRICS,
    TrainConfig,
    learner_step,
    load_checkpoint,
    self_play_episode,
    train,
)
from alphadev.train.loop import (
    EPISODES_AHEAD,
    Curriculum,
    SelfPlay,
    _worth_learning,
    prepare,
)
from alphadev.train.self_play import SelfPlayer

TINY = NetworkConfig(embed_dim=16, heads=2, program_layers=1, row_hidden=16,
                     trunk_hidden=32).to_dict()  # fmt: skip


def tiny(**kw):
    base = dict(n=2, steps=20, workers=0, simulations=4, batch_size=16, min_replay=16,
                log_every=5, checkpoint_every=10, network=TINY, seed=0)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def metric_steps(run_dir):
    with (run_dir / METRICS).open() as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def test_learner_lowers_the_policy_loss_on_a_fixed_batch_and_the_checkpoint_loads(tmp_path):
    config = tiny()
    game = AssemblyGame(SortTask(2))
    torch.manual_seed(0)
    net = PolicyValueNet(NetworkConfig(**TINY))
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(1000)
    while len(replay) < 32:
        replay.add(self_play_episode(game, net, config, rng)[0])
    batch = replay.sample(32, rng)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    cache = {}
    first = learner_step(net, optimizer, game, batch, cache)["policy_loss"]
    for _ in range(30):
        last = learner_step(net, optimizer, game, batch, cache)["policy_loss"]
    assert last < first
    result = train(config, run_dir=tmp_path / "run")
    assert result.step == 20
    loaded = load_network(str(tmp_path / "run" / CHECKPOINT))
    assert isinstance(loaded, PolicyValueNet)
    assert load_checkpoint(tmp_path / "run")["counters"]["step"] == 20


def test_kill_and_resume_keeps_counters_replay_and_a_continuous_metrics_file(tmp_path):
    run = tmp_path / "run"

    def interrupt_at_15(row):
        if row["step"] == 15:
            raise KeyboardInterrupt

    first = train(tiny(steps=40), run_dir=run, on_progress=interrupt_at_15)
    assert first.interrupted and first.step == 15
    saved = load_checkpoint(run)
    assert saved["counters"]["step"] == 15
    replay_before = saved["replay"]["programs"].shape[0]
    assert replay_before > 0
    second = train(tiny(steps=25), run_dir=run, resume=True)
    assert second.step == 25 and not second.interrupted
    after = load_checkpoint(run)
    assert after["counters"]["step"] == 25
    assert after["counters"]["episodes"] >= saved["counters"]["episodes"]
    assert after["replay"]["added"] >= saved["replay"]["added"]
    assert after["replay"]["programs"].shape[0] >= replay_before
    assert metric_steps(run) == [5, 10, 15, 20, 25]


def test_a_ctrl_c_whose_exception_a_library_swallows_still_stops_the_run(tmp_path, monkeypatch):
    """Ray runs some Python in ctypes callbacks, which print a KeyboardInterrupt raised there
    and go on: the Ctrl-C must still stop the run (as interrupted, with its checkpoint)."""
    played = SelfPlay.next_episode
    swallowed = []

    def next_episode(self):
        if not swallowed:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:  # what a library's callback does with it
                swallowed.append(True)
        return played(self)

    monkeypatch.setattr(SelfPlay, "next_episode", next_episode)
    # Python's own Ctrl-C handler, as in a user's shell (an earlier test in this worker may
    # have left SIGINT ignored: an interrupted in-process search does so on its way out)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = train(tiny(steps=40), run_dir=tmp_path / "run")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert swallowed, "the SIGINT never raised in the episode's frame"
    assert result.interrupted and result.stop_reason == "interrupted"
    assert result.step == 0
    assert load_checkpoint(tmp_path / "run")["counters"]["step"] == 0


def test_same_seed_in_process_runs_give_identical_losses(tmp_path):
    a = train(tiny(steps=10), run_dir=tmp_path / "a")
    b = train(tiny(steps=10), run_dir=tmp_path / "b")
    assert [x["loss"] for x in a.losses] == [x["loss"] for x in b.losses]
    c = train(tiny(steps=10, seed=1), run_dir=tmp_path / "c")
    assert [x["loss"] for x in a.losses] != [x["loss"] for x in c.losses]


def test_a_self_play_worker_process_feeds_the_learner(tmp_path):
    result = train(tiny(steps=6, workers=1, log_every=3), run_dir=tmp_path / "w")
    assert result.step == 6 and result.episodes > 0
    assert metric_steps(tmp_path / "w") == [3, 6]


@pytest.mark.parametrize("content", [b"garbage", None])
def test_corrupted_or_foreign_checkpoints_are_clear_errors(tmp_path, capsys, content):
    run = tmp_path / "bad"
    run.mkdir()
    if content is None:
        torch.save({"model": {}}, run / CHECKPOINT)
        message = "not an alphadev training checkpoint"
    else:
        (run / CHECKPOINT).write_bytes(content)
        message = "not a readable torch checkpoint"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(run)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run / CHECKPOINT) in err and message in err


def test_init_from_copies_weights_between_sizes(tmp_path):
    train(tiny(steps=5), run_dir=tmp_path / "s2")
    result = train(tiny(n=3, steps=0), run_dir=tmp_path / "s3",
                   init_from=str(tmp_path / "s2" / CHECKPOINT))  # fmt: skip
    a = load_network(str(tmp_path / "s2" / CHECKPOINT)).state_dict()
    b = load_network(str(result.run_dir / CHECKPOINT)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # transfer from a net trained by self-play alone is still self-play alone, and says so
    provenance = load_checkpoint(result.run_dir)["provenance"]
    assert provenance["self_play_only"] is True
    assert provenance["init_from_provenance"]["self_play_only"] is True
    # ... but not from a net whose own run saw demonstrations
    train(tiny(steps=5, demonstrations=2), run_dir=tmp_path / "demo")
    result = train(tiny(n=3, steps=0, moves="macro"), run_dir=tmp_path / "from-demo",
                   init_from=str(tmp_path / "demo" / CHECKPOINT))  # fmt: skip
    provenance = load_checkpoint(result.run_dir)["provenance"]
    assert provenance["self_play_only"] is False and provenance["moves"] == "macro"


def test_tensorboard_logs_when_the_extra_is_installed(tmp_path):
    pytest.importorskip("tensorboard")
    train(tiny(steps=5), run_dir=tmp_path / "tb")
    assert any((tmp_path / "tb" / "tensorboard").iterdir())


def test_curriculum_follows_the_agent_down_and_steps_back_when_a_window_fails():
    c = Curriculum(start=30, window=4, threshold=0.5)
    for length in (22, 21, 0, 0):  # half correct, the longest 22: the next target is 21
        c.record(length > 0, 30, length)
    assert c.target == 21
    c.record(True, 30, 18)  # an episode played at the old target does not count
    assert c.results == []
    for _ in range(4):
        c.record(False, 21, 21)  # a whole window fails: back one
    assert c.target == 22
    for _ in range(4):
        c.record(True, 22, 20)  # then it tries again, below what the agent now does
    assert c.target == 19


def test_a_target_that_keeps_failing_waits_and_is_tried_twice_as_long_each_time():
    c = Curriculum(start=30, window=6, threshold=0.5)  # gives up after 2 failures in a row
    assert c.give_up_after == 2
    for _ in range(6):
        c.record(True, 30, 17)
    assert c.target == 16
    c.record(False, 16, 16)
    assert c.target == 16  # one failure is not a run
    c.record(False, 16, 16)
    assert (c.target, c.failed) == (17, {16: 1})
    for played in range(1, 12):
        c.record(True, 17, 17)
        assert c.target == 17, played  # 16 failed once: 12 episodes here before it is asked again
    c.record(True, 17, 17)
    assert c.target == 16
    for _ in range(3):
        c.record(False, 16, 16)
        assert c.target == 16  # the second attempt is twice as long: 4 failures in a row
    c.record(False, 16, 16)
    assert (c.target, c.failed) == (17, {16: 2})
    for _ in range(23):
        c.record(True, 17, 17)
    assert c.target == 17  # now 24 episodes
    c.record(True, 17, 17)
    assert c.target == 16
    assert Curriculum(start=30, window=6, threshold=0.5, **{"failed": {16: 2}}).failed == {16: 2}


def test_a_failed_attempt_below_the_best_length_is_not_learned_from():
    failed = {"correct": False, "target_length": 16}
    assert not _worth_learning(failed, best_length=17)  # a record not beaten
    assert _worth_learning(failed, best_length=None)  # nothing sorts yet: the failure is news
    assert _worth_learning({"correct": False, "target_length": 17}, best_length=17)
    assert _worth_learning({"correct": True, "target_length": 16}, best_length=17)


def test_the_curriculum_and_its_backoff_survive_a_resume(tmp_path):
    run = tmp_path / "run"
    train(tiny(steps=10), run_dir=run)
    saved = load_checkpoint(run)
    assert set(saved["curriculum"]) == {"target", "failed"}
    saved["curriculum"]["failed"] = {"9": 3}
    prep = prepare(tiny(steps=20), run_dir=run, resume=True, saved=saved)
    assert prep.curriculum.failed == {9: 3}
    saved["curriculum"]["failed"] = {"nine": 3}
    with pytest.raises(CheckpointError, match="failed targets"):
        prepare(tiny(steps=20), run_dir=run, resume=True, saved=saved)


def test_a_looser_target_opens_again_what_a_tighter_one_killed(monkeypatch):
    config = tiny(tree_episodes=1000)
    game = AssemblyGame(SortTask(2), max_length=config.longest)
    player = SelfPlayer(game, PolicyValueNet(NetworkConfig(**TINY)), config,
                        np.random.default_rng(0))  # fmt: skip
    player.episode(20)
    mcts = player.mcts
    player.episode(3)  # nothing sorts in 3 moves: the bound kills edges for good
    tree, nodes = mcts.tree, mcts.nodes
    assert (tree.edge[:nodes] == DEAD_EDGE).any()
    loosened = []
    monkeypatch.setattr(mcts, "loosen", lambda b, f=mcts.loosen: (loosened.append(b), f(b)))
    player.episode(3)
    assert loosened == []
    player.episode(20)
    assert loosened == [21] and player.mcts is mcts  # the search memory is kept
    mcts.bound = 8  # sort2 takes 8: the root lives, every line dies on the way
    mcts.run(mcts.root(game.initial_state()), 64)
    assert (tree.edge[: mcts.nodes] == DEAD_EDGE).any()
    visits = tree.visits[: mcts.nodes].copy()
    killed = int((tree.edge[: mcts.nodes] == DEAD_EDGE).sum())
    mcts.loosen(15)
    nodes = mcts.nodes
    still = np.argwhere(tree.edge[:nodes] == DEAD_EDGE)
    assert mcts.bound == 15 and len(still) < killed
    for c, a in still:  # what stays dead is dead under the looser bound too
        child = tree.child[c, a]
        assert child < 0 or mcts.is_dead(int(child))
    for c in np.flatnonzero(tree.status[:nodes] & EXHAUSTED):
        assert not (tree.edge[c] == OPEN).any()
    assert (tree.visits[:nodes] == visits).all()


def test_a_worker_never_runs_more_than_a_few_episodes_ahead_of_the_learner(tmp_path):
    config = tiny(workers=1)
    prep = prepare(config, run_dir=tmp_path / "q")
    play = SelfPlay(config, prep.curriculum, prep.game, prep.net, prep.rng, first_seed=1)
    try:
        first = play.next_episode()  # the worker is up and playing
        assert first[1]["target_length"] == prep.curriculum.target
        time.sleep(3.0)  # enough for dozens of sort2 episodes, were the worker not held back
        assert 1 <= play.episodes.qsize() <= EPISODES_AHEAD * config.workers
    finally:
        play.close()


def test_self_play_from_scratch_sorts_sort2_and_the_checkpoint_says_self_play_only(tmp_path):
    config = tiny(steps=200, simulations=16, curriculum_window=10)
    result = train(config, run_dir=tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run")
    assert saved["provenance"] == {"demonstrations": 0, "init_from": None,
                                   "init_from_provenance": None, "moves": "instructions",
                                   "self_play_only": True}  # fmt: skip
    assert result.best_length is not None and result.best_length <= 10  # a verified sort2
    assert (tmp_path / "run" / "best_sort2_cmov.s").is_file()
    with (tmp_path / "run" / METRICS).open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"target_length", "sorted_fraction", "policy_correct", "policy_length"} <= set(rows[-1])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_self_play_workers_die_with_a_killed_training_process(tmp_path):
    command = [sys.executable, "-m", "alphadev.train", "--n", "2", "--workers", "1",
               "--steps", "1000000", "--run-dir", str(tmp_path / "run")]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while not workers and time.monotonic() < deadline:
            time.sleep(0.5)
            workers = [c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)]
        assert workers, "no self-play worker started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)
