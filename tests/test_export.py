import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from alphadev import asm
from alphadev.cli import main
from alphadev.export import ExportError, to_c, to_gas
from alphadev.tasks import random_int32_rows, tie_pattern_rows

from .conftest import DATA, REFERENCE, ROOT

DISCOVERED = sorted((ROOT / "asm" / "discovered").glob("*.s"))
KERNELS = REFERENCE + DISCOVERED
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")


def function_name(path):
    return "k_" + path.parent.name + "_" + path.stem


def build(tmp_path, flavour):
    """One shared library holding every kernel, exported as ``flavour``."""
    lib = tmp_path / f"{flavour}.so"
    sources = []
    for path in KERNELS:
        program = asm.parse_file(path).program
        if flavour == "gas":
            src = tmp_path / f"{function_name(path)}.s"
            src.write_text(to_gas(program, function_name(path)))
        else:
            src = tmp_path / f"{function_name(path)}.c"
            src.write_text(to_c(program, function_name(path)))
        sources.append(str(src))
    flags = ["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC"]
    if flavour == "portable":
        flags.append("-DALPHADEV_PORTABLE")
    subprocess.run([GCC, *flags, "-o", str(lib), *sources], check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


@needs_gcc
@pytest.mark.parametrize("flavour", ["c", "portable", "gas"])
def test_exported_kernels_sort_every_tie_pattern_and_random_int32_rows(tmp_path, flavour):
    assert len(DISCOVERED) >= 4  # the kernels `alphadev search` wrote are tested too
    lib = build(tmp_path, flavour)
    for path in KERNELS:
        n = asm.parse_file(path).program.layout.n
        rows = np.concatenate([tie_pattern_rows(n), random_int32_rows(n, 3000, seed=7)])
        rows = np.ascontiguousarray(rows, dtype=np.int32)
        kernel = getattr(lib, function_name(path))
        kernel.argtypes = [ctypes.c_void_p]
        for row in rows:  # each row sorted in place through the pointer
            kernel(row.ctypes.data)
        assert np.array_equal(rows[:, :-1] <= rows[:, 1:], np.ones_like(rows[:, 1:], bool)), path
        expected = np.sort(
            np.concatenate([tie_pattern_rows(n), random_int32_rows(n, 3000, seed=7)]), axis=1
        )
        assert np.array_equal(rows, expected), path


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


def test_flags_read_across_a_min_are_refused():
    listing = asm.parse(
        "mov r0, m0\nmov r1, m1\ncmp r0, r1\nmin r0, r1\ncmovl r1, r0\n",
        n=2,
        registers=2,
        isa="full",
    )
    with pytest.raises(ExportError, match="min/max"):
        to_c(listing.program, "f")
