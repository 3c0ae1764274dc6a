"""``alphadev prove``: certify that no sorting kernel of a given length exists."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alphadev.cli.common import (
    UsageError,
    add_ray_flags,
    check_out_file,
    check_ray,
    reporter,
)
from alphadev.cli.exit_codes import FAILED, OK, UNDECIDED
from alphadev.options import check_seconds, option
from alphadev.search import MAX_N, SearchConfig

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ProveConfig", "add_parser", "run"]

MAX_LENGTH_HELP = "full length, loads and stores included"
#: Parts of the question with ``--ledger`` (one split for every run, here or on Ray).
LEDGER_PARTS = 512


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
    ledger: str | None = option(
        None,
        help="keep the parts of the proof already exhausted in this file, and skip them: a "
        "stopped proof resumes where it was, here or on Ray, with any worker count",
        metavar="FILE",
    )

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
    add_options(p, ProveConfig, skip=("max_length", "time_limit", "ledger"))
    p.add_argument("--max-length", type=int, required=True, help=MAX_LENGTH_HELP)
    add_options(p, ProveConfig, skip=("n", "isa", "registers", "max_length"))
    add_ray_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: Console) -> int:
    import time

    from rich.console import Console

    from alphadev import exact
    from alphadev.options import config_from_args
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
    if config.ledger is not None:
        _check_ledger_path(config.ledger)
    if args.max_length >= len(network):  # answered at once: the lowered network is one
        outcome = exact.Outcome("found", network, len(network) - 2 * args.n, 0, 0.0)
        return _report_proof(args, out, outcome, outcome.max_core, space)
    if config.ledger is not None:
        return _prove_by_parts(args, out, config, task, core, space)
    if args.ray is not None:
        return _prove_on_ray(args, out, task, core, space)
    err = Console(stderr=True, highlight=False)
    t0 = time.perf_counter()
    with reporter(err, total=None, label=f"prove sort{args.n} <= {args.max_length}") as report:
        outcome, control = _one_lane(
            task, args.time_limit, lambda control: exact.find(task, core, control=control),
            lambda control: report.update(0, f"states {control.nodes:,}"),
        )  # fmt: skip
    if outcome is None:
        outcome = exact.Outcome("stopped", None, core, control.nodes, time.perf_counter() - t0)
    return _report_proof(args, out, outcome, core, space)


def _report_proof(args: argparse.Namespace, out: Console, outcome, core: int, space,
                  split: dict | None = None) -> int:  # fmt: skip
    """Print a proof's answer (a certificate, the program found, or undecided) as text or
    ``--json``; ``split`` describes the parts of a proof on Ray. Returns the exit code."""
    from alphadev import asm

    exists = {"found": True, "exhausted": False, "stopped": None}[outcome.status]
    split_text = "" if split is None else _split_text(split)
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


def _check_ledger_path(path: str) -> None:
    """Refuse, before any work, a ``--ledger`` path that is not a regular file or a new name
    in a folder where one can be written."""
    check_out_file(path, "--ledger")


def _split_text(split: dict) -> str:
    """The split's line of a proof's report: its parts, where they ran, the ledger."""
    where = "here" if split["workers"] is None else f"on {split['workers']} Ray workers"
    text = (f"{split['parts']} parts (core prefixes of {split['split_depth']} instructions) "
            f"{where}, {split['parts_exhausted']} exhausted")  # fmt: skip
    if split.get("ledger") is not None:
        text += f" ({split['parts_skipped']} of them by earlier runs, ledger {split['ledger']})"
    if split["workers"] is not None:
        text += f", {split['workers_replaced']} workers replaced"
        left = split.get("workers_left")
        if left is not None and left < split["workers"]:
            text += f", {left} left at the end (a node was lost)"
    return text


def _prove_by_parts(args: argparse.Namespace, out: Console, config: ProveConfig, task,
                    core: int, space) -> int:  # fmt: skip
    """``prove --ledger FILE``: the question cut into :data:`LEDGER_PARTS` parts, searched
    here one by one or on Ray; each part that comes back exhausted is written to the ledger
    at once, and the parts a ledger already holds are skipped. The certificate's states and
    seconds add up every run's exhausted parts."""
    import time

    from rich.console import Console

    from alphadev import exact
    from alphadev.exact.ledger import LedgerError, ProofLedger, question_of
    from alphadev.exact.split import split_space

    t0 = time.perf_counter()
    split = split_space(task, core, parts=LEDGER_PARTS)
    if split.solution is not None:
        program = exact.assemble(task, split.solution)
        outcome = exact.Outcome("found", program, core, 0, time.perf_counter() - t0)
        return _report_proof(args, out, outcome, core, space)
    try:
        ledger = ProofLedger.open(config.ledger, question_of(task, core, split.prefixes))
    except LedgerError as exc:
        raise UsageError(f"--ledger {exc}") from None
    skipped, parts = len(ledger.exhausted), len(split.prefixes)
    err = Console(stderr=True, highlight=False)
    label = f"prove sort{args.n} <= {args.max_length}" + (" on Ray" if args.ray else "")
    with reporter(err, total=None, label=label) as report:

        def on_progress(done: int, _parts: int, states: int) -> None:
            report.update(0, f"parts {done}/{parts}  states {states:,}")

        if args.ray is not None:
            status, program, workers, restarts, left = _parts_on_ray(
                args, task, core, split, ledger, on_progress
            )
        else:
            status, program = _parts_here(args, task, core, split, ledger, on_progress)
            workers = restarts = left = None
    seconds = time.perf_counter() - t0
    if status == "exhausted":
        seconds = ledger.seconds  # the parts' search time over every run
    outcome = exact.Outcome(status, program, core, ledger.states, seconds)
    info = {"parts": parts, "parts_exhausted": len(ledger.exhausted), "parts_skipped": skipped,
            "split_depth": split.depth, "workers": workers, "workers_replaced": restarts,
            "workers_left": left, "ledger": str(config.ledger)}  # fmt: skip
    return _report_proof(args, out, outcome, core, space, info)


def _parts_here(args, task, core: int, split, ledger, on_progress) -> tuple[str, object]:
    """The parts not in the ledger, on a lane of this process, until the answer or the time
    limit. Returns ``(status, program)``."""
    from alphadev.exact.split import search_parts

    answer, _ = _one_lane(
        task, args.time_limit,
        lambda control: search_parts(task, core, split.prefixes, skip=set(ledger.exhausted),
                                     on_exhausted=ledger.record, control=control),
        lambda _control: on_progress(len(ledger.exhausted), 0, ledger.states),
    )  # fmt: skip
    return ("stopped", None) if answer is None else (answer.status, answer.program)


def _one_lane(task, time_limit: float, work, on_tick):
    """``work(control)`` (a proof's search, polling the ``SearchControl``) on a lane of this
    process against the clock, ``on_tick(control)`` between two looks. Returns what it
    returned (None when the time limit stopped it first) and the control (its states). At
    the limit the kernel stops at its next poll; one that has not stopped within the grace (a
    first run compiling it) is left behind, and the answer is undecided."""
    import time

    from alphadev.race import Race, start_lane, stop_lanes, watch

    t0 = time.perf_counter()
    race = Race(task, None, t0)  # one lane: the proof; its stop signal reaches the kernel
    answer = []
    lane = start_lane(race, "prove", lambda: answer.append(work(race.control)))
    watch(race, t0 + time_limit, lanes=[lane], wait=lane.join, every=0.1,
          on_tick=lambda: on_tick(race.control))  # fmt: skip
    stop_lanes(race, [lane])
    if race.errors:
        raise race.errors[0]
    return (answer[0] if answer else None), race.control


def _parts_on_ray(args, task, core: int, split, ledger, on_progress):
    """The parts not in the ledger on Ray. Returns ``(status, program, workers, workers
    replaced, workers left)``."""
    from alphadev.distributed import prove_on_ray

    try:
        outcome = prove_on_ray(task, core, address=args.ray, workers=args.workers,
                               time_limit=args.time_limit, on_progress=on_progress, split=split,
                               skip=set(ledger.exhausted), on_exhausted=ledger.record)  # fmt: skip
    except ValueError as exc:  # the cluster cannot be joined, or is too small
        raise UsageError(str(exc)) from None
    return outcome.status, outcome.program, outcome.workers, outcome.restarts, outcome.workers_left


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
