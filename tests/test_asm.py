import pytest
from hypothesis import given

from alphadev import asm
from alphadev.isa import Layout

from .conftest import REFERENCE, programs


@given(programs())
def test_parse_format_round_trip(program):
    layout = program.layout
    text = asm.format(program, {"task": f"sort{layout.n}", "registers": layout.registers})
    listing = asm.parse(text)
    assert listing.program == program
    assert asm.format(listing) == text  # canonical text is a fixed point


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_files_are_canonical(path):
    text = path.read_text()
    assert asm.format(asm.parse(text)) == text


def test_canonical_form_normalises_spacing_case_and_comments():
    text = ";  Task : sort2\n; isa: cmov\nMOV   r0 ,m0 ; load\n\n  mov r1,m1\n; a comment\n"
    listing = asm.parse(text)
    assert listing.header == {"task": "sort2", "isa": "cmov"}
    assert asm.format(listing) == "; task: sort2\n; isa: cmov\n\nmov r0, m0\nmov r1, m1\n"


def test_layout_is_inferred_without_header():
    listing = asm.parse("mov r3, m1\nmov m0, r3\n")
    assert listing.program.layout == Layout(2, 4)


BAD = [
    # (text, line, column, words the message must contain)
    ("mov r0, m0\nmvo r1, m1\n", 2, 1, ["unknown opcode 'mvo'", "expected one of"]),
    ("mov r0, x1\n", 1, 9, ["found 'x1'", "register rN or memory mN"]),
    ("mov r0 m0\n", 1, 8, ["expected ','", "found 'm0'"]),
    ("mov r0,\n", 1, 8, ["source operand", "found end of line"]),
    ("mov\n", 1, 4, ["destination operand", "end of line"]),
    ("mov r0, m0, r1\n", 1, 11, ["expected end of line", "found ','"]),
    ("; task: sort3\nmov r0, m0\ncmovl r0, m1\n", 3, 11, ["cmovl takes registers only", "'m1'"]),
    ("; task: sort3\nmin m0, r0\n", 2, 5, ["min takes registers only"]),
    ("; task: sort3\nmov m0, m1\n", 2, 9, ["memory to memory"]),
    ("; task: sort3\n; registers: 4\nmov r4, m0\n", 3, 5, ["r4 out of range", "r0..r3"]),
    ("; task: sort3\nmov r0, m3\n", 2, 9, ["m3 out of range", "m0..m2"]),
    ("; task: sort3\n; isa: minmax\ncmp r0, r1\n", 3, 1, ["not in ISA 'minmax'"]),
    ("; task: sorted\nmov r0, m0\n", 1, 9, ["expected a task like 'sort3'", "'sorted'"]),
    ("; task: sort2\n; length: 3\nmov r0, m0\n", 2, 11, ["length 3", "1 instructions"]),
    ("mov r0, r1\n", 1, 1, ["cannot tell the sort size"]),
    ("mov r14, m0\n", 1, 5, ["register 'r14' out of range", "at most r13"]),
    ("mov r0, m8\n", 1, 9, ["memory slot 'm8' out of range", "at most m7"]),
    ("mov r\u0661, m0\n", 1, 5, ["found 'r\u0661'"]),  # an Arabic-Indic digit is not 1
    ("; task: sort9\nmov r0, m0\n", 1, 9, ["out of range: sort1 to sort8"]),
    ("; registers: 15\nmov r0, m0\n", 1, 14, ["out of range: 1 to 14"]),
    ("mov " + "x" * 1000 + ", m0\n", 1, 5, ["found '" + "x" * 40 + "'..."]),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), BAD)
def test_malformed_input_names_line_column_and_expectation(text, line, column, words):
    with pytest.raises(asm.AsmError) as info:
        asm.parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    for word in words:
        assert word in str(err)
    assert str(err).startswith(f"line {line}, col {column}: ")


def test_a_byte_order_mark_is_skipped_and_a_large_file_refused(tmp_path):
    assert asm.parse("\ufeff; task: sort2\nmov r0, m0\n").header == {"task": "sort2"}
    path = tmp_path / "big.s"
    path.write_text(";" * (asm.MAX_FILE_BYTES + 1))
    with pytest.raises(asm.AsmError, match="file too large"):
        asm.parse_file(path)


def test_file_errors_carry_the_path(tmp_path):
    path = tmp_path / "bad.s"
    path.write_text("mov r0, m0\ncmovz r0, r1\n")
    with pytest.raises(asm.AsmError) as info:
        asm.parse_file(path)
    assert str(info.value).startswith(f"{path}:2:1: unknown opcode 'cmovz'")
