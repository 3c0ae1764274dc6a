"""The compile helper (alphadev.precompile): it fills numba's cache for the groups a search
reaches later, lanes wait for it, and it never outlives the search."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from alphadev import cost, exact, precompile
from alphadev.precompile import Precompiler
from alphadev.search import SearchConfig, _precompile_groups, run_search
from alphadev.tasks import SortTask


@pytest.fixture
def helper_on(monkeypatch):
    monkeypatch.setenv("ALPHADEV_PRECOMPILE", "1")


def fake_helper(monkeypatch, script: str) -> None:
    """Replace the helper's command by a Python one-liner (no compilation)."""
    monkeypatch.setattr(precompile, "cached", lambda group: False)
    monkeypatch.setattr(
        Precompiler, "command", staticmethod(lambda groups, isa: [sys.executable, "-c", script])
    )


def test_a_cold_cache_is_filled_by_the_helper_in_its_own_process(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    probe = [sys.executable, "-c", "from alphadev.precompile import cached; print(cached('cost'))"]
    assert subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip() == "False"
    helper = subprocess.run([sys.executable, "-m", "alphadev.precompile", "cost"], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert helper.stdout.split() == ["ready", "cost"]
    assert subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip() == "True"


def test_groups_already_cached_start_no_helper(helper_on):
    task = SortTask(3)
    cost.predict(exact.assemble(task, exact.network_core(task)))  # compiled (and cached) here
    helper = Precompiler(["cost"])
    assert helper.helper_groups == () and helper._process is None
    assert helper.is_ready("cost") and helper.is_ready("never asked for")


def test_a_lane_waits_for_its_group_and_no_longer(helper_on, monkeypatch):
    fake_helper(monkeypatch, "import time; print('ready cost', flush=True); time.sleep(30)")
    helper = Precompiler(["cost", "mcts"])
    try:
        start = time.monotonic()
        helper.wait("cost")
        assert helper.is_ready("cost") and time.monotonic() - start < 10
        assert not helper.is_ready("mcts")
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        helper.wait("mcts", stop)  # returns when the search stops, group or not
        assert stop.is_set() and not helper.is_ready("mcts")
    finally:
        helper.close()
    assert helper._process.poll() is not None  # stopped with the search


def test_a_helper_that_dies_releases_every_group(helper_on, monkeypatch):
    fake_helper(monkeypatch, "raise SystemExit(1)")
    helper = Precompiler(["cost", "descent", "mcts"])
    helper.wait("mcts")
    assert all(helper.is_ready(g) for g in ("cost", "descent", "mcts"))


def test_the_switch_off_starts_no_helper(monkeypatch):
    monkeypatch.setenv("ALPHADEV_PRECOMPILE", "0")
    fake_helper(monkeypatch, "import time; time.sleep(30)")
    helper = Precompiler(["cost", "mcts"])
    assert helper._process is None and helper.is_ready("mcts")


def test_the_helper_exits_when_its_search_process_dies(tmp_path):
    script = (
        "import subprocess, sys\n"
        "from alphadev.precompile import Precompiler\n"
        "p = subprocess.Popen(Precompiler.command(['mcts'], 'cmov'), stdout=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
    )  # the parent exits at once, without stopping its helper
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # a 30 s compilation
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    pid = int(out.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.2)
    os.kill(pid, 9)
    pytest.fail("the helper outlived its parent by 10 s")


def test_each_lane_of_a_search_names_the_groups_it_reaches_in_order():
    assert _precompile_groups(SearchConfig(n=3), SortTask(3)) == ["cost", "descent", "mcts"]
    minmax = SortTask(4, isa="minmax")
    assert _precompile_groups(SearchConfig(n=4, isa="minmax"), minmax) == [
        "cost", "descent", "best_first", "mcts"]  # fmt: skip
    assert _precompile_groups(SearchConfig(n=8), SortTask(8)) == ["cost"]
    assert _precompile_groups(SearchConfig(n=3, method="exact"), SortTask(3)) == [
        "cost", "descent"]  # fmt: skip


def test_a_search_with_the_helper_on_gives_the_same_kernel(helper_on):
    result = run_search(SearchConfig(n=3, time_limit=60, no_native=True))
    assert result.optimal and result.best.length == 17 and result.fastest is not None


def test_a_search_that_ends_on_its_own_leaves_the_helper_to_finish(
    helper_on, monkeypatch, tmp_path
):
    said = tmp_path / "said"
    fake_helper(monkeypatch, "import sys, time\n"
                f"open({str(said)!r}, 'w').write(sys.stdin.readline())\n"
                "time.sleep(1)")  # fmt: skip
    helper = Precompiler(["cost", "mcts"])
    assert helper.close(finish=True) == ("cost", "mcts")
    helper._process.wait(20)
    assert said.read_text() == "finish\n"
    assert helper.close(finish=True) == ()  # nothing left to a helper that ended
