"""Reliability of search and prove: true verdicts, no found kernel lost, no foreign file
replaced (issue: reliability, second pass)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from alphadev import asm
from alphadev.cli import main
from alphadev.network import DIGEST, payload_digest

from .conftest import ROOT


def _ctrl_c_as_a_terminal_gives_it():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.parametrize(("n", "length"), [(5, 46), (6, 60), (7, 78), (8, 92), (5, 1000)])
def test_prove_at_or_above_the_network_length_answers_at_once(n, length, capsys):
    t0 = time.perf_counter()
    assert main(["prove", "--n", str(n), "--max-length", str(length), "--json"]) == 1
    assert time.perf_counter() - t0 < 5
    out = json.loads(capsys.readouterr().out)
    assert out["exists"] is True and out["length"] <= length


def test_more_registers_than_the_packaged_net_takes_still_writes_the_kernel(tmp_path, capsys):
    code = main(["search", "--n", "3", "--registers", "13", "--time-limit", "8",
                 "--out", str(tmp_path), "--json", "--no-native"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["correct"], out
    assert out["evaluator"].startswith("heuristic (the packaged net does not fit")
    assert list(tmp_path.glob("sort3_cmov_[0-9]*.s"))


def test_a_named_net_that_cannot_take_the_task_stops_before_the_search(tmp_path, capsys):
    code = main(["search", "--n", "3", "--registers", "13", "--checkpoint", "untrained",
                 "--time-limit", "30", "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "max_registers" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    data = torch.load(ROOT / "alphadev" / "checkpoints" / "sort3_cmov.pt", weights_only=False)
    first = next(iter(data["model"]))
    data["model"][first] = torch.full_like(data["model"][first], float("nan"))
    data[DIGEST] = payload_digest(data)  # a valid digest: the weights themselves are bad
    bad = tmp_path / "nan.pt"
    torch.save(data, bad)
    code = main(["search", "--n", "3", "--method", "mcts", "--checkpoint", str(bad),
                 "--time-limit", "5", "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "NaN" in err[0], err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_workers_without_ray_is_an_error(capsys):
    assert main(["search", "--n", "3", "--workers", "4"]) == 2
    assert "--workers is for --ray" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_a_search_never_replaces_what_is_not_a_regular_file(tmp_path, kind, capsys):
    target = tmp_path / "sort3_cmov_17.s"
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(outside)
    else:
        target.mkdir()
    code = main(["search", "--n", "3", "--time-limit", "8", "--out", str(tmp_path),
                 "--objective", "length"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "is not a regular file" in " ".join(out.split())
    assert outside.read_text() == "keep me\n"
    if kind == "fifo":
        assert target.is_fifo()
    elif kind == "symlink":
        assert target.is_symlink()
    else:
        assert target.is_dir()


def test_two_quick_ctrl_cs_never_lose_the_kernel(tmp_path):
    for attempt in range(2):
        out = tmp_path / str(attempt)
        out.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-m", "alphadev", "search", "--n", "4", "--time-limit", "120",
             "--out", str(out), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=_ctrl_c_as_a_terminal_gives_it,
        )  # fmt: skip
        time.sleep(6)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "Traceback" not in err, err
        written = list(out.glob("sort4_cmov_[0-9]*.s"))
        assert len(written) == 1, (stdout, err)
        assert asm.parse_file(written[0]).header["task"] == "sort4"


@pytest.mark.parametrize("name", ["unix", "linux", "_start", "_end", "_x"])
def test_export_refuses_predefined_and_reserved_names(name, tmp_path, capsys):
    kernel = ROOT / "asm" / "discovered" / "sort3_cmov_17.s"
    out = tmp_path / "k.c"
    assert main(["export", str(kernel), "--to", "c", "--name", name, "-o", str(out)]) == 2
    assert not out.exists() and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_export_does_not_create_folders(tmp_path, capsys):
    kernel = ROOT / "asm" / "discovered" / "sort3_cmov_17.s"
    target = tmp_path / "missing" / "deeper" / "k.c"
    assert main(["export", str(kernel), "--to", "c", "-o", str(target)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1:8265", "127.0.0.1:-1", "127.0.0.1:0", "host:70000", "a b:1"]
)
def test_a_ray_address_that_cannot_be_parsed_is_refused_at_once(address, capsys):
    t0 = time.perf_counter()
    assert main(["search", "--n", "3", "--ray", address, "--time-limit", "5"]) == 2
    assert time.perf_counter() - t0 < 2
    assert "not an address Ray can join" in capsys.readouterr().err


def test_paths_with_brackets_are_printed_literally(tmp_path, capsys):
    out = tmp_path / "a[v2]" / "b[x/]y"
    assert main(["search", "--n", "3", "--time-limit", "5", "--out", str(out),
                 "--no-native"]) == 0  # fmt: skip
    text = "".join(capsys.readouterr().out.split())
    assert "a[v2]/b[x/]y/sort3_cmov_17.s" in text


def test_more_local_ray_workers_than_cpus_is_refused(capsys):
    from alphadev.cluster import local_cpus

    too_many = str(local_cpus() + 1)
    assert main(["search", "--n", "3", "--ray", "--workers", too_many, "--time-limit", "5"]) == 2
    assert "CPUs" in capsys.readouterr().err
