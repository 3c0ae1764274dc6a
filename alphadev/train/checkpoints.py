"""What a run leaves on disk: the checkpoint, the metrics file, TensorBoard logs.

* ``checkpoint.pt`` (written atomically): weights, optimizer, replay contents, counters, RNG
  states, the config, the best program, and ``sha256``, a digest of all of that
  (:func:`payload_digest`: over the values, so it does not depend on how ``torch.save`` lays
  out the file). :func:`load_checkpoint` names the file and what is wrong when it is missing,
  corrupted (also when the bytes still load but the digest differs) or foreign. The file is
  still a plain ``torch.save`` dict with ``network_config`` and ``model``, so
  :func:`alphadev.network.load_network` reads it as it is.
* ``metrics.csv``: one row per ``log_every`` steps with :data:`METRIC_FIELDS`; on resume the
  rows past the checkpoint are dropped (:func:`truncate_metrics`) so the file stays continuous.
* ``tensorboard/`` when the ``tensorboard`` extra is installed.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import torch

from alphadev.atomic import write_atomic, write_with
from alphadev.network import DIGEST, CheckpointError, payload_digest, read_checkpoint_file

__all__ = [
    "CHECKPOINT",
    "FORMAT",
    "METRICS",
    "METRIC_FIELDS",
    "append_metrics",
    "load_checkpoint",
    "metrics_row",
    "payload_digest",
    "restore_rng",
    "rng_state",
    "save_checkpoint",
    "tensorboard_writer",
    "truncate_metrics",
]

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
FORMAT = "alphadev-train-1"
METRIC_FIELDS = [
    "step", "episodes", "seconds", "games_per_s", "simulations_per_s", "policy_loss",
    "value_correctness_loss", "value_latency_loss", "loss", "best_length", "correct_fraction",
    "replay_size", "target_length", "sorted_fraction", "policy_correct", "policy_length",
]  # fmt: skip


#: The key of the digest in a checkpoint.


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` and its :func:`payload_digest` atomically to ``path``."""
    sealed = {**payload, DIGEST: payload_digest(payload)}

    def fill(handle) -> None:
        torch.save(sealed, handle)

    write_with(path, fill)


def load_checkpoint(path: str | Path) -> dict:
    """A training checkpoint (without its digest); :class:`~alphadev.network.CheckpointError`
    names the file and what is wrong when it is missing, corrupted (the digest of what was
    read differs from the one saved) or foreign. A checkpoint written before digests existed
    loads as it is."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an alphadev training checkpoint ({FORMAT})")
    stored = data.pop(DIGEST, None)
    if stored is not None and stored != payload_digest(data):
        raise CheckpointError(
            f"{path}: corrupted checkpoint: its contents do not match the sha256 saved with "
            "them (the file was damaged after it was written)"
        )
    return data


def rng_state(rng: np.random.Generator) -> dict:
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
    }


def restore_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))


def metrics_row(step, episodes, simulations, correct, recent, best, losses, replay_size,
                 seconds) -> dict:  # fmt: skip
    mean = {k: float(np.mean([x[k] for x in losses])) for k in losses[0]} if losses else {}
    return {
        "step": step,
        "episodes": episodes,
        "seconds": round(seconds, 2),
        "games_per_s": round(episodes / max(seconds, 1e-9), 3),
        "simulations_per_s": round(simulations / max(seconds, 1e-9), 1),
        "policy_loss": round(mean.get("policy_loss", float("nan")), 5),
        "value_correctness_loss": round(mean.get("value_correctness_loss", float("nan")), 5),
        "value_latency_loss": round(mean.get("value_latency_loss", float("nan")), 6),
        "loss": round(mean.get("loss", float("nan")), 5),
        "best_length": best["length"] if best["length"] is not None else "",
        "correct_fraction": round(sum(recent) / max(len(recent), 1), 3),
        "replay_size": replay_size,
    }


def append_metrics(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=METRIC_FIELDS)
        if new:
            out.writeheader()
        out.writerow(row)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint being resumed (their work is redone)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, fieldnames=METRIC_FIELDS, lineterminator="\n")
    out.writeheader()
    out.writerows(rows)
    write_atomic(path, buffer.getvalue())


def tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
