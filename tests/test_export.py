import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

from alphadev import asm, exact
from alphadev.cli import main
from alphadev.export import ExportError, to_c, to_gas
from alphadev.isa import Instruction, Op, Program
from alphadev.tasks import INT32_MAX, INT32_MIN, SortTask, random_int32_rows, tie_pattern_rows

from .conftest import DATA, REFERENCE, ROOT

DISCOVERED = sorted((ROOT / "asm" / "discovered").glob("*.s"))
KERNELS = REFERENCE + DISCOVERED
#: The kernels of mov/min/max only: the ones the sse lowering takes.
MINMAX = [p for p in KERNELS if asm.parse_file(p).program.ops_used <= {Op.MOV, Op.MIN, Op.MAX}]
GCC = shutil.which("gcc")
OBJDUMP = shutil.which("objdump")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")
WARNINGS = ["-Wall", "-Wextra", "-Werror"]

#: Runs a kernel over many rows in one call (a ctypes call per row is slow for sort8's rows).
APPLY_ROWS = """#include <stddef.h>
#include <stdint.h>
void apply_rows(void (*kernel)(int32_t *), int32_t *rows, size_t count, size_t n);
void apply_rows(void (*kernel)(int32_t *), int32_t *rows, size_t count, size_t n) {
    for (size_t i = 0; i < count; i++)
        kernel(rows + i * n);
}
"""


def function_name(path):
    return "k_" + path.parent.name + "_" + path.stem


def build(tmp_path, flavour, kernels, *, lowering="gpr", opt="-O2"):
    """One shared library holding ``kernels`` (``{name: program}``), exported as ``flavour``
    (``c``, ``portable`` or ``gas``) in ``lowering``, and ``apply_rows``."""
    lib = tmp_path / f"{flavour}{opt}.so"
    (tmp_path / "apply_rows.c").write_text(APPLY_ROWS)
    sources = [str(tmp_path / "apply_rows.c")]
    for name, program in kernels.items():
        if flavour == "gas":
            src = tmp_path / f"{name}.s"
            src.write_text(to_gas(program, name, lowering=lowering))
        else:
            src = tmp_path / f"{name}.c"
            src.write_text(to_c(program, name, lowering=lowering))
        sources.append(str(src))
    flags = [opt, *WARNINGS, "-shared", "-fPIC"]
    if flavour == "portable":
        flags.append("-DALPHADEV_PORTABLE")
    proc = subprocess.run([GCC, *flags, "-o", str(lib), *sources], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(str(lib))


def files(paths):
    return {function_name(path): asm.parse_file(path).program for path in paths}


def sample_rows(n, random_rows=3000):
    """Every tie pattern and random int32 rows (INT32_MIN and INT32_MAX among them)."""
    rows = np.concatenate([tie_pattern_rows(n), random_int32_rows(n, random_rows, seed=7)])
    assert (rows == INT32_MIN).any() and (rows == INT32_MAX).any()
    return np.ascontiguousarray(rows, dtype=np.int32)


def assert_sorts_natively(lib, kernels):
    """Each kernel, called natively on every row in place, agrees with numpy's sort."""
    apply_rows = lib.apply_rows
    apply_rows.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    for name, program in kernels.items():
        n = program.layout.n
        rows = sample_rows(n)
        expected = np.sort(rows, axis=1)
        kernel = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
        apply_rows(kernel, rows.ctypes.data, len(rows), n)
        assert np.array_equal(rows, expected), name


@needs_gcc
@pytest.mark.parametrize("flavour", ["c", "portable", "gas"])
def test_exported_kernels_sort_every_tie_pattern_and_random_int32_rows(tmp_path, flavour):
    assert len(DISCOVERED) >= 4  # the kernels `alphadev search` wrote are tested too
    kernels = files(KERNELS)
    assert_sorts_natively(build(tmp_path, flavour, kernels), kernels)


@needs_gcc
@pytest.mark.parametrize(("flavour", "opt"), [("c", "-O0"), ("c", "-O2"), ("c", "-O3"),
                                              ("gas", "-O2")])  # fmt: skip
def test_sse_lowering_of_every_minmax_kernel_sorts_natively(tmp_path, flavour, opt):
    assert len(MINMAX) >= 6 and any(p.parent.name == "discovered" for p in MINMAX)
    kernels = files(MINMAX)
    assert_sorts_natively(build(tmp_path, flavour, kernels, lowering="sse", opt=opt), kernels)


def disassembly(lib_path) -> dict[str, str]:
    """``objdump -d`` of a library, one text per function symbol."""
    text = subprocess.run([OBJDUMP, "-d", str(lib_path)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    blocks = re.split(r"^[0-9a-f]+ <([^>]+)>:$", text, flags=re.MULTILINE)
    return dict(zip(blocks[1::2], blocks[2::2], strict=True))


@needs_gcc
@pytest.mark.skipif(OBJDUMP is None, reason="objdump is not installed")
def test_the_sse_c_export_compiles_to_pminsd_and_pmaxsd(tmp_path):
    kernels = files(MINMAX)
    build(tmp_path, "c", kernels, lowering="sse", opt="-O2")
    code = disassembly(tmp_path / "c-O2.so")
    for name, program in kernels.items():
        ops = program.ops_used
        assert ("pminsd" in code[name]) == (Op.MIN in ops), name
        assert ("pmaxsd" in code[name]) == (Op.MAX in ops), name
        assert "cmov" not in code[name] and "%xmm" in code[name], name


def wide_networks():
    """Lowered sorting networks for n = 7, 8 (cmov and minmax) with a dead copy into one more
    register: n + 2 registers, the most register pressure the catalogue's kernels reach."""
    out = {}
    for n in (7, 8):
        for isa in ("cmov", "minmax"):
            task = SortTask(n, n + 2, isa)
            code = list(exact.assemble(task, exact.network_core(task)).code)
            layout = task.layout
            code.insert(n, Instruction(Op.MOV, layout.register(n + 1), layout.register(0)))
            out[f"net{n}_{isa}"] = Program(layout, tuple(code))
    return out


@needs_gcc
@pytest.mark.parametrize("lowering", ["gpr", "sse"])
def test_sort7_and_sort8_with_n_plus_2_registers_compile_at_O0_and_sort(tmp_path, lowering):
    """At -O0 one operand per memory slot left gcc no registers ('impossible constraints');
    the array is now one pointer operand."""
    kernels = wide_networks()
    if lowering == "sse":
        kernels = {name: p for name, p in kernels.items() if name.endswith("minmax")}
    assert_sorts_natively(build(tmp_path, "c", kernels, lowering=lowering, opt="-O0"), kernels)


def test_the_sse_lowering_refuses_cmp_and_cmov_and_unknown_lowerings():
    program = asm.parse_file(ROOT / "asm" / "reference" / "sort3_cmov.s").program
    for export in (to_c, to_gas):
        with pytest.raises(ExportError, match=r"sse lowering takes kernels of mov/min/max only"):
            export(program, "f", lowering="sse")
        with pytest.raises(ExportError, match="unknown lowering 'avx'"):
            export(program, "f", lowering="avx")


def test_the_gpr_lowering_is_the_default_and_sse_maps_every_instruction():
    program = asm.parse_file(ROOT / "asm" / "reference" / "sort3_minmax.s").program
    assert to_c(program, "f") == to_c(program, "f", lowering="gpr")
    assert to_gas(program, "f") == to_gas(program, "f", lowering="gpr")
    gas = to_gas(program, "f", lowering="sse")
    body = [line.split()[0] for line in gas.splitlines() if line.startswith("    ")
            and not line.startswith("    .")]  # fmt: skip
    layout = program.layout
    mnemonics = [
        {Op.MIN: "pminsd", Op.MAX: "pmaxsd"}.get(ins.op)
        or ("movdqa" if layout.is_register(ins.src) and layout.is_register(ins.dst) else "movd")
        for ins in program
    ]
    assert body == [*mnemonics, "ret"]
    assert "movd 4(%rdi), %xmm1" in gas and "movd %xmm0, (%rdi)" in gas
    assert "push" not in gas and "cmp" not in gas


def test_cli_refuses_an_unverified_kernel_with_exit_2(tmp_path, capsys):
    out = tmp_path / "k.c"
    bad = str(DATA / "sort3_fails_on_ties.s")
    assert main(["export", bad, "--to", "c", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not verify" in err and "--unverified" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["export", bad, "--to", "c", "-o", str(out), "--unverified"]) == 0
    assert "NOT VERIFIED" in out.read_text()


def test_cli_writes_c_and_gas_and_rejects_a_bad_name(tmp_path, capsys):
    src = str(ROOT / "asm" / "reference" / "sort3_cmov.s")
    assert main(["export", src, "--to", "gas", "--name", "my_sort3"]) == 0
    assert ".globl my_sort3" in capsys.readouterr().out
    assert main(["export", src, "--to", "c", "--name", "3bad"]) == 2
    assert "not a C identifier" in capsys.readouterr().err


def test_cli_lowering(tmp_path, capsys):
    minmax = str(ROOT / "asm" / "reference" / "sort3_minmax.s")
    cmov = str(ROOT / "asm" / "reference" / "sort3_cmov.s")
    out = tmp_path / "k.c"
    assert main(["export", minmax, "--to", "c", "--lowering", "sse", "-o", str(out)]) == 0
    assert "pminsd %[r" in out.read_text() and "sse" in capsys.readouterr().out
    assert main(["export", minmax, "--to", "gas", "--lowering", "sse"]) == 0
    assert "pmaxsd %xmm" in capsys.readouterr().out
    assert main(["export", minmax, "--to", "gas", "--lowering", "gpr"]) == 0
    assert "cmovl" in capsys.readouterr().out
    refused = tmp_path / "refused.c"
    for to in ("c", "gas"):
        assert main(["export", cmov, "--to", to, "--lowering", "sse", "-o", str(refused)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert "sse lowering takes kernels of mov/min/max only" in err and "cmp" in err
        assert not refused.exists()
    assert main(["export", minmax, "--to", "c", "--lowering", "avx"]) == 2
    assert "invalid choice: 'avx'" in capsys.readouterr().err
    assert main(["export", minmax]) == 2
    assert "--to is required" in capsys.readouterr().err
    assert main(["export", "--to", "c"]) == 2
    assert "give a kernel FILE" in capsys.readouterr().err


def test_flags_read_across_a_min_are_refused():
    listing = asm.parse(
        "mov r0, m0\nmov r1, m1\ncmp r0, r1\nmin r0, r1\ncmovl r1, r0\n",
        n=2,
        registers=2,
        isa="full",
    )
    with pytest.raises(ExportError, match="min/max"):
        to_c(listing.program, "f")
