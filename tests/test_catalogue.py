"""The catalogue's files (:mod:`alphadev.catalogue`) and the one output-path rule every command
that writes follows (:mod:`alphadev.atomic`, the benchmarks' ``common.check_output``)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alphadev import asm
from alphadev.atomic import NotRegularFile, not_regular, unwritable_folder, write_atomic
from alphadev.catalogue import (
    CATALOGUE,
    catalogue_best,
    fast_file,
    fast_is_better,
    header_kernels,
    isa_tag,
    read_kernel,
    search_command,
    write_fastest,
    write_kernel,
)
from alphadev.cli import build_parser
from alphadev.latency import critical_path
from alphadev.options import config_from_args
from alphadev.pareto import score
from alphadev.race import Candidate, SearchResult
from alphadev.search import SearchConfig
from alphadev.tasks import verify

from .conftest import DATA, ROOT

SORT3 = CATALOGUE / "sort3_cmov_17.s"
SORT2 = CATALOGUE / "sort2_cmov_8.s"
MINMAX3 = CATALOGUE / "sort3_minmax_14.s"
WRONG3 = DATA / "sort3_fails_on_ties.s"  # 20 instructions, wrong on ties
CUSTOM = "mov,cmp,cmovl,cmovg"  # the ops SORT3 uses
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def found(path: Path, isa: str = "cmov") -> SearchResult:
    """A search result whose best (and fastest) kernel is the one in ``path``, verified."""
    program = asm.parse_file(path).program
    n = program.layout.n
    best = Candidate(program, len(program), len(program) - 2 * n, critical_path(program),
                     "test", 0.0)  # fmt: skip
    config = SearchConfig(n=n, isa=isa, registers=program.layout.registers, objective="latency")
    result = SearchResult(config=config, best=best, verified=verify(program, n), optimal=False,
                          stop_reason="done", seconds=0.0, simulations=0, mcts_states=0,
                          enumeration_states=0, evaluator="heuristic")  # fmt: skip
    result.fastest = score(program, "test", 0.0)
    result.fastest_verified = result.verified
    return result


def make(path: Path, kind: str, source: Path = SORT3) -> None:
    """Put a ``kind`` at ``path``: a copy of ``source``, a folder, a FIFO, a link or text."""
    if kind == "copy":
        shutil.copyfile(source, path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(source)
    elif kind == "dangling":
        path.symlink_to(path.parent / "missing.s")
    else:
        path.write_text(kind)


def what(path: Path) -> str:
    if path.is_symlink():
        return "symlink"
    if path.is_fifo():
        return "fifo"
    return "folder" if path.is_dir() else path.read_text()


# -------------------------------------------------------------------------------- file names


def test_named_isas_keep_their_names_and_subsets_get_their_own():
    assert [isa_tag(name) for name in ("cmov", "minmax", "full")] == ["cmov", "minmax", "full"]
    assert isa_tag(CUSTOM) == "custom-mov-cmp-cmovl-cmovg"
    assert isa_tag("CMOVG, mov,cmp ,cmovl") == "custom-mov-cmp-cmovl-cmovg"  # one name a set
    # the opcodes of cmov, spelled out, are a custom set: never compared with cmov's files
    assert isa_tag("mov,cmp,cmovl,cmovg,cmovle,cmovge").startswith("custom-")
    assert fast_file("out", 3, "mov,min,max") == Path("out/sort3_custom-mov-min-max_fast.s")
    assert "," not in isa_tag("mov,cmp,cmovl")


@needs_fifo
def test_names_alone_count_for_nothing(tmp_path):
    decoys = {
        "sort3_cmov_2.s": "folder",
        "sort3_cmov_3.s": "fifo",  # opened, it would hang the search
        "sort3_cmov_4.s": "symlink",  # to a real kernel, but a link
        "sort3_cmov_5.s": "dangling",
        "sort3_cmov_6.s": "not a kernel\n",
        "sort3_cmov_7.s": "copy",  # the 17 kernel: its name lies about its length
        "sort3_cmov_x_9.s": "copy",  # not the name of a cmov kernel
        "sort3_cmov_10.s": ("copy", SORT2),  # another task's
        "sort3_cmov_14.s": ("copy", MINMAX3),  # another ISA's
        "sort3_cmov_20.s": ("copy", WRONG3),  # wrong on ties
        f"sort3_{isa_tag(CUSTOM)}_11.s": "copy",  # a custom ISA's file
    }
    for name, kind in decoys.items():
        kind, source = kind if isinstance(kind, tuple) else (kind, SORT3)
        make(tmp_path / name, kind, source)
    kinds = {name: what(tmp_path / name) for name in decoys}
    assert catalogue_best(tmp_path, 3, "cmov") is None
    path, message = write_kernel(found(SORT3), tmp_path)
    assert path == tmp_path / "sort3_cmov_17.s", message
    assert catalogue_best(tmp_path, 3, "cmov") == (17, path)
    assert read_kernel(path, 3, "cmov") == asm.parse_file(SORT3).program
    assert {name: what(tmp_path / name) for name in kinds} == kinds  # every decoy as it was


def test_a_kernel_at_least_as_short_is_never_replaced_without_force(tmp_path):
    path, _ = write_kernel(found(SORT3), tmp_path)
    again, message = write_kernel(found(SORT3), tmp_path)
    assert again is None and "re-discovered" in message
    forced, _ = write_kernel(found(SORT3), tmp_path, force=True)
    assert forced == path and read_kernel(path, 3, "cmov") is not None


@needs_fifo
@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling", "folder"])
def test_nothing_replaces_what_is_not_a_regular_file_not_even_force(tmp_path, kind):
    for name in ("sort3_cmov_17.s", "sort3_cmov_fast.s"):
        make(tmp_path / name, kind)
    result = found(SORT3)
    for write in (write_kernel, write_fastest):
        for force in (False, True):
            path, message = write(result, tmp_path, force=force)
            assert path is None and "is not a regular file" in message
    for name in ("sort3_cmov_17.s", "sort3_cmov_fast.s"):
        assert what(tmp_path / name) == kind.replace("dangling", "symlink")


@pytest.mark.parametrize("content", ["not a kernel\n", ("copy", SORT2), ("copy", WRONG3)])
def test_a_file_at_the_target_that_is_no_such_kernel_is_kept_unless_force(tmp_path, content):
    kind, source = content if isinstance(content, tuple) else (content, SORT3)
    for name in ("sort3_cmov_17.s", "sort3_cmov_fast.s"):
        make(tmp_path / name, kind, source)
    before = (tmp_path / "sort3_cmov_17.s").read_bytes()
    result = found(SORT3)
    path, message = write_kernel(result, tmp_path)
    assert path is None and "not a verified sort3 cmov kernel" in message, message
    fast, why = write_fastest(result, tmp_path)
    assert fast is None and "cannot be read as a kernel" in why, why
    assert (tmp_path / "sort3_cmov_17.s").read_bytes() == before
    assert write_kernel(result, tmp_path, force=True)[0] == tmp_path / "sort3_cmov_17.s"
    assert write_fastest(result, tmp_path, force=True)[0] == tmp_path / "sort3_cmov_fast.s"


def test_a_custom_isa_has_files_of_its_own(tmp_path):
    make(tmp_path / "sort3_cmov_17.s", "copy")
    path, message = write_kernel(found(SORT3, isa=CUSTOM), tmp_path)
    assert path == tmp_path / "sort3_custom-mov-cmp-cmovl-cmovg_17.s", message
    assert asm.parse_file(path).header["isa"] == CUSTOM
    fast, _ = write_fastest(found(SORT3, isa=CUSTOM), tmp_path)
    assert fast == tmp_path / "sort3_custom-mov-cmp-cmovl-cmovg_fast.s"
    assert catalogue_best(tmp_path, 3, CUSTOM) == (17, path)
    assert read_kernel(path, 3, "cmov") is None  # never counted as a cmov kernel
    assert catalogue_best(tmp_path, 3, "cmov") == (17, tmp_path / "sort3_cmov_17.s")
    (tmp_path / "sort3_cmov_17.s").unlink()
    assert catalogue_best(tmp_path, 3, "cmov") is None  # the custom one does not stand in


def test_the_fastest_file_is_compared_only_with_a_kernel_of_its_task(tmp_path):
    path = fast_file(tmp_path, 3, "cmov")
    make(path, "copy", SORT2)  # a sort2 kernel under a sort3 name: far "faster"
    mine = score(asm.parse_file(SORT3).program, "test", 0.0)
    t, lat = mine.throughput, mine.latency
    assert not fast_is_better(path, t, lat, 17)[0]  # without the task: by the figures
    better, why = fast_is_better(path, t, lat, 17, n=3, isa="cmov")
    assert not better and "cannot be read as a kernel" in why


@needs_fifo
def test_the_header_skips_files_that_are_not_kernels_of_their_task(tmp_path):
    make(tmp_path / "sort3_cmov_fast.s", "copy", SORT2)
    make(tmp_path / "sort3_minmax_fast.s", "fifo")
    make(tmp_path / "sort4_cmov_fast.s", "symlink", CATALOGUE / "sort4_cmov_fast.s")
    make(tmp_path / "sort4_cmov_28.s", "copy", CATALOGUE / "sort4_cmov_28.s")
    sources = {kernel.n: kernel.source for kernel in header_kernels(tmp_path)}
    assert sources[3] == "lowered sorting network"
    assert sources[4] == "sort4_cmov_28.s"


# --------------------------------------------------------------------------- output-path rule


@needs_fifo
@pytest.mark.parametrize(
    ("kind", "words"),
    [("fifo", "FIFO"), ("symlink", "symbolic link"), ("dangling", "symbolic link"),
     ("folder", "is a folder")],
)  # fmt: skip
def test_an_atomic_write_never_replaces_what_is_not_a_regular_file(tmp_path, kind, words):
    target = tmp_path / "report.md"
    make(target, kind, tmp_path / "elsewhere.md")
    (tmp_path / "elsewhere.md").write_text("keep me\n")
    assert words in not_regular(target)
    with pytest.raises(NotRegularFile, match=words):
        write_atomic(target, "new\n")
    assert what(target) == kind.replace("dangling", "symlink")
    assert (tmp_path / "elsewhere.md").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.md", "report.md"]


def test_the_folder_of_an_output_must_be_able_to_hold_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "broken").symlink_to(tmp_path / "missing")
    assert unwritable_folder(tmp_path / "new" / "deeper") is None
    assert "exists and is not a folder" in unwritable_folder(tmp_path / "file")
    assert "is a file, not a folder" in unwritable_folder(tmp_path / "file" / "sub")
    assert "broken symbolic link" in unwritable_folder(tmp_path / "broken" / "sub")
    assert "not writable" in unwritable_folder(tmp_path / ("x" * 300))
    assert not (tmp_path / "new").exists()  # looking creates nothing
    assert not_regular(tmp_path / "file") is None and not_regular(tmp_path / "new.md") is None


@pytest.fixture
def common(monkeypatch, tmp_path):
    """``benchmarks/common.py``, its published reports under ``tmp_path/results``."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    return common


@needs_fifo
@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling", "folder"])
def test_a_benchmark_refuses_an_output_that_is_not_a_regular_file(common, tmp_path, kind, capsys):
    target = tmp_path / "report.md"
    make(target, kind, tmp_path / "elsewhere.md")
    with pytest.raises(SystemExit) as stop:
        common.check_output(target, quick=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and str(target) in lines[0], lines
    assert what(target) == kind.replace("dangling", "symlink")


def test_a_quick_benchmark_never_replaces_a_published_report(common, tmp_path, capsys):
    published = common.report_path("game.md", quick=False)
    published.parent.mkdir()
    published.write_text("the published figures\n")
    for path in (published, published.parent / "other.md", published.parent / "quick" / ".." /
                 "game.md"):  # fmt: skip
        with pytest.raises(SystemExit) as stop:
            common.check_output(path, quick=True)
        assert stop.value.code == 2 and "--quick" in capsys.readouterr().err
    quick = common.report_path("game.md", quick=True)
    assert common.check_output(quick, quick=True) == quick
    assert common.check_output(published, quick=False) == published
    common.write_atomic(quick, "quick figures\n")
    assert published.read_text() == "the published figures\n"
    assert quick.read_text() == "quick figures\n"


def test_a_benchmark_figure_is_written_atomically(common, tmp_path):
    class Figure:
        def savefig(self, handle, format, dpi):
            handle.write(f"{format} {dpi}".encode())

    path = tmp_path / "plot.png"
    common.save_figure(Figure(), path, dpi=90)
    assert path.read_bytes() == b"png 90" and os.listdir(tmp_path) == ["plot.png"]


@needs_fifo
def test_a_benchmark_script_checks_its_output_before_any_work(tmp_path):
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)
    published = ROOT / "benchmarks" / "results" / "game.md"
    before = published.stat().st_mtime_ns if published.exists() else None
    script = str(ROOT / "benchmarks" / "game.py")
    for out in (fifo, published):
        proc = subprocess.run([sys.executable, script, "--quick", "--out", str(out)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("game.py: --out") and "Traceback" not in proc.stderr
    assert fifo.is_fifo()
    assert (published.stat().st_mtime_ns if published.exists() else None) == before


@pytest.mark.parametrize(
    "config",
    [
        SearchConfig(n=7, method="comparators", time_limit=900),
        SearchConfig(n=3, isa="mov,cmp,cmovl", registers=5, objective="length", seed=4),
        SearchConfig(n=4, checkpoint="a b/net.pt", simulations=16, gumbel=True),
    ],
)
def test_the_command_in_a_kernel_header_runs_the_same_search(config):
    words = shlex.split(search_command(config))
    assert words[:2] == ["alphadev", "search"]
    args = build_parser().parse_args(words[1:])
    assert config_from_args(SearchConfig, args) == config
