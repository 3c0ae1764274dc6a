"""How a run's memory budget (``--memory``) is shared, and the refusal when it cannot be.

A training run holds four kinds of large data, each of which grows with the task (a sort8
position is 545,835 test rows) rather than with the run's length:

* **search trees**, one per self-play player: :func:`alphadev.mcts.tree.bytes_per_node` bytes a
  node (a sort7 node: 2.9 MB, a sort8 node: 38 MB);
* **network activations**: one forward pass over one position embeds every location of every
  test row (``rows x locations x embed_dim`` floats, twice at the peak): about 0.4 GB at sort7
  and 5.4 GB at sort8 (:func:`position_bytes`), a quarter more with the gradients of a learner
  step;
* the learner's **cache of rebuilt game states** (at most :data:`STATE_CACHE_BYTES`);
* the **replay buffer** (``--replay-capacity`` positions, their policies and programs; twice
  while a checkpoint is written).

:func:`plan_memory` shares ``--memory`` among them and the processes that hold them: with
``--workers 0`` one process plays and learns (the activations of play and of learning are never
held at once); with ``W`` workers the learner and each worker (a process, or a Ray actor) get
an equal share. From its share a player's trees get their node caps (each at most
``--tree-memory-mb``; a quarter of the share for the tree of attempts below the best
length), the network is run on as many positions at a time as fit (the MCTS's
``--mcts-batch`` leaves are evaluated in such chunks), and the learner accumulates the
gradient of its ``--batch-size`` positions over micro-batches that fit. Where even one position
or :data:`MIN_TREE_NODES` tree nodes do not fit, the config is refused up front with the
smallest ``--memory`` that would do (:class:`MemoryPlan` is then never built). The budget does
not count each process's fixed footprint (Python, numba and torch: about 0.35 GB).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MIN_TREE_NODES",
    "STATE_CACHE_BYTES",
    "MemoryPlan",
    "format_bytes",
    "plan_memory",
    "position_bytes",
    "state_bytes",
]

#: Bytes of rebuilt game states the learner caches at most (less when the budget is small).
STATE_CACHE_BYTES = 256 << 20
#: The smallest search tree a player may have (the search's own floor: a tree that fills up
#: starts afresh where it was searching, so a small one works, with less memory of the past).
MIN_TREE_NODES = 16
#: A player's tree memory is split: this fraction (1 / the number) goes to its tree of attempts
#: below its best length (:class:`~alphadev.train.self_play.SelfPlayer`), the rest to its tree.
ATTEMPT_TREE_SHARE = 4
#: Bytes a replay position takes beyond its policy and program (Python objects).
SAMPLE_OVERHEAD = 300
#: A network pass over a position this large is slow enough (sort7: 0.2 s, sort8: 10 s on one
#: core) to run on a helper thread that the deadline can leave behind
#: (:func:`alphadev.train.stopping.stoppable`).
THREADED_POSITION_BYTES = 128 << 20


def position_bytes(rows: int, locations: int, n: int, embed_dim: int, row_hidden: int) -> int:
    """Peak bytes of one network forward pass over one position (no gradients): the int64
    inputs and the ``[rows, locations, embed_dim]`` embeddings held twice while they are summed
    (measured: 365 MB at sort7 with 8 registers, 4.6 GB at sort8; this says 416 MB and 5.4 GB)."""
    per_row = locations * (8 * embed_dim + 20) + 4 * (2 * embed_dim + row_hidden) + 8 * n
    return rows * per_row


def state_bytes(rows: int, locations: int) -> int:
    """Bytes of one game state's machine arrays (values and flags over every test row)."""
    return rows * (4 * locations + 1)


def format_bytes(size: int) -> str:
    """``"1.5 GB"``, ``"416 MB"``, ``"12 KB"`` (binary units, as ``--memory`` reads them)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class MemoryPlan:
    """What each part of a run may hold (see the module docstring).

    Attributes:
        tree_nodes: node cap of each self-play search tree.
        attempt_nodes: node cap of a player's second tree, for the episodes at a target below
            the shortest program it has sorted in (0: none, they share the first).
        mcts_batch: leaves per batch of the self-play search (``--mcts-batch``, fewer when
            their states would not fit).
        eval_chunk: positions per network forward pass in self-play.
        value_chunk: positions per forward pass when an episode's positions are valued.
        learn_chunk: positions per forward and backward pass of a learner step (its batch is
            accumulated over micro-batches of this size).
        state_cache_bytes: the learner's state cache at most.
        position_bytes: one forward pass over one position (for messages).
        threaded: network passes are long (at least :data:`THREADED_POSITION_BYTES` a
            position): they run where the deadline can leave them.
    """

    tree_nodes: int
    attempt_nodes: int
    mcts_batch: int
    eval_chunk: int
    value_chunk: int
    learn_chunk: int
    state_cache_bytes: int
    position_bytes: int
    threaded: bool


@dataclass(frozen=True)
class Sizes:
    """The task- and net-dependent sizes :func:`plan_memory` works from."""

    n: int
    registers: int
    rows: int
    locations: int
    num_actions: int
    longest: int  # moves an episode may take
    embed_dim: int
    row_hidden: int


def _allocate(sizes: Sizes, budget: int, *, workers: int, mcts_batch: int, batch_size: int,
              replay_positions: int, tree_limit: int) -> MemoryPlan | str:  # fmt: skip
    """The plan for ``budget`` bytes, or what does not fit (a phrase)."""
    from alphadev.mcts.tree import bytes_per_node

    s = sizes
    forward = position_bytes(s.rows, s.locations, s.n, s.embed_dim, s.row_hidden)
    learn = forward * 5 // 4  # the gradients' saved tensors and the embedding's backward
    state = state_bytes(s.rows, s.locations)
    node = bytes_per_node(s.rows, s.locations, s.num_actions)
    replay = replay_positions * (8 * s.num_actions + 16 * s.longest + SAMPLE_OVERHEAD)
    if replay > budget // 2:
        return "replay"
    left = budget - replay
    if workers == 0:  # one process plays and learns, never both at once
        play_temps = learn_temps = left // 2
        cache = min(STATE_CACHE_BYTES, left // 8)
        tree = left - play_temps - cache
    else:  # the learner and each player get an equal share
        share = left // (workers + 1)
        learn_temps = share * 3 // 4
        cache = min(STATE_CACHE_BYTES, share // 4)
        play_temps = share // 2
        tree = share - play_temps
    # a quarter for the tree of attempts below the best length (none where it would be
    # smaller than the floor: the attempts then share the player's tree); --tree-memory-mb
    # caps each tree, but never below the smallest tree the budget allows
    attempt = min(tree // ATTEMPT_TREE_SHARE, tree_limit) // node
    if attempt < MIN_TREE_NODES:
        attempt = 0
    main = min(tree - attempt * node, tree_limit)
    nodes = max(main // node, min(MIN_TREE_NODES, tree // node))
    eval_chunk = min(mcts_batch, play_temps // (forward + state))
    learn_chunk = min(batch_size, learn_temps // learn)
    if nodes < MIN_TREE_NODES or eval_chunk < 1 or learn_chunk < 1:
        return "tables"
    batch = min(mcts_batch, (play_temps - eval_chunk * forward) // state, nodes // 2)
    return MemoryPlan(
        tree_nodes=int(nodes),
        attempt_nodes=int(attempt),
        mcts_batch=int(max(1, batch)),
        eval_chunk=int(eval_chunk),
        value_chunk=int(max(1, play_temps // (forward + state))),
        learn_chunk=int(learn_chunk),
        state_cache_bytes=int(cache),
        position_bytes=int(forward),
        threaded=forward >= THREADED_POSITION_BYTES,
    )


def plan_memory(sizes: Sizes, budget: int, *, memory_text: str, workers: int, mcts_batch: int,
                batch_size: int, replay_positions: int, tree_limit: int) -> MemoryPlan:  # fmt: skip
    """The :class:`MemoryPlan` for ``budget`` bytes; a ``ValueError`` naming the flags to change
    (and the smallest ``--memory`` that fits) when it cannot be made."""
    kwargs = dict(workers=workers, mcts_batch=mcts_batch, batch_size=batch_size,
                  replay_positions=replay_positions, tree_limit=tree_limit)  # fmt: skip
    plan = _allocate(sizes, budget, **kwargs)
    if isinstance(plan, MemoryPlan):
        return plan
    s = sizes
    if plan == "replay":
        each = 8 * s.num_actions + 16 * s.longest + SAMPLE_OVERHEAD
        raise ValueError(
            f"--replay-capacity: {replay_positions:,} sort{s.n} positions take "
            f"{format_bytes(replay_positions * each)}, more than half of --memory "
            f"{memory_text}; lower --replay-capacity or raise --memory"
        )
    need = _smallest_budget(sizes, budget, kwargs)
    forward = position_bytes(s.rows, s.locations, s.n, s.embed_dim, s.row_hidden)
    from alphadev.mcts.tree import bytes_per_node

    node = bytes_per_node(s.rows, s.locations, s.num_actions)
    others = []
    if s.registers > s.n + 1:
        others.append(f"fewer --registers (now {s.registers})")
    if workers > 0:
        others.append(f"fewer --workers (now {workers})")
    where = f"give --memory {_rounded_up(need)} or more" if need else "no --memory up to 1 TB fits"
    raise ValueError(
        f"--memory {memory_text} is too small for sort{s.n} with {s.registers} registers "
        f"({s.rows:,} test rows): one network pass over a position takes "
        f"{format_bytes(forward)} and a search-tree node {format_bytes(node)}; {where}"
        + (f", or use {' or '.join(others)}" if others else "")
    )


def _rounded_up(size: int) -> str:
    """``size`` as a ``--memory`` value at least as large: ``"5.5GB"``, ``"640MB"``."""
    if size >= 1 << 30:
        return f"{-(-size * 10 // (1 << 30)) / 10:g}GB"
    return f"{-(-size // (1 << 20))}MB"


def _smallest_budget(sizes: Sizes, budget: int, kwargs: dict) -> int | None:
    """The smallest budget (to 64 MB) that :func:`_allocate` accepts; None past 1 TB."""
    step = 64 << 20
    low, high = budget, max(budget, step) * 2
    while not isinstance(_allocate(sizes, high, **kwargs), MemoryPlan):
        low, high = high, high * 2
        if high > 1 << 40:
            return None
    while high - low > step:
        middle = (low + high) // 2
        if isinstance(_allocate(sizes, middle, **kwargs), MemoryPlan):
            high = middle
        else:
            low = middle
    return -(-high // step) * step
