"""Operation and attempt rows <-> domain objects."""

from __future__ import annotations

from typing import Any

from mes_kernel.clock import as_utc, as_utc_or_none
from services.production.domain.operations import AttemptRecord, Operation, OperationStatus

__all__ = ["attempt_from_row", "attempt_values", "operation_from_row", "operation_values"]


def operation_from_row(row: Any) -> Operation:
    return Operation(
        work_order_id=row.work_order_id,
        sequence=row.sequence,
        operation_code=row.operation_code,
        work_center_type=row.work_center_type,
        loss_tolerance_per_mille=row.loss_tolerance_per_mille,
        order_id=row.order_id,
        alloy_code=row.alloy_code,
        priority=row.priority,
        create_time=as_utc(row.created_at),
        update_time=as_utc(row.updated_at),
        status=OperationStatus(row.status),
        work_center=row.work_center,
        weigh_in_mg=row.weigh_in_mg,
        weigh_out_mg=row.weigh_out_mg,
        scrap_returned_mg=row.scrap_returned_mg,
        loss_mg=row.loss_mg,
        started_by=row.started_by,
        finished_by=row.finished_by,
        reviewed_by=row.reviewed_by,
        review_note=row.review_note,
        start_time=as_utc_or_none(row.start_time),
        finish_time=as_utc_or_none(row.finish_time),
        attempt=row.attempt,
        version=row.version,
    )


def operation_values(op: Operation) -> dict[str, Any]:
    return {
        "status": str(op.status),
        "work_center": op.work_center,
        "weigh_in_mg": op.weigh_in_mg,
        "weigh_out_mg": op.weigh_out_mg,
        "scrap_returned_mg": op.scrap_returned_mg,
        "loss_mg": op.loss_mg,
        "started_by": op.started_by,
        "finished_by": op.finished_by,
        "reviewed_by": op.reviewed_by,
        "review_note": op.review_note,
        "start_time": op.start_time,
        "finish_time": op.finish_time,
        "attempt": op.attempt,
        "updated_at": op.update_time,
    }


def attempt_from_row(row: Any) -> AttemptRecord:
    return AttemptRecord(
        work_order_id=row.work_order_id,
        sequence=row.sequence,
        attempt=row.attempt,
        operation_code=row.operation_code,
        work_center=row.work_center,
        alloy_code=row.alloy_code,
        weigh_in_mg=row.weigh_in_mg,
        weigh_out_mg=row.weigh_out_mg,
        scrap_returned_mg=row.scrap_returned_mg,
        loss_mg=row.loss_mg,
        started_by=row.started_by,
        finished_by=row.finished_by,
        start_time=as_utc_or_none(row.start_time),
        finish_time=as_utc_or_none(row.finish_time),
        outcome=OperationStatus(row.outcome),
        reviewed_by=row.reviewed_by,
        review_note=row.review_note,
    )


def attempt_values(attempt: AttemptRecord) -> dict[str, Any]:
    """Everything but the key (work order, sequence, attempt)."""
    return {
        "operation_code": attempt.operation_code,
        "work_center": attempt.work_center,
        "alloy_code": attempt.alloy_code,
        "weigh_in_mg": attempt.weigh_in_mg,
        "weigh_out_mg": attempt.weigh_out_mg,
        "scrap_returned_mg": attempt.scrap_returned_mg,
        "loss_mg": attempt.loss_mg,
        "started_by": attempt.started_by,
        "finished_by": attempt.finished_by,
        "reviewed_by": attempt.reviewed_by,
        "review_note": attempt.review_note,
        "outcome": str(attempt.outcome),
        "reviewed": attempt.reviewed,
        "start_time": attempt.start_time,
        "finish_time": attempt.finish_time,
    }
