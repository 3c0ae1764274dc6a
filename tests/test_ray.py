"""Training, search and proofs on a local Ray with 2 CPUs (the ``ray`` extra, which the
README's test command installs): the same answers as one process, and faults that lose
nothing."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

from alphadev import exact  # noqa: E402
from alphadev.cli import main  # noqa: E402
from alphadev.cluster import ActorPool  # noqa: E402
from alphadev.distributed import prove_on_ray, search_on_ray  # noqa: E402
from alphadev.search import SearchConfig  # noqa: E402
from alphadev.tasks import SortTask, verify  # noqa: E402
from alphadev.train import CHECKPOINT, load_checkpoint, train  # noqa: E402
from alphadev.train.loop import Curriculum  # noqa: E402
from alphadev.train.ray_self_play import RaySelfPlay  # noqa: E402

from .test_hardening import _ctrl_c_as_a_terminal_gives_it  # noqa: E402
from .test_train import metric_steps, tiny  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the module (the library's ``connect`` then uses it)."""
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    ray.init(num_cpus=2, object_store_memory=128 << 20, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    yield ray
    ray.shutdown()


class Sleeper:
    def run(self, job):
        time.sleep(job)
        return job


def test_a_killed_actor_is_replaced_and_its_job_done_again(local_ray):
    sleeper = ray.remote(num_cpus=1)(Sleeper)
    pool = ActorPool(lambda slot, k: sleeper.remote(), lambda actor, job: actor.run.remote(job), 2)
    for job in (1.5, 0.1, 0.2):
        pool.submit(job)
    time.sleep(0.5)
    ray.kill(pool.actors[0])  # the one running the 1.5 s job
    done = sorted(pool.next(timeout=30).result for _ in range(3))
    assert done == [0.1, 0.2, 1.5] and pool.restarts == 1
    pool.shutdown()


def test_a_short_train_on_ray_resumes_without_ray_and_back(local_ray, tmp_path):
    run = tmp_path / "run"
    first = train(
        tiny(steps=4, ray="local", workers=2, log_every=2, checkpoint_every=2), run_dir=run
    )
    assert first.step == 4 and first.episodes > 0
    saved = load_checkpoint(run)
    assert saved["counters"]["step"] == 4 and saved["provenance"]["self_play_only"]
    second = train(tiny(steps=6, workers=0, log_every=2, checkpoint_every=2), run_dir=run,
                   resume=True)  # fmt: skip
    third = train(tiny(steps=8, ray="local", workers=1, log_every=2, checkpoint_every=2),
                  run_dir=run, resume=True)  # fmt: skip
    assert (second.step, third.step) == (6, 8)
    assert third.episodes >= second.episodes >= first.episodes
    assert metric_steps(run) == [2, 4, 6, 8] and (run / CHECKPOINT).exists()


def test_a_killed_self_play_actor_does_not_lose_the_run(local_ray):
    from alphadev.network import NetworkConfig, PolicyValueNet

    config = tiny(ray="local", workers=2)
    net = PolicyValueNet(NetworkConfig(**config.network))
    play = RaySelfPlay(config, Curriculum(start=10, window=50, threshold=0.5), net, first_seed=1)
    try:
        episodes = [play.next_episode()]
        ray.kill(play.pool.actors[0])
        ray.kill(play.pool.actors[1])
        play.publish()
        episodes += [play.next_episode() for _ in range(4)]
        assert play.restarts >= 1
        assert all(stats["target_length"] == 10 and samples for samples, stats in episodes)
    finally:
        play.close()


def test_a_proof_split_over_workers_agrees_with_the_single_process_proof(local_ray):
    task = SortTask(3)
    for max_core, expected in ((10, "exhausted"), (11, "found")):
        single = exact.find(task, max_core)
        split = prove_on_ray(task, max_core, address=None, workers=2, time_limit=120)
        assert single.status == split.status == expected
        assert split.parts > 1 and split.workers == 2
        if expected == "exhausted":
            assert split.exhausted == split.parts and split.nodes > 0
        else:
            assert verify(split.program, task).correct and len(split.program) == 17


def test_a_worker_killed_mid_proof_has_its_part_searched_again(local_ray, monkeypatch):
    import alphadev.distributed as distributed

    real_pool = distributed._worker_pool
    killed = []

    def pool_that_loses_a_worker(*args, **kwargs):
        pool = real_pool(*args, **kwargs)
        real_next = pool.next

        def next_after_a_kill(timeout=None):
            if not killed and pool.running:
                ray.kill(pool.actors[0])
                killed.append(True)
            return real_next(timeout)

        pool.next = next_after_a_kill
        return pool

    monkeypatch.setattr(distributed, "_worker_pool", pool_that_loses_a_worker)
    outcome = prove_on_ray(SortTask(3), 10, address=None, workers=2, time_limit=120)
    assert killed and outcome.restarts >= 1
    assert outcome.status == "exhausted" and outcome.exhausted == outcome.parts


def test_a_proof_is_not_claimed_when_the_time_runs_out(local_ray):
    outcome = prove_on_ray(SortTask(4), 14, address=None, workers=2, time_limit=3)
    assert outcome.status == "stopped" and outcome.exhausted < outcome.parts


def test_a_search_on_ray_finds_and_proves_sort3(local_ray):
    config = SearchConfig(n=3, time_limit=120, checkpoint="heuristic")
    result = search_on_ray(config, address=None, workers=2)
    assert result.correct and result.best.length == 17 and result.optimal
    assert result.stop_reason == "proved optimal" and "2 workers" in result.cluster


def test_a_search_on_ray_with_one_engine_per_worker(local_ray):
    config = SearchConfig(n=3, isa="minmax", method="best-first", time_limit=20, target=14)
    result = search_on_ray(config, address=None, workers=2)
    assert result.correct and result.best.length == 14 and not result.optimal


def test_bad_ray_flags_are_one_line_and_exit_2(capsys, tmp_path):
    assert main(["search", "--ray", "--workers", "0", "--out", str(tmp_path)]) == 2
    assert "--workers must be between 1 and" in capsys.readouterr().err
    assert main(["prove", "--n", "3", "--max-length", "16", "--ray", " "]) == 2
    assert "--ray: empty address" in capsys.readouterr().err
    assert main(["train", "--ray", "--workers", "0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--ray needs --workers 1 or more" in capsys.readouterr().err


def test_an_address_where_no_head_answers_is_one_line_and_exit_2(capsys):
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    t0 = time.perf_counter()
    code = main(["prove", "--n", "3", "--max-length", "16", "--ray", f"127.0.0.1:{port}"])
    assert code == 2 and time.perf_counter() - t0 < 30
    assert "no Ray head answers there" in capsys.readouterr().err


def test_without_the_ray_extra_the_flag_says_how_to_install_it(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["search", "--ray", "--out", str(tmp_path)]) == 2
    assert 'pip install -c constraints.txt -e ".[ray]"' in capsys.readouterr().err


def test_ctrl_c_stops_a_search_on_ray_and_keeps_its_best(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphadev", "search", "--n", "5", "--time-limit", "120",
         "--ray", "--workers", "2", "--out", str(tmp_path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_a_terminal_gives_it,
    )  # fmt: skip
    time.sleep(15)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert '"stop_reason": "interrupted"' in out
    assert "alphadev: starting a local Ray ..." in err  # said before the wait, and its length
    assert re.search(r"alphadev: a local Ray started in \d+\.\d s", err), err
    written = list(tmp_path.glob("sort5_cmov_[0-9]*.s"))  # the shortest; beside it, _fast.s
    for fast in tmp_path.glob("sort5_cmov_fast.s"):
        assert main(["verify", str(fast)]) == 0
    assert len(written) == 1 and main(["verify", str(written[0])]) == 0


def test_a_proof_on_ray_skips_the_parts_of_its_ledger_and_records_the_others(local_ray):
    from alphadev.exact.split import split_space

    task = SortTask(3)
    split = split_space(task, 10, parts=40)
    recorded = {}

    def record(part, states, _seconds):
        recorded[part] = states

    outcome = prove_on_ray(task, 10, address=None, workers=2, time_limit=120, split=split,
                           skip={0, 1, 2}, on_exhausted=record)  # fmt: skip
    assert outcome.status == "exhausted" and outcome.exhausted == outcome.parts
    assert set(recorded) == set(range(3, len(split.prefixes)))
