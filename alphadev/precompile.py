"""Compile, in a helper process, the numba kernels a search will need later.

numba compiles a kernel on its first call, one kernel at a time per process (one compiler
lock), and keeps the result in its on-disk cache. On a first run (empty cache) a search used to
compile every lane's kernels one after the other on one core: about 55 s of wall time for
``alphadev search --n 3`` on two cores, of which about 50 s compiling. Here a helper process
compiles the groups of kernels that the lanes need *later* into the cache, while this process
compiles and runs the ones it needs first (the emulator, the comparator search); a lane that
reaches a group waits for it (:meth:`Precompiler.wait`) and loads it from the cache in a few
milliseconds. Two cores compile at once, and the first proof no longer waits behind the MCTS's
kernels.

Groups (:data:`GROUPS`), each warmed by a small workload on sort3 that calls every kernel of the
group with the argument types a real run uses:

* ``cost``: the cycle model (:mod:`alphadev.cost`), which scores every kernel offered;
* ``descent``: the exact tail searches and the exact descent (:mod:`alphadev.exact.branch_bound`);
* ``best_first``: the best-first beam (:mod:`alphadev.exact.best_first`);
* ``mcts``: the tree search (:mod:`alphadev.mcts.tree`), for the heuristic and network
  evaluators.

Nothing here changes a result. A group whose kernels are already cached starts no helper; a
group the helper could not compile (no writable cache, the helper died, a new argument type) is
compiled by the lane itself, as before. When the search ends on its own the helper finishes
its groups at low priority after the search's process has exited (the next run then has every
lane at once); an interrupted search stops it (what it compiled so far stays cached); and it
exits by itself if the search's process is killed.
``ALPHADEV_PRECOMPILE=0`` in the environment turns the helper off (the test suite does, so its
two workers do not compete with helpers stopped a second after they start).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["GROUPS", "Precompiler", "cached", "warm"]

#: group -> the kernels whose cache entries say the group is compiled ("module:attribute").
GROUPS: dict[str, tuple[str, ...]] = {
    "cost": ("alphadev.cost:_schedule",),
    "descent": ("alphadev.exact.branch_bound:_search",),
    "best_first": ("alphadev.exact.best_first:_kernel",),
    "mcts": (
        "alphadev.mcts.tree:run_heuristic",
        "alphadev.mcts.tree:select_batch",
        "alphadev.mcts.tree:expand_and_backup",
        "alphadev.mcts.tree:child_of",
    ),
}

#: How long a lane waits for the helper before it compiles a group itself (seconds).
WAIT_LIMIT = 120.0


def _dispatcher(name: str):
    module, attribute = name.split(":")
    __import__(module)
    return getattr(sys.modules[module], attribute)


def cached(group: str) -> bool:
    """Whether numba's on-disk cache holds every kernel of ``group`` compiled from today's
    source for this CPU (read from the cache's index files; any doubt counts as not cached)."""
    try:
        for name in GROUPS[group]:
            dispatcher = _dispatcher(name)
            cache = dispatcher._cache  # numba's FunctionCache of a cache=True kernel
            codegen = dispatcher.targetctx.codegen()
            keys = cache._cache_file._load_index()  # {} when missing or stale
            if not any(cache._index_key(key[0], codegen) == key for key in keys):
                return False
        return True
    except Exception:  # an internal of numba moved: compile rather than guess
        return False


class Precompiler:
    """A helper process compiling ``groups`` (in that order) into numba's cache; the groups
    already cached are ready at once and start no process.

    Args:
        groups: names from :data:`GROUPS`.
        isa: the ISA name of the search (the workloads use it where it matters).
    """

    def __init__(self, groups: Iterable[str], isa: str = "cmov") -> None:
        wanted = list(dict.fromkeys(groups))
        self._ready = {g: threading.Event() for g in wanted}
        todo = []
        for group in wanted:
            if cached(group):
                self._ready[group].set()
            else:
                todo.append(group)
        self.helper_groups: tuple[str, ...] = tuple(todo)
        self._process: subprocess.Popen | None = None
        if not todo:
            return
        if os.environ.get("ALPHADEV_PRECOMPILE", "1") == "0":
            self._release(todo)
            return
        try:
            self._process = subprocess.Popen(
                self.command(todo, isa),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, env=os.environ.copy(), start_new_session=True,
            )  # fmt: skip
        except OSError:  # no helper: every lane compiles its own kernels
            self._release(todo)
            return
        threading.Thread(target=self._listen, name="precompile", daemon=True).start()

    @staticmethod
    def command(groups: list[str], isa: str) -> list[str]:
        """The helper's command line (it prints ``ready GROUP`` after each group)."""
        parent = ["--parent", str(os.getpid())]
        return [sys.executable, "-m", "alphadev.precompile", "--isa", isa, *parent, *groups]

    def _release(self, groups: Iterable[str]) -> None:
        for group in groups:
            self._ready[group].set()

    def _listen(self) -> None:
        """Reads the helper's ``ready GROUP`` lines; at its end (done or died) releases all."""
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            word, _, group = line.strip().partition(" ")
            if word == "ready" and group in self._ready:
                self._ready[group].set()
        process.wait()
        self._release(self._ready)

    def is_ready(self, group: str) -> bool:
        """Whether ``group`` can be used without waiting (compiled, never asked for, or given
        up on by the helper)."""
        ready = self._ready.get(group)
        return ready is None or ready.is_set()

    def wait(self, group: str, stop: threading.Event | None = None) -> None:
        """Block until ``group`` is compiled (or the helper gave up, or ``stop`` is set, or
        :data:`WAIT_LIMIT` seconds passed); a group never asked for returns at once."""
        ready = self._ready.get(group)
        if ready is None:
            return
        deadline = time.monotonic() + WAIT_LIMIT
        while not ready.wait(0.05):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                return

    def close(self, finish: bool = False) -> tuple[str, ...]:
        """Stop the helper if it still runs (what it compiled so far stays in the cache); with
        ``finish``, let it compile its remaining groups at low priority after this process
        exits instead, so the next run finds them cached. Returns the groups left to it."""
        process = self._process
        if process is None or process.poll() is not None:
            return ()
        left = tuple(g for g in self.helper_groups if not self._ready[g].is_set())
        if finish and left and process.stdin is not None:
            try:
                process.stdin.write("finish\n")
                process.stdin.close()
                return left
            except OSError:  # it ended meanwhile
                return ()
        process.terminate()
        try:
            process.wait(2.0)
        except subprocess.TimeoutExpired:
            process.kill()
        return ()


# --- the workloads (run in the helper process) -----------------------------------------------


def _warm_cost(isa: str) -> None:
    from alphadev import cost, exact
    from alphadev.tasks import SortTask

    task = SortTask(3, isa=isa)
    program = exact.assemble(task, exact.network_core(task))
    cost.predict(program, cost.best_lowering(program))
    cost.partial_cost(program, "latency")


def _warm_descent(isa: str) -> None:
    from alphadev import exact
    from alphadev.tasks import SortTask

    task = SortTask(3, isa=isa)
    core = exact.network_core(task)
    exact.shorten_tail(task, core, max_nodes=200)
    exact.find(task, 2, max_nodes=2000, table_bits=10)


def _warm_best_first(isa: str) -> None:
    from alphadev.exact import best_first
    from alphadev.tasks import SortTask

    best_first.with_counterexamples(SortTask(3, isa=isa), max_rounds=1, memory_bytes=1 << 22)


def _warm_mcts(isa: str) -> None:
    import numpy as np

    from alphadev.game import AssemblyGame
    from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
    from alphadev.tasks import SortTask

    game = AssemblyGame(SortTask(3, isa=isa))

    class Outside(HeuristicEvaluator):  # evaluated outside the compiled search, as a network
        compiled = False

    for evaluator in (HeuristicEvaluator(game), Outside(game)):
        mcts = MCTS(game, evaluator, MCTSConfig(max_nodes=256), rng=np.random.default_rng(0),
                    prune=True)  # fmt: skip
        node = mcts.root(game.initial_state())
        for _ in range(3):
            if mcts.is_dead(node) or mcts.is_terminal(node):
                break
            node = mcts.run(node, 8)
            if not mcts.is_expanded(node):
                break
            node = mcts.child(node, mcts.select_action(node, temperature=1.0))


WORKLOADS: dict[str, Callable[[str], None]] = {
    "cost": _warm_cost,
    "descent": _warm_descent,
    "best_first": _warm_best_first,
    "mcts": _warm_mcts,
}


def warm(groups: Iterable[str], isa: str = "cmov", say: Callable[[str], None] = print) -> None:
    """Run the workloads of ``groups`` in order, saying ``ready GROUP`` after each (a group
    whose workload fails is still announced: its lane then compiles what is missing)."""
    for group in groups:
        with contextlib.suppress(Exception):  # the lane compiles it instead
            WORKLOADS[group](isa)
        say(f"ready {group}")


def _exit_with_parent(parent: int) -> None:
    """In the helper: exit as soon as the search process ``parent`` that started it is gone
    (killed, say), so no helper outlives its command by more than a fraction of a second;
    unless the search said ``finish`` on stdin before it ended: then compile what is left at
    low priority, and exit."""
    finish = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() == "finish":
                with contextlib.suppress(OSError):
                    os.nice(10)
                finish.set()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        if not finish.wait(0.5):  # the word and the parent's end may cross
            os._exit(0)

    threading.Thread(target=listen, name="finish-listen", daemon=True).start()
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _say(line: str) -> None:
    """Tell the search a group is ready (nobody listens once it ended: that is fine)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m alphadev.precompile [--isa ISA] [--parent PID] GROUP...``"""
    args = list(sys.argv[1:] if argv is None else argv)
    isa, parent = "cmov", os.getppid()
    while args[:1] in (["--isa"], ["--parent"]) and len(args) > 1:
        if args[0] == "--isa":
            isa = args[1]
        else:
            parent = int(args[1])
        args = args[2:]
    _exit_with_parent(parent)
    warm([g for g in args if g in WORKLOADS], isa, say=_say)


if __name__ == "__main__":
    main()
