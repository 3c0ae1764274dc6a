import json
import os
import subprocess
import sys

import pytest

from alphadev.cli import main

from .conftest import DATA, REFERENCE


def snapshot(folder):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*"))}


def test_verify_reference_kernels_exit_0_with_expected_lengths(capsys):
    assert main(["verify", "--json", *map(str, REFERENCE)]) == 0
    rows = json.loads(capsys.readouterr().out)
    lengths = {os.path.basename(r["file"]): r["length"] for r in rows}
    assert lengths["sort3_cmov.s"] == 18 and lengths["sort4_cmov.s"] == 28
    assert lengths["sort5_cmov.s"] == 46
    for row in rows:
        assert set(row) == {
            "file",
            "correct",
            "length",
            "core_length",
            "rows",
            "counterexample",
            "reason",
        }
        assert row["correct"] is True and row["counterexample"] is None
        n = int(row["file"].split("sort")[1][0])
        assert row["core_length"] == row["length"] - 2 * n


def test_verify_wrong_kernel_exits_1_and_prints_counterexample(capsys):
    path = str(DATA / "sort3_fails_on_ties.s")
    assert main(["verify", path]) == 1
    out = capsys.readouterr().out
    assert "counterexample: input [0, 0, 1] expected [0, 0, 1] got [0, 1, 1]" in out
    assert main(["verify", "--json", path]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert row["correct"] is False
    assert row["counterexample"] == {"input": [0, 0, 1], "expected": [0, 0, 1], "got": [0, 1, 1]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mov r0, m0\nmov r9, q1\n", ":2:9: expected a source operand"),
        ("; task: sort2\ncmovl r0, m1\n", ":2:11: cmovl takes registers only"),
    ],
)
def test_malformed_file_exits_2_with_one_line_and_changes_nothing(tmp_path, capsys, text, message):
    bad = tmp_path / "bad.s"
    bad.write_text(text)
    before = snapshot(tmp_path)
    assert main(["verify", str(bad), *map(str, REFERENCE[:1])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(str(bad)) and message in err
    assert snapshot(tmp_path) == before


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.s")]) == 2
    assert "nope.s: no such file" in capsys.readouterr().err


def test_bad_flag_exits_2_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "alphadev", "verify", "--frobnicate", "x.s"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unrecognized arguments" in proc.stderr


def test_console_script_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "alphadev", "verify", str(DATA / "missing.s")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_run_prints_a_trace(capsys):
    path = next(p for p in REFERENCE if p.name == "sort3_cmov.s")
    assert main(["run", str(path), "--input=-3,2147483647,-2147483648"]) == 0
    out = capsys.readouterr().out
    assert "cmovg r0, r2" in out and "output [-2147483648, -3, 2147483647]: sorted" in out
    assert out.count("\n") > 18  # a line per instruction


def test_run_rejects_wrong_input_length(capsys):
    path = REFERENCE[0]
    assert main(["run", str(path), "--input", "1,2"]) == 2
    assert "sorts 3 values, got 2" in capsys.readouterr().err


def test_run_reports_unsorted_output(capsys):
    assert main(["run", str(DATA / "sort3_fails_on_ties.s"), "--input", "4,4,9"]) == 1
    out = capsys.readouterr().out
    assert (
        "output [4, 9, 9]: wrong, in order, but not the input's values (expected [4, 4, 9])" in out
    )


def test_a_piped_table_keeps_each_path_on_one_line(tmp_path):
    folder = tmp_path / "a_rather_long_folder_name_for_the_kernels_of_this_project"
    folder.mkdir()
    kernel = folder / "sort3_cmov_17_with_a_long_name.s"
    kernel.write_text((REFERENCE[0]).read_text())
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "alphadev", "verify", str(kernel)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert str(kernel) in proc.stdout, proc.stdout  # not cut in the middle by an 80-column page
