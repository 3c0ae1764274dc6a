"""Baseline: sb3-contrib's MaskablePPO on the assembly game, for a fixed wall-clock budget.

A model-free reference point for the MCTS: ``MaskablePPO("MultiInputPolicy", ...)`` trains on
``gym.make("alphadev/AssemblyGame-v0", n=N)`` as registered (the env's ``action_masks()``
supplies the legal moves; no wrapper), stopped by a callback once ``--seconds`` of wall time
have passed. Then the trained policy plays 20 evaluation episodes with masks: the env is
deterministic (every episode starts from the same state), so a deterministic policy would play
one episode 20 times; the evaluation is 1 greedy episode plus 19 sampled ones.

Needs the ``sb3`` extra (``pip install -c constraints.txt -e ".[sb3]"``).

    python benchmarks/ppo_baseline.py --n 2 --seconds 30 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback

import alphadev.env  # noqa: F401  (registers the env)
from alphadev import asm
from alphadev.env import ENV_ID

EVAL_EPISODES = 20
WINDOW = 100  # episodes in the curve's moving success rate

DEFAULT_PPO: dict[str, Any] = {
    "n_steps": 512,
    "batch_size": 128,
    "n_epochs": 4,
    "learning_rate": 3e-4,
    "gamma": 0.99,
    "ent_coef": 0.01,
    "policy_kwargs": {"net_arch": [64, 64]},
}


class _TimeLimitAndEpisodes(BaseCallback):
    """Stops training at the wall-clock deadline and records every finished episode.

    Episodes are read from the VecEnv's infos at ``done``: ``info["correct"]`` of the final
    state, the program length from ``info["terminal_observation"]["length"]`` and the return
    from ``info["episode"]["r"]`` (SB3 wraps the env in its ``Monitor``).
    """

    def __init__(self, start: float, seconds: float, curve_every: float) -> None:
        super().__init__()
        self.start = start
        self.deadline = start + seconds
        self.curve_every = curve_every
        self.episodes = 0
        self.successes = 0
        self.recent: deque[bool] = deque(maxlen=WINDOW)
        self.returns: deque[float] = deque(maxlen=WINDOW)
        self.best_length: int | None = None
        self.curve: list[tuple[float, float, int | None]] = []
        self._next_point = start

    def _on_step(self) -> bool:
        now = time.perf_counter()
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done:
                continue
            correct = bool(info.get("correct", False))
            self.episodes += 1
            self.successes += correct
            self.recent.append(correct)
            if "episode" in info:  # SB3's Monitor wrapper: the episode's return
                self.returns.append(float(info["episode"]["r"]))
            if correct:
                length = int(info["terminal_observation"]["length"])
                if self.best_length is None or length < self.best_length:
                    self.best_length = length
        if self.recent and now >= self._next_point:
            self.add_point(now)
            self._next_point = now + self.curve_every
        return now < self.deadline

    def add_point(self, now: float) -> None:
        rate = sum(self.recent) / len(self.recent) if self.recent else 0.0
        self.curve.append((round(now - self.start, 3), round(rate, 4), self.best_length))


def _play(model: MaskablePPO, env: gym.Env, deterministic: bool) -> tuple[bool, int]:
    """One masked episode of the trained policy: (correct, program length)."""
    obs, info = env.reset()
    done = False
    while not done:
        masks = env.unwrapped.action_masks()
        action, _ = model.predict(obs, action_masks=masks, deterministic=deterministic)
        obs, _, terminated, truncated, info = env.step(int(action))
        if info.get("illegal_action"):
            raise AssertionError("the masked policy played an illegal action")
        done = terminated or truncated
    return bool(info["correct"]), int(obs["length"])


def run_maskable_ppo(
    *, n: int, seconds: float, seed: int, threads: int | None = 1, **ppo: Any
) -> dict[str, Any]:
    """Train MaskablePPO on sort ``n`` for ``seconds`` of wall time, then evaluate it.

    Args:
        n: the sort size (the env's ``n``; default ISA ``cmov``, default ``max_length``).
        seconds: wall-clock training budget, model construction included. The callback can
            stop only during rollout collection, so a run may overshoot by one PPO update.
        seed: seeds the model (torch, numpy, the env's action space) and the env.
        threads: torch intra-op threads while training (restored afterwards); ``None`` leaves
            torch's setting alone. One thread is fastest for this small network.
        **ppo: overrides of :data:`DEFAULT_PPO` (MaskablePPO keyword arguments).

    Returns:
        A dict: ``seed``, ``n``, ``wall_s`` (training wall time), ``eval_s``, ``timesteps``,
        ``episodes``, ``train_success_rate`` (share of training episodes that ended correct),
        ``policy_success_rate`` (share of the 20 evaluation episodes that ended correct: 1
        greedy + 19 sampled, see ``policy_eval``), ``greedy_correct``, ``greedy_length``,
        ``greedy_program`` (the greedy episode's instructions),
        ``best_length`` (shortest correct program in training or evaluation, or None),
        ``mean_return_last_100`` (mean return of the last 100 training episodes),
        ``curve`` (list of ``(wall_s, success rate of the last 100 training episodes, best
        length so far)``), ``hyperparameters`` and ``versions``.
    """
    import sb3_contrib
    import stable_baselines3

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        hyper = {**DEFAULT_PPO, **ppo}
        env = gym.make(ENV_ID, n=n)
        env.reset(seed=seed)
        model = MaskablePPO("MultiInputPolicy", env, seed=seed, device="cpu", verbose=0, **hyper)
        callback = _TimeLimitAndEpisodes(start, seconds, curve_every=max(seconds / 100, 0.5))
        model.learn(total_timesteps=10**12, callback=callback)
        train_end = time.perf_counter()
        callback.add_point(train_end)

        eval_env = gym.make(ENV_ID, n=n)
        eval_env.reset(seed=seed + 1)
        results = [_play(model, eval_env, deterministic=True)]
        greedy_program = asm.format(eval_env.unwrapped.game.program(eval_env.unwrapped.get_state()))
        results += [_play(model, eval_env, deterministic=False) for _ in range(EVAL_EPISODES - 1)]
        eval_s = time.perf_counter() - train_end
    finally:
        torch.set_num_threads(previous_threads)

    lengths = [length for correct, length in results if correct]
    if callback.best_length is not None:
        lengths.append(callback.best_length)
    episodes = callback.episodes
    return {
        "seed": seed,
        "n": n,
        "wall_s": round(train_end - start, 3),
        "eval_s": round(eval_s, 3),
        "timesteps": int(model.num_timesteps),
        "episodes": episodes,
        "train_success_rate": callback.successes / episodes if episodes else 0.0,
        "policy_success_rate": sum(correct for correct, _ in results) / len(results),
        "policy_eval": f"1 greedy + {EVAL_EPISODES - 1} sampled episodes, with masks "
        "(the env is deterministic)",
        "greedy_correct": results[0][0],
        "greedy_length": results[0][1],
        "greedy_program": greedy_program.strip().splitlines(),
        "best_length": min(lengths) if lengths else None,
        "mean_return_last_100": (
            round(sum(callback.returns) / len(callback.returns), 4) if callback.returns else None
        ),
        "curve": callback.curve,
        "hyperparameters": hyper,
        "versions": {
            "sb3_contrib": sb3_contrib.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2, help="sort size")
    parser.add_argument("--seconds", type=float, default=30.0, help="training wall time")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = run_maskable_ppo(n=args.n, seconds=args.seconds, seed=args.seed)
    try:
        from common import machine_info

        result["machine"] = machine_info()
    except ImportError:  # imported from elsewhere than benchmarks/
        pass
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
