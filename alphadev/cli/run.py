"""``alphadev run``: run a kernel on one input and print the state after every instruction."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from alphadev.cli.common import UsageError, add_layout_flags, check_layout_flags, clip, load
from alphadev.cli.exit_codes import FAILED, OK

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from alphadev.options import DefaultsFormatter

    p = sub.add_parser(
        "run",
        help="run a kernel on one input and print the state after every instruction",
        description="Trace a kernel on one input. Negative first values: --input=-3,1,2. Exit 0 "
        "if the output is sorted, 1 if not, 2 on bad input.",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--input", required=True, help="comma-separated int32 values, e.g. 3,1,2")
    add_layout_flags(p)
    p.set_defaults(func=run)


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
                f"--input: expected comma-separated int32 values, found {clip(repr(part), 40)}"
            )
        value = int(part)
        if not -(2**31) <= value < 2**31:
            raise UsageError(f"--input: {value} does not fit in int32")
        values.append(value)
    return values


def run(args: argparse.Namespace, out: Console) -> int:
    from rich.text import Text

    from alphadev import asm
    from alphadev.emulator import reference_trace
    from alphadev.isa import Op
    from alphadev.tasks import static_error

    check_layout_flags(args)
    listing = load(args.file, args.n, args.registers)
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
        return OK
    if final == sorted(final):
        why = f"in order, but not the input's values (expected {want})"
    else:
        why = f"not in order (expected {want})"
    out.print(Text.assemble(f"output {final}: ", ("wrong", "red"), f", {why}"), soft_wrap=True)
    return FAILED
