"""``alphadev train`` under adversarial use: the time limit and the memory budget hold for
every n, every bad flag, file or folder is one line on stderr and exit 2 with the disk
unchanged, a failing disk stops the run with one line, and ``--resume`` refuses flags that
disagree with the run it continues."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import alphadev.train.checkpoints as checkpoints
import alphadev.train.loop as loop
from alphadev.cli import main as alphadev_main
from alphadev.game import AssemblyGame
from alphadev.mcts.tree import bytes_per_node
from alphadev.network import NetworkConfig, PolicyValueNet
from alphadev.replay import ReplayBuffer
from alphadev.tasks import SortTask
from alphadev.train import CHECKPOINT, METRICS, TrainConfig, learner_step, load_checkpoint, train
from alphadev.train.checkpoints import save_checkpoint
from alphadev.train.cli import main as train_main
from alphadev.train.config import MAX_SEED
from alphadev.train.memory import position_bytes
from alphadev.train.self_play import SelfPlayer, derived_seed, self_play_episode
from alphadev.train.stopping import Stopped

TINY = NetworkConfig(embed_dim=16, heads=2, program_layers=1, row_hidden=16,
                     trunk_hidden=32).to_dict()  # fmt: skip


def tiny(**kw) -> TrainConfig:
    base = dict(n=2, steps=10, workers=0, simulations=4, batch_size=16, min_replay=16,
                log_every=5, checkpoint_every=5, network=TINY, seed=0)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def run(entry, argv: list[str]) -> tuple[int, str, str, float]:
    """``entry(argv)`` in-process: (exit code, stdout, stderr, seconds)."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = entry(argv)
        except SystemExit as exc:  # argparse, from the train entry
            code = exc.code
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def both(argv: list[str]):
    """Both entries: ``alphadev train ARGV`` and ``python -m alphadev.train ARGV``."""
    yield run(alphadev_main, ["train", *argv])
    yield run(train_main, argv)


def snapshot(folder: Path) -> dict:
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def assert_one_line(code: int, err: str, *words: str) -> None:
    """Exit 2, one line on stderr, no traceback, each of ``words`` in it."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


def assert_last_line(code: int, err: str, *words: str) -> None:
    """Exit 2, no traceback, one error line and it is the last (progress lines before it)."""
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.strip().splitlines() if line.startswith("alphadev train:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny sort2 run (steps 10) to resume or damage (copied per test)."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    train(tiny(), run_dir=folder)
    return folder


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    for path in tiny_run.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


# --------------------------------------------------------------------------------------------
# 1. Limits: the time limit within about a second for any n; the memory budget sizes the tables
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["0", "1"])
def test_the_time_limit_holds_inside_a_long_first_episode(tmp_path, workers):
    # a sort6 episode takes about half a minute: the limit must be polled inside it
    code, out, err, seconds = run(train_main, ["--n", "6", "--workers", workers, "--time-limit",
                                               "2", "--run-dir", str(tmp_path / "r")])  # fmt: skip
    assert code == 0, err
    # about 2.1 s alone (the old code: half a minute); more room for a busy 2-core machine
    assert seconds < 2 + 3, seconds
    assert "stopped at step 0 (time limit of 2 s reached)" in out
    assert f"checkpoint {tmp_path / 'r' / CHECKPOINT}" in out
    assert load_checkpoint(tmp_path / "r")["counters"]["step"] == 0


def test_a_sort7_run_stops_on_time_within_its_memory_budget(tmp_path):
    script = (
        "import resource, sys, time\n"
        "from alphadev.train.cli import _main\n"
        "code = _main(sys.argv[1:], time.perf_counter())\n"
        "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)\n"
        "import os; os._exit(code)\n"
    )
    argv = ["--n", "7", "--steps", "3", "--workers", "0", "--time-limit", "3", "--memory", "1.5GB",
            "--run-dir", str(tmp_path / "r")]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert "time limit of 3 s reached" in proc.stdout
    peak_mb = int(proc.stdout.split("peak")[-1]) / 1024
    # 1.5 GB of tables plus the process itself (Python, numba, torch: about 0.35 GB); the old
    # code held a 1000-node sort7 tree (2.9 GB) and passes over 16 sort7 positions (6 GB).
    # Alone this run peaks at 0.4-0.9 GB; inside the full suite at up to 2.4 GB (3 of 5 runs
    # of 12-01 above 2.1 GB, after the value pass, cause not found yet): the bound keeps the
    # old failures out while that is open.
    assert peak_mb < 1536 + 1024, peak_mb
    # the interpreter and torch start in about 1.5 s (more on a busy machine); the old code
    # ran on past the limit (minutes) within its first episode
    assert seconds < 3 + 11, seconds


def test_the_tree_and_the_network_chunks_follow_the_memory_budget():
    for n, budget in ((5, 512 << 20), (6, 1 << 30), (7, 2 << 30)):
        config = TrainConfig(n=n, workers=0, memory=f"{budget >> 20}MB")
        plan = config.plan
        task = SortTask(n)
        rows, locations = task.initial_state.shape
        node = bytes_per_node(rows, locations, len(task.action_space))
        forward = position_bytes(rows, locations, n, 64, 64)
        trees = (plan.tree_nodes + plan.attempt_nodes) * node
        assert trees + plan.eval_chunk * forward <= budget
        assert plan.learn_chunk * forward * 5 // 4 <= budget
        assert plan.tree_nodes >= 16 and plan.eval_chunk >= 1 and plan.learn_chunk >= 1
    assert TrainConfig(n=7, workers=0).plan.tree_nodes < 1000  # the old floor: 2.9 GB
    # the search tree of a self-play player has the plan's cap; the player stops when told
    config = TrainConfig(n=5, workers=0, memory="512MB", network=TINY, simulations=2)
    polls = []
    player = SelfPlayer(AssemblyGame(SortTask(5), max_length=config.longest),
                        PolicyValueNet(NetworkConfig(**config.network)), config,
                        np.random.default_rng(0),
                        lambda: polls.append(1) or len(polls) > 5)  # fmt: skip
    with pytest.raises(Stopped):
        player.episode(config.longest)
    assert player.mcts.config.max_nodes == config.plan.tree_nodes
    assert player.mcts.config.batch_size <= config.mcts_batch


def test_attempts_below_the_best_play_in_a_tree_of_their_own():
    """The player's tree is not touched by an attempt below its best length; an attempt given
    up on is dropped, one that sorts becomes the player's tree."""
    config = tiny(simulations=32)
    assert config.plan.attempt_nodes >= 16
    player = SelfPlayer(AssemblyGame(SortTask(2), max_length=config.longest),
                        PolicyValueNet(NetworkConfig(**config.network)), config,
                        np.random.default_rng(0))  # fmt: skip
    lengths = [s["length"] for _, s in (player.episode(config.longest) for _ in range(5))
               if s["correct"]]  # fmt: skip
    assert lengths and player.best == min(lengths) and player.attempt is None
    main = player.mcts
    simulations = main.simulations
    _, stats = player.episode(2)  # sort2 needs 3 instructions: an attempt that must fail
    assert not stats["correct"] and player.attempt is not None
    assert player.mcts is main and main.simulations == simulations
    assert player.attempt.config.max_nodes == config.plan.attempt_nodes
    player.episode(player.best)  # given up on: back in the player's tree, the attempt gone
    assert player.attempt is None and player.mcts is main and main.simulations > simulations
    player.best = config.longest  # as if the player had only sorted at the longest so far
    attempt = None
    for _ in range(10):
        _, stats = player.episode(config.longest - 1)
        if stats["correct"]:
            break
        assert player.attempt is not None and player.mcts is main
        attempt = player.attempt
    assert stats["correct"], "no attempt sorted in 10 episodes"
    assert player.mcts is not main and player.attempt is None  # promoted
    assert attempt is None or player.mcts is attempt
    assert player.mcts.config.max_nodes == config.plan.attempt_nodes
    assert player.best == stats["length"]


def test_a_learner_step_in_micro_batches_is_the_same_step():
    config = tiny()
    game = AssemblyGame(SortTask(2))
    torch.manual_seed(0)
    net = PolicyValueNet(NetworkConfig(**TINY))
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(1000)
    while len(replay) < 32:
        replay.add(self_play_episode(game, net, config, rng)[0])
    batch = replay.sample(24, rng)
    nets = [PolicyValueNet(NetworkConfig(**TINY)) for _ in range(2)]
    for other in nets:
        other.load_state_dict(net.state_dict())
    losses = []
    for other, chunk in zip(nets, (None, 5), strict=True):
        optimizer = torch.optim.Adam(other.parameters(), lr=1e-2)
        losses.append(learner_step(other, optimizer, game, batch, {}, chunk=chunk))
    for key in losses[0]:
        assert losses[0][key] == pytest.approx(losses[1][key], rel=1e-5, abs=1e-7)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    optimizer = torch.optim.Adam(nets[0].parameters(), lr=1e-2)
    before = [p.detach().clone() for p in nets[0].parameters()]
    with pytest.raises(Stopped):
        learner_step(nets[0], optimizer, game, batch, {}, chunk=5,
                     should_stop=iter([False, False, True]).__next__)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, nets[0].parameters(), strict=True))


def test_the_last_line_says_why_the_run_stopped(tmp_path, monkeypatch):
    train(tiny(steps=4), run_dir=tmp_path / "a")
    code, out, err, _ = run(train_main, ["--resume", str(tmp_path / "a"), "--steps", "6"])
    assert code == 0, err
    assert "stopped at step 6 (6 steps reached)" in out
    assert f"checkpoint {tmp_path / 'a' / CHECKPOINT}" in out

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "learner_step", ctrl_c)
    code, out, err, _ = run(train_main, ["--resume", str(tmp_path / "a"), "--steps", "9"])
    assert code == 130, err
    assert "stopped at step 6 (interrupted by Ctrl-C)" in out
    assert load_checkpoint(tmp_path / "a")["counters"]["step"] == 6


# --------------------------------------------------------------------------------------------
# 2. One line and exit 2 for every bad flag, file or folder; nothing written
# --------------------------------------------------------------------------------------------

BAD_FLAGS = [
    (["--seed", "-1"], ["--seed"]),
    (["--seed", str(2**64 + 1)], ["--seed"]),
    (["--registers", "13"], ["--registers 13"]),
    (["--n", "8", "--registers", "12"], ["--memory", "--registers", "sort8"]),
    (["--n", "8"], ["--memory 2GB is too small", "give --memory"]),
    (["--memory", "lots"], ["--memory"]),
    (["--memory", "1KB"], ["--memory"]),
    (["--replay-capacity", "9000000"], ["--replay-capacity"]),
    (["--n", "x"], ["--n"]),
    (["--no-such-flag"], ["--no-such-flag"]),
]


@pytest.mark.parametrize(("flags", "words"), BAD_FLAGS)
def test_bad_flags_are_one_line_and_write_nothing(tmp_path, flags, words):
    before = snapshot(tmp_path)
    for code, _, err, seconds in both(["--steps", "1", "--run-dir", str(tmp_path / "r"), *flags]):
        assert_one_line(code, err, *words)
        assert seconds < 15
    assert snapshot(tmp_path) == before


def test_seeds_of_workers_and_actors_stay_in_range():
    seed = derived_seed(MAX_SEED * 1000 + 1 + 7 + 1000 * 3)
    assert 0 <= seed < 2**63
    torch.manual_seed(seed)
    np.random.default_rng(seed)
    assert TrainConfig(n=2, seed=MAX_SEED, workers=0).seed == MAX_SEED


def test_run_folders_under_a_file_or_holding_a_run_are_refused(tmp_path, run_copy):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / CHECKPOINT).mkdir()  # a folder where the checkpoint belongs
    before = snapshot(tmp_path)
    cases = [
        (["--run-dir", str(a_file / "run")], "file"),
        (["--run-dir", str(a_file / "a" / "b")], "file"),
        (["--resume", str(a_file / "run")], "--resume"),
        (["--run-dir", str(run_copy)], "holds a run already"),
        (["--run-dir", str(tmp_path / "blocked")], "not a regular file"),
        (["--resume", str(tmp_path / "blocked")], str(tmp_path / "blocked")),
        (["--init-from", str(a_file / "x.pt")], "x.pt"),
    ]
    for flags, word in cases:
        for code, _, err, _ in both(["--steps", "1", *flags]):
            assert_one_line(code, err, word)
    assert snapshot(tmp_path) == before
    with pytest.raises(ValueError, match="file"):
        train(tiny(), run_dir=a_file / "run")  # the library refuses the same, with no write
    assert snapshot(tmp_path) == before


def _refuse_writes_under(monkeypatch, folder: Path, error: int) -> None:
    """Make creating a file under ``folder`` fail with ``error`` (EROFS, ENOSPC), as the
    kernel does; tests run as root, whom chmod does not stop."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise OSError(error, os.strerror(error), str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("error", [errno.EROFS, errno.EACCES])
def test_a_read_only_run_folder_is_refused_before_any_work(tmp_path, monkeypatch, error):
    folder = tmp_path / "ro"
    folder.mkdir()
    _refuse_writes_under(monkeypatch, folder, error)
    before = snapshot(tmp_path)
    for target in (folder, folder / "new" / "run"):
        code, _, err, seconds = run(train_main, ["--steps", "1", "--run-dir", str(target)])
        assert_one_line(code, err, str(target), os.strerror(error))
        assert seconds < 10
    assert snapshot(tmp_path) == before


def test_a_full_disk_mid_run_is_one_line_naming_the_folder(tmp_path, monkeypatch, run_copy):
    def full(path, fill):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoints, "write_with", full)
    code, out, err, _ = run(train_main, ["--resume", str(run_copy), "--steps", "20"])
    assert_last_line(code, err, str(run_copy), "No space left on device", "checkpoint.pt",
                     "stopped at step 15", "no checkpoint written")  # fmt: skip
    assert out == ""
    assert not [p for p in run_copy.iterdir() if p.name.startswith(".")]  # no temporary left
    # the same failure through the library: a RunFolderError after the last try
    with pytest.raises(checkpoints.RunFolderError, match="No space left"):
        train(tiny(steps=20), run_dir=run_copy, resume=True)


def test_a_metrics_file_that_cannot_be_written_stops_the_run_with_one_line(tmp_path, monkeypatch,
                                                                           run_copy):  # fmt: skip
    real = Path.open

    def open_(self, mode="r", *args, **kwargs):
        if self.name == METRICS and "a" in mode:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    code, _, err, _ = run(train_main, ["--resume", str(run_copy), "--steps", "20"])
    assert_last_line(code, err, str(run_copy), METRICS, "Read-only file system", "checkpoint")
    assert load_checkpoint(run_copy)["counters"]["step"] == 15  # the last try at it worked


DAMAGED_METRICS = [
    (b"step,episodes\nabc,1\n", "line 2"),
    (b"step,episodes\n5,1\n\xff\xfe,2\n", "not UTF-8"),
    (b"step,episodes\n5,1\n7\x00,2\n", "line"),
    (b"episodes,loss\n1,2\n", "no 'step' column"),
    (b"step,episodes\n5,1,9,9\n", "more or fewer fields"),
    (b"step,episodes\n10,1\n5,1\n", "step 5 after step 10"),
    (b'step,episodes\n"5' + b"x" * 200_000 + b'",1\n', "line"),
]


@pytest.mark.parametrize(("content", "word"), DAMAGED_METRICS)
def test_a_damaged_metrics_file_on_resume_is_one_line(run_copy, content, word):
    (run_copy / METRICS).write_bytes(content)
    before = snapshot(run_copy)
    for code, _, err, _ in both(["--resume", str(run_copy)]):
        assert_one_line(code, err, str(run_copy / METRICS), "damaged metrics file", word)
    assert snapshot(run_copy) == before


def test_a_metrics_fifo_is_refused_not_opened(run_copy):
    (run_copy / METRICS).unlink()
    os.mkfifo(run_copy / METRICS)
    code, _, err, seconds = run(train_main, ["--resume", str(run_copy)])
    assert_one_line(code, err, METRICS, "not a regular file")
    assert seconds < 10


def _mutate(saved: dict, how: str) -> None:
    config = saved["config"]
    if how == "heads":  # 16 is not a multiple of 3: torch asserts
        config["network"] = {**config["network"], "heads": 3}
    elif how == "embed":  # weights of another size
        config["network"] = {**config["network"], "embed_dim": 32, "heads": 2}
        saved["network_config"] = config["network"]
    elif how == "n":  # a sort3 config over sort2 weights' replay
        config["n"] = 3
    elif how == "type":
        config["n"] = "2"
    elif how == "field":
        config["network"] = {**config["network"], "colour": 1}
    elif how == "counters":
        saved["counters"]["step"] = -4
    elif how == "target":
        saved["curriculum"]["target"] = 10_000
    elif how == "rng":
        saved["rng"]["python"] = [1, 2, 3]
    elif how == "replay":
        saved["replay"]["programs"] = saved["replay"]["programs"][:3]
    elif how == "missing":
        del saved["optimizer"]


@pytest.mark.parametrize("how", ["heads", "embed", "n", "type", "field", "counters", "target",
                                 "rng", "replay", "missing"])  # fmt: skip
def test_an_inconsistent_checkpoint_with_a_valid_digest_is_one_line(run_copy, how):
    saved = load_checkpoint(run_copy)
    _mutate(saved, how)
    save_checkpoint(run_copy / CHECKPOINT, saved)  # a valid digest over what does not fit
    before = snapshot(run_copy)
    for code, _, err, _ in both(["--resume", str(run_copy)]):
        assert_one_line(code, err, str(run_copy / CHECKPOINT))
    assert snapshot(run_copy) == before


def test_init_from_weights_that_do_not_fit_is_one_line(tmp_path, run_copy):
    # the tiny net of the run does not fit the default network of a new run
    before = snapshot(tmp_path)
    code, _, err, _ = run(train_main, ["--n", "6", "--steps", "1", "--init-from",
                                       str(run_copy / CHECKPOINT), "--run-dir",
                                       str(tmp_path / "r")])  # fmt: skip
    assert_one_line(code, err, str(run_copy / CHECKPOINT), "do not fit")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# 3. --resume: a flag that disagrees with the run is an error; one that agrees, or may change,
#    is accepted
# --------------------------------------------------------------------------------------------

DISAGREE = [
    (["--n", "3"], "--n 3", "--n 2"),
    (["--isa", "minmax"], "--isa minmax", "--isa cmov"),
    (["--lr", "0.5"], "--lr 0.5", "--lr 0.001"),
    (["--registers", "4"], "--registers 4", "--registers 3"),
    (["--seed", "7"], "--seed 7", "--seed 0"),
    (["--gumbel"], "--gumbel True", "--gumbel False"),
    (["--simul", "9"], "--simulations 9", "--simulations 4"),  # an abbreviation is the flag
]


@pytest.mark.parametrize(("flags", "given", "saved"), DISAGREE)
def test_resume_refuses_a_flag_that_disagrees_with_the_run(run_copy, flags, given, saved):
    before = snapshot(run_copy)
    for code, _, err, _ in both(["--resume", str(run_copy), *flags]):
        assert_one_line(code, err, given, saved, str(run_copy))
    assert snapshot(run_copy) == before


def test_resume_refuses_another_run_dir_or_init_from(tmp_path, run_copy):
    before = snapshot(tmp_path)
    for flags, word in ((["--run-dir", str(tmp_path / "other")], "--run-dir"),
                        (["--init-from", str(run_copy / CHECKPOINT)], "--init-from")):  # fmt: skip
        for code, _, err, _ in both(["--resume", str(run_copy), *flags]):
            assert_one_line(code, err, word, str(run_copy))
    assert snapshot(tmp_path) == before


def test_resume_accepts_flags_that_agree_or_may_change(run_copy):
    argv = ["--resume", str(run_copy), "--run-dir", str(run_copy), "--n", "2", "--isa",
            "cmp,mov,cmovl,cmovg,cmovle,cmovge", "--registers", "3", "--lr", "1e-3",
            "--simulations", "4", "--steps", "12", "--workers", "0", "--time-limit", "60",
            "--memory", "1GB"]  # fmt: skip
    code, out, err, _ = run(train_main, argv)
    assert code == 0, err
    assert "stopped at step 12 (12 steps reached)" in out
    saved = load_checkpoint(run_copy)
    assert saved["counters"]["step"] == 12
    assert saved["config"]["steps"] == 12 and saved["config"]["memory"] == "1GB"
    assert saved["config"]["n"] == 2 and saved["config"]["lr"] == 1e-3
