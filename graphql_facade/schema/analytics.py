"""Analytics of the plant and its partners, answered by the analytics service's read model
(``mes.analytics.v1``): ``partnerAnalytics`` (volume, mix, cancellation cohorts, lead time, delivery,
cadence, API usage: C1-C5, C7, C9, A1-A6), ``flowAnalytics`` (value stream, work centers now, WIP aging,
throughput, utilisation and bottleneck rank, Little's law: P1-P6, P9-P11) and ``metalAnalytics`` (loss
per operation and alloy against tolerance, per operator, its trend, custody pending: J1-J4). The types
mirror the service's messages field by field (camelCase); every answer carries ``asOf { computedAt
positions { stream sequence } }``: when the service computed it and the stream positions it had applied.
Each type converts its message by :class:`~graphql_facade.schema.mirror.Mirror` (the few fields that are
not a plain copy are named in its class statement).

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

from clients import InvalidArgumentError
from clients.analytics import AnalyticsClient, make_window
from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import COST_WEIGHT
from graphql_facade.schema.common import Long
from graphql_facade.schema.info import Info, check_id
from graphql_facade.schema.mirror import Mirror
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


def _center(m: pb.WorkCenterNow | pb.ThroughputBucket | pb.Utilisation) -> strawberry.ID:
    """A work center's id: its code (the service names it ``workCenters/<code>``)."""
    return strawberry.ID(m.work_center.removeprefix("workCenters/"))


def _upper_bound(m: pb.WipAgingBucket) -> Long | None:
    """A WIP aging bucket's upper bound; 0 (the last bucket's) is none."""
    return Long(m.up_to_hours) if m.up_to_hours else None


@strawberry.type(description="A stream position the read model had applied.")
class StreamPosition(Mirror):
    stream: str = strawberry.field(description="ORDERS, PRODUCTION, INVENTORY or FACADE.")
    sequence: Long = strawberry.field(description="The JetStream sequence of the last event applied from it.")


@strawberry.type(name="AnalyticsAsOf", description="When and from which stream positions an answer was computed.")
class AnalyticsAsOf(Mirror, computed_at="compute_time"):
    computed_at: datetime = strawberry.field(description="When the analytics service computed it.")
    positions: list[StreamPosition]


# -- partners -------------------------------------------------------------------------------------------


@strawberry.type(description="C1, C2: accepted orders a partner submitted in a bucket.")
class VolumeBucket(Mirror):
    partner_id: strawberry.ID | None
    bucket_start: datetime
    orders: Long
    pieces: Long


@strawberry.type(description="C3: the share of the pieces ordered in the window with one style or alloy.")
class MixShare(Mirror):
    dimension: MixDimension | None
    key: str
    pieces: Long
    share: float = strawberry.field(description="pieces / all pieces ordered (0..1).")


@strawberry.type(
    description="C4: orders submitted in a bucket and those cancelled within 30 days; mature once the bucket "
    "ended at least 30 days ago (before, the rate can still grow)."
)
class CancellationCohort(Mirror):
    partner_id: strawberry.ID | None
    bucket_start: datetime
    submitted: Long
    cancelled: Long
    cancelled_before_release: Long
    cancelled_after_release: Long
    rate: float = strawberry.field(description="cancelled / submitted (0..1).")
    mature: bool


@strawberry.type(
    description="C5: lead time (shipped - submitted, hours) of the orders shipped in the window; percentiles "
    "only from 5 orders on (`hasPercentiles`)."
)
class LeadTime(Mirror, present="has_percentiles"):
    partner_id: strawberry.ID | None = strawberry.field(description="Null: every partner.")
    n: Long
    has_percentiles: bool
    p50_hours: float | None
    p85_hours: float | None
    p95_hours: float | None


@strawberry.type(
    description="C7: on-time delivery of the orders shipped in the window (at or before the end of the "
    "promised day, plant time)."
)
class Delivery(Mirror):
    partner_id: strawberry.ID | None = strawberry.field(description="Null: every partner.")
    shipped: Long
    on_time: Long
    otd: float = strawberry.field(description="onTime / shipped (0..1).")


@strawberry.type(
    description="C9 (now): days between a partner's consecutive submissions over the last 180 days; quiet "
    "when the days since the last exceed max(14, 2 x the median)."
)
class Cadence(Mirror, present="has_median"):
    partner_id: strawberry.ID | None
    submissions: Long
    has_median: bool
    median_gap_days: float | None = strawberry.field(description="Null below two submissions.")
    days_since_last: float
    quiet: bool


@strawberry.type(
    description="A1-A5: a partner's API usage in a bucket (all facade replicas); latency percentiles from "
    "histogram buckets (the upper bound of the bucket holding the rank)."
)
class ApiUsageBucket(Mirror, present="has_percentiles"):
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


@strawberry.type(description="A1, A4, A5 per GraphQL operation (persisted or named; the rest is `other`).")
class ApiOperationUsage(Mirror, present="has_percentiles"):
    partner_id: strawberry.ID | None
    operation: str
    requests: Long
    errors: Long
    has_percentiles: bool
    p50_ms: float | None
    p95_ms: float | None


@strawberry.type(description="A4: answers with one error code in the window.")
class ApiErrorCount(Mirror):
    partner_id: strawberry.ID | None
    code: str
    count: Long


@strawberry.type(description="A6: order submissions in the window, idempotent replays and reused keys.")
class Idempotency(Mirror):
    partner_id: strawberry.ID | None
    submissions: Long
    replays: Long
    key_reused: Long
    replay_rate: float = strawberry.field(description="replays / submissions.")


@strawberry.type(description="Partners' behaviour and API usage over a window (one partner's for a partner).")
class PartnerAnalytics(Mirror):
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


# -- flow ----------------------------------------------------------------------------------------------------


@strawberry.type(
    description="P5, P6 per operation code over the operations finished in the window (minutes); percentiles "
    "only from 5 operations on."
)
class ValueStreamStep(Mirror, present="has_percentiles"):
    operation_code: str
    n: Long
    has_percentiles: bool
    queue_p50_min: float | None
    queue_p85_min: float | None
    touch_p50_min: float | None
    touch_p85_min: float | None


@strawberry.type(description="P1, P2: a work center now.")
class WorkCenterNow(Mirror, work_center_id=_center):
    work_center_id: strawberry.ID = strawberry.field(description="The work center's code.")
    wip_operations: Long = strawberry.field(description="Operations queued, in progress, paused or in loss review.")
    wip_gross_mg: Long = strawberry.field(description="Weigh-in of the operations in progress or paused.")
    wip_fine_mg: Long
    queue: Long = strawberry.field(description="Operations queued (ready).")
    oldest_queue_min: float
    median_queue_min: float


@strawberry.type(description="P3: open work orders by hours since release.")
class WipAgingBucket(Mirror, up_to_hours=_upper_bound):
    up_to_hours: Long | None = strawberry.field(description="The bucket's upper bound; null above the last bound.")
    work_orders: Long


@strawberry.type(description="P4: operations finished at a work center in a bucket.")
class ThroughputBucket(Mirror, work_center_id=_center):
    work_center_id: strawberry.ID
    bucket_start: datetime
    operations: Long


@strawberry.type(description="P4: orders shipped in a bucket.")
class ShippedBucket(Mirror):
    bucket_start: datetime
    orders: Long


@strawberry.type(
    description="P10, P11 per work center over the window: busy minutes (an operation in progress) over "
    "the calendar's shift minutes, and the rank (utilisation, then mean queue time)."
)
class Utilisation(Mirror, work_center_id=_center):
    work_center_id: strawberry.ID
    busy_min: float
    available_min: float = strawberry.field(description="Shift minutes in the window (0 without a calendar).")
    utilisation: float = strawberry.field(description="busyMin / availableMin (0..1).")
    mean_queue_min: float
    rank: int = strawberry.field(description="1 = first: utilisation descending, then mean queue time descending.")
    constraint_candidate: bool = strawberry.field(
        description="Utilisation at least 0.85 and the largest mean queue time."
    )


@strawberry.type(
    description="P9: Little's law over the window: mean WIP against throughput x mean flow time; steady when "
    "WIP at the start and the end differ by less than 10 %."
)
class LittlesLaw(Mirror):
    mean_wip: float
    throughput_per_day: float
    mean_flow_days: float
    deviation: float = strawberry.field(description="|meanWip - throughputPerDay x meanFlowDays| / meanWip.")
    steady: bool
    completed: Long


@strawberry.type(description="The flow of work through the plant over a window, and its work centers now.")
class FlowAnalytics(Mirror):
    as_of: AnalyticsAsOf
    value_stream: list[ValueStreamStep]
    work_centers: list[WorkCenterNow]
    wip_aging: list[WipAgingBucket]
    throughput: list[ThroughputBucket]
    shipped: list[ShippedBucket]
    utilisation: list[Utilisation]
    littles_law: LittlesLaw


# -- metal ----------------------------------------------------------------------------------------------------


@strawberry.type(description="J1, J2: operations finished in the window, per operation code and alloy.")
class LossByOperation(Mirror):
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


@strawberry.type(description="J3: per operator (who finished the operations) over the window.")
class LossByOperator(Mirror):
    operator_code: str
    operations: Long
    gross_in_mg: Long
    loss_mg: Long
    loss_pct: float = strawberry.field(description="100 x lossMg / grossInMg (percent).")
    allowed_mg: Long
    excess_mg: Long


@strawberry.type(description="J3 trend: loss of every operator in a bucket.")
class LossTrendBucket(Mirror):
    bucket_start: datetime
    gross_in_mg: Long
    loss_mg: Long
    loss_pct: float = strawberry.field(description="100 x lossMg / grossInMg (percent).")
    allowed_mg: Long


@strawberry.type(description="J4 (now): custody pending per holder and material: issued - returned - lost.")
class CustodyPending(Mirror):
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


@strawberry.type(description="Metal loss against tolerance over a window, and the metal each holder has pending.")
class MetalAnalytics(Mirror):
    as_of: AnalyticsAsOf
    by_operation: list[LossByOperation]
    by_operator: list[LossByOperator]
    trend: list[LossTrendBucket]
    custody: list[CustodyPending]


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
