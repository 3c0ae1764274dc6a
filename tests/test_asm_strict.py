"""The kernel reader accepts only what an editor shows as one line per instruction: lines end in
``\\n`` or ``\\r\\n``; other line breaks, control characters and bidirectional overrides are
refused wherever they are (comments included); opcodes and operands are ASCII, a look-alike is
never folded into one; a header key appears once and its numbers are well formed; a flag that
disagrees with the header is an error; and paths are printed literally (no rich markup)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphadev import asm
from alphadev.cli import main

from .conftest import DATA, ROOT

SORT3 = ROOT / "asm" / "reference" / "sort3_cmov.s"
SORT3_TEXT = SORT3.read_text()
SORT3_LINES = SORT3_TEXT.splitlines()  # an ASCII file: splitlines is the editor's split here
CODE_LINES = [line for line in SORT3_LINES if line and not line.startswith(";")]

#: Characters str.splitlines() (or some editor) takes for a line break, besides "\n".
BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]
#: Other characters refused anywhere.
CONTROLS = ["\x00", "\x01", "\x08", "\x1b", "\x1f", "\x7f", "\x80", "\x9f"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
FORBIDDEN = BREAKS + CONTROLS + BIDI
#: Non-ASCII letters and blanks that look like ASCII (or fold to it under upper/lower/NFKC).
LOOKALIKES = [
    "\u043e",  # Cyrillic o
    "\u0430",  # Cyrillic a
    "\u0131",  # dotless i: "m\u0131n".upper() == "MIN"
    "\u017f",  # long s: upper() is "S"
    "\u212a",  # Kelvin sign: lower() is "k"
    "\uff4d",  # fullwidth m
    "\uff10",  # fullwidth 0
    "\u0661",  # Arabic-Indic 1
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\uff0c",  # fullwidth comma
    "\uff1b",  # fullwidth semicolon
    "\u200b",  # zero-width space
]


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr without the first-run notice)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    lines = [line for line in err.getvalue().splitlines() if "first run on this" not in line]
    return code, out.getvalue(), "\n".join(lines)


def one_error_line(code: int, out: str, err: str) -> str:
    """Exit 2, no traceback, exactly one line on stderr (returned), nothing on stdout."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def editor_position(text: str) -> tuple[int, int] | None:
    """Where an editor puts the first refused character: lines split on "\\n" only (a "\\r"
    before it belongs to the break), columns from 1; None if there is none."""
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r") and number < len(lines):
            line = line[:-1]
        for column, char in enumerate(line, start=1):
            if char in FORBIDDEN:
                return number, column
    return None


# --------------------------------------------------------------------------------------------
# 1. Lines are what an editor shows
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_a_hidden_break_or_control_in_a_comment_is_refused_at_its_column(char):
    # with the character as a line break, "cmovl r0, m1" would be an (illegal) instruction
    text = f"; task: sort3\nmov r0, m0 ; load{char}mov r1, m1\n"
    with pytest.raises(asm.AsmError) as info:
        asm.parse(text)
    err = info.value
    assert (err.line, err.column) == (2, 18), str(err)
    assert f"U+{ord(char):04X}" in str(err)


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_a_break_or_control_in_code_or_header_is_refused(char):
    for text, where in [
        (f"; task: sort2\nmov r0,{char}m0\n", (2, 8)),
        (f"; task: sort2{char} \nmov r0, m0\n", (1, 14)),  # not "\r\n": a lone "\r"
        (f"{char}; task: sort2\nmov r0, m0\n", (1, 1)),
    ]:
        with pytest.raises(asm.AsmError) as info:
            asm.parse(text)
        assert (info.value.line, info.value.column) == where, (text, str(info.value))


def test_crlf_and_lf_line_ends_and_tabs_are_accepted_and_counted_as_an_editor_does():
    crlf = SORT3_TEXT.replace("\n", "\r\n")
    assert asm.parse(crlf).program == asm.parse(SORT3_TEXT).program
    mixed = "; task: sort2\r\n; registers: 2\r\n\tmov\tr0,\tm0\t; tab\tcomment\nmov r1, m1\r\n"
    assert len(asm.parse(mixed).program) == 2
    with pytest.raises(asm.AsmError) as info:
        asm.parse(mixed + "mov m0, r9\n")
    assert (info.value.line, info.value.column) == (5, 9)
    assert "r9" in str(info.value)


def test_a_final_lone_carriage_return_is_refused():
    with pytest.raises(asm.AsmError) as info:
        asm.parse("; task: sort2\nmov r0, m0\r")
    assert (info.value.line, info.value.column) == (2, 11)
    assert "not followed by a line feed" in str(info.value)


def test_non_ascii_text_in_a_comment_is_kept_out_of_the_code():
    text = (
        "; task: sort2\n; found_by: Jos\u00e9 \u2014 \u65e5\u672c\n"
        "mov r0, m0 ; caf\u00e9 m\u043ev\n"
    )
    listing = asm.parse(text)
    assert len(listing.program) == 1
    assert listing.header["found_by"] == "Jos\u00e9 \u2014 \u65e5\u672c"


def test_a_hidden_instruction_in_a_comment_is_rejected_not_executed(tmp_path):
    # after a form feed, "mov m0, r3" would overwrite the smallest value: a wrong kernel
    lines = list(SORT3_LINES)
    last = len(lines) - 1
    lines[last] += " ; store\x0cmov m0, r3"
    path = tmp_path / "hidden.s"
    path.write_text("\n".join(lines) + "\n")
    line = one_error_line(*run_cli(["verify", str(path), "--random-rows", "0"]))
    column = len(SORT3_LINES[last]) + len(" ; store") + 1
    assert line.startswith(f"{path}:{last + 1}:{column}: unexpected U+000C FORM FEED"), line


def test_the_command_line_refuses_a_hidden_separator_in_a_subprocess(tmp_path):
    path = tmp_path / "k.s"
    path.write_text(SORT3_TEXT.replace("mov r0, m0\n", "mov r0, m0 ; x\u2028mov m0, r3\n", 1))
    done = subprocess.run(
        [sys.executable, "-m", "alphadev", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    err = [line for line in done.stderr.splitlines() if "first run on this" not in line]
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert len(err) == 1 and "U+2028 LINE SEPARATOR" in err[0], err


# --------------------------------------------------------------------------------------------
# 2. Opcodes and operands are ASCII: nothing is folded into one
# --------------------------------------------------------------------------------------------

LOOKALIKE_CASES = [
    # (instruction line, column of the token, code point named)
    ("m\u043ev r0, m0", 1, "U+043E CYRILLIC SMALL LETTER O"),
    ("\uff4dov r0, m0", 1, "U+FF4D FULLWIDTH LATIN SMALL LETTER M"),
    ("MOV r0, m0\nm\u0131n r0, r1", 1, "U+0131 LATIN SMALL LETTER DOTLESS I"),
    ("mov r\uff10, m0", 5, "U+FF10 FULLWIDTH DIGIT ZERO"),
    ("mov r0, \uff4d0", 9, "U+FF4D FULLWIDTH LATIN SMALL LETTER M"),
    ("mov\u00a0r0, m0", 1, "U+00A0 NO-BREAK SPACE"),
    ("mov r0,\u3000m0", 8, "U+3000 IDEOGRAPHIC SPACE"),
    ("mov r0\uff0c m0", 5, "U+FF0C FULLWIDTH COMMA"),
    ("mov r0 \uff0cm0", 8, "U+FF0C FULLWIDTH COMMA"),
    ("mov r0, m0 \uff1b comment", 12, "U+FF1B FULLWIDTH SEMICOLON"),
    ("mov r0, m0\u200b", 9, "U+200B ZERO WIDTH SPACE"),
]


@pytest.mark.parametrize(("line", "column", "named"), LOOKALIKE_CASES)
def test_a_lookalike_in_an_opcode_or_operand_is_an_error_naming_it(line, column, named):
    text = f"; task: sort2\n; registers: 2\n{line}\n"
    with pytest.raises(asm.AsmError) as info:
        asm.parse(text)
    err = info.value
    assert err.line == 2 + len(line.split("\n")), str(err)
    assert err.column == column, str(err)
    assert named in str(err) and "is not ASCII" in str(err)


def test_a_long_non_ascii_token_is_echoed_in_at_most_40_characters():
    token = "m\u043ev" + "\u043e" * 500
    with pytest.raises(asm.AsmError) as info:
        asm.parse(f"; task: sort2\n{token} r0, m0\n")
    message = str(info.value)
    assert repr(token[: asm.MAX_SHOWN]) + "..." in message
    assert token[: asm.MAX_SHOWN + 1] not in message


@pytest.mark.parametrize(
    "value",
    ["m\u0131n,max,mov", "cmov\u00a0", "\uff43mov", "mov,\u017fwap"],
)
def test_an_isa_header_is_ascii(value):
    with pytest.raises(asm.AsmError) as info:
        asm.parse(f"; task: sort2\n; isa: {value}\nmov r0, m0\n")
    assert (info.value.line, info.value.column) == (2, 8)
    assert "not ASCII" in str(info.value) or "unknown ISA" in str(info.value)


def test_ascii_case_is_still_accepted():
    listing = asm.parse("; TASK: SORT2\n; ISA: MIN,Max,MOV\nMOV R0, M0\nMin r0, R1\n", registers=2)
    assert listing.program == asm.parse("; task: sort2\nmov r0, m0\nmin r0, r1\n").program


# --------------------------------------------------------------------------------------------
# 3. The header
# --------------------------------------------------------------------------------------------

HEADER_BAD = [
    # (text, line, column, words)
    ("; task: sort2\n; task: sort2\nmov r0, m0\n", 2, 3, ["'task' appears again", "line 1"]),
    ("; Task: sort2\n; isa: cmov\n; TASK: sort3\n", 3, 3, ["'task' appears again", "line 1"]),
    ("; found_by: me\n; task: sort2\n; found-by: you\n", 3, 3, ["'found_by' appears again"]),
    ("; task: sort2\n; length: one\nmov r0, m0\n", 2, 11, ["decimal number", "'one'"]),
    ("; task: sort2\n; length:\nmov r0, m0\n", 2, 10, ["decimal number", "''"]),
    ("; task: sort2\n; length: 1.0\nmov r0, m0\n", 2, 11, ["decimal number", "'1.0'"]),
    ("; task: sort2\n; length: -1\nmov r0, m0\n", 2, 11, ["decimal number", "'-1'"]),
    ("; task: sort2\n; length: \u0661\nmov r0, m0\n", 2, 11, ["decimal number", "U+0661"]),
    ("; task: sort2\n; length: 2\nmov r0, m0\n", 2, 11, ["length 2", "1 instructions"]),
    ("; task: sort2\n; length: 10000000000\nmov r0, m0\n", 2, 11, ["length 10000000000"]),
    ("; task: sort2\n; registers: four\nmov r0, m0\n", 2, 14, ["register count", "'four'"]),
    ("; task: sort2\n; registers: 4x\nmov r0, m0\n", 2, 14, ["register count", "'4x'"]),
    ("; task: sort2\n; registers:\nmov r0, m0\n", 2, 13, ["register count", "''"]),
    ("; task: sort2\n; registers: \uff14\nmov r0, m0\n", 2, 14, ["U+FF14"]),
    ("; task: sort\nmov r0, m0\n", 1, 9, ["expected a task like 'sort3'"]),
    ("; task: sort3x\nmov r0, m0\n", 1, 9, ["expected a task like 'sort3'"]),
    ("; task: sort 3\nmov r0, m0\n", 1, 9, ["expected a task like 'sort3'"]),
    ("; task: sort\u0663\nmov r0, m0\n", 1, 9, ["U+0663"]),
    ("; task: \uff53ort3\nmov r0, m0\n", 1, 9, ["U+FF53"]),
    ("; task: sort3\u00a0\nmov r0, m0\n", 1, 9, ["U+00A0"]),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), HEADER_BAD)
def test_a_malformed_or_repeated_header_is_an_error(text, line, column, words):
    with pytest.raises(asm.AsmError) as info:
        asm.parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    for word in words:
        assert word in str(err), str(err)


def test_the_catalogue_and_test_kernels_still_parse():
    files = sorted((ROOT / "asm").rglob("*.s")) + sorted(DATA.glob("*.s"))
    assert len(files) > 10
    for path in files:
        listing = asm.parse_file(path)
        if "length" in listing.header:
            assert int(listing.header["length"]) == len(listing.program)


def test_a_repeated_key_after_the_header_is_only_a_comment():
    text = "; task: sort2\n\nmov r0, m0\n; task: sort5\n; length: x\nmov m0, r0\n"
    assert len(asm.parse(text).program) == 2


# --------------------------------------------------------------------------------------------
# 4. A flag that disagrees with the header is an error
# --------------------------------------------------------------------------------------------


def test_parse_refuses_a_layout_that_the_header_contradicts():
    text = "; task: sort2\n; registers: 3\nmov r0, m0\n"
    with pytest.raises(asm.HeaderConflict) as info:
        asm.parse(text, n=3)
    assert (info.value.line, info.value.column, info.value.given) == (1, 9, 3)
    with pytest.raises(asm.HeaderConflict) as info:
        asm.parse(text, registers=2)
    assert (info.value.line, info.value.column, info.value.header_value) == (2, 14, 3)
    assert asm.parse(text, n=2, registers=3).program == asm.parse(text).program
    assert asm.parse("mov r0, m0\n", n=3, registers=5).program.layout.registers == 5


COMMANDS = {
    "verify": ["--random-rows", "0"],
    "run": ["--input", "3,1,2"],
    "export": ["--to", "c"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("flag", "value", "header"),
    [("--n", "4", "'; task: sort3'"), ("--registers", "5", "'; registers: 4'")],
)
def test_a_flag_that_disagrees_with_the_header_is_one_line_and_exit_2(
    tmp_path, command, flag, value, header
):
    path = tmp_path / "k.s"
    path.write_text(SORT3_TEXT)
    extra = list(COMMANDS[command])
    if command == "export":
        extra += ["-o", str(tmp_path / "out.c")]
    line = one_error_line(*run_cli([command, str(path), flag, value, *extra]))
    prefix = "" if command == "verify" else f"alphadev {command}: "  # verify: a line a file
    assert line.startswith(f"{prefix}{flag} {value} disagrees with {path}:"), line
    assert header in line and f"({flag} {int(value) - 1})" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.s"]  # nothing written


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_flag_that_agrees_with_the_header_is_fine(tmp_path, command, capsys):
    path = tmp_path / "k.s"
    path.write_text(SORT3_TEXT)
    assert main([command, str(path), "--n", "3", "--registers", "4", *COMMANDS[command]]) == 0


# --------------------------------------------------------------------------------------------
# 5. Paths and user text are printed literally
# --------------------------------------------------------------------------------------------


def _markup_names(tmp_path: Path) -> list[Path]:
    """A kernel under names that rich would read as markup."""
    (tmp_path / "x[").mkdir()
    (tmp_path / "bold[bold]" / "[red]z[").mkdir(parents=True)
    paths = [
        tmp_path / "sort3[v2].s",
        tmp_path / "x[" / "]y.s",  # "x[/]y.s": a closing tag with nothing to close
        tmp_path / "bold[bold]" / "[red]z[/red].s",
        tmp_path / "back\\[v2].s",
    ]
    for path in paths:
        path.write_text(SORT3_TEXT)
    return paths


def test_verify_prints_bracketed_paths_literally(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # no path folded over lines of the table
    paths = _markup_names(tmp_path)
    wrong = tmp_path / "x[" / "]wrong[b].s"
    wrong.write_text((DATA / "sort3_fails_on_ties.s").read_text())
    code, out, err = run_cli(["verify", *map(str, paths), str(wrong), "--random-rows", "0"])
    assert code == 1 and "Traceback" not in out + err, err
    for path in [*paths, wrong]:
        assert f"│ {path} " in out, (path, out)
    assert f"{wrong}: " in out and "counterexample: input [" in out


def test_run_prints_bracketed_paths_literally(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")
    for path in _markup_names(tmp_path):
        code, out, err = run_cli(["run", str(path), "--input", "3,1,2"])
        assert code == 0 and "Traceback" not in out + err, err
        assert out.startswith(f"{path} on input [3, 1, 2]"), out
        assert out.rstrip().endswith("output [1, 2, 3]: sorted"), out


def test_an_error_about_a_bracketed_path_is_literal(tmp_path):
    (tmp_path / "x[").mkdir()
    path = tmp_path / "x[" / "]bad[red].s"
    path.write_text("; task: sort3\nm\u043ev r0, m0\n")
    line = one_error_line(*run_cli(["verify", str(path)]))
    assert line.startswith(f"{path}:2:1: unknown opcode"), line
    line = one_error_line(*run_cli(["run", str(path), "--input", "1,2,3"]))
    assert line.startswith(f"alphadev run: {path}:2:1: unknown opcode"), line


# --------------------------------------------------------------------------------------------
# Fuzz: whatever the file holds, verify answers 0, 1 or 2 without a traceback, and a refused
# character is reported where an editor shows it
# --------------------------------------------------------------------------------------------

GRAMMAR_LINES = st.builds(
    "{} {}{}, {}{}".format,
    st.sampled_from(["mov", "cmp", "cmovl", "cmovg", "cmovle", "cmovge", "min", "max", "MOV"]),
    st.sampled_from(["r", "m", "R"]),
    st.integers(0, 5),
    st.sampled_from(["r", "m"]),
    st.integers(0, 5),
)
HEADER_LINES = st.sampled_from(
    ["; task: sort3", "; registers: 4", "; isa: cmov", "; length: 18", "; length: x",
     "; task: sort3", "; registers: 5", "; task: sort٣", "; isa: m\u0131n,max,mov"]
)  # fmt: skip
INJECTED = st.sampled_from(FORBIDDEN + LOOKALIKES + ["\t", " ", ",", ";", "\u00e9"])
COMMENT_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from("abc xyz:,;0123"), INJECTED), max_size=20
).map(lambda s: "; " + s)


@st.composite
def kernel_texts(draw) -> str:
    if draw(st.booleans()):
        lines = list(SORT3_LINES)
    else:
        lines = draw(st.lists(HEADER_LINES, max_size=3))
        lines += draw(st.lists(st.one_of(GRAMMAR_LINES, st.sampled_from(CODE_LINES)), max_size=8))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines)))
        what = draw(st.sampled_from(["comment", "append", "inject", "line"]))
        if what == "comment":
            lines.insert(i, draw(COMMENT_TEXT))
        elif what == "line":
            lines.insert(i, draw(st.one_of(GRAMMAR_LINES, HEADER_LINES)))
        elif lines and i < len(lines):
            if what == "append":
                lines[i] += " " + draw(COMMENT_TEXT)
            else:
                at = draw(st.integers(0, len(lines[i])))
                lines[i] = lines[i][:at] + draw(INJECTED) + lines[i][at:]
    end = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return end.join(lines) + draw(st.sampled_from([end, "", "\r"]))


@fuzz(150)
@given(text=kernel_texts(), flags=st.sampled_from([[], [], ["--n", "3"], ["--registers", "5"]]))
def test_fuzz_verify_answers_0_1_or_2_and_places_a_refused_character(text, flags):
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "k.s"
        path.write_bytes(text.encode("utf-8"))
        code, out, err = run_cli(["verify", str(path), "--random-rows", "10", *flags])
        assert code in (0, 1, 2), (code, err)
        assert "Traceback" not in out + err, err
        where = editor_position(text)
        if code == 2:
            line = one_error_line(code, out, err)
            assert str(path) in line, line
        if where is not None:  # refused, at the place an editor shows, before anything else
            assert code == 2, (text, out)
            assert f"{path}:{where[0]}:{where[1]}: unexpected U+" in err, (text, err)


@fuzz(100)
@given(
    at=st.integers(0, len(SORT3_LINES) - 1),
    char=st.sampled_from(FORBIDDEN),
    hidden=st.sampled_from(["mov m0, r3", "mov m2, r0", "cmovg r0, r1", "mov r0, m0"]),
)
def test_fuzz_an_instruction_behind_a_hidden_break_is_never_run(at, char, hidden):
    lines = list(SORT3_LINES)
    lines[at] += f" ; note{char}{hidden}"
    text = "\n".join(lines) + "\n"
    with pytest.raises(asm.AsmError) as info:
        asm.parse(text)
    assert (info.value.line, info.value.column) == (at + 1, len(SORT3_LINES[at]) + 8)
