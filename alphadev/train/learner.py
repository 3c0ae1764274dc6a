"""The learner: one gradient step on a batch of replayed positions.

Loss: policy cross-entropy against the search's policy (illegal actions masked out) plus the
mean squared errors of the correctness and latency value heads. A replayed position is rebuilt
from its program: its prefix's state (cached) plus one move, never a full replay.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from alphadev.game import AssemblyGame, GameState
from alphadev.network import PolicyValueNet, encode_states
from alphadev.replay import Sample

__all__ = ["learner_step", "state_of"]

#: Bytes of machine states the learner's state cache holds before it is cleared.
STATE_CACHE_BYTES = 256 << 20


def state_of(game: AssemblyGame, program: tuple[int, ...], cache: dict) -> GameState:
    """The game state after ``program`` (action ids): its prefix's state, from ``cache`` or
    rebuilt the same way, plus one move. ``cache`` maps programs to states and is cleared
    once its states would pass :data:`STATE_CACHE_BYTES`."""
    gs = cache.get(program)
    if gs is None:
        if program:
            gs = game.play(state_of(game, program[:-1], cache), program[-1])
        else:
            gs = game.initial_state()
        if len(cache) * (gs.state.nbytes + gs.flags.nbytes + 256) > STATE_CACHE_BYTES:
            cache.clear()
        cache[program] = gs
    return gs


def learner_step(
    net: PolicyValueNet, optimizer: torch.optim.Optimizer, game: AssemblyGame,
    batch: list[Sample], states: dict,
) -> dict[str, float]:  # fmt: skip
    """One gradient step; ``states`` caches rebuilt game states by program. Returns the
    losses (floats): ``policy_loss``, ``value_correctness_loss``, ``value_latency_loss``,
    ``loss``."""
    net.train()
    positions = [state_of(game, s.program, states) for s in batch]
    inputs = encode_states(game, positions, net.config)
    logits, v_correct, v_latency = net(**inputs)
    target_policy = torch.from_numpy(np.stack([s.policy for s in batch]))
    log_probs = torch.log_softmax(logits, dim=-1).masked_fill(~inputs["legal"], 0.0)
    policy_loss = -(target_policy * log_probs).sum(-1).mean()
    vc = torch.tensor([s.value_correctness for s in batch], dtype=torch.float32)
    vl = torch.tensor([s.value_latency for s in batch], dtype=torch.float32)
    vc_loss = F.mse_loss(v_correct, vc)
    vl_loss = F.mse_loss(v_latency, vl)
    loss = policy_loss + vc_loss + vl_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_correctness_loss": vc_loss.item(),
            "value_latency_loss": vl_loss.item(), "loss": loss.item()}  # fmt: skip
