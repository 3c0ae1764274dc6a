"""Discover, verify and save a sorting kernel: what ``alphadev search`` runs.

Two engines share one best-so-far, each on its own core:

* **enumeration** (a worker thread; the numba kernel releases the GIL): a shortest sorting
  network lowered to the ISA gives a first kernel at once; exact tail searches
  (:func:`alphadev.exact.shorten_tail`) shorten it; then an exact descent asks
  "is there a core one instruction shorter?" until the answer is no (the best is then optimal
  in the enumeration space, :class:`alphadev.exact.Space`) or time runs out;
* **MCTS** (the main thread): episodes of the assembly game with the evaluator chosen by
  ``checkpoint`` (a trained network, a fresh one, or the heuristic), branch-and-bound against
  the best length known to either engine.

``method`` picks ``auto`` (both), ``enumerate`` or ``mcts``. The search stops at the time limit,
when the best length reaches ``target``, or when the enumeration proves the best optimal. The
winner (shortest, then lowest critical path) is verified with :func:`alphadev.tasks.verify`
(all tie patterns plus random int32 rows) before anything is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alphadev import asm, exact
from alphadev.atomic import write_atomic
from alphadev.game import AssemblyGame, GameState
from alphadev.isa import Program, get_isa
from alphadev.latency import critical_path
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
from alphadev.options import check_range, check_seconds, option
from alphadev.tasks import SortTask, VerifyResult, verify

__all__ = [
    "METHODS",
    "Candidate",
    "SearchConfig",
    "SearchResult",
    "make_evaluator",
    "run_search",
    "write_kernel",
]

METHODS = ("auto", "enumerate", "mcts")
PACKAGED_CHECKPOINTS = Path(__file__).parent / "checkpoints"


#: Sort sizes the search accepts.
MAX_N = 8
#: Registers at most (the exported C maps each to a machine register).
MAX_REGISTERS = 14


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """What to search for and for how long (keyword-only; the fields with help are the flags
    of ``alphadev search``, with these defaults).

    ``tail_nodes`` caps each exact tail search (states).
    """

    n: int = option(3, help=f"sort size, 2..{MAX_N}")
    isa: str = option("cmov", help="cmov, minmax, full, or a comma list of opcodes")
    registers: int | None = option(None, help="register count (default n+1)")
    method: str = option(
        "auto",
        choices=METHODS,
        help="auto: the engines race on one best-so-far; or one engine alone",
    )
    simulations: int = option(64, help="MCTS simulations per move")
    time_limit: float = option(
        60.0,
        help="seconds; the search stops sooner when it proves its best optimal or reaches --target",
    )
    seed: int = option(
        0,
        help="random seed: each engine alone (--method) is reproducible with it; the race of "
        "engines on two cores is not (which engine finds what first depends on timing)",
    )
    checkpoint: str | None = option(
        None,
        help="MCTS evaluator: a checkpoint PATH, 'untrained' or 'heuristic' (default: the "
        "packaged net for this task if shipped, else heuristic)",
    )
    target: int | None = option(None, help="stop once the best length is at most this")
    tail_nodes: int = 2_000_000

    def __post_init__(self) -> None:
        check_range("n", self.n, 2, MAX_N)
        isa = get_isa(self.isa)
        if not isa.can_sort:
            raise ValueError(f"--isa {self.isa}: needs min and max, or cmp and a cmov, to sort")
        registers = self.registers if self.registers is not None else self.n + 1
        check_range("registers", registers, self.n + 1, MAX_REGISTERS)
        check_seconds("time_limit", self.time_limit)
        check_range("simulations", self.simulations, 1, 1_000_000)
        check_range("target", self.target, 1)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: expected one of {METHODS}")


@dataclass(frozen=True)
class Candidate:
    """A correct program (on the tie-pattern rows) and when and how it was found."""

    program: Program
    length: int
    core_length: int
    critical_path: int
    found_by: str
    seconds: float

    @property
    def rank(self) -> tuple[int, int]:
        return (self.length, self.critical_path)


@dataclass
class SearchResult:
    """The outcome of :func:`run_search`.

    ``optimal`` is True when the enumeration exhausted every shorter core in its space.
    ``states`` counts MCTS nodes created plus enumeration states generated.
    """

    config: SearchConfig
    best: Candidate | None
    verified: VerifyResult | None
    optimal: bool
    stop_reason: str
    seconds: float
    simulations: int
    mcts_states: int
    enumeration_states: int
    evaluator: str
    history: list[Candidate] = field(default_factory=list)

    @property
    def states(self) -> int:
        return self.mcts_states + self.enumeration_states

    @property
    def correct(self) -> bool:
        return self.best is not None and self.verified is not None and self.verified.correct


class _Shared:
    """The best-so-far both engines write to, and the stop signal."""

    def __init__(self, task: SortTask, target: int | None, t0: float) -> None:
        self.task = task
        self.target = target
        self.t0 = t0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.control = exact.SearchControl()
        self.best: Candidate | None = None
        self.history: list[Candidate] = []
        self.optimal = False
        self.simulations = 0
        self.stop_reason = "time limit"

    def offer(self, program: Program, found_by: str) -> bool:
        """Record ``program`` (correct on the tie rows) if it beats the best; True if it did."""
        n = self.task.n
        cand = Candidate(
            program=program,
            length=len(program),
            core_length=len(program) - 2 * n,
            critical_path=critical_path(program),
            found_by=found_by,
            seconds=time.perf_counter() - self.t0,
        )
        with self.lock:
            if self.best is not None and cand.rank >= self.best.rank:
                return False
            self.best = cand
            self.history.append(cand)
            if self.target is not None and cand.length <= self.target:
                self.finish("target reached")
        return True

    def best_length(self) -> int | None:
        best = self.best
        return None if best is None else best.length

    def finish(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
        self.stop.set()
        self.control.stop()


def make_evaluator(spec: str | None, game: AssemblyGame, seed: int = 0):
    """``(evaluator, description)`` for ``--checkpoint``: a path, ``untrained``,
    ``heuristic``, or None (the packaged net for this task if shipped, else heuristic).
    Raises ``ValueError`` with a clear message for a missing or unreadable checkpoint."""
    if spec is None:
        packaged = PACKAGED_CHECKPOINTS / f"{game.task.name}_{game.task.isa.name}.pt"
        if not packaged.exists():
            return HeuristicEvaluator(game), "heuristic"
        spec = str(packaged)
    if spec == "heuristic":
        return HeuristicEvaluator(game), "heuristic"
    import torch  # only when a network is asked for: importing torch costs seconds

    from alphadev.network import (
        CheckpointError,
        NetworkConfig,
        NetworkEvaluator,
        PolicyValueNet,
        load_network,
    )

    if spec == "untrained":
        with torch.random.fork_rng():  # seeded weights without touching the global RNG
            torch.manual_seed(seed)
            net = PolicyValueNet(NetworkConfig())
        return NetworkEvaluator(net, game), "untrained network"
    try:
        net = load_network(spec)
    except CheckpointError as exc:
        raise ValueError(str(exc)) from None
    return NetworkEvaluator(net, game), f"network {spec}"


def _enumerate(shared: _Shared, tail_nodes: int) -> None:
    """The enumeration engine (runs on a worker thread)."""
    task = shared.task
    control = shared.control
    core = exact.network_core(task)
    shared.offer(exact.assemble(task, core), "sorting network (enumeration, fast mode)")
    cap = tail_nodes
    while not shared.stop.is_set():
        shorter = exact.shorten_tail(task, core, control=control, max_nodes=cap)
        if shorter is not None:
            core = shorter
            shared.offer(exact.assemble(task, core), "enumeration (exact tail search)")
            continue
        # No tail at this cap: try the whole space one instruction shorter than the best
        # (exact; exhausting it proves the best optimal), then widen the caps.
        best = shared.best_length()
        limit = (best if best is not None else len(core) + 2 * task.n) - 2 * task.n - 1
        outcome = exact.find(task, limit, control=control, max_nodes=10 * cap)
        if outcome.status == "found":
            shared.offer(outcome.program, "enumeration (exact)")
            core = exact.core_of(task, outcome.program)
        elif outcome.status == "exhausted":
            shared.optimal = True
            shared.finish("proved optimal")
        cap *= 4


def _mcts(shared: _Shared, config: SearchConfig, game: AssemblyGame, evaluator) -> MCTS:
    """The MCTS engine: episodes until stopped. Returns the search (for its counters)."""
    rng = np.random.default_rng(config.seed)

    def on_state(gs: GameState) -> None:
        if gs.correct:
            shared.offer(game.program(gs), "mcts")

    mcts = MCTS(game, evaluator, MCTSConfig(), rng=rng, on_state=on_state)
    while not shared.stop.is_set():
        root = mcts.node(game.initial_state())
        mcts.bound = shared.best_length()
        if mcts.is_dead(root):
            break
        node = root
        while not shared.stop.is_set() and not node.terminal:
            mcts.bound = shared.best_length()
            mcts.run(node, config.simulations)
            shared.simulations = mcts.simulations
            if not node.expanded or not node.alive.any():
                break
            action = mcts.select_action(node, temperature=1.0)
            node = mcts.child(node, int(np.flatnonzero(node.actions == action)[0]))
        if root.exhausted:
            break  # every program the bound allows was tried
    return mcts


def run_search(
    config: SearchConfig,
    *,
    on_progress: Callable[[float, Candidate | None, int, int], None] | None = None,
) -> SearchResult:
    """Run the search. ``on_progress(seconds, best, simulations, states)`` is called a few
    times a second from the calling thread."""
    task = SortTask(config.n, config.registers, config.isa)
    game = AssemblyGame(task)
    t0 = time.perf_counter()
    shared = _Shared(task, config.target, t0)
    deadline = t0 + config.time_limit

    worker = None
    if config.method != "mcts":  # start first: it works while the network (torch) loads
        worker = threading.Thread(
            target=_enumerate, args=(shared, config.tail_nodes), name="enumeration", daemon=True
        )
        worker.start()
    evaluator, evaluator_name = (None, "none")
    if config.method != "enumerate":
        try:
            evaluator, evaluator_name = make_evaluator(config.checkpoint, game, config.seed)
        except BaseException:  # a bad checkpoint (or Ctrl-C): stop the engine already running
            shared.finish("error")
            if worker is not None:
                worker.join()
            raise

    def progress() -> None:
        if on_progress is not None:
            elapsed = time.perf_counter() - t0
            states = shared.control.nodes
            on_progress(elapsed, shared.best, shared.simulations, states)

    timer = threading.Timer(
        max(0.0, deadline - time.perf_counter()), shared.finish, args=("time limit",)
    )
    timer.daemon = True
    timer.start()
    mcts_states = 0
    try:
        if config.method == "enumerate":
            while worker.is_alive() and not shared.stop.wait(0.2):
                progress()
        else:
            stop_progress = threading.Event()

            def tick() -> None:
                while not stop_progress.wait(0.25):
                    progress()

            ticker = threading.Thread(target=tick, name="progress", daemon=True)
            ticker.start()
            try:
                mcts = _mcts(shared, config, game, evaluator)
                mcts_states = mcts.evaluations
                shared.simulations = mcts.simulations
            finally:
                stop_progress.set()
            if worker is not None:  # MCTS gave up early: let the enumeration use the time
                while worker.is_alive() and not shared.stop.wait(0.2):
                    progress()
    except KeyboardInterrupt:
        shared.finish("interrupted")
    finally:
        if not shared.stop.is_set():
            shared.finish("search space exhausted" if config.method == "mcts" else "done")
        timer.cancel()
        if worker is not None:
            worker.join()
    progress()
    seconds = time.perf_counter() - t0
    best = shared.best
    verified = verify(best.program, task) if best is not None else None
    if verified is not None and not verified.correct:
        raise AssertionError(f"search returned a program that fails verification: {verified}")
    return SearchResult(
        config=config,
        best=best,
        verified=verified,
        optimal=shared.optimal,
        stop_reason=shared.stop_reason,
        seconds=seconds,
        simulations=shared.simulations,
        mcts_states=mcts_states,
        enumeration_states=shared.control.nodes,
        evaluator=evaluator_name,
        history=list(shared.history),
    )


def kernel_header(result: SearchResult) -> dict[str, str]:
    """The ``.s`` header for a verified result."""
    best, cfg, ver = result.best, result.config, result.verified
    assert best is not None and ver is not None
    found_by = best.found_by + (", optimal in its space" if result.optimal else "")
    return {
        "task": f"sort{cfg.n}",
        "isa": get_isa(cfg.isa).name,
        "registers": str(best.program.layout.registers),
        "length": str(best.length),
        "core_length": str(best.core_length),
        "critical_path": str(best.critical_path),
        "found_by": f"alphadev search ({found_by})",
        "seed": str(cfg.seed),
        "simulations": str(result.simulations),
        "seconds": f"{best.seconds:.2f}",
        "verified": f"{ver.tie_rows} tie-pattern rows + {ver.random_rows} random int32 rows",
    }


def catalogue_best(out_dir: str | Path, n: int, isa: str) -> tuple[int, Path] | None:
    """The shortest kernel file for ``sort{n}`` and ``isa`` already in ``out_dir`` (by the
    length in its name, ``sort{n}_{isa}_{length}.s``), or None."""
    best = None
    for path in Path(out_dir).glob(f"sort{n}_{isa}_*.s"):
        length = path.stem.rsplit("_", 1)[-1]
        if length.isdigit() and (best is None or int(length) < best[0]):
            best = (int(length), path)
    return best


def write_kernel(
    result: SearchResult, out_dir: str | Path, *, force: bool = False
) -> tuple[Path | None, str]:
    """Write the verified best program to ``out_dir/sort{n}_{isa}_{length}.s`` atomically,
    unless ``out_dir`` already holds a kernel for the task at least as short (then nothing
    is written, unless ``force``). Returns ``(path written or None, what happened)``."""
    if not result.correct:
        raise ValueError("only a verified program is written")
    header = kernel_header(result)
    path = Path(out_dir) / f"{header['task']}_{header['isa']}_{header['length']}.s"
    existing = catalogue_best(out_dir, result.config.n, header["isa"])
    if existing is not None and existing[0] <= result.best.length and not force:
        return None, (
            f"not written: {existing[1]} is as short or shorter ({existing[0]}); a search only "
            "adds a strictly shorter kernel (--force to write anyway)"
        )
    write_atomic(path, asm.format(result.best.program, header=header))
    return path, f"written to {path}"
