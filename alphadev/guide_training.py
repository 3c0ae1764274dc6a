"""Train the learned cost-to-go by value iteration on states the comparator game reaches.

No program from any engine is a label: a state's target is the Bellman backup of the net
itself over the comparator game's children (:class:`~alphadev.exact.comparators.ComparatorGame`),

    target(s) = min over children c of ( instructions of c's lowering + h(c) ),
    h(c) = 0 when c's wires are sorted (the stores finish the kernel),

and the states come from the net's own rollouts of that game from its root, in two phases:

1. ``paths`` (the first ``1 - beam_share`` of the time): each move the child with the smallest
   ``instructions + h`` (the net guiding itself) or, with probability ``epsilon`` (drawn per
   rollout from :data:`EPSILONS`), a child at random;
2. ``beams`` (the rest; a fresh optimiser at ``beam_learning_rate`` and a fresh buffer): half
   the rollouts are paths as above, half are beams of ``beam_width`` ranked by ``g + h`` as
   the guided comparator search ranks (:func:`_beam_rollout`), every state a beam expands
   with its target. These are the states a guided search compares, so the net learns to
   rank them; measured on the shipped net, this phase turned a guide no better than the hand
   rule on sort5 cmov (the narrowest width to 42: 16 for every seed) into one that reaches 42
   at width 1.

The sorted ends give exact targets and each sweep carries them one comparator further back
(approximate value iteration, as DeepCubeA trains its cost-to-go without demonstrations).
Tasks take turns: every ``n`` of ``sizes`` on every ISA of ``isas``.

The loop (:func:`train_guide`), read top to bottom: at a phase change a new optimiser and
buffer; one rollout (its states and targets join the bounded buffer); Adam steps on batches
drawn from the buffer (mean squared error in units of :data:`~alphadev.cost_to_go.SCALE`:
``updates_per_rollout`` per rollout in the first phase, one per two new states in the
second); a progress line every few seconds, until the time is up; then the net and its
provenance.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from alphadev import __version__
from alphadev.cost_to_go import SCALE, CostToGo, CostToGoConfig, LearnedGuide, batch_of
from alphadev.exact.comparators import ComparatorGame
from alphadev.exact.control import SearchControl
from alphadev.options import check_range, check_seconds
from alphadev.tasks import SortTask

__all__ = ["EPSILONS", "GuideTrainConfig", "GuideTrainResult", "train_guide"]

#: The share of random moves of a rollout is drawn from these (greedy to uniform).
EPSILONS = (0.0, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class GuideTrainConfig:
    """Every knob of a value-iteration run."""

    sizes: tuple[int, ...] = (3, 4, 5, 6)
    isas: tuple[str, ...] = ("cmov", "minmax")
    seconds: float = 840.0
    seed: int = 0
    buffer: int = 40_000
    batch: int = 256
    updates_per_rollout: int = 4
    learning_rate: float = 1e-3
    hidden: int = 64
    #: The share of the time in the second phase (beam rollouts mixed in).
    beam_share: float = 2 / 7
    beam_width: int = 4
    beam_learning_rate: float = 3e-4

    def __post_init__(self) -> None:
        if not self.sizes or any(not 3 <= n <= 6 for n in self.sizes):
            raise ValueError(
                f"sizes must be within 3..6 (the in-distribution tasks), got {self.sizes}"
            )
        for isa in self.isas:
            if isa not in ("cmov", "minmax"):
                raise ValueError(f"isas must be cmov or minmax, got {isa!r}")
        if not self.isas:
            raise ValueError("isas is empty")
        check_seconds("seconds", self.seconds)
        check_range("buffer", self.buffer, 1)
        check_range("batch", self.batch, 1)
        check_range("updates_per_rollout", self.updates_per_rollout, 0)
        check_range("learning_rate", self.learning_rate, 0.0)
        check_range("hidden", self.hidden, 1)
        check_range("beam_share", self.beam_share, 0.0, 1.0)
        check_range("beam_width", self.beam_width, 1)
        check_range("beam_learning_rate", self.beam_learning_rate, 0.0)


@dataclass(frozen=True)
class GuideTrainResult:
    """The trained net, its provenance (saved with it) and the run's counts."""

    net: CostToGo
    provenance: dict
    states: int
    updates: int
    rollouts: int
    seconds: float
    last_loss: float


def _encode_open(game: ComparatorGame, guide: LearnedGuide, children) -> dict:
    """``{k: encoding}`` of the children ``(cost, child)`` whose wires are not sorted yet."""
    return {k: guide.encode(child, game.remaining(child))
            for k, (_, child) in enumerate(children) if not game.finished(child)}  # fmt: skip


def _estimates(guide: LearnedGuide, encoded: dict, count: int) -> np.ndarray:
    """float64[count]: h of each encoded child (at least 0), 0 for the others (sorted)."""
    h = np.zeros(count)
    if encoded:
        h[list(encoded)] = np.maximum(guide.estimate(list(encoded.values())), 0.0)
    return h


def _rollout(game: ComparatorGame, guide: LearnedGuide, rng: np.random.Generator, epsilon: float):
    """One rollout from the root: ``[(encoding, target)]`` per state it leaves (a state's
    encoding is the one made when it was a child)."""
    out = []
    state = game.root()
    encoding = guide.encode(state, game.remaining(state))
    while not game.finished(state):
        children = game.children(state)
        if not children:  # cannot happen on shortest-network paths; guard a dead end
            break
        encoded = _encode_open(game, guide, children)
        costs = np.array([cost for cost, _ in children], dtype=np.float64)
        costs += _estimates(guide, encoded, len(children))
        out.append((encoding, float(costs.min())))
        if rng.random() < epsilon:
            pick = int(rng.integers(len(children)))
        else:
            ties = np.flatnonzero(costs <= costs.min() + 1e-9)
            pick = int(rng.choice(ties))
        state = children[pick][1]
        encoding = encoded.get(pick)
    return out


def _beam_rollout(game: ComparatorGame, guide: LearnedGuide, rng: np.random.Generator,
                  width: int):  # fmt: skip
    """A beam of ``width`` from the root ranked by ``g + h`` (the net guiding itself, ties in
    a random order): ``[(encoding, target)]`` for every state it expands."""
    out = []
    root = game.root()
    level = [(0, root, guide.encode(root, game.remaining(root)))]
    while level:
        ranked = {}  # key -> (g + h, g, child, its encoding)
        for g, state, encoding in level:
            children = game.children(state)
            if not children:
                continue
            costs = np.array([cost for cost, _ in children], dtype=np.float64)
            encoded = _encode_open(game, guide, children)
            h = _estimates(guide, encoded, len(children))
            out.append((encoding, float((costs + h).min())))
            for k in encoded:
                child = children[k][1]
                score = g + costs[k] + h[k] + 1e-6 * rng.random()
                key = game.key(child)
                if key not in ranked or ranked[key][0] > score:
                    ranked[key] = (score, g + costs[k], child, encoded[k])
        best = sorted(ranked.values(), key=lambda item: item[0])[:width]
        level = [(g, child, encoding) for _, g, child, encoding in best]
    return out


def _phase(config: GuideTrainConfig, elapsed: float) -> str:
    """The phase at ``elapsed`` seconds: ``paths``, then ``beams``."""
    return "paths" if elapsed < config.seconds * (1.0 - config.beam_share) else "beams"


def train_guide(
    config: GuideTrainConfig,
    *,
    control: SearchControl | None = None,
    progress: Callable[[str], None] | None = None,
    init: tuple[CostToGo, dict] | None = None,
) -> GuideTrainResult:
    """Value iteration for ``config.seconds`` (see the module docstring); stops early when
    ``control`` asks. Deterministic given the seed up to timing (how many rollouts fit).
    ``init``: ``(net, provenance)`` to go on training from (its provenance is kept under
    ``init_from``; its size wins over ``config.hidden``)."""
    control = SearchControl() if control is None else control
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    # 1. the games and the net
    games = [ComparatorGame(SortTask(n, isa=isa), control=control)
             for n in config.sizes for isa in config.isas]  # fmt: skip
    if init is None:
        net = CostToGo(CostToGoConfig(hidden=config.hidden))
    else:
        net = CostToGo(init[0].config)
        net.load_state_dict(init[0].state_dict())
    states = updates = rollouts = 0
    loss_value = float("nan")
    t0 = time.perf_counter()
    last_report = t0
    phase = None
    while time.perf_counter() - t0 < config.seconds and not control.stopped:
        # 2. a new phase starts afresh: its optimiser, its learning rate, its buffer
        name = _phase(config, time.perf_counter() - t0)
        if name != phase:
            phase = name
            rate = config.learning_rate if name == "paths" else config.beam_learning_rate
            optimiser = torch.optim.Adam(net.parameters(), lr=rate)
            buffer: collections.deque = collections.deque(maxlen=config.buffer)
        # 3. one rollout of the next task, guided by the current net: a path, or in the
        #    second phase, half the time, a beam
        game = games[rollouts % len(games)]
        guide = LearnedGuide(net, game.task)
        if phase == "beams" and rng.random() < 0.5:
            found = _beam_rollout(game, guide, rng, config.beam_width)
        else:
            found = _rollout(game, guide, rng, float(rng.choice(EPSILONS)))
        if control.stopped:  # a stop cuts the children short: the last targets are not sound
            break
        net.train()
        buffer.extend(found)
        states += len(found)
        rollouts += 1
        # 4. Adam steps on the buffer: a fixed number per path rollout in the first phase,
        #    one per two new states in the second
        steps = config.updates_per_rollout if phase == "paths" else max(1, len(found) // 2)
        for _ in range(steps):
            picks = rng.integers(len(buffer), size=min(config.batch, len(buffer)))
            batch = [buffer[k] for k in picks]
            pairs, mask, glob = batch_of([encoding for encoding, _ in batch])
            target = torch.tensor([t for _, t in batch], dtype=torch.float32)
            loss = (((net(pairs, mask, glob) - target) / SCALE) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            updates += 1
            loss_value = float(loss.detach())
        # 5. progress
        now = time.perf_counter()
        if progress is not None and now - last_report >= 5.0:
            last_report = now
            progress(f"{now - t0:6.0f} s  {phase}  rollouts {rollouts:,}  states {states:,}  "
                     f"updates {updates:,}  loss {loss_value:.4f}")  # fmt: skip
    seconds = time.perf_counter() - t0
    net.eval()
    provenance = {
        "trained_on_n": list(config.sizes),
        "trained_on_isas": list(config.isas),
        "seconds": round(seconds, 1),
        "states": states,
        "rollouts": rollouts,
        "updates": updates,
        "seed": config.seed,
        "targets": "value iteration: min over the comparator game's children of "
        "(lowering instructions + h), 0 at sorted wires",
        "engine_programs_in_data": False,
        "data": "rollouts of the comparator game from its root guided by the net's own "
        f"estimates: epsilon-greedy paths for the first {1 - config.beam_share:.0%} of the "
        f"time, then half of them beams of width {config.beam_width}",
        "alphadev": __version__,
        "torch": str(torch.__version__),
    }
    if init is not None:
        provenance["init_from"] = dict(init[1])
        earlier = init[1].get("engine_programs_in_data", True)
        provenance["engine_programs_in_data"] = earlier is not False
    return GuideTrainResult(net, provenance, states, updates, rollouts, seconds, loss_value)
