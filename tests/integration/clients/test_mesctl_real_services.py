"""mesctl and the clients against the real orders, inventory and production services (in process, SQLite).

The orders catalogue copy is normally filled by events; here it is seeded through the orders service
layer (``event_handlers.apply_catalogue_item``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients import FailedPreconditionError, MesClients, NotFoundError
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as prod
from services.orders.domain.catalogue import CatalogueKind
from tests.integration.clients.clients_real_services import RealStack, real_stack
from tests.integration.clients.clients_stack import mesctl, mesctl_json

STYLES = ("RNG-SOL-001", "PND-HRT-002")
ALLOYS = ("AU750Y", "AG925")


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as services:
        handlers = services.orders.handles.event_handlers
        for kind, codes in ((CatalogueKind.STYLE, STYLES), (CatalogueKind.ALLOY, ALLOYS)):
            for code in codes:
                await handlers.apply_catalogue_item(kind, code, code.title(), True, 1)
        yield services


async def test_partners_and_orders(real: RealStack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    created = await mesctl_json(real, capsys, "partners", "create", "acme", "--display-name", "Acme", "--tier", "plus")
    assert isinstance(created, dict) and created["partner"]["tier"] == "PARTNER_TIER_PLUS"
    api_key = created["api_key"]
    assert api_key
    await mesctl_json(real, capsys, "partners", "create", "globex", "--display-name", "Globex")
    partners = await mesctl_json(real, capsys, "partners", "list")
    assert isinstance(partners, list) and [p["partner_id"] for p in partners] == ["acme", "globex"]
    assert await mesctl(real, "partners", "set-tier", "globex", "enterprise") == 0
    assert "ENTERPRISE" in capsys.readouterr().out

    submit = (
        "orders",
        "submit",
        "--parent",
        "acme",
        "--reference",
        "PO-1",
        "--priority",
        "high",
        "--due",
        "2030-01-31",
    )
    lines = ("--line", "RNG-SOL-001:AU750Y:2:52", "--line", "PND-HRT-002:AG925:1::Love", "--due", "2030-01-31")
    first = await mesctl_json(real, capsys, *submit, *lines, "--request-id", "po-1")
    again = await mesctl_json(real, capsys, *submit, *lines, "--request-id", "po-1")
    assert isinstance(first, dict) and isinstance(again, dict)
    assert first["replayed"] is False and again["replayed"] is True
    assert again["order"]["name"] == first["order"]["name"]
    order_id = first["order"]["order_id"]

    # The same key with another payload is refused.
    assert await mesctl(real, *submit, "--line", "RNG-SOL-001:AU750Y:9", "--request-id", "po-1") == 1
    assert capsys.readouterr().err.startswith("error: ALREADY_EXISTS IDEMPOTENCY_KEY_REUSED:")

    # A partner's own API key: no parent needed, and another partner's orders are invisible.
    assert await mesctl(real, "--api-key", api_key, "orders", "submit", "--reference", "PO-2", *lines) == 0
    capsys.readouterr()
    assert await mesctl(real, "orders", "submit", "--parent", "globex", "--reference", "G-1", *lines) == 0
    globex_id = capsys.readouterr().out.split("orders/", 1)[1].split()[0]
    assert await mesctl(real, "--api-key", api_key, "orders", "get", globex_id) == 1
    assert capsys.readouterr().err.startswith("error: NOT_FOUND")

    # Unknown catalogue codes are rejected with a reason and field violations.
    assert (
        await mesctl(
            real,
            "orders",
            "submit",
            "--parent",
            "acme",
            "--reference",
            "X",
            "--line",
            "NOPE:AU750Y:1",
            "--due",
            "2030-01-31",
        )
        == 1
    )
    assert capsys.readouterr().err.splitlines() == [
        "error: INVALID_ARGUMENT UNKNOWN_STYLE: the order names styles or alloys that are not in the catalogue",
        "  lines[0].style_code: unknown or inactive style 'NOPE'",
    ]

    catalogue = await mesctl_json(real, capsys, "orders", "catalogue", "--kind", "style")
    assert isinstance(catalogue, list) and sorted(item["code"] for item in catalogue) == sorted(STYLES)

    assert await mesctl(real, "orders", "get", order_id) == 0
    detail = capsys.readouterr().out
    assert "reference:     PO-1" in detail and "SUBMITTED" in detail and "RNG-SOL-001" in detail

    listed = await mesctl_json(real, capsys, "orders", "list", "--status", "submitted", "--limit", "0")
    assert isinstance(listed, list) and len(listed) == 3
    acme_only = await mesctl_json(real, capsys, "orders", "list", "--parent", "acme")
    assert isinstance(acme_only, list) and {o["partner"] for o in acme_only} == {"partners/acme"}

    counts = await mesctl_json(real, capsys, "orders", "count")
    assert isinstance(counts, dict)
    assert {c["status"]: c["count"] for c in counts["counts"]}.get("ORDER_STATUS_SUBMITTED") == "3"

    assert await mesctl(real, "orders", "ship", order_id) == 1
    assert capsys.readouterr().err.startswith("error: FAILED_PRECONDITION")
    assert await mesctl(real, "orders", "cancel", order_id, "--reason", "customer changed mind") == 0
    assert "CANCELLED" in capsys.readouterr().out
    assert await mesctl(real, "orders", "history", order_id) == 0
    history = capsys.readouterr().out
    assert "CANCELLED" in history and "customer changed mind" in history

    # Bulk submit: a re-run replays instead of duplicating.
    csv_file = tmp_path / "bulk.csv"
    csv_file.write_text(
        "reference,priority,due,lines\n"
        "B-1,low,2030-03-01,RNG-SOL-001:AU750Y:1\n"
        "B-2,rush,2030-03-02T10:00:00Z,PND-HRT-002:AG925:2\n"
        "B-3,,2030-03-03,BAD:AU750Y:1\n",
        encoding="utf-8",
    )
    bulk = ("orders", "bulk-submit", "--csv", str(csv_file), "--parent", "acme", "--concurrency", "2")
    assert await mesctl(real, *bulk) == 1
    assert capsys.readouterr().out.splitlines()[0] == "submitted: 2  replayed: 0  failed: 1"
    assert await mesctl(real, *bulk) == 1
    assert capsys.readouterr().out.splitlines()[0] == "submitted: 0  replayed: 2  failed: 1"

    # Page iteration over the real keyset tokens (page size 1).
    async with MesClients(real.config) as mes:
        names = [o.name async for o in mes.orders.iter_orders(parent="partners/acme", page_size=1)]
        assert len(names) == len(set(names)) == 4
        with pytest.raises(NotFoundError):
            await mes.orders.get_order("orders/does-not-exist")

    rotated = await mesctl_json(real, capsys, "partners", "rotate-key", "acme")
    assert isinstance(rotated, dict) and rotated["api_key"] and rotated["api_key"] != api_key
    assert await mesctl(real, "--api-key", api_key, "orders", "count") == 1
    assert capsys.readouterr().err.startswith("error: UNAUTHENTICATED")


async def test_inventory(real: RealStack, capsys: pytest.CaptureFixture[str]) -> None:
    upsert = ("inventory", "alloy-upsert", "AU750Y", "--metal", "gold", "--fineness", "750", "--colour", "yellow")
    assert await mesctl(real, *upsert, "--density", "15500", "--display-name", "Gold 750 yellow") == 0
    assert "fineness:     750" in capsys.readouterr().out
    alloys = await mesctl_json(real, capsys, "inventory", "alloys")
    assert isinstance(alloys, list) and [a["code"] for a in alloys] == ["AU750Y"]

    receive = ("inventory", "receive", "--alloy", "AU750Y", "--grams", "250.5", "--supplier-ref", "INV-1")
    lot = await mesctl_json(real, capsys, *receive, "--request-id", "lot-1")
    replay = await mesctl_json(real, capsys, *receive, "--request-id", "lot-1")
    assert isinstance(lot, dict) and isinstance(replay, dict)
    assert lot["received_mg"] == "250500" and replay["lot_id"] == lot["lot_id"]
    assert await mesctl(real, "inventory", "receive", "--alloy", "AU750Y", "--weight-mg", "1000") == 0
    assert "1.000 g (1000 mg)" in capsys.readouterr().out

    assert await mesctl(real, "inventory", "lots", "--material", "AU750Y") == 0
    assert len(capsys.readouterr().out.splitlines()) == 4  # header, rule, two lots
    assert await mesctl(real, "inventory", "balances") == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row[:5] == ["AU750Y", "METAL", "251.500", "0.000", "251.500"]
    assert await mesctl(real, "inventory", "custody", "--material", "AU750Y") == 0
    assert "RECEIVE" in capsys.readouterr().out
    for command in (("shortages",), ("reservations",)):
        assert await mesctl(real, "inventory", *command) == 0
        assert capsys.readouterr().out.strip() == "(no results)"

    assert await mesctl(real, "inventory", "receive", "--alloy", "lower case!", "--weight-mg", "5") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: INVALID_ARGUMENT") and any("material_code" in line for line in err[1:])


async def test_production(real: RealStack, capsys: pytest.CaptureFixture[str]) -> None:
    routing = [
        prod.RoutingStep(sequence=1, operation_code="CASTING", work_center_type="CAST", expected_minutes=30,
                         loss_tolerance_per_mille=20),
        prod.RoutingStep(sequence=2, operation_code="POLISHING", work_center_type="POLISH", expected_minutes=20,
                         loss_tolerance_per_mille=10),
    ]  # fmt: skip
    style = prod.Style(
        sku="RNG-SOL-001",
        display_name="Solitaire ring",
        category=prod.STYLE_CATEGORY_RING,
        routing=routing,
        bill_of_materials=[prod.BomItem(kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=5_000)],
        active=True,
    )
    async with MesClients(real.config) as mes:
        await mes.production.upsert_style(style)
        for code, kind in (("CAST-1", "CAST"), ("POL-1", "POLISH")):
            await mes.production.upsert_work_center(
                prod.WorkCenter(code=code, work_center_type=kind, display_name=code, capacity=2, active=True)
            )
        for code, role in (("OP-1", prod.OPERATOR_ROLE_OPERATOR), ("SUP-1", prod.OPERATOR_ROLE_SUPERVISOR)):
            await mes.production.upsert_operator(prod.Operator(code=code, display_name=code, role=role, active=True))
        line = prod.LineSpec(line_number=1, style_code="RNG-SOL-001", alloy_code="AU750Y", size="54", quantity=1)
        work_orders = await mes.production.create_work_orders("ORD-1", [line], priority=common_pb2.PRIORITY_HIGH)
        assert len(work_orders) == 1
        requirements = await mes.production.explode_bill_of_materials([line])
        assert [(r.material_code, r.weight_mg) for r in requirements] == [("AU750Y", 5_000)]
    wo = work_orders[0].work_order_id

    assert await mesctl(real, "production", "styles") == 0
    assert "RNG-SOL-001" in capsys.readouterr().out
    assert await mesctl(real, "production", "style", "RNG-SOL-001") == 0
    style_text = capsys.readouterr().out
    assert "CASTING" in style_text and "5.000 g (5000 mg)" in style_text
    assert await mesctl(real, "production", "work-centers") == 0
    assert "CAST-1" in capsys.readouterr().out
    assert await mesctl(real, "production", "operators") == 0
    assert "SUPERVISOR" in capsys.readouterr().out
    listed = await mesctl_json(real, capsys, "production", "work-orders", "--order", "ORD-1")
    assert isinstance(listed, list) and [w["work_order_id"] for w in listed] == [wo]
    assert await mesctl(real, "production", "work-order", "get", wo) == 0
    assert "routing snapshot:" in capsys.readouterr().out

    operations = await mesctl_json(real, capsys, "production", "operations", "--work-order", wo)
    assert isinstance(operations, list) and [op["operation_code"] for op in operations] == ["CASTING", "POLISHING"]
    queue = await mesctl_json(real, capsys, "production", "queue", operations[0]["work_center"])
    assert isinstance(queue, list) and [op["name"] for op in queue] == [operations[0]["name"]]

    first = f"{wo}/1"
    assert await mesctl(real, "production", "start", first, "--operator", "OP-1", "--weigh-in-mg", "10000") == 0
    assert "IN_PROGRESS" in capsys.readouterr().out
    # 500 mg lost of 10 g is above the 20 per mille tolerance (200 mg): the operation goes to review.
    assert await mesctl(real, "production", "finish", first, "--operator", "OP-1", "--weigh-out-mg", "9500") == 0
    assert "LOSS_REVIEW" in capsys.readouterr().out
    assert await mesctl(real, "production", "review", first, "--supervisor", "SUP-1", "--approve", "--note", "ok") == 0
    assert "DONE" in capsys.readouterr().out

    assert await mesctl(real, "production", "stats") == 0
    assert "CAST-1" in capsys.readouterr().out
    summaries = await mesctl_json(real, capsys, "production", "loss", "--by", "operation")
    assert isinstance(summaries, list) and summaries[0]["key"] == "CASTING" and summaries[0]["loss_mg"] == "500"
    assert await mesctl(real, "production", "loss", "--by", "operator") == 0
    assert "OP-1" in capsys.readouterr().out

    assert await mesctl(real, "production", "close", wo) == 1  # not completed yet
    assert capsys.readouterr().err.startswith("error: FAILED_PRECONDITION")
    async with MesClients(real.config) as mes:
        with pytest.raises(FailedPreconditionError):
            await mes.production.close_work_order(f"workOrders/{wo}")
        assert (await mes.orders.count_orders()).late_count == 0
