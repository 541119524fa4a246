"""Which operation changes the inventory consumer records as custody LOSS."""

from __future__ import annotations

import pytest

from mes.production.v1 import production_events_pb2 as ev
from mes.production.v1 import production_pb2 as pb
from services.inventory.entrypoints.consumers import is_recordable_loss

S = pb.OperationStatus


def changed(from_status: int, to_status: int, loss_mg: int) -> ev.OperationChangedEvent:
    return ev.OperationChangedEvent(
        operation=pb.Operation(status=to_status, loss_mg=loss_mg),  # type: ignore[arg-type]
        from_status=from_status,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("from_status", "to_status", "recorded"),
    [
        (S.OPERATION_STATUS_IN_PROGRESS, S.OPERATION_STATUS_DONE, True),  # within tolerance
        (S.OPERATION_STATUS_LOSS_REVIEW, S.OPERATION_STATUS_DONE, True),  # approved
        (S.OPERATION_STATUS_LOSS_REVIEW, S.OPERATION_STATUS_REWORK, True),  # reworked: the metal is gone anyway
        (S.OPERATION_STATUS_IN_PROGRESS, S.OPERATION_STATUS_LOSS_REVIEW, False),  # not decided yet
        (S.OPERATION_STATUS_REWORK, S.OPERATION_STATUS_QUEUED, False),
        (S.OPERATION_STATUS_IN_PROGRESS, S.OPERATION_STATUS_CANCELLED, False),  # returned, not lost
    ],
)
def test_final_losses_only(from_status: int, to_status: int, recorded: bool) -> None:
    assert is_recordable_loss(changed(from_status, to_status, 120)) is recorded


def test_no_loss_no_entry() -> None:
    assert not is_recordable_loss(changed(S.OPERATION_STATUS_IN_PROGRESS, S.OPERATION_STATUS_DONE, 0))
