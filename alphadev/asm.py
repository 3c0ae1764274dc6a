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
found and what was expected (a token is echoed in at most :data:`MAX_SHOWN` characters).

Limits, so that no file can make a tool allocate without bound: sort sizes 1 to :data:`MAX_N`,
1 to :data:`MAX_REGISTERS` registers, at most :data:`MAX_INSTRUCTIONS` instructions and
:data:`MAX_FILE_BYTES` bytes (:func:`parse_file`). Numbers are ASCII digits only; a leading
UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from alphadev.isa import Instruction, Isa, Layout, Op, Program, get_isa

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_INSTRUCTIONS",
    "MAX_N",
    "MAX_REGISTERS",
    "AsmError",
    "Listing",
    "format",
    "parse",
    "parse_file",
    "shown",
]

#: Largest sort size a kernel may have (the tie-pattern rows of sort8 are 545,835).
MAX_N = 8
#: Most registers a kernel may declare or use.
MAX_REGISTERS = 16
#: Most instructions in one kernel.
MAX_INSTRUCTIONS = 10_000
#: Largest kernel file read, in bytes (1 MiB).
MAX_FILE_BYTES = 1 << 20
#: Characters of a token echoed in an error message before it is cut with "...".
MAX_SHOWN = 40

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
_TASK_RE = re.compile(r"^sort([0-9]+)$")
_OPERAND_RE = re.compile(r"([mr])([0-9]+)")
_NUMBER_RE = re.compile(r"[0-9]+")
#: Digits read from a number at most (anything longer is out of every range here).
_MAX_DIGITS = 6


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``repr(text)``, cut to ``limit`` characters with ``...`` (a token echoed in a message)."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def _number(text: str) -> int | None:
    """The value of an ASCII decimal number, or None if ``text`` is not one (or too long)."""
    digits = text.lstrip("0")
    if not _NUMBER_RE.fullmatch(text) or len(digits) > _MAX_DIGITS:
        return None
    return int(digits or "0")


class AsmError(ValueError):
    """Malformed assembly. ``line`` and ``column`` are 1-based; ``path`` may be None."""

    def __init__(self, message: str, line: int, column: int, path: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line <= 0:  # about the whole file
            return f"{self.path}: {self.message}" if self.path else self.message
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
        text = header["task"].strip()
        match = _TASK_RE.match(text.lower())
        line = where["task"]
        col = lines[line - 1].index(header["task"]) + 1 if header["task"] else 1
        if not match:
            raise AsmError(f"expected a task like 'sort3', found {shown(text)}", line, col)
        n = _number(match.group(1))
        if n is None or not 1 <= n <= MAX_N:
            raise AsmError(
                f"task {shown(text)} is out of range: sort1 to sort{MAX_N} are supported", line, col
            )
    if "registers" in header:
        line = where["registers"]
        text = header["registers"].strip()
        col = lines[line - 1].index(header["registers"]) + 1 if text else 1
        if not _NUMBER_RE.fullmatch(text):
            raise AsmError(f"expected a positive register count, found {shown(text)}", line, col)
        registers = _number(text)
        if registers is None or not 1 <= registers <= MAX_REGISTERS:
            raise AsmError(
                f"register count {shown(text)} is out of range: 1 to {MAX_REGISTERS}", line, col
            )
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
            f"expected a {role} operand (register rN or memory mN), found {shown(tok.text)}",
            line,
            tok.column,
        )
    kind, index = match.group(1), _number(match.group(2))
    top = MAX_N if kind == "m" else MAX_REGISTERS
    if index is None or index >= top:
        what = "memory slot" if kind == "m" else "register"
        raise AsmError(
            f"{what} {shown(tok.text)} out of range: at most {kind}{top - 1}", line, tok.column
        )
    return kind, index, tok.column


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
    given here or in the header, restricts the opcodes allowed. A leading byte-order mark is
    skipped. Raises :class:`AsmError` (and ``ValueError`` for ``n`` or ``registers`` out of
    range).
    """
    if n is not None and not 1 <= n <= MAX_N:
        raise ValueError(f"n must be between 1 and {MAX_N}, got {n}")
    if registers is not None and not 1 <= registers <= MAX_REGISTERS:
        raise ValueError(f"registers must be between 1 and {MAX_REGISTERS}, got {registers}")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    header, where = _split_header(lines)
    head_n, head_regs = _layout_from_header(header, where, lines)
    if isa is None and "isa" in header:
        spec = header["isa"].strip()
        try:
            isa = get_isa(spec)
        except ValueError as exc:
            line = where["isa"]
            message = str(exc) if len(spec) <= MAX_SHOWN else f"unknown ISA {shown(spec)}"
            raise AsmError(message, line, lines[line - 1].index(header["isa"]) + 1) from None
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
                f"unknown opcode {shown(op_tok.text)}; expected one of "
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
            found = shown(tokens[2].text) if len(tokens) >= 3 else "end of line"
            col = tokens[2].column if len(tokens) >= 3 else end_col
            raise AsmError(f"expected ',' after the destination, found {found}", number, col)
        src = _parse_operand(tokens[3] if len(tokens) > 3 else None, number, end_col, "source")
        if len(tokens) > 4:
            raise AsmError(
                f"expected end of line or a ';' comment, found {shown(tokens[4].text)}",
                number,
                tokens[4].column,
            )
        _check_form(op, dst, src, number)
        if len(parsed) >= MAX_INSTRUCTIONS:
            raise AsmError(
                f"too many instructions: a kernel has at most {MAX_INSTRUCTIONS:,}", number, 1
            )
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
        if _NUMBER_RE.fullmatch(stated) and _number(stated) != len(program):
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
    """Read and parse a file; :class:`AsmError` carries the path. A file larger than
    :data:`MAX_FILE_BYTES` or not UTF-8 text is refused (the file is not read past the limit)."""
    with Path(path).open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise AsmError(
            f"file too large: a kernel file has at most {MAX_FILE_BYTES:,} bytes", 0, 0, str(path)
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AsmError(
            f"not a UTF-8 text file (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            0,
            0,
            str(path),
        ) from None
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
