"""``mesctl production pause|resume`` and ``mesctl production work-center block|unblock`` against
the real production service (in process, SQLite), and the client methods under them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients import FailedPreconditionError, MesClients
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as prod
from tests.integration.clients.clients_real_services import RealStack, real_stack
from tests.integration.clients.clients_stack import mesctl, mesctl_json


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as services:
        yield services


async def floor(real: RealStack) -> str:
    """A cast ring's work order on CAST-1, with operator OP-1; its id."""
    step = prod.RoutingStep(
        sequence=1, operation_code="CASTING", work_center_type="CAST", expected_minutes=30, loss_tolerance_per_mille=20
    )
    style = prod.Style(
        sku="RNG-SOL-001",
        display_name="Solitaire ring",
        category=prod.STYLE_CATEGORY_RING,
        routing=[step],
        bill_of_materials=[prod.BomItem(kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=5_000)],
        active=True,
    )
    async with MesClients(real.config) as mes:
        await mes.production.upsert_style(style)
        await mes.production.upsert_work_center(
            prod.WorkCenter(code="CAST-1", work_center_type="CAST", display_name="Casting", capacity=2, active=True)
        )
        await mes.production.upsert_operator(
            prod.Operator(code="OP-1", display_name="OP-1", role=prod.OPERATOR_ROLE_OPERATOR, active=True)
        )
        line = prod.LineSpec(line_number=1, style_code="RNG-SOL-001", alloy_code="AU750Y", size="54", quantity=1)
        [work_order] = await mes.production.create_work_orders("ORD-1", [line])
    return work_order.work_order_id


async def test_pause_and_resume_an_operation(real: RealStack, capsys: pytest.CaptureFixture[str]) -> None:
    first = f"{await floor(real)}/1"
    assert await mesctl(real, "production", "start", first, "--operator", "OP-1", "--weigh-in-mg", "6000") == 0
    capsys.readouterr()

    argv = ("production", "pause", first, "--operator", "OP-1", "--reason", "waiting for stones")
    assert await mesctl(real, *argv, "--request-id", "pause-1") == 0
    text = capsys.readouterr().out
    assert "PAUSED" in text and "waiting for stones" in text
    again = await mesctl_json(real, capsys, *argv, "--request-id", "pause-1")  # the same request: the same answer
    assert (again["status"], again["pause_reason"]) == ("OPERATION_STATUS_PAUSED", "waiting for stones")
    queue = await mesctl_json(real, capsys, "production", "queue", "CAST-1")
    assert [op["status"] for op in queue] == ["OPERATION_STATUS_PAUSED"]  # still at the bench

    assert await mesctl(real, "production", "finish", first, "--operator", "OP-1", "--weigh-out-mg", "5900") == 1
    assert "resume it first" in capsys.readouterr().err
    assert await mesctl(real, "production", "pause", first, "--operator", "OP-1", "--reason", " ") == 1
    assert capsys.readouterr().err.startswith("error: INVALID_ARGUMENT")

    resumed = await mesctl_json(real, capsys, "production", "resume", first, "--operator", "OP-1")
    assert (resumed["status"], resumed.get("pause_reason", "")) == ("OPERATION_STATUS_IN_PROGRESS", "")
    assert await mesctl(real, "production", "resume", first, "--operator", "OP-1") == 1
    assert capsys.readouterr().err.startswith("error: FAILED_PRECONDITION")


async def test_block_and_unblock_a_work_center(real: RealStack, capsys: pytest.CaptureFixture[str]) -> None:
    wo = await floor(real)
    argv = ("production", "work-center", "block", "CAST-1", "--reason", "kiln down", "--operator", "OP-1")
    assert await mesctl(real, *argv) == 0
    text = capsys.readouterr().out
    assert "BLOCKED" in text and "kiln down" in text
    assert await mesctl(real, "production", "work-centers") == 0
    [row] = capsys.readouterr().out.splitlines()[2:]
    assert row.split()[0] == "CAST-1" and row.split()[-1] == "BLOCKED"

    start = ("production", "start", f"{wo}/1", "--operator", "OP-1", "--weigh-in-mg", "6000")
    assert await mesctl(real, *start) == 1
    assert capsys.readouterr().err.startswith("error: FAILED_PRECONDITION WORK_CENTER_BLOCKED")

    unblocked = await mesctl_json(real, capsys, "production", "work-center", "unblock", "workCenters/CAST-1")
    assert unblocked["state"] == "WORK_CENTER_STATE_IDLE" and unblocked["state_time"]
    assert await mesctl(real, *start) == 0
    capsys.readouterr()
    async with MesClients(real.config) as mes:
        assert (await mes.production.get_work_center("workCenters/CAST-1")).state == prod.WORK_CENTER_STATE_RUNNING
        with pytest.raises(FailedPreconditionError):
            await mes.production.unblock_work_center("workCenters/CAST-1")
