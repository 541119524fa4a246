"""Answers -> protobuf: the messages of the gRPC responses."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2 as pb
from services.analytics.domain import views as v

__all__ = [
    "as_of",
    "encode_event",
    "flow_analytics",
    "metal_analytics",
    "partner_analytics",
    "projection_status",
]

_DIMENSIONS = {v.MixDimension.STYLE: pb.MIX_DIMENSION_STYLE, v.MixDimension.ALLOY: pb.MIX_DIMENSION_ALLOY}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def encode_event(event: object) -> object:
    """The service publishes no events (the unit-of-work factory asks for an encoder)."""
    raise TypeError(f"the analytics service publishes no events, got {type(event).__name__}")


def as_of(value: v.AsOf) -> pb.AsOf:
    return pb.AsOf(
        compute_time=_ts(value.compute_time),
        positions=[pb.StreamPosition(stream=stream, sequence=seq) for stream, seq in value.positions],
    )


def _lead_time(value: v.LeadTime) -> pb.LeadTime:
    m = pb.LeadTime(partner_id=value.partner_id, n=value.n)
    if value.percentiles is not None:
        m.has_percentiles = True
        m.p50_hours, m.p85_hours, m.p95_hours = value.percentiles
    return m


def _cadence(value: v.Cadence) -> pb.Cadence:
    m = pb.Cadence(
        partner_id=value.partner_id,
        submissions=value.submissions,
        days_since_last=value.days_since_last,
        quiet=value.quiet,
    )
    if value.median_gap_days is not None:
        m.has_median = True
        m.median_gap_days = value.median_gap_days
    return m


def _usage(value: v.ApiUsageBucket) -> pb.ApiUsageBucket:
    m = pb.ApiUsageBucket(
        partner_id=value.partner_id,
        bucket_start=_ts(value.bucket_start),
        requests=value.requests,
        throttled=value.throttled,
        rate_limited=value.rate_limited,
        throttle_rate=value.throttle_rate,
        cost_used=value.cost_used,
        cost_capacity=value.cost_capacity,
        cost_utilisation=value.cost_utilisation,
        errors_4xx=value.errors_4xx,
        errors_5xx=value.errors_5xx,
        error_rate_4xx=value.error_rate_4xx,
        error_rate_5xx=value.error_rate_5xx,
    )
    if value.latency is not None:
        m.has_percentiles = True
        m.p50_ms, m.p95_ms = value.latency
    return m


def _operation(value: v.ApiOperationUsage) -> pb.ApiOperationUsage:
    m = pb.ApiOperationUsage(
        partner_id=value.partner_id, operation=value.operation, requests=value.requests, errors=value.errors
    )
    if value.latency is not None:
        m.has_percentiles = True
        m.p50_ms, m.p95_ms = value.latency
    return m


def partner_analytics(value: v.PartnerAnalytics) -> pb.GetPartnerAnalyticsResponse:
    return pb.GetPartnerAnalyticsResponse(
        as_of=as_of(value.as_of),
        volume=[
            pb.VolumeBucket(partner_id=b.partner_id, bucket_start=_ts(b.bucket_start), orders=b.orders, pieces=b.pieces)
            for b in value.volume
        ],
        mix=[
            pb.MixShare(dimension=_DIMENSIONS[s.dimension], key=s.key, pieces=s.pieces, share=s.share)
            for s in value.mix
        ],
        cancellation=[
            pb.CancellationCohort(
                partner_id=c.partner_id,
                bucket_start=_ts(c.bucket_start),
                submitted=c.submitted,
                cancelled=c.cancelled,
                cancelled_before_release=c.cancelled_before_release,
                cancelled_after_release=c.cancelled_after_release,
                rate=c.rate,
                mature=c.mature,
            )
            for c in value.cancellation
        ],
        lead_time=[_lead_time(x) for x in value.lead_time],
        delivery=[
            pb.Delivery(partner_id=d.partner_id, shipped=d.shipped, on_time=d.on_time, otd=d.otd)
            for d in value.delivery
        ],
        cadence=[_cadence(x) for x in value.cadence],
        api_usage=[_usage(x) for x in value.api_usage],
        api_operations=[_operation(x) for x in value.api_operations],
        api_errors=[pb.ApiErrorCount(partner_id=e.partner_id, code=e.code, count=e.count) for e in value.api_errors],
        idempotency=[
            pb.Idempotency(
                partner_id=i.partner_id,
                submissions=i.submissions,
                replays=i.replays,
                key_reused=i.key_reused,
                replay_rate=i.replay_rate,
            )
            for i in value.idempotency
        ],
    )


def _step(value: v.ValueStreamStep) -> pb.ValueStreamStep:
    m = pb.ValueStreamStep(operation_code=value.operation_code, n=value.n)
    if value.percentiles is not None:
        m.has_percentiles = True
        m.queue_p50_min, m.queue_p85_min, m.touch_p50_min, m.touch_p85_min = value.percentiles
    return m


def flow_analytics(value: v.FlowAnalytics) -> pb.GetFlowAnalyticsResponse:
    little = value.littles_law
    return pb.GetFlowAnalyticsResponse(
        as_of=as_of(value.as_of),
        value_stream=[_step(s) for s in value.value_stream],
        work_centers=[
            pb.WorkCenterNow(
                work_center=w.work_center,
                wip_operations=w.wip_operations,
                wip_gross_mg=w.wip_gross_mg,
                wip_fine_mg=w.wip_fine_mg,
                queue=w.queue,
                oldest_queue_min=w.oldest_queue_min,
                median_queue_min=w.median_queue_min,
            )
            for w in value.work_centers
        ],
        wip_aging=[pb.WipAgingBucket(up_to_hours=a.up_to_hours, work_orders=a.work_orders) for a in value.wip_aging],
        throughput=[
            pb.ThroughputBucket(work_center=b.work_center, bucket_start=_ts(b.bucket_start), operations=b.operations)
            for b in value.throughput
        ],
        shipped=[pb.ShippedBucket(bucket_start=_ts(b.bucket_start), orders=b.orders) for b in value.shipped],
        utilisation=[
            pb.Utilisation(
                work_center=u.work_center,
                busy_min=u.busy_min,
                available_min=u.available_min,
                utilisation=u.utilisation,
                mean_queue_min=u.mean_queue_min,
                rank=u.rank,
                constraint_candidate=u.constraint_candidate,
            )
            for u in value.utilisation
        ],
        littles_law=pb.LittlesLaw(
            mean_wip=little.mean_wip,
            throughput_per_day=little.throughput_per_day,
            mean_flow_days=little.mean_flow_days,
            deviation=little.deviation,
            steady=little.steady,
            completed=little.completed,
        ),
    )


def metal_analytics(value: v.MetalAnalytics) -> pb.GetMetalAnalyticsResponse:
    return pb.GetMetalAnalyticsResponse(
        as_of=as_of(value.as_of),
        by_operation=[
            pb.LossByOperation(
                operation_code=r.operation_code,
                alloy_code=r.alloy_code,
                operations=r.operations,
                gross_in_mg=r.gross_in_mg,
                loss_mg=r.loss_mg,
                loss_fine_mg=r.loss_fine_mg,
                loss_pct=r.loss_pct,
                allowed_mg=r.allowed_mg,
                excess_mg=r.excess_mg,
                exceptions=r.exceptions,
            )
            for r in value.by_operation
        ],
        by_operator=[
            pb.LossByOperator(
                operator_code=r.operator_code,
                operations=r.operations,
                gross_in_mg=r.gross_in_mg,
                loss_mg=r.loss_mg,
                loss_pct=r.loss_pct,
                allowed_mg=r.allowed_mg,
                excess_mg=r.excess_mg,
            )
            for r in value.by_operator
        ],
        trend=[
            pb.LossTrendBucket(
                bucket_start=_ts(b.bucket_start),
                gross_in_mg=b.gross_in_mg,
                loss_mg=b.loss_mg,
                loss_pct=b.loss_pct,
                allowed_mg=b.allowed_mg,
            )
            for b in value.trend
        ],
        custody=[
            pb.CustodyPending(
                holder=c.holder,
                material_code=c.material_code,
                issued_mg=c.issued_mg,
                returned_mg=c.returned_mg,
                loss_mg=c.loss_mg,
                pending_mg=c.pending_mg,
                pending_fine_mg=c.pending_fine_mg,
                oldest_open_issue_time=_ts(c.oldest_open_issue_time),
            )
            for c in value.custody
        ],
    )


def projection_status(value: v.ProjectionStatus) -> pb.GetProjectionStatusResponse:
    return pb.GetProjectionStatusResponse(
        as_of=as_of(value.as_of),
        orders=value.orders,
        operations=value.operations,
        custody_entries=value.custody_entries,
        usage_minutes=value.usage_minutes,
        last_event_time=_ts(value.last_event_time),
        imported_orders=value.imported_orders,
        imported_operations=value.imported_operations,
    )
