"""The analytics' answers shaped as :class:`~tests.integration.analytics._oracle.Oracle` shapes its
figures (a dict per figure, keyed as the oracle keys it), read from the query services' views
(:class:`ViewFigures`) or from the gRPC messages (:class:`WireFigures`): the two differ only in how
a time, a set of percentiles, an optional number and the mix dimension are read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mes.analytics.v1 import analytics_pb2 as pb

__all__ = ["FLOW", "METAL", "PARTNER", "Figures", "ViewFigures", "WireFigures"]

#: The figures of each answer, as the oracle names them.
PARTNER = (
    "volume",
    "mix",
    "cancellation",
    "lead_time",
    "delivery",
    "cadence",
    "api_usage",
    "api_operations",
    "api_errors",
    "idempotency",
)
FLOW = ("value_stream", "work_centers", "wip_aging", "throughput", "shipped", "utilisation", "littles_law")
METAL = ("by_operation", "by_operator", "trend", "custody")


class Figures:
    """The figures of an answer; a subclass reads the values whose form differs."""

    def shape(self, answer: Any, names: Iterable[str]) -> dict[str, Any]:
        """The figures ``names`` of ``answer`` (a partner, flow or metal answer)."""
        return {name: getattr(self, name)(answer) for name in names}

    def time(self, row: Any, field: str) -> datetime | None:
        raise NotImplementedError

    def percentiles(self, row: Any, field: str, parts: tuple[str, ...]) -> tuple[float, ...] | None:
        """The view's tuple ``field``, the message's fields ``parts``; None when there are none."""
        raise NotImplementedError

    def optional(self, row: Any, field: str, flag: str) -> Any:
        """The value of ``field``; None when absent (the message's ``flag`` unset)."""
        raise NotImplementedError

    def dimension(self, share: Any) -> str:
        raise NotImplementedError

    # -- partners -----------------------------------------------------------------------

    def volume(self, a: Any) -> dict[Any, Any]:
        return {(b.partner_id, self.time(b, "bucket_start")): (b.orders, b.pieces) for b in a.volume}

    def mix(self, a: Any) -> dict[Any, Any]:
        return {(self.dimension(s), s.key): (s.pieces, s.share) for s in a.mix}

    def cancellation(self, a: Any) -> dict[Any, Any]:
        return {
            (c.partner_id, self.time(c, "bucket_start")): (
                c.submitted,
                c.cancelled,
                c.cancelled_before_release,
                c.cancelled_after_release,
                c.rate,
                c.mature,
            )
            for c in a.cancellation
        }

    def lead_time(self, a: Any) -> dict[Any, Any]:
        parts = ("p50_hours", "p85_hours", "p95_hours")
        return {x.partner_id: (x.n, self.percentiles(x, "percentiles", parts)) for x in a.lead_time}

    def delivery(self, a: Any) -> dict[Any, Any]:
        return {d.partner_id: (d.shipped, d.on_time, d.otd) for d in a.delivery}

    def cadence(self, a: Any) -> dict[Any, Any]:
        return {
            c.partner_id: (
                c.submissions,
                self.optional(c, "median_gap_days", "has_median"),
                c.days_since_last,
                c.quiet,
            )
            for c in a.cadence
        }

    def api_usage(self, a: Any) -> dict[Any, Any]:
        return {
            (u.partner_id, self.time(u, "bucket_start")): (
                u.requests,
                u.throttled,
                u.rate_limited,
                u.throttle_rate,
                u.cost_used,
                u.cost_capacity,
                u.cost_utilisation,
                u.errors_4xx,
                u.errors_5xx,
                u.error_rate_4xx,
                u.error_rate_5xx,
                self.percentiles(u, "latency", ("p50_ms", "p95_ms")),
            )
            for u in a.api_usage
        }

    def api_operations(self, a: Any) -> dict[Any, Any]:
        return {
            (o.partner_id, o.operation): (o.requests, o.errors, self.percentiles(o, "latency", ("p50_ms", "p95_ms")))
            for o in a.api_operations
        }

    def api_errors(self, a: Any) -> dict[Any, Any]:
        return {(e.partner_id, e.code): e.count for e in a.api_errors}

    def idempotency(self, a: Any) -> dict[Any, Any]:
        return {i.partner_id: (i.submissions, i.replays, i.key_reused, i.replay_rate) for i in a.idempotency}

    # -- flow ---------------------------------------------------------------------------

    def value_stream(self, a: Any) -> dict[Any, Any]:
        parts = ("queue_p50_min", "queue_p85_min", "touch_p50_min", "touch_p85_min")
        return {s.operation_code: (s.n, self.percentiles(s, "percentiles", parts)) for s in a.value_stream}

    def work_centers(self, a: Any) -> dict[Any, Any]:
        return {
            w.work_center: (
                w.wip_operations,
                w.wip_gross_mg,
                w.wip_fine_mg,
                w.queue,
                w.oldest_queue_min,
                w.median_queue_min,
            )
            for w in a.work_centers
        }

    def wip_aging(self, a: Any) -> dict[Any, Any]:
        return {b.up_to_hours: b.work_orders for b in a.wip_aging}

    def throughput(self, a: Any) -> dict[Any, Any]:
        return {(t.work_center, self.time(t, "bucket_start")): t.operations for t in a.throughput}

    def shipped(self, a: Any) -> dict[Any, Any]:
        return {self.time(s, "bucket_start"): s.orders for s in a.shipped}

    def utilisation(self, a: Any) -> dict[Any, Any]:
        return {
            u.work_center: (
                u.busy_min,
                u.available_min,
                u.utilisation,
                u.mean_queue_min,
                u.rank,
                u.constraint_candidate,
            )
            for u in a.utilisation
        }

    def littles_law(self, a: Any) -> tuple[Any, ...]:
        little = a.littles_law
        return (
            little.mean_wip,
            little.throughput_per_day,
            little.mean_flow_days,
            little.deviation,
            little.steady,
            little.completed,
        )

    # -- metal --------------------------------------------------------------------------

    def by_operation(self, a: Any) -> dict[Any, Any]:
        return {
            (r.operation_code, r.alloy_code): (
                r.operations,
                r.gross_in_mg,
                r.loss_mg,
                r.loss_fine_mg,
                r.loss_pct,
                r.allowed_mg,
                r.excess_mg,
                r.exceptions,
            )
            for r in a.by_operation
        }

    def by_operator(self, a: Any) -> dict[Any, Any]:
        return {
            r.operator_code: (r.operations, r.gross_in_mg, r.loss_mg, r.loss_pct, r.allowed_mg, r.excess_mg)
            for r in a.by_operator
        }

    def trend(self, a: Any) -> dict[Any, Any]:
        return {self.time(b, "bucket_start"): (b.gross_in_mg, b.loss_mg, b.loss_pct, b.allowed_mg) for b in a.trend}

    def custody(self, a: Any) -> dict[Any, Any]:
        return {
            (c.holder, c.material_code): (
                c.issued_mg,
                c.returned_mg,
                c.loss_mg,
                c.pending_mg,
                c.pending_fine_mg,
                self.time(c, "oldest_open_issue_time"),
            )
            for c in a.custody
        }


class ViewFigures(Figures):
    """Read from the query services' answers (``services.analytics.domain.views``)."""

    def time(self, row: Any, field: str) -> datetime | None:
        value: datetime | None = getattr(row, field)
        return value

    def percentiles(self, row: Any, field: str, parts: tuple[str, ...]) -> tuple[float, ...] | None:
        value = getattr(row, field)
        return tuple(value) if value is not None else None

    def optional(self, row: Any, field: str, flag: str) -> Any:
        return getattr(row, field)

    def dimension(self, share: Any) -> str:
        return str(share.dimension.value)


class WireFigures(Figures):
    """Read from the gRPC answers (times in UTC)."""

    def time(self, row: Any, field: str) -> datetime | None:
        return getattr(row, field).ToDatetime(tzinfo=UTC) if row.HasField(field) else None

    def percentiles(self, row: Any, field: str, parts: tuple[str, ...]) -> tuple[float, ...] | None:
        return tuple(getattr(row, part) for part in parts) if row.has_percentiles else None

    def optional(self, row: Any, field: str, flag: str) -> Any:
        return getattr(row, field) if getattr(row, flag) else None

    def dimension(self, share: Any) -> str:
        return pb.MixDimension.Name(share.dimension).removeprefix("MIX_DIMENSION_")
