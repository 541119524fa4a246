"""The answers of the analytics, one dataclass per figure (the gRPC messages of the same names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ApiErrorCount",
    "ApiOperationUsage",
    "ApiUsageBucket",
    "AsOf",
    "Cadence",
    "CancellationCohort",
    "CustodyPending",
    "Delivery",
    "FlowAnalytics",
    "Idempotency",
    "LeadTime",
    "LittlesLaw",
    "LossByOperation",
    "LossByOperator",
    "LossTrendBucket",
    "MetalAnalytics",
    "MixDimension",
    "MixShare",
    "PartnerAnalytics",
    "ProjectionStatus",
    "ShippedBucket",
    "ThroughputBucket",
    "Utilisation",
    "ValueStreamStep",
    "VolumeBucket",
    "WipAgingBucket",
    "WorkCenterNow",
]


@dataclass(frozen=True)
class AsOf:
    compute_time: datetime
    #: (stream, last applied sequence), every consumed stream.
    positions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class VolumeBucket:
    partner_id: str
    bucket_start: datetime
    orders: int
    pieces: int


class MixDimension(StrEnum):
    STYLE = "STYLE"
    ALLOY = "ALLOY"


@dataclass(frozen=True)
class MixShare:
    dimension: MixDimension
    key: str
    pieces: int
    share: float


@dataclass(frozen=True)
class CancellationCohort:
    partner_id: str
    bucket_start: datetime
    submitted: int
    cancelled: int
    cancelled_before_release: int
    cancelled_after_release: int
    rate: float
    mature: bool


@dataclass(frozen=True)
class LeadTime:
    partner_id: str
    n: int
    #: (p50, p85, p95) hours; None below five orders.
    percentiles: tuple[float, float, float] | None


@dataclass(frozen=True)
class Delivery:
    partner_id: str
    shipped: int
    on_time: int
    otd: float


@dataclass(frozen=True)
class Cadence:
    partner_id: str
    submissions: int
    median_gap_days: float | None
    days_since_last: float
    quiet: bool


@dataclass(frozen=True)
class ApiUsageBucket:
    partner_id: str
    bucket_start: datetime
    requests: int
    throttled: int
    rate_limited: int
    throttle_rate: float
    cost_used: int
    cost_capacity: int
    cost_utilisation: float
    errors_4xx: int
    errors_5xx: int
    error_rate_4xx: float
    error_rate_5xx: float
    #: (p50, p95) ms from the summed histogram; None below five requests.
    latency: tuple[float, float] | None


@dataclass(frozen=True)
class ApiOperationUsage:
    partner_id: str
    operation: str
    requests: int
    errors: int
    latency: tuple[float, float] | None


@dataclass(frozen=True)
class ApiErrorCount:
    partner_id: str
    code: str
    count: int


@dataclass(frozen=True)
class Idempotency:
    partner_id: str
    submissions: int
    replays: int
    key_reused: int
    replay_rate: float


@dataclass(frozen=True)
class PartnerAnalytics:
    as_of: AsOf
    volume: list[VolumeBucket] = field(default_factory=list)
    mix: list[MixShare] = field(default_factory=list)
    cancellation: list[CancellationCohort] = field(default_factory=list)
    lead_time: list[LeadTime] = field(default_factory=list)
    delivery: list[Delivery] = field(default_factory=list)
    cadence: list[Cadence] = field(default_factory=list)
    api_usage: list[ApiUsageBucket] = field(default_factory=list)
    api_operations: list[ApiOperationUsage] = field(default_factory=list)
    api_errors: list[ApiErrorCount] = field(default_factory=list)
    idempotency: list[Idempotency] = field(default_factory=list)


@dataclass(frozen=True)
class ValueStreamStep:
    operation_code: str
    n: int
    #: (queue p50, queue p85, touch p50, touch p85) minutes; None below five operations.
    percentiles: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class WorkCenterNow:
    work_center: str
    wip_operations: int
    wip_gross_mg: int
    wip_fine_mg: int
    queue: int
    oldest_queue_min: float
    median_queue_min: float


@dataclass(frozen=True)
class WipAgingBucket:
    #: Upper bound in hours; 0: above the last bound.
    up_to_hours: int
    work_orders: int


@dataclass(frozen=True)
class ThroughputBucket:
    work_center: str
    bucket_start: datetime
    operations: int


@dataclass(frozen=True)
class ShippedBucket:
    bucket_start: datetime
    orders: int


@dataclass(frozen=True)
class Utilisation:
    work_center: str
    busy_min: float
    available_min: float
    utilisation: float
    mean_queue_min: float
    rank: int
    constraint_candidate: bool


@dataclass(frozen=True)
class LittlesLaw:
    mean_wip: float
    throughput_per_day: float
    mean_flow_days: float
    deviation: float
    steady: bool
    completed: int


@dataclass(frozen=True)
class FlowAnalytics:
    as_of: AsOf
    value_stream: list[ValueStreamStep]
    work_centers: list[WorkCenterNow]
    wip_aging: list[WipAgingBucket]
    throughput: list[ThroughputBucket]
    shipped: list[ShippedBucket]
    utilisation: list[Utilisation]
    littles_law: LittlesLaw


@dataclass(frozen=True)
class LossByOperation:
    operation_code: str
    alloy_code: str
    operations: int
    gross_in_mg: int
    loss_mg: int
    loss_fine_mg: int
    loss_pct: float
    allowed_mg: int
    excess_mg: int
    exceptions: int


@dataclass(frozen=True)
class LossByOperator:
    operator_code: str
    operations: int
    gross_in_mg: int
    loss_mg: int
    loss_pct: float
    allowed_mg: int
    excess_mg: int


@dataclass(frozen=True)
class LossTrendBucket:
    bucket_start: datetime
    gross_in_mg: int
    loss_mg: int
    loss_pct: float
    allowed_mg: int


@dataclass(frozen=True)
class CustodyPending:
    holder: str
    material_code: str
    issued_mg: int
    returned_mg: int
    loss_mg: int
    pending_mg: int
    pending_fine_mg: int
    oldest_open_issue_time: datetime | None


@dataclass(frozen=True)
class MetalAnalytics:
    as_of: AsOf
    by_operation: list[LossByOperation]
    by_operator: list[LossByOperator]
    trend: list[LossTrendBucket]
    custody: list[CustodyPending]


@dataclass(frozen=True)
class ProjectionStatus:
    as_of: AsOf
    orders: int
    operations: int
    custody_entries: int
    usage_minutes: int
    last_event_time: datetime | None
    imported_orders: int
    imported_operations: int
