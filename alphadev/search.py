"""Discover, verify and save a sorting kernel: what ``alphadev search`` runs.

The engines share one best-so-far (:class:`alphadev.race.Race`) in two lanes, one per core:

* **the exact lane** (a worker thread; the numba kernels release the GIL): constructed seeds
  (the lowered sorting network, the insertion composition), the comparator search
  (:mod:`alphadev.exact.comparators`: compare-exchange moves with their cheapest lowerings),
  then for n <= :data:`EXACT_MAX_N` exact tail searches (:func:`alphadev.exact.shorten_tail`)
  and the exact descent ("is there a core one instruction shorter?") until the answer is no:
  the best is then optimal in the enumeration space (:class:`alphadev.exact.Space`);
* **the second lane** (another worker thread): for ISAs with ``min``/``max``, the best-first
  beam over row-set states (:mod:`alphadev.exact.best_first`, counterexample-guided rows),
  then, for n <= :data:`MCTS_MAX_N`, MCTS episodes of the assembly game with the evaluator chosen by
  ``checkpoint`` (a trained network, a fresh one, or the heuristic), branch-and-bound against
  the best length known to any engine.

On a first run (numba's cache empty) a helper process (:mod:`alphadev.precompile`) compiles
the kernels the lanes reach later while this process compiles the ones they need first; each
lane waits for its group before its first use of it.

``method`` picks ``auto`` (both lanes) or one engine alone: ``exact`` (the whole exact lane),
``comparators`` (the comparator search from scratch), ``best-first``, ``mcts``.
The search stops at the time limit, when the best length reaches ``target``, or when the exact
descent proves the best optimal. The lanes run on worker threads and the calling thread only
watches the clock (:func:`alphadev.race.watch`): every engine polls the stop signal, and a
lane that has not stopped :data:`~alphadev.race.STOP_GRACE` seconds after it was told to (a
numba kernel compiling on a first run) is left behind, so :func:`run_search` returns within
about the time limit plus that grace. A ``KeyboardInterrupt`` on the calling thread stops the
search the same way (``stop_reason`` ``"interrupted"``), keeping the best found so far. The
winner (shortest, then lowest critical path) is verified with :func:`alphadev.tasks.verify`
(all tie patterns plus random int32 rows) before anything is written; ``found_by`` names the
engine (and marks constructed seeds as such), ``optimal`` says whether anything was proved.
The lanes are this module's; the race they run in, and the clock, are :mod:`alphadev.race`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphadev import asm, exact
from alphadev.exact import best_first, comparators
from alphadev.game import AssemblyGame, GameState
from alphadev.interrupts import on_sigint
from alphadev.isa import ActionSpace, Layout, Op, Program, get_isa
from alphadev.mcts import MCTS, HeuristicEvaluator, MCTSConfig
from alphadev.mcts import tree as mcts_tree
from alphadev.move_table import MOVE_KINDS, move_table
from alphadev.options import check_range, check_seconds, option, parse_bytes
from alphadev.pareto import OBJECTIVES
from alphadev.precompile import Precompiler
from alphadev.progress import plural
from alphadev.race import Candidate, Race, SearchResult, start_lane, stop_lanes, watch
from alphadev.tasks import SortTask, verify

__all__ = [  # Candidate and SearchResult (what run_search returns) are alphadev.race's
    "METHODS",
    "Candidate",
    "SearchConfig",
    "SearchResult",
    "comparator_lane",
    "make_evaluator",
    "other_lanes",
    "packaged_checkpoint",
    "run_search",
    "table_bits",
]

METHODS = ("auto", "exact", "comparators", "best-first", "mcts")
#: Above this n the exact lane skips its tail searches and descent (too many rows per state).
EXACT_MAX_N = 6
#: Above this n ``auto`` runs no MCTS (a game state holds every row: sort6 has 4,683).
MCTS_MAX_N = 5
PACKAGED_CHECKPOINTS = Path(__file__).parent / "checkpoints"
#: MCTS simulations run between two looks at the stop signal (fewer for large tasks: at most
#: :data:`MCTS_CHUNK_ROWS` test rows times simulations).
MCTS_CHUNK = 256
MCTS_CHUNK_ROWS = 1 << 16
#: Up to this n a speed objective runs the comparator beam a second time, ranked by the cost
#: model (sort6: about 15 s); beyond, the trade-off set holds what the length beam finished.
SPEED_BEAM_MAX_N = 6
#: From this n on, the exact lane first lowers the optimal-size sorting network with its
#: comparators in the order the beam finds cheapest (sort8 cmov: 90 in about 20 s), before the
#: comparator search, which at n = 8 spends minutes proving comparator prefixes.
ANY_ORDER_MIN_N = 7
#: Finished kernels of a comparator beam scored for the trade-off set.
SPEED_VARIANTS = 64
#: Registers the best-first beam takes at most.
BEST_FIRST_MAX_REGISTERS = 10


#: Sort sizes the search accepts.
MAX_N = 8
#: Most instructions ``--max-length`` allows an MCTS episode.
MAX_EPISODE_LENGTH = 200
#: Registers at most (the exported C maps each to a machine register).
MAX_REGISTERS = asm.MAX_REGISTERS  # alphadev.isa.MAX_REGISTERS: the one limit


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """What to search for and for how long (keyword-only; the fields with help are the flags
    of ``alphadev search``, with these defaults).

    ``tail_nodes`` caps each exact tail search (states).
    """

    n: int = option(3, help=f"sort size, 2..{MAX_N}")
    isa: str = option("cmov", help="cmov, minmax, full, or a comma list of opcodes")
    registers: int | None = option(None, help="register count (default n+1)", metavar="K")
    method: str = option(
        "auto",
        choices=METHODS,
        help="auto: the engines race on one best-so-far; or one engine alone",
    )
    simulations: int = option(64, help="MCTS simulations per move")
    moves: str = option(
        "instructions",
        choices=MOVE_KINDS,
        help="the MCTS's moves: instructions (one each), macro (loads, stores and "
        "compare-exchanges of two registers, 3 or 4 instructions each), or both",
    )
    max_length: int | None = option(
        None,
        help="the most instructions one MCTS episode may hold until a first kernel bounds it "
        "(default: the lowered sorting network + 2, 48 for sort5; compare-exchange moves "
        "leave that no room for a wasted move)",
        metavar="LENGTH",
    )
    gumbel: bool = option(
        False,
        help="the MCTS picks each move with a Gumbel root (sequential halving over the "
        "likeliest moves) instead of sampling the visit counts",
    )
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
        metavar="PATH",
        help="MCTS evaluator: a checkpoint PATH, 'untrained' (the net `alphadev train` starts "
        "from) or 'heuristic' (default: the packaged net for this task if shipped, else "
        "heuristic)",
    )
    target: int | None = option(
        None, help="stop once the best length is at most this", metavar="LENGTH"
    )
    guide: str = option(
        "hand",
        help="how the comparator search ranks each level: hand (instruction count so far), "
        "learned (count plus the packaged learned cost-to-go's estimate of the instructions "
        "still needed), or a cost-to-go checkpoint PATH from `alphadev learn-guide`",
        metavar="hand|learned|PATH",
    )
    memory: str = option(
        "2GB",
        help="memory budget of the search's tables: half for the MCTS tree, a quarter for the "
        "best-first frontier, 1/16 for the exact engines' transposition table (the rest is "
        "the process itself); a full table degrades (the tree starts afresh, the beam stops) "
        "and the summary says so",
        metavar="SIZE",
    )
    objective: str = option(
        "latency",
        choices=OBJECTIVES,
        help="what 'best' means for the kernel it hands you: length (fewest instructions), or "
        "predicted and measured speed, throughput (independent calls in flight) or latency "
        "(each call on the previous call's output); the search always also keeps the shortest",
    )
    no_native: bool = option(
        False,
        help="pick the fastest by the cost model alone (default: with gcc installed, the best "
        "few candidates and the lowered network are timed natively and the fastest is kept)",
    )
    tail_nodes: int = 2_000_000

    @property
    def memory_bytes(self) -> int:
        return parse_bytes("memory", self.memory)

    def __post_init__(self) -> None:
        check_range("n", self.n, 2, MAX_N)
        isa = get_isa(self.isa)
        if not isa.can_sort:
            raise ValueError(f"--isa {self.isa}: needs min and max, or cmp and a cmov, to sort")
        registers = self.registers if self.registers is not None else self.n + 1
        check_range("registers", registers, self.n + 1, MAX_REGISTERS)
        check_seconds("time_limit", self.time_limit)
        check_range("simulations", self.simulations, 1, 1_000_000)
        move_table(ActionSpace(Layout(self.n, registers), isa), self.moves)  # validates them
        check_range("target", self.target, 1)
        check_range("max_length", self.max_length, 2 * self.n, MAX_EPISODE_LENGTH)
        check_range("seed", self.seed, 0, 2**63 - 1)
        parse_bytes("memory", self.memory, 16 << 20, 1 << 40)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}: expected one of {OBJECTIVES}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: expected one of {METHODS}")
        if self.method == "best-first" and registers > BEST_FIRST_MAX_REGISTERS:
            raise ValueError(
                f"--registers: the best-first beam takes at most {BEST_FIRST_MAX_REGISTERS} "
                f"registers, got {registers}"
            )


def make_guide(spec: str, task: SortTask):
    """The comparator search's :class:`~alphadev.exact.comparators.Guide` for ``--guide``:
    None for ``hand``; the packaged cost-to-go for ``learned``; else the checkpoint at the
    path ``spec``. ``ValueError`` with one clear line for a checkpoint that cannot serve."""
    if spec == "hand":
        return None
    from alphadev.cost_to_go import PACKAGED_GUIDE, LearnedGuide, load_guide
    from alphadev.network import CheckpointError

    try:
        net, _ = load_guide(PACKAGED_GUIDE if spec == "learned" else spec)
    except CheckpointError as exc:
        raise ValueError(f"--guide: {exc}") from None
    return LearnedGuide(net, task)


def _comparator_label(shared: Race) -> str:
    return "comparator search" + (" guided by a learned cost-to-go" if shared.guide else "")


def packaged_checkpoint(game: AssemblyGame) -> Path:
    """Where the package's net for the game's task, ISA and moves would be:
    ``sort3_cmov.pt`` for instruction moves, ``sort4_cmov_macro.pt`` for ``--moves macro``."""
    moves = "" if game.move_kind == "instructions" else f"_{game.move_kind}"
    return PACKAGED_CHECKPOINTS / f"{game.task.name}_{game.task.isa.name}{moves}.pt"


def make_evaluator(spec: str | None, game: AssemblyGame, seed: int = 0):
    """``(evaluator, description)`` for ``--checkpoint``: a path, ``untrained``,
    ``heuristic``, or None (the packaged net for this task and move set if shipped, else
    heuristic: :func:`packaged_checkpoint`). Raises ``ValueError`` with a clear message for a
    missing or unreadable checkpoint, one with non-finite weights, or one whose net cannot take
    the task's layout (the packaged net is then replaced by the heuristic instead, and the
    description says why)."""
    if spec is None:
        packaged = packaged_checkpoint(game)
        if not packaged.exists():
            return HeuristicEvaluator(game), "heuristic"
        try:
            return make_evaluator(str(packaged), game, seed)
        except ValueError as exc:
            return HeuristicEvaluator(game), f"heuristic (the packaged net does not fit: {exc})"
    if spec == "heuristic":
        return HeuristicEvaluator(game), "heuristic"
    import torch  # only when a network is asked for: importing torch costs seconds

    from alphadev.network import (
        CheckpointError,
        NetworkConfig,
        NetworkEvaluator,
        PolicyValueNet,
        load_network,
        location_ids,
    )

    if spec == "untrained":
        with torch.random.fork_rng():  # seeded weights without touching the global RNG
            torch.manual_seed(seed)
            # as training starts (the positions sized to the episodes, as train does)
            net = PolicyValueNet(NetworkConfig(phi_weight=1.0,
                                               max_length=max(64, game.max_length)))  # fmt: skip
        location_ids(game, net.config)  # ValueError where the net cannot take the layout
        return NetworkEvaluator(net, game), "untrained network"
    try:
        net = load_network(spec)
    except CheckpointError as exc:
        raise ValueError(str(exc)) from None
    if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        raise ValueError(f"checkpoint {spec}: its weights hold NaN or infinite values")
    location_ids(game, net.config)
    if game.max_length > net.config.max_length:
        raise ValueError(
            f"checkpoint {spec}: its net reads programs of at most {net.config.max_length} "
            f"instructions, and this search's episodes may hold {game.max_length} "
            "(--max-length)"
        )
    return NetworkEvaluator(net, game), f"network {spec}"


def _exact_lane(shared: Race, config: SearchConfig) -> None:
    """The exact lane (a worker thread; the numba kernels release the GIL), in phases:

    1. constructed seeds: the lowered sorting network and, where it lowers shorter, the
       insertion composition (sort n-1, then insert the last value); from n =
       :data:`ANY_ORDER_MIN_N` on, the network lowered with its comparators in the cheapest
       order the beam finds (:func:`alphadev.exact.comparators.lower_network_any_order`);
    2. the comparator search (compare-exchange moves with their cheapest lowerings; not a
       proof);
    3. for n <= :data:`EXACT_MAX_N`: exact tail searches, then the exact descent ("is there a
       core one instruction shorter?") until it is exhausted, which proves the best optimal
       in the enumeration space.
    """
    task = shared.task
    control = shared.control
    core = exact.network_core(task)
    shared.offer(exact.assemble(task, core), "sorting network (constructed)")
    if shared.stop.is_set():
        return
    seed = comparators.lower_network(task, comparators.insertion_network(task.n), control=control)
    if seed.core is not None:
        shared.offer(exact.assemble(task, seed.core), "insertion composition (constructed)")
    if shared.stop.is_set():
        return
    if task.n >= ANY_ORDER_MIN_N:  # where the comparator search is slow to finish
        _any_order_seeds(shared, config)
        if shared.stop.is_set():
            return
    comparator_lane(shared, config)
    if task.n > EXACT_MAX_N:
        return
    shared.precompiler.wait("descent", shared.stop)
    best = shared.best
    core = exact.core_of(task, best.program) if best is not None else core
    cap = config.tail_nodes
    while not shared.stop.is_set():
        shorter = exact.shorten_tail(task, core, control=control, max_nodes=cap)
        if shorter is not None:
            core = shorter
            shared.offer(exact.assemble(task, core), "exact tail search")
            continue
        # No tail at this cap: try the whole space one instruction shorter than the best
        # (exact; exhausting it proves the best optimal), then widen the caps.
        best_length = shared.best_length()
        limit = best_length if best_length is not None else len(core) + 2 * task.n
        outcome = exact.find(task, limit - 2 * task.n - 1, control=control, max_nodes=10 * cap,
                             table_bits=table_bits(config.memory_bytes // 16))  # fmt: skip
        if outcome.status == "found":
            shared.offer(outcome.program, "exact descent")
            core = exact.core_of(task, outcome.program)
        elif outcome.status == "exhausted":
            shared.optimal = True
            shared.finish("proved optimal")
        cap *= 4


def _any_order_seeds(shared: Race, config: SearchConfig) -> None:
    """The optimal-size sorting network lowered with its comparators in the cheapest order a
    beam finds, ranked by length (the shortest enters the race), then, with a speed
    objective, ranked by the cost model (its kernels enter the trade-off set): sort8 cmov 90
    either way; the second gave the catalogue's sort8 fast files (see
    benchmarks/results/native.md)."""
    task, network = shared.task, exact.sorting_network(shared.task.n)
    for objective in ("length",) if config.objective == "length" else ("length", config.objective):
        if shared.stop.is_set():
            return
        found = comparators.lower_network_any_order(task, network, control=shared.control,
                                                    seed=config.seed, variants=4,
                                                    objective=objective)  # fmt: skip
        label = "sorting network lowered in the best comparator order"
        if objective != "length":
            label += f" ranked by predicted {objective}"
        if found.core is not None and objective == "length":
            shared.offer(exact.assemble(task, found.core), label + " (not a proof)")
        for core in found.variants:
            shared.consider(exact.assemble(task, core), label + " (not a proof)")


def comparator_lane(shared: Race, config: SearchConfig) -> None:
    """The comparator search from scratch (no constructed seed): anytime, never a proof. Its
    other finished kernels enter the trade-off set; with a speed objective (n <=
    :data:`SPEED_BEAM_MAX_N`) a second beam ranked by the cost model follows."""
    task = shared.task
    variants = SPEED_VARIANTS if task.n <= SPEED_BEAM_MAX_N else 4
    found = comparators.comparator_search(task, control=shared.control, seed=config.seed,
                                          variants=variants, guide=shared.guide)  # fmt: skip
    label = _comparator_label(shared) + " (not a proof)"
    if found.core is not None:
        shared.offer(exact.assemble(task, found.core), label)
    for core in found.variants:
        shared.consider(exact.assemble(task, core), label)
    if config.objective == "length" or task.n > SPEED_BEAM_MAX_N or shared.stop.is_set():
        return
    shared.precompiler.wait("cost", shared.stop)
    shared.score_unscored()
    fast = comparators.comparator_search(task, control=shared.control, seed=config.seed,
                                         variants=variants, objective=config.objective)  # fmt: skip
    label = f"comparator search ranked by predicted {config.objective} (not a proof)"
    for core in fast.variants:
        shared.offer(exact.assemble(task, core), label)


def _best_first_lane(shared: Race, config: SearchConfig) -> None:
    """The best-first beam over row-set states (on the permutations, adding counterexample
    rows until a candidate verifies): anytime, never a proof."""
    shared.precompiler.wait("best_first", shared.stop)
    if shared.stop.is_set():
        return
    found = best_first.with_counterexamples(
        shared.task, control=shared.control, seed=config.seed,
        memory_bytes=config.memory_bytes // 4,
    )  # fmt: skip
    if found.capped:
        shared.capped.append("best-first: its frontier filled a quarter of --memory; it stopped")
    if found.core is not None:
        shared.offer(exact.assemble(shared.task, found.core), "best-first beam (not a proof)")


def _mcts(shared: Race, config: SearchConfig, game: AssemblyGame, evaluator) -> MCTS:
    """The MCTS engine: episodes until stopped, pruned by the best length known. Returns the
    search (for its counters). The simulations of a move run in chunks of at most
    :data:`MCTS_CHUNK`, with a look at the stop signal between two."""
    rng = np.random.default_rng(config.seed)
    chunk = max(1, min(MCTS_CHUNK, MCTS_CHUNK_ROWS // game.task.num_rows))

    def on_correct(gs: GameState) -> None:
        shared.offer(game.program(gs), "mcts")

    tree_config = _mcts_config(game, config.memory_bytes // 2)
    mcts = MCTS(game, evaluator, tree_config, rng=rng, on_correct=on_correct, prune=True)
    while not shared.stop.is_set():
        root = mcts.root(game.initial_state())
        mcts.bound = shared.best_length()
        if mcts.is_dead(root):
            break  # every program the bound allows was tried
        node = root
        while not shared.stop.is_set() and not mcts.is_terminal(node):
            mcts.bound = shared.best_length()
            done = 0
            while not config.gumbel and done < config.simulations and not shared.stop.is_set():
                before = mcts.simulations
                node = mcts.run(node, min(chunk, config.simulations - done))
                done += chunk
                shared.simulations = mcts.simulations
                shared.mcts_states = mcts.evaluations
                if mcts.simulations == before or mcts.is_dead(node) or mcts.is_terminal(node):
                    break
            if config.gumbel:
                mcts.ensure_expanded(node)
            if shared.stop.is_set() or mcts.is_dead(node) or not mcts.is_expanded(node):
                break
            if config.gumbel:
                action, _, node = mcts.gumbel_search(node, config.simulations)
                shared.simulations = mcts.simulations
            else:
                action = mcts.select_action(node, temperature=1.0)
            node = mcts.child(node, action)
    return mcts


def _has_min_max(task: SortTask) -> bool:
    return {Op.MIN, Op.MAX} <= task.isa.ops


def table_bits(memory_bytes: int) -> int:
    """log2 of the exact descent's transposition-table slots (10 bytes each) within
    ``memory_bytes``, at most 22 (40 MB). The table is lossy: a smaller one costs time, never
    soundness."""
    return max(10, min(22, (memory_bytes // 10).bit_length() - 1))


def _mcts_config(game: AssemblyGame, memory_bytes: int) -> MCTSConfig:
    """MCTS hyperparameters with the tree sized to ``memory_bytes`` (each node holds its
    machine state over every test row and a row of statistics per action: sort8's take 38 MB,
    so its tree has a few dozen nodes)."""
    rows, locations = game.task.initial_state.shape
    per_node = mcts_tree.bytes_per_node(rows, locations, game.num_actions)
    return MCTSConfig(max_nodes=max(16, min(400_000, memory_bytes // per_node)))


def _runs_mcts(config: SearchConfig) -> bool:
    return config.method == "mcts" or (config.method == "auto" and config.n <= MCTS_MAX_N)


def other_lanes(shared: Race, config: SearchConfig, game: AssemblyGame, evaluator) -> None:
    """Everything but the exact lane, one engine after the other (the second lane);
    ``evaluator``: the MCTS's, when already made (else made here)."""
    method, task = config.method, shared.task
    if method == "comparators":
        comparator_lane(shared, config)
    wide = task.registers > BEST_FIRST_MAX_REGISTERS
    if method == "best-first" or (method == "auto" and _has_min_max(task) and not wide):
        _best_first_lane(shared, config)  # the beam shines where min/max exist
    if _runs_mcts(config):
        shared.precompiler.wait("mcts", shared.stop)
        if shared.stop.is_set() and shared.simulations == 0:
            shared.evaluator = "the MCTS had not started when the search ended"
        if evaluator is None and not shared.stop.is_set():
            shared.doing["engines"] = "loading the MCTS's network (torch)"
            evaluator, shared.evaluator = make_evaluator(config.checkpoint, game, config.seed)
            shared.doing.pop("engines", None)
        if not shared.stop.is_set():
            mcts = _mcts(shared, config, game, evaluator)
            shared.mcts_states = mcts.evaluations
            shared.simulations = mcts.simulations
            if mcts.resets:
                shared.capped.append(f"mcts: its tree filled half of --memory "
                                     f"({mcts.tree.state.shape[0]:,} nodes) and started afresh "
                                     f"{plural(mcts.resets, 'time')}")  # fmt: skip
        if method == "mcts":
            shared.finish("search space exhausted")


def _precompile_groups(config: SearchConfig, task: SortTask) -> list[str]:
    """The kernel groups (:data:`alphadev.precompile.GROUPS`) the lanes of ``config`` reach
    after their start, in the order they reach them: a helper compiles these while this
    process compiles the emulator and the comparator search."""
    method = config.method
    groups = ["cost"]
    if method in ("auto", "exact") and task.n <= EXACT_MAX_N:
        groups.append("descent")
    wide = task.registers > BEST_FIRST_MAX_REGISTERS
    if method == "best-first" or (method == "auto" and _has_min_max(task) and not wide):
        groups.append("best_first")
    if _runs_mcts(config):
        groups.append("mcts")
    return groups


def run_search(
    config: SearchConfig,
    *,
    on_progress: Callable[[float, Candidate | None, int, int], None] | None = None,
) -> SearchResult:
    """Run the search. ``on_progress(seconds, best, simulations, states)`` is called a few
    times a second from the calling thread.

    Lanes by ``config.method``: ``exact`` (constructed seeds, the comparator search, exact
    tail searches and the exact descent), ``best-first`` (the row-set beam), ``comparators``
    (the comparator search alone, from scratch), ``mcts`` (episodes of the game with the
    evaluator), and ``auto``: the exact lane beside a second lane running the best-first beam
    (ISAs with min/max) and then, for n <= :data:`MCTS_MAX_N`, the MCTS (two cores, one
    best-so-far). Each lane is a worker thread; the calling thread stops them at the time
    limit (or on ``KeyboardInterrupt``) and waits at most :data:`~alphadev.race.STOP_GRACE`
    seconds in all for them.
    An exception raised in a lane (a bad checkpoint: ``ValueError``) is raised here."""
    t0 = time.perf_counter()
    task = SortTask(config.n, config.registers, config.isa)
    shared = Race(task, config.target, t0)
    # On a first run a helper process compiles what the lanes need later (alphadev.precompile)
    # while this one compiles the emulator and the comparator search.
    shared.precompiler = Precompiler(_precompile_groups(config, task), isa=config.isa)
    try:
        result = _run_lanes(config, shared, on_progress)
    except BaseException:
        shared.precompiler.close()
        raise
    # A search that ended on its own lets the helper finish (at low priority, after this
    # process) the groups it had not compiled yet: the next run then has every lane at once.
    result.compiling_after = shared.precompiler.close(finish=result.stop_reason != "interrupted")
    return result


def _run_lanes(
    config: SearchConfig,
    shared: Race,
    on_progress: Callable[[float, Candidate | None, int, int], None] | None,
) -> SearchResult:
    """The body of :func:`run_search`: start the lanes, watch the clock, stop them, verify."""
    t0, task = shared.t0, shared.task
    deadline = t0 + config.time_limit
    game = AssemblyGame(task, moves=config.moves, max_length=config.max_length)
    # Load (on a first run: compile) the emulator that assembling and verifying a kernel use,
    # here, before a lane can hold numba's compiler lock for as long as a compilation takes.
    verify(Program(task.layout, ()), task, random_rows=3)
    method = config.method
    evaluator = None
    if _runs_mcts(config) and config.checkpoint not in (None, "heuristic"):
        # A named network is loaded before any lane starts: a checkpoint that cannot serve
        # this task stops the command before a kernel is found, never after.
        evaluator, shared.evaluator = make_evaluator(config.checkpoint, game, config.seed)
    if config.method in (
        "auto",
        "exact",
        "comparators",
    ):  # the lanes that run the comparator search
        shared.guide = make_guide(config.guide, task)

    lanes = []
    if method in ("auto", "exact"):  # first: it works while the network (torch) loads
        lanes.append(start_lane(shared, "exact", lambda: _exact_lane(shared, config)))
    if method != "exact":
        lanes.append(
            start_lane(shared, "engines", lambda: other_lanes(shared, config, game, evaluator))
        )

    def progress() -> None:
        if on_progress is not None:
            elapsed = time.perf_counter() - t0
            on_progress(elapsed, shared.best, shared.simulations, shared.control.nodes)

    interrupts: list[float] = []

    def interrupt() -> None:  # Ctrl-C: stop the search, keep (verify, return) what it found
        interrupts.append(time.perf_counter())
        shared.finish("interrupted")

    with on_sigint(interrupt):  # from here on a Ctrl-C never raises: nothing found is lost
        try:
            watch(shared, deadline, lanes=lanes, on_tick=progress)
        except KeyboardInterrupt:  # off the main thread's handler (SIGINT not ours)
            interrupt()
        finally:
            left_behind = stop_lanes(shared, lanes)
        doing = tuple(shared.doing.get(name, "") for name in left_behind)
        if shared.errors:
            raise shared.errors[0]
        progress()
        result = shared.result(config, time.perf_counter() - t0, left_behind=left_behind,
                               left_behind_doing=doing)  # fmt: skip
    if interrupts:  # also a Ctrl-C that came while the result was verified or timed
        result.stop_reason = "interrupted"
    return result
