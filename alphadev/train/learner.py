"""The learner: one gradient step on a batch of replayed positions.

Loss: policy cross-entropy against the search's policy (illegal actions masked out) plus the
mean squared errors of the correctness and latency value heads. A replayed position is rebuilt
from its program: its prefix's state (cached) plus one instruction, never a full replay.

A batch too large for the memory plan (a sort7 position takes 0.5 GB of activations with its
gradients) is run as micro-batches whose gradients add up to the whole batch's (each weighted
by its share of the batch), so the step is the same, only done in parts; the stop request is
polled between them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from alphadev.game import AssemblyGame, GameState
from alphadev.network import PolicyValueNet, encode_states
from alphadev.replay import Sample
from alphadev.train.memory import STATE_CACHE_BYTES
from alphadev.train.stopping import ShouldStop, stoppable

__all__ = ["STATE_CACHE_BYTES", "learner_step", "state_of"]


def state_of(game: AssemblyGame, program: tuple[int, ...], cache: dict,
             limit: int = STATE_CACHE_BYTES) -> GameState:  # fmt: skip
    """The game state after ``program`` (instruction ids, as a state holds them): its prefix's
    state, from ``cache`` or rebuilt the same way, plus one instruction. ``cache`` maps programs
    to states and is cleared once its states would pass ``limit`` bytes."""
    gs = cache.get(program)
    if gs is None:
        if program:
            gs = game.play_instruction(state_of(game, program[:-1], cache, limit), program[-1])
        else:
            gs = game.initial_state()
        if (len(cache) + 1) * (gs.state.nbytes + gs.flags.nbytes + 256) > limit:
            cache.clear()
        cache[program] = gs
    return gs


def learner_step(
    net: PolicyValueNet, optimizer: torch.optim.Optimizer, game: AssemblyGame,
    batch: list[Sample], states: dict, *, chunk: int | None = None,
    cache_bytes: int = STATE_CACHE_BYTES, should_stop: ShouldStop | None = None,
    threaded: bool = False,
) -> dict[str, float]:  # fmt: skip
    """One gradient step; ``states`` caches rebuilt game states by program (at most
    ``cache_bytes``). ``chunk``: positions per forward and backward pass (default: the whole
    batch). ``should_stop`` is polled before each pass (and during it with ``threaded``:
    :func:`~alphadev.train.stopping.stoppable`): the step is then dropped with
    :class:`~alphadev.train.stopping.Stopped` and the weights are unchanged. Returns the
    losses (floats): ``policy_loss``, ``value_correctness_loss``, ``value_latency_loss``,
    ``loss``."""
    net.train()
    size = len(batch)
    chunk = size if chunk is None else max(1, int(chunk))
    optimizer.zero_grad()
    totals = dict.fromkeys(("policy_loss", "value_correctness_loss", "value_latency_loss",
                            "loss"), 0.0)  # fmt: skip
    try:
        for start in range(0, size, chunk):
            part = batch[start : start + chunk]
            share = len(part) / size
            losses = stoppable(
                lambda part=part, share=share: _losses(net, game, part, states, cache_bytes, share),
                should_stop,
                threaded=threaded,
            )
            for key, value in losses.items():
                totals[key] += value
    except BaseException:
        optimizer.zero_grad()
        raise
    optimizer.step()
    return totals


def _losses(net: PolicyValueNet, game: AssemblyGame, batch: list[Sample], states: dict,
            cache_bytes: int, share: float) -> dict[str, float]:  # fmt: skip
    """Forward and backward over ``batch``, its gradient weighted by ``share`` (its part of
    the whole batch); returns its losses times ``share``."""
    positions = [state_of(game, s.program, states, cache_bytes) for s in batch]
    inputs = encode_states(game, positions, net.config)
    del positions
    logits, v_correct, v_latency = net(**inputs)
    target_policy = torch.from_numpy(np.stack([s.policy for s in batch]))
    log_probs = torch.log_softmax(logits, dim=-1).masked_fill(~inputs["legal"], 0.0)
    policy_loss = -(target_policy * log_probs).sum(-1).mean()
    vc = torch.tensor([s.value_correctness for s in batch], dtype=torch.float32)
    vl = torch.tensor([s.value_latency for s in batch], dtype=torch.float32)
    vc_loss = F.mse_loss(v_correct, vc)
    vl_loss = F.mse_loss(v_latency, vl)
    loss = policy_loss + vc_loss + vl_loss
    (loss * share if share != 1.0 else loss).backward()
    return {"policy_loss": policy_loss.item() * share,
            "value_correctness_loss": vc_loss.item() * share,
            "value_latency_loss": vl_loss.item() * share, "loss": loss.item() * share}  # fmt: skip
