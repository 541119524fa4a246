"""Generate a history of N orders into a provisioned database (see ``perf/datagen/__init__``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2
from mes_platform.idempotency import request_fingerprint
from perf.datagen import rows
from perf.datagen.catalogue import Plant, build_plant
from perf.datagen.drafts import draft_orders
from perf.datagen.events import DAY_S, WEBHOOKS, EventLog, consumers_by_subject
from perf.datagen.ids import Ids, at
from perf.datagen.production import Floor
from perf.datagen.saga import STAFF, Saga
from perf.datagen.sink import Sink
from perf.datagen.stock import LotRecord, run_stock
from services.inventory.adapters import tables as inventory_tables
from services.inventory.adapters.rows import to_row
from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind
from services.inventory.domain.events import CustodyRecorded, LotReceived
from services.inventory.domain.lots import MaterialLot
from services.orders.adapters import tables as orders_tables
from services.production.adapters import tables as production_tables

__all__ = ["GENERATED_TABLES", "Options", "Summary", "generate"]

#: Every table the generator writes (the rest must stay empty: see ``Sink.check_complete``).
_INFRA = ("outbox", "inbox", "idempotency_keys")
_OWN = {
    "orders": ("partners", "api_keys", "catalogue_items", "orders", "order_lines", "order_status_changes"),
    "inventory": (
        "alloys", "lots", "reservations", "reservation_items", "waiting_orders", "waiting_shortages",
        "closed_orders", "custody_entries",
    ),
    "production": (
        "styles", "style_versions", "work_centers", "work_center_calendars", "operators", "order_specs",
        "work_orders", "operations", "operation_attempts",
    ),
    # no partner registered a webhook endpoint: no deliveries; the service still saw every order
    "webhooks": ("order_refs", "endpoints", "deliveries", "delivery_log"),
}  # fmt: skip
GENERATED_TABLES = {(service, table) for service, tables in _OWN.items() for table in (*tables, *_INFRA)}


@dataclass(frozen=True)
class Options:
    orders: int = 100_000
    partners: int = 24
    days: float = 90.0
    seed: int = 1
    #: The end of the history ("now" for the services that will read it); default: the current time.
    end: datetime | None = None


@dataclass
class Summary:
    orders: int
    end: str
    partner_keys: dict[str, str]
    order_statuses: dict[str, int]
    work_orders: dict[str, int]
    rows: dict[str, int]
    events: dict[str, int]
    timings_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _reference(sink: Sink, plant: Plant) -> None:
    for seed in plant.partners:
        sink.add("orders", "partners", rows.partner_row(seed.partner))
        for key in seed.partner.api_keys:
            sink.add("orders", "api_keys", rows.api_key_row(key))
    for alloy in plant.alloys:
        sink.add("inventory", "alloys", to_row(alloy, inventory_tables.alloys))
        copy = {"kind": "ALLOY", "code": alloy.code, "display_name": alloy.display_name, "active": True,
                "source_version": alloy.version, "updated_at": plant.since}  # fmt: skip
        sink.add("orders", "catalogue_items", copy)
    for style in plant.styles:
        style_row, version_row = rows.style_rows(style)
        sink.add("production", "styles", style_row)
        sink.add("production", "style_versions", version_row)
        copy = {"kind": "STYLE", "code": style.sku, "display_name": style.display_name, "active": True,
                "source_version": style.version, "updated_at": plant.since}  # fmt: skip
        sink.add("orders", "catalogue_items", copy)
    for center in plant.work_centers:
        sink.add("production", "work_centers", rows.work_center_row(center))
        sink.add("production", "work_center_calendars", rows.calendar_row(center))
    for operator in plant.operators:
        sink.add("production", "operators", rows.operator_row(operator))


def _lot(ids: Ids, sink: Sink, log: EventLog, lot: LotRecord) -> None:
    """ReceiveLot: the lot (final counters), its RECEIVE entry, their events, the request's key."""
    sink.add("inventory", "lots", rows.lot_row(lot))
    t = lot.receive_time
    metal = str(lot.kind) == "METAL"
    fresh = MaterialLot.receive(
        lot_id=lot.lot_id, kind=lot.kind, material_code=lot.material_code, weight_mg=lot.received if metal else 0,
        pieces=0 if metal else lot.received, weight_points=lot.weight_points, supplier_reference=lot.supplier_reference,
        now=at(t),
    )  # fmt: skip
    log.emit("inventory", LotReceived(fresh), t, event_id=lot.event_id)
    entry = CustodyEntry.of(
        ids.uuid4(), CustodyKind.RECEIVE, STORES, fresh.key, lot.received, at(t), lot_id=lot.lot_id,
        reference=f"lots/{lot.lot_id}",
    )  # fmt: skip
    sink.add_ordered("inventory", "custody_entries", t, rows.custody_row(entry))
    log.emit("inventory", CustodyRecorded(entry), t)
    request = inventory_pb2.ReceiveLotRequest(
        kind=common_pb2.MATERIAL_KIND_METAL if metal else common_pb2.MATERIAL_KIND_STONE,
        material_code=lot.material_code,
        weight_mg=lot.received if metal else 0,
        pieces=0 if metal else lot.received,
        weight_points=lot.weight_points,
        supplier_reference=lot.supplier_reference,
        request_id=lot.request_id,
    )
    log.idempotent(
        "inventory", f"{STAFF}:ReceiveLot", lot.request_id, request_fingerprint(request), f"lots/{lot.lot_id}", t
    )


#: A work center's state as its operations leave it (domain.floor.WorkCenterState): RUNNING since the
#: earliest start among those in progress, else IDLE since its last finish (or since it was made).
_SETTLE_WORK_CENTERS = """
UPDATE production.work_centers AS wc
SET state = CASE WHEN running.since IS NULL THEN 'IDLE' ELSE 'RUNNING' END,
    state_time = COALESCE(running.since, finished.at, wc.state_time)
FROM production.work_centers AS c
LEFT JOIN LATERAL (
    SELECT min(start_time) AS since FROM production.operations
    WHERE work_center = c.code AND status = 'IN_PROGRESS'
) AS running ON TRUE
LEFT JOIN LATERAL (
    SELECT max(finish_time) AS at FROM production.operations WHERE work_center = c.code
) AS finished ON TRUE
WHERE wc.code = c.code
"""


async def settle_work_centers(conn: asyncpg.Connection) -> None:
    """Each work center's state from the operations the history left in progress."""
    await conn.execute(_SETTLE_WORK_CENTERS)


async def generate(conn: asyncpg.Connection, options: Options, say: Callable[[str], None] = print) -> Summary:
    """Write the history into the database of ``conn`` (an admin connection; schemas migrated, empty)."""
    clock = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 1)
        clock = now
        say(f"  datagen: {name} done in {timings[name]:.1f} s")

    end_dt = (options.end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    end = end_dt.timestamp()
    start = end - options.days * DAY_S
    ids = Ids(options.seed)
    plant = build_plant(
        ids, orders=options.orders, partners=options.partners, since=end_dt - timedelta(days=options.days + 30)
    )
    drafts = draft_orders(ids, plant, count=options.orders, start=start, end=end - 600.0)
    stock = run_stock(ids, plant, drafts, start=start, end=end)
    lap("orders and stores")
    metadata = {
        "orders": orders_tables.metadata,
        "inventory": inventory_tables.metadata,
        "production": production_tables.metadata,
    }
    if WEBHOOKS:
        from services.webhooks.adapters import tables as webhooks_tables

        metadata["webhooks"] = webhooks_tables.metadata
    sink = Sink(metadata)
    log = EventLog(ids, sink, end=end, consumers=consumers_by_subject())
    floor = Floor(ids, plant, log, end=end)
    saga = Saga(ids, log, sink, floor, end=end, webhooks=WEBHOOKS)
    _reference(sink, plant)
    for lot in stock.lots:
        _lot(ids, sink, log, lot)
    await sink.flush(conn, force=True)  # parents before the tables whose foreign keys are checked
    work_orders: Counter[str] = Counter()
    for n, draft in enumerate(drafts, start=1):
        saga.run(draft, stock.outcomes[draft.order_id])
        if n % 2000 == 0:
            await sink.flush(conn)
        if n % 20000 == 0:
            say(f"  datagen: {n:,} orders")
    lap("histories")
    await sink.finish(conn)
    await settle_work_centers(conn)
    await sink.check_complete(conn, GENERATED_TABLES)
    lap("load")
    await conn.execute("ANALYZE")
    lap("analyze")
    for status, count in await conn.fetch("SELECT status, count(*) FROM production.work_orders GROUP BY status"):
        work_orders[status] = int(count)
    return Summary(
        orders=options.orders,
        end=end_dt.isoformat(),
        partner_keys={seed.partner.partner_id: seed.api_key for seed in plant.partners},
        order_statuses=dict(sorted(saga.statuses.items())),
        work_orders=dict(sorted(work_orders.items())),
        rows={f"{s}.{t}": n for (s, t), n in sorted(sink.loaded.items())},
        events=dict(sorted(log.counts.items())),
        timings_s=timings,
    )
