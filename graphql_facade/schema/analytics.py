"""Analytics of the plant and its partners, answered by the analytics service's read model
(``mes.analytics.v1``): ``partnerAnalytics`` (volume, mix, cancellation cohorts, lead time, delivery,
cadence, API usage: C1-C5, C7, C9, A1-A6), ``flowAnalytics`` (value stream, work centers now, WIP aging,
throughput, utilisation and bottleneck rank, Little's law: P1-P6, P9-P11) and ``metalAnalytics`` (loss
per operation and alloy against tolerance, per operator, its trend, custody pending: J1-J4). The types
mirror the service's messages field by field (camelCase); every answer carries ``asOf { computedAt
positions { stream sequence } }``: when the service computed it and the stream positions it had applied.

* **Who.** Operators and supervisors see every field and every partner (``partner`` picks one). A
  partner sees only its own ``partnerAnalytics`` (``partner`` left out or its own id; another id answers
  ``FORBIDDEN``), and ``flowAnalytics`` / ``metalAnalytics`` answer it ``FORBIDDEN`` (the plant's own figures).
* **Window.** ``[from, to)`` (a time without an offset is UTC) in buckets of ``grain`` (``HOUR``, ``DAY``
  by default, ``WEEK`` from Monday), bucketed by the service in the plant's time zone. ``from`` must be
  before ``to``; the service refuses more than 400 buckets. Bad input answers ``INVALID_ARGUMENT`` with
  ``fieldViolations`` named after the arguments (``from``, ``to``, ``grain``, ``partner``).
* **Installation.** Without ``MES_FACADE_ANALYTICS_ADDR`` the installation has no analytics service and
  every field answers ``ANALYTICS_NOT_ENABLED``; a service that cannot be reached answers ``UNAVAILABLE``
  (retryable), as every other service.
* **Cache.** These answers depend on the read model, which no single event describes: they read the tag
  ``analytics:*`` that no event touches, and live in the response cache for
  ``MES_FACADE_CACHE_ANALYTICS_TTL_S`` (300 s: :mod:`graphql_facade.response_cache.config`); a cached answer
  is served in a dictionary lookup, and its ``asOf.computedAt`` tells its age. An answer that also reads
  live data (the Metal & loss page's balances) lives as long as its shortest-lived part.
* **Cost.** Each root field costs :data:`ANALYTICS_COST` (its selections included) in the static and the
  actual cost, like a list field asked for a full page: the service scans a window of facts for it.
* A field that fails is null with its error (the rest of the answer stands: a page showing balances
  beside the metal analytics keeps its balances).
* Compiled plans run them too (:mod:`graphql_facade.compiled.analytics`: the same calls, these objects).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, TypeVar, cast

import strawberry
from google.protobuf.timestamp_pb2 import Timestamp

from clients import InvalidArgumentError
from clients.analytics import AnalyticsClient, make_window
from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import COST_WEIGHT
from graphql_facade.schema.common import Long, optional_enum
from graphql_facade.schema.info import Info, check_id
from mes.analytics.v1 import analytics_pb2 as pb

__all__ = [
    "ANALYTICS_COST",
    "ANALYTICS_FIELDS",
    "NOT_ENABLED",
    "NOT_ENABLED_MESSAGE",
    "FlowAnalytics",
    "Grain",
    "MetalAnalytics",
    "OperatorAnalyticsQuery",
    "PartnerAnalytics",
    "PartnerAnalyticsQuery",
    "flow_analytics",
    "metal_analytics",
    "partner_analytics",
]

#: The error code of every field when the installation has no analytics service.
NOT_ENABLED = "ANALYTICS_NOT_ENABLED"
NOT_ENABLED_MESSAGE = "Analytics are not enabled on this installation."
#: What each root field costs: as much as a list field asked for a full page (100 items).
ANALYTICS_COST = 100
#: The root fields of this module (``response_cache.reads`` lists them too, to give their answers the
#: analytics TTL; a unit test keeps the two lists equal).
ANALYTICS_FIELDS = frozenset({"partnerAnalytics", "flowAnalytics", "metalAnalytics"})
_PLANT_ONLY = "The plant's flow and metal analytics are for operators; partners see their own `partnerAnalytics`."
#: Where the service names a bad field of its request, and the argument the caller wrote.
_ARGUMENTS = {
    "window": "from",
    "window.from_time": "from",
    "window.to_time": "to",
    "window.grain": "grain",
    "partner_id": "partner",
}
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


# -- enums (values are the protobuf numbers) ------------------------------------------------------


@strawberry.enum(description="The size of a time series' buckets (they start at a boundary of the plant's time zone).")
class Grain(Enum):
    HOUR = pb.GRAIN_HOUR
    DAY = pb.GRAIN_DAY
    WEEK = strawberry.enum_value(pb.GRAIN_WEEK, description="Weeks start on Monday.")


@strawberry.enum(description="What an order-mix share is taken over.")
class MixDimension(Enum):
    STYLE = pb.MIX_DIMENSION_STYLE
    ALLOY = pb.MIX_DIMENSION_ALLOY


# -- shared pieces ------------------------------------------------------------------------------------


def _time(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _optional_time(stamp: Timestamp) -> datetime | None:
    return None if stamp.seconds == 0 and stamp.nanos == 0 else _time(stamp)


def _partner(partner_id: str) -> strawberry.ID | None:
    return strawberry.ID(partner_id) if partner_id else None


def _center(work_center: str) -> strawberry.ID:
    return strawberry.ID(work_center.removeprefix("workCenters/"))


def _percentile(has: bool, value: float) -> float | None:
    return value if has else None


@strawberry.type(description="A stream position the read model had applied.")
class StreamPosition:
    stream: str = strawberry.field(description="ORDERS, PRODUCTION, INVENTORY or FACADE.")
    sequence: Long = strawberry.field(description="The JetStream sequence of the last event applied from it.")


@strawberry.type(name="AnalyticsAsOf", description="When and from which stream positions an answer was computed.")
class AnalyticsAsOf:
    computed_at: datetime = strawberry.field(description="When the analytics service computed it.")
    positions: list[StreamPosition]

    @classmethod
    def from_pb(cls, as_of: pb.AsOf) -> AnalyticsAsOf:
        return cls(
            computed_at=_time(as_of.compute_time),
            positions=[StreamPosition(stream=p.stream, sequence=Long(p.sequence)) for p in as_of.positions],
        )


# -- partners -------------------------------------------------------------------------------------------


@strawberry.type(description="C1, C2: accepted orders a partner submitted in a bucket.")
class VolumeBucket:
    partner_id: strawberry.ID | None
    bucket_start: datetime
    orders: Long
    pieces: Long

    @classmethod
    def from_pb(cls, m: pb.VolumeBucket) -> VolumeBucket:
        return cls(
            partner_id=_partner(m.partner_id),
            bucket_start=_time(m.bucket_start),
            orders=Long(m.orders),
            pieces=Long(m.pieces),
        )


@strawberry.type(description="C3: the share of the pieces ordered in the window with one style or alloy.")
class MixShare:
    dimension: MixDimension | None
    key: str
    pieces: Long
    share: float = strawberry.field(description="pieces / all pieces ordered (0..1).")

    @classmethod
    def from_pb(cls, m: pb.MixShare) -> MixShare:
        return cls(dimension=optional_enum(MixDimension, m.dimension), key=m.key, pieces=Long(m.pieces), share=m.share)


@strawberry.type(
    description="C4: orders submitted in a bucket and those cancelled within 30 days; mature once the bucket "
    "ended at least 30 days ago (before, the rate can still grow)."
)
class CancellationCohort:
    partner_id: strawberry.ID | None
    bucket_start: datetime
    submitted: Long
    cancelled: Long
    cancelled_before_release: Long
    cancelled_after_release: Long
    rate: float = strawberry.field(description="cancelled / submitted (0..1).")
    mature: bool

    @classmethod
    def from_pb(cls, m: pb.CancellationCohort) -> CancellationCohort:
        return cls(
            partner_id=_partner(m.partner_id),
            bucket_start=_time(m.bucket_start),
            submitted=Long(m.submitted),
            cancelled=Long(m.cancelled),
            cancelled_before_release=Long(m.cancelled_before_release),
            cancelled_after_release=Long(m.cancelled_after_release),
            rate=m.rate,
            mature=m.mature,
        )


@strawberry.type(
    description="C5: lead time (shipped - submitted, hours) of the orders shipped in the window; percentiles "
    "only from 5 orders on (`hasPercentiles`)."
)
class LeadTime:
    partner_id: strawberry.ID | None = strawberry.field(description="Null: every partner.")
    n: Long
    has_percentiles: bool
    p50_hours: float | None
    p85_hours: float | None
    p95_hours: float | None

    @classmethod
    def from_pb(cls, m: pb.LeadTime) -> LeadTime:
        has = m.has_percentiles
        return cls(
            partner_id=_partner(m.partner_id),
            n=Long(m.n),
            has_percentiles=has,
            p50_hours=_percentile(has, m.p50_hours),
            p85_hours=_percentile(has, m.p85_hours),
            p95_hours=_percentile(has, m.p95_hours),
        )


@strawberry.type(
    description="C7: on-time delivery of the orders shipped in the window (at or before the end of the "
    "promised day, plant time)."
)
class Delivery:
    partner_id: strawberry.ID | None = strawberry.field(description="Null: every partner.")
    shipped: Long
    on_time: Long
    otd: float = strawberry.field(description="onTime / shipped (0..1).")

    @classmethod
    def from_pb(cls, m: pb.Delivery) -> Delivery:
        return cls(partner_id=_partner(m.partner_id), shipped=Long(m.shipped), on_time=Long(m.on_time), otd=m.otd)


@strawberry.type(
    description="C9 (now): days between a partner's consecutive submissions over the last 180 days; quiet "
    "when the days since the last exceed max(14, 2 x the median)."
)
class Cadence:
    partner_id: strawberry.ID | None
    submissions: Long
    has_median: bool
    median_gap_days: float | None = strawberry.field(description="Null below two submissions.")
    days_since_last: float
    quiet: bool

    @classmethod
    def from_pb(cls, m: pb.Cadence) -> Cadence:
        return cls(
            partner_id=_partner(m.partner_id),
            submissions=Long(m.submissions),
            has_median=m.has_median,
            median_gap_days=m.median_gap_days if m.has_median else None,
            days_since_last=m.days_since_last,
            quiet=m.quiet,
        )


@strawberry.type(
    description="A1-A5: a partner's API usage in a bucket (all facade replicas); latency percentiles from "
    "histogram buckets (the upper bound of the bucket holding the rank)."
)
class ApiUsageBucket:
    partner_id: strawberry.ID | None
    bucket_start: datetime
    requests: Long
    throttled: Long
    rate_limited: Long
    throttle_rate: float = strawberry.field(description="A2: (throttled + rateLimited) / requests.")
    cost_used: Long
    cost_capacity: Long
    cost_utilisation: float = strawberry.field(description="A3: costUsed / costCapacity.")
    errors_4xx: Long
    errors_5xx: Long
    error_rate_4xx: float
    error_rate_5xx: float
    has_percentiles: bool
    p50_ms: float | None
    p95_ms: float | None

    @classmethod
    def from_pb(cls, m: pb.ApiUsageBucket) -> ApiUsageBucket:
        has = m.has_percentiles
        return cls(
            partner_id=_partner(m.partner_id),
            bucket_start=_time(m.bucket_start),
            requests=Long(m.requests),
            throttled=Long(m.throttled),
            rate_limited=Long(m.rate_limited),
            throttle_rate=m.throttle_rate,
            cost_used=Long(m.cost_used),
            cost_capacity=Long(m.cost_capacity),
            cost_utilisation=m.cost_utilisation,
            errors_4xx=Long(m.errors_4xx),
            errors_5xx=Long(m.errors_5xx),
            error_rate_4xx=m.error_rate_4xx,
            error_rate_5xx=m.error_rate_5xx,
            has_percentiles=has,
            p50_ms=_percentile(has, m.p50_ms),
            p95_ms=_percentile(has, m.p95_ms),
        )


@strawberry.type(description="A1, A4, A5 per GraphQL operation (persisted or named; the rest is `other`).")
class ApiOperationUsage:
    partner_id: strawberry.ID | None
    operation: str
    requests: Long
    errors: Long
    has_percentiles: bool
    p50_ms: float | None
    p95_ms: float | None

    @classmethod
    def from_pb(cls, m: pb.ApiOperationUsage) -> ApiOperationUsage:
        has = m.has_percentiles
        return cls(
            partner_id=_partner(m.partner_id),
            operation=m.operation,
            requests=Long(m.requests),
            errors=Long(m.errors),
            has_percentiles=has,
            p50_ms=_percentile(has, m.p50_ms),
            p95_ms=_percentile(has, m.p95_ms),
        )


@strawberry.type(description="A4: answers with one error code in the window.")
class ApiErrorCount:
    partner_id: strawberry.ID | None
    code: str
    count: Long

    @classmethod
    def from_pb(cls, m: pb.ApiErrorCount) -> ApiErrorCount:
        return cls(partner_id=_partner(m.partner_id), code=m.code, count=Long(m.count))


@strawberry.type(description="A6: order submissions in the window, idempotent replays and reused keys.")
class Idempotency:
    partner_id: strawberry.ID | None
    submissions: Long
    replays: Long
    key_reused: Long
    replay_rate: float = strawberry.field(description="replays / submissions.")

    @classmethod
    def from_pb(cls, m: pb.Idempotency) -> Idempotency:
        return cls(
            partner_id=_partner(m.partner_id),
            submissions=Long(m.submissions),
            replays=Long(m.replays),
            key_reused=Long(m.key_reused),
            replay_rate=m.replay_rate,
        )


@strawberry.type(description="Partners' behaviour and API usage over a window (one partner's for a partner).")
class PartnerAnalytics:
    as_of: AnalyticsAsOf
    volume: list[VolumeBucket]
    mix: list[MixShare]
    cancellation: list[CancellationCohort]
    lead_time: list[LeadTime]
    delivery: list[Delivery]
    cadence: list[Cadence]
    api_usage: list[ApiUsageBucket]
    api_operations: list[ApiOperationUsage]
    api_errors: list[ApiErrorCount]
    idempotency: list[Idempotency]

    @classmethod
    def from_pb(cls, m: pb.GetPartnerAnalyticsResponse) -> PartnerAnalytics:
        return cls(
            as_of=AnalyticsAsOf.from_pb(m.as_of),
            volume=[VolumeBucket.from_pb(x) for x in m.volume],
            mix=[MixShare.from_pb(x) for x in m.mix],
            cancellation=[CancellationCohort.from_pb(x) for x in m.cancellation],
            lead_time=[LeadTime.from_pb(x) for x in m.lead_time],
            delivery=[Delivery.from_pb(x) for x in m.delivery],
            cadence=[Cadence.from_pb(x) for x in m.cadence],
            api_usage=[ApiUsageBucket.from_pb(x) for x in m.api_usage],
            api_operations=[ApiOperationUsage.from_pb(x) for x in m.api_operations],
            api_errors=[ApiErrorCount.from_pb(x) for x in m.api_errors],
            idempotency=[Idempotency.from_pb(x) for x in m.idempotency],
        )


# -- flow ----------------------------------------------------------------------------------------------------


@strawberry.type(
    description="P5, P6 per operation code over the operations finished in the window (minutes); percentiles "
    "only from 5 operations on."
)
class ValueStreamStep:
    operation_code: str
    n: Long
    has_percentiles: bool
    queue_p50_min: float | None
    queue_p85_min: float | None
    touch_p50_min: float | None
    touch_p85_min: float | None

    @classmethod
    def from_pb(cls, m: pb.ValueStreamStep) -> ValueStreamStep:
        has = m.has_percentiles
        return cls(
            operation_code=m.operation_code,
            n=Long(m.n),
            has_percentiles=has,
            queue_p50_min=_percentile(has, m.queue_p50_min),
            queue_p85_min=_percentile(has, m.queue_p85_min),
            touch_p50_min=_percentile(has, m.touch_p50_min),
            touch_p85_min=_percentile(has, m.touch_p85_min),
        )


@strawberry.type(description="P1, P2: a work center now.")
class WorkCenterNow:
    work_center_id: strawberry.ID = strawberry.field(description="The work center's code.")
    wip_operations: Long = strawberry.field(description="Operations queued, in progress, paused or in loss review.")
    wip_gross_mg: Long = strawberry.field(description="Weigh-in of the operations in progress or paused.")
    wip_fine_mg: Long
    queue: Long = strawberry.field(description="Operations queued (ready).")
    oldest_queue_min: float
    median_queue_min: float

    @classmethod
    def from_pb(cls, m: pb.WorkCenterNow) -> WorkCenterNow:
        return cls(
            work_center_id=_center(m.work_center),
            wip_operations=Long(m.wip_operations),
            wip_gross_mg=Long(m.wip_gross_mg),
            wip_fine_mg=Long(m.wip_fine_mg),
            queue=Long(m.queue),
            oldest_queue_min=m.oldest_queue_min,
            median_queue_min=m.median_queue_min,
        )


@strawberry.type(description="P3: open work orders by hours since release.")
class WipAgingBucket:
    up_to_hours: Long | None = strawberry.field(description="The bucket's upper bound; null above the last bound.")
    work_orders: Long

    @classmethod
    def from_pb(cls, m: pb.WipAgingBucket) -> WipAgingBucket:
        return cls(up_to_hours=Long(m.up_to_hours) if m.up_to_hours else None, work_orders=Long(m.work_orders))


@strawberry.type(description="P4: operations finished at a work center in a bucket.")
class ThroughputBucket:
    work_center_id: strawberry.ID
    bucket_start: datetime
    operations: Long

    @classmethod
    def from_pb(cls, m: pb.ThroughputBucket) -> ThroughputBucket:
        return cls(
            work_center_id=_center(m.work_center), bucket_start=_time(m.bucket_start), operations=Long(m.operations)
        )


@strawberry.type(description="P4: orders shipped in a bucket.")
class ShippedBucket:
    bucket_start: datetime
    orders: Long

    @classmethod
    def from_pb(cls, m: pb.ShippedBucket) -> ShippedBucket:
        return cls(bucket_start=_time(m.bucket_start), orders=Long(m.orders))


@strawberry.type(
    description="P10, P11 per work center over the window: busy minutes (an operation in progress) over "
    "the calendar's shift minutes, and the rank (utilisation, then mean queue time)."
)
class Utilisation:
    work_center_id: strawberry.ID
    busy_min: float
    available_min: float = strawberry.field(description="Shift minutes in the window (0 without a calendar).")
    utilisation: float = strawberry.field(description="busyMin / availableMin (0..1).")
    mean_queue_min: float
    rank: int = strawberry.field(description="1 = first: utilisation descending, then mean queue time descending.")
    constraint_candidate: bool = strawberry.field(
        description="Utilisation at least 0.85 and the largest mean queue time."
    )

    @classmethod
    def from_pb(cls, m: pb.Utilisation) -> Utilisation:
        return cls(
            work_center_id=_center(m.work_center),
            busy_min=m.busy_min,
            available_min=m.available_min,
            utilisation=m.utilisation,
            mean_queue_min=m.mean_queue_min,
            rank=m.rank,
            constraint_candidate=m.constraint_candidate,
        )


@strawberry.type(
    description="P9: Little's law over the window: mean WIP against throughput x mean flow time; steady when "
    "WIP at the start and the end differ by less than 10 %."
)
class LittlesLaw:
    mean_wip: float
    throughput_per_day: float
    mean_flow_days: float
    deviation: float = strawberry.field(description="|meanWip - throughputPerDay x meanFlowDays| / meanWip.")
    steady: bool
    completed: Long

    @classmethod
    def from_pb(cls, m: pb.LittlesLaw) -> LittlesLaw:
        return cls(
            mean_wip=m.mean_wip,
            throughput_per_day=m.throughput_per_day,
            mean_flow_days=m.mean_flow_days,
            deviation=m.deviation,
            steady=m.steady,
            completed=Long(m.completed),
        )


@strawberry.type(description="The flow of work through the plant over a window, and its work centers now.")
class FlowAnalytics:
    as_of: AnalyticsAsOf
    value_stream: list[ValueStreamStep]
    work_centers: list[WorkCenterNow]
    wip_aging: list[WipAgingBucket]
    throughput: list[ThroughputBucket]
    shipped: list[ShippedBucket]
    utilisation: list[Utilisation]
    littles_law: LittlesLaw

    @classmethod
    def from_pb(cls, m: pb.GetFlowAnalyticsResponse) -> FlowAnalytics:
        return cls(
            as_of=AnalyticsAsOf.from_pb(m.as_of),
            value_stream=[ValueStreamStep.from_pb(x) for x in m.value_stream],
            work_centers=[WorkCenterNow.from_pb(x) for x in m.work_centers],
            wip_aging=[WipAgingBucket.from_pb(x) for x in m.wip_aging],
            throughput=[ThroughputBucket.from_pb(x) for x in m.throughput],
            shipped=[ShippedBucket.from_pb(x) for x in m.shipped],
            utilisation=[Utilisation.from_pb(x) for x in m.utilisation],
            littles_law=LittlesLaw.from_pb(m.littles_law),
        )


# -- metal ----------------------------------------------------------------------------------------------------


@strawberry.type(description="J1, J2: operations finished in the window, per operation code and alloy.")
class LossByOperation:
    operation_code: str
    alloy_code: str
    operations: Long
    gross_in_mg: Long
    loss_mg: Long
    loss_fine_mg: Long
    loss_pct: float = strawberry.field(description="100 x lossMg / grossInMg (percent).")
    allowed_mg: Long = strawberry.field(description="Sum of tolerance x weigh-in per operation.")
    excess_mg: Long = strawberry.field(description="Sum over operations of max(0, loss - allowed).")
    exceptions: Long = strawberry.field(description="Operations whose loss exceeded their tolerance.")

    @classmethod
    def from_pb(cls, m: pb.LossByOperation) -> LossByOperation:
        return cls(
            operation_code=m.operation_code,
            alloy_code=m.alloy_code,
            operations=Long(m.operations),
            gross_in_mg=Long(m.gross_in_mg),
            loss_mg=Long(m.loss_mg),
            loss_fine_mg=Long(m.loss_fine_mg),
            loss_pct=m.loss_pct,
            allowed_mg=Long(m.allowed_mg),
            excess_mg=Long(m.excess_mg),
            exceptions=Long(m.exceptions),
        )


@strawberry.type(description="J3: per operator (who finished the operations) over the window.")
class LossByOperator:
    operator_code: str
    operations: Long
    gross_in_mg: Long
    loss_mg: Long
    loss_pct: float = strawberry.field(description="100 x lossMg / grossInMg (percent).")
    allowed_mg: Long
    excess_mg: Long

    @classmethod
    def from_pb(cls, m: pb.LossByOperator) -> LossByOperator:
        return cls(
            operator_code=m.operator_code,
            operations=Long(m.operations),
            gross_in_mg=Long(m.gross_in_mg),
            loss_mg=Long(m.loss_mg),
            loss_pct=m.loss_pct,
            allowed_mg=Long(m.allowed_mg),
            excess_mg=Long(m.excess_mg),
        )


@strawberry.type(description="J3 trend: loss of every operator in a bucket.")
class LossTrendBucket:
    bucket_start: datetime
    gross_in_mg: Long
    loss_mg: Long
    loss_pct: float = strawberry.field(description="100 x lossMg / grossInMg (percent).")
    allowed_mg: Long

    @classmethod
    def from_pb(cls, m: pb.LossTrendBucket) -> LossTrendBucket:
        return cls(
            bucket_start=_time(m.bucket_start),
            gross_in_mg=Long(m.gross_in_mg),
            loss_mg=Long(m.loss_mg),
            loss_pct=m.loss_pct,
            allowed_mg=Long(m.allowed_mg),
        )


@strawberry.type(description="J4 (now): custody pending per holder and material: issued - returned - lost.")
class CustodyPending:
    holder: str
    material_code: str
    issued_mg: Long
    returned_mg: Long
    loss_mg: Long
    pending_mg: Long
    pending_fine_mg: Long
    oldest_open_issue_time: datetime | None = strawberry.field(
        description="The oldest issue not yet balanced; null when nothing is pending."
    )

    @classmethod
    def from_pb(cls, m: pb.CustodyPending) -> CustodyPending:
        return cls(
            holder=m.holder,
            material_code=m.material_code,
            issued_mg=Long(m.issued_mg),
            returned_mg=Long(m.returned_mg),
            loss_mg=Long(m.loss_mg),
            pending_mg=Long(m.pending_mg),
            pending_fine_mg=Long(m.pending_fine_mg),
            oldest_open_issue_time=_optional_time(m.oldest_open_issue_time),
        )


@strawberry.type(description="Metal loss against tolerance over a window, and the metal each holder has pending.")
class MetalAnalytics:
    as_of: AnalyticsAsOf
    by_operation: list[LossByOperation]
    by_operator: list[LossByOperator]
    trend: list[LossTrendBucket]
    custody: list[CustodyPending]

    @classmethod
    def from_pb(cls, m: pb.GetMetalAnalyticsResponse) -> MetalAnalytics:
        return cls(
            as_of=AnalyticsAsOf.from_pb(m.as_of),
            by_operation=[LossByOperation.from_pb(x) for x in m.by_operation],
            by_operator=[LossByOperator.from_pb(x) for x in m.by_operator],
            trend=[LossTrendBucket.from_pb(x) for x in m.trend],
            custody=[CustodyPending.from_pb(x) for x in m.custody],
        )


# -- the requests -----------------------------------------------------------------------------------------


def _invalid(field: str, description: str) -> FacadeError:
    return FacadeError(
        ErrorCode.INVALID_ARGUMENT,
        f"`{field}` {description}.",
        extensions={"fieldViolations": [{"field": field, "description": description}]},
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def window_of(from_: datetime, to: datetime, grain: Grain) -> pb.Window:
    """The service's window (``INVALID_ARGUMENT`` naming ``to`` when it does not end after ``from``)."""
    start, end = _aware(from_), _aware(to)
    if end <= start:
        raise _invalid("to", "must be after `from`")
    return make_window(start, end, grain.value)


def client_of(context: RequestContext) -> AnalyticsClient:
    """The analytics client; ``ANALYTICS_NOT_ENABLED`` when the installation has no analytics service."""
    if not context.settings.analytics_addr:
        raise FacadeError(NOT_ENABLED, NOT_ENABLED_MESSAGE)
    return context.backend.analytics


async def ask(call: Callable[[], Awaitable[R]]) -> R:
    """One call of the service; its field violations are named after the GraphQL arguments."""
    try:
        return await call()
    except InvalidArgumentError as err:
        violations = [{"field": _ARGUMENTS.get(v.field, v.field), "description": v.description} for v in err.violations]
        extensions: dict[str, object] = {"reason": err.reason}
        if violations:
            extensions["fieldViolations"] = violations
        raise FacadeError(ErrorCode.INVALID_ARGUMENT, err.message, extensions=extensions) from None


def _forbidden(message: str) -> FacadeError:
    return FacadeError(ErrorCode.FORBIDDEN, message)


def partner_scope(context: RequestContext, partner: str | None) -> str:
    """The partner the answer is confined to: the caller's own for a partner (another one is
    ``FORBIDDEN``), the one asked for (or every partner: "") for an operator."""
    own = context.partner
    asked = check_id(str(partner), "partner") if partner is not None else None
    if own is None:
        return asked or ""
    if asked is not None and asked != own:
        raise _forbidden("A partner sees its own analytics only: leave `partner` out or give your own id.")
    return own


_FROM = Annotated[datetime, strawberry.argument(name="from", description="Start of the window (included).")]
_TO = Annotated[datetime, strawberry.argument(description="End of the window (excluded).")]
_GRAIN = Annotated[Grain, strawberry.argument(description="Bucket size of the time series.")]
_PARTNER = Annotated[
    strawberry.ID | None, strawberry.argument(description="One partner's id; left out: every partner (operators).")
]


def _weighted(description: str) -> Callable[[F], F]:
    """A root field that costs :data:`ANALYTICS_COST` itself (``strawberry.field`` keeping the resolver's type)."""
    return cast(Callable[[F], F], strawberry.field(description=description, metadata={COST_WEIGHT: ANALYTICS_COST}))


async def partner_analytics(
    context: RequestContext, from_: datetime, to: datetime, grain: Grain, partner: str | None
) -> PartnerAnalytics:
    """``partnerAnalytics``: one partner's (a partner's own) or every partner's."""
    window = window_of(from_, to, grain)
    scope = partner_scope(context, partner)
    client = client_of(context)
    response = await ask(lambda: client.get_partner_analytics(window=window, partner_id=scope))
    return PartnerAnalytics.from_pb(response)


async def flow_analytics(context: RequestContext, from_: datetime, to: datetime, grain: Grain) -> FlowAnalytics:
    """``flowAnalytics`` (operators only)."""
    if context.partner is not None:
        raise _forbidden(_PLANT_ONLY)
    window = window_of(from_, to, grain)
    client = client_of(context)
    return FlowAnalytics.from_pb(await ask(lambda: client.get_flow_analytics(window=window)))


async def metal_analytics(context: RequestContext, from_: datetime, to: datetime, grain: Grain) -> MetalAnalytics:
    """``metalAnalytics`` (operators only)."""
    if context.partner is not None:
        raise _forbidden(_PLANT_ONLY)
    window = window_of(from_, to, grain)
    client = client_of(context)
    return MetalAnalytics.from_pb(await ask(lambda: client.get_metal_analytics(window=window)))


_PARTNERS_DESCRIPTION = (
    "Partners' behaviour and API usage over `[from, to)`: volume, mix, cancellation cohorts, lead time, "
    "delivery, cadence, API usage per bucket, operation and error code, idempotent replays."
)
_FLOW_DESCRIPTION = (
    "The flow over `[from, to)`: queue and touch time per operation, work centers now, WIP aging, "
    "throughput, utilisation and bottleneck rank, Little's law (operators only)."
)
_METAL_DESCRIPTION = (
    "Metal over `[from, to)`: loss per operation and alloy against tolerance, per operator, its trend; custody "
    "pending per holder now (operators only)."
)


@strawberry.type
class OperatorAnalyticsQuery:
    """The analytics root fields of the operators' schema."""

    @_weighted(_PARTNERS_DESCRIPTION + " `partner` picks one partner.")
    async def partner_analytics(
        self, info: Info, from_: _FROM, to: _TO, grain: _GRAIN = Grain.DAY, partner: _PARTNER = None
    ) -> PartnerAnalytics | None:
        return await partner_analytics(info.context, from_, to, grain, partner)

    @_weighted(_FLOW_DESCRIPTION)
    async def flow_analytics(
        self, info: Info, from_: _FROM, to: _TO, grain: _GRAIN = Grain.DAY
    ) -> FlowAnalytics | None:
        return await flow_analytics(info.context, from_, to, grain)

    @_weighted(_METAL_DESCRIPTION)
    async def metal_analytics(
        self, info: Info, from_: _FROM, to: _TO, grain: _GRAIN = Grain.DAY
    ) -> MetalAnalytics | None:
        return await metal_analytics(info.context, from_, to, grain)


@strawberry.type
class PartnerAnalyticsQuery(OperatorAnalyticsQuery):
    """The same fields in the partners' schema: ``partnerAnalytics`` confined to the caller, the plant's
    ``flowAnalytics`` and ``metalAnalytics`` answering ``FORBIDDEN``."""

    @_weighted(_PARTNERS_DESCRIPTION + " Yours only: `partner` may be left out or be your own id.")
    async def partner_analytics(
        self, info: Info, from_: _FROM, to: _TO, grain: _GRAIN = Grain.DAY, partner: _PARTNER = None
    ) -> PartnerAnalytics | None:
        return await partner_analytics(info.context, from_, to, grain, partner)
