"""``alphadev learn-guide``: train a cost-to-go for the comparator search by value iteration."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from alphadev.cli.common import MAX_SEED, UsageError, check, check_out_file, clip
from alphadev.cli.exit_codes import INTERRUPTED, OK

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from alphadev.options import DefaultsFormatter

    p = sub.add_parser(
        "learn-guide",
        help="train the comparator search's learned cost-to-go (value iteration, no engine "
        "programs); use it with alphadev search --guide PATH",
        description="Train a cost-to-go h(state) (the core instructions still needed) on the "
        "states of the comparator game of each --sizes n and --isas ISA, by value iteration: a "
        "state's target is the smallest (lowering instructions + h) over its children, 0 where "
        "the wires are sorted; the states come from the net's own epsilon-greedy rollouts. No "
        "program from any engine enters its data. The checkpoint, written atomically to --out, "
        "records this provenance. Ctrl-C stops early and still writes what was trained.",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("--out", default="cost_to_go.pt", help="the checkpoint to write")
    p.add_argument("--seconds", type=float, default=840.0, help="training time")
    p.add_argument("--sizes", default="3,4,5,6", help="sort sizes to train on (3..6)")
    p.add_argument("--isas", default="cmov,minmax", help="ISAs to train on (cmov, minmax)")
    p.add_argument("--seed", type=int, default=0, help="seed of the net and the rollouts (>= 0)")
    p.add_argument(
        "--beam-share",
        type=float,
        default=2 / 7,
        help="share of the time in the second phase (beam rollouts mixed in), 0 to 1",
    )
    p.add_argument(
        "--init-from",
        metavar="PATH",
        help="go on training a cost-to-go checkpoint (its provenance is kept under init_from; "
        "the result counts as free of engine programs only if it was)",
    )
    p.set_defaults(func=run)


def _config(args: argparse.Namespace):
    from alphadev.guide_training import GuideTrainConfig

    try:
        sizes = tuple(int(part) for part in args.sizes.split(","))
    except ValueError:
        raise UsageError(
            f"--sizes {clip(args.sizes, 80)}: expected a comma list of integers"
        ) from None
    isas = tuple(part.strip() for part in args.isas.split(","))
    check("seed", args.seed, 0, MAX_SEED)
    try:
        return GuideTrainConfig(sizes=sizes, isas=isas, seconds=args.seconds, seed=args.seed,
                                beam_share=args.beam_share)  # fmt: skip
    except ValueError as exc:
        raise UsageError(
            str(exc).replace("sizes", "--sizes", 1).replace("isas", "--isas", 1)
        ) from None


def run(args: argparse.Namespace, out: Console) -> int:
    from alphadev.cost_to_go import load_guide, save_guide
    from alphadev.exact.control import SearchControl
    from alphadev.guide_training import train_guide
    from alphadev.interrupts import on_sigint
    from alphadev.network import CheckpointError

    config = _config(args)
    check_out_file(args.out, "--out")
    init = None
    if args.init_from is not None:
        try:
            init = load_guide(args.init_from)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from None
    control = SearchControl()
    interrupted: list[int] = []

    def stop() -> None:
        interrupted.append(1)
        control.stop()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with on_sigint(stop):
        result = train_guide(config, control=control, progress=progress, init=init)
        save_guide(args.out, result.net, result.provenance)
    out.print(
        f"wrote {args.out}: {result.states:,} states, {result.updates:,} updates, "
        f"{result.rollouts:,} rollouts in {result.seconds:.0f} s (sizes "
        f"{','.join(map(str, config.sizes))}, {','.join(config.isas)}; last loss "
        f"{result.last_loss:.4f})"
    )
    return INTERRUPTED if interrupted else OK
