"""The data generator without a database: its rows are the repositories' rows, its sink refuses
what it cannot fill, and the stores never give out more than they hold."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from perf.datagen import rows
from perf.datagen.catalogue import build_plant
from perf.datagen.drafts import draft_orders
from perf.datagen.ids import Ids, at
from perf.datagen.sink import Sink, UngeneratedTable
from perf.datagen.stock import run_stock
from services.inventory.adapters import tables as inv_t
from services.inventory.adapters.rows import to_row
from services.inventory.domain.custody import CustodyEntry, CustodyKind
from services.inventory.domain.materials import MaterialKind
from services.production.adapters.operation_repository import attempt_values
from services.production.adapters.rows import records_to_json, to_values
from services.production.domain.bom import LineSpec
from services.production.domain.operations import OPERATION_PROGRESS, AttemptRecord
from services.production.domain.resources import WorkCenterPicker
from services.production.domain.work_orders import plan_work_order

DAY = 86400.0
END = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
_OPERATION_FIXED = (
    "work_order_id", "sequence", "order_id", "operation_code", "work_center_type", "priority", "alloy_code",
    "loss_tolerance_per_mille", "version", "create_time",
)  # fmt: skip


def _plant(orders: int = 400):  # type: ignore[no-untyped-def]
    ids = Ids(3)
    return ids, build_plant(ids, orders=orders, partners=20, since=at(END - 120 * DAY))


def test_perf_datagen_rows_are_the_repositories_rows() -> None:
    _, plant = _plant()
    style = plant.styles[0]
    wo, ops = plan_work_order(
        work_order_id="wo-1",
        order_id="o-1",
        priority=2,
        line=LineSpec(1, style.sku, "AU750Y", "7", "J", 2),
        style=style,
        picker=WorkCenterPicker(plant.work_centers, {}),
        now=at(END),
    )
    op = next(o for o in ops if o.status.value == "QUEUED")
    op.start("OP-01", 7000, at(END + 60))
    op.finish("OP-01", 6990, 0, at(END + 600))
    assert rows.operation_row(op) == to_values(op, (*_OPERATION_FIXED, *OPERATION_PROGRESS))
    attempt = AttemptRecord.of(op)
    key = {"work_order_id": "wo-1", "sequence": op.sequence, "attempt": 1}
    assert rows.attempt_row(attempt) == {**key, **attempt_values(attempt)}
    row = rows.work_order_row(wo)
    assert json.loads(row.pop("routing_snapshot")) == records_to_json(wo.routing_snapshot)
    assert row["status"] == "RELEASED" and row["created_at"] == wo.create_time and row["issued_mg"] == 0
    entry = CustodyEntry.of("e-1", CustodyKind.ISSUE, "orders/o-1", (MaterialKind.METAL, "AU750Y"), 7000, at(END))
    expected = to_row(entry, inv_t.custody_entries)
    expected.pop("seq", None)
    assert rows.custody_row(entry) == expected


class _EmptyTables:
    """A connection on which every table is empty (``check_complete`` asks whether one holds rows)."""

    async def fetchval(self, query: str) -> bool:
        return False


async def test_perf_datagen_sink_refuses_columns_and_tables_it_cannot_fill() -> None:
    md = MetaData()
    Table("t", md, Column("a", Integer, primary_key=True), Column("b", String, nullable=False, default="x"))
    Table("u", md, Column("c", Integer, primary_key=True))
    sink = Sink({"svc": md})
    sink.add("svc", "t", {"a": 1})
    assert sink.pending() == 1
    with pytest.raises(UngeneratedTable, match="no column"):
        sink.add("svc", "t", {"a": 1, "z": 2})
    with pytest.raises(UngeneratedTable, match="required"):
        sink.add("svc", "u", {})
    with pytest.raises(UngeneratedTable, match=r"svc\.u"):
        await sink.check_complete(_EmptyTables(), {("svc", "t")})  # type: ignore[arg-type]
    await sink.check_complete(_EmptyTables(), {("svc", "t"), ("svc", "u")})  # type: ignore[arg-type]


def test_perf_datagen_orders_have_three_lines_on_average_over_twenty_partners() -> None:
    ids, plant = _plant()
    drafts = draft_orders(ids, plant, count=3000, start=END - 90 * DAY, end=END - 600)
    assert len({d.partner_id for d in drafts}) >= 20
    assert 2.8 <= sum(len(d.lines) for d in drafts) / len(drafts) <= 3.3
    assert [d.t0 for d in drafts] == sorted(d.t0 for d in drafts)
    assert all(d.requirements for d in drafts)


def test_perf_datagen_stores_never_give_out_more_than_they_hold() -> None:
    ids, plant = _plant()
    drafts = draft_orders(ids, plant, count=400, start=END - 90 * DAY, end=END - 600)
    stock = run_stock(ids, plant, drafts, start=END - 90 * DAY, end=END)
    assert all(0 <= lot.on_hand <= lot.received and lot.reserved == 0 for lot in stock.lots)
    issued: Counter[str] = Counter()
    for outcome in stock.outcomes.values():
        if outcome.reservation is not None and outcome.cancelled_at is None:
            for share in outcome.reservation.shares_by_lot():
                issued[share.lot_id] += share.quantity
    assert all(lot.on_hand == lot.received - issued[lot.lot_id] for lot in stock.lots)
    # an order still waiting does not fit in what is left (else a retry would have served it)
    free: Counter[tuple[MaterialKind, str]] = Counter()
    for lot in stock.lots:
        free[(lot.kind, lot.material_code)] += lot.on_hand
    by_id = {d.order_id: d for d in drafts}
    for order_id in stock.waiting:
        need: Counter[tuple[MaterialKind, str]] = Counter()
        for r in by_id[order_id].requirements:
            need[r.key] += r.quantity
        assert any(free[key] < qty for key, qty in need.items())
