"""Partners' analytics: customer behaviour (C1-C5, C7, C9) and API usage (A1-A6).

Definitions (the dashboard specification's, §5.1 and §5.2):

* C1, C2 volume: orders submitted (``submit_time`` in the bucket) and their pieces, per partner;
* C3 mix: share of the pieces of the orders submitted in the window per style and per alloy;
* C4 cancellation cohorts: the orders submitted in a bucket, those cancelled within 30 days of
  their submission, split by whether a work order had been released before the cancellation;
  ``mature`` when the bucket (cut at the window's end) ended at least 30 days ago;
* C5 lead time: ``ship - submit`` in hours of the orders shipped in the window, p50/p85/p95;
* C7 on time: shipped at or before the end of the promised day in the plant's time zone;
* C9 cadence (instant): median days between consecutive submissions of the last 180 days; days
  since the last submission; quiet when that exceeds max(14, 2 x median);
* A1-A5 per bucket from the usage minutes (summed over replicas; the cost capacity of a minute is
  the largest any replica reported), A5 from the summed latency histograms; A1/A4/A5 by operation
  and A4 by error code over the window; A6 submissions, replays and reused keys.

Per-partner lists carry a row for all partners (``partner_id`` "") first when no partner is asked
for (lead time, delivery).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from services.analytics.domain.stats import (
    P50,
    P85,
    P95,
    Ranked,
    add_counts,
    histogram_percentile,
    ranked,
    ratio,
    value_at,
)
from services.analytics.domain.timeline import Buckets, local_day_end, to_us
from services.analytics.domain.views import (
    ApiErrorCount,
    ApiOperationUsage,
    ApiUsageBucket,
    Cadence,
    CancellationCohort,
    Delivery,
    Idempotency,
    LeadTime,
    MixDimension,
    MixShare,
    PartnerAnalytics,
    VolumeBucket,
)
from services.analytics.service_layer.commands import PartnerQuery
from services.analytics.service_layer.common import UseCase, as_of, check_window, partner_filter
from services.analytics.service_layer.ports import FactReader, HistogramRow, UsageRow

__all__ = ["CADENCE_DAYS", "COHORT_DAYS", "PartnerAnalyticsService", "latency_percentiles"]

#: C4: a cancellation counts when within this many days of the submission; maturity likewise.
COHORT_DAYS = 30
#: C9: submissions of the last this many days.
CADENCE_DAYS = 180
_QUIET_DAYS = 14
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_ALL = ""


def latency_percentiles(rows: Iterable[HistogramRow]) -> tuple[float, float] | None:
    """A5 p50/p95 of summed histograms (rows with the first row's bounds); None below five requests."""
    total: list[int] = []
    bounds: tuple[float, ...] | None = None
    above = 0
    for row in sorted(rows, key=lambda row: -sum(row.counts)):  # the bounds most requests have
        if bounds is None:
            bounds = row.bounds
        if row.bounds != bounds:
            continue
        add_counts(total, row.counts)
        above = max(above, row.latency_max_ms)
    if bounds is None or sum(total) < 5:
        return None
    return (histogram_percentile(total, bounds, P50, above), histogram_percentile(total, bounds, P95, above))


class PartnerAnalyticsService(UseCase):
    async def get(self, query: PartnerQuery) -> PartnerAnalytics:
        partner = partner_filter(query.principal, query.partner_id)
        buckets = check_window(query.window, self._policy.zone)
        now = self._clock()
        start, end = buckets.window.start_us, buckets.window.end_us
        async with self._reading() as r:
            usage = await r.usage(buckets, partner)
            return PartnerAnalytics(
                as_of=await as_of(r, self._policy.streams, now),
                volume=[
                    VolumeBucket(p, buckets.start(i), orders, pieces)
                    for p, i, orders, pieces in sorted(await r.volume(buckets, partner))
                ],
                mix=_mix(await r.mix(start, end, partner)),
                cancellation=await self._cohorts(r, buckets, partner, now),
                lead_time=_lead_times(
                    await r.lead_times(start, end, partner, (P50, P85, P95)), all_row=partner is None
                ),
                delivery=self._deliveries(
                    await r.shipments_by_due_day(start, end, partner, self._policy.zone), all_row=partner is None
                ),
                cadence=await _cadence(r, partner, now),
                api_usage=_usage(buckets, usage, await r.capacities(buckets, partner)),
                api_operations=_operations(
                    await r.operation_usage(start, end, partner), await r.operation_histograms(start, end, partner)
                ),
                api_errors=[
                    ApiErrorCount(p, code, n) for p, code, n in sorted(await r.error_counts(start, end, partner))
                ],
                idempotency=_idempotency(usage),
            )

    async def _cohorts(
        self, r: FactReader, buckets: Buckets, partner: str | None, now: datetime
    ) -> list[CancellationCohort]:
        maturity = timedelta(days=COHORT_DAYS)
        rows = await r.cohorts(buckets, partner, COHORT_DAYS * _DAY_US)
        return [
            CancellationCohort(
                partner_id=row.partner_id,
                bucket_start=buckets.start(row.bucket),
                submitted=row.submitted,
                cancelled=row.cancelled,
                cancelled_before_release=row.cancelled - row.cancelled_after_release,
                cancelled_after_release=row.cancelled_after_release,
                rate=ratio(row.cancelled, row.submitted),
                mature=buckets.end(row.bucket) <= now - maturity,
            )
            for row in sorted(rows)
        ]

    def _deliveries(self, groups: Sequence[tuple[str, date | None, list[int]]], *, all_row: bool) -> list[Delivery]:
        """C7 from the ship times grouped by partner and local due date: on time up to the end of the
        promised day (the next local midnight), found by bisection in each group's sorted times."""
        zone = self._policy.zone
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for partner_id, due_day, ships in groups:
            on_time = 0
            if due_day is not None:
                promised_end = to_us(local_day_end(due_day, zone))
                on_time = bisect_right(ships, promised_end)
            for key in (_ALL, partner_id) if all_row else (partner_id,):
                counts[key][0] += len(ships)
                counts[key][1] += on_time
        if all_row:
            counts.setdefault(_ALL, [0, 0])
        return [
            Delivery(p, shipped, on_time, ratio(on_time, shipped)) for p, (shipped, on_time) in sorted(counts.items())
        ]


def _mix(rows: Sequence[tuple[MixDimension, str, int]]) -> list[MixShare]:
    totals: dict[MixDimension, int] = defaultdict(int)
    for dimension, _key, pieces in rows:
        totals[dimension] += pieces
    order = {MixDimension.STYLE: 0, MixDimension.ALLOY: 1}
    ranked = sorted(rows, key=lambda row: (order[row[0]], -row[2], row[1]))
    return [MixShare(d, key, pieces, ratio(pieces, totals[d])) for d, key, pieces in ranked]


def _lead_times(found: Mapping[str, Ranked], *, all_row: bool) -> list[LeadTime]:
    groups = dict(found)
    if all_row:
        groups.setdefault(_ALL, Ranked(0, {}))
    else:
        groups.pop(_ALL, None)
    result = []
    for partner_id, values in sorted(groups.items()):
        us = ranked(values, (P50, P85, P95))
        hours = (us[0] / _HOUR_US, us[1] / _HOUR_US, us[2] / _HOUR_US) if us else None
        result.append(LeadTime(partner_id, values.n, hours))
    return result


async def _cadence(r: FactReader, partner: str | None, now: datetime) -> list[Cadence]:
    now_us = to_us(now)
    since = now_us - CADENCE_DAYS * _DAY_US
    recent = await r.submission_gaps(since, now_us + 1, partner, (P50,))
    result = []
    for partner_id, last_us in sorted((await r.last_submissions(now_us + 1, partner)).items()):
        submissions, gaps = recent.get(partner_id, (0, Ranked(0, {})))
        median_us = value_at(gaps, P50)
        median = median_us / _DAY_US if median_us is not None else None
        since_last = (now_us - last_us) / _DAY_US
        quiet = since_last > max(_QUIET_DAYS, 2 * (median or 0.0))
        result.append(Cadence(partner_id, submissions, median, since_last, quiet))
    return result


def _usage(
    buckets: Buckets, rows: Sequence[UsageRow], capacities: Mapping[tuple[str, int], int]
) -> list[ApiUsageBucket]:
    totals: dict[tuple[str, int], list[int]] = {}
    histograms: dict[tuple[str, int], list[HistogramRow]] = defaultdict(list)
    for row in rows:
        key = (row.partner_id, row.bucket)
        figures = [row.requests, row.throttled, row.rate_limited, row.cost_used, row.errors_4xx, row.errors_5xx]
        totals[key] = [a + b for a, b in zip(totals.get(key, [0] * 6), figures, strict=True)]
        histograms[key].append(row.histogram)
    result = []
    for key, (requests, throttled, limited, used, e4, e5) in sorted(totals.items()):
        capacity = capacities.get(key, 0)
        result.append(
            ApiUsageBucket(
                partner_id=key[0],
                bucket_start=buckets.start(key[1]),
                requests=requests,
                throttled=throttled,
                rate_limited=limited,
                throttle_rate=ratio(throttled + limited, requests),
                cost_used=used,
                cost_capacity=capacity,
                cost_utilisation=ratio(used, capacity),
                errors_4xx=e4,
                errors_5xx=e5,
                error_rate_4xx=ratio(e4, requests),
                error_rate_5xx=ratio(e5, requests),
                latency=latency_percentiles(histograms[key]),
            )
        )
    return result


def _idempotency(rows: Sequence[UsageRow]) -> list[Idempotency]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        for i, value in enumerate((row.submissions, row.replays, row.key_reused)):
            totals[row.partner_id][i] += value
    return [
        Idempotency(p, subs, replays, reused, ratio(replays, subs))
        for p, (subs, replays, reused) in sorted(totals.items())
    ]


def _operations(
    rows: Sequence[tuple[str, str, int, int]], histograms: Sequence[HistogramRow]
) -> list[ApiOperationUsage]:
    by_key: dict[tuple[str, int | str], list[HistogramRow]] = defaultdict(list)
    for row in histograms:
        by_key[(row.partner_id, row.key)].append(row)
    key: Callable[[tuple[str, str, int, int]], tuple[str, int, str]] = lambda r: (r[0], -r[2], r[1])  # noqa: E731
    return [
        ApiOperationUsage(p, op, requests, errors, latency_percentiles(by_key.get((p, op), ())))
        for p, op, requests, errors in sorted(rows, key=key)
    ]
