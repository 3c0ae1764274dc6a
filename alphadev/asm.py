"""Assembly text <-> :class:`~alphadev.isa.Program`.

The text form is Intel order, one instruction a line, ``;`` starting a comment::

    ; task: sort3
    ; isa: cmov
    ; registers: 4

    mov r0, m0
    cmp r0, r1
    cmovg r0, r1

The leading block of ``; key: value`` comment lines is the *header* (task, isa, registers,
length, how the kernel was found, what it was verified on, ...). Other comments are dropped.
``format(parse(text))`` is the canonical text: header keys in a fixed order, one blank line,
then the instructions in lower case with ``op dst, src`` spacing.

Malformed input raises :class:`AsmError`, which names the line and column (1-based), what was
found and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from alphadev.isa import Instruction, Isa, Layout, Op, Program, get_isa

__all__ = ["AsmError", "Listing", "format", "parse", "parse_file"]

#: Header keys written first, in this order, by :func:`format`.
HEADER_ORDER = (
    "task",
    "isa",
    "registers",
    "length",
    "core_length",
    "critical_path",
    "found_by",
    "seed",
    "simulations",
    "seconds",
    "verified",
)

_HEADER_RE = re.compile(r"^\s*;\s*([A-Za-z][A-Za-z0-9_\-]*)\s*:\s*(.*?)\s*$")
_TASK_RE = re.compile(r"^sort(\d+)$")
_OPERAND_RE = re.compile(r"([mr])(\d+)")


class AsmError(ValueError):
    """Malformed assembly. ``line`` and ``column`` are 1-based; ``path`` may be None."""

    def __init__(self, message: str, line: int, column: int, path: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:" if self.path else "line "
        sep = ":" if self.path else ", col "
        return f"{where}{self.line}{sep}{self.column}: {self.message}"

    def with_path(self, path: str) -> AsmError:
        return AsmError(self.message, self.line, self.column, path)


@dataclass(frozen=True)
class Listing:
    """A parsed file: the program and its header (``key -> value`` strings, in file order)."""

    program: Program
    header: dict[str, str] = field(default_factory=dict)

    @property
    def isa(self) -> Isa | None:
        return get_isa(self.header["isa"]) if "isa" in self.header else None


@dataclass
class _Token:
    text: str
    column: int  # 1-based


def _normalise_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _split_header(lines: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Read the leading ``; key: value`` block. Returns the header and each key's line number."""
    header: dict[str, str] = {}
    where: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith(";"):
            break
        match = _HEADER_RE.match(raw)
        if match:
            key = _normalise_key(match.group(1))
            header[key] = match.group(2)
            where[key] = number
    return header, where


def _layout_from_header(
    header: dict[str, str], where: dict[str, int], lines: list[str]
) -> tuple[int | None, int | None]:
    n = registers = None
    if "task" in header:
        match = _TASK_RE.match(header["task"].strip().lower())
        line = where["task"]
        if not match or int(match.group(1)) < 1:
            col = lines[line - 1].index(header["task"]) + 1 if header["task"] else 1
            raise AsmError(f"expected a task like 'sort3', found {header['task']!r}", line, col)
        n = int(match.group(1))
    if "registers" in header:
        line = where["registers"]
        text = header["registers"].strip()
        if not text.isdigit() or int(text) < 1:
            col = lines[line - 1].index(header["registers"]) + 1 if text else 1
            raise AsmError(f"expected a positive register count, found {text!r}", line, col)
        registers = int(text)
    return n, registers


def _tokenise(code: str, line_number: int) -> list[_Token]:
    """Split an instruction line (comment already removed) into words and commas."""
    tokens = []
    for match in re.finditer(r"[^\s,]+|,", code):
        tokens.append(_Token(match.group(0), match.start() + 1))
    return tokens


def _parse_operand(tok: _Token | None, line: int, end_col: int, role: str) -> tuple[str, int, int]:
    """Return (kind, index, column) for an operand token such as ``r2`` or ``m0``."""
    if tok is None:
        raise AsmError(f"expected a {role} operand (rN or mN), found end of line", line, end_col)
    match = _OPERAND_RE.fullmatch(tok.text.lower())
    if not match:
        raise AsmError(
            f"expected a {role} operand (register rN or memory mN), found {tok.text!r}",
            line,
            tok.column,
        )
    return match.group(1), int(match.group(2)), tok.column


def parse(
    text: str,
    *,
    n: int | None = None,
    registers: int | None = None,
    isa: Isa | str | None = None,
) -> Listing:
    """Parse assembly text into a :class:`Listing`.

    The layout comes from ``n``/``registers`` if given, else from the header (``task: sortN``,
    ``registers: K``), else from the highest memory and register numbers used. The ISA, if
    given here or in the header, restricts the opcodes allowed. Raises :class:`AsmError`.
    """
    lines = text.splitlines()
    header, where = _split_header(lines)
    head_n, head_regs = _layout_from_header(header, where, lines)
    if isa is None and "isa" in header:
        try:
            isa = get_isa(header["isa"].strip())
        except ValueError as exc:
            line = where["isa"]
            raise AsmError(str(exc), line, lines[line - 1].index(header["isa"]) + 1) from None
    isa = get_isa(isa) if isa is not None else None
    n = n if n is not None else head_n
    registers = registers if registers is not None else head_regs

    parsed: list[tuple[Op, tuple[str, int, int], tuple[str, int, int], int]] = []
    for number, raw in enumerate(lines, start=1):
        code = raw.split(";", 1)[0]
        tokens = _tokenise(code, number)
        if not tokens:
            continue
        op_tok = tokens[0]
        try:
            op = Op.from_mnemonic(op_tok.text.lower())
        except KeyError:
            allowed = sorted(isa.ops) if isa else list(Op)
            raise AsmError(
                f"unknown opcode {op_tok.text!r}; expected one of "
                + ", ".join(o.mnemonic for o in allowed),
                number,
                op_tok.column,
            ) from None
        if isa is not None and op not in isa.ops:
            raise AsmError(
                f"opcode {op.mnemonic!r} is not in ISA {isa.name!r} "
                f"({', '.join(o.mnemonic for o in sorted(isa.ops))})",
                number,
                op_tok.column,
            )
        end_col = len(code.rstrip()) + 1
        dst_tok = tokens[1] if len(tokens) > 1 and tokens[1].text != "," else None
        if len(tokens) > 1 and tokens[1].text == ",":
            raise AsmError("expected a destination operand, found ','", number, tokens[1].column)
        dst = _parse_operand(dst_tok, number, end_col, "destination")
        if len(tokens) < 3 or tokens[2].text != ",":
            found = repr(tokens[2].text) if len(tokens) >= 3 else "end of line"
            col = tokens[2].column if len(tokens) >= 3 else end_col
            raise AsmError(f"expected ',' after the destination, found {found}", number, col)
        src = _parse_operand(tokens[3] if len(tokens) > 3 else None, number, end_col, "source")
        if len(tokens) > 4:
            raise AsmError(
                f"expected end of line or a ';' comment, found {tokens[4].text!r}",
                number,
                tokens[4].column,
            )
        _check_form(op, dst, src, number)
        parsed.append((op, dst, src, number))

    if n is None:
        mem = [i for _, d, s, _ in parsed for k, i, _ in (d, s) if k == "m"]
        if not mem:
            raise AsmError(
                "cannot tell the sort size: add a '; task: sortN' header (or pass --n)", 1, 1
            )
        n = max(mem) + 1
    if registers is None:
        regs = [i for _, d, s, _ in parsed for k, i, _ in (d, s) if k == "r"]
        registers = max(regs, default=0) + 1
    layout = Layout(n, registers)

    code_out = []
    for op, dst, src, number in parsed:
        locs = [_location(layout, operand, number) for operand in (dst, src)]
        code_out.append(Instruction(op, locs[0], locs[1]))
    program = Program(layout, tuple(code_out))

    if "length" in header:
        stated = header["length"].strip()
        if stated.isdigit() and int(stated) != len(program):
            line = where["length"]
            raise AsmError(
                f"header says length {stated} but the listing has {len(program)} instructions",
                line,
                lines[line - 1].index(stated) + 1,
            )
    return Listing(program, header)


def _check_form(op: Op, dst: tuple[str, int, int], src: tuple[str, int, int], line: int) -> None:
    if op == Op.MOV:
        if dst[0] == "m" and src[0] == "m":
            raise AsmError(
                f"mov cannot copy memory to memory: found 'm{dst[1]}, m{src[1]}', "
                "expected a register on one side",
                line,
                src[2],
            )
        return
    for kind, index, col in (dst, src):
        if kind == "m":
            raise AsmError(
                f"{op.mnemonic} takes registers only: found memory operand 'm{index}', "
                "expected a register rN",
                line,
                col,
            )


def _location(layout: Layout, operand: tuple[str, int, int], line: int) -> int:
    kind, index, col = operand
    if kind == "m":
        if index >= layout.n:
            raise AsmError(
                f"memory slot m{index} out of range: expected m0..m{layout.n - 1} "
                f"for sort{layout.n}",
                line,
                col,
            )
        return layout.memory(index)
    if index >= layout.registers:
        raise AsmError(
            f"register r{index} out of range: expected r0..r{layout.registers - 1} "
            f"({layout.registers} registers)",
            line,
            col,
        )
    return layout.register(index)


def parse_file(
    path: str | Path,
    *,
    n: int | None = None,
    registers: int | None = None,
    isa: Isa | str | None = None,
) -> Listing:
    """Read and parse a file; :class:`AsmError` carries the path."""
    text = Path(path).read_text()
    try:
        return parse(text, n=n, registers=registers, isa=isa)
    except AsmError as exc:
        raise exc.with_path(str(path)) from None


def format_instruction(layout: Layout, ins: Instruction) -> str:
    return f"{Op(ins.op).mnemonic} {layout.name(ins.dst)}, {layout.name(ins.src)}"


def format(listing: Listing | Program, header: dict[str, object] | None = None) -> str:
    """Canonical text of a program (and header). ``header`` overrides the listing's."""
    if isinstance(listing, Listing):
        program, head = listing.program, dict(listing.header)
    else:
        program, head = listing, {}
    if header is not None:
        head = {_normalise_key(k): str(v) for k, v in header.items()}
    head = {_normalise_key(k): str(v).strip() for k, v in head.items()}
    keys = [k for k in HEADER_ORDER if k in head] + [k for k in head if k not in HEADER_ORDER]
    out = [f"; {k}: {head[k]}" for k in keys]
    if out:
        out.append("")
    out.extend(format_instruction(program.layout, ins) for ins in program.code)
    return "\n".join(out) + "\n"
