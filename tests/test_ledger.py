"""The proof ledger (alphadev.exact.ledger): what a resumed proof trusts."""

import json
import os

import pytest

from alphadev import exact
from alphadev.cli import main
from alphadev.exact.control import SearchControl
from alphadev.exact.ledger import LedgerError, ProofLedger, question_of
from alphadev.exact.split import search_parts, split_space
from alphadev.tasks import SortTask

TASK = SortTask(3)
SPLIT = split_space(TASK, 10, parts=20)
QUESTION = question_of(TASK, 10, SPLIT.prefixes)


def test_a_ledger_written_part_by_part_reads_back(tmp_path):
    path = tmp_path / "proof.json"
    ledger = ProofLedger.open(path, QUESTION)
    assert ledger.exhausted == {} and not path.exists()
    ledger.record(3, 1000, 0.5)
    ledger.record(0, 20, 0.25)
    again = ProofLedger.open(path, QUESTION)
    assert again.exhausted == {0: 20, 3: 1000} and again.states == 1020
    assert again.seconds == pytest.approx(0.75)


@pytest.mark.parametrize(
    "other",
    [
        question_of(SortTask(3), 9, SPLIT.prefixes),
        question_of(SortTask(3, isa="minmax"), 10, SPLIT.prefixes),
        question_of(SortTask(3, 5), 10, SPLIT.prefixes),
        question_of(TASK, 10, split_space(TASK, 10, parts=2000).prefixes),
        question_of(TASK, 10, SPLIT.prefixes[::-1]),
    ],
)
def test_a_ledger_of_another_question_or_split_is_refused(tmp_path, other):
    assert other != QUESTION
    path = tmp_path / "proof.json"
    ProofLedger.open(path, other).record(0, 1, 0.0)
    with pytest.raises(LedgerError, match="another question"):
        ProofLedger.open(path, QUESTION)


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"format": "x"}', '{"format": "alphadev-proof-ledger/1"}']
)
def test_a_file_that_is_not_a_ledger_is_refused(tmp_path, text):
    path = tmp_path / "proof.json"
    path.write_text(text)
    with pytest.raises(LedgerError):
        ProofLedger.open(path, QUESTION)


def test_a_damaged_ledger_is_refused(tmp_path):
    path = tmp_path / "proof.json"
    ProofLedger.open(path, QUESTION).record(1, 5, 0.1)
    data = json.loads(path.read_text())
    data["exhausted"] = {str(QUESTION["parts"]): 5}
    path.write_text(json.dumps(data))
    with pytest.raises(LedgerError, match="damaged"):
        ProofLedger.open(path, QUESTION)


def test_a_path_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    for name in ("folder", "link"):
        with pytest.raises(LedgerError):
            ProofLedger.open(tmp_path / name, QUESTION)


@pytest.mark.parametrize(("isa", "max_core", "answer"), [("cmov", 10, "exhausted"),
                                                         ("minmax", 8, "found")])  # fmt: skip
def test_a_proof_stopped_after_some_parts_resumes_from_its_ledger(tmp_path, isa, max_core, answer):
    task = SortTask(3, isa=isa)
    prefixes = split_space(task, max_core, parts=30).prefixes
    assert len(prefixes) >= 6
    ledger = ProofLedger.open(tmp_path / "p.json", question_of(task, max_core, prefixes))
    control = SearchControl()

    def record_and_stop_after_three(part, states, seconds):
        ledger.record(part, states, seconds)
        if len(ledger.exhausted) == 3:
            control.stop()

    first = search_parts(task, max_core, prefixes, on_exhausted=record_and_stop_after_three,
                         control=control)  # fmt: skip
    if answer == "found" and first.status == "found":
        return  # the program sits in one of the first parts: nothing to resume
    assert first.status == "stopped" and first.exhausted == len(ledger.exhausted) >= 3
    resumed = ProofLedger.open(tmp_path / "p.json", ledger.question)
    assert set(resumed.exhausted) == set(ledger.exhausted)
    second = search_parts(task, max_core, prefixes, skip=resumed.exhausted,
                          on_exhausted=resumed.record)  # fmt: skip
    assert second.status == answer == exact.find(task, max_core).status
    if answer == "exhausted":
        assert sorted(resumed.exhausted) == list(range(len(prefixes)))
        assert second.exhausted == len(prefixes) - first.exhausted


# ------------------------------------------------------------------ alphadev prove --ledger


def _half_done_ledger(path, task, max_core):
    """A ledger of ``prove --ledger``'s split with its first three parts exhausted."""
    from alphadev.cli.prove import LEDGER_PARTS

    prefixes = split_space(task, max_core, parts=LEDGER_PARTS).prefixes
    ledger = ProofLedger.open(path, question_of(task, max_core, prefixes))
    for part in range(3):
        outcome = exact.find(task, max_core, prefix=prefixes[part])
        assert outcome.status == "exhausted"
        ledger.record(part, outcome.nodes, outcome.seconds)
    return ledger


def test_prove_resumes_from_its_ledger_and_certifies(tmp_path, capsys):
    path = tmp_path / "proof.json"
    ledger = _half_done_ledger(path, TASK, 10)
    capsys.readouterr()
    assert main(["prove", "--n", "3", "--max-length", "16", "--ledger", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exists"] is False and report["parts_skipped"] == 3
    assert report["parts_exhausted"] == report["parts"] == ledger.question["parts"]
    done = ProofLedger.open(path, ledger.question)
    assert sorted(done.exhausted) == list(range(report["parts"]))
    assert report["states"] == done.states > ledger.states


def test_prove_with_a_ledger_finds_a_program_when_one_exists(tmp_path, capsys):
    path = tmp_path / "proof.json"
    assert main(["prove", "--n", "3", "--max-length", "17", "--ledger", str(path)]) == 1
    assert "program of length" in capsys.readouterr().out


def test_prove_refuses_a_ledger_of_another_question_and_leaves_it(tmp_path, capsys):
    path = tmp_path / "proof.json"
    _half_done_ledger(path, TASK, 10)
    before = path.read_bytes()
    assert main(["prove", "--n", "3", "--max-length", "15", "--ledger", str(path)]) == 2
    assert "another question" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert main(["prove", "--n", "3", "--max-length", "16", "--ledger", str(tmp_path)]) == 2


def test_an_error_in_a_part_is_raised_and_never_taken_for_an_exhausted_part(monkeypatch):
    from alphadev.exact import split as split_module

    prefixes = SPLIT.prefixes
    real_find = split_module.find

    def find_that_fails_on_the_third_part(task, max_core, *, prefix, **options):
        if prefix == prefixes[2]:
            raise RuntimeError("a part failed")
        return real_find(task, max_core, prefix=prefix, **options)

    monkeypatch.setattr(split_module, "find", find_that_fails_on_the_third_part)
    ledger_parts = []
    with pytest.raises(RuntimeError, match="a part failed"):
        search_parts(TASK, 10, prefixes, on_exhausted=lambda p, *_: ledger_parts.append(p))
    assert ledger_parts == [0, 1]
