"""The learned cost-to-go: features against a slow reference, the value-iteration targets,
the checkpoint and its provenance, the guided comparator search (reproducible by seed,
verified), proofs unchanged by guidance, and the command's bad input."""

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev.cli import main
from alphadev.cost_to_go import (
    PACKAGED_GUIDE,
    CostToGo,
    LearnedGuide,
    batch_of,
    encode,
    load_guide,
    save_guide,
)
from alphadev.exact.comparators import ComparatorGame, comparator_search, next_comparators
from alphadev.exact.control import SearchControl
from alphadev.exact.space import assemble
from alphadev.guide_features import GLOBAL_FEATURES, PAIR_FEATURES, sample_rows
from alphadev.guide_training import GuideTrainConfig, _rollout, train_guide
from alphadev.network import CheckpointError
from alphadev.search import SearchConfig, run_search
from alphadev.tasks import OPTIMAL_COMPARATORS, SortTask, verify


def _walk(task, choices):
    """The states of the comparator game along ``choices`` (indices into the children)."""
    game = ComparatorGame(task)
    state = game.root()
    out = [state]
    for pick in choices:
        children = game.children(state)
        if not children:
            break
        state = children[pick % len(children)][1]
        out.append(state)
    return game, out


def _reference_pairs(state, following):
    """The pair tokens of guide_features, written plainly (no early exits); ``following``:
    the comparators on a shortest-network path."""
    sample = sample_rows(state.regs.shape[1])
    regs = state.regs[:, sample].astype(int)
    wires = state.wires[:, sample].astype(int)
    flags = state.flags[sample].astype(int)
    written = state.written.astype(bool)
    n = wires.shape[0]
    equal = np.array([[written[r] and (regs[r] == wires[w]).all() for w in range(n)]
                      for r in range(regs.shape[0])])  # fmt: skip
    first = [int(np.flatnonzero(equal[:, w])[0]) if equal[:, w].any() else -1 for w in range(n)]
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            a, b = wires[i], wires[j]
            low, high = np.minimum(a, b), np.maximum(a, b)
            counts = [0, 0, 0, 0, 0]
            for r in range(regs.shape[0]):
                if not written[r]:
                    continue
                if equal[r, i] or equal[r, j]:
                    counts[0] += equal[r, i] and r != first[i]
                    counts[1] += equal[r, j] and r != first[j]
                elif ((regs[r] == a) | (regs[r] == b)).all():
                    if (regs[r] == low).all():
                        counts[2] += 1
                    elif (regs[r] == high).all():
                        counts[3] += 1
                    else:
                        counts[4] += 1
            sign = np.sign(a - b)
            valid = bool(state.status[0])
            scale = max(n - 1, 1)
            hi, lo, tie = a > b, a < b, a == b
            part = [0, 0, 0, 0]
            for r in range(regs.shape[0]):
                if not written[r] or r in first:
                    continue
                v = regs[r]
                on_tie = (v[tie] == a[tie]).all()
                part[0] += on_tie and (v[hi] == a[hi]).all()
                part[1] += on_tie and (v[hi] == b[hi]).all()
                part[2] += on_tie and (v[lo] == a[lo]).all()
                part[3] += on_tie and (v[lo] == b[lo]).all()
            out.append([*(min(c, 3) for c in counts), (a > b).mean(), (a == b).mean(),
                        float((a <= b).all()), float(valid and (flags == sign).all()),
                        float(valid and (flags == -sign).all()), i / scale, j / scale,
                        (j - i) / scale, *(min(c, 3) for c in part),
                        float((i, j) in following)])  # fmt: skip
    return np.array(out, dtype=np.float32)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 5),
    isa=st.sampled_from(["cmov", "minmax"]),
    choices=st.lists(st.integers(0, 1000), max_size=9),
)
def test_the_compiled_features_match_a_plain_reference(n, isa, choices):
    task = SortTask(n, isa=isa)
    game, states = _walk(task, choices)
    for state in states:
        pairs, glob = encode(task, state, game.remaining(state))
        assert pairs.shape == (n * (n - 1) // 2, PAIR_FEATURES)
        assert glob.shape == (GLOBAL_FEATURES,)
        following = next_comparators(n, state, game.remaining(state) - 1, SearchControl())
        np.testing.assert_allclose(pairs, _reference_pairs(state, following), atol=1e-6)
        unwritten = int((state.written == 0).sum())
        assert glob[3] == unwritten and glob[5] == float(state.status[0])
        assert glob[1] == pytest.approx(game.remaining(state) / 16)


def test_the_sample_of_rows_is_fixed_by_the_row_count():
    assert np.array_equal(sample_rows(100), np.arange(100))
    big = sample_rows(5000)
    assert big.shape == (512,) and np.array_equal(big, sample_rows(5000))
    assert np.all(np.diff(big) > 0) and big.max() < 5000


def test_a_targets_last_step_is_the_exact_lowering_cost():
    """One comparator before the end every child is sorted (h = 0): the target is the
    shortest lowering's instruction count, whatever the net says."""
    task = SortTask(3)
    game = ComparatorGame(task)
    net = CostToGo()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.37)  # an arbitrary, wrong net
    found = _rollout(game, LearnedGuide(net, task), np.random.default_rng(0), 0.0)
    assert len(found) == OPTIMAL_COMPARATORS[3]
    # walk again to the state before the last comparator and compute its cost by hand
    state = game.root()
    for _ in range(OPTIMAL_COMPARATORS[3] - 1):
        state = game.children(state)[0][1]
    last = min(cost for cost, child in game.children(state) if game.finished(child))
    assert last in (3, 4)
    assert all(target >= 0 for _, target in found)


def test_a_short_run_trains_and_says_no_engine_program_entered(tmp_path):
    result = train_guide(GuideTrainConfig(sizes=(3,), isas=("cmov",), seconds=2.0, seed=1))
    assert result.states > 0 and result.updates > 0
    prov = result.provenance
    assert prov["engine_programs_in_data"] is False
    assert prov["trained_on_n"] == [3] and prov["trained_on_isas"] == ["cmov"]
    path = save_guide(tmp_path / "g.pt", result.net, prov)
    net, loaded = load_guide(path)
    assert loaded == prov
    encoded = [encode(SortTask(5), ComparatorGame(SortTask(5)).root(), 9)]
    with torch.inference_mode():
        assert torch.equal(net(*batch_of(encoded)), result.net.eval()(*batch_of(encoded)))


def test_a_corrupted_or_foreign_checkpoint_is_refused(tmp_path):
    path = save_guide(tmp_path / "g.pt", CostToGo(), {"x": 1})
    data = torch.load(path, weights_only=True)
    data["model"]["head.2.bias"] += 1.0
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="corrupted"):
        load_guide(tmp_path / "bad.pt")
    torch.save({"kind": "other"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an alphadev cost-to-go"):
        load_guide(tmp_path / "other.pt")


def test_the_packaged_guide_was_trained_on_small_sorts_without_engine_programs():
    _, prov = load_guide(PACKAGED_GUIDE)
    assert max(prov["trained_on_n"]) <= 6
    assert prov["engine_programs_in_data"] is False and prov["seconds"] > 0


@pytest.mark.parametrize("isa", ["cmov", "minmax"])
def test_a_guided_search_verifies_and_is_reproducible_by_seed(isa):
    task = SortTask(5, isa=isa)
    net, _ = load_guide(PACKAGED_GUIDE)
    runs = [comparator_search(task, width=2, seed=seed, guide=LearnedGuide(net, task))
            for seed in (3, 3, 4)]  # fmt: skip
    first, again, _ = runs
    assert first.core is not None and verify(assemble(task, first.core), task).correct
    assert first.core == again.core and first.nodes == again.nodes
    assert first.guided == again.guided > 0


def test_guidance_never_changes_what_a_proof_proves():
    results = [run_search(SearchConfig(n=3, method="exact", guide=guide, time_limit=60,
                                       objective="length"))
               for guide in ("hand", "learned")]  # fmt: skip
    for result in results:
        assert result.correct and result.optimal and result.best.length == 17


def test_learn_guide_refuses_bad_input_and_writes_nothing(tmp_path, capsys):
    before = sorted(tmp_path.iterdir())
    for argv in (
        ["--sizes", "3,9"],
        ["--sizes", "x"],
        ["--isas", "full"],
        ["--seconds", "0"],
        ["--seed", "-1"],
        ["--out", str(tmp_path)],
        ["--out", str(tmp_path / "missing" / "g.pt")],
    ):
        out = argv if "--out" in argv else [*argv, "--out", str(tmp_path / "g.pt")]
        assert main(["learn-guide", *out]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("alphadev learn-guide:") and "\n" not in err
    assert sorted(tmp_path.iterdir()) == before


def test_learn_guide_refuses_a_link_or_fifo_before_it_trains(tmp_path, capsys):
    target = tmp_path / "target.pt"
    target.write_bytes(b"keep")
    (tmp_path / "link.pt").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.pt")
    for name, message in (("link.pt", "symbolic link"), ("fifo.pt", "not a regular file")):
        assert main(["learn-guide", "--seconds", "30", "--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert target.read_bytes() == b"keep"


def test_learn_guide_writes_a_checkpoint_search_can_use(tmp_path, capsys):
    out = tmp_path / "g.pt"
    assert main(["learn-guide", "--sizes", "3", "--isas", "cmov", "--seconds", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    assert "wrote" in capsys.readouterr().out
    assert main(["search", "--n", "4", "--method", "comparators", "--guide", str(out),
                 "--time-limit", "30", "--out", str(tmp_path / "k"), "--objective",
                 "length"]) in (0, 1)  # fmt: skip
    assert "guided by a learned cost-to-go" in capsys.readouterr().out


def test_search_refuses_a_guide_it_cannot_use(tmp_path, capsys):
    for argv, message in (
        (["--guide", str(tmp_path / "none.pt")], "not hand, learned or a file"),
        (["--guide", str(tmp_path)], "not a regular file"),
        (["--guide", "learned", "--ray"], "not guided yet"),
    ):
        assert main(["search", "--n", "3", *argv, "--out", str(tmp_path / "k")]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["search", "--n", "3", "--guide", str(tmp_path / "junk.pt"),
                 "--out", str(tmp_path / "k")]) == 2  # fmt: skip
    assert "not a readable torch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()
