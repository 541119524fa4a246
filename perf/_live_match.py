"""The pure part of the live-latency bench (``perf.live_bench``): the events it commits, what the pages
recorded, and which record shows which event, with the latency statistics.

An event blocks a work center with a reason no other event uses, or unblocks it. A page records, each
time a work center's element changes what it says (its state word, its reason or state line), one
:class:`Record` with the wall-clock time of that DOM change. The record that shows an event is:

* a block: the page's first record of that work center whose text holds the event's reason (the
  reason is unique, so nothing else can show it);
* an unblock: the page's first record of that work center, made after the unblock was sent, whose
  state is not blocked (before the send nothing can show it; a page that never showed the block it
  lifts records nothing new, and the unblock counts as missed like the block).

Latency is that record's time minus the event's commit time (the acknowledgement's arrival), for
every page that must show the event: the Floor pages for every event, a Bench page for the events of
its own work center. An expected observation without such a record is missed: a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from perf._stats import quantile

__all__ = [
    "BLOCKED_WORD",
    "Latencies",
    "LiveEvent",
    "Observation",
    "PageSpec",
    "Record",
    "by_page",
    "changes",
    "expected_pages",
    "match",
    "plan_events",
    "reached",
    "summarize_latencies",
]

#: The word the pages show for a blocked work center (``STATE`` in ``floor.js`` and ``bench.js``).
BLOCKED_WORD = "Blocked"


@dataclass(frozen=True)
class PageSpec:
    """One open page: its name in the report, its kind (``floor`` or ``bench``), the facade it is
    served by, and for a Bench page the work center it shows."""

    name: str
    kind: str
    facade: str
    center: str = ""

    def shows(self, center: str) -> bool:
        return self.kind == "floor" or self.center == center


@dataclass
class LiveEvent:
    """One committed state change: ``kind`` is ``block`` or ``unblock``; ``reason`` the block's unique
    reason (for an unblock, the reason of the block it lifts)."""

    index: int
    center: str
    kind: str
    reason: str
    #: Wall-clock times (``time.time()``): when the call was made and when its acknowledgement arrived.
    sent_at: float = 0.0
    committed_at: float | None = None
    #: Seconds past the event's scheduled time at which the call was made (the driver's lag).
    send_lag_s: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Record:
    """A work center's element changed in a page: what it says now, and when (ms since the epoch)."""

    page: str
    center: str
    state: str
    text: str
    at_ms: float

    @property
    def blocked(self) -> bool:
        return BLOCKED_WORD in self.state


@dataclass(frozen=True)
class Observation:
    """One (event, page that must show it): the latency in ms, or None when it was never shown."""

    event: int
    page: str
    latency_ms: float | None


@dataclass
class Latencies:
    """The statistics of a set of observations (milliseconds)."""

    expected: int
    shown: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float
    missed: list[Observation] = field(default_factory=list)

    @property
    def missed_count(self) -> int:
        return self.expected - self.shown


def plan_events(centers: Sequence[str], count: int, tag: str) -> list[LiveEvent]:
    """``count`` events round-robin over ``centers``: each center's first event blocks it, its second
    unblocks it, and so on; every block has a reason of its own (``tag`` makes it unique to the run)."""
    if not centers:
        raise ValueError("no work center to change")
    events: list[LiveEvent] = []
    last_reason: dict[str, str] = {}
    for index in range(count):
        center = centers[index % len(centers)]
        if (index // len(centers)) % 2 == 0:
            reason = f"live {tag} #{index:05d}"
            last_reason[center] = reason
            events.append(LiveEvent(index, center, "block", reason))
        else:
            events.append(LiveEvent(index, center, "unblock", last_reason[center]))
    return events


def expected_pages(event: LiveEvent, pages: Sequence[PageSpec]) -> list[str]:
    return [p.name for p in pages if p.shows(event.center)]


def _shown_at(event: LiveEvent, records: Sequence[Record]) -> float | None:
    """When the records (of one observer and one work center, in time order) first show ``event``."""
    if event.kind == "block":
        return next((r.at_ms for r in records if r.blocked and event.reason in r.text), None)
    sent_ms = event.sent_at * 1000.0
    return next((r.at_ms for r in records if r.at_ms >= sent_ms and not r.blocked), None)


def _said(record: Record) -> tuple[str, str]:
    """What a record says, whoever wrote it: the state's word (``✖ Blocked``, ``BLOCKED`` -> ``blocked``)
    and the text."""
    words = record.state.split()
    return (words[-1].lower() if words else "", record.text)


def changes(records: Iterable[Record], start: Iterable[Record] = ()) -> list[Record]:
    """The records (in time order) that say something else than the previous one of their page and work
    center, starting from what ``start`` says (the page's DOM before the events): what a DOM observer
    keeps, applied to what arrives whole each time (the tiles of socket frames), so that both count an
    event the same way."""
    last: dict[tuple[str, str], tuple[str, str]] = {}
    for record in sorted(start, key=lambda r: r.at_ms):
        last[(record.page, record.center)] = _said(record)
    kept: list[Record] = []
    for record in sorted(records, key=lambda r: r.at_ms):
        key, said = (record.page, record.center), _said(record)
        if last.get(key) != said:
            last[key] = said
            kept.append(record)
    return kept


def reached(events: Iterable[LiveEvent], records: Iterable[Record]) -> list[float | None]:
    """For each committed event, in order, the ms from its commit to the first of ``records`` (one
    observer that sees every work center: the event stream, the frames of one page's socket) showing
    it; None where none does."""
    by_center: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.at_ms):
        by_center.setdefault(record.center, []).append(record)
    found: list[float | None] = []
    for event in events:
        if event.committed_at is None:
            continue
        at_ms = _shown_at(event, by_center.get(event.center, []))
        found.append(None if at_ms is None else at_ms - event.committed_at * 1000.0)
    return found


def match(events: Iterable[LiveEvent], pages: Sequence[PageSpec], records: Iterable[Record]) -> list[Observation]:
    """One observation per committed event and page that must show it (events whose call failed are
    not expected anywhere: the caller reports them as failures of their own)."""
    by_key: dict[tuple[str, str], list[Record]] = {}
    for record in sorted(records, key=lambda r: r.at_ms):
        by_key.setdefault((record.page, record.center), []).append(record)
    found: list[Observation] = []
    for event in events:
        if event.committed_at is None:
            continue
        for page in expected_pages(event, pages):
            at_ms = _shown_at(event, by_key.get((page, event.center), []))
            latency = None if at_ms is None else at_ms - event.committed_at * 1000.0
            found.append(Observation(event.index, page, latency))
    return found


def summarize_latencies(observations: Sequence[Observation]) -> Latencies:
    shown = [o.latency_ms for o in observations if o.latency_ms is not None]
    return Latencies(
        expected=len(observations),
        shown=len(shown),
        p50_ms=quantile(shown, 0.50),
        p95_ms=quantile(shown, 0.95),
        p99_ms=quantile(shown, 0.99),
        max_ms=max(shown, default=0.0),
        min_ms=min(shown, default=0.0),
        missed=[o for o in observations if o.latency_ms is None],
    )


def by_page(observations: Sequence[Observation]) -> Mapping[str, list[Observation]]:
    grouped: dict[str, list[Observation]] = {}
    for o in observations:
        grouped.setdefault(o.page, []).append(o)
    return grouped
