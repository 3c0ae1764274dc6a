"""A learned cost-to-go for the comparator search: the model, its checkpoint, and the guide.

``h(state)`` estimates the core instructions still needed from a comparator-beam state to
one whose wires are sorted (the stores then finish the kernel). It reads the n-independent
encoding of :mod:`alphadev.guide_features` (a token per pair of wires, a few globals), so a
net trained on sort3..6 runs unchanged on sort7 and sort8. It is trained by
:mod:`alphadev.guide_training` (value iteration, no program from any engine as a label).

**The model** (:class:`CostToGo`): each pair token, with the globals, through a two-layer
MLP; the mean and the max over the tokens, with the globals, through a second MLP to one
number, times :data:`SCALE` instructions.

**The guide** (:class:`LearnedGuide`): the :class:`~alphadev.exact.comparators.Guide` the
comparator beam ranks by (``g + h``): ``encode`` runs the compiled features of one child,
``estimate`` one batched forward pass in ``torch.inference_mode``.

**The checkpoint**: a ``torch.save`` dict with ``kind`` = ``"cost_to_go"``, ``config`` (the
:class:`CostToGoConfig` fields), ``model`` (the state dict), ``provenance`` (what it was
trained on, how long, and that no engine program entered its data) and a sha256 of the rest
(:func:`alphadev.network.payload_digest`). The package ships one (:data:`PACKAGED_GUIDE`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from alphadev.atomic import write_with
from alphadev.exact.comparators import BeamState, next_comparators
from alphadev.exact.control import SearchControl
from alphadev.guide_features import GLOBAL_FEATURES, PAIR_FEATURES, encode_state
from alphadev.isa import Op
from alphadev.network import (
    DIGEST,
    CheckpointError,
    check_digest,
    payload_digest,
    read_checkpoint_file,
)
from alphadev.tasks import SortTask

__all__ = [
    "PACKAGED_GUIDE",
    "CostToGo",
    "CostToGoConfig",
    "LearnedGuide",
    "batch_of",
    "load_guide",
    "save_guide",
]

#: The guide the package ships (``alphadev search --guide learned`` without ``--guide-net``).
PACKAGED_GUIDE = Path(__file__).parent / "checkpoints" / "cost_to_go.pt"
#: The model's output unit: instructions per unit (keeps the regression targets near 1).
SCALE = 16.0


@dataclass(frozen=True)
class CostToGoConfig:
    """The model's sizes. ``hidden``: width of both MLPs."""

    hidden: int = 64


class CostToGo(nn.Module):
    """h(state) in instructions, from pair tokens and globals (n-independent weights)."""

    def __init__(self, config: CostToGoConfig | None = None) -> None:
        super().__init__()
        self.config = config or CostToGoConfig()
        hidden = self.config.hidden
        self.pair = nn.Sequential(
            nn.Linear(PAIR_FEATURES + GLOBAL_FEATURES, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Linear(2 * hidden + GLOBAL_FEATURES, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, pairs: torch.Tensor, mask: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        """``pairs`` float32[B, P, PAIR_FEATURES], ``mask`` bool[B, P] (True: a real token),
        ``glob`` float32[B, GLOBAL_FEATURES] -> float32[B], instructions."""
        tokens = torch.cat([pairs, glob[:, None, :].expand(-1, pairs.shape[1], -1)], dim=-1)
        x = self.pair(tokens)
        weight = mask.to(x.dtype)[..., None]
        mean = (x * weight).sum(1) / weight.sum(1).clamp(min=1.0)
        top = x.masked_fill(~mask[..., None], float("-inf")).amax(1)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        return self.head(torch.cat([mean, top, glob], dim=-1)).squeeze(-1) * SCALE


def batch_of(encoded: list[tuple[np.ndarray, np.ndarray]]):
    """Tensors ``(pairs [B, P, F], mask [B, P], glob [B, G])`` of encodings of any ``n``
    (pairs padded to the largest ``P``)."""
    size = max(p.shape[0] for p, _ in encoded)
    pairs = np.zeros((len(encoded), size, PAIR_FEATURES), dtype=np.float32)
    mask = np.zeros((len(encoded), size), dtype=np.bool_)
    glob = np.empty((len(encoded), GLOBAL_FEATURES), dtype=np.float32)
    for b, (p, g) in enumerate(encoded):
        pairs[b, : p.shape[0]] = p
        mask[b, : p.shape[0]] = True
        glob[b] = g
    return torch.from_numpy(pairs), torch.from_numpy(mask), torch.from_numpy(glob)


#: Sets of 0-1 vectors the shortest-network test of a feature may expand for n >= 7 (past it
#: the comparator counts as on a shortest path); exact for n <= 6.
FEATURE_WORK = 200


def encode(task: SortTask, state: BeamState, remaining: int,
           control: SearchControl | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The features of a comparator-beam ``state`` of ``task`` with ``remaining`` comparators
    left in the budget."""
    control = SearchControl() if control is None else control
    following = next_comparators(task.n, state, remaining - 1, control, FEATURE_WORK)
    return encode_state(
        state.regs,
        state.written,
        state.flags,
        state.status,
        state.wires,
        remaining=remaining,
        applied=len(state.network),
        has_min_max=Op.MIN in task.isa.ops,
        next_pairs=following,
    )


class LearnedGuide:
    """The comparator beam's :class:`~alphadev.exact.comparators.Guide` from a
    :class:`CostToGo` (one per task)."""

    def __init__(self, net: CostToGo, task: SortTask) -> None:
        self.net = net.eval()
        self.task = task
        self._control = SearchControl()  # never stopped: a feature's 0-1 test runs to its cap

    def encode(self, state: BeamState, remaining: int) -> tuple[np.ndarray, np.ndarray]:
        return encode(self.task, state, remaining, self._control)

    def estimate(self, encoded: list) -> np.ndarray:
        """float64[B]: the net's instructions still needed, one batched pass."""
        with torch.inference_mode():
            return self.net(*batch_of(encoded)).double().numpy()


def save_guide(path: str | Path, net: CostToGo, provenance: dict) -> Path:
    """Write ``net`` and ``provenance`` to ``path`` atomically (see the module docstring)."""
    payload = {
        "kind": "cost_to_go",
        "config": asdict(net.config),
        "model": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "provenance": dict(provenance),
    }
    payload[DIGEST] = payload_digest(payload)
    return write_with(path, lambda handle: torch.save(payload, handle))


def load_guide(path: str | Path = PACKAGED_GUIDE) -> tuple[CostToGo, dict]:
    """``(net, provenance)`` from a guide checkpoint; :class:`CheckpointError` naming the file
    and what is wrong otherwise."""
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or data.get("kind") != "cost_to_go" or "model" not in data:
        raise CheckpointError(f"{path}: not an alphadev cost-to-go checkpoint")
    check_digest(path, data, required=True)
    try:
        net = CostToGo(CostToGoConfig(**data["config"]))
        net.load_state_dict(data["model"])
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the cost-to-go net ({exc})") from None
    return net.eval(), dict(data.get("provenance", {}))
