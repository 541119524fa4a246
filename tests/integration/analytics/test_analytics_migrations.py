"""Migration 0002 of the analytics store, on SQLite and PostgreSQL: the usage minutes stored before
it are summed into their quarter hours and their minutes' capacities, as the projection sums the
minutes it inserts afterwards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from mes_platform.db import Database
from mes_platform.migrations import upgrade
from services.analytics.adapters import tables as t
from services.analytics.bootstrap import SPEC

_MINUTE_US = 60_000_000
#: 2026-03-31 09:00 UTC, a quarter hour's start.
_QUARTER_US = 1_774_947_600_000_000
_BOUNDS = ("1,10,100", "1,10")


def _minute(event: str, partner: str, instance: str, minute: int, bounds: str, n: int) -> dict[str, Any]:
    return {
        "event_id": event,
        "partner_id": partner,
        "instance": instance,
        "minute_us": _QUARTER_US + minute * _MINUTE_US,
        "requests": n,
        "throttled": n // 2,
        "rate_limited": 1,
        "cost_used": 10 * n,
        "cost_capacity": 100 + n,
        "errors_4xx": n % 3,
        "errors_5xx": n % 2,
        "latency_ms_sum": 7 * n,
        "latency_ms_max": 3 * n,
        **{f"lat_{i}": (n + i if i < 4 else 0) for i in range(t.LATENCY_SLOTS)},
        "latency_bounds": bounds,
        "submissions": n,
        "replays": n // 3,
        "key_reused": n // 4,
    }


async def test_analytics_migration_sums_the_stored_usage_minutes(db_url: str) -> None:
    minutes = [  # two replicas, two quarters (minutes 0-14 and 15-29), two histograms, two partners
        _minute("e1", "aurora", "r1", 0, _BOUNDS[0], 5),
        _minute("e2", "aurora", "r2", 0, _BOUNDS[0], 8),
        _minute("e3", "aurora", "r1", 14, _BOUNDS[1], 3),
        _minute("e4", "aurora", "r1", 15, _BOUNDS[0], 11),
        _minute("e5", "gemco", "r2", 29, _BOUNDS[0], 2),
    ]
    await upgrade(SPEC.migrations, db_url, "analytics", "0001")
    db = Database(db_url, schema="analytics")
    try:
        async with db.write() as s:
            await s.execute(insert(t.usage_minutes), minutes)
        await upgrade(SPEC.migrations, db_url, "analytics")
        async with db.read() as s:
            quarters = {
                (row.partner_id, row.quarter_us, row.latency_bounds): row._asdict()
                for row in (await s.execute(select(t.usage_quarters))).all()
            }
            capacities = {(p, m): c for p, m, c in (await s.execute(select(t.usage_capacities))).all()}
    finally:
        await db.dispose()

    expected: dict[tuple[str, int, str], dict[str, Any]] = {}
    for m in minutes:
        key = (m["partner_id"], m["minute_us"] - m["minute_us"] % t.USAGE_QUARTER_US, m["latency_bounds"])
        row = expected.setdefault(key, {"partner_id": key[0], "quarter_us": key[1], "latency_bounds": key[2]})
        sums = [c.name for c in t.usage_quarters.c if c.name not in ("partner_id", "quarter_us", "latency_bounds")]
        for name in sums:
            row[name] = max(row.get(name, 0), m[name]) if name == "latency_ms_max" else row.get(name, 0) + m[name]
    assert quarters == expected
    assert len(quarters) == 4
    assert capacities == {
        ("aurora", _QUARTER_US): 108,  # the larger of the two replicas' minute
        ("aurora", _QUARTER_US + 14 * _MINUTE_US): 103,
        ("aurora", _QUARTER_US + 15 * _MINUTE_US): 111,
        ("gemco", _QUARTER_US + 29 * _MINUTE_US): 102,
    }
