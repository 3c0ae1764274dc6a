"""Defects found on the way ("The house, second pass"): each test would have caught one."""

from __future__ import annotations

import ctypes
import dataclasses
import re
import shutil
import subprocess

import numpy as np
import pytest

from alphadev import asm, export, hashing, isa, search
from alphadev.cli import main
from alphadev.exact import best_first, columns, moves
from alphadev.isa import MAX_REGISTERS, Layout, Op
from alphadev.mcts import tree
from alphadev.tasks import SortTask, tie_pattern_rows

from .conftest import ROOT

# ------------------------------------------------------------------ column_result's opcodes


def expected_column(op: Op, a: np.ndarray, b: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """What ``op dst, src`` leaves in ``dst``, written out with numpy (not via result_of)."""
    return {
        Op.MOV: b,
        Op.CMOVL: np.where(flags < 0, b, a),
        Op.CMOVG: np.where(flags > 0, b, a),
        Op.CMOVLE: np.where(flags <= 0, b, a),
        Op.CMOVGE: np.where(flags >= 0, b, a),
        Op.MIN: np.minimum(a, b),
        Op.MAX: np.maximum(a, b),
    }[op]


def test_column_result_computes_every_register_writing_opcode():
    rng = np.random.default_rng(0)
    regs = rng.integers(0, 8, size=(3, 40)).astype(np.int8)
    flags = rng.integers(-1, 2, size=40).astype(np.int8)
    out = np.empty(40, dtype=np.int8)
    for op in Op:
        if op == Op.CMP:
            continue
        columns.column_result(int(op), 2, 0, regs, flags, out)
        assert np.array_equal(out, expected_column(op, regs[2], regs[0], flags)), op.name
        if op != Op.MOV:  # creates_target's own dispatch, for the merges it lets through
            columns._merge_column(int(op), 2, 0, regs, flags, out)
            assert np.array_equal(out, expected_column(op, regs[2], regs[0], flags)), op.name


@pytest.mark.parametrize("op", [int(Op.CMP), max(Op) + 1, -1])
def test_column_result_refuses_an_opcode_that_writes_no_register(op):
    """It used to fall through to ``max`` for any opcode it did not name, ``cmp`` included."""
    regs = np.array([[1, 2, 3], [3, 2, 1]], dtype=np.int8)
    flags = np.zeros(3, dtype=np.int8)
    out = np.zeros(3, dtype=np.int8)
    with pytest.raises(ValueError, match="writes no register"):
        columns.column_result(op, 0, 1, regs, flags, out)


def test_the_compiled_kernels_take_their_opcodes_from_isa():
    ops = [int(op) for op in (Op.MOV, Op.CMP, Op.CMOVL, Op.CMOVGE, Op.MIN, Op.MAX)]
    in_moves = [moves.MOV, moves.CMP, moves.CMOV_FIRST, moves.CMOV_LAST, moves.MIN, moves.MAX]
    assert in_moves == ops
    assert ops[:4] == [columns._MOV, columns._CMP, columns._CMOVL, columns._CMOVGE]
    opcode_literal = r"^_?(MOV|CMP|CMOV\w*|MIN|MAX)\b[^=\n]*= *\d"
    for path in sorted((ROOT / "alphadev" / "exact").glob("*.py")):
        source = path.read_text()
        assert not re.search(opcode_literal, source, flags=re.MULTILINE), path.name
        assert not re.search(r"\bop == \d", source), path.name


# ------------------------------------------------------------------ one register limit

SORT3 = (ROOT / "asm" / "reference" / "sort3_cmov.s").read_text()


def kernel_with(registers: int) -> str:
    """The reference sort3 kernel with dead copies of r0 into r4..r{registers-1}, declaring
    ``registers`` registers (it uses every one of them)."""
    head, body = SORT3.split("\n\n", 1)
    head = head.replace("; registers: 4", f"; registers: {registers}")
    head = "\n".join(
        line for line in head.splitlines() if not line.startswith(("; length", "; core_length"))
    )
    lines = body.splitlines()
    copies = [f"mov r{r}, r0" for r in range(4, registers)]
    return head + "\n\n" + "\n".join(lines[:3] + copies + lines[3:]) + "\n"


def test_one_register_limit_for_every_room():
    assert MAX_REGISTERS == len(export._GAS_REGISTERS) == 14
    assert asm.MAX_REGISTERS is isa.MAX_REGISTERS
    assert search.MAX_REGISTERS is isa.MAX_REGISTERS
    assert Layout(3, MAX_REGISTERS).registers == MAX_REGISTERS
    with pytest.raises(ValueError, match=f"register counts 1 to {MAX_REGISTERS}"):
        Layout(3, MAX_REGISTERS + 1)
    with pytest.raises(ValueError, match=f"register counts 1 to {MAX_REGISTERS}"):
        SortTask(3, MAX_REGISTERS + 1)
    with pytest.raises(ValueError, match="registers"):
        search.SearchConfig(n=3, registers=MAX_REGISTERS + 1)


def test_a_kernel_with_the_most_registers_verifies_and_exports(tmp_path, capsys):
    path = tmp_path / "wide.s"
    path.write_text(kernel_with(MAX_REGISTERS))
    program = asm.parse_file(path).program
    assert program.layout.registers == MAX_REGISTERS
    assert len(export._registers(program)) == MAX_REGISTERS  # every register is used
    assert main(["verify", str(path)]) == 0
    for to in ("c", "gas"):
        assert main(["export", str(path), "--to", to, "-o", str(tmp_path / f"k.{to}")]) == 0
    capsys.readouterr()
    gcc = shutil.which("gcc")
    if gcc is None:
        return
    # The GNU assembler file (every register named, callee-saved ones saved) sorts natively.
    (tmp_path / "k.s").write_text(export.to_gas(program, "wide"))
    lib = tmp_path / "k.so"
    subprocess.run([gcc, "-shared", "-o", str(lib), str(tmp_path / "k.s")], check=True)
    kernel = ctypes.CDLL(str(lib)).wide
    for row in tie_pattern_rows(3):
        values = (ctypes.c_int32 * 3)(*(int(v) - 1 for v in row))
        kernel(values)
        assert list(values) == sorted(int(v) - 1 for v in row)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            kernel_with(MAX_REGISTERS + 1),
            f"register count '15' is out of range: 1 to {MAX_REGISTERS}",
        ),
        ("; task: sort3\nmov r0, m0\nmov r14, r0\n", "register 'r14' out of range: at most r13"),
    ],
)
@pytest.mark.parametrize(
    "command", [["verify"], ["export", "--to", "c"], ["export", "--to", "gas"]]
)
def test_one_register_more_is_refused_by_verify_and_export_alike(
    tmp_path, capsys, text, message, command
):
    path = tmp_path / "wide.s"
    path.write_text(text)
    assert main([command[0], str(path), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# ------------------------------------------------------------------ hashing constants


def test_the_hash_constants_live_in_hashing_only():
    fnv = {f"{int(c):#x}" for c in (hashing.FNV_PRIME, hashing.FNV_SEED)}
    mark = f"{int(hashing.LAST_CMP_MARK):#x}"  # native.py's C RNG seed is another matter
    for path in (ROOT / "alphadev").rglob("*.py"):
        if path.name == "hashing.py":
            continue
        text = path.read_text().lower()
        for literal in fnv | ({mark} if path.parent.name == "exact" else set()):
            assert literal not in text, f"{path.name} types {literal} again"
    # and they are the constants the kernels have always used
    assert int(hashing.FNV_PRIME) == 0x100000001B3
    assert int(hashing.FNV_SEED) == 0xCBF29CE484222325
    assert int(hashing.fnv_seed()) == int(hashing.FNV_SEED)
    h = int(hashing.FNV_SEED)
    assert int(hashing.fnv_mix(hashing.FNV_SEED, 5)) == ((h ^ 5) * 0x100000001B3) % 2**64


# ------------------------------------------------------------------ dead code


def test_every_tree_counter_slot_has_a_name_and_a_use():
    """``I_COUNTERS`` named a seventh slot, "seed", that nothing read or wrote."""
    slots = (tree._NODES, tree._SIMS, tree._BOUND, tree._EVALS, tree._FULL, tree._FOUND)
    assert sorted(slots) == list(range(len(tree.I_COUNTERS)))
    source = (ROOT / "alphadev" / "mcts" / "tree.py").read_text()
    for name in ("_NODES", "_SIMS", "_BOUND", "_EVALS", "_FULL", "_FOUND"):
        assert f"counters[{name}]" in source


# ------------------------------------------------------------------ best_first's arrays


def test_best_first_kernel_arrays_match_their_docstring():
    doc = best_first._kernel.py_func.__doc__
    p_slots = [v for k, v in vars(best_first).items() if k.startswith("_P_") and k != "_P_SIZE"]
    o_slots = [v for k, v in vars(best_first).items() if k.startswith("_O_") and k != "_O_SIZE"]
    assert sorted(p_slots) == list(range(best_first._P_SIZE))
    assert sorted(o_slots) == list(range(best_first._O_SIZE))
    assert f"``params``: int64[{best_first._P_SIZE}]" in doc
    assert f"``out``: int64[{best_first._O_SIZE}]" in doc


def test_best_first_result_takes_keywords_only():
    fields = [f.name for f in dataclasses.fields(best_first.BestFirstResult)]
    assert len(fields) == 11
    with pytest.raises(TypeError):
        best_first.BestFirstResult("found", None, "beam", False, 0, 0.0, False)  # type: ignore[misc]
    result = best_first.beam_search(SortTask(3), max_core=12)
    assert result.status == "found" and result.mode == "beam" and result.rounds == 1
    assert result.rows == SortTask(3).num_rows and result.candidate is not None


# ------------------------------------------------------------------ the docs say what it does


def test_the_architecture_page_says_best_first_replays_its_paths():
    text = (ROOT / "docs" / "architecture.md").read_text()
    code = (ROOT / "alphadev" / "exact" / "best_first.py").read_text()
    assert "replaying the path from the root" in code
    flat = " ".join(text.split())
    assert "replaying its path from the root" in flat
    assert not re.search(r"every engine[^.]*never a replay", flat, flags=re.IGNORECASE)


def test_the_driver_reads_tree_counters_by_their_named_slots():
    """mcts.driver indexes Tree.counters only through the named slots of mcts.tree."""
    import re

    from alphadev.mcts import tree

    slots = [tree.C_NODES, tree.C_SIMULATIONS, tree.C_BOUND, tree.C_EVALUATIONS, tree.C_FULL,
             tree.C_FOUND]  # fmt: skip
    assert [tree.I_COUNTERS[i] for i in slots] == [
        "nodes", "simulations", "bound", "evaluations", "full", "found"]  # fmt: skip
    source = (ROOT / "alphadev" / "mcts" / "driver.py").read_text()
    assert not re.search(r"counters\[\d", source)
