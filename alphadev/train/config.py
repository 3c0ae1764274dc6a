"""Every hyperparameter of a training run, in one dataclass that is also the command line.

Each field declared with :func:`~alphadev.options.option` is a flag of ``alphadev train`` with
its default and help; ``__post_init__`` validates them (a ``ValueError`` naming the flag), so
the library and the command line refuse the same values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from alphadev.game import default_max_length
from alphadev.isa import MAX_REGISTERS
from alphadev.move_table import MOVE_KINDS, move_table
from alphadev.network import NetworkConfig
from alphadev.options import check_range, check_seconds, option, parse_bytes
from alphadev.tasks import SortTask
from alphadev.train.memory import MemoryPlan, Sizes, plan_memory

__all__ = ["MAX_SEED", "MAX_WORKERS", "TrainConfig"]

#: Self-play processes at most (each is a whole Python process with its own torch).
MAX_WORKERS = 64
#: The largest seed (the search's; the seeds of workers and actors derived from it stay within
#: what numpy and torch accept).
MAX_SEED = 2**63 - 1
#: ``--memory`` at least and at most.
MIN_MEMORY, MAX_MEMORY = 64 << 20, 1 << 40


def _default_workers() -> int:
    return max((os.cpu_count() or 1) - 1, 0)


@dataclass(kw_only=True)
class TrainConfig:
    """Every hyperparameter of a run (keyword-only; defaults are the command line's)."""

    n: int = option(3, help="sort size, 2..8")
    isa: str = option("cmov", help="cmov, minmax, full, or a comma list of opcodes")
    registers: int | None = option(None, help="register count (default n+1)", metavar="K")
    moves: str = option(
        "instructions",
        choices=MOVE_KINDS,
        help="the agent's moves: instructions (one each), macro (loads, stores and "
        "compare-exchanges of two registers, 3 or 4 instructions each), or both",
    )
    steps: int = option(20_000, help="learner steps in total (a resumed run continues to this)")
    time_limit: float | None = option(None, help="seconds for this invocation (default: none)")
    target: int | None = option(
        None,
        metavar="LENGTH",
        help="stop once self-play has found a verified kernel of at most this length",
    )
    workers: int = option(
        help="self-play processes (default: cores - 1; 0 = in-process and reproducible)",
        factory=_default_workers,
    )
    ray: str | None = option(
        None,
        const="local",
        metavar="ADDRESS",
        help="play on Ray: --ray alone starts a local Ray, --ray HOST:PORT joins a cluster "
        "(ray start --head); --workers actors, one CPU each (the ray extra)",
    )
    simulations: int = option(64, help="MCTS simulations per move")
    mcts_batch: int = option(16, help="leaves per network call in the search (virtual loss)")
    phi_weight: float = option(
        1.0,
        help="potential-based shaping: the search adds this times the progress potential to "
        "the value head, which learns the residual (0: the value head learns the return)",
    )
    value_weight: float = option(
        1.0,
        help="the search values a leaf as potential + this times the value head (0: the net "
        "guides the search by its policy only; the value head is still trained and logged)",
    )
    curriculum_slack: int = option(
        10,
        help="episodes must first finish within the game's default max_length + this; the "
        "target then drops below the recent correct lengths each time they are mostly correct",
    )
    curriculum_window: int = option(50, help="episodes at a target length before it changes")
    curriculum_threshold: float = option(
        0.5, help="share of correct episodes in the window that shortens the target"
    )
    tree_episodes: int = option(
        1000, help="episodes a self-play search tree is kept for before it starts afresh"
    )
    tree_memory_mb: int = option(
        256,
        help="MB a self-play search tree may hold at most (less where --memory is short; "
        "never fewer than 16 nodes); a player's tree of attempts below its best length gets a "
        "quarter of its tree memory, the same cap",
    )
    memory: str = option(
        "2GB",
        metavar="SIZE",
        help="memory budget of the run's search trees, network activations, state cache and "
        "replay, all processes together (each process's Python and torch not counted): the "
        "tree's node cap, the network's chunks and the learner's micro-batches follow from "
        "it, and a task whose tables cannot fit is refused up front",
    )
    gumbel: bool = option(
        False,
        help="choose self-play moves with the Gumbel root (sequential halving) and train on "
        "its completed-Q improved policy instead of the visit counts",
    )
    batch_size: int = option(64, help="positions per learner step")
    lr: float = option(1e-3, help="Adam learning rate")
    weight_decay: float = option(1e-4, help="Adam weight decay")
    seed: int = option(0, help=f"seed of every random choice of the run (0..{MAX_SEED})")
    replay_capacity: int = option(50_000, help="positions the replay buffer keeps (newest)")
    min_replay: int = option(256, help="positions before the first learner step")
    episodes_per_step: float = option(
        0.25, help="self-play episodes per learner step (the data ratio)"
    )
    publish_every: int = option(10, help="learner steps between weight broadcasts to workers")
    checkpoint_every: int = option(100, help="learner steps between checkpoints")
    log_every: int = option(10, help="learner steps between metrics rows")
    n_step: int = option(8, help="steps of the correctness-value return before bootstrapping")
    temperature_moves: int = option(6, help="moves sampled from the visit counts, then greedy")
    demonstrations: int = option(
        0,
        help="shortest programs from the exact enumeration to imitate (0: pure self-play; "
        "a run with demonstrations does not count as the agent learning alone)",
    )
    demo_fraction: float = option(0.25, help="share of each batch drawn from demonstrations")
    network: dict = field(default_factory=lambda: NetworkConfig().to_dict())

    def __post_init__(self) -> None:
        check_range("n", self.n, 2, 8)
        check_range("registers", self.registers, self.n + 1, MAX_REGISTERS)
        task = SortTask(self.n, self.registers, self.isa)  # validates the ISA
        if not task.isa.can_sort:
            raise ValueError(f"--isa {self.isa}: needs min and max, or cmp and a cmov, to sort")
        moves = move_table(task.action_space, self.moves)  # validates the move set
        if self.demonstrations and self.moves != "instructions":
            raise ValueError("--demonstrations needs --moves instructions (the demonstrations "
                             "are instruction programs)")  # fmt: skip
        check_range("steps", self.steps, 0)
        check_seconds("time_limit", self.time_limit)
        check_range("target", self.target, 1)
        check_range("workers", self.workers, 0, MAX_WORKERS)
        if self.ray is not None and self.workers < 1:
            raise ValueError("--ray needs --workers 1 or more (the self-play actors)")
        check_range("simulations", self.simulations, 1, 100_000)
        check_range("mcts_batch", self.mcts_batch, 1, 1024)
        check_range("phi_weight", self.phi_weight, 0.0, 10.0)
        check_range("value_weight", self.value_weight, 0.0, 10.0)
        check_range("curriculum_slack", self.curriculum_slack, 0, 40)
        check_range("curriculum_window", self.curriculum_window, 1, 100_000)
        check_range("curriculum_threshold", self.curriculum_threshold, 0.0, 1.0)
        check_range("tree_episodes", self.tree_episodes, 1, 1_000_000)
        check_range("tree_memory_mb", self.tree_memory_mb, 1, 1_000_000)
        check_range("batch_size", self.batch_size, 1, 65_536)
        check_range("lr", self.lr, 1e-12, 10.0)
        check_range("seed", self.seed, 0, MAX_SEED)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_range("replay_capacity", self.replay_capacity, 1, 10_000_000)
        check_range("min_replay", self.min_replay, 0, self.replay_capacity)
        check_range("episodes_per_step", self.episodes_per_step, 1e-6, 1000.0)
        for name in ("publish_every", "checkpoint_every", "log_every", "n_step"):
            check_range(name, getattr(self, name), 1)
        check_range("temperature_moves", self.temperature_moves, 0)
        check_range("demonstrations", self.demonstrations, 0, 10_000)
        check_range("demo_fraction", self.demo_fraction, 0.0, 1.0)
        self.network = _network_dict(self.network, self, task)
        budget = parse_bytes("memory", self.memory, MIN_MEMORY, MAX_MEMORY)
        rows, locations = task.initial_state.shape
        sizes = Sizes(n=self.n, registers=task.registers, rows=rows, locations=locations,
                      num_actions=len(moves), longest=self.longest,
                      embed_dim=self.network["embed_dim"],
                      row_hidden=self.network["row_hidden"])  # fmt: skip
        self._plan = plan_memory(
            sizes, budget, memory_text=str(self.memory), workers=self.workers,
            mcts_batch=self.mcts_batch, batch_size=self.batch_size,
            replay_positions=self.replay_capacity + self.demonstrations * self.longest,
            tree_limit=self.tree_memory_mb << 20,
        )  # fmt: skip

    @property
    def longest(self) -> int:
        """Moves an episode may take: the game's default ``max_length`` plus the slack."""
        return default_max_length(self.n) + self.curriculum_slack

    @property
    def plan(self) -> MemoryPlan:
        """How ``--memory`` is shared (:func:`alphadev.train.memory.plan_memory`)."""
        return self._plan


#: Network sizes that must be positive whole numbers.
_NETWORK_SIZES = ("embed_dim", "program_layers", "heads", "row_hidden", "trunk_hidden",
                  "max_length", "max_memory", "max_registers", "max_value")  # fmt: skip


def _network_dict(network: object, config: TrainConfig, task: SortTask) -> dict:
    """The run's network sizes, checked (a ``ValueError`` that says what is wrong) and with
    ``max_length`` raised to the longest episode (sort6 and up play past the default 64)."""
    if not isinstance(network, dict):
        raise ValueError(f"the network config must be a dict, got {type(network).__name__}")
    known = {f.name for f in fields(NetworkConfig)}
    unknown = sorted(set(network) - known)
    if unknown:
        raise ValueError(f"the network config has unknown fields: {', '.join(map(str, unknown))}")
    values = {**NetworkConfig().to_dict(), **network, "phi_weight": config.phi_weight,
              "value_weight": config.value_weight}  # fmt: skip
    for name in _NETWORK_SIZES:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 16:
            raise ValueError(f"the network config's {name} must be a whole number from 1 to "
                             f"65536, got {value!r}")  # fmt: skip
    if values["embed_dim"] % values["heads"]:
        raise ValueError(f"the network config's embed_dim ({values['embed_dim']}) must be a "
                         f"multiple of its heads ({values['heads']})")  # fmt: skip
    if task.n > values["max_memory"]:
        raise ValueError(f"--n {task.n}: the network reads at most {values['max_memory']} "
                         "memory slots")  # fmt: skip
    if task.registers > values["max_registers"]:
        raise ValueError(f"--registers {task.registers}: the network reads at most "
                         f"{values['max_registers']} registers")  # fmt: skip
    values["max_length"] = max(values["max_length"], config.longest)
    return values
