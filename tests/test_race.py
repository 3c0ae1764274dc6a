"""The race's clock (alphadev.race): one loop that stops lanes at the time limit, when they are
done, or for the caller's reason; lanes that do not stop are left behind."""

import threading
import time

import pytest

from alphadev.race import STOP_GRACE, Race, start_lane, stop_lanes, watch
from alphadev.tasks import SortTask


@pytest.fixture
def race() -> Race:
    return Race(SortTask(3), None, time.perf_counter())


def polling_lane(race: Race):
    """A lane that works until told to stop (as every engine polls the stop signal)."""
    return lambda: race.stop.wait(30)


def test_the_race_ends_done_when_its_lanes_finish_by_themselves(race):
    lane = start_lane(race, "quick", lambda: time.sleep(0.05))
    ticks = []
    t0 = time.perf_counter()
    watch(race, t0 + 30, lanes=[lane], on_tick=lambda: ticks.append(1), every=0.01)
    assert time.perf_counter() - t0 < 2
    assert race.stop_reason == "done" and race.stop.is_set() and race.control.stopped
    assert ticks  # progress while it ran
    assert stop_lanes(race, [lane]) == ()


def test_the_time_limit_stops_a_lane_that_polls(race):
    lane = start_lane(race, "polls", polling_lane(race))
    t0 = time.perf_counter()
    watch(race, t0 + 0.3, lanes=[lane])
    assert 0.3 <= time.perf_counter() - t0 < 1.0
    assert race.stop_reason == "time limit"
    assert stop_lanes(race, [lane]) == ()
    assert race.stop_reason == "time limit"  # the first reason stands


def test_a_lane_that_does_not_poll_is_left_behind_after_the_grace(race):
    release = threading.Event()
    lane = start_lane(race, "stubborn", lambda: release.wait(30))
    t0 = time.perf_counter()
    watch(race, t0 + 0.1, lanes=[lane])
    assert stop_lanes(race, [lane]) == ("stubborn",)
    assert time.perf_counter() - t0 < 0.1 + STOP_GRACE + 0.5
    release.set()


def test_a_stop_from_a_lane_ends_the_watch_at_once_without_a_last_tick(race):
    def lane_body() -> None:
        time.sleep(0.05)
        race.finish("target reached")
        time.sleep(5)  # still busy: the watch does not wait for it

    lane = start_lane(race, "finder", lane_body)
    ticks_after_stop = []
    t0 = time.perf_counter()
    watch(race, t0 + 30, lanes=[lane],
          on_tick=lambda: race.stop.is_set() and ticks_after_stop.append(1))  # fmt: skip
    assert time.perf_counter() - t0 < 1.0
    assert race.stop_reason == "target reached" and not ticks_after_stop


def test_the_callers_reason_comes_before_the_clock(race):
    looks = []

    def until() -> str | None:
        looks.append(1)
        return "proved optimal" if len(looks) >= 3 else None

    watch(race, time.perf_counter() + 30, until=until, every=0.01)
    assert race.stop_reason == "proved optimal" and len(looks) == 3
    fresh = Race(SortTask(3), None, time.perf_counter())
    watch(fresh, time.perf_counter() - 1, until=lambda: "search space exhausted")
    assert fresh.stop_reason == "search space exhausted"


def test_a_custom_wait_gets_the_time_to_the_next_look_and_may_end_the_watch(race):
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        time.sleep(seconds)
        return len(waits) == 2  # e.g. a part came back with the answer

    ticks = []
    watch(race, time.perf_counter() + 30, wait=wait, on_tick=lambda: ticks.append(1), every=0.05)
    assert len(waits) == 2 and all(0.01 <= s <= 0.05 for s in waits)
    assert len(ticks) == 1 and not race.stop.is_set()  # the caller knows why it ended


def test_the_wait_never_runs_past_the_deadline(race):
    waits: list[float] = []
    deadline = time.perf_counter() + 0.1
    watch(race, deadline, wait=lambda s: waits.append(s) or time.sleep(s), every=10)
    assert waits and max(waits) <= 0.1 and race.stop_reason == "time limit"


def test_an_error_in_a_lane_stops_the_race_and_waits_for_the_caller(race):
    def broken() -> None:
        raise ValueError("a bad checkpoint")

    lane = start_lane(race, "broken", broken)
    watch(race, time.perf_counter() + 30, lanes=[lane])
    assert race.stop_reason == "error"
    assert [str(e) for e in race.errors] == ["a bad checkpoint"]


def test_ctrl_c_is_the_callers(race):
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch(race, time.perf_counter() + 30, on_tick=interrupted, every=0.01)
    assert not race.stop.is_set()  # the caller says what a Ctrl-C means


def test_other_races_learn_of_a_better_program_and_prune_with_the_known_length(race):
    from alphadev import exact

    told = []
    race.on_better = told.append
    network = exact.assemble(race.task, exact.network_core(race.task))
    assert race.offer(network, "network") and [c.program for c in told] == [network]
    assert not race.offer(network, "again") and len(told) == 1  # not better: not told
    assert race.best_length() == len(network)
    race.known_length = len(network) - 1
    assert race.best_length() == len(network) - 1
