"""The ``alphadev`` command line.

Exit codes: 0 success, 1 a kernel is wrong (or nothing was found), 2 bad input (malformed
assembly, missing file, bad flag): one clear line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from alphadev import asm
from alphadev.emulator import reference_trace
from alphadev.isa import Op
from alphadev.tasks import verify

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _load(path: str, n: int | None, registers: int | None) -> asm.Listing:
    file = Path(path)
    if not file.exists():
        raise UsageError(f"{path}: no such file")
    if file.is_dir():
        raise UsageError(f"{path}: is a directory, expected an assembly file")
    try:
        return asm.parse_file(file, n=n, registers=registers)
    except asm.AsmError as exc:
        raise UsageError(str(exc)) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file") from None


# ------------------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace, out: Console) -> int:
    listings = []
    errors = []
    for path in args.files:
        try:
            listings.append((path, _load(path, args.n, args.registers)))
        except UsageError as exc:
            errors.append(str(exc))
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
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
        for column in ("file", "correct", "length", "core length", "rows checked"):
            table.add_column(column, justify="left" if column == "file" else "right")
        for row in results:
            mark = "[green]yes[/]" if row["correct"] else "[red]NO[/]"
            table.add_row(
                row["file"], mark, str(row["length"]), str(row["core_length"]), str(row["rows"])
            )
        out.print(table)
        for row in results:
            if row["correct"]:
                continue
            out.print(f"[red]{row['file']}[/]: {row['reason']}", highlight=False)
            if row["counterexample"]:
                ce = row["counterexample"]
                out.print(
                    f"  counterexample: input {ce['input']} expected {ce['expected']} "
                    f"got {ce['got']}",
                    highlight=False,
                )
    return 0 if all(row["correct"] for row in results) else 1


# ---------------------------------------------------------------------------------------- run


def _parse_input(text: str, n: int) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--input: expected comma-separated integers, found {text!r}") from None
    if len(values) != n:
        raise UsageError(f"--input: the kernel sorts {n} values, got {len(values)}")
    for v in values:
        if not -(2**31) <= v < 2**31:
            raise UsageError(f"--input: {v} does not fit in int32")
    return values


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    listing = _load(args.file, args.n, args.registers)
    program = listing.program
    layout = program.layout
    values = _parse_input(args.input, layout.n)
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
    final = previous[: layout.n]
    ok = final == sorted(values)
    verdict = "[green]sorted[/]" if ok else "[red]NOT sorted[/]"
    out.print(f"output {final}: {verdict}", highlight=False)
    return 0 if ok else 1


# --------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphadev",
        description="Discover and check short branchless sorting kernels on a toy x86 machine.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def layout_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, help="sort size, if the file has no '; task:' header")
        p.add_argument("--registers", type=int, help="register count, if not in the header")

    p = sub.add_parser(
        "verify",
        help="check kernels on every tie pattern and random int32 inputs",
        description="Parse and verify assembly kernels. Exit 0 if all are correct, 1 if any is "
        "wrong, 2 on malformed input or a missing file.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="assembly files (.s)")
    layout_flags(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument(
        "--random-rows", type=int, default=30_000, help="random int32 rows (default 30000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random rows (default 0)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "run",
        help="run a kernel on one input and print the state after every instruction",
        description="Trace a kernel on one input. Negative first values: --input=-3,1,2",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--input", required=True, help="comma-separated int32 values, e.g. 3,1,2")
    layout_flags(p)
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(highlight=False)
    try:
        return args.func(args, out)
    except UsageError as exc:
        print(f"alphadev {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alphadev: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
