"""What a run leaves on disk: the checkpoint, the metrics file, TensorBoard logs.

* ``checkpoint.pt`` (written atomically): weights, optimizer, replay contents, counters, RNG
  states, the config, the best program, and ``sha256``, a digest of all of that
  (:func:`payload_digest`: over the values, so it does not depend on how ``torch.save`` lays
  out the file). :func:`load_checkpoint` names the file and what is wrong when it is missing,
  corrupted (also when the bytes still load but the digest differs) or foreign. The file is
  still a plain ``torch.save`` dict with ``network_config`` and ``model``, so
  :func:`alphadev.network.load_network` reads it as it is.
* ``metrics.csv``: one row per ``log_every`` steps with :data:`METRIC_FIELDS`; on resume the
  rows past the checkpoint are dropped (:func:`read_metrics` checks the file before any work,
  :func:`write_metrics` rewrites it) so the file stays continuous.
* ``tensorboard/`` when the ``tensorboard`` extra is installed.

A run folder that cannot be used (a file in the way, a link or FIFO where a run file belongs,
no permission, a read-only or full file system, a damaged metrics file) is a
:class:`RunFolderError` naming the folder or file and why: before any work when it can be
seen then (:func:`check_run_folder`), else when the write fails.
"""

from __future__ import annotations

import csv
import io
import os
import random
import stat
import tempfile
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
    "RunFolderError",
    "append_metrics",
    "check_run_folder",
    "load_checkpoint",
    "metrics_row",
    "payload_digest",
    "read_metrics",
    "restore_rng",
    "rng_state",
    "save_checkpoint",
    "tensorboard_writer",
    "truncate_metrics",
    "write_metrics",
]

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
FORMAT = "alphadev-train-1"
METRIC_FIELDS = [
    "step", "episodes", "seconds", "games_per_s", "simulations_per_s", "policy_loss",
    "value_correctness_loss", "value_latency_loss", "loss", "best_length", "correct_fraction",
    "replay_size", "target_length", "sorted_fraction", "policy_correct", "policy_length",
]  # fmt: skip


#: The largest metrics file read on resume (a row is about 150 bytes).
MAX_METRICS_BYTES = 256 << 20


class RunFolderError(ValueError):
    """A run folder, or a file in it, that cannot be used; the message names it and why."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_run_folder(run_dir: Path, *, fresh: bool, others: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, a run folder that cannot hold a run: the nearest part of the
    path that exists must be a folder (not a file) in which a file can be created (a file is
    made and removed to be sure: this catches read-only file systems and permissions); its run
    files (the checkpoint, the metrics and ``others``), where they exist, must be regular files.
    ``fresh``: a new run, which must not start over a folder that holds a run already."""
    run_dir = Path(run_dir)
    place = run_dir
    try:
        while not place.exists():
            if place.is_symlink():
                raise RunFolderError(f"run folder {run_dir}: {place} is a broken link")
            place = place.parent
    except OSError as exc:
        raise RunFolderError(f"run folder {run_dir}: cannot look at it ({_why(exc)})") from None
    if not place.is_dir():
        what = "exists and is not a folder" if place == run_dir else f"{place} is a file"
        raise RunFolderError(f"run folder {run_dir}: {what}, not a folder")
    if place == run_dir:
        for name in (CHECKPOINT, METRICS, *others):
            path = run_dir / name
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                why = _why(exc)
                raise RunFolderError(f"run folder {run_dir}: cannot read {name} ({why})") from None
            if not stat.S_ISREG(mode):
                raise RunFolderError(f"run folder {run_dir}: {name} is not a regular file (a "
                                     "link, folder, FIFO or device): move it away")  # fmt: skip
            if fresh and name in (CHECKPOINT, METRICS):
                raise RunFolderError(
                    f"run folder {run_dir} holds a run already ({name}): continue it with "
                    "--resume, or choose another --run-dir"
                )
    try:
        fd, probe = tempfile.mkstemp(dir=place, prefix=".alphadev-probe-")
    except OSError as exc:
        why = _why(exc)
        raise RunFolderError(f"run folder {run_dir}: cannot write in {place} ({why})") from None
    os.close(fd)
    os.unlink(probe)


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
    """Add ``row`` to the metrics file (its header first if new), in one write;
    :class:`RunFolderError` if it cannot be written."""
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, fieldnames=METRIC_FIELDS, lineterminator="\n")
    try:
        new = not path.exists()
        if new:
            out.writeheader()
        out.writerow(row)
        with path.open("a", newline="") as handle:
            handle.write(buffer.getvalue())
    except OSError as exc:
        raise RunFolderError(f"run folder {path.parent}: cannot write {path.name} "
                             f"({_why(exc)})") from None  # fmt: skip


def read_metrics(path: Path, step: int) -> list[dict] | None:
    """The rows of the metrics file up to ``step`` (those past the checkpoint being resumed
    are redone), or None if there is no file; :class:`RunFolderError` naming the file, the line
    and what is wrong when it is not a regular file or is damaged. Reads only."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read it ({_why(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise RunFolderError(f"{path}: not a regular file (a link, folder, FIFO or device)")
    if info.st_size > MAX_METRICS_BYTES:
        raise RunFolderError(f"{path}: damaged metrics file ({info.st_size:,} bytes, more than "
                             f"{MAX_METRICS_BYTES:,}); repair or remove it to resume")  # fmt: skip
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read it ({_why(exc)})") from None
    except UnicodeDecodeError as exc:
        raise _damaged(path, _line_at(exc.object[: exc.start]), "not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        if reader.fieldnames is None:
            return []  # an empty file
        if "step" not in reader.fieldnames:
            raise _damaged(path, 1, "its header has no 'step' column")
        last = -1
        for row in reader:
            line = reader.line_num
            value = row.get("step")
            if None in row or any(v is None for v in row.values()):
                raise _damaged(path, line, "a row with more or fewer fields than the header")
            if not (isinstance(value, str) and value.isascii() and value.isdigit()):
                raise _damaged(path, line, f"step {value!r} is not a whole number")
            number = int(value)
            if number <= last:
                raise _damaged(path, line, f"step {number} after step {last}")
            last = number
            if number <= step:
                rows.append({k: v for k, v in row.items() if k in METRIC_FIELDS})
    except csv.Error as exc:
        raise _damaged(path, reader.line_num, str(exc)) from None
    return rows


def _line_at(data: bytes) -> int:
    """The line number (from 1) at the end of ``data``."""
    return data.count(b"\n") + 1


def _damaged(path: Path, line: int, why: str) -> RunFolderError:
    return RunFolderError(f"{path}: damaged metrics file (line {line}: {why}); repair or remove "
                         "it to resume")  # fmt: skip


def write_metrics(path: Path, rows: list[dict]) -> None:
    """Replace the metrics file with ``rows`` (atomically); :class:`RunFolderError` if it
    cannot be written."""
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, fieldnames=METRIC_FIELDS, lineterminator="\n", restval="")
    out.writeheader()
    out.writerows(rows)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        raise RunFolderError(f"run folder {path.parent}: cannot write {path.name} "
                             f"({_why(exc)})") from None  # fmt: skip


def truncate_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint being resumed (their work is redone)."""
    rows = read_metrics(path, step)
    if rows is not None:
        write_metrics(path, rows)


def tensorboard_writer(run_dir: Path):
    """A TensorBoard writer in ``run_dir/tensorboard`` (None without the extra)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    try:
        return SummaryWriter(str(run_dir / "tensorboard"))
    except OSError as exc:
        raise RunFolderError(f"run folder {run_dir}: cannot write tensorboard/ "
                             f"({_why(exc)})") from None  # fmt: skip
