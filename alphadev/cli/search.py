"""``alphadev search``: discover a short sorting kernel, verify it and save it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from alphadev.cli.common import (
    UsageError,
    add_ray_flags,
    check_out_dir,
    check_ray,
    clip,
    exists,
    reporter,
)
from alphadev.cli.exit_codes import FAILED, INTERRUPTED, OK

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from alphadev.options import DefaultsFormatter, add_options
    from alphadev.search import SearchConfig

    p = sub.add_parser(
        "search",
        help="discover a short sorting kernel, verify it and save it",
        description="Search for a short sorting kernel with the engines racing on one "
        "best-so-far, verify the best on every tie pattern and random int32 inputs, and write "
        "it to OUT/sort{n}_{isa}_{length}.s unless OUT already holds one as short. Exit 0 if "
        "a verified kernel was found, 1 if none, 2 on a bad flag or an unwritable OUT, 130 if "
        "interrupted (the best kernel so far is still verified and written).",
        formatter_class=DefaultsFormatter,
    )
    add_options(p, SearchConfig)
    add_ray_flags(p)
    p.add_argument("--out", default="asm/discovered", help="output folder")
    p.add_argument("--force", action="store_true", help="write even if OUT holds a kernel as short")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _ignore_further_interrupts() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _write_found(result, args: argparse.Namespace, speed: bool):
    """Write the verified shortest (and, with a speed objective, fastest) kernel to ``--out``;
    where that fails, print the kernels instead (never lose one). Returns ``(path, what,
    fast_path, fast_what)``."""
    from alphadev import asm
    from alphadev.catalogue import write_fastest, write_kernel

    path, what, fast_path, fast_what = None, "nothing found", None, ""
    try:
        path, what = write_kernel(result, args.out, force=args.force)
        if speed:
            fast_path, fast_what = write_fastest(result, args.out, force=args.force)
    except OSError as exc:  # never lose a verified kernel: print it instead
        what = f"could not write to {args.out} ({exc.strerror or exc}); the kernel is printed"
        print(f"alphadev search: {what}", file=sys.stderr)
        if args.json:
            print(asm.format(result.best.program), end="", file=sys.stderr)
            if speed:
                print(asm.format(result.fastest.program), end="", file=sys.stderr)
    return path, what, fast_path, fast_what


def run(args: argparse.Namespace, out: Console) -> int:
    from rich.console import Console

    from alphadev.interrupts import on_sigint
    from alphadev.search import run_search

    config = _checked_config(args)
    err = Console(stderr=True, highlight=False)
    with reporter(err, total=config.time_limit, label=f"sort{config.n} search") as report:

        def on_progress(seconds, best, simulations, states):
            best_text = "-" if best is None else str(best.length)
            report.update(
                min(seconds, config.time_limit),
                f"best {best_text}  sims {simulations:,}  states {states:,}",
            )

        try:
            if args.ray is None:
                result = run_search(config, on_progress=on_progress)
            else:
                from alphadev.distributed import search_on_ray

                result = search_on_ray(config, address=args.ray, workers=args.workers,
                                       on_progress=on_progress)  # fmt: skip
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    _print_notes(result)
    path, what = (None, "nothing found")
    fast_path, fast_what = (None, "")
    speed = config.objective != "length" and result.fastest is not None
    late: list[int] = []  # a Ctrl-C now waits for the writes (the atomic renames) to finish
    with on_sigint(lambda: late.append(1)):
        if result.correct:
            path, what, fast_path, fast_what = _write_found(result, args, speed)
    if late:
        result.stop_reason = "interrupted"
    if result.stop_reason == "interrupted":
        _ignore_further_interrupts()  # it is exiting 130 with what it kept: nothing to stop
    best = result.best
    interrupted = result.stop_reason == "interrupted"
    if interrupted:
        kept = (
            f"kept the best kernel found, length {best.length}, verified ({what})"
            if result.correct
            else "no kernel was found before it"
        )
        print(f"alphadev search: interrupted; {kept}", file=sys.stderr)
    code = INTERRUPTED if interrupted else (OK if result.correct else FAILED)
    if args.json:
        print(json.dumps(_summary_json(result, config, path, what, fast_path, fast_what), indent=2))
        return code
    if best is None:
        out.print(
            f"[red]no correct sort{args.n} found[/] in {result.seconds:.1f} s "
            f"({result.stop_reason})"
        )
        for text in result.memory_capped:
            out.print(f"memory cap hit: {text}")
        return code
    _print_summary(out, result, config, what, fast_what, speed)
    return code


def _checked_config(args: argparse.Namespace):
    """The ``SearchConfig`` of the flags, every flag and path checked before any work (one
    line and exit 2 through ``UsageError``)."""
    from alphadev.options import config_from_args
    from alphadev.search import SearchConfig

    try:
        config = config_from_args(SearchConfig, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.checkpoint not in (None, "untrained", "heuristic"):
        checkpoint = Path(args.checkpoint)
        if not exists(checkpoint, "--checkpoint"):
            raise UsageError(f"--checkpoint: {clip(args.checkpoint, 200)}: no such file")
        if not checkpoint.is_file():
            raise UsageError(f"--checkpoint: {clip(args.checkpoint, 200)}: not a regular file")
    if args.guide not in ("hand", "learned"):
        guide = Path(args.guide)
        if not exists(guide, "--guide"):
            raise UsageError(f"--guide: {clip(args.guide, 200)}: not hand, learned or a file")
        if not guide.is_file():
            raise UsageError(f"--guide: {clip(args.guide, 200)}: not a regular file")
    if args.guide != "hand" and args.ray is not None:
        raise UsageError(
            "--guide: the comparator search on Ray is not guided yet (use --guide hand)"
        )
    check_out_dir(args.out)
    check_ray(args)
    return config


def _print_notes(result) -> None:
    """The notes on stderr: a lane left behind, kernels still compiling in the background."""
    if result.left_behind:
        doing = result.left_behind_doing or ("",) * len(result.left_behind)
        lanes = " and ".join(
            f"the {name} lane ({what or 'compiling numba kernels, as on a first run'})"
            for name, what in zip(result.left_behind, doing, strict=True)
        )
        print(
            f"alphadev search: note: the search ended ({result.stop_reason}) while {lanes} "
            f"{'were' if len(result.left_behind) > 1 else 'was'} still busy; nothing found was "
            "lost",
            file=sys.stderr,
        )
    if result.compiling_after:
        groups = ", ".join(result.compiling_after)
        print(
            f"alphadev search: note: numba goes on compiling the kernels of {groups} in the "
            "background at low priority (up to about 30 s), so the next search has every "
            "engine from its start",
            file=sys.stderr,
        )


def _summary_json(result, config, path, what: str, fast_path, fast_what: str) -> dict:
    """The ``--json`` summary (keys documented in docs/commands.md)."""
    best, fastest = result.best, result.fastest
    return {
        "correct": result.correct,
        "length": best.length if best else None,
        "core_length": best.core_length if best else None,
        "critical_path": best.critical_path if best else None,
        "seconds": round(result.seconds, 3),
        "seconds_to_best": round(best.seconds, 3) if best else None,
        "simulations": result.simulations,
        "states": result.states,
        "path": str(path) if path else None,
        "written": what,
        "found_by": best.found_by if best else None,
        "optimal": result.optimal,
        "stop_reason": result.stop_reason,
        "evaluator": result.evaluator,
        "peak_rss_mb": _peak_rss_mb(),
        "memory": config.memory,
        "memory_capped": list(result.memory_capped),
        "cluster": result.cluster or None,
        "objective": config.objective,
        "cycles_throughput": fastest.throughput if fastest else None,
        "cycles_latency": fastest.latency if fastest else None,
        "fastest": _fastest_json(result, fast_path, fast_what) if fastest else None,
    }


def _print_summary(out: Console, result, config, what: str, fast_what: str, speed: bool) -> None:
    """The listing (the fastest kernel with a speed objective) and the summary table."""
    from rich.table import Table
    from rich.text import Text

    from alphadev import asm

    best, fastest = result.best, result.fastest
    shown = fastest if speed else best
    out.print(asm.format(shown.program, header=None), end="", markup=False)
    table = Table(title=f"alphadev search: sort{config.n} ({config.isa})", show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="left", overflow="fold")
    rows = [
        ("length", f"{best.length} (core {best.core_length})"),
        ("critical path", str(best.critical_path)),
        ("found by", best.found_by),
        ("optimal", "yes, in the enumeration space" if result.optimal else "not proved"),
        ("found after", f"{best.seconds:.2f} s"),
        ("search time", f"{result.seconds:.2f} s ({result.stop_reason})"),
        ("MCTS simulations", f"{result.simulations:,} in all ({result.evaluator})"),
        ("states", f"{result.states:,}"),
        ("verified", f"{result.verified.rows:,} rows"),
        ("peak memory", f"{_peak_rss_mb():,.0f} MB resident (budget {config.memory})"),
        *[
            ("memory cap hit", f"{text} (the search went on; nothing found was lost)")
            for text in result.memory_capped
        ],
        *([("cluster", result.cluster)] if result.cluster else []),
        ("file", what),
        *(_speed_rows(result, fast_what) if speed else []),
    ]
    for key, value in rows:
        table.add_row(key, Text(value))  # paths and found_by literally, never as markup
    out.print(table)


def _speed_rows(result, fast_what: str) -> list[tuple[str, str]]:
    """Summary rows of the objective's pick (the listing printed above)."""
    from alphadev.progress import plural

    fastest, native, network = result.fastest, result.native, result.network
    rows = [
        ("objective", f"{result.config.objective}: the listing above is the fastest kernel found"),
        ("fastest", f"{fastest.length} instructions, {fastest.found_by}"),
        ("predicted cycles", f"throughput {fastest.throughput:.2f}, latency "
                             f"{fastest.latency:.2f} per call (network {network.throughput:.2f}, "
                             f"{network.latency:.2f}; Zen 3 model)"),
    ]  # fmt: skip
    if native is not None:
        timing = native.timing(fastest)
        measured = (
            f"throughput {timing.throughput_ns:.2f} ns "
            f"({native.ratio(fastest, 'throughput'):.3f}x the network), latency "
            f"{timing.latency_ns:.2f} ns ({native.ratio(fastest, 'latency'):.3f}x); "
            f"{native.machine}"
        )
        rows.append(("measured", measured))
    rows.append(("picked", f"{result.pick_note}; {plural(result.pareto_size, 'kernel')} on the "
                           "length/speed trade-off"))  # fmt: skip
    rows.append(("fast file", fast_what))
    return rows


def _fastest_json(result, path, what: str) -> dict:
    fastest, native = result.fastest, result.native
    out = {"length": fastest.length, "found_by": fastest.found_by,
           "cycles_throughput": fastest.throughput, "cycles_latency": fastest.latency,
           "network_cycles_throughput": result.network.throughput,
           "network_cycles_latency": result.network.latency,
           "pareto_size": result.pareto_size, "picked": result.pick_note,
           "path": str(path) if path else None, "written": what}  # fmt: skip
    if native is not None:
        timing = native.timing(fastest)
        out.update({"native_throughput_ns": timing.throughput_ns,
                    "native_latency_ns": timing.latency_ns,
                    "native_throughput_ratio": native.ratio(fastest, "throughput"),
                    "native_latency_ratio": native.ratio(fastest, "latency"),
                    "machine": native.machine})  # fmt: skip
    return out
