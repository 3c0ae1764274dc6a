r"""Assembly text <-> :class:`~alphadev.isa.Program`.

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

Lines are what an editor shows: a line ends in ``\n`` or ``\r\n`` and nothing else starts one
(not ``str.splitlines()``'s form feed, vertical tab, ``\x1c``-``\x1e``, lone ``\r``, U+0085,
U+2028 or U+2029). Such a character, any other control character than tab, or a bidirectional
override (U+202A-U+202E, U+2066-U+2069), anywhere in the file, comments included, is an error
at its line and column. Opcodes, operands and the values of ``task``, ``isa``, ``registers`` and
``length`` are ASCII: a look-alike letter is never folded into one (``m\u043ev`` is not ``mov``).
A header key appears once; ``length`` is a decimal number equal to the instruction count; an
``n`` or ``registers`` passed to :func:`parse` that the header contradicts raises
:class:`HeaderConflict` instead of overriding it.

Limits, so that no file can make a tool allocate without bound: sort sizes 1 to :data:`MAX_N`,
1 to :data:`~alphadev.isa.MAX_REGISTERS` registers (as many as the export maps), at most
:data:`MAX_INSTRUCTIONS` instructions and :data:`MAX_FILE_BYTES` bytes (:func:`parse_file`).
Numbers are ASCII digits only; a leading UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from alphadev.isa import MAX_REGISTERS, Instruction, Isa, Layout, Op, Program, get_isa

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_INSTRUCTIONS",
    "MAX_N",
    "MAX_REGISTERS",
    "AsmError",
    "HeaderConflict",
    "Listing",
    "format",
    "parse",
    "parse_file",
    "shown",
]

#: Largest sort size a kernel may have (the tie-pattern rows of sort8 are 545,835).
MAX_N = 8
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

#: A header line (matched whole): ``; key: value``, ASCII blanks (space, tab) around the parts.
_HEADER_RE = re.compile(r"[ \t]*;[ \t]*([A-Za-z][A-Za-z0-9_\-]*)[ \t]*:[ \t]*(.*?)[ \t]*")
_TASK_RE = re.compile(r"sort([0-9]+)")
#: What separates tokens on an instruction line: ASCII blanks only (no Unicode spaces).
_TOKEN_RE = re.compile(r"[^ \t,]+|,")
#: Characters refused anywhere in a file (a line's ``\n`` and a ``\r`` ending it are removed
#: first): every control character but tab (C0, DEL, C1: form feed, vertical tab, lone
#: ``\r``, NEL, ...), the line and paragraph separators, and the bidirectional overrides.
_FORBIDDEN_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: Names of the control characters (which have none in :mod:`unicodedata`).
_CONTROL_NAMES = {
    0x00: "NUL",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x1C: "FILE SEPARATOR",
    0x1D: "GROUP SEPARATOR",
    0x1E: "RECORD SEPARATOR",
    0x1F: "UNIT SEPARATOR",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}
_OPS = {op.mnemonic: op for op in Op}
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


def _describe(char: str) -> str:
    """``U+043E CYRILLIC SMALL LETTER O``: a character by code point and name."""
    code = ord(char)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(char, "")
    if not name:
        name = "CONTROL CHARACTER" if unicodedata.category(char) == "Cc" else "UNNAMED CHARACTER"
    return f"U+{code:04X} {name}"


def _non_ascii(text: str, column: int) -> str:
    """A note naming the first non-ASCII character of ``text`` (which starts at ``column``), to
    append to a message that echoes it; empty if ``text`` is ASCII."""
    for offset, char in enumerate(text):
        if not char.isascii():
            return f" ({_describe(char)} at col {column + offset} is not ASCII)"
    return ""


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


class HeaderConflict(AsmError):
    """An ``n`` or ``registers`` given to :func:`parse` that the file's header contradicts.

    ``key`` is the header key (``"task"`` or ``"registers"``), ``stated`` the header's value as
    written, ``header_value`` its number and ``given`` the number passed; ``line`` and
    ``column`` point at the header's value."""

    def __init__(
        self,
        key: str,
        stated: str,
        header_value: int,
        given: int,
        line: int,
        column: int,
        path: str | None = None,
    ) -> None:
        self.key = key
        self.stated = stated
        self.header_value = header_value
        self.given = given
        what = "n" if key == "task" else "registers"
        super().__init__(
            f"{what}={given} disagrees with the header '; {key}: {stated}' ({what}={header_value})",
            line,
            column,
            path,
        )

    def with_path(self, path: str) -> HeaderConflict:
        return HeaderConflict(
            self.key, self.stated, self.header_value, self.given, self.line, self.column, path
        )


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

    def found(self) -> str:
        """The token as a message echoes it, with a note on its first non-ASCII character."""
        return shown(self.text) + _non_ascii(self.text, self.column)


@dataclass(frozen=True)
class _Field:
    """A header value as written, where it is (1-based), and the column of its key."""

    value: str
    line: int
    column: int
    key_column: int


def _normalise_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _lines(text: str) -> list[str]:
    """Split ``text`` into the lines an editor shows (on ``\\n``, a ``\\r`` before it dropped),
    refusing any character that ``str.splitlines()`` or an editor might take for another line
    break, every other control character but tab, and the bidirectional overrides."""
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r") and number < len(lines):  # "\r\n"; a final lone "\r" is not
            line = lines[number - 1] = line[:-1]
        bad = _FORBIDDEN_RE.search(line)
        if bad is None:
            continue
        char, column = bad.group(0), bad.start() + 1
        if char == "\r":
            why = f"{_describe(char)} not followed by a line feed: lines end in '\\n' or '\\r\\n'"
        elif char in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
            why = (
                f"{_describe(char)}: lines end in '\\n' or '\\r\\n' only, and this character is "
                "not allowed anywhere, comments included"
            )
        elif unicodedata.category(char) == "Cf":
            why = (
                f"{_describe(char)}: a bidirectional override can make an editor show a line "
                "in another order than it is read, and is not allowed"
            )
        else:
            why = (
                f"{_describe(char)}: tab is the only control character allowed in a kernel "
                "file, comments included"
            )
        raise AsmError(f"unexpected {why}", number, column)
    return lines


def _split_header(lines: list[str]) -> dict[str, _Field]:
    """Read the leading ``; key: value`` block (a key at most once)."""
    header: dict[str, _Field] = {}
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip(" \t")
        if not stripped:
            continue
        if not stripped.startswith(";"):
            break
        match = _HEADER_RE.fullmatch(raw)
        if not match:
            continue
        key = _normalise_key(match.group(1))
        if key in header:
            raise AsmError(
                f"header key {shown(key)} appears again (first on line {header[key].line}): "
                "a header key is given once",
                number,
                match.start(1) + 1,
            )
        header[key] = _Field(match.group(2), number, match.start(2) + 1, match.start(1) + 1)
    return header


def _layout_from_header(header: dict[str, _Field]) -> tuple[int | None, int | None]:
    n = registers = None
    if "task" in header:
        task = header["task"]
        text = task.value
        match = _TASK_RE.fullmatch(text.lower()) if text.isascii() else None
        if not match:
            raise AsmError(
                f"expected a task like 'sort3', found {shown(text)}{_non_ascii(text, task.column)}",
                task.line,
                task.column,
            )
        n = _number(match.group(1))
        if n is None or not 1 <= n <= MAX_N:
            raise AsmError(
                f"task {shown(text)} is out of range: sort1 to sort{MAX_N} are supported",
                task.line,
                task.column,
            )
    if "registers" in header:
        field_ = header["registers"]
        text = field_.value
        if not _NUMBER_RE.fullmatch(text):
            raise AsmError(
                "expected a positive register count, found "
                f"{shown(text)}{_non_ascii(text, field_.column)}",
                field_.line,
                field_.column,
            )
        registers = _number(text)
        if registers is None or not 1 <= registers <= MAX_REGISTERS:
            raise AsmError(
                f"register count {shown(text)} is out of range: 1 to {MAX_REGISTERS}",
                field_.line,
                field_.column,
            )
    if "length" in header:
        length = header["length"]
        if not _NUMBER_RE.fullmatch(length.value):
            raise AsmError(
                "expected the instruction count as a decimal number, found "
                f"{shown(length.value)}{_non_ascii(length.value, length.column)}",
                length.line,
                length.column,
            )
    return n, registers


def _isa_from_header(spec: _Field) -> Isa:
    text = spec.value
    if not text.isascii():  # get_isa reads opcodes through str.upper(), which folds 'ı' to 'I'
        note = _non_ascii(text, spec.column)
        raise AsmError(f"unknown ISA {shown(text)}{note}", spec.line, spec.column)
    try:
        return get_isa(text)
    except ValueError as exc:
        message = str(exc) if len(text) <= MAX_SHOWN else f"unknown ISA {shown(text)}"
        raise AsmError(message, spec.line, spec.column) from None


def _check_flags(header: dict[str, _Field], n: int | None, registers: int | None) -> None:
    """A layout passed to :func:`parse` must agree with the header's."""
    for key, given in (("task", n), ("registers", registers)):
        if given is None or key not in header:
            continue
        spec = header[key]
        digits = spec.value[4:] if key == "task" else spec.value
        stated = _number(digits)
        if stated is not None and stated != given:
            raise HeaderConflict(key, spec.value, stated, given, spec.line, spec.column)


def _tokenise(code: str) -> list[_Token]:
    """Split an instruction line (comment already removed) into words and commas, on ASCII
    blanks only: a Unicode space stays in the token and is reported there."""
    return [_Token(match.group(0), match.start() + 1) for match in _TOKEN_RE.finditer(code)]


def _parse_operand(tok: _Token | None, line: int, end_col: int, role: str) -> tuple[str, int, int]:
    """Return (kind, index, column) for an operand token such as ``r2`` or ``m0``."""
    if tok is None:
        raise AsmError(f"expected a {role} operand (rN or mN), found end of line", line, end_col)
    match = _OPERAND_RE.fullmatch(tok.text.lower()) if tok.text.isascii() else None
    if not match:
        raise AsmError(
            f"expected a {role} operand (register rN or memory mN), found {tok.found()}",
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


def _opcode(tok: _Token, isa: Isa | None, line: int) -> Op:
    """The opcode a token names: ASCII letters, any case, nothing folded into them."""
    op = _OPS.get(tok.text.lower()) if tok.text.isascii() else None
    if op is None:
        allowed = sorted(isa.ops) if isa else list(Op)
        raise AsmError(
            f"unknown opcode {tok.found()}; expected one of "
            + ", ".join(o.mnemonic for o in allowed),
            line,
            tok.column,
        )
    if isa is not None and op not in isa.ops:
        raise AsmError(
            f"opcode {op.mnemonic!r} is not in ISA {isa.name!r} "
            f"({', '.join(o.mnemonic for o in sorted(isa.ops))})",
            line,
            tok.column,
        )
    return op


def parse(
    text: str,
    *,
    n: int | None = None,
    registers: int | None = None,
    isa: Isa | str | None = None,
) -> Listing:
    """Parse assembly text into a :class:`Listing`.

    The layout comes from the header (``task: sortN``, ``registers: K``), else from ``n`` and
    ``registers`` if given, else from the highest memory and register numbers used; an ``n``
    or ``registers`` that the header contradicts raises :class:`HeaderConflict`. The ISA, if
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
    lines = _lines(text)
    fields = _split_header(lines)
    head_n, head_regs = _layout_from_header(fields)
    _check_flags(fields, n, registers)
    head_isa = _isa_from_header(fields["isa"]) if "isa" in fields else None
    if isa is None:
        isa = head_isa
    isa = get_isa(isa) if isa is not None else None
    n = n if n is not None else head_n
    registers = registers if registers is not None else head_regs

    parsed: list[tuple[Op, tuple[str, int, int], tuple[str, int, int], int]] = []
    for number, raw in enumerate(lines, start=1):
        code = raw.split(";", 1)[0]
        tokens = _tokenise(code)
        if not tokens:
            continue
        op = _opcode(tokens[0], isa, number)
        end_col = len(code.rstrip(" \t")) + 1
        dst_tok = tokens[1] if len(tokens) > 1 and tokens[1].text != "," else None
        if len(tokens) > 1 and tokens[1].text == ",":
            raise AsmError("expected a destination operand, found ','", number, tokens[1].column)
        dst = _parse_operand(dst_tok, number, end_col, "destination")
        if len(tokens) < 3 or tokens[2].text != ",":
            found = tokens[2].found() if len(tokens) >= 3 else "end of line"
            col = tokens[2].column if len(tokens) >= 3 else end_col
            raise AsmError(f"expected ',' after the destination, found {found}", number, col)
        src = _parse_operand(tokens[3] if len(tokens) > 3 else None, number, end_col, "source")
        if len(tokens) > 4:
            raise AsmError(
                f"expected end of line or a ';' comment, found {tokens[4].found()}",
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

    if "length" in fields:
        length = fields["length"]
        if _number(length.value) != len(program):
            raise AsmError(
                f"header says length {length.value} but the listing has {len(program)} "
                "instructions",
                length.line,
                length.column,
            )
    header = {key: spec.value for key, spec in fields.items()}
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
