"""``alphadev prove``: certify that no sorting kernel of a given length exists."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alphadev.cli.common import UsageError, add_ray_flags, check_ray, reporter
from alphadev.cli.exit_codes import FAILED, OK, UNDECIDED
from alphadev.options import check_seconds, option
from alphadev.search import MAX_N, SearchConfig

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ProveConfig", "add_parser", "run"]

MAX_LENGTH_HELP = "full length, loads and stores included"


@dataclass(frozen=True, kw_only=True)
class ProveConfig:
    """What to prove and for how long (keyword-only; the fields with help are the flags of
    ``alphadev prove``, with these defaults). ``n``, ``isa`` and ``registers`` are validated
    as :class:`~alphadev.search.SearchConfig` validates them, with its words."""

    n: int = option(3, help=f"sort size, 2..{MAX_N}")
    isa: str = option("cmov", help="cmov, minmax, full, or a comma list of opcodes")
    registers: int | None = option(None, help="register count (default n+1)")
    max_length: int = option(help=MAX_LENGTH_HELP)
    time_limit: float = option(3600.0, help="seconds, at most a week", metavar="TIME_LIMIT")

    def __post_init__(self) -> None:
        SearchConfig(n=self.n, isa=self.isa, registers=self.registers)
        check_seconds("time_limit", self.time_limit)
        if self.max_length - 2 * self.n < 0:
            raise ValueError(
                f"--max-length {self.max_length} is below the {2 * self.n} loads and "
                f"stores every sort{self.n} needs"
            )


def add_parser(sub) -> None:
    from alphadev.options import DefaultsFormatter, add_options

    p = sub.add_parser(
        "prove",
        help="certify that no sorting kernel of a given length exists",
        description="Exhaustive search of the enumeration space. Exit 0 with a certificate "
        "(the space, states generated, seconds) when no program of length <= MAX_LENGTH "
        "exists, 1 (printing one) when it does, 3 when the time limit ran out first, 2 on a "
        "bad flag.",
        formatter_class=DefaultsFormatter,
    )
    # add_options makes no flag required: --max-length is added by hand, in its place
    add_options(p, ProveConfig, skip=("max_length", "time_limit"))
    p.add_argument("--max-length", type=int, required=True, help=MAX_LENGTH_HELP)
    add_options(p, ProveConfig, skip=("n", "isa", "registers", "max_length"))
    add_ray_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: Console) -> int:
    import threading
    import time

    from rich.console import Console

    from alphadev import exact
    from alphadev.options import config_from_args
    from alphadev.search import STOP_GRACE
    from alphadev.tasks import SortTask

    try:
        config = config_from_args(ProveConfig, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    task = SortTask(config.n, config.registers, config.isa)
    space = exact.Space.of(task)
    core = config.max_length - 2 * config.n
    network = exact.assemble(task, exact.network_core(task))
    check_ray(args)
    if args.max_length >= len(network):  # answered at once: the lowered network is one
        outcome = exact.Outcome("found", network, len(network) - 2 * args.n, 0, 0.0)
        return _report_proof(args, out, outcome, outcome.max_core, space)
    if args.ray is not None:
        return _prove_on_ray(args, out, task, core, space)
    control = exact.SearchControl()
    err = Console(stderr=True, highlight=False)
    result: list[exact.Outcome] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(exact.find(task, core, control=control))
        except BaseException as exc:  # handed to the calling thread
            errors.append(exc)

    worker = threading.Thread(target=work, name="prove", daemon=True)
    t0 = time.perf_counter()
    deadline = t0 + args.time_limit
    with reporter(err, total=None, label=f"prove sort{args.n} <= {args.max_length}") as report:
        worker.start()
        while worker.is_alive():
            now = time.perf_counter()
            if now >= deadline + STOP_GRACE:
                break  # not stopped yet (a first run compiling the kernel): undecided
            if now >= deadline:
                control.stop()  # the kernel sees it at its next poll
            worker.join(0.1)
            report.update(0, f"states {control.nodes:,}")
    if errors:
        raise errors[0]
    if result:
        outcome = result[0]
    else:
        outcome = exact.Outcome("stopped", None, core, control.nodes, time.perf_counter() - t0)
    return _report_proof(args, out, outcome, core, space)


def _report_proof(args: argparse.Namespace, out: Console, outcome, core: int, space,
                  split: dict | None = None) -> int:  # fmt: skip
    """Print a proof's answer (a certificate, the program found, or undecided) as text or
    ``--json``; ``split`` describes the parts of a proof on Ray. Returns the exit code."""
    from alphadev import asm

    exists = {"found": True, "exhausted": False, "stopped": None}[outcome.status]
    split_text = ""
    if split is not None:
        split_text = (f"{split['parts']} parts (core prefixes of {split['split_depth']} "
                      f"instructions) on {split['workers']} Ray workers, "
                      f"{split['parts_exhausted']} exhausted, {split['workers_replaced']} "
                      "workers replaced")  # fmt: skip
        left = split.get("workers_left")
        if left is not None and left < split["workers"]:
            split_text += f", {left} left at the end (a node was lost)"
    if args.json:
        print(json.dumps({
            "exists": exists,
            "length": len(outcome.program) if outcome.program else None,
            "max_length": args.max_length,
            "states": outcome.nodes,
            "seconds": round(outcome.seconds, 3),
            "space": space.describe(),
            **(split or {}),
        }, indent=2))  # fmt: skip
    elif exists is False:
        out.print(
            f"[green]certified[/]: no sort{args.n} program of length <= "
            f"{args.max_length} (core <= {core}) exists"
        )
        out.print(f"  space: {space.describe()}", soft_wrap=True)
        if split_text:
            out.print(f"  split: {split_text}: every part exhausted", soft_wrap=True)
        out.print(f"  states generated: {outcome.nodes:,}; seconds: {outcome.seconds:.2f}")
    elif exists:
        out.print(f"a sort{args.n} program of length {len(outcome.program)} exists:")
        out.print(asm.format(outcome.program), end="", markup=False)
    else:
        where = f" ({split_text})" if split_text else ""
        out.print(
            f"undecided: stopped at the {args.time_limit:g} s time limit{where} after "
            f"{outcome.nodes:,} states"
        )
    return {False: OK, True: FAILED, None: UNDECIDED}[exists]


def _prove_on_ray(args: argparse.Namespace, out: Console, task, core: int, space) -> int:
    """``prove --ray``: the space split into parts over Ray workers; a certificate only when
    every part came back exhausted."""
    from rich.console import Console

    from alphadev.distributed import prove_on_ray

    err = Console(stderr=True, highlight=False)
    label = f"prove sort{args.n} <= {args.max_length} on Ray"
    with reporter(err, total=None, label=label) as report:

        def on_progress(done: int, parts: int, states: int) -> None:
            report.update(0, f"parts {done}/{parts}  states {states:,}")

        try:
            outcome = prove_on_ray(task, core, address=args.ray, workers=args.workers,
                                   time_limit=args.time_limit, on_progress=on_progress)  # fmt: skip
        except ValueError as exc:  # the cluster cannot be joined, or is too small
            raise UsageError(str(exc)) from None
    split = {"parts": outcome.parts, "parts_exhausted": outcome.exhausted,
             "split_depth": outcome.depth, "workers": outcome.workers,
             "workers_replaced": outcome.restarts,
             "workers_left": outcome.workers_left}  # fmt: skip
    return _report_proof(args, out, outcome, core, space, split)
