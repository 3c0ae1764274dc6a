"""``alphadev train`` (also ``python -m alphadev.train``): the flags are the fields of
:class:`~alphadev.train.config.TrainConfig`, plus where the run lives."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from alphadev.cluster import ClusterError, import_ray
from alphadev.network import CheckpointError, load_network
from alphadev.options import DefaultsFormatter, add_options, config_from_args, flag_name
from alphadev.train.checkpoints import CHECKPOINT, load_checkpoint
from alphadev.train.config import TrainConfig

__all__ = ["build_parser", "main"]

#: Flags that a resumed run may change; the others come from its checkpoint (``--ray`` and
#: ``--time-limit`` are never taken from it: a run started on Ray resumes without it).
RESUMABLE = ("steps", "time_limit", "workers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphadev train",
        description="Train the policy/value network by self-play (AlphaZero style), "
        "resumably. Exit 0 when done, 130 when interrupted (the checkpoint is written), 2 on "
        "a bad flag or checkpoint.",
        formatter_class=DefaultsFormatter,
    )
    add_options(parser, TrainConfig)
    parser.add_argument("--run-dir", help="run folder (default: runs/<timestamp>-sort<n>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--init-from", metavar="CKPT", help="start from another run's weights")
    return parser


def _config(args: argparse.Namespace, argv: list[str]) -> tuple[TrainConfig, Path]:
    """The run's config and folder; ValueError/CheckpointError for bad input."""
    if args.resume:
        run_dir = Path(args.resume)
        if run_dir.exists() and not run_dir.is_dir():
            raise ValueError(f"--resume {run_dir}: not a folder")
        saved = load_checkpoint(run_dir)["config"]
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        values = {k: v for k, v in saved.items() if k in known}
        for name in RESUMABLE:  # flags given now win over the saved values
            if any(a == flag_name(name) or a.startswith(flag_name(name) + "=") for a in argv):
                values[name] = getattr(args, name)
        values["time_limit"] = args.time_limit
        values["ray"] = args.ray  # how episodes are played is this invocation's choice
        return TrainConfig(**values), run_dir
    config = config_from_args(TrainConfig, args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.run_dir or f"runs/{stamp}-sort{config.n}")
    for place in (run_dir, *run_dir.parents):  # the nearest part that exists must be a folder
        if place.exists():
            if not place.is_dir():
                raise ValueError(f"--run-dir {run_dir}: {place} exists and is not a folder")
            break
    return config, run_dir


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        config, run_dir = _config(args, argv)
        if args.init_from:
            load_network(args.init_from)  # fail early, before any work
        if config.ray is not None:
            import_ray()  # the extra is installed, or one line saying how
    except (CheckpointError, ValueError) as exc:
        print(f"alphadev train: {exc}", file=sys.stderr)
        return 2

    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from alphadev.progress import Reporter
    from alphadev.train.loop import train

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
            result = train(config, run_dir=run_dir, resume=bool(args.resume),
                           init_from=args.init_from, on_progress=on_progress,
                           on_status=on_status)  # fmt: skip
        except ClusterError as exc:
            print(f"alphadev train: {exc}", file=sys.stderr)
            return 2
    print(
        f"run {result.run_dir}: step {result.step}, episodes {result.episodes}, best length "
        f"{result.best_length or '-'}{' (interrupted)' if result.interrupted else ''}; "
        f"checkpoint {result.run_dir / CHECKPOINT}"
    )
    return 130 if result.interrupted else 0
