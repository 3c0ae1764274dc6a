"""The ``alphadev`` command line.

Exit codes: 0 success; 1 a kernel is wrong, no kernel was found in time, or (``prove``) a
program of the length exists; 2 bad input (malformed assembly, a missing, unreadable or too
large file, a bad flag, an output that cannot be written): one line on stderr, no traceback,
nothing written; 3 (``prove``) undecided within the time limit; 130 interrupted (Ctrl-C; a
search still verifies and writes or prints the best kernel it had).

Every size a user controls is bounded (:data:`alphadev.asm.MAX_N`, ``MAX_REGISTERS``,
``MAX_INSTRUCTIONS``, ``MAX_FILE_BYTES``; :data:`alphadev.tasks.MAX_RANDOM_ROWS`; the search's
and the time limit's bounds in :class:`alphadev.search.SearchConfig`). The heavy modules
(numba, rich) are imported inside :func:`main`, so that a Ctrl-C during start-up is one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

    from alphadev import asm

__all__ = ["main"]

#: Characters of one error line at most (a flag's value is echoed in it).
MAX_MESSAGE = 400
#: Page width when the output is piped or redirected: tables take their natural width.
PIPED_WIDTH = 1000
#: The largest seed accepted.
MAX_SEED = 2**63 - 1


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and never echo a whole huge value)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {_clip(message)} (see {self.prog} --help)\n")


def _check(name: str, value, low=None, high=None) -> None:
    """:func:`alphadev.options.check_range` as a :class:`UsageError`."""
    from alphadev.options import check_range

    try:
        check_range(name, value, low, high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_layout_flags(args: argparse.Namespace) -> None:
    from alphadev.asm import MAX_N, MAX_REGISTERS

    _check("n", args.n, 1, MAX_N)
    _check("registers", args.registers, 1, MAX_REGISTERS)


def _exists(path: Path, flag: str) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag} {_clip(str(path), 100)}: {exc}") from None


def _load(path: str, n: int | None, registers: int | None) -> asm.Listing:
    """Read a kernel file. ``--n`` and ``--registers`` stand in for a header that lacks them; one
    that disagrees with the header is an error. Messages name the path as it was given (plain
    text: they are printed without markup)."""
    from alphadev import asm

    file = Path(path)
    shown = _clip(path, 200)
    if not _exists(file, "file"):
        raise UsageError(f"{shown}: no such file")
    if file.is_dir():
        raise UsageError(f"{shown}: is a directory, expected an assembly file")
    if not file.is_file():
        raise UsageError(f"{shown}: not a regular file")
    try:
        return asm.parse_file(file, n=n, registers=registers)
    except asm.HeaderConflict as exc:
        flag = "--n" if exc.key == "task" else "--registers"
        raise UsageError(
            f"{flag} {exc.given} disagrees with {shown}:{exc.line}:{exc.column}: its header "
            f"says '; {exc.key}: {exc.stated}' ({flag} {exc.header_value}); drop {flag} or "
            "make them agree"
        ) from None
    except asm.AsmError as exc:
        raise UsageError(str(exc.with_path(shown))) from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{shown}: {exc}") from None


def _check_out_dir(path: str, flag: str = "--out", *, named: str | None = None) -> None:
    """Refuse an output folder that cannot be written, before any work is done
    (:func:`alphadev.atomic.unwritable_folder`: the nearest existing folder on the path must
    be a folder in which a file can be created). ``named`` is the path the message names
    (default ``path``)."""
    from alphadev.atomic import unwritable_folder

    why = unwritable_folder(path)
    if why is not None:
        raise UsageError(f"{flag} {_clip(named or path, 200)}: {_clip(why, 200)}")


#: Ray workers a search or proof may ask for.
MAX_RAY_WORKERS = 1024


def _check_ray(args: argparse.Namespace) -> None:
    """``--workers`` only with ``--ray`` and in range (default 2), and with ``--ray`` the ray
    extra installed: else one line."""
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers is for --ray (without it the search runs two lanes here)")
    if args.workers is None:
        args.workers = 2
    if not 1 <= args.workers <= MAX_RAY_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_RAY_WORKERS}, got {args.workers}")
    if args.ray is None:
        return
    from alphadev.cluster import ClusterError, check_address, import_ray

    if not args.ray.strip():
        raise UsageError("--ray: empty address (give HOST:PORT, or --ray alone for a local Ray)")
    try:
        check_address(args.ray)
        import_ray()
    except ClusterError as exc:
        raise UsageError(str(exc)) from None


def _check_out_file(path: str, flag: str, source: str | None = None) -> None:
    """Refuse an output file that cannot be written (or that is the input)."""
    file = Path(path)
    shown = _clip(path, 200)
    if _exists(file, flag) and file.is_dir():
        raise UsageError(f"{flag} {shown}: is a folder, expected a file name")
    if source is not None and _exists(file, flag) and file.resolve() == Path(source).resolve():
        raise UsageError(f"{flag} {shown}: is the input file; choose another output")
    parent = file.parent
    if not _exists(parent, flag) or not parent.is_dir():
        raise UsageError(f"{flag} {shown}: the folder {_clip(str(parent), 200)} does not exist")
    _check_out_dir(str(parent), flag, named=path)


# ------------------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace, out: Console) -> int:
    from rich.table import Table
    from rich.text import Text

    from alphadev.tasks import MAX_RANDOM_ROWS, verify

    _check_layout_flags(args)
    _check("random_rows", args.random_rows, 0, MAX_RANDOM_ROWS)
    _check("seed", args.seed, 0, MAX_SEED)
    listings = []
    errors = []
    for path in args.files:
        try:
            listings.append((path, _load(path, args.n, args.registers)))
        except UsageError as exc:
            errors.append(str(exc))
    if errors:
        for line in errors:
            print(_clip(line), file=sys.stderr)
        return 2

    results = []
    for path, listing in listings:
        program = listing.program
        res = verify(program, program.layout.n, random_rows=args.random_rows, seed=args.seed)
        results.append(
            {
                "file": path,
                "correct": res.correct,
                "length": len(program),
                "core_length": len(program) - 2 * program.layout.n,
                "rows": res.rows,
                "counterexample": res.counterexample.to_dict() if res.counterexample else None,
                "reason": res.reason,
            }
        )

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        table = Table(title="alphadev verify")
        table.add_column("file", overflow="fold")
        for column in ("correct", "length", "core length", "rows checked"):
            table.add_column(column, justify="right", no_wrap=True)
        for row in results:  # paths and reasons are Text: a '[' in them is not markup
            mark = Text("yes", style="green") if row["correct"] else Text("NO", style="red")
            table.add_row(
                Text(row["file"]),
                mark,
                str(row["length"]),
                str(row["core_length"]),
                str(row["rows"]),
            )
        out.print(table)
        for row in results:
            if row["correct"]:
                continue
            out.print(Text.assemble((row["file"], "red"), ": ", str(row["reason"])))
            if row["counterexample"]:
                ce = row["counterexample"]
                out.print(
                    Text(
                        f"  counterexample: input {ce['input']} expected {ce['expected']} "
                        f"got {ce['got']}"
                    )
                )
    return 0 if all(row["correct"] for row in results) else 1


# ---------------------------------------------------------------------------------------- run


def _parse_input(text: str, n: int) -> list[int]:
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) != n:
        raise UsageError(f"--input: the kernel sorts {n} values, got {len(parts)}")
    import re

    values = []
    for part in parts:
        part = part.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,11}", part):
            raise UsageError(
                f"--input: expected comma-separated int32 values, found {_clip(repr(part), 40)}"
            )
        value = int(part)
        if not -(2**31) <= value < 2**31:
            raise UsageError(f"--input: {value} does not fit in int32")
        values.append(value)
    return values


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    from rich.text import Text

    from alphadev import asm
    from alphadev.emulator import reference_trace
    from alphadev.isa import Op
    from alphadev.tasks import static_error

    _check_layout_flags(args)
    listing = _load(args.file, args.n, args.registers)
    program = listing.program
    layout = program.layout
    values = _parse_input(args.input, layout.n)
    why = static_error(program, registers_start_at_zero=True)  # the flags: it cannot run
    if why is not None:
        raise UsageError(f"{args.file}: {why}; it cannot be traced")
    try:
        trace = reference_trace(program, values + [0] * layout.registers)
    except ValueError as exc:
        raise UsageError(f"{args.file}: {exc}") from None

    header = ["step", "instruction", *map(layout.name, range(layout.num_locations)), "flags"]
    written = set(range(layout.n))
    flags = "-"
    previous = values + [0] * layout.registers

    def cells(row: list[int]) -> list[str]:
        return [str(row[loc]) if loc in written else "." for loc in range(layout.num_locations)]

    lines = [header, ["0", "(input)", *cells(previous), flags]]
    for step, (ins, row) in enumerate(zip(program.code, trace, strict=True), start=1):
        if ins.op == Op.CMP:
            a, b = previous[ins.dst], previous[ins.src]
            flags = "<" if a < b else (">" if a > b else "=")
        else:
            written.add(ins.dst)
        lines.append([str(step), asm.format_instruction(layout, ins), *cells(row), flags])
        previous = row
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    print(f"{args.file} on input {values}  (. = not yet written; flags of the last cmp)")
    for line in lines:
        print(
            "  ".join(
                cell.ljust(w) if c in (1, len(header) - 1) else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    undefined = static_error(program)
    if undefined is not None:
        out.print(
            Text(f"note: {undefined} (registers start at 0 here; verify refuses this kernel)"),
            soft_wrap=True,
        )
    final = previous[: layout.n]
    want = sorted(values)
    if final == want:
        out.print(Text.assemble(f"output {final}: ", ("sorted", "green")))
        return 0
    if final == sorted(final):
        why = f"in order, but not the input's values (expected {want})"
    else:
        why = f"not in order (expected {want})"
    out.print(Text.assemble(f"output {final}: ", ("wrong", "red"), f", {why}"), soft_wrap=True)
    return 1


# ------------------------------------------------------------------------------------- search


def _task(args: argparse.Namespace):
    """The task of ``--n``, ``--isa``, ``--registers``, validated as the search validates."""
    from alphadev.search import SearchConfig
    from alphadev.tasks import SortTask

    try:
        SearchConfig(n=args.n, isa=args.isa, registers=args.registers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return SortTask(args.n, args.registers, args.isa)


def _reporter(err: Console, *, total: float | None, label: str):
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from alphadev.progress import Reporter

    columns = (TimeElapsedColumn(), BarColumn(bar_width=20), TextColumn("{task.description}"))
    return Reporter(err, columns, total=total, label=label)


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


def cmd_search(args: argparse.Namespace, out: Console) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from alphadev import asm
    from alphadev.interrupts import on_sigint
    from alphadev.options import config_from_args
    from alphadev.search import SearchConfig, run_search

    try:
        config = config_from_args(SearchConfig, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.checkpoint not in (None, "untrained", "heuristic"):
        checkpoint = Path(args.checkpoint)
        if not _exists(checkpoint, "--checkpoint"):
            raise UsageError(f"--checkpoint: {_clip(args.checkpoint, 200)}: no such file")
        if not checkpoint.is_file():
            raise UsageError(f"--checkpoint: {_clip(args.checkpoint, 200)}: not a regular file")
    _check_out_dir(args.out)
    _check_ray(args)
    err = Console(stderr=True, highlight=False)
    with _reporter(err, total=config.time_limit, label=f"sort{config.n} search") as report:

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
    fastest = result.fastest
    interrupted = result.stop_reason == "interrupted"
    if interrupted:
        kept = (
            f"kept the best kernel found, length {best.length}, verified ({what})"
            if result.correct
            else "no kernel was found before it"
        )
        print(f"alphadev search: interrupted; {kept}", file=sys.stderr)
    code = 130 if interrupted else (0 if result.correct else 1)
    if args.json:
        print(
            json.dumps(
                {
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
                },
                indent=2,
            )
        )
        return code
    if best is None:
        out.print(
            f"[red]no correct sort{args.n} found[/] in {result.seconds:.1f} s "
            f"({result.stop_reason})"
        )
        for text in result.memory_capped:
            out.print(f"memory cap hit: {text}")
        return code
    shown = fastest if speed else best
    out.print(asm.format(shown.program, header=None), end="", markup=False)
    table = Table(title=f"alphadev search: sort{args.n} ({config.isa})", show_header=False)
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
    return code


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


def cmd_prove(args: argparse.Namespace, out: Console) -> int:
    import threading
    import time

    from rich.console import Console

    from alphadev import exact
    from alphadev.options import check_seconds
    from alphadev.search import STOP_GRACE

    task = _task(args)
    try:
        check_seconds("time_limit", args.time_limit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    space = exact.Space.of(task)
    core = args.max_length - 2 * args.n
    if core < 0:
        raise UsageError(
            f"--max-length {args.max_length} is below the {2 * args.n} loads and "
            f"stores every sort{args.n} needs"
        )
    network = exact.assemble(task, exact.network_core(task))
    _check_ray(args)
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
    with _reporter(err, total=None, label=f"prove sort{args.n} <= {args.max_length}") as report:
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
    return {False: 0, True: 1, None: 3}[exists]


def _prove_on_ray(args: argparse.Namespace, out: Console, task, core: int, space) -> int:
    """``prove --ray``: the space split into parts over Ray workers; a certificate only when
    every part came back exhausted."""
    from rich.console import Console

    from alphadev.distributed import prove_on_ray

    err = Console(stderr=True, highlight=False)
    label = f"prove sort{args.n} <= {args.max_length} on Ray"
    with _reporter(err, total=None, label=label) as report:

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


# ------------------------------------------------------------------------------------- export


def _check_export_target(path: str, flag: str, source: str | None = None) -> None:
    """Refuse, before any work, an output of ``export`` that is not a regular file or a new
    name in a writable folder (:func:`alphadev.atomic.not_regular`, the one output-path rule):
    a folder, FIFO, device, socket or symbolic link is one line; so is a file of the kernel
    catalogue (C or assembly for gas written over a kernel would be lost from it)."""
    from alphadev.atomic import not_regular
    from alphadev.catalogue import CATALOGUE

    why = not_regular(path)
    if why is not None:
        raise UsageError(f"{flag} {_clip(path, 200)}: {why}")
    try:
        in_catalogue = Path(path).resolve().parent == CATALOGUE.resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop or a bad name: named below
        in_catalogue = False
    if in_catalogue:
        raise UsageError(f"{flag} {_clip(path, 200)}: is in the kernel catalogue {CATALOGUE}; "
                         "write the export elsewhere")  # fmt: skip
    _check_out_file(path, flag, source=source)


def _export_header(args: argparse.Namespace, out: Console) -> int:
    """``alphadev export --header PATH``: the catalogue's kernels as one C header."""
    from alphadev.atomic import write_atomic
    from alphadev.catalogue import header_kernels
    from alphadev.export import ExportError, to_c_header
    from alphadev.tasks import verify

    given = [flag for flag, on in (
        ("FILE", args.file is not None), ("-o", args.output is not None),
        ("--to", args.to is not None), ("--name", args.name is not None),
        ("--lowering", args.lowering is not None), ("--unverified", args.unverified),
        ("--n", args.n is not None), ("--registers", args.registers is not None),
    ) if on]  # fmt: skip
    if given:
        raise UsageError(f"--header writes the catalogue's kernels: it takes no {', '.join(given)}")
    _check_export_target(args.header, "--header")
    kernels = header_kernels()
    for kernel in kernels:
        result = verify(kernel.program, kernel.n)
        if not result.correct:
            reason = result.reason or "wrong output"
            print(
                f"alphadev export --header: the sort{kernel.n} kernel ({kernel.source}) does "
                f"not verify: {reason}; nothing written",
                file=sys.stderr,
            )
            return 1
    try:
        text = to_c_header(kernels, title=Path(args.header).name)
    except ExportError as exc:
        raise UsageError(f"--header: {exc}") from None
    try:
        write_atomic(args.header, text)
    except OSError as exc:
        raise UsageError(
            f"--header {args.header}: cannot write it ({exc.strerror or exc})"
        ) from None
    sizes = ", ".join(str(kernel.n) for kernel in kernels)
    out.print(f"wrote {args.header} (sort_small_i32; kernels for n = {sizes})", soft_wrap=True,
              markup=False)  # fmt: skip
    return 0


def cmd_export(args: argparse.Namespace, out: Console) -> int:
    from alphadev.atomic import write_atomic
    from alphadev.export import ExportError, check_name, to_c, to_gas
    from alphadev.tasks import verify

    if args.header is not None:
        return _export_header(args, out)
    if args.file is None:
        raise UsageError("give a kernel FILE to export (or --header PATH for the catalogue)")
    if args.to is None:
        raise UsageError("--to is required: c or gas")
    _check_layout_flags(args)
    if args.name is not None:
        try:
            check_name(args.name)
        except ExportError as exc:
            raise UsageError(f"--name: {exc}") from None
    if args.output:
        _check_export_target(args.output, "-o", source=args.file)
    listing = _load(args.file, args.n, args.registers)
    program = listing.program
    n = program.layout.n
    result = verify(program, n)
    if not result.correct and not args.unverified:
        detail = result.reason or "wrong output"
        if result.counterexample is not None:
            ce = result.counterexample
            detail += f" (input {list(ce.input)} gives {list(ce.got)})"
        raise UsageError(
            f"{args.file}: the kernel does not verify: {detail}; pass --unverified to export "
            "it anyway"
        )
    isa = listing.isa.name.replace(",", "_") if listing.isa is not None else "kernel"
    name = args.name or f"sort{n}_{isa}"
    lowering = args.lowering or "gpr"
    # export makes it safe: it can neither end the C comment nor break an assembler line
    comment = (
        f"{Path(args.file).name}: sort{n}, {len(program)} instructions, "
        + ("verified on every tie pattern and 30000 random int32 rows" if result.correct
           else "NOT VERIFIED (exported with --unverified)")
    )  # fmt: skip
    try:
        text = (to_c if args.to == "c" else to_gas)(
            program, name, comment=comment, lowering=lowering
        )
    except ExportError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    if args.output:
        try:
            write_atomic(args.output, text)
        except OSError as exc:
            raise UsageError(f"-o {args.output}: cannot write it ({exc.strerror or exc})") from None
        out.print(f"wrote {args.output} ({args.to}, {lowering}, function {name})", soft_wrap=True,
                  markup=False)  # fmt: skip
    else:
        print(text, end="")
    return 0


# -------------------------------------------------------------------------------------- bench

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_benchmark(argv: list[str]) -> int:
    """``alphadev bench NAME [ARGS]``: run ``benchmarks/NAME.py`` of this checkout."""
    import subprocess

    names = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "common")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: alphadev bench NAME [ARGS]  (ARGS go to the script; NAME --help for its "
            f"own)\nbenchmarks: {', '.join(names) or 'none (not a source checkout)'}"
        )
        return 0
    if argv[0] not in names:
        print(f"alphadev bench: unknown benchmark {argv[0]!r}: expected one of "
              f"{', '.join(names) or 'none (benchmarks/ ships with the source checkout)'}",
              file=sys.stderr)  # fmt: skip
        return 2
    script = BENCHMARKS / f"{argv[0]}.py"
    return subprocess.run([sys.executable, str(script), *argv[1:]], check=False).returncode


# --------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    from alphadev import __version__
    from alphadev.asm import MAX_N as MAX_FILE_N
    from alphadev.asm import MAX_REGISTERS
    from alphadev.options import DefaultsFormatter, add_options
    from alphadev.search import MAX_N, SearchConfig
    from alphadev.tasks import MAX_RANDOM_ROWS

    formatter = DefaultsFormatter
    parser = _Parser(
        prog="alphadev",
        description="Discover and check short branchless sorting kernels on a toy x86 machine.",
    )
    parser.add_argument("--version", action="version", version=f"alphadev {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def layout_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--n", type=int, help=f"sort size 1..{MAX_FILE_N}, if the file has no '; task:' header"
        )
        p.add_argument(
            "--registers", type=int, help=f"register count 1..{MAX_REGISTERS}, if not in the header"
        )

    def ray_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--ray",
            nargs="?",
            const="local",
            metavar="ADDRESS",
            help="run on Ray (the ray extra): --ray alone starts a local Ray, --ray HOST:PORT "
            "joins a cluster started with `ray start --head`",
        )
        p.add_argument(
            "--workers",
            type=int,
            default=None,
            help=f"Ray workers with --ray, one CPU each, 1..{MAX_RAY_WORKERS} (default 2)",
        )

    p = sub.add_parser(
        "verify",
        help="check kernels on every tie pattern and random int32 inputs",
        description="Parse and verify assembly kernels. Exit 0 if all are correct, 1 if any is "
        "wrong, 2 on malformed input, a missing or too large file or a bad flag.",
        formatter_class=formatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="assembly files (.s)")
    layout_flags(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument(
        "--random-rows",
        type=int,
        default=30_000,
        help=f"random int32 rows, 0..{MAX_RANDOM_ROWS:,}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random rows (>= 0)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "run",
        help="run a kernel on one input and print the state after every instruction",
        description="Trace a kernel on one input. Negative first values: --input=-3,1,2. Exit 0 "
        "if the output is sorted, 1 if not, 2 on bad input.",
        formatter_class=formatter,
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--input", required=True, help="comma-separated int32 values, e.g. 3,1,2")
    layout_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "search",
        help="discover a short sorting kernel, verify it and save it",
        description="Search for a short sorting kernel with the engines racing on one "
        "best-so-far, verify the best on every tie pattern and random int32 inputs, and write "
        "it to OUT/sort{n}_{isa}_{length}.s unless OUT already holds one as short. Exit 0 if "
        "a verified kernel was found, 1 if none, 2 on a bad flag or an unwritable OUT, 130 if "
        "interrupted (the best kernel so far is still verified and written).",
        formatter_class=formatter,
    )
    add_options(p, SearchConfig)
    ray_flags(p)
    p.add_argument("--out", default="asm/discovered", help="output folder")
    p.add_argument("--force", action="store_true", help="write even if OUT holds a kernel as short")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "prove",
        help="certify that no sorting kernel of a given length exists",
        description="Exhaustive search of the enumeration space. Exit 0 with a certificate "
        "(the space, states generated, seconds) when no program of length <= MAX_LENGTH "
        "exists, 1 (printing one) when it does, 3 when the time limit ran out first, 2 on a "
        "bad flag.",
        formatter_class=formatter,
    )
    p.add_argument("--n", type=int, default=3, help=f"sort size, 2..{MAX_N}")
    p.add_argument("--isa", default="cmov", help="cmov, minmax, full, or a comma list of opcodes")
    p.add_argument("--registers", type=int, help="register count (default n+1)")
    p.add_argument(
        "--max-length", type=int, required=True, help="full length, loads and stores included"
    )
    p.add_argument("--time-limit", type=float, default=3600.0, help="seconds, at most a week")
    ray_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_prove)

    from alphadev.export import LOWERINGS

    p = sub.add_parser(
        "export",
        help="export a verified kernel as C (inline asm + portable fallback) or x86-64 gas, or "
        "the catalogue as one C header",
        description="Export a kernel as a C function void NAME(int32_t *a) (GCC inline "
        "assembly on x86-64, plain C otherwise) or as a standalone GNU assembler file (System "
        "V ABI, pointer in rdi), in the lowering --lowering names. A kernel that does not "
        "verify is refused (exit 2) unless --unverified; so are a reserved or keyword --name, "
        "--lowering sse for a kernel with cmp/cmov, and an output that cannot be written or is "
        "not a regular file. --header PATH (without FILE) writes one C header holding a kernel "
        "for each n = 2..8 from the catalogue and sort_small_i32(a, n) for any n.",
        formatter_class=formatter,
    )
    p.add_argument("file", metavar="FILE", nargs="?", help="the kernel (.s); not with --header")
    p.add_argument("--to", choices=("c", "gas"), help="c or gas (required with FILE)")
    p.add_argument(
        "--lowering",
        choices=LOWERINGS,
        help="gpr (the default): cmp/cmov on general registers; sse: SSE4.1 pminsd/pmaxsd on "
        "xmm registers, for mov/min/max kernels only (the CPU must have SSE4.1)",
    )
    p.add_argument(
        "--header",
        metavar="PATH",
        help="write the catalogue's kernels as one C header (alphadev_sort{n}_i32 for n = "
        "2..8 and sort_small_i32) to PATH, a regular file or a new name; takes no FILE or -o",
    )
    p.add_argument(
        "--name", help="function name, a C identifier that is not reserved (default sort{n}_{isa})"
    )
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--unverified", action="store_true", help="export a wrong kernel anyway")
    layout_flags(p)
    p.set_defaults(func=cmd_export)

    sub.add_parser(
        "bench",
        help="run a benchmark script from benchmarks/ (alphadev bench NAME [ARGS])",
        add_help=False,
    )
    sub.add_parser(
        "train",
        help="train the policy/value network by self-play (see alphadev train --help)",
        add_help=False,
    )
    return parser


def _first_run_notice() -> None:
    """Say so when the numba kernels have no cache yet (the first run compiles them)."""
    package = Path(__file__).resolve().parent
    if not any(package.glob("**/__pycache__/*.nbi")):
        print(
            "alphadev: first run on this machine: compiling the numba kernels once (up to about "
            "a minute on 2 cores; later runs load them from the cache)",
            file=sys.stderr,
        )


def _exit_code(exc: SystemExit) -> int:
    """The exit code argparse asked for (``--help``: 0, a bad flag: 2)."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 2


def _check_train_paths(argv: list[str]) -> None:
    """``--run-dir`` must be a folder that can be written, ``--resume`` an existing folder:
    refused with one line before training starts."""
    from alphadev.train.cli import build_parser as train_parser

    args, _ = train_parser().parse_known_args(argv)
    if args.run_dir:
        _check_out_dir(args.run_dir, "--run-dir")
    if args.resume:
        folder = Path(args.resume)
        if not _exists(folder, "--resume") or not folder.is_dir():
            raise UsageError(f"--resume {_clip(args.resume, 200)}: not a folder")


def _main(argv: list[str]) -> int:
    if argv[:1] and argv[0] in ("search", "prove", "train", "verify", "run", "export"):
        _first_run_notice()
    if argv[:1] == ["train"]:  # its own parser: python -m alphadev.train takes the same flags
        from alphadev.train.cli import main as train_main

        try:
            _check_train_paths(argv[1:])
        except UsageError as exc:
            print(f"alphadev train: {_clip(str(exc))}", file=sys.stderr)
            return 2
        return train_main(argv[1:])
    if argv[:1] == ["bench"]:
        return run_benchmark(argv[1:])
    from rich.console import Console

    args = build_parser().parse_args(argv)
    # Piped or redirected, rich would lay tables out 80 columns wide and cut long paths in the
    # middle; a wider page keeps every cell on one line (COLUMNS, when set, still wins).
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    out = Console(highlight=False, width=PIPED_WIDTH if piped else None)
    try:
        return args.func(args, out)
    except UsageError as exc:
        print(f"alphadev {args.command}: {_clip(str(exc))}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (see the module docstring)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help, --version, a bad flag
        return _exit_code(exc)
    except KeyboardInterrupt:  # anywhere, start-up included
        print("alphadev: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _interrupted(exc):
            raise
        print("alphadev: interrupted", file=sys.stderr)  # a Ctrl-C Python wrapped (an import)
        return 130


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by a Ctrl-C: Python wraps a ``KeyboardInterrupt`` raised
    while a class body is set up (``__set_name__``, during an import) in a RuntimeError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
