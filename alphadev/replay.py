"""A replay buffer of self-play positions for the learner.

A sample is a position, given by its program (action ids from the initial state, so the state
is rebuilt by replaying it), with its targets: the search's improved policy over all actions
and the two value targets. The buffer keeps the newest ``capacity`` samples and saves to and
loads from plain tensors (for a ``weights_only`` torch checkpoint).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ReplayBuffer", "Sample"]


@dataclass(frozen=True)
class Sample:
    """One training position.

    Attributes:
        program: action ids played from the initial state.
        policy: float32[num_actions], the improved policy (zeros off the legal set).
        value_correctness: target for the correctness head.
        value_latency: target for the latency head.
    """

    program: tuple[int, ...]
    policy: np.ndarray
    value_correctness: float
    value_latency: float


class ReplayBuffer:
    """The newest ``capacity`` samples; uniform sampling with a caller's generator."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.samples: deque[Sample] = deque(maxlen=capacity)
        self.added = 0  # samples ever added

    def __len__(self) -> int:
        return len(self.samples)

    def add(self, samples: list[Sample]) -> None:
        self.samples.extend(samples)
        self.added += len(samples)

    def sample(self, batch_size: int, rng: np.random.Generator) -> list[Sample]:
        picks = rng.integers(len(self.samples), size=batch_size)
        return [self.samples[int(i)] for i in picks]

    def state_dict(self) -> dict:
        """Tensors and ints only: ``programs`` int64[S, T] padded with -1, ``policies``
        float32[S, A], ``values`` float32[S, 2]."""
        size = len(self.samples)
        longest = max((len(s.program) for s in self.samples), default=0)
        programs = torch.full((size, longest), -1, dtype=torch.int64)
        width = len(self.samples[0].policy) if size else 0
        policies = torch.zeros((size, width), dtype=torch.float32)
        values = torch.zeros((size, 2), dtype=torch.float32)
        for i, s in enumerate(self.samples):
            programs[i, : len(s.program)] = torch.tensor(s.program, dtype=torch.int64)
            # a copy: the arrays of episodes from Ray actors are read-only
            policies[i] = torch.as_tensor(np.array(s.policy, dtype=np.float32))
            values[i, 0], values[i, 1] = s.value_correctness, s.value_latency
        return {"capacity": self.capacity, "added": self.added, "programs": programs,
                "policies": policies, "values": values}  # fmt: skip

    @classmethod
    def from_state_dict(cls, state: dict) -> ReplayBuffer:
        buffer = cls(int(state["capacity"]))
        for program, policy, value in zip(
            state["programs"], state["policies"], state["values"], strict=True
        ):
            code = tuple(int(a) for a in program.tolist() if a >= 0)
            buffer.samples.append(
                Sample(code, policy.numpy().copy(), float(value[0]), float(value[1]))
            )
        buffer.added = int(state["added"])
        return buffer
