"""A node lost in the middle of a run, on a real Ray cluster of two nodes on this host (two
``ray start``, one CPU each; the ``ray`` extra, which the README's test command installs): the
worker that is left goes on with the queue, the lost parts first, and the proof still
completes; a search still writes its verified best; a training goes on with the self-play
worker left and checkpoints at its time limit. Which node the command joins through is Ray's
choice when both share an address: when it is the lost one, the command joins the cluster
again and goes on with what it kept; both ways must end well."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from alphadev.cli import main  # noqa: E402
from alphadev.cluster import ActorPool  # noqa: E402
from alphadev.train import load_checkpoint  # noqa: E402
from alphadev.train.checkpoints import METRICS  # noqa: E402

from .test_hardening import _ctrl_c_as_a_terminal_gives_it  # noqa: E402

#: About 25 s of search undivided (72,866,787 states; length 20 takes 468,560 since the
#: compare bound): long enough for the head to mark the lost node dead (about 6 s, below)
#: before the proof ends.
PROVE = ["prove", "--n", "4", "--max-length", "22", "--isa", "mov,cmp,cmovl,cmovg"]
#: Seconds a node may take to join, or the cluster to come up, before the tests are skipped.
START_TIMEOUT = 60
#: The head marks a node dead after about 6 s without an answer (Ray's default, about 15 s
#: or more, would only make the tests longer: the library does not depend on it).
HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "6",
}
#: What an alphadev worker's process is named while it runs a job (Ray names it after the
#: method).
SEARCH_METHODS = ("ray::SearchWorker.part", "ray::SearchWorker.engines")
SELF_PLAY_METHODS = ("ray::SelfPlayActor.play",)


_handed_out: set[int] = set()


def _free_port() -> int:
    """A port nothing listens on, never the same twice (Ray refuses two components on one)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def _ray_executable() -> str | None:
    beside = Path(sys.executable).parent / "ray"  # the venv's own
    return str(beside) if beside.exists() else shutil.which("ray")


def _processes() -> dict[int, list[str]]:
    """Every process of this host that can be read: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            found[int(entry.name)] = [arg.decode(errors="replace") for arg in argv if arg]
    return found


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


class TwoNodes:
    """A head node and a worker node on this host, each started by its own ``ray start`` in a
    session of its own (so each node's processes, its workers included, are one process
    group), with ports of their own and a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ray = _ray_executable()
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.node_manager_port = _free_port()  # the worker node's: it names its raylet
        self.groups: list[int] = []  # each node's process group
        self.commands: list[subprocess.Popen] = []  # the alphadev commands run against it
        self.env = {**os.environ, "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}
        self.env.pop("RAY_ADDRESS", None)

    def start(self) -> None:
        if self.ray is None:
            pytest.skip("no `ray` executable beside this Python or on PATH")
        if not Path("/proc/self/cmdline").exists():
            pytest.skip("the tests find Ray's processes through /proc")
        for attempt in range(2):  # once more with other ports if some port was taken
            head = ["--head", "--port", str(self.port), "--temp-dir", str(self.root / "ray"),
                    "--include-dashboard=false",
                    "--ray-client-server-port", str(_free_port())]  # fmt: skip
            if self._start(head, "head.log", HEALTH_CHECKS, last=attempt == 1):
                break
            self.port = _free_port()
            self.address = f"127.0.0.1:{self.port}"
        self._start(["--address", self.address,
                     "--node-manager-port", str(self.node_manager_port)], "worker.log")  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while self.alive_nodes() < 2:
            if time.monotonic() > deadline:
                pytest.skip("`ray start` did not bring up two nodes on this host")
            time.sleep(1)

    def _start(self, flags: list[str], log: str, env: dict | None = None, *,
               last: bool = True) -> bool:  # fmt: skip
        """``ray start`` with ``flags``: whether it started (else a skip, when ``last``)."""
        common = ["--num-cpus", "1", "--object-store-memory", str(100 << 20),
                  "--disable-usage-stats",
                  "--dashboard-agent-listen-port", str(_free_port())]  # fmt: skip
        with open(self.root / log, "w") as out:
            proc = subprocess.Popen([self.ray, "start", *flags, *common], stdout=out,
                                    stderr=subprocess.STDOUT, env={**self.env, **(env or {})},
                                    start_new_session=True)  # fmt: skip
            self.groups.append(proc.pid)
            try:
                code = proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
        if code != 0 and last:
            tail = (self.root / log).read_text(errors="replace")[-800:]
            pytest.skip(f"`ray start {flags[0]}` cannot start a node here (exit {code}): {tail}")
        if code != 0:
            self.stop()
        return code == 0

    def alive_nodes(self) -> int:
        command = [self.ray, "status", "--address", self.address]
        status = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60)
        active = status.stdout.partition("Active:")[2].partition("Pending:")[0]
        return sum(line.strip().startswith("1 node_") for line in active.splitlines())

    def worker_raylet(self) -> int | None:
        """The pid of the worker node's raylet."""
        flag = f"--node_manager_port={self.node_manager_port}"
        for pid, argv in _processes().items():
            if argv and argv[0].endswith("/raylet") and flag in argv:
                return pid
        return None

    def worker_node_busy(self, methods: tuple[str, ...] = SEARCH_METHODS) -> bool:
        """Whether an alphadev worker of the worker node runs a job, one of ``methods`` (Ray
        names a worker's process after the method it runs)."""
        return any(argv and argv[0].startswith(methods)
                   and _process_group(pid) == self.groups[1]
                   for pid, argv in _processes().items())  # fmt: skip

    def stop(self) -> None:
        """Kill the commands and every process of both nodes (never `ray stop`: it stops every
        Ray of this host, another test's too)."""
        for proc in self.commands:
            with suppress(OSError):
                proc.kill()
        marks = (str(self.root), f":{self.port}")
        for pid, argv in _processes().items():
            mine = _process_group(pid) in self.groups or any(m in a for a in argv for m in marks)
            if mine and pid != os.getpid():
                with suppress(OSError):  # gone already
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def two_nodes():
    # A short folder: Ray's socket paths under it must stay within 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="adrn-", dir="/tmp"))
    cluster = TwoNodes(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


class Run:
    """An ``alphadev`` command against the cluster, in a subprocess; its output read as it
    comes."""

    def __init__(self, cluster: TwoNodes, args: list[str]) -> None:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "alphadev", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=cluster.env,
                                     preexec_fn=_ctrl_c_as_a_terminal_gives_it)  # fmt: skip
        cluster.commands.append(self.proc)
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=pipe, daemon=True)
                        for pipe in ((self.proc.stdout, self.out),
                                     (self.proc.stderr, self.err))]  # fmt: skip
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(pipe, lines: list[str]) -> None:
        for line in pipe:
            lines.append(line)

    def finish(self, timeout: float) -> tuple[int | None, str, str, float]:
        """Exit code (None: killed at ``timeout``), stdout, stderr, seconds since the start."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        else:
            code = self.proc.returncode
        took = time.monotonic() - self.t0
        for reader in self.readers:
            reader.join(timeout=5)
        return code, "".join(self.out), "".join(self.err), took


def _lose_the_worker_node(cluster: TwoNodes, run: Run, within: float = 60,
                          methods: tuple[str, ...] = SEARCH_METHODS) -> float:  # fmt: skip
    """SIGKILL the worker node's raylet about a second after its alphadev worker started a job
    (one of ``methods``); the seconds since the command started."""
    deadline = time.monotonic() + within
    while not cluster.worker_node_busy(methods):
        assert run.proc.poll() is None, f"the command ended first: {''.join(run.err)[-2000:]}"
        assert time.monotonic() < deadline, "no job ever ran on the worker node"
        time.sleep(0.2)
    time.sleep(1)
    raylet = cluster.worker_raylet()
    assert raylet is not None, "the worker node's raylet is not running"
    os.kill(raylet, signal.SIGKILL)
    return time.monotonic() - run.t0


def test_a_proof_completes_after_a_node_is_lost(two_nodes):
    run = Run(two_nodes, [*PROVE, "--ray", two_nodes.address, "--workers", "2",
                          "--time-limit", "300", "--json"])  # fmt: skip
    lost_at = _lose_the_worker_node(two_nodes, run)
    code, out, err, took = run.finish(timeout=150)
    assert code == 0, (
        f"exit {code} after {took:.0f} s (node lost at {lost_at:.0f} s): {err[-3000:]}"
    )
    answer = json.loads(out)  # stdout holds the answer alone: Ray's own messages go to stderr
    assert answer["exists"] is False and answer["parts_exhausted"] == answer["parts"] > 1
    assert answer["workers"] == 2 and answer["workers_replaced"] >= 1
    assert "continued with 1 of 2 workers after losing a node" in err
    assert took - lost_at < 90, f"the proof took {took - lost_at:.0f} s after the node was lost"


def test_a_search_that_loses_a_node_still_writes_its_verified_best(two_nodes, tmp_path):
    limit = 20
    run = Run(two_nodes, ["search", "--n", "4", "--ray", two_nodes.address, "--workers", "2",
                          "--time-limit", str(limit), "--out", str(tmp_path), "--json",
                          "--no-native"])  # fmt: skip
    _lose_the_worker_node(two_nodes, run)
    code, out, err, took = run.finish(timeout=limit + 60)
    assert code == 0, f"exit {code} after {took:.0f} s: {err[-3000:]}"
    assert took < limit + 15, f"the search took {took:.0f} s for a {limit} s time limit"
    result = json.loads(out)
    assert result["correct"] and result["stop_reason"] == "time limit"
    # The loss is reported only when Ray declared the node dead before the time limit (about
    # 6 s here; on a loaded machine the kill may come too late for that): not asserted.
    written = sorted(tmp_path.glob("sort4_cmov_*.s"))
    assert written and all(main(["verify", str(path)]) == 0 for path in written)


#: A tiny training (sort3, few simulations, a small replay before the first step): many
#: learner steps a minute, with two self-play workers or one.
TRAIN = ["train", "--n", "3", "--simulations", "8", "--min-replay", "32", "--batch-size", "16",
         "--steps", "100000", "--log-every", "1", "--checkpoint-every", "100000"]  # fmt: skip


def _last_step(run_dir: Path) -> int:
    """The last learner step ``metrics.csv`` has a row of (0 before the first)."""
    with suppress(OSError):
        rows = (run_dir / METRICS).read_text().splitlines()[1:]
        if rows and rows[-1].partition(",")[0].isdigit():
            return int(rows[-1].partition(",")[0])
    return 0


def _ours(err: str) -> str:
    """The end of a command's stderr without the dumps of Ray's own logs (a lost raylet's)."""
    lines = [line for line in err.splitlines()
             if not line.startswith((" ", "\t")) and "(raylet)" not in line]  # fmt: skip
    return "\n".join(lines)[-3000:]


def test_training_goes_on_with_the_workers_left_after_a_node_is_lost(two_nodes, tmp_path):
    """The self-play worker left plays on, the lost episodes asked of it again, and the
    learner keeps stepping after the loss was noticed; the run ends at its time limit with exit
    0 and its checkpoint. When the lost node is the one the command joined through, it joins
    again (through the head) and goes on the same way."""
    limit = 45
    run_dir = tmp_path / "run"
    run = Run(two_nodes, [*TRAIN, "--ray", two_nodes.address, "--workers", "2",
                          "--time-limit", str(limit), "--run-dir", str(run_dir)])  # fmt: skip
    lost_at = _lose_the_worker_node(two_nodes, run, methods=SELF_PLAY_METHODS)
    # The loss is noticed about 12 s after the kill (6 s for the head to mark the node dead, 5
    # more for the replacement to find no CPU; a few more when the command joins again), the
    # kill comes 10-15 s after the start here: the rest of the time limit is for steps.
    noticed, deadline = None, time.monotonic() + limit + 30
    while noticed is None and run.proc.poll() is None and time.monotonic() < deadline:
        if any("going on with 1 of 2 self-play workers" in line for line in run.err):
            noticed = _last_step(run_dir)
        time.sleep(0.2)
    code, out, err, took = run.finish(timeout=limit + 60)
    assert code == 0, f"exit {code} after {took:.0f} s (node lost at {lost_at:.0f} s): {_ours(err)}"
    assert "Traceback" not in err, _ours(err)
    assert "continued with 1 of 2 self-play workers after losing a node" in err, _ours(err)
    assert noticed is not None, f"the loss was not reported while the run went on: {_ours(err)}"
    last = out.strip().splitlines()[-1]
    assert f"time limit of {limit} s reached" in last, last
    step = int(last.partition("stopped at step ")[2].partition(" ")[0])
    assert step > noticed, f"no learner step after the loss was noticed at step {noticed}: {last}"
    assert load_checkpoint(run_dir)["counters"]["step"] == step
    assert took < limit + 20, f"the run took {took:.0f} s for a {limit} s time limit"


def test_ctrl_c_stops_training_on_a_cluster_at_once_with_its_checkpoint(two_nodes, tmp_path):
    run_dir = tmp_path / "run"
    run = Run(two_nodes, [*TRAIN, "--ray", two_nodes.address, "--workers", "2",
                          "--time-limit", "120", "--run-dir", str(run_dir)])  # fmt: skip
    deadline = time.monotonic() + 60
    while not two_nodes.worker_node_busy(SELF_PLAY_METHODS):
        assert run.proc.poll() is None, f"the command ended first: {_ours(''.join(run.err))}"
        assert time.monotonic() < deadline, "no episode ever ran on the worker node"
        time.sleep(0.2)
    asked = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    code, out, err, _ = run.finish(timeout=60)
    took = time.monotonic() - asked
    assert code == 130 and "Traceback" not in err, f"exit {code}: {_ours(err)}"
    assert "(interrupted by Ctrl-C)" in out.strip().splitlines()[-1], out
    assert load_checkpoint(run_dir)["counters"]["step"] >= 0
    assert took < 10, f"Ctrl-C took {took:.1f} s to stop the run"  # about 0.5 s here


class Sleeper:
    def run(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds


@pytest.fixture
def ray_with_2_cpus():
    """A local Ray with 2 CPUs (the one of tests/test_ray.py when this process runs it)."""
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    ray.init(num_cpus=2, object_store_memory=128 << 20, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    try:
        yield ray
    finally:
        ray.shutdown()


def test_jobs_go_to_the_workers_that_are_up_not_to_a_replacement_without_a_cpu(ray_with_2_cpus):
    """The fault behind a lost node, on one machine: a dead actor's replacement finds no free
    CPU; its jobs go to the actor that is up (the old pool sent them to the replacement, where
    they waited for ever)."""
    sleeper = ray.remote(num_cpus=1)(Sleeper)
    pool = ActorPool(lambda slot, k: sleeper.remote(), lambda actor, job: actor.run.remote(job), 2)
    blocker = None
    try:
        deadline = time.monotonic() + 60
        while pool.up_workers < 2:
            assert time.monotonic() < deadline, "the pool's two actors never came up"
            pool.next(timeout=0)
            time.sleep(0.1)
        for _ in range(6):
            pool.submit(0.3)
        blocker = sleeper.remote()  # waits for a CPU: it takes the one the kill frees
        ray.kill(pool.actors[0])
        ray.get(blocker.__ray_ready__.remote(), timeout=60)  # before the pool sees the loss
        done = [pool.next(timeout=30) for _ in range(6)]  # the replacement can never start
        assert all(item is not None and item.result == 0.3 for item in done)
        assert pool.restarts == 1 and pool.up_workers == 1 and pool.workers == 2
    finally:
        pool.shutdown()
        with suppress(Exception):
            ray.kill(blocker)
