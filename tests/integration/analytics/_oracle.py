"""A brute-force oracle of the analytics, written from the definitions (the dashboard specification's
§5 as the analytics.proto and docs/adr/0006 state them) over the raw rows of a made-up history
(:mod:`tests.integration.analytics._history`), sharing no code with the service.

Each figure is a dict keyed by what identifies a row, so that the service's answer (turned into the
same shape by :mod:`tests.integration.analytics.test_analytics_oracle`) can be compared with it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.analytics._history import BOUNDS, NOW, History, Operation, Order

__all__ = ["Oracle"]

_WIP = ("READY", "IN_PROGRESS", "PAUSED", "LOSS_REVIEW")
_NAMES = {"QUEUED": "READY", "DONE": "FINISHED"}


def _pcts(values: list[float], qs: tuple[int, ...]) -> tuple[float, ...] | None:
    """Linear percentiles (in %) of at least five values."""
    if len(values) < 5:
        return None
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return tuple(cuts[q - 1] for q in qs)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _hist_pct(counts: list[int], bounds: tuple[float, ...], q: Fraction, top: float) -> float:
    n = sum(counts)
    rank = max(1, math.ceil(q * n))
    running = 0
    for i, c in enumerate(counts):
        running += c
        if running >= rank:
            return bounds[i] if i < len(bounds) else max(top, bounds[-1])
    raise AssertionError("rank beyond the counts")


def _union_length(intervals: list[tuple[datetime, datetime]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(i for i in intervals if i[0] < i[1]):
        if end is None or a > end:
            total += (b - a).total_seconds()
            end = b
        elif b > end:
            total += (b - end).total_seconds()
            end = b
    return total


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(i for i in intervals if i[0] < i[1]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class Oracle:
    def __init__(self, history: History) -> None:
        self.h = history
        self.zone = ZoneInfo(history.zone)
        self.start, self.end, self.grain = history.window
        self.until = min(self.end, NOW)
        self.fineness = {}
        for code, fineness, _version in sorted(history.alloys, key=lambda a: a[2]):
            self.fineness[code] = fineness

    # -- time ---------------------------------------------------------------------------

    def bucket(self, at: datetime) -> datetime:
        local = at.astimezone(self.zone)
        if self.grain == "HOUR":
            return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        day = local.date()
        if self.grain == "WEEK":
            day -= timedelta(days=day.weekday())
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def bucket_end(self, start: datetime) -> datetime:
        if self.grain == "HOUR":
            following = self.bucket(start + timedelta(hours=1))
        else:
            day = start.astimezone(self.zone).date() + timedelta(days=1 if self.grain == "DAY" else 7)
            following = datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
        return min(following, self.end)

    def in_window(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def promised_end(self, due: datetime) -> datetime:
        day = due.astimezone(self.zone).date() + timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    # -- partners -----------------------------------------------------------------------

    def orders(self) -> list[Order]:
        p = self.h.partner
        return [o for o in self.h.orders if p is None or o.partner == p]

    def partner(self) -> dict[str, Any]:
        orders = self.orders()
        submitted = [o for o in orders if self.in_window(o.submit)]
        volume: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
        cohorts: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
        mix: dict[Any, int] = defaultdict(int)
        for o in submitted:
            key = (o.partner, self.bucket(o.submit))
            volume[key][0] += 1
            volume[key][1] += sum(q for _, _, q in o.lines)
            for style, alloy, qty in o.lines:
                mix[("STYLE", style)] += qty
                mix[("ALLOY", alloy)] += qty
            cohorts[key][0] += 1
            if o.cancel is not None and o.cancel <= o.submit + timedelta(days=30):
                cohorts[key][1] += 1
                if o.release is not None and o.release <= o.cancel:
                    cohorts[key][2] += 1
        totals = {d: sum(n for (dim, _), n in mix.items() if dim == d) for d in ("STYLE", "ALLOY")}
        shipped = [o for o in orders if self.in_window(o.ship)]
        groups = (lambda o: ("", o.partner)) if self.h.partner is None else (lambda o: (o.partner,))
        leads: dict[str, list[float]] = defaultdict(list)
        delivery: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        if self.h.partner is None:
            leads[""], delivery[""] = [], [0, 0]
        for o in shipped:
            assert o.ship is not None
            for key in groups(o):
                leads[key].append((o.ship - o.submit).total_seconds() / 3600)
                delivery[key][0] += 1
                delivery[key][1] += int(o.ship <= self.promised_end(o.due))
        return {
            "volume": {k: tuple(v) for k, v in volume.items()},
            "mix": {k: (n, _ratio(n, totals[k[0]])) for k, n in mix.items()},
            "cancellation": {
                k: (s, c, c - a, a, _ratio(c, s), self.bucket_end(k[1]) <= NOW - timedelta(days=30))
                for k, (s, c, a) in cohorts.items()
            },
            "lead_time": {k: (len(v), _pcts(v, (50, 85, 95))) for k, v in leads.items()},
            "delivery": {k: (s, t, _ratio(t, s)) for k, (s, t) in delivery.items()},
            "cadence": self.cadence(orders),
            **self.usage(),
        }

    def cadence(self, orders: list[Order]) -> dict[str, Any]:
        found = {}
        for partner in sorted({o.partner for o in orders}):
            times = sorted(o.submit for o in orders if o.partner == partner)
            recent = [t for t in times if t >= NOW - timedelta(days=180)]
            gaps = [(b - a).total_seconds() / 86400 for a, b in pairwise(recent)]
            median = statistics.median(gaps) if gaps else None
            since = (NOW - times[-1]).total_seconds() / 86400
            found[partner] = (len(recent), median, since, since > max(14.0, 2 * (median or 0.0)))
        return found

    def usage(self) -> dict[str, Any]:
        p = self.h.partner
        rows = [u for u in self.h.usage if self.in_window(u.minute) and (p is None or u.partner == p)]
        buckets: dict[Any, list[Any]] = defaultdict(list)
        for u in rows:
            buckets[(u.partner, self.bucket(u.minute))].append(u)
        api_usage = {}
        for key, group in buckets.items():
            requests = sum(u.requests for u in group)
            throttled = sum(u.throttled for u in group)
            limited = sum(u.rate_limited for u in group)
            used = sum(u.cost_used for u in group)
            capacity = sum(max(u.cost_capacity for u in group if u.minute == m) for m in {u.minute for u in group})
            e4, e5 = sum(u.errors_4xx for u in group), sum(u.errors_5xx for u in group)
            counts = [sum(u.counts[i] for u in group) for i in range(len(group[0].counts))]
            top = max(u.latency_max for u in group)
            latency = None
            if sum(counts) >= 5:
                bounds = BOUNDS
                latency = (
                    _hist_pct(counts, bounds, Fraction(1, 2), top),
                    _hist_pct(counts, bounds, Fraction(19, 20), top),
                )
            api_usage[key] = (
                requests, throttled, limited, _ratio(throttled + limited, requests), used, capacity,
                _ratio(used, capacity), e4, e5, _ratio(e4, requests), _ratio(e5, requests), latency,
            )  # fmt: skip
        operations: dict[Any, list[Any]] = defaultdict(list)
        for u in rows:
            for name, requests, errors, counts in u.operations:
                operations[(u.partner, name)].append((requests, errors, counts, u.latency_max))
        api_operations = {}
        for key, group in operations.items():
            counts = [sum(c[i] for _, _, c, _ in group) for i in range(len(group[0][2]))]
            top = max(t for *_, t in group)
            latency = None
            if sum(counts) >= 5:
                latency = (
                    _hist_pct(counts, BOUNDS, Fraction(1, 2), top),
                    _hist_pct(counts, BOUNDS, Fraction(19, 20), top),
                )
            api_operations[key] = (sum(r for r, *_ in group), sum(e for _, e, *_ in group), latency)
        errors: dict[Any, int] = defaultdict(int)
        idempotency: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for u in rows:
            for code, n in u.error_codes:
                errors[(u.partner, code)] += n
            idempotency[u.partner][0] += u.submissions
            idempotency[u.partner][1] += u.replays
            idempotency[u.partner][2] += u.key_reused
        return {
            "api_usage": api_usage,
            "api_operations": api_operations,
            "api_errors": dict(errors),
            "idempotency": {k: (s, r, k2, _ratio(r, s)) for k, (s, r, k2) in idempotency.items()},
        }

    # -- flow ---------------------------------------------------------------------------

    @staticmethod
    def status(op: Operation) -> str:
        return _NAMES.get(op.final.status, op.final.status)

    @staticmethod
    def ready(op: Operation) -> datetime | None:
        queued = [s.at for s in op.states if s.status == "QUEUED" and s.from_status != "QUEUED"]
        start = op.final.start
        eligible = [t for t in queued if start is None or t <= start]
        return max(eligible) if eligible else None

    def span(self, op: Operation) -> tuple[str, datetime, datetime] | None:
        final = op.final
        if final.start is None:
            return None
        stop = final.finish
        if stop is None and final.status == "PAUSED":
            stop = final.pause_time
        elif stop is None and final.status == "CANCELLED":
            stop = final.at
        begin = max(final.start + timedelta(seconds=final.paused_seconds), self.start)
        finish = min(stop or NOW, self.until)
        return (op.work_center, begin, finish) if begin < finish else None

    def work_orders(self) -> list[Any]:
        return [wo for o in self.h.orders for wo in o.work_orders]

    def flow(self) -> dict[str, Any]:
        ops = self.h.operations
        steps: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for op in ops:
            f, ready = op.final, self.ready(op)
            if self.in_window(f.finish) and ready is not None and f.start is not None and f.finish is not None:
                queue = (f.start - ready).total_seconds() / 60
                touch = max(0.0, (f.finish - f.start).total_seconds() - f.paused_seconds) / 60
                steps[op.code].append((queue, touch))
        value_stream = {}
        for code, pairs in steps.items():
            queue, touch = _pcts([q for q, _ in pairs], (50, 85)), _pcts([t for _, t in pairs], (50, 85))
            value_stream[code] = (len(pairs), (*queue, *touch) if queue and touch else None)
        calendars = {}
        for cal in sorted(self.h.calendars, key=lambda c: c.version):
            calendars[cal.work_center] = cal
        now_rows: dict[str, dict[str, Any]] = {}
        for wc in {op.work_center for op in ops if self.status(op) in _WIP} | set(calendars):
            at_wc = [op for op in ops if op.work_center == wc]
            gross: dict[str, int] = defaultdict(int)
            for op in at_wc:
                if self.status(op) in ("IN_PROGRESS", "PAUSED"):
                    gross[op.alloy] += op.final.weigh_in
            ages = sorted(
                (NOW - r).total_seconds() / 60 for op in at_wc if self.status(op) == "READY" and (r := self.ready(op))
            )
            now_rows[f"workCenters/{wc}"] = (
                sum(1 for op in at_wc if self.status(op) in _WIP),
                sum(gross.values()),
                sum(mg * self.fineness.get(a, 0) // 1000 for a, mg in gross.items()),
                sum(1 for op in at_wc if self.status(op) == "READY"),
                ages[-1] if ages else 0.0,
                statistics.median(ages) if ages else 0.0,
            )
        aging = {24: 0, 72: 0, 168: 0, 0: 0}
        for wo in self.work_orders():
            if wo.complete is None and wo.cancel is None:
                hours = (NOW - wo.release).total_seconds() / 3600
                aging[next((b for b in (24, 72, 168) if hours <= b), 0)] += 1
        throughput: dict[Any, int] = defaultdict(int)
        for op in ops:
            if self.in_window(op.final.finish):
                assert op.final.finish is not None
                throughput[(f"workCenters/{op.work_center}", self.bucket(op.final.finish))] += 1
        shipped: dict[datetime, int] = defaultdict(int)
        for o in self.h.orders:
            if self.in_window(o.ship):
                assert o.ship is not None
                shipped[self.bucket(o.ship)] += 1
        return {
            "value_stream": value_stream,
            "work_centers": now_rows,
            "wip_aging": aging,
            "throughput": dict(throughput),
            "shipped": dict(shipped),
            "utilisation": self.utilisation(calendars),
            "littles_law": self.littles_law(),
        }

    def shifts(self, cal: Any) -> list[tuple[datetime, datetime]]:
        zone = ZoneInfo(cal.zone)
        found = []
        day = self.start.astimezone(zone).date() - timedelta(days=1)
        while day <= self.until.astimezone(zone).date():
            for weekday, start, end in cal.windows:
                if day.isoweekday() == weekday:
                    a = datetime.combine(day, time(start), tzinfo=zone).astimezone(UTC)
                    end_day = day + timedelta(days=1) if end <= start else day
                    b = datetime.combine(end_day, time(end), tzinfo=zone).astimezone(UTC)
                    found.append((max(a, self.start), min(b, self.until)))
            day += timedelta(days=1)
        return _merge(found)

    def utilisation(self, calendars: dict[str, Any]) -> dict[str, Any]:
        spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
        for op in self.h.operations:
            span = self.span(op)
            if span is not None:
                spans[span[0]].append((span[1], span[2]))
        queues: dict[str, list[float]] = defaultdict(list)
        for op in self.h.operations:
            ready, start = self.ready(op), op.final.start
            if self.in_window(start) and ready is not None and start is not None:
                queues[op.work_center].append((start - ready).total_seconds() / 60)
        rows = []
        for wc in set(calendars) | set(queues):
            shifts = self.shifts(calendars[wc]) if wc in calendars and self.start < self.until else []
            available = sum((b - a).total_seconds() for a, b in shifts) / 60
            pieces = [(max(a, c), min(b, d)) for a, b in spans.get(wc, []) for c, d in shifts]
            busy = _union_length(pieces) / 60
            mean = statistics.fmean(queues[wc]) if queues.get(wc) else 0.0
            rows.append((wc, busy, available, _ratio(busy, available), mean))
        largest = max((r[4] for r in rows), default=0.0)
        ranked = sorted(rows, key=lambda r: (-r[3], -r[4], r[0]))
        return {
            f"workCenters/{wc}": (busy, available, util, mean, rank, util >= 0.85 and math.isclose(mean, largest))
            for rank, (wc, busy, available, util, mean) in enumerate(ranked, start=1)
        }

    def littles_law(self) -> tuple[Any, ...]:
        start, until = self.start, self.until
        if until <= start:
            return (0.0, 0.0, 0.0, 0.0, True, 0)
        wos = self.work_orders()

        def leaves(wo: Any) -> datetime | None:
            return wo.complete or wo.cancel

        area = 0.0
        flows = []
        for wo in wos:
            end = min(leaves(wo) or until, until)
            area += max(0.0, (end - max(wo.release, start)).total_seconds())
            if wo.complete is not None and start <= wo.complete < until:
                flows.append((wo.complete - wo.release).total_seconds() / 86400)
        seconds = (until - start).total_seconds()
        mean_wip = area / seconds
        throughput = len(flows) / (seconds / 86400)
        flow_days = statistics.fmean(flows) if flows else 0.0
        deviation = abs(mean_wip - throughput * flow_days) / mean_wip if mean_wip > 0 else 0.0

        def open_at(t: datetime) -> int:
            return sum(1 for wo in wos if wo.release <= t and ((left := leaves(wo)) is None or t < left))

        first, last = open_at(start), open_at(until)
        steady = abs(last - first) < 0.1 * max(first, last) or first == last == 0
        return (mean_wip, throughput, flow_days, deviation, steady, len(flows))

    # -- metal --------------------------------------------------------------------------

    def metal(self) -> dict[str, Any]:
        finished = [op for op in self.h.operations if self.in_window(op.final.finish)]
        by_operation: dict[Any, list[int]] = defaultdict(lambda: [0] * 6)
        by_operator: dict[Any, list[int]] = defaultdict(lambda: [0] * 6)
        trend: dict[Any, list[int]] = defaultdict(lambda: [0] * 6)
        for op in finished:
            f = op.final
            assert f.finish is not None
            loss = max(0, f.weigh_in - f.weigh_out - f.scrap)
            allowed = f.weigh_in * op.tolerance // 1000
            figures = (
                1,
                f.weigh_in,
                loss,
                allowed,
                max(0, loss - allowed),
                int(loss * 1000 > f.weigh_in * op.tolerance),
            )
            for table, key in (
                (by_operation, (op.code, op.alloy)),
                (by_operator, f.finished_by),
                (trend, self.bucket(f.finish)),
            ):
                table[key] = [a + b for a, b in zip(table[key], figures, strict=True)]
        pct = lambda loss, gross: 100 * _ratio(loss, gross)  # noqa: E731
        return {
            "by_operation": {
                k: (n, g, loss, loss * self.fineness.get(k[1], 0) // 1000, pct(loss, g), a, e, x)
                for k, (n, g, loss, a, e, x) in by_operation.items()
            },
            "by_operator": {k: (n, g, loss, pct(loss, g), a, e) for k, (n, g, loss, a, e, _x) in by_operator.items()},
            "trend": {k: (g, loss, pct(loss, g), a) for k, (_n, g, loss, a, _e, _x) in trend.items()},
            "custody": self.custody(),
        }

    def custody(self) -> dict[Any, Any]:
        groups: dict[Any, list[Any]] = defaultdict(list)
        for entry in self.h.custody:
            if entry.kind in ("ISSUE", "RETURN", "LOSS"):
                party = entry.reference if entry.kind == "RETURN" and entry.holder == "stores" else entry.holder
                groups[(party, entry.material)].append(entry)
        found = {}
        for key, entries in groups.items():
            issued = sum(e.weight for e in entries if e.kind == "ISSUE")
            returned = sum(e.weight for e in entries if e.kind == "RETURN")
            lost = sum(e.weight for e in entries if e.kind == "LOSS")
            pending = issued - returned - lost
            if pending == 0:
                continue
            oldest = None
            if pending > 0:
                running = 0
                for e in sorted((e for e in entries if e.kind == "ISSUE"), key=lambda e: (e.at, e.entry_id)):
                    running += e.weight
                    if running > returned + lost:
                        oldest = e.at
                        break
            found[key] = (issued, returned, lost, pending, pending * self.fineness.get(key[1], 0) // 1000, oldest)
        return found

    # -- status -------------------------------------------------------------------------

    def status_counts(self) -> tuple[int, int, int, int]:
        return (len(self.h.orders), len(self.h.operations), len(self.h.custody), len(self.h.usage))
