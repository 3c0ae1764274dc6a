"""``alphadev verify``: check kernels on every tie pattern and random int32 inputs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from alphadev.cli.common import (
    MAX_SEED,
    UsageError,
    add_layout_flags,
    check,
    check_layout_flags,
    clip,
    load,
)
from alphadev.cli.exit_codes import FAILED, OK, USAGE

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from alphadev.options import DefaultsFormatter
    from alphadev.tasks import MAX_RANDOM_ROWS

    p = sub.add_parser(
        "verify",
        help="check kernels on every tie pattern and random int32 inputs",
        description="Parse and verify assembly kernels. Exit 0 if all are correct, 1 if any is "
        "wrong, 2 on malformed input, a missing or too large file or a bad flag.",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="assembly files (.s)")
    add_layout_flags(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument(
        "--random-rows",
        type=int,
        default=30_000,
        help=f"random int32 rows, 0..{MAX_RANDOM_ROWS:,}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random rows (>= 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: Console) -> int:
    from rich.table import Table
    from rich.text import Text

    from alphadev.tasks import MAX_RANDOM_ROWS, verify

    check_layout_flags(args)
    check("random_rows", args.random_rows, 0, MAX_RANDOM_ROWS)
    check("seed", args.seed, 0, MAX_SEED)
    listings = []
    errors = []
    for path in args.files:
        try:
            listings.append((path, load(path, args.n, args.registers)))
        except UsageError as exc:
            errors.append(str(exc))
    if errors:
        for line in errors:
            print(clip(line), file=sys.stderr)
        return USAGE

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
    return OK if all(row["correct"] for row in results) else FAILED
