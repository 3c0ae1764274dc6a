"""Fuzz the command line: argv for ``verify``, ``run``, ``export``, ``search``, ``prove`` and
``train`` (bad values only) mixing valid and invalid flags, odd paths (FIFOs, links, broken
links, folders, names with markup and control characters) and kernel files of random bytes,
random text or mutated valid kernels. Every command runs in this process through
:func:`alphadev.cli.main`, from a fresh temporary folder.

Each run must exit 0, 1, 2 or 3 with no traceback; an exit 2 is one line on stderr (``verify``:
one a bad file) and leaves the temporary folder as it was; and nothing outside the temporary
folder is touched (the catalogue, the benchmark reports, the run folders, the repository's top
level)."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphadev.cli import main

from .conftest import ROOT

SORT3 = (ROOT / "asm" / "reference" / "sort3_cmov.s").read_bytes()
SORT2 = (ROOT / "asm" / "discovered" / "sort2_cmov_8.s").read_bytes()
MINMAX3 = (ROOT / "asm" / "reference" / "sort3_minmax.s").read_bytes()
#: What a command could write by mistake outside its temporary folder.
WATCHED = [ROOT / "asm", ROOT / "benchmarks" / "results", ROOT / "runs"]
#: An odd but legal file name: rich markup, a space, a tab and a newline.
ODD = "odd [red]name[bold] \t\n.s"

FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _entry(path: Path, contents: bool) -> tuple:
    """What ``path`` is, by ``lstat`` (a FIFO is never opened): a file's size, time and (with
    ``contents``) bytes, a link's target, a folder as such (its time changes when a probe file
    comes and goes)."""
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        return ("file", info.st_size, info.st_mtime_ns, path.read_bytes() if contents else b"")
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    return (stat.S_IFMT(info.st_mode),)


def snapshot(folder: Path, contents: bool = True) -> dict:
    if not os.path.lexists(folder):
        return {}
    found = {folder: _entry(folder, contents)}
    if folder.is_dir() and not folder.is_symlink():
        for path in folder.rglob("*"):
            found[path] = _entry(path, contents)
    return found


def outside() -> dict:
    """The watched folders, and the names at the repository's top level."""
    state = {str(folder): snapshot(folder, contents=False) for folder in WATCHED}
    state["top"] = sorted(p.name for p in ROOT.iterdir() if not p.name.startswith("."))
    return state


# ------------------------------------------------------------------------------ kernel files


@st.composite
def mutated(draw, source: bytes) -> bytes:
    lines = source.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["delete", "duplicate", "swap", "byte", "header", "text"]))
        if how == "delete" and len(lines) > 1:
            del lines[i]
        elif how == "duplicate":
            lines.insert(i, lines[i])
        elif how == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif how == "byte" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            byte = draw(st.sampled_from([0, 9, 11, 12, 13, 27, 0x7F, 0x85, 0xC2, 0xFF, 0x5B]))
            lines[i] = lines[i][:k] + bytes([byte]) + lines[i][k + 1 :]
        elif how == "header":
            lines.insert(0, draw(st.sampled_from([
                b"; task: sort9", b"; task: sort0", b"; registers: 99999999999", b"; length: 3",
                b"; isa: mov", b"; isa: cmov", b"; isa: m\xd0\xbev", b"; task: sort3",
                b"; registers: 1", b"; registers: -2", b"; task: sort\xd9\xa3",
            ])))  # fmt: skip
        else:
            lines.insert(i, draw(st.text(max_size=30)).encode("utf-8", "surrogatepass"))
    return b"\n".join(lines)


def kernel_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from([SORT3, SORT2, MINMAX3, SORT3.replace(b"\n", b"\r\n"), b""]),
        st.sampled_from([SORT3, SORT2, MINMAX3]).flatmap(mutated),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def prepare(folder: Path, data) -> None:
    """The files the argv may name, in ``folder``."""
    for name in ("a.s", "b.s", ODD):
        (folder / name).write_bytes(data.draw(kernel_bytes(), label=name))
    (folder / "good.s").write_bytes(SORT3)
    (folder / "junk.pt").write_bytes(data.draw(st.binary(max_size=64), label="junk.pt"))
    (folder / "dir").mkdir()
    (folder / "dir" / "sort3_cmov_2.s").mkdir()  # a folder named like a kernel
    os.mkfifo(folder / "fifo")
    os.mkfifo(folder / "dir" / "sort3_cmov_3.s")
    (folder / "link.s").symlink_to(folder / "good.s")
    (folder / "dirlink").symlink_to(folder / "dir")
    (folder / "dangling").symlink_to(folder / "missing")
    (folder / "loop").symlink_to(folder / "loop")


# ------------------------------------------------------------------------------------- argv

#: Paths a command reads: kernel files (random, mutated or valid contents), and odd ones.
KERNELS = ["a.s", "b.s", "good.s", ODD, "link.s"]
LONG = "x" * 300  # longer than a file name may be
BAD_FILES = ["fifo", "dangling", "loop", "dir", "missing.s", "dir/sort3_cmov_3.s", "", "a.s/x",
             "/dev/null", LONG]  # fmt: skip
#: Paths a command writes: a new name, and what must be refused or left alone.
OUTPUTS = ["out.c", "new.s", ODD + ".c"]
BAD_OUTPUTS = ["new/out.c", "fifo", "link.s", "dangling", "dir", "dirlink", "good.s", "a.s/x.c",
               "loop", "", "dir/sort3_cmov_2.s", "/dev/null", LONG, f"{LONG}/k.c",
               str(ROOT / "asm" / "discovered" / "sort3_cmov_17.s")]  # fmt: skip
FOLDERS = ["out", "dir", "dirlink", "new/deeper", "."]
BAD_FOLDERS = ["fifo", "good.s", "dangling", "dangling/sub", "loop", "good.s/sub", "",
               "dir/sort3_cmov_2.s", "link.s", LONG, f"{LONG}/sub"]  # fmt: skip
BAD_INTS = ["0", "-1", "9", "99999999999999999999", "x", "", "3.5", "٣", " 3", "1e3", "0x3"]
BAD_SECONDS = ["0", "-1", "nan", "inf", "-inf", "x", "1e12", "", "1s"]
ISAS = ["cmov", "minmax", "full", "mov,cmp,cmovl,cmovg", "mov,min,max", "MOV,CMP,CMOVL"]
BAD_ISAS = ["mov", "bad", "", "mov,,cmp", "mоv,cmp,cmovl", "cmp,cmovl"]
NOISE = ["--bogus", "-x", "extra", "--json", "--", "--n=3", "-"]
#: Whole command lines of noise (never ``bench NAME``: that runs a benchmark).
NOISE_ARGV = [*NOISE, "verify", "search", "--help", "--version", "bench", "bench --nosuch",
              "prove", "train --nosuch", "run"]  # fmt: skip


@st.composite
def argvs(draw) -> list[str]:
    """A command line: half of them with valid values only (so that the commands run and
    write), the others with some invalid values, missing values and noise mixed in."""
    clean = draw(st.integers(0, 1)) == 0  # hypothesis leans to small numbers: 0 is clean

    def pick(valid: list[str], invalid: list[str] = ()) -> str:
        # hypothesis favours the ends of a range: the rare cases take a value inside it
        if invalid and not clean and draw(st.integers(0, 4)) == 2:
            return draw(st.sampled_from(invalid))
        return draw(st.sampled_from(valid))

    def opt(flag: str, valid: list[str], invalid: list[str] = ()) -> list[str]:
        """``[flag, value]``, nothing, or (not clean) ``[flag]`` alone: a missing value."""
        roll = draw(st.integers(0, 19))
        if roll < 8:
            return []
        if roll == 13 and not clean:
            return [flag]
        return [flag, pick(valid, invalid)]

    command = draw(st.sampled_from(
        ["verify", "verify", "run", "run", "export", "export", "search", "search", "prove",
         "train", "noise"]
    ))  # fmt: skip
    if command == "noise":
        words = draw(st.lists(st.sampled_from(NOISE_ARGV), max_size=3))
        return " ".join(words).split()
    argv = [command]
    if command == "verify":
        argv += [
            pick(KERNELS, BAD_FILES) for _ in range(draw(st.integers(0 if not clean else 1, 3)))
        ]
        argv += opt("--n", ["2", "3"], BAD_INTS) + opt("--registers", ["3", "4"], BAD_INTS)
        argv += opt("--random-rows", ["0", "100"], ["-5", "1000001", "x"])
        argv += opt("--seed", ["0", "7"], ["-1", "x"]) + draw(st.sampled_from([[], ["--json"]]))
    elif command == "run":
        argv += [pick(KERNELS, BAD_FILES)] if clean or draw(st.booleans()) else []
        argv += [
            "--input",
            pick(
                ["3,1,2", "-1,5,0", "2147483647,-2147483648,0", "3, 1, 2"],
                ["1,2", "a,b,c", "", "1,,2,3", "99999999999,1,2", "١,٢,٣"],
            ),
        ]
        argv += opt("--n", ["3"], BAD_INTS) + opt("--registers", ["4"], BAD_INTS)
    elif command == "export":
        header = draw(st.integers(0, 9)) == 5
        if not header:
            argv += [pick(KERNELS, BAD_FILES), "--to", pick(["c", "gas"], ["x", ""])]
            argv += opt("-o", OUTPUTS, BAD_OUTPUTS)
            argv += opt("--name", ["k", "sort3", "_x"], ["int", "", "a b", "é", "main"])
            argv += opt("--lowering", ["gpr", "sse"], ["x"])
            argv += draw(st.sampled_from([[], [], ["--unverified"]]))
            argv += opt("--n", ["3"], BAD_INTS) + opt("--registers", ["4"], BAD_INTS)
        else:
            argv += ["--header", pick(OUTPUTS, BAD_OUTPUTS)]
    elif command == "search":
        argv += opt("--n", ["2", "3"], BAD_INTS)
        argv += ["--time-limit", pick(["1", "0.5"], BAD_SECONDS)]
        argv += opt("--method", ["auto", "exact", "comparators", "best-first", "mcts"], ["x"])
        argv += opt("--isa", ISAS, BAD_ISAS) + opt("--registers", ["4", "5"], BAD_INTS)
        argv += opt("--out", FOLDERS, BAD_FOLDERS) + opt("--seed", ["0", "5"], BAD_INTS)
        argv += opt("--target", ["8", "17"], ["-3", "x"])
        argv += opt("--memory", ["64MB", "256MB"], ["0", "1KB", "lots", "1e30TB", "-1MB"])
        argv += opt("--simulations", ["16"], ["0", "-1", "99999999999"])
        argv += opt("--checkpoint", ["heuristic"], ["junk.pt", "missing.pt", "dir", "fifo"])
        argv += opt("--objective", ["length"], ["x"])
        argv += draw(st.sampled_from([[], ["--force"], ["--json"]]))
        if not clean and draw(st.booleans()):
            argv += draw(st.sampled_from([["--workers", "2"], ["--ray", ""],
                                          ["--objective", "latency", "--no-native"]]))  # fmt: skip
    elif command == "prove":
        argv += opt("--n", ["2", "3"], BAD_INTS)
        argv += ["--max-length", pick(["5", "8", "12", "16", "99999999999"], ["-1", "x"])]
        argv += ["--time-limit", pick(["1", "0.5"], BAD_SECONDS)]
        argv += opt("--isa", ISAS, BAD_ISAS) + opt("--registers", ["4"], BAD_INTS)
        argv += draw(st.sampled_from([[], ["--json"]]))
        if not clean and draw(st.booleans()):
            argv += draw(st.sampled_from([["--workers", "2"], ["--ray", ""]]))
    else:  # train: always with one bad value, so that it never trains
        argv += draw(st.sampled_from([["--simulations", "0"], ["--time-limit", "-1"],
                                      ["--steps", "-5"], ["--demonstrations", "-1"],
                                      ["--isa", "mov"], ["--n", "99"], ["--lr", "nan"],
                                      ["--memory", "lots"], ["--resume", "missing"]]))  # fmt: skip
        argv += opt("--run-dir", FOLDERS, BAD_FOLDERS) + opt("--seed", ["0"], BAD_INTS)
        argv += opt("--workers", ["0"], ["-1", "x"])
    if not clean and draw(st.integers(0, 4)) == 2:
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(NOISE)))
    return argv


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@FUZZ
@given(data=st.data())
def test_the_command_line_never_crashes_and_writes_only_where_it_was_told(data):
    with tempfile.TemporaryDirectory(prefix="alphadev-fuzz-") as name:
        folder = Path(name).resolve()
        prepare(folder, data)
        for argv in data.draw(st.lists(argvs(), min_size=1, max_size=4), label="argvs"):
            before, mine = outside(), snapshot(folder)
            with contextlib.chdir(folder):
                code, out, err = run_cli(argv)
            assert code in (0, 1, 2, 3), (argv, code, err)
            assert "Traceback" not in out + err, (argv, err)
            assert outside() == before, argv
            assert "could not write" not in err, (argv, err)  # the output was checked first
            if code == 2:
                notice = "alphadev: first run"  # the numba cache's one-time notice
                lines = [line for line in err.splitlines() if line.strip() and notice not in line]
                most = len(argv) if argv[:1] == ["verify"] else 1  # verify: a line a bad file
                assert 1 <= len(lines) <= most, (argv, err)
                assert snapshot(folder) == mine, (argv, err)


# ------------------------------------------------------------- found on the way (one each)


def test_run_names_the_flags_read_before_any_cmp_even_after_an_unwritten_register(tmp_path):
    # r1 is read before it is written first (registers start at 0 in `run`), then cmovl reads
    # flags no cmp has set: tasks.static_error(registers_start_at_zero=True) names the second
    kernel = tmp_path / "k.s"
    kernel.write_text("; task: sort2\n; registers: 2\nmov r0, r1\ncmovl r1, r0\n")
    code, _, err = run_cli(["run", str(kernel), "--input", "2,1"])
    assert code == 2 and err.count("\n") == 1, err
    assert "instruction 2 (cmovl) reads the flags before any cmp; it cannot be traced" in err
    code, out, _ = run_cli(["verify", "--json", str(kernel)])
    assert code == 1 and "instruction 1 (mov) reads r1 before it is written" in out


@pytest.mark.parametrize("json_flag", [True, False])
def test_prove_on_ray_says_how_many_workers_were_left(monkeypatch, json_flag):
    import json

    from alphadev import distributed

    def lost_a_node(task, max_core, **kwargs):
        return distributed.SplitOutcome("stopped", None, max_core, 8, 5, 2, 1234, 1.5,
                                        kwargs["workers"], 1, 3)  # fmt: skip

    monkeypatch.setattr(distributed, "prove_on_ray", lost_a_node)
    argv = ["prove", "--n", "3", "--max-length", "12", "--time-limit", "1", "--ray",
            "--workers", "4", *(["--json"] if json_flag else [])]  # fmt: skip
    code, out, err = run_cli(argv)
    assert code == 3, err
    if json_flag:
        answer = json.loads(out)
        assert answer["workers"] == 4 and answer["workers_left"] == 3
        assert answer["workers_replaced"] == 1
    else:
        assert "3 left at the end (a node was lost)" in " ".join(out.split())


def test_search_refuses_an_out_folder_behind_a_broken_link_before_any_work(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    for out in ("dangling", "dangling/sub"):
        code, _, err = run_cli(["search", "--n", "2", "--time-limit", "1",
                                "--out", str(tmp_path / out)])  # fmt: skip
        assert code == 2 and err.count("\n") == 1 and "broken symbolic link" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling"]


def test_export_never_writes_into_the_kernel_catalogue(tmp_path):
    from alphadev.catalogue import CATALOGUE

    before = snapshot(CATALOGUE, contents=False)
    kernel = str(ROOT / "asm" / "reference" / "sort3_cmov.s")
    for argv in (["export", kernel, "--to", "c", "-o", str(CATALOGUE / "sort3.c")],
                 ["export", kernel, "--to", "gas", "-o", str(CATALOGUE / "sort3_cmov_17.s")],
                 ["export", "--header", str(CATALOGUE / "sort3_cmov_fast.s")]):  # fmt: skip
        code, _, err = run_cli(argv)
        assert code == 2 and "is in the kernel catalogue" in err, err
    assert snapshot(CATALOGUE, contents=False) == before


def test_a_checkpoint_that_is_not_a_regular_file_is_named_so(tmp_path):
    code, _, err = run_cli(["search", "--n", "2", "--checkpoint", str(tmp_path)])
    assert code == 2 and "not a regular file" in err, err
