"""Made-up history for the demo's analytics (development only): weeks of orders, production and
partners' API usage before today, so that the analytics of a fresh stack have something to show.

``mes up`` (and ``mes demo-data``) call :func:`load_demo_history` once the demo data is in: when the
analytics service holds no imported order yet, :func:`generate_history` makes, from a fixed seed,
``MES_STACK_DEMO_HISTORY_DAYS`` days (42; 0: none) ending at the start of today (UTC) of

* **orders** of the demo partners (their styles, alloys and priorities): submitted in office hours
  of the plant's time zone, each partner with its own cadence (aurora-jewels almost every working
  day, northwind-gems twice a week, and quiet for the last weeks); released within minutes, or after
  a day or two on hold; most ship 3-10 days after submission, some late against their due day,
  about 5 % are cancelled (before or after release). Every one is shipped or cancelled before
  today: the history never adds to the live floor's work in progress;
* **operations** of every line through its style's routing at the demo's work centers: ready,
  start and finish times inside the two shifts (06:00-22:00, Monday to Saturday), some paused,
  weighed in and out with scrap returned, losses mostly under the step's tolerance and a few over,
  finished by the demo operators;
* **API usage**: one sampled minute per partner and office hour, as the facade's
  ``facade.partner_usage.recorded`` event with every field (requests by class, cost, latency
  histogram, operations, error codes, submissions, replays and reused keys).

Orders and operations go in with ``ImportFacts`` in batches; their ids start with ``hist-`` (the
services' own ids are UUIDs, so they never collide with live ones). The usage events are
published, backdated, to the FACADE stream (ensured as the facade does), which only the analytics
service consumes; each carries ``Nats-Msg-Id`` = its event id, derived from the partner and the
minute, so that publishing them again adds nothing (JetStream drops a repeat within the duplicate
window, the consumer's inbox after). The same day, the same seed makes the same history.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import nats
from google.protobuf.timestamp_pb2 import Timestamp

from clients import AnalyticsClient, ClientConfig, DeadlineExceededError
from mes.analytics.v1 import analytics_pb2 as apb
from mes.facade.v1 import usage_events_pb2 as upb
from mes_contracts.events import FACADE_STREAM, PARTNER_USAGE_RECORDED
from mes_platform.messaging import ensure_streams, nats_servers
from mes_stack import demo_data as d

__all__ = [
    "HISTORY_PREFIX",
    "LATENCY_BOUNDS_MS",
    "SEED",
    "DemoHistory",
    "HistoryClient",
    "HistoryReport",
    "PartnerProfile",
    "generate_history",
    "history_end",
    "import_history",
    "load_demo_history",
    "load_into_stack",
    "publish_usage",
]

#: Every id the history makes starts with it (orders, work orders, operations).
HISTORY_PREFIX = "hist-"
SEED = 20261207
#: The facade's latency buckets (``graphql_facade.usage.LATENCY_BOUNDS_MS``): counts only add up
#: over minutes with the same bounds.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
#: Orders (with their operations) per ImportFacts call.
IMPORT_BATCH_ORDERS = 40
#: Deadline of one ImportFacts call: a batch merges in well under a second on a quiet machine, but
#: on one busy with the rest of the stack's start (a replica and a NATS cluster on two cores) it
#: took up to 18 s.
IMPORT_DEADLINE_S = 60.0
#: Attempts of a batch whose call ran out of time (ImportFacts is idempotent: facts merge by id).
IMPORT_ATTEMPTS = 3
#: Usage events published at once (each one waits for its acknowledgement).
PUBLISH_BATCH = 200
_EVENT_NAMESPACE = uuid.UUID("0b6a3f4e-2d1c-4e8a-9f7b-5c3d2e1f0a94")
_MSG_ID = "Nats-Msg-Id"
_ZONE = ZoneInfo(d.PLANT_TIME_ZONE)
#: The shifts of the demo calendars: 06:00-22:00 local, Monday (0) to Saturday (5).
_SHIFT_START, _SHIFT_END, _WORKING_DAYS = 6, 22, 6
#: Points per second the tier's bucket restores (graphql_facade.limits.tiers): the minute's capacity x 60.
_RESTORE_RATE = {"STANDARD": 100, "PLUS": 200, "ENTERPRISE": 1000}


@dataclass(frozen=True)
class PartnerProfile:
    """How one demo partner orders and uses the API."""

    partner_id: str
    #: Mean orders on a day it orders.
    orders_per_order_day: float
    #: Local weekdays (Monday 0) it orders on.
    order_days: tuple[int, ...]
    #: No order in this share of the history's last days (a partner gone quiet).
    quiet_share: float
    #: Days between submission and the due day it asks for.
    promise_days: int
    styles: Mapping[str, float]
    alloys: Mapping[str, float]
    #: Local weekdays its systems call the API on (office hours, 07:00-19:00).
    api_days: tuple[int, ...]
    #: Mean API requests in a sampled office-hours minute.
    requests_per_minute: float
    #: Weights of its GraphQL operations.
    operations: Mapping[str, float]


PROFILES: tuple[PartnerProfile, ...] = (
    PartnerProfile(
        partner_id="aurora-jewels",
        orders_per_order_day=3.0,
        order_days=(0, 1, 2, 3, 4, 5),
        quiet_share=0.0,
        promise_days=10,
        styles={
            "RNG-SOL-001": 5,
            "RNG-ETR-002": 2,
            "RNG-BND-003": 4,
            "RNG-SIG-004": 1,
            "PND-HRT-001": 3,
            "PND-SAP-002": 2,
            "EAR-STD-001": 3,
            "BRC-TNS-001": 1,
        },
        alloys={"AU750Y": 5, "AU750W": 3, "AU750R": 2, "PT950": 1, "AU585Y": 1},
        api_days=(0, 1, 2, 3, 4, 5),
        requests_per_minute=36.0,
        operations={"PartnerOrders": 42, "OrderStatus": 30, "SubmitOrder": 6, "Catalogue": 12, "other": 10},
    ),
    PartnerProfile(
        partner_id="northwind-gems",
        orders_per_order_day=2.2,
        order_days=(0, 3),
        quiet_share=0.45,
        promise_days=14,
        styles={
            "CHN-CUR-045": 4,
            "CHN-ROP-050": 3,
            "BRC-BNG-002": 2,
            "EAR-HOP-002": 3,
            "PND-CZ-003": 2,
            "RNG-BND-003": 1,
        },
        alloys={"AG925": 5, "AU585Y": 3, "AU585W": 2, "AU585R": 2},
        api_days=(0, 1, 2, 3, 4),
        requests_per_minute=12.0,
        operations={"PartnerOrders": 50, "OrderStatus": 25, "SubmitOrder": 8, "Catalogue": 7, "other": 10},
    ),
)

#: Who finishes the work at each kind of work center.
_OPERATORS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "CASTING": ("OP-01", "OP-02"),
    "FILING": ("OP-02", "OP-03"),
    "ASSEMBLY": ("OP-04", "OP-05"),
    "STONE_SETTING": ("OP-03", "OP-06"),
    "POLISHING": ("OP-05", "OP-01"),
    "ENGRAVING": ("OP-06",),
    "QC": ("OP-04", "SUP-01"),
    "PACKING": ("OP-05", "OP-02"),
}
#: The operator whose losses run higher (the per-operator loss analytics have someone to show).
_HEAVY_HAND = "OP-04"
#: Share of the weigh-in returned as scrap, per operation code (sprues and filings go back to the vault).
_SCRAP_SHARE: Mapping[str, tuple[float, float]] = {
    "CASTING": (0.18, 0.26),
    "FILING": (0.01, 0.03),
    "ASSEMBLY": (0.002, 0.01),
    "SOLDERING": (0.0, 0.004),
    "POLISHING": (0.0, 0.004),
}
#: Cost points of one operation of each kind (the facade's static cost, about).
_OPERATION_COST = {"PartnerOrders": 52, "OrderStatus": 12, "SubmitOrder": 10, "Catalogue": 102, "other": 20}
_CODES_4XX = (("BAD_USER_INPUT", 6), ("NOT_FOUND", 3), ("MAX_COST_EXCEEDED", 1))
_CODES_5XX = (("INTERNAL_SERVER_ERROR", 1), ("UNAVAILABLE", 2), ("TIMEOUT", 1))


@dataclass(frozen=True)
class DemoHistory:
    """What :func:`generate_history` made: facts for ImportFacts and the usage events."""

    start: datetime
    end: datetime
    orders: tuple[apb.OrderFact, ...]
    operations: tuple[apb.OperationFact, ...]
    usage: tuple[upb.PartnerUsageRecordedEvent, ...]

    def batches(self, size: int = IMPORT_BATCH_ORDERS) -> Iterator[apb.ImportFactsRequest]:
        """ImportFacts requests of at most ``size`` orders each, with those orders' operations."""
        by_order: dict[str, list[apb.OperationFact]] = {}
        for op in self.operations:
            by_order.setdefault(op.order_id, []).append(op)
        for first in range(0, len(self.orders), size):
            orders = self.orders[first : first + size]
            ops = [op for order in orders for op in by_order.get(order.order_id, ())]
            yield apb.ImportFactsRequest(orders=orders, operations=ops)


def history_end(now: datetime) -> datetime:
    """The end of the history: the start of ``now``'s day (UTC), so a rerun the same day makes the same."""
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth below 30, the normal approximation above)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


# -- the shop floor's clock ---------------------------------------------------------------


def _local(moment: datetime) -> datetime:
    return moment.astimezone(_ZONE)


def _at_local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` local on ``day``'s local date, in UTC."""
    local = datetime.combine(_local(day).date(), time(hour, minute), tzinfo=_ZONE)
    return local.astimezone(UTC)


def _next_shift_start(moment: datetime) -> datetime:
    """The next 06:00 local of a working day after ``moment``'s local day."""
    day = _local(moment).date() + timedelta(days=1)
    while day.weekday() >= _WORKING_DAYS:
        day += timedelta(days=1)
    return datetime.combine(day, time(_SHIFT_START), tzinfo=_ZONE).astimezone(UTC)


def _on_shift(earliest: datetime, minutes: float) -> datetime:
    """The first moment from ``earliest`` when ``minutes`` of work fit inside one day's shifts."""
    local = _local(earliest)
    if local.weekday() >= _WORKING_DAYS:
        return _on_shift(_next_shift_start(earliest), minutes)
    opens, closes = _at_local(earliest, _SHIFT_START), _at_local(earliest, _SHIFT_END)
    start = max(earliest, opens)
    if start + timedelta(minutes=minutes) > closes:
        return _on_shift(_next_shift_start(earliest), minutes)
    return start


# -- orders and operations ------------------------------------------------------------------


@dataclass
class _Order:
    fact: apb.OrderFact
    operations: list[apb.OperationFact] = field(default_factory=list)


@dataclass(frozen=True)
class _Step:
    sequence: int
    code: str
    work_center_type: str
    minutes: int
    tolerance: int


def _steps(style: d.StyleDef, engraved: bool) -> list[_Step]:
    return [
        _Step(s.sequence, s.operation_code, s.work_center_type, s.expected_minutes, s.loss_tolerance_per_mille)
        for s in style.routing
        if not s.optional or engraved
    ]


def _centers(work_center_type: str) -> list[str]:
    return [wc.code for wc in d.WORK_CENTERS if wc.work_center_type == work_center_type]


def _loss_per_mille(rng: random.Random, tolerance: int, operator: str) -> float:
    """Mostly well under the step's tolerance, a few over it (more often for the heavy hand)."""
    if tolerance == 0:
        return 0.0
    heavy = operator == _HEAVY_HAND
    if rng.random() < (0.09 if heavy else 0.03):
        return tolerance * rng.uniform(1.1, 2.0)
    return tolerance * rng.uniform(0.15, 0.85) * (1.15 if heavy else 1.0)


def _weigh(rng: random.Random, step: _Step, weigh_in: int, operator: str) -> tuple[int, int]:
    """(scrap returned, weigh-out) in mg: the loss is what is left of the weigh-in."""
    loss = round(weigh_in * _loss_per_mille(rng, step.tolerance, operator) / 1000)
    low, high = _SCRAP_SHARE.get(step.code, (0.0, 0.0))
    scrap = round(weigh_in * rng.uniform(low, high))
    return scrap, weigh_in - loss - scrap


@dataclass(frozen=True)
class _Line:
    style: d.StyleDef
    alloy: str
    quantity: int
    engraved: bool


def _schedule_line(
    rng: random.Random, release: datetime, queue_minutes: Sequence[float], touch_minutes: Sequence[float]
) -> list[tuple[datetime, datetime, datetime, int]]:
    """(ready, start, finish, paused seconds) of each step, one after the other inside the shifts."""
    times = []
    ready = release
    for queue, touch in zip(queue_minutes, touch_minutes, strict=True):
        paused = rng.randint(10, 45) * 60 if rng.random() < 0.08 else 0
        start = _on_shift(ready + timedelta(minutes=queue), touch + paused / 60)
        finish = start + timedelta(minutes=touch, seconds=paused)
        times.append((ready, start, finish, paused))
        ready = finish
    return times


def _plan_line(
    rng: random.Random, line: _Line, release: datetime, deadline: datetime
) -> list[tuple[datetime, datetime, datetime, int]] | None:
    """The line's steps finished before ``deadline``, queues shortened until they fit (None: never)."""
    steps = _steps(line.style, line.engraved)
    touch = [s.minutes * rng.uniform(0.8, 1.35) * (1 + 0.2 * (line.quantity - 1)) for s in steps]
    weights = [rng.expovariate(1.0) for _ in steps]
    # queues are wall-clock time (nights included), so the budget is most of the span to the deadline
    budget = max(0.0, (deadline - release).total_seconds() / 60 - sum(touch))
    for factor in (0.85, 0.7, 0.5, 0.3, 0.1, 0.0):
        queues = [budget * factor * w / sum(weights) for w in weights]
        planned = _schedule_line(random.Random(rng.random()), release, queues, touch)
        if planned[-1][2] <= deadline:
            return planned
    return None


def _operations(
    rng: random.Random,
    order_id: str,
    line_number: int,
    line: _Line,
    release: datetime,
    planned: list[tuple[datetime, datetime, datetime, int]],
    cancel: datetime | None,
) -> list[apb.OperationFact]:
    """The line's operations; with ``cancel``, those finished before it and the one it stopped."""
    work_order = f"{HISTORY_PREFIX}{order_id.removeprefix(HISTORY_PREFIX)}-{line_number}"
    metal = next(b.weight_mg for b in line.style.bill_of_materials if b.kind == "METAL")
    weigh_in = round(metal * line.quantity * rng.uniform(1.22, 1.32))  # the first step's metal, sprue included
    ops = []
    for step, (ready, start, finish, paused) in zip(_steps(line.style, line.engraved), planned, strict=True):
        fact = apb.OperationFact(
            name=f"workOrders/{work_order}/operations/{step.sequence}",
            order_id=order_id,
            operation_code=step.code,
            work_center=f"workCenters/{rng.choice(_centers(step.work_center_type))}",
            alloy_code=line.alloy,
            loss_tolerance_per_mille=step.tolerance,
            ready_time=_ts(ready),
            release_time=_ts(release),
        )
        if cancel is not None and finish > cancel:
            if ready <= cancel:  # queued (or at the bench) when the order was cancelled
                fact.status = "CANCELLED"
                ops.append(fact)
            break
        operator = rng.choice(_OPERATORS_BY_TYPE[step.work_center_type])
        scrap, weigh_out = _weigh(rng, step, weigh_in, operator)
        fact.status = "FINISHED"
        fact.start_time.CopyFrom(_ts(start))
        fact.finish_time.CopyFrom(_ts(finish))
        fact.paused_seconds = paused
        fact.weigh_in_mg, fact.weigh_out_mg, fact.scrap_returned_mg = weigh_in, weigh_out, scrap
        fact.finished_by = operator
        ops.append(fact)
        weigh_in = weigh_out
    return ops


def _submission_days(profile: PartnerProfile, start: datetime, end: datetime) -> Iterator[datetime]:
    """Local midnights (as UTC) of the days the partner orders on, before it went quiet."""
    days = (end - start).days
    quiet_from = end - timedelta(days=round(days * profile.quiet_share))
    day = _local(start).date()
    while True:
        midnight = datetime.combine(day, time(0), tzinfo=_ZONE).astimezone(UTC)
        if midnight >= quiet_from:
            return
        if day.weekday() in profile.order_days and midnight >= start:
            yield midnight
        day += timedelta(days=1)


def _lines(rng: random.Random, profile: PartnerProfile) -> list[_Line]:
    count = rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
    lines = []
    for _ in range(count):
        sku = _weighted(rng, profile.styles)
        style = next(s for s in d.STYLES if s.sku == sku)
        alloy = _weighted(rng, profile.alloys)
        if alloy == "PT950" and style.category != "RING":
            alloy = "AU750W"
        quantity = rng.choices((1, 2, 3, 4, 6), weights=(40, 28, 14, 10, 8))[0]
        engravable = any(step.optional for step in style.routing)
        lines.append(_Line(style, alloy, quantity, engravable and rng.random() < 0.35))
    return lines


def _order(
    rng: random.Random, profile: PartnerProfile, order_id: str, submit: datetime, end: datetime
) -> _Order | None:
    """One order and its operations, shipped or cancelled before ``end`` (None: it could not be)."""
    lines = _lines(rng, profile)
    due_day = _local(submit).date() + timedelta(days=profile.promise_days)
    due = datetime.combine(due_day, time(17, 0), tzinfo=_ZONE).astimezone(UTC)
    fact = apb.OrderFact(
        order_id=order_id,
        partner_id=profile.partner_id,
        submit_time=_ts(submit),
        due_time=_ts(due),
        lines=[apb.OrderLineFact(style_code=ln.style.sku, alloy_code=ln.alloy, quantity=ln.quantity) for ln in lines],
    )
    cut = end - timedelta(hours=2)
    fate = rng.random()
    on_hold = rng.random() < 0.06
    if fate < 0.025:  # cancelled before any release: it was waiting for stock
        fact.cancel_time.CopyFrom(_ts(min(submit + timedelta(hours=rng.uniform(2, 30)), cut)))
        return _Order(fact)
    release = submit + (timedelta(hours=rng.uniform(20, 60)) if on_hold else timedelta(minutes=rng.uniform(1, 25)))
    late_ish = rng.random() < 0.12
    lead_days = rng.uniform(9.5, 16.0) if late_ish else rng.triangular(3.0, 10.0, 5.0)
    deadline = min(submit + timedelta(days=lead_days), cut)
    if deadline <= release + timedelta(hours=4):
        return None
    planned = [_plan_line(rng, line, release, deadline) for line in lines]
    if any(p is None for p in planned):
        return None
    fact.release_time.CopyFrom(_ts(release))
    cancel: datetime | None = None
    if fate < 0.05:  # cancelled after release, part of the work done
        span = deadline - release
        cancel = release + span * rng.uniform(0.15, 0.6)
        fact.cancel_time.CopyFrom(_ts(cancel))
    order = _Order(fact)
    for number, (line, plan) in enumerate(zip(lines, planned, strict=True), start=1):
        assert plan is not None
        order.operations += _operations(rng, order_id, number, line, release, plan, cancel)
    if cancel is None:
        last = max(op.finish_time.ToDatetime(tzinfo=UTC) for op in order.operations)
        ship = _on_shift(last + timedelta(minutes=rng.uniform(20, 300)), 10)
        fact.ship_time.CopyFrom(_ts(ship if ship <= cut else last + timedelta(minutes=10)))
    return order


def _history_orders(rng: random.Random, start: datetime, end: datetime) -> list[_Order]:
    drafts: list[tuple[datetime, PartnerProfile]] = []
    for profile in PROFILES:
        for midnight in _submission_days(profile, start, end):
            for _ in range(_poisson(rng, profile.orders_per_order_day)):
                submit = midnight + timedelta(hours=8, minutes=rng.uniform(0, 11 * 60))
                if start <= submit < end - timedelta(hours=8):  # time to finish it before the end
                    drafts.append((submit.replace(microsecond=0), profile))
    drafts.sort(key=lambda draft: (draft[0], draft[1].partner_id))
    orders = []
    for index, (submit, profile) in enumerate(drafts, start=1):
        made = _order(rng, profile, f"{HISTORY_PREFIX}{index:05d}", submit, end)
        if made is not None:
            orders.append(made)
    return orders


# -- API usage ------------------------------------------------------------------------------


def _event_id(partner_id: str, minute_start: datetime) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"demo-history\n{partner_id}\n{int(minute_start.timestamp())}"))


def _latency_ms(rng: random.Random, outcome: str, operation: str) -> float:
    if outcome in ("throttled", "rate_limited"):
        return rng.uniform(0.3, 2.0)
    if outcome == "4xx":
        return rng.uniform(1.0, 15.0)
    if outcome == "5xx":
        return rng.uniform(200.0, 6000.0)
    median = 70.0 if operation == "SubmitOrder" else 22.0 if operation == "OrderStatus" else 38.0
    return rng.lognormvariate(math.log(median), 0.6)


def _usage_event(
    seed: int, profile: PartnerProfile, tier: str, minute_start: datetime, busy: float
) -> upb.PartnerUsageRecordedEvent:
    """One sampled minute; its content depends only on the seed, the partner and the minute."""
    rng = random.Random(f"{seed}\n{profile.partner_id}\n{int(minute_start.timestamp())}")
    requests = _poisson(rng, profile.requests_per_minute * busy * rng.uniform(0.7, 1.3))
    burst = rng.random() < 0.08  # a client paging through everything at once
    rates = {"throttled": 0.12 if burst else 0.004, "rate_limited": 0.003, "4xx": 0.015, "5xx": 0.002}
    bounds = len(LATENCY_BOUNDS_MS)
    event = upb.PartnerUsageRecordedEvent(
        partner_id=profile.partner_id,
        tier=tier,
        minute_start=_ts(minute_start),
        instance="facade",
        cost_capacity=_RESTORE_RATE[tier] * 60,
        latency_bucket_bounds_ms=LATENCY_BOUNDS_MS,
        latency_bucket_counts=[0] * (bounds + 1),
    )
    per_op: dict[str, upb.OperationUsage] = {}
    codes: dict[str, int] = {}
    latency_sum = 0.0
    for _ in range(requests):
        operation = _weighted(rng, profile.operations)
        draw, outcome = rng.random(), "ok"
        for name, rate in rates.items():
            if draw < rate:
                outcome = name
                break
            draw -= rate
        latency = _latency_ms(rng, outcome, operation)
        bucket = next((i for i, bound in enumerate(LATENCY_BOUNDS_MS) if latency <= bound), bounds)
        usage = per_op.setdefault(
            operation, upb.OperationUsage(operation=operation, latency_bucket_counts=[0] * (bounds + 1))
        )
        usage.requests += 1
        usage.latency_ms_sum += round(latency)
        usage.latency_bucket_counts[bucket] += 1
        event.requests += 1
        event.latency_bucket_counts[bucket] += 1
        latency_sum += latency
        event.latency_ms_max = max(event.latency_ms_max, math.ceil(latency))
        cost = round(_OPERATION_COST[operation] * rng.uniform(0.6, 1.0))
        code = ""
        if outcome == "throttled":
            event.throttled += 1
            event.rejected_cost += cost * 9  # the pages it asked for at once
            code = "THROTTLED"
        elif outcome == "rate_limited":
            event.rate_limited += 1
            code = "RATE_LIMITED"
        elif outcome == "4xx":
            event.errors_4xx += 1
            code = rng.choices([c for c, _ in _CODES_4XX], weights=[w for _, w in _CODES_4XX])[0]
        elif outcome == "5xx":
            event.errors_5xx += 1
            code = rng.choices([c for c, _ in _CODES_5XX], weights=[w for _, w in _CODES_5XX])[0]
        else:
            event.cost_used += cost
        if operation == "SubmitOrder" and outcome in ("ok", "4xx"):
            event.submissions += 1
            if outcome == "ok" and rng.random() < 0.06:
                event.replays += 1  # the same key and payload again: the first answer
            elif outcome == "ok" and rng.random() < 0.015:
                event.key_reused += 1  # the same key, another payload: refused in the answer
                code = "IDEMPOTENCY_KEY_REUSED"
        if code:
            usage.errors += 1
            codes[code] = codes.get(code, 0) + 1
    event.latency_ms_sum = round(latency_sum)
    event.operations.extend(per_op[name] for name in sorted(per_op))
    event.error_codes.extend(upb.ErrorCodeCount(code=c, count=n) for c, n in sorted(codes.items()))
    event.meta.event_id = _event_id(profile.partner_id, minute_start)
    event.meta.producer = "facade"
    event.meta.occur_time.CopyFrom(_ts(minute_start + timedelta(minutes=1)))
    return event


def _busy(local_hour: int) -> float:
    """How busy an office hour is (mornings and early afternoons most)."""
    return {7: 0.4, 8: 0.8, 9: 1.1, 10: 1.3, 11: 1.2, 12: 0.7, 13: 0.8, 14: 1.2, 15: 1.2, 16: 1.0, 17: 0.8}.get(
        local_hour, 0.5
    )


def _history_usage(seed: int, start: datetime, end: datetime) -> list[upb.PartnerUsageRecordedEvent]:
    tiers = {p.partner_id: p.tier for p in d.PARTNERS}
    events = []
    for profile in PROFILES:
        quiet_from = end - timedelta(days=round((end - start).days * profile.quiet_share))
        hour = start
        while hour < end:
            local = _local(hour)
            office = local.weekday() in profile.api_days and 7 <= local.hour < 19
            minute = random.Random(f"{seed}\n{profile.partner_id}\n{int(hour.timestamp())}").randrange(60)
            if office and (hour < quiet_from or minute % 3 == 0):  # once quiet, it only looks in now and then
                busy = _busy(local.hour) * (1.0 if hour < quiet_from else 0.08)
                sample = hour + timedelta(minutes=minute)
                events.append(_usage_event(seed, profile, tiers[profile.partner_id], sample, busy))
            hour += timedelta(hours=1)
    events.sort(key=lambda e: (e.minute_start.seconds, e.partner_id))
    return events


def generate_history(days: int, *, end: datetime, seed: int = SEED) -> DemoHistory:
    """``days`` of history ending at ``end`` (aware; :func:`history_end` of now under ``mes up``)."""
    if days < 0:
        raise ValueError("days must not be negative")
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    rng = random.Random(f"{seed}\n{days}\n{int(end.timestamp())}")
    orders = _history_orders(rng, start, end) if days else []
    return DemoHistory(
        start=start,
        end=end,
        orders=tuple(o.fact for o in orders),
        operations=tuple(op for o in orders for op in o.operations),
        usage=tuple(_history_usage(seed, start, end)) if days else (),
    )


# -- loading it ---------------------------------------------------------------------------


class HistoryClient(Protocol):
    """What the loader needs of :class:`clients.AnalyticsClient`."""

    async def get_projection_status(self) -> apb.GetProjectionStatusResponse: ...

    async def import_facts(
        self, request: apb.ImportFactsRequest, /, *, timeout: float | None = ...
    ) -> apb.ImportFactsResponse: ...


#: ``await publish(events)``: publishes the usage events, returns how many JetStream stored anew.
PublishUsage = Callable[[Sequence[upb.PartnerUsageRecordedEvent]], Awaitable[int]]


@dataclass(frozen=True)
class HistoryReport:
    days: int
    orders: int = 0
    operations: int = 0
    usage_minutes: int = 0
    #: Why nothing was loaded ("" when it was).
    skipped: str = ""

    def summary(self) -> str:
        if self.skipped:
            return f"demo history: {self.skipped}"
        return (
            f"demo history: {self.days} days, {self.orders} orders, {self.operations} operations,"
            f" {self.usage_minutes} API usage minutes"
        )


async def import_history(
    client: HistoryClient, history: DemoHistory, *, say: Callable[[str], None] = lambda _: None
) -> tuple[int, int]:
    """ImportFacts in batches; returns the (orders, operations) the service took. A batch whose call
    ran out of time is sent again (at most ``IMPORT_ATTEMPTS`` times): the facts merge by id, so a
    batch that did commit before its deadline is not counted twice by the service."""
    orders = operations = 0
    for request in history.batches():
        for attempt in range(1, IMPORT_ATTEMPTS + 1):
            try:
                response = await client.import_facts(request, timeout=IMPORT_DEADLINE_S)
                break
            except DeadlineExceededError:
                if attempt == IMPORT_ATTEMPTS:
                    raise
                say(f"  an import batch ran out of time ({IMPORT_DEADLINE_S:.0f} s), sending it again")
        orders += response.orders
        operations += response.operations
        say(f"  imported {orders}/{len(history.orders)} orders, {operations} operations")
    return orders, operations


async def publish_usage(nats_url: str, events: Sequence[upb.PartnerUsageRecordedEvent]) -> int:
    """Publish to the FACADE stream (ensured first) with ``Nats-Msg-Id`` = event id; returns how
    many JetStream stored (a repeat within its duplicate window is acknowledged, not stored)."""
    servers = nats_servers(nats_url)  # one URL, or every node of a cluster
    nc = await nats.connect(servers, name="mes-demo-history", connect_timeout=5, max_reconnect_attempts=3)
    try:
        js = nc.jetstream()
        await ensure_streams(js, [FACADE_STREAM])
        stored = 0
        for first in range(0, len(events), PUBLISH_BATCH):
            acks = await asyncio.gather(
                *(
                    js.publish(
                        PARTNER_USAGE_RECORDED.subject,
                        event.SerializeToString(),
                        timeout=10,
                        stream=FACADE_STREAM.name,
                        headers={_MSG_ID: event.meta.event_id},
                    )
                    for event in events[first : first + PUBLISH_BATCH]
                )
            )
            stored += sum(1 for ack in acks if not ack.duplicate)
    finally:
        await nc.close()
    return stored


async def load_demo_history(
    client: HistoryClient,
    publish: PublishUsage,
    *,
    days: int,
    now: datetime,
    seed: int = SEED,
    say: Callable[[str], None] = lambda _: None,
) -> HistoryReport:
    """Generate and load the history unless ``days`` is 0 or the service holds imported orders."""
    if days <= 0:
        return HistoryReport(days, skipped="off (MES_STACK_DEMO_HISTORY_DAYS=0)")
    status = await client.get_projection_status()
    if status.imported_orders > 0:
        return HistoryReport(days, skipped=f"kept ({status.imported_orders} imported orders already held)")
    history = generate_history(days, end=history_end(now), seed=seed)
    # the usage first: after a failure the next run sends it again (the same ids) and then the facts
    usage = await publish(history.usage)
    say(f"  published {usage} API usage minutes to the {FACADE_STREAM.name} stream")
    orders, operations = await import_history(client, history, say=say)
    return HistoryReport(days, orders, operations, len(history.usage))


async def load_into_stack(
    analytics_addr: str,
    nats_url: str,
    *,
    token: str,
    days: int,
    now: datetime | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> HistoryReport:
    """:func:`load_demo_history` into the analytics service at ``analytics_addr`` (``mes up``, ``mes demo-data``)."""
    config = ClientConfig(analytics_addr=analytics_addr, token=token)

    async def publish(events: Sequence[upb.PartnerUsageRecordedEvent]) -> int:
        return await publish_usage(nats_url, events)

    async with AnalyticsClient(config) as client:
        return await load_demo_history(client, publish, days=days, now=now or datetime.now(UTC), say=say)
