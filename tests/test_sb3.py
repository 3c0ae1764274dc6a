"""The Gymnasium env works with sb3-contrib's MaskablePPO as it is (no wrapper, no mask function).

Skipped when the ``sb3`` extra is not installed.
"""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("sb3_contrib")

import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv

import alphadev.env  # noqa: F401  (registers the env)
from alphadev.env import ENV_ID


class _RecordInfos(BaseCallback):
    """Counts the training steps and the steps that reported an illegal action."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.illegal = 0

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            self.steps += 1
            self.illegal += bool(info.get("illegal_action", False))
        return True


def test_action_masks_match_the_games_legal_actions_along_an_episode():
    env = gym.make(ENV_ID, n=3)
    game = env.unwrapped.game
    _, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        mask = env.unwrapped.action_masks()
        assert mask.dtype == np.bool_ and mask.shape == (game.num_actions,)
        expected = game.legal_actions(env.unwrapped.get_state())
        np.testing.assert_array_equal(mask, expected.astype(bool))
        np.testing.assert_array_equal(mask, info["action_mask"] == 1)
        mask[:] = False  # a copy: changing it leaves the game's own mask as it was
        assert game.legal_actions(env.unwrapped.get_state()).any()
        action = int(rng.choice(np.flatnonzero(expected)))
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    # through Gymnasium's wrappers, the way sb3-contrib looks the method up
    np.testing.assert_array_equal(
        get_action_masks(env), game.legal_actions(env.unwrapped.get_state()).astype(bool)
    )


def test_every_observation_key_is_a_space_sb3_accepts():
    env = gym.make(ENV_ID, n=3)
    with pytest.warns(UserWarning, match="unconventional shape"):  # 2-D Box keys get flattened
        sb3_check_env(env.unwrapped)
    assert is_masking_supported(DummyVecEnv([lambda: gym.make(ENV_ID, n=2)]))


@pytest.fixture
def one_torch_thread():
    """One intra-op thread (a small net on a shared 2-core machine), restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_maskable_ppo_trains_on_the_registered_env_and_plays_only_legal_moves(one_torch_thread):
    env = gym.make(ENV_ID, n=2)  # the registered env as it is: no wrapper, no mask function
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=64,
        batch_size=64,
        n_epochs=2,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )
    record = _RecordInfos()
    model.learn(total_timesteps=256, callback=record)
    assert model.num_timesteps >= 256 and record.steps == model.num_timesteps
    assert record.illegal == 0

    vec_env = model.get_env()
    obs = vec_env.reset()
    episodes = 0
    for _ in range(200):
        masks = get_action_masks(vec_env)
        actions, _ = model.predict(obs, action_masks=masks, deterministic=False)
        assert masks[0, actions[0]]
        obs, _, dones, infos = vec_env.step(actions)
        assert not infos[0].get("illegal_action", False)
        episodes += int(dones[0])
    assert episodes >= 1
