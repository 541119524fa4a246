"""Tables of the analytics service (one MetaData; the service's own schema on PostgreSQL).

Times are integer microseconds since the epoch (``*_us``, BIGINT): exact, indexed, and the same
arithmetic on SQLite and PostgreSQL. A latency histogram is up to :data:`LATENCY_SLOTS` count
columns (``lat_0``...; counts past the last slot are added to it) and its bounds as text, so that
histograms are summed in SQL. Order lines repeat their order's partner and submit time, and custody
balances are kept per holder and material as entries arrive, so that the queries read one table
through one index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from mes_platform.tables import add_infrastructure_tables, service_metadata

__all__ = [
    "LATENCY_SLOTS",
    "USAGE_QUARTER_US",
    "alloys",
    "calendars",
    "custody",
    "custody_balances",
    "infra",
    "latency_columns",
    "metadata",
    "operation_ready",
    "operations",
    "order_lines",
    "orders",
    "stream_positions",
    "usage_capacities",
    "usage_errors",
    "usage_minutes",
    "usage_operations",
    "usage_quarters",
    "work_orders",
]

metadata = service_metadata()
#: Latency buckets kept per histogram (the facade has 14).
LATENCY_SLOTS = 16


def _time(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=True)


def _count(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, default=0)


def _counts(*names: str) -> list[Column[int]]:
    return [_count(name) for name in names]


def _latency() -> list[Column[int]]:
    return _counts(*(f"lat_{i}" for i in range(LATENCY_SLOTS)))


def latency_columns(table: Table) -> list[Column[Any]]:
    return [table.c[f"lat_{i}"] for i in range(LATENCY_SLOTS)]


orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False, default=""),
    _time("submit_us"),
    _time("due_us"),
    _time("ship_us"),
    _time("cancel_us"),
    _time("release_us"),
    # "", "BEFORE" or "AFTER" (a release): what the cancelled event said of the stage.
    Column("cancel_stage", String(6), nullable=False, default=""),
    Column("pieces", Integer, nullable=False, default=0),
    Column("imported", Boolean, nullable=False, default=False),
)
# Covering the window reads by submit and by ship time (migration 0002).
Index(
    "ix_orders_submit",
    orders.c.submit_us, orders.c.partner_id, orders.c.pieces, orders.c.cancel_us, orders.c.release_us,
    orders.c.cancel_stage,
)  # fmt: skip
Index("ix_orders_partner_submit", orders.c.partner_id, orders.c.submit_us)
Index("ix_orders_ship", orders.c.ship_us, orders.c.partner_id, orders.c.submit_us, orders.c.due_us)
Index("ix_orders_imported", orders.c.imported)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    # The order's partner and submit time, repeated (the mix reads the lines alone).
    Column("partner_id", String(64), nullable=False),
    _time("submit_us"),
    Column("style_code", String(64), nullable=False),
    Column("alloy_code", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
)
Index(
    "ix_order_lines_submit",
    order_lines.c.submit_us, order_lines.c.partner_id, order_lines.c.style_code, order_lines.c.alloy_code,
    order_lines.c.quantity,
)  # fmt: skip

work_orders = Table(
    "work_orders",
    metadata,
    Column("work_order_id", String(80), primary_key=True),
    Column("order_id", String(64), nullable=False, default=""),
    _time("release_us"),
    _time("complete_us"),
    _time("cancel_us"),
    Column("imported", Boolean, nullable=False, default=False),
)
Index("ix_work_orders_release", work_orders.c.release_us)
Index("ix_work_orders_open", work_orders.c.complete_us, work_orders.c.cancel_us, work_orders.c.release_us)

operations = Table(
    "operations",
    metadata,
    # "workOrders/{id}/operations/{sequence}".
    Column("name", String(160), primary_key=True),
    Column("work_order_id", String(80), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("operation_code", String(40), nullable=False),
    # The work center's code ("" while none is assigned).
    Column("work_center", String(40), nullable=False),
    Column("alloy_code", String(40), nullable=False),
    Column("status", String(12), nullable=False),
    # The production service's version of the snapshot held (0: an imported fact).
    Column("version", BigInteger, nullable=False),
    _time("ready_us"),
    _time("start_us"),
    _time("finish_us"),
    # Where its time in progress ends (finished, paused now, cancelled; NULL: still going).
    _time("stop_us"),
    *_counts("paused_seconds", "weigh_in_mg", "weigh_out_mg", "scrap_mg", "loss_mg", "allowed_mg", "excess_mg"),
    Column("over_tolerance", Integer, nullable=False, default=0),
    Column("tolerance_per_mille", Integer, nullable=False, default=0),
    Column("finished_by", String(40), nullable=False, default=""),
    Column("imported", Boolean, nullable=False, default=False),
)
# The reads of operations finished, started, in progress or open, each through one (covering) index.
_o = operations.c
Index(
    "ix_operations_finish",
    _o.finish_us, _o.operation_code, _o.alloy_code, _o.work_center, _o.finished_by, _o.weigh_in_mg, _o.loss_mg,
    _o.allowed_mg, _o.excess_mg, _o.over_tolerance, _o.start_us, _o.ready_us, _o.paused_seconds,
)  # fmt: skip
Index("ix_operations_start", _o.start_us, _o.work_center, _o.ready_us)
Index("ix_operations_stop", _o.stop_us, _o.start_us, _o.work_center, _o.paused_seconds)
Index("ix_operations_status", _o.status, _o.work_center)
Index("ix_operations_imported", _o.imported)

# Every transition of an operation into READY seen (the ready time is derived from them).
operation_ready = Table(
    "operation_ready",
    metadata,
    Column("name", String(160), primary_key=True),
    Column("ready_us", BigInteger, primary_key=True),
)

custody = Table(
    "custody",
    metadata,
    Column("entry_id", String(64), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("holder", String(120), nullable=False),
    # The holder the entry counts for (a return: the holder it came from).
    Column("party", String(120), nullable=False),
    Column("material_code", String(40), nullable=False),
    _count("weight_mg"),
    Column("operator_code", String(40), nullable=False, default=""),
    Column("at_us", BigInteger, nullable=False),
)
Index("ix_custody_party", custody.c.party, custody.c.material_code, custody.c.at_us)

# Issued, returned and lost per holder (as counted: ``party``) and material, summed as entries arrive.
custody_balances = Table(
    "custody_balances",
    metadata,
    Column("party", String(120), primary_key=True),
    Column("material_code", String(40), primary_key=True),
    *_counts("issued_mg", "returned_mg", "lost_mg", "pending_mg"),
)
Index("ix_custody_balances_pending", custody_balances.c.pending_mg)

alloys = Table(
    "alloys",
    metadata,
    Column("alloy_code", String(40), primary_key=True),
    Column("fineness", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
)

calendars = Table(
    "calendars",
    metadata,
    Column("work_center", String(40), primary_key=True),
    Column("time_zone", String(64), nullable=False),
    # "weekday HH:MM HH:MM" per window, separated by ";".
    Column("windows", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)

usage_minutes = Table(
    "usage_minutes",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False),
    Column("instance", String(120), nullable=False),
    Column("minute_us", BigInteger, nullable=False),
    *_counts("requests", "throttled", "rate_limited", "cost_used", "cost_capacity"),
    *_counts("errors_4xx", "errors_5xx", "latency_ms_sum", "latency_ms_max"),
    *_latency(),
    Column("latency_bounds", Text, nullable=False),
    *_counts("submissions", "replays", "key_reused"),
)
Index("ix_usage_minutes_minute", usage_minutes.c.minute_us, usage_minutes.c.partner_id)
Index("ix_usage_minutes_partner", usage_minutes.c.partner_id, usage_minutes.c.minute_us)

#: The usage minutes' rollup grain: a quarter of an hour (every zone's offset is a multiple of it).
USAGE_QUARTER_US = 15 * 60 * 1_000_000

# The usage minutes summed per partner, quarter hour (its start) and histogram bounds, kept by the
# projection as minutes are inserted (migration 0002): window reads sum the whole quarters here
# and the minutes at the window's ragged ends.
usage_quarters = Table(
    "usage_quarters",
    metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("quarter_us", BigInteger, primary_key=True),
    Column("latency_bounds", Text, primary_key=True),
    *_counts("requests", "throttled", "rate_limited", "cost_used", "errors_4xx", "errors_5xx", "latency_ms_max"),
    *_latency(),
    *_counts("submissions", "replays", "key_reused"),
)
Index("ix_usage_quarters_quarter", usage_quarters.c.quarter_us)

# The cost capacity of a partner's minute: the largest any replica reported (migration 0002).
usage_capacities = Table(
    "usage_capacities",
    metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("minute_us", BigInteger, primary_key=True),
    _count("capacity"),
)
Index(
    "ix_usage_capacities_minute",
    usage_capacities.c.minute_us,
    usage_capacities.c.partner_id,
    usage_capacities.c.capacity,
)

usage_operations = Table(
    "usage_operations",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("operation", String(120), primary_key=True),
    Column("partner_id", String(64), nullable=False),
    Column("minute_us", BigInteger, nullable=False),
    *_counts("requests", "errors"),
    # The minute's longest request (the operation's own is not reported).
    _count("latency_ms_max"),
    *_latency(),
    Column("latency_bounds", Text, nullable=False),
)
Index("ix_usage_operations_minute", usage_operations.c.minute_us, usage_operations.c.partner_id)

usage_errors = Table(
    "usage_errors",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False),
    Column("minute_us", BigInteger, nullable=False),
    _count("count"),
)
Index("ix_usage_errors_minute", usage_errors.c.minute_us, usage_errors.c.partner_id)

# The last stream sequence applied per stream, and the latest event time seen.
stream_positions = Table(
    "stream_positions",
    metadata,
    Column("stream", String(40), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    _time("last_event_us"),
)

infra = add_infrastructure_tables(metadata)
