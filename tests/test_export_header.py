"""``alphadev export --header``: one C header with the catalogue's kernels and sort_small_i32."""

import os
import re
import shutil
import subprocess

import pytest

from alphadev import catalogue, exact, tasks
from alphadev.catalogue import HeaderKernel, header_kernels
from alphadev.cli import main
from alphadev.export import ExportError, to_c_header
from alphadev.tasks import SortTask

from .conftest import ROOT

GCC = shutil.which("gcc")
GXX = shutil.which("g++")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")
SORT3 = str(ROOT / "asm" / "reference" / "sort3_cmov.s")

#: Checks sort_small_i32 against qsort for n = 0..12: ARRAYS arrays per n (uniform int32,
#: values from {0, 1, 2}, edge values with INT32_MIN and INT32_MAX, values from -2..2), every
#: array over {0, 1, 2} for n <= 8, and guard words on both sides of the array. Exit 1 on the
#: first mismatch.
CHECK = r"""#include "sorts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAYS 20000
#define GUARD 2
static const int32_t EDGE[] = {INT32_MIN, INT32_MIN + 1, -2, -1, 0, 1, 2, INT32_MAX - 1,
                               INT32_MAX};
static uint64_t state = 0x9E3779B97F4A7C15u;

static uint32_t next(void) { /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (uint32_t)((state * 0x2545F4914F6CDD1Du) >> 32);
}

static int ascending(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static int check(const int32_t *input, size_t n) {
    int32_t buffer[GUARD + 16 + GUARD], expected[16];
    size_t i;
    for (i = 0; i < sizeof buffer / sizeof *buffer; i++)
        buffer[i] = 0x5A5A5A5A;
    memcpy(buffer + GUARD, input, n * sizeof *input);
    memcpy(expected, input, n * sizeof *input);
    qsort(expected, n, sizeof *expected, ascending);
    sort_small_i32(buffer + GUARD, n);
    if (memcmp(buffer + GUARD, expected, n * sizeof *input) != 0) {
        printf("n=%zu: wrong output for input", n);
        for (i = 0; i < n; i++)
            printf(" %d", (int)input[i]);
        printf("\n");
        return 1;
    }
    for (i = 0; i < sizeof buffer / sizeof *buffer; i++)
        if ((i < GUARD || i >= GUARD + n) && buffer[i] != 0x5A5A5A5A) {
            printf("n=%zu: wrote outside the array\n", n);
            return 1;
        }
    return 0;
}

int main(void) {
    int32_t a[16];
    size_t n, i, t;
    long checked = 0;
    for (n = 0; n <= 12; n++) {
        for (t = 0; t < ARRAYS; t++) {
            for (i = 0; i < n; i++) {
                uint32_t r = next();
                switch (t % 4) {
                case 0: a[i] = (int32_t)r; break;
                case 1: a[i] = (int32_t)(r % 3); break;
                case 2: a[i] = EDGE[r % (sizeof EDGE / sizeof *EDGE)]; break;
                default: a[i] = (int32_t)(r % 5) - 2; break;
                }
            }
            if (check(a, n))
                return 1;
            checked++;
        }
        if (n <= 8) { /* every array over {0, 1, 2}: every tie pattern of up to 3 values */
            size_t count = 1;
            for (i = 0; i < n; i++)
                count *= 3;
            for (t = 0; t < count; t++) {
                size_t code = t;
                for (i = 0; i < n; i++, code /= 3)
                    a[i] = (int32_t)(code % 3);
                if (check(a, n))
                    return 1;
                checked++;
            }
        }
    }
    printf("ok %ld\n", checked);
    return 0;
}
"""


def sse_kernels():
    """The lowered minmax sorting networks for n = 2..8 in the sse lowering."""
    out = []
    for n in range(2, 9):
        task = SortTask(n, n + 1, "minmax")
        program = exact.assemble(task, exact.network_core(task))
        out.append(HeaderKernel(n, program, "sse", f"minmax network for n={n}"))
    return out


@pytest.fixture(scope="module")
def catalogue_header():
    return to_c_header(header_kernels())


def compile_and_run(folder, header: str, flags: list[str], compiler: str | None = GCC) -> str:
    (folder / "sorts.h").write_text(header)
    (folder / "check.c").write_text(CHECK)
    exe = folder / "check"
    language = ["-x", "c++"] if compiler == GXX else ["-std=c99"]
    build = subprocess.run(
        [compiler, *language, "-Wall", "-Wextra", "-Werror", *flags, "-o", str(exe),
         str(folder / "check.c")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@needs_gcc
@pytest.mark.parametrize(
    "flags", [["-O0"], ["-O2"], ["-O3"], ["-O2", "-DALPHADEV_PORTABLE"], ["-O2", "-Wpedantic"]]
)
def test_the_header_sorts_like_qsort(tmp_path, catalogue_header, flags):
    out = compile_and_run(tmp_path, catalogue_header, flags)
    assert out.startswith("ok ") and int(out.split()[1]) >= 13 * 20_000


@needs_gcc
@pytest.mark.parametrize("flags", [["-O0"], ["-O3"]])
def test_a_header_of_sse_kernels_sorts_like_qsort(tmp_path, flags):
    header = to_c_header(sse_kernels())
    assert "pminsd %[r" in header and "pmaxsd %[r" in header and '"=&x"' in header
    compile_and_run(tmp_path, header, flags)


@pytest.mark.skipif(GXX is None, reason="g++ is not installed")
def test_the_header_compiles_as_cpp(tmp_path, catalogue_header):
    compile_and_run(tmp_path, catalogue_header, ["-O2"], compiler=GXX)


def test_the_header_names_each_kernel_its_source_and_length(catalogue_header):
    kernels = header_kernels()
    assert [k.n for k in kernels] == list(range(2, 9))
    for k in kernels:
        line = f"alphadev_sort{k.n}_i32: {len(k.program)} instructions, lowering {k.lowering}"
        assert f"{line}, from {k.source}" in catalogue_header
        assert f"static inline void alphadev_sort{k.n}_i32(int32_t *a)" in catalogue_header
    text = catalogue_header
    assert text.index("#ifndef ALPHADEV_SORTS_H") < text.index("#include <stdint.h>")
    assert "#include <stddef.h>" in text and text.rstrip().endswith("#endif /* ALPHADEV_SORTS_H */")
    assert "static inline void sort_small_i32(int32_t *a, size_t n)" in text
    assert "insertion sort" in text and "SSE4.1" in text and "ALPHADEV_PORTABLE" in text


def test_to_c_header_refuses_inconsistent_kernels():
    kernels = sse_kernels()
    with pytest.raises(ExportError, match="two kernels for n=2"):
        to_c_header([kernels[0], kernels[0]])
    with pytest.raises(ExportError, match="sorts 3 values"):
        to_c_header([HeaderKernel(2, kernels[1].program, "sse", "x")])
    cmov = header_kernels()[1]
    with pytest.raises(ExportError, match=rf"n=3 \({re.escape(cmov.source)}\): the sse lowering"):
        to_c_header([HeaderKernel(3, cmov.program, "sse", cmov.source)])
    comment = to_c_header([HeaderKernel(2, kernels[0].program, "gpr", "evil */ name\n")])
    assert "evil * / name?" in comment


def test_cli_writes_the_header(tmp_path, capsys):
    path = tmp_path / "sorts.h"
    path.write_text("an old header")  # a regular file is replaced
    assert main(["export", "--header", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert path.read_text() == to_c_header(header_kernels(), title="sorts.h")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sorts.h"]  # no temporary left


def refused(argv, capsys, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("flag", ["--header", "-o"])
def test_cli_refuses_a_fifo_a_symlink_and_a_folder_before_any_work(
    tmp_path, capsys, monkeypatch, flag
):
    def no_work(*args, **kwargs):
        raise AssertionError("work began before the output path was checked")

    monkeypatch.setattr(catalogue, "header_kernels", no_work)
    monkeypatch.setattr(tasks, "verify", no_work)
    fifo = tmp_path / "fifo.h"
    os.mkfifo(fifo)
    target = tmp_path / "target.h"
    target.write_text("keep")
    link = tmp_path / "link.h"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.h"
    dangling.symlink_to(tmp_path / "missing.h")
    folder = tmp_path / "folder"
    folder.mkdir()
    command = ["export", "--header"] if flag == "--header" else ["export", SORT3, "--to", "c", "-o"]
    refused([*command, str(fifo)], capsys, flag, "not a regular file")
    refused([*command, str(link)], capsys, "symbolic link")
    refused([*command, str(dangling)], capsys, "symbolic link")
    refused([*command, str(folder)], capsys, "is a folder")
    assert fifo.is_fifo() and link.is_symlink() and dangling.is_symlink()
    assert target.read_text() == "keep" and list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.h", "fifo.h", "folder", "link.h", "target.h"]  # fmt: skip


def test_cli_header_takes_no_file_or_output(tmp_path, capsys):
    path = tmp_path / "sorts.h"
    refused(["export", SORT3, "--header", str(path)], capsys, "takes no FILE")
    refused(["export", "--header", str(path), "-o", str(tmp_path / "x.h")], capsys, "-o")
    refused(["export", "--header", str(path), "--to", "c", "--lowering", "sse"], capsys,
            "--to, --lowering")  # fmt: skip
    assert list(tmp_path.iterdir()) == []
