"""mesctl's main(argv) against real in-process gRPC servers with fake servicers.

main() runs its own event loop, so it runs in a worker thread while the servers run in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from clients.cli.__main__ import main
from mes.orders.v1 import orders_pb2
from tests._infra.ports import free_port
from tests.integration.clients.clients_fake_services import PARTNER_KEY, FakeStack
from tests.integration.clients.clients_stack import mesctl


async def test_orders_submit_get_list_count(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    rc = await mesctl(
        stack, "-o", "json", "orders", "submit", "--parent", "acme", "--reference", "PO-1",
        "--priority", "high", "--due", "2030-01-31", "--line", "RNG-1:AU750Y:2:52", "--line", "PND-1:AG925:1",
    )  # fmt: skip
    assert rc == 0
    submitted = json.loads(capsys.readouterr().out)
    assert submitted["replayed"] is False
    order = submitted["order"]
    assert order["partner"] == "partners/acme" and order["priority"] == "PRIORITY_HIGH"
    assert [line["quantity"] for line in order["lines"]] == [2, 1]

    assert await mesctl(stack, "orders", "get", order["order_id"]) == 0
    text = capsys.readouterr().out
    assert "reference:     PO-1" in text and "SUBMITTED" in text and "RNG-1" in text

    assert await mesctl(stack, "orders", "list", "--status", "submitted", "-o", "json") == 0
    assert [o["name"] for o in json.loads(capsys.readouterr().out)] == [order["name"]]
    assert await mesctl(stack, "orders", "list", "--status", "shipped") == 0
    assert capsys.readouterr().out.strip() == "(no results)"

    assert await mesctl(stack, "orders", "count") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["STATUS", "COUNT"] and lines[2].split() == ["SUBMITTED", "1"]


async def test_rpc_errors_print_one_line_and_violations(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert await mesctl(stack, "orders", "submit", "--reference", "PO-1") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: INVALID_ARGUMENT INVALID_ARGUMENT: the request has invalid fields",
        "  lines: at least one line is required",
    ]

    stack.orders.orders["orders/9"] = orders_pb2.Order(name="orders/9", status=orders_pb2.ORDER_STATUS_SUBMITTED)
    assert await mesctl(stack, "orders", "ship", "9") == 1
    assert capsys.readouterr().err.strip() == (
        "error: FAILED_PRECONDITION INVALID_STATE_TRANSITION: the order is not ready to ship"
    )
    assert await mesctl(stack, "orders", "get", "404") == 1
    assert capsys.readouterr().err.startswith("error: NOT_FOUND NOT_FOUND:")
    assert (
        await asyncio.to_thread(
            main, ["--orders-addr", f"127.0.0.1:{free_port()}", "--deadline", "1", "orders", "count"]
        )
        == 3
    )
    assert capsys.readouterr().err.startswith("error: UNAVAILABLE UNAVAILABLE:")


async def test_bulk_submit_is_safe_to_rerun(
    stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        "reference,priority,due,lines\n"
        "B-1,normal,2030-01-01,RNG-1:AU750Y:1\n"
        "B-2,high,,RNG-1:AU750Y:2;PND-1:AG925:1\n"
        "B-3,,,NOPE:AU750Y:1\n"
        "B-4,,,RNG-1:AU750Y:many\n"
        "B-5,rush,2030-02-01T12:00:00Z,PND-1:AG925:3:45cm:For you\n",
        encoding="utf-8",
    )
    args = ("orders", "bulk-submit", "--csv", str(csv_file), "--parent", "acme", "--concurrency", "3")
    assert await mesctl(stack, *args) == 1
    first = capsys.readouterr()
    assert first.out.splitlines()[0] == "submitted: 3  replayed: 0  failed: 2"
    assert "row 3 (B-3): FAILED_PRECONDITION UNKNOWN_STYLE: unknown style NOPE" in first.out
    assert "row 4 (B-4): bad row:" in first.out
    assert "5/5 100%" in first.err  # the progress bar (one line per step when not a terminal)
    assert len(stack.orders.orders) == 3

    assert await mesctl(stack, "-o", "json", *args) == 1
    again = json.loads(capsys.readouterr().out)
    assert (again["submitted"], again["replayed"], again["failed"]) == (0, 3, 2)
    assert [f["row"] for f in again["failures"]] == [3, 4] and again["failures"][0]["reason"] == "UNKNOWN_STYLE"
    assert len(stack.orders.orders) == 3  # nothing duplicated


async def test_partners_inventory_production(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert await mesctl(stack, "partners", "create", "acme", "--display-name", "Acme", "--tier", "plus") == 0
    out = capsys.readouterr().out
    assert PARTNER_KEY in out and "shown only once" in out and "tier:" in out and "PLUS" in out

    rc = await mesctl(stack, "-o", "json", "inventory", "receive", "--alloy", "AU750Y", "--grams", "250.5")
    assert rc == 0
    lot = json.loads(capsys.readouterr().out)
    assert lot["received_mg"] == "250500" and lot["material_code"] == "AU750Y"  # int64 as JSON strings
    request_ids = list(stack.inventory.lots)
    assert len(request_ids) == 1 and request_ids[0]  # generated by the client

    assert await mesctl(stack, "inventory", "balances") == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row[:5] == ["AU750Y", "METAL", "250.500", "0.000", "250.500"]

    assert await mesctl(stack, "production", "styles") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == [f"RNG-{i}" for i in range(1, 6)]

    rc = await mesctl(stack, "production", "start", "WO-1/1", "--operator", "OP-1", "--weigh-in-mg", "12345")
    assert rc == 0
    assert "weigh-in:       12.345 g (12345 mg)" in capsys.readouterr().out
    started = stack.production.started[0]
    assert started.name == "workOrders/WO-1/operations/1" and started.request_id
