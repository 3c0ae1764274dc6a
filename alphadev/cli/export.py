"""``alphadev export``: a verified kernel as C (inline asm + portable fallback) or x86-64 gas,
or the catalogue as one C header."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from alphadev.cli.common import (
    UsageError,
    add_layout_flags,
    check_layout_flags,
    check_out_file,
    clip,
    load,
)
from alphadev.cli.exit_codes import FAILED, OK

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from alphadev.export import LOWERINGS
    from alphadev.options import DefaultsFormatter

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
        formatter_class=DefaultsFormatter,
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
    add_layout_flags(p)
    p.set_defaults(func=run)


def _check_export_target(path: str, flag: str, source: str | None = None) -> None:
    """Refuse, before any work, an output of ``export`` that is not a regular file or a new
    name in a writable folder (:func:`alphadev.atomic.not_regular`, the one output-path rule):
    a folder, FIFO, device, socket or symbolic link is one line; so is a file of the kernel
    catalogue (C or assembly for gas written over a kernel would be lost from it)."""
    from alphadev.atomic import not_regular
    from alphadev.catalogue import CATALOGUE

    why = not_regular(path)
    if why is not None:
        raise UsageError(f"{flag} {clip(path, 200)}: {why}")
    try:
        in_catalogue = Path(path).resolve().parent == CATALOGUE.resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop or a bad name: named below
        in_catalogue = False
    if in_catalogue:
        raise UsageError(f"{flag} {clip(path, 200)}: is in the kernel catalogue {CATALOGUE}; "
                         "write the export elsewhere")  # fmt: skip
    check_out_file(path, flag, source=source)


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
            return FAILED
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
    return OK


def run(args: argparse.Namespace, out: Console) -> int:
    from alphadev.atomic import write_atomic
    from alphadev.export import ExportError, check_name, to_c, to_gas
    from alphadev.tasks import verify

    if args.header is not None:
        return _export_header(args, out)
    if args.file is None:
        raise UsageError("give a kernel FILE to export (or --header PATH for the catalogue)")
    if args.to is None:
        raise UsageError("--to is required: c or gas")
    check_layout_flags(args)
    if args.name is not None:
        try:
            check_name(args.name)
        except ExportError as exc:
            raise UsageError(f"--name: {exc}") from None
    if args.output:
        _check_export_target(args.output, "-o", source=args.file)
    listing = load(args.file, args.n, args.registers)
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
    return OK
