"""Flow and capacity (P1-P6, P9-P11), with the dashboard specification's definitions (§5.3).

* P1, P2 (instant): per work center, the operations READY, IN_PROGRESS, PAUSED or in loss review;
  the gross weigh-in of those at the bench (in progress or paused) and its fine metal (per alloy,
  ``gross x fineness // 1000``); the READY ones, the oldest and the median age since ready;
* P3 (instant): released work orders neither completed nor cancelled, by hours since release (up
  to 24, 72, 168, above);
* P4: operations finished per work center and bucket; orders shipped per bucket;
* P5, P6 per operation code over the operations finished in the window that have a ready time:
  queue = start - ready, touch = finish - start - paused (minutes), p50 and p85;
* P9 Little's law over the window up to now: the time-average count of released, unfinished work
  orders (a cancelled one leaves at its cancellation), work orders completed per day, their mean
  flow time (completed - released) in days; steady when the counts at both ends differ by less
  than 10 % of the larger one (or are both 0);
* P10 busy minutes: the union of the operations' time in progress inside the work center's shifts
  of the window up to now, an operation's time being [start + seconds paused, finish / pause /
  cancellation, or now) as the production service counts it (only the total of the pauses is
  known); available: the shift minutes; P11 rank by utilisation then mean queue time (of the
  operations started in the window), a constraint candidate at utilisation >= 0.85 with the
  largest mean queue time; every work center with a calendar or with operations started in the
  window (busy minutes count inside shifts only: without a calendar they are 0).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from services.analytics.domain.facts import OPEN_AT_BENCH, WIP_STATUSES
from services.analytics.domain.shifts import WorkCenterCalendar, covered, shift_intervals
from services.analytics.domain.stats import P50, P85, percentile_cont, ranked, ratio
from services.analytics.domain.timeline import from_us, to_us
from services.analytics.domain.views import (
    FlowAnalytics,
    LittlesLaw,
    ShippedBucket,
    ThroughputBucket,
    Utilisation,
    ValueStreamStep,
    WipAgingBucket,
    WorkCenterNow,
)
from services.analytics.service_layer.commands import FlowQuery
from services.analytics.service_layer.common import UseCase, as_of, check_window, require_staff
from services.analytics.service_layer.ports import LittleSums, Span, StepRanks, WipRow

__all__ = ["AGING_HOURS", "CONSTRAINT_UTILISATION", "FlowAnalyticsService", "littles_law", "work_center_name"]

#: P3 upper bounds (hours); a last bucket (0) holds the older ones.
AGING_HOURS = (24, 72, 168)
CONSTRAINT_UTILISATION = 0.85
_MINUTE_US = 60_000_000
_HOUR_US = 60 * _MINUTE_US
_DAY_US = 24 * _HOUR_US


def work_center_name(code: str) -> str:
    return f"workCenters/{code}"


class FlowAnalyticsService(UseCase):
    async def get(self, query: FlowQuery) -> FlowAnalytics:
        require_staff(query.principal)
        buckets = check_window(query.window, self._policy.zone)
        now = self._clock()
        now_us = to_us(now)
        start, end = buckets.window.start_us, buckets.window.end_us
        until = min(end, now_us)
        async with self._reading() as r:
            answer_as_of = await as_of(r, self._policy.streams, now)
            fineness = await r.fineness()
            calendars = {c.work_center: c for c in await r.calendars()}
            work_centers = _now(await r.wip(), await r.ready_times(), fineness, calendars, now_us)
            aging = _aging(await r.open_work_orders(), now_us)
            steps = _value_stream(await r.step_times(start, end, (P50, P85)))
            throughput = [
                ThroughputBucket(work_center_name(wc), buckets.start(i), n)
                for wc, i, n in sorted(await r.throughput(buckets))
            ]
            shipped = [ShippedBucket(buckets.start(i), n) for i, n in sorted(await r.shipped(buckets))]
            spans = await r.spans(start, until, sorted(calendars)) if start < until and calendars else []
            means = await r.queue_means(start, end)
            utilisation = _utilisation(calendars, spans, means, start, until, now_us)
            sums = await r.little_sums(start, until) if start < until else LittleSums(0, 0, 0, 0, 0)
        return FlowAnalytics(
            as_of=answer_as_of,
            value_stream=steps,
            work_centers=work_centers,
            wip_aging=aging,
            throughput=throughput,
            shipped=shipped,
            utilisation=utilisation,
            littles_law=littles_law(sums, start, until),
        )


def _value_stream(found: Mapping[str, StepRanks]) -> list[ValueStreamStep]:
    result = []
    for code, step in sorted(found.items()):
        queue, touch = ranked(step.queue, (P50, P85)), ranked(step.touch, (P50, P85))
        values = None
        if queue and touch:
            values = (queue[0] / _MINUTE_US, queue[1] / _MINUTE_US, touch[0] / _MINUTE_US, touch[1] / _MINUTE_US)
        result.append(ValueStreamStep(code, step.queue.n, values))
    return result


def _now(
    wip: Sequence[WipRow],
    ready: Sequence[tuple[str, int | None]],
    fineness: dict[str, int],
    calendars: dict[str, WorkCenterCalendar],
    now_us: int,
) -> list[WorkCenterNow]:
    operations: dict[str, int] = defaultdict(int)
    gross: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in wip:
        if row.status in WIP_STATUSES:
            operations[row.work_center] += row.operations
        if row.status in OPEN_AT_BENCH:
            gross[row.work_center][row.alloy_code] += row.weigh_in_mg
    queued: dict[str, int] = defaultdict(int)
    ages: dict[str, list[float]] = defaultdict(list)
    for wc, ready_us in ready:
        queued[wc] += 1
        if ready_us is not None:
            ages[wc].append(max(0, now_us - ready_us) / _MINUTE_US)
    result = []
    for wc in sorted({*operations, *queued, *gross, *calendars}):
        by_alloy = gross.get(wc, {})
        waited = sorted(ages.get(wc, []))
        result.append(
            WorkCenterNow(
                work_center=work_center_name(wc),
                wip_operations=operations.get(wc, 0),
                wip_gross_mg=sum(by_alloy.values()),
                wip_fine_mg=sum(mg * fineness.get(alloy, 0) // 1000 for alloy, mg in by_alloy.items()),
                queue=queued.get(wc, 0),
                oldest_queue_min=waited[-1] if waited else 0.0,
                median_queue_min=percentile_cont(waited, P50) if waited else 0.0,
            )
        )
    return result


def _aging(releases: Sequence[int], now_us: int) -> list[WipAgingBucket]:
    counts = dict.fromkeys((*AGING_HOURS, 0), 0)
    for release_us in releases:
        hours = (now_us - release_us) / _HOUR_US
        bound = next((b for b in AGING_HOURS if hours <= b), 0)
        counts[bound] += 1
    return [WipAgingBucket(bound, n) for bound, n in counts.items()]


def _utilisation(
    calendars: dict[str, WorkCenterCalendar],
    spans: Sequence[Span],
    means: dict[str, float],
    start_us: int,
    until_us: int,
    now_us: int,
) -> list[Utilisation]:
    by_wc: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in spans:
        begin = max(span.start_us + span.paused_seconds * 1_000_000, start_us)
        stop = min(span.stop_us if span.stop_us is not None else now_us, until_us)
        if begin < stop:
            by_wc[span.work_center].append((begin, stop))
    rows = []
    for wc in sorted({*calendars, *by_wc, *means} - {""}):
        calendar = calendars.get(wc)
        shifts: list[tuple[int, int]] = []
        if calendar is not None and start_us < until_us:
            found = shift_intervals(calendar.windows, calendar.zone, from_us(start_us), from_us(until_us))
            shifts = [(to_us(a), to_us(b)) for a, b in found]
        available = sum(b - a for a, b in shifts) / _MINUTE_US
        busy = covered(by_wc.get(wc, []), shifts) / _MINUTE_US
        rows.append((wc, busy, available, ratio(busy, available), means.get(wc, 0.0) / _MINUTE_US))
    largest = max((row[4] for row in rows), default=0.0)
    ranked = sorted(rows, key=lambda row: (-row[3], -row[4], row[0]))
    return [
        Utilisation(
            work_center=work_center_name(wc),
            busy_min=busy,
            available_min=available,
            utilisation=utilisation,
            mean_queue_min=mean,
            rank=rank,
            constraint_candidate=utilisation >= CONSTRAINT_UTILISATION and mean == largest,
        )
        for rank, (wc, busy, available, utilisation, mean) in enumerate(ranked, start=1)
    ]


def littles_law(sums: LittleSums, start_us: int, until_us: int) -> LittlesLaw:
    """P9 over [start, until)."""
    if until_us <= start_us:
        return LittlesLaw(0.0, 0.0, 0.0, 0.0, True, 0)
    mean_wip = sums.area_us / (until_us - start_us)
    throughput = sums.completed / ((until_us - start_us) / _DAY_US)
    flow_days = sums.flow_us / sums.completed / _DAY_US if sums.completed else 0.0
    deviation = abs(mean_wip - throughput * flow_days) / mean_wip if mean_wip > 0 else 0.0
    first, last = sums.open_at_start, sums.open_at_end
    steady = abs(last - first) < 0.1 * max(first, last) or first == last == 0
    return LittlesLaw(mean_wip, throughput, flow_days, deviation, steady, sums.completed)
