"""Train the policy/value network by self-play (AlphaZero style), resumably.

The package reads in the order a run happens:

* :mod:`~alphadev.train.config`: :class:`TrainConfig`, every hyperparameter, which is also
  the command line;
* :mod:`~alphadev.train.memory`: how ``--memory`` is shared (tree node caps, network chunks,
  learner micro-batches), and the refusal of a task whose tables cannot fit;
* :mod:`~alphadev.train.stopping`: the deadline of ``--time-limit``, polled inside every long
  phase;
* :mod:`~alphadev.train.self_play`: one episode, the worker process, demonstrations;
* :mod:`~alphadev.train.ray_self_play`: the same episodes from Ray actors (``--ray``);
* :mod:`~alphadev.train.learner`: one gradient step;
* :mod:`~alphadev.train.checkpoints`: the checkpoint, ``metrics.csv``, TensorBoard;
* :mod:`~alphadev.train.loop`: :func:`train` (:func:`~alphadev.train.loop.prepare`, which
  checks every input before any work, then :func:`~alphadev.train.loop.run`), the loop that
  ties them together;
* :mod:`~alphadev.train.cli`: ``alphadev train`` / ``python -m alphadev.train``.
"""

from alphadev.train.checkpoints import CHECKPOINT, METRICS, load_checkpoint
from alphadev.train.config import TrainConfig
from alphadev.train.learner import learner_step
from alphadev.train.loop import TrainResult, train
from alphadev.train.self_play import demonstration_samples, self_play_episode

__all__ = [
    "CHECKPOINT",
    "METRICS",
    "TrainConfig",
    "TrainResult",
    "demonstration_samples",
    "learner_step",
    "load_checkpoint",
    "self_play_episode",
    "train",
]
