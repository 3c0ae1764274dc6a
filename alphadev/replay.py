"""A replay buffer of self-play positions for the learner.

A sample is a position, given by its program (instruction ids from the initial state, so the state
is rebuilt by replaying it), with its targets: the search's improved policy over all actions
and the two value targets. The buffer keeps the newest ``capacity`` samples and saves to and
loads from plain tensors (for a ``weights_only`` torch checkpoint).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ReplayBuffer", "Sample"]


@dataclass(frozen=True)
class Sample:
    """One training position.

    Attributes:
        program: the instruction ids played from the initial state (a compare-exchange move
            stands as its instructions).
        policy: float32[num_actions], the improved policy over the game's moves (zeros off
            the legal set).
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
        float32[S, A], ``values`` float32[S, 2]. Built with whole-array operations: a full
        buffer (50,000 positions) takes a few hundredths of a second, not a second, so that
        the checkpoint a time limit asks for comes at once."""
        samples = self.samples
        size = len(samples)
        lengths = np.fromiter((len(s.program) for s in samples), np.int64, count=size)
        longest = int(lengths.max()) if size else 0
        programs = np.full((size, longest), -1, dtype=np.int64)
        if size and longest:
            flat = np.fromiter(itertools.chain.from_iterable(s.program for s in samples),
                               np.int64, count=int(lengths.sum()))  # fmt: skip
            programs[np.arange(longest) < lengths[:, None]] = flat  # row by row, in order
        width = len(samples[0].policy) if size else 0
        policies = np.zeros((size, width), dtype=np.float32)
        if size:
            # a copy: the arrays of episodes from Ray actors are read-only
            policies[:] = np.stack([np.asarray(s.policy, dtype=np.float32) for s in samples])
        values = np.zeros((size, 2), dtype=np.float32)
        if size:
            values[:, 0] = np.fromiter((s.value_correctness for s in samples), np.float64, size)
            values[:, 1] = np.fromiter((s.value_latency for s in samples), np.float64, size)
        return {"capacity": self.capacity, "added": self.added,
                "programs": torch.from_numpy(programs), "policies": torch.from_numpy(policies),
                "values": torch.from_numpy(values)}  # fmt: skip

    @classmethod
    def from_state_dict(cls, state: dict) -> ReplayBuffer:
        buffer = cls(int(state["capacity"]))
        programs = state["programs"].numpy()
        policies = state["policies"].numpy()
        values = state["values"].numpy().astype(np.float64)
        if not len(programs) == len(policies) == len(values):
            raise ValueError(
                f"replay arrays of different lengths: {len(programs)} programs, "
                f"{len(policies)} policies, {len(values)} values"
            )
        for program, policy, value in zip(programs.tolist(), policies, values.tolist(),
                                          strict=True):  # fmt: skip
            code = tuple(a for a in program if a >= 0)
            buffer.samples.append(Sample(code, policy.copy(), value[0], value[1]))
        buffer.added = int(state["added"])
        return buffer
