"""The live-latency bench's matching of events to what the pages recorded (without a browser or a stack),
and its modules importable."""

from __future__ import annotations

import importlib

import pytest

from perf._live_match import (
    LiveEvent,
    PageSpec,
    Record,
    by_page,
    changes,
    expected_pages,
    match,
    plan_events,
    reached,
    summarize_latencies,
)

FLOOR = PageSpec("floor", "floor", "facade-a")
BENCH = PageSpec("bench A", "bench", "facade-b", "A")
PAGES = [FLOOR, BENCH]


def _committed(event: LiveEvent, sent_s: float, committed_s: float) -> LiveEvent:
    event.sent_at, event.committed_at = sent_s, committed_s
    return event


def test_perf_live_events_alternate_block_and_unblock_per_center_round_robin() -> None:
    events = plan_events(["A", "B"], 6, "t1")
    assert [(e.center, e.kind) for e in events] == [
        ("A", "block"),
        ("B", "block"),
        ("A", "unblock"),
        ("B", "unblock"),
        ("A", "block"),
        ("B", "block"),
    ]
    blocks = [e.reason for e in events if e.kind == "block"]
    assert len(set(blocks)) == len(blocks) and all("t1" in r for r in blocks)
    assert events[2].reason == events[0].reason  # an unblock names the block it lifts
    with pytest.raises(ValueError):
        plan_events([], 1, "t")


def test_perf_live_floor_pages_expect_every_event_and_bench_pages_their_centers() -> None:
    a, b = plan_events(["A", "B"], 2, "t")
    assert expected_pages(a, PAGES) == ["floor", "bench A"]
    assert expected_pages(b, PAGES) == ["floor"]


def test_perf_live_a_block_shows_at_the_first_record_with_its_reason() -> None:
    block = _committed(plan_events(["A"], 1, "t")[0], 100.0, 100.1)
    records = [
        Record("floor", "A", "▶ Running", "", 99_000.0),
        Record("floor", "A", "✖ Blocked", block.reason, 100_400.0),
        Record("floor", "A", "✖ Blocked", block.reason + " (again)", 100_900.0),
        Record("bench A", "A", "✖ Blocked", f"for · {block.reason} · 0 of 6 at the bench", 100_350.0),
        Record("floor", "B", "✖ Blocked", block.reason, 100_200.0),  # another center: not this event
    ]
    observations = match([block], PAGES, records)
    assert [o.page for o in observations] == ["floor", "bench A"]
    assert [o.latency_ms for o in observations] == [pytest.approx(300.0), pytest.approx(250.0)]


def test_perf_live_an_unblock_shows_at_the_first_unblocked_record_after_it_was_sent() -> None:
    block, unblock = plan_events(["A"], 2, "t")
    _committed(block, 100.0, 100.05)
    _committed(unblock, 101.0, 101.05)
    records = [
        Record("floor", "A", "■ Idle", "", 99_000.0),  # before the block: not the unblock
        Record("floor", "A", "✖ Blocked", block.reason, 100_300.0),
        Record("floor", "A", "■ Idle", "", 101_450.0),
    ]
    found = {(o.event, o.page): o.latency_ms for o in match([block, unblock], [FLOOR], records)}
    assert found[(0, "floor")] == pytest.approx(250.0)
    assert found[(1, "floor")] == pytest.approx(400.0)


def test_perf_live_an_event_never_shown_is_missed_and_a_failed_call_is_not_expected() -> None:
    block, unblock = plan_events(["A"], 2, "t")
    _committed(block, 100.0, 100.1)
    unblock.sent_at, unblock.error = 101.0, "FailedPreconditionError"
    observations = match([block, unblock], PAGES, [Record("floor", "A", "✖ Blocked", "another reason", 100_500.0)])
    summary = summarize_latencies(observations)
    assert summary.expected == 2 and summary.shown == 0 and summary.missed_count == 2
    assert {o.page for o in summary.missed} == {"floor", "bench A"}
    assert summary.p95_ms == 0.0 and summary.max_ms == 0.0


def test_perf_live_statistics_interpolate_over_the_shown_observations() -> None:
    events = [_committed(e, 10.0 + e.index, 10.0 + e.index) for e in plan_events(["A", "B", "C", "D"], 4, "t")]
    records = [
        Record("floor", e.center, "✖ Blocked", e.reason, (10.0 + e.index) * 1000.0 + 100.0 * (e.index + 1))
        for e in events
    ]
    observations = match(events, [FLOOR], records[:3])
    summary = summarize_latencies(observations)
    assert (summary.expected, summary.shown, summary.missed_count) == (4, 3, 1)
    assert summary.p50_ms == pytest.approx(200.0) and summary.max_ms == pytest.approx(300.0)
    assert summary.p95_ms == pytest.approx(290.0) and summary.min_ms == pytest.approx(100.0)
    assert list(by_page(observations)) == ["floor"]


def test_perf_live_reached_gives_one_delay_per_committed_event_for_one_observer() -> None:
    block, unblock, never_sent = plan_events(["A"], 3, "t")
    _committed(block, 1.0, 1.0)
    _committed(unblock, 3.0, 3.0)
    records = [
        Record("nats", "A", "Blocked", block.reason, 1_010.0),
        Record("nats", "A", "IDLE", "", 3_020.0),
    ]
    assert reached([block, unblock, never_sent], records) == [pytest.approx(10.0), pytest.approx(20.0)]
    assert reached([block, unblock], records[:1]) == [pytest.approx(10.0), None]


def test_perf_live_changes_keep_what_differs_from_the_last_record_of_a_page_and_center() -> None:
    records = [
        Record("floor", "A", "Idle", "", 3.0),
        Record("floor", "A", "Idle", "", 1.0),
        Record("floor", "B", "Idle", "", 2.0),
        Record("floor", "A", "Blocked", "r", 4.0),
        Record("floor", "A", "Blocked", "r", 5.0),
        Record("bench A", "A", "Blocked", "r", 6.0),
    ]
    assert [r.at_ms for r in changes(records)] == [1.0, 2.0, 4.0, 6.0]
    # a frame's tile (``RUNNING``) saying what the page already shows (``▶ Running``) changes nothing
    shown = [Record("floor", "A", "▶ Running", "", 0.5)]
    frames = [Record("floor", "A", "RUNNING", "", 7.0), Record("floor", "A", "Blocked", "r", 8.0)]
    assert [r.at_ms for r in changes(frames, shown)] == [8.0]


@pytest.mark.parametrize("module", ["perf.live_bench", "perf._live_pages", "perf._live_match"])
def test_perf_live_bench_modules_import(module: str) -> None:
    importlib.import_module(module)
