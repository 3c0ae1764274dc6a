"""The length/speed trade-off set, the objective's pick, and the fastest kernel's file."""

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphadev import asm
from alphadev.catalogue import fast_is_better, write_fastest
from alphadev.cost import predict
from alphadev.exact import assemble, network_core
from alphadev.export import lowering_error
from alphadev.pareto import ParetoSet, Scored, pick, score
from alphadev.search import SearchConfig, run_search
from alphadev.tasks import SortTask, verify

from .conftest import ROOT

GCC = shutil.which("gcc")


def item(length, throughput, latency, tag=0):
    task = SortTask(2, 3, "cmov")
    network = assemble(task, network_core(task))
    # Distinct programs: pad with harmless register copies (never run, only compared).
    program = type(network)(network.layout, network.code + network.code[:1] * (tag % 5))
    return Scored(program, f"t{tag}", 0.0, length, throughput, latency)


def test_dominated_and_equal_kernels_stay_out():
    front = ParetoSet()
    assert front.add(item(42, 9.0, 24.0, 0))
    assert not front.add(item(43, 9.0, 24.0, 1))  # longer, no faster
    assert not front.add(item(42, 9.0, 24.0, 2))  # the same figures
    assert front.add(item(46, 9.0, 22.0, 3))  # slower to write, faster to run
    assert front.add(item(41, 9.0, 24.0, 4))  # dominates the first
    assert sorted((m.length, m.latency) for m in front.members) == [(41, 24.0), (46, 22.0)]
    assert front.ranked("length")[0].length == 41
    assert front.ranked("latency")[0].length == 46
    with pytest.raises(ValueError, match="objective"):
        front.ranked("speed")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(10, 14), st.integers(1, 5), st.integers(1, 5)),
                min_size=1, max_size=40))  # fmt: skip
def test_no_member_dominates_another_and_nothing_better_is_lost(points):
    front = ParetoSet()
    added = [item(length, float(t), float(lat), i) for i, (length, t, lat) in
             enumerate(points)]  # fmt: skip
    for x in added:
        front.add(x)
    for a in front.members:
        assert not any(b.dominates(a) for b in front.members)
    figures = {(m.length, m.throughput, m.latency) for m in front.members}
    for x in added:  # every kernel offered is on the front, or something there is as good
        mine = (x.length, x.throughput, x.latency)
        assert mine in figures or any(m.dominates(x) for m in front.members)


def test_pick_without_timing_follows_the_model():
    front = ParetoSet()
    for x in (item(42, 10.5, 22.0, 0), item(46, 9.0, 24.0, 1)):
        front.add(x)
    network = item(46, 9.0, 26.0, 2)
    assert pick(front, "length", network)[0].length == 42
    assert pick(front, "throughput", network, native=False)[0].throughput == 9.0
    chosen, timed, note = pick(front, "latency", network, native=False)
    assert chosen.latency == 22.0 and timed is None and "--no-native" in note


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_a_kernel_with_no_x86_lowering_is_left_out_of_the_timing():
    """With --isa full a correct kernel may read, after a min, flags the lowered min would
    overwrite: it cannot be timed, and the pick goes on without it (it raised before)."""
    task = SortTask(2, 3, "full")
    mixed = asm.parse(
        "mov r0, m0\nmov r1, m1\ncmp r0, r1\nmov r2, r0\nmin r0, r1\ncmovl r2, r1\n"
        "mov m0, r0\nmov m1, r2\n",
        n=2,
        registers=3,
    ).program
    assert verify(mixed, task).correct and lowering_error(mixed, "gpr") is not None
    network = score(assemble(task, network_core(task)), "network", 0.0)
    front = ParetoSet()
    front.add(score(mixed, "mixed", 0.0))
    chosen, timed, note = pick(front, "latency", network)
    assert chosen is network and timed is not None and "0 candidates" in note


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_pick_times_candidates_beside_the_network_and_may_keep_the_network():
    task = SortTask(3, 4, "cmov")
    network = score(assemble(task, network_core(task)), "network", 0.0)
    found = score(asm.parse_file(ROOT / "asm" / "discovered" / "sort3_cmov_17.s").program,
                  "catalogue", 0.0)  # fmt: skip
    front = ParetoSet()
    front.add(found)
    chosen, timed, note = pick(front, "latency", network)
    assert timed is not None and "timed natively" in note
    assert next(s for s, _ in timed.timings) is network
    assert chosen in (network, found)
    net = timed.network.throughput_ns
    best_ns = min(t.latency_ns for _, t in timed.timings if t.throughput_ns <= net)
    assert timed.timing(chosen).latency_ns == best_ns


def test_fast_file_is_replaced_only_by_a_kernel_no_slower_in_both_modes(tmp_path):
    path = tmp_path / "sort3_cmov_fast.s"
    assert fast_is_better(path, 3.0, 21.0, 17)[0]
    kernel = ROOT / "asm" / "discovered" / "sort3_cmov_17.s"
    path.write_text(kernel.read_text())
    figures = predict(asm.parse_file(kernel).program)  # anew, not read from the header
    t, lat = figures.throughput, figures.latency
    assert not fast_is_better(path, t, lat, 17)[0]  # as fast, as short
    assert not fast_is_better(path, t - 0.5, lat + 1, 17)[0]  # faster in one mode only
    assert fast_is_better(path, t, lat - 1, 18)[0]  # faster in latency, no slower in throughput
    assert fast_is_better(path, t, lat, 16)[0]  # as fast and shorter
    folder = tmp_path / "sort4_cmov_fast.s"
    folder.mkdir()
    assert not fast_is_better(folder, 1.0, 1.0, 1)[0]
    link = tmp_path / "sort5_cmov_fast.s"
    link.symlink_to(tmp_path / "elsewhere.s")
    assert not fast_is_better(link, 1.0, 1.0, 1)[0]
    damaged = tmp_path / "sort6_cmov_fast.s"
    damaged.write_text("not a kernel\n")
    assert not fast_is_better(damaged, 1.0, 1.0, 1)[0]


def test_a_speed_search_writes_its_fastest_kernel_once(tmp_path):
    config = SearchConfig(n=3, objective="throughput", time_limit=20, no_native=True)
    result = run_search(config)
    assert result.fastest is not None and result.fastest_verified.correct
    assert result.pick_note.startswith("predicted") and result.native is None
    assert result.fastest.throughput <= result.network.throughput
    path, what = write_fastest(result, tmp_path)
    assert path == tmp_path / "sort3_cmov_fast.s", what
    listing = asm.parse_file(path)
    assert listing.header["objective"] == "throughput"
    assert float(listing.header["cycles_throughput"]) == result.fastest.throughput
    again, why = write_fastest(result, tmp_path)
    assert again is None and "at least as fast" in why


def test_the_length_objective_hands_back_the_shortest():
    result = run_search(SearchConfig(n=3, objective="length", time_limit=20))
    assert result.fastest.length == result.best.length  # the shortest, the fastest of those
    assert result.native is None
