"""Gymnasium adapter over :mod:`alphadev.game`: ``alphadev/AssemblyGame-v0``.

Observation (``Dict``):
    ``program``: int32[max_length, 3] of (op, dst, src) tokens, rows past the program padded -1;
    ``state``: int32[rows, locations], the machine state over the task's test rows;
    ``flags``: int8[rows], the flags of the last cmp (0 before any cmp);
    ``length``: the program length in instructions, ``Discrete(max_length + 1)``.

Actions: ``Discrete(num_actions)``, the game's moves (``moves="instructions"``, the default: one
instruction each; ``"macro"``: loads, stores and compare-exchanges of two registers; ``"both"``;
see :mod:`alphadev.move_table`). A compare-exchange appends its 3 or 4 instructions to
``program`` and counts them in ``length`` and the latency.

``info["action_mask"]`` is ``int8[num_actions]`` with 1 = legal (Gymnasium's convention), and
``env.action_space.sample()`` draws from the legal actions of the current state.
``env.unwrapped.action_masks()`` returns the same mask as ``bool[num_actions]``: the method
sb3-contrib's ``MaskablePPO`` looks up (through Gymnasium's wrappers), so
``MaskablePPO("MultiInputPolicy", gym.make(ENV_ID))`` trains on legal moves with no wrapper.
Every observation key is a space Stable-Baselines3's ``MultiInputPolicy`` takes as it is (the
``Box`` keys are cast to float and flattened, ``length`` is one-hot encoded). Playing an
illegal action ends the episode with reward ``illegal_penalty`` and
``info["illegal_action"] = True``, the state unchanged (``illegal_action="end"``, the default:
the form RL libraries and Gymnasium's ``check_env`` expect, since they step with any action of
the ``Discrete`` space), or raises :class:`~alphadev.game.IllegalActionError`
(``illegal_action="raise"``).
``terminated`` is set when the program is correct or no legal move is left; ``truncated``
when ``max_length`` is reached.
``get_state()``/``set_state()`` (or ``clone()``) snapshot the game for tree search.

Importing this module registers the environment id :data:`ENV_ID` with Gymnasium (importing
:mod:`alphadev` or :mod:`alphadev.game` does not load Gymnasium). Without an import,
``gym.make("alphadev.env:alphadev/AssemblyGame-v0")`` imports it for you.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from alphadev.game import AssemblyGame, GameState, RewardConfig

__all__ = ["ENV_ID", "AssemblyGameEnv", "LegalDiscrete"]

ENV_ID = "alphadev/AssemblyGame-v0"


class LegalDiscrete(spaces.Discrete):
    """``Discrete(num_actions)`` whose ``sample()`` without a mask draws a legal action of the
    env's current state (a random agent then never plays an illegal move)."""

    def __init__(self, n: int, seed: int | None = None) -> None:
        super().__init__(n, seed=seed)
        self.current_mask: np.ndarray | None = None

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None):
        use_current = mask is None and probability is None and self.current_mask is not None
        if use_current and self.current_mask.any():
            mask = self.current_mask
        return super().sample(mask=mask, probability=probability)


class AssemblyGameEnv(gym.Env):
    """The assembly game as a Gymnasium environment (a thin adapter; rules live in ``game``)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        n: int = 3,
        isa: str = "cmov",
        registers: int | None = None,
        max_length: int | None = None,
        correctness_weight: float = 1.0,
        correct_bonus: float = 1.0,
        latency_weight: float = 0.01,
        latency_model: str = "length",
        illegal_action: str = "end",
        illegal_penalty: float = -1.0,
        render_mode: str | None = None,
        moves: str = "instructions",
    ) -> None:
        if illegal_action not in ("raise", "end"):
            raise ValueError(f"illegal_action must be 'raise' or 'end', got {illegal_action!r}")
        self.illegal_action = illegal_action
        self.illegal_penalty = illegal_penalty
        reward = RewardConfig(correctness_weight, correct_bonus, latency_weight, latency_model)
        self.game = AssemblyGame(
            n=n, registers=registers, isa=isa, max_length=max_length, reward=reward, moves=moves
        )
        self.render_mode = render_mode
        rows, locations = self.game.task.initial_state.shape
        int32 = np.iinfo(np.int32)
        token_high = max(locations, 8) - 1
        self.observation_space = spaces.Dict(
            {
                "program": spaces.Box(-1, token_high, (self.game.max_length, 3), np.int32),
                "state": spaces.Box(int32.min, int32.max, (rows, locations), np.int32),
                "flags": spaces.Box(-1, 1, (rows,), np.int8),
                "length": spaces.Discrete(self.game.max_length + 1),
            }
        )
        self.action_space = LegalDiscrete(self.game.num_actions)
        self._state: GameState = self.game.initial_state()

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)
        self._state = self.game.initial_state()
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        parent = self._state
        if self.illegal_action == "end" and not (
            0 <= int(action) < self.game.num_actions and self.game.legal_actions(parent)[action]
        ):
            info = self._info()
            info["illegal_action"] = True
            return self._observation(), float(self.illegal_penalty), True, False, info
        child, reward, _ = self.game.step(parent, int(action))
        self._state = child
        # the game's mask is empty at max_length too: that end is a truncation, not "no move"
        truncated = not child.correct and child.length >= self.game.max_length
        terminated = child.correct or (not truncated and not self.game.legal_actions(child).any())
        return self._observation(), float(reward), bool(terminated), bool(truncated), self._info()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        from alphadev import asm

        return asm.format(self.game.program(self._state))

    # ------------------------------------------------------------------ action masking

    def action_masks(self) -> np.ndarray:
        """The legal moves of the current state: ``bool[num_actions]``, True = legal (a fresh
        copy of ``info["action_mask"]``).

        sb3-contrib's ``MaskablePPO`` calls this method (by name, through Gymnasium's
        wrappers) before every step. The mask is all False only once the episode is over
        (correct, ``max_length`` reached, or no legal move left), where the env must be reset.
        """
        return self.game.legal_actions(self._state).astype(bool)

    # ------------------------------------------------------------------ tree search

    def get_state(self) -> GameState:
        """The current game state (immutable; safe to keep)."""
        return self._state

    def set_state(self, state: GameState) -> None:
        if state.game is not self.game:
            raise ValueError("state belongs to another game")
        self._state = state
        self.action_space.current_mask = self.game.legal_actions(state)

    def clone(self) -> GameState:
        return self.get_state()

    def restore(self, state: GameState) -> None:
        self.set_state(state)

    # ------------------------------------------------------------------ helpers

    def _observation(self) -> dict[str, Any]:
        gs = self._state
        program = np.full((self.game.max_length, 3), -1, dtype=np.int32)
        if gs.program:
            program[: gs.length] = self.game.instructions[list(gs.program)]
        return {
            "program": program,
            "state": np.array(gs.state, dtype=np.int32, copy=True),
            "flags": np.array(gs.flags, dtype=np.int8, copy=True),
            "length": gs.length,
        }

    def _info(self) -> dict[str, Any]:
        mask = np.array(self.game.legal_actions(self._state), dtype=np.int8, copy=True)
        self.action_space.current_mask = mask
        gs = self._state
        return {
            "action_mask": mask,
            "correct": gs.correct,
            "score": gs.score,
            "distinct_rows": self.game.distinct_rows(gs),
        }


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="alphadev.env:AssemblyGameEnv")
