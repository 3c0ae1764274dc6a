"""``alphadev train``: parsed and run by :mod:`alphadev.train.cli` (``python -m alphadev.train``
takes the same flags); here only its line in ``alphadev --help`` and the output-path checks."""

from __future__ import annotations

import sys
from pathlib import Path

from alphadev.cli.common import UsageError, check_out_dir, clip, exists
from alphadev.cli.exit_codes import USAGE

__all__ = ["add_parser", "check_train_paths", "run"]


def add_parser(sub) -> None:
    """Listed in ``alphadev --help`` only: :func:`run` hands the arguments to its own parser."""
    sub.add_parser(
        "train",
        help="train the policy/value network by self-play (see alphadev train --help)",
        add_help=False,
    )


def check_train_paths(argv: list[str]) -> None:
    """``--run-dir`` must be a folder that can be written, ``--resume`` an existing folder:
    refused with one line before training starts."""
    from alphadev.train.cli import build_parser as train_parser

    args, _ = train_parser().parse_known_args(argv)
    if args.run_dir:
        check_out_dir(args.run_dir, "--run-dir")
    if args.resume:
        folder = Path(args.resume)
        if not exists(folder, "--resume") or not folder.is_dir():
            raise UsageError(f"--resume {clip(args.resume, 200)}: not a folder")


def run(argv: list[str]) -> int:
    """``alphadev train ARGS``: the paths checked, then :func:`alphadev.train.cli.main`."""
    from alphadev.train.cli import main as train_main

    try:
        check_train_paths(argv)
    except UsageError as exc:
        print(f"alphadev train: {clip(str(exc))}", file=sys.stderr)
        return USAGE
    return train_main(argv)
