"""``alphadev train`` (also ``python -m alphadev.train``): the flags are the fields of
:class:`~alphadev.train.config.TrainConfig`, plus where the run lives.

Every bad flag, file or folder is refused before any work with one line on stderr and exit
code 2, and leaves the disk as it was. ``--resume DIR`` continues the run saved in ``DIR``
with its own config: a flag given with it must agree with that config (one line naming the
flag and both values otherwise), except the flags of :data:`RESUMABLE`, which say how this
invocation runs rather than what is learned. The last line printed says where the run stopped,
why (steps reached, time limit, Ctrl-C) and the checkpoint written.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import gc
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from alphadev.cluster import ClusterError, import_ray
from alphadev.network import CheckpointError
from alphadev.options import DefaultsFormatter, add_options
from alphadev.progress import plural
from alphadev.train.checkpoints import CHECKPOINT, RunFolderError, load_checkpoint
from alphadev.train.config import TrainConfig

__all__ = ["RESUMABLE", "build_parser", "main"]

#: Flags a resumed run may change: how long and where this invocation plays, and the machine's
#: memory. ``--time-limit`` and ``--ray`` are never taken from the checkpoint (a run started
#: on Ray resumes without it); the others keep the checkpoint's value unless given.
RESUMABLE = ("steps", "time_limit", "target", "workers", "ray", "memory")
#: Characters of an error line at most.
MAX_MESSAGE = 400


def _one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Parser(argparse.ArgumentParser):
    """Errors in one line (the usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="alphadev train",
        description="Train the policy/value network by self-play (AlphaZero style), "
        "resumably. Exit 0 when done (steps, time limit or target reached), 130 when "
        "interrupted (the checkpoint is written), 2 on a bad flag, file or folder (nothing "
        "written) or when the run folder cannot be written, 1 when every self-play worker "
        "died. With --resume, "
        f"only {', '.join('--' + n.replace('_', '-') for n in RESUMABLE)} may differ from the "
        "run's own config.",
        formatter_class=DefaultsFormatter,
    )
    add_options(parser, TrainConfig)
    parser.add_argument("--run-dir", help="run folder (default: runs/<timestamp>-sort<n>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--init-from", metavar="CKPT", help="start from another run's weights")
    return parser


def _given(argv: list[str]) -> dict:
    """The flags ``argv`` gives explicitly (abbreviations included), by destination."""
    parser = build_parser()
    for action in parser._actions:  # no defaults: only what was given is set
        action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


def _same(name: str, given: object, saved: object, saved_config: dict) -> bool:
    """Whether the flag ``name`` given now means the resumed run's ``saved`` value."""
    if name == "registers":  # None is n + 1
        n = saved_config.get("n")
        return (given if given is not None else n + 1) == (saved if saved is not None else n + 1)
    if name == "isa":
        from alphadev.isa import get_isa

        try:
            return get_isa(str(given)).ops == get_isa(str(saved)).ops
        except ValueError:
            return False
    if isinstance(given, float) and isinstance(saved, (int, float)):
        return float(given) == float(saved)
    return given == saved


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _resumed_config(args: argparse.Namespace, given: dict) -> tuple[TrainConfig, Path, dict]:
    """The resumed run's config, its folder and checkpoint; ValueError for a flag that
    disagrees with the run, CheckpointError for a checkpoint that cannot be resumed."""
    run_dir = Path(args.resume)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--resume {run_dir}: not a folder")
    if not run_dir.exists():
        raise ValueError(f"--resume {run_dir}: no such folder")
    saved = load_checkpoint(run_dir)
    path = run_dir / CHECKPOINT
    saved_config = saved.get("config")
    if not isinstance(saved_config, dict):
        raise CheckpointError(f"{path}: it holds no run config")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in saved_config.items() if k in known}
    for name, value in given.items():
        if name in RESUMABLE or name not in known:
            continue
        if name not in saved_config:  # a field added since the run began: the flag sets it
            values[name] = value
        elif not _same(name, value, saved_config[name], saved_config):
            before = saved_config[name]
            if name == "registers" and before is None:
                before = saved_config.get("n", 0) + 1
            raise ValueError(
                f"{_flag(name)} {value} disagrees with the run being resumed ({path}: "
                f"{_flag(name)} {before}); drop the flag, or start a new run"
            )
    if "run_dir" in given and Path(given["run_dir"]).resolve() != run_dir.resolve():
        raise ValueError(
            f"--run-dir {given['run_dir']} disagrees with --resume {run_dir}: a resumed run "
            "stays in its folder; drop --run-dir"
        )
    if "init_from" in given:
        before = (saved.get("provenance") or {}).get("init_from")
        if before is None or str(given["init_from"]) != str(before):
            raise ValueError(
                f"--init-from {given['init_from']} disagrees with the run being resumed "
                f"({path}: --init-from {before or 'none'}): a resumed run keeps its weights; "
                "drop --init-from"
            )
    for name in RESUMABLE:  # flags given now win over the saved values
        if name in given:
            values[name] = given[name]
    values["time_limit"] = args.time_limit
    values["ray"] = args.ray  # how episodes are played is this invocation's choice
    try:
        config = TrainConfig(**values)
    except (TypeError, ValueError) as exc:
        message = _one_line(str(exc))
        if any(message.startswith(_flag(name)) for name in given):
            raise ValueError(message) from None  # a flag given now
        raise CheckpointError(f"{path}: its config cannot be resumed ({message})") from None
    return config, run_dir, saved


def _config(args: argparse.Namespace, given: dict) -> tuple[TrainConfig, Path, dict | None]:
    """The run's config, folder and (resumed) checkpoint; ValueError/CheckpointError for bad
    input."""
    if args.resume:
        return _resumed_config(args, given)
    from alphadev.options import config_from_args

    config = config_from_args(TrainConfig, args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return config, Path(args.run_dir or f"runs/{stamp}-sort{config.n}"), None


def _error(text: str) -> None:
    print(f"alphadev train: {_one_line(text)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``alphadev train ARGV``; returns the exit code. When the time limit left a long
    network pass running (sort7 and up), the process ends here with that code once everything
    is written, rather than wait for a result no one will use. At interpreter exit the
    garbage collector is frozen (:func:`gc.freeze`): the objects left are the OS's to free,
    which spares half a second of sweeping torch's."""
    started = time.perf_counter()  # the time limit counts from here
    atexit.unregister(gc.freeze)  # once, however often main runs in one process
    atexit.register(gc.freeze)  # at exit, no final sweep of torch's objects: 0.5 s less
    code = _main(list(sys.argv[1:] if argv is None else argv), started)
    from alphadev.train.stopping import left_behind

    if left_behind():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv: list[str], started: float) -> int:
    args = build_parser().parse_args(argv)
    from alphadev.train.loop import STOP_REASONS, TrainError, prepare, run

    try:
        given = _given(argv)
        config, run_dir, saved = _config(args, given)
        prepared = prepare(config, run_dir=run_dir, resume=bool(args.resume),
                           init_from=args.init_from, saved=saved)  # fmt: skip
        if config.ray is not None:
            import_ray()  # the extra is installed, or one line saying how
    except (CheckpointError, ValueError) as exc:  # RunFolderError is a ValueError
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted before training started; nothing written")
        return 130

    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from alphadev.progress import Reporter

    torch.set_num_threads(1)  # one core per process: self-play workers take the others
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Reporter(console, columns, total=config.steps, label="training") as report:

        def on_progress(row: dict) -> None:
            report.update(
                row["step"],
                f"best {row['best_length'] or '-'}  loss {row['loss']:.3f}  "
                f"episodes {row['episodes']}  correct {row['correct_fraction']:.0%} "
                f"(target {row.get('target_length', '-')})",
            )

        def on_status(text: str) -> None:
            report.update(0, text)

        try:
            result = run(prepared, on_progress=on_progress, on_status=on_status,
                         started=started)  # fmt: skip
        except (ClusterError, RunFolderError) as exc:  # the cluster or the disk said no
            failure, code = str(exc), 2
        except TrainError as exc:
            failure, code = str(exc), 1
        else:
            failure, code = None, 0
    if failure is not None:
        _error(failure)
        return code
    why = STOP_REASONS[result.stop_reason]
    if result.stop_reason == "time_limit":
        why = f"time limit of {config.time_limit:g} s reached"
    elif result.stop_reason == "steps":
        why = f"{config.steps:,} steps reached"
    elif result.stop_reason == "target":
        why = f"target length {config.target} reached"
    print(
        f"run {result.run_dir}: stopped at step {result.step} ({why}), "
        f"{plural(result.episodes, 'episode')} played, best length {result.best_length or '-'}; "
        "checkpoint "
        f"{result.checkpoint}"
    )
    return 130 if result.interrupted else 0
