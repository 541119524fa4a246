"""The analytics against a brute-force oracle, on SQLite (200 examples) and on PostgreSQL (40: its
reads take their own paths there, sorted arrays and SQL window functions): hypothesis draws histories (orders, work
orders, operations with pauses, losses, reviews and reworks, custody entries, alloys, calendars,
partners' usage minutes from two replicas), turns them into the real protobuf events, feeds them
through the real consumer handlers into a fresh store (in batches of one to eight events of one
stream as the platform's consumer applies them, inbox rows included; some events delivered twice,
some delivered again after their inbox row was deleted as after its retention, streams interleaved
at random and each stream's events shuffled), asks the real query services, and compares every
figure with :class:`~tests.integration.analytics._oracle.Oracle`.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, tuple_

from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from mes_platform.db import Database
from mes_platform.messaging.events import EventContext
from mes_platform.messaging.inbox import insert_inbox_many
from mes_platform.migrations import upgrade
from mes_platform.uow import SqlUnitOfWorkFactory, begin_flat_batch, flat_batch_failed
from services.analytics.adapters import tables
from services.analytics.adapters.unit_of_work import AnalyticsUnitOfWork
from services.analytics.bootstrap import SPEC
from services.analytics.domain.timeline import Grain
from services.analytics.entrypoints.codec.messages import encode_event
from services.analytics.entrypoints.consumers import CONSUMED_STREAMS, consumer_specs
from services.analytics.service_layer.commands import (
    AnalyticsPolicy,
    FlowQuery,
    MetalQuery,
    PartnerQuery,
    StatusQuery,
    WindowSpec,
)
from services.analytics.service_layer.flow import FlowAnalyticsService
from services.analytics.service_layer.maintenance import MaintenanceService
from services.analytics.service_layer.metal import MetalAnalyticsService
from services.analytics.service_layer.partners import PartnerAnalyticsService
from services.analytics.service_layer.ports import NoReplay
from services.analytics.service_layer.projection import Projection
from tests._infra.postgres import PostgresAdmin
from tests.integration.analytics._figures import FLOW, METAL, PARTNER, ViewFigures
from tests.integration.analytics._history import NOW, History, Published, events_of, histories
from tests.integration.analytics._oracle import Oracle

_STAFF = Principal("service", "oracle-test")
_FACT_TABLES = [t for t in tables.metadata.sorted_tables if t.name not in ("outbox", "dead_letters")]


@dataclass
class _Store:
    """One database for every example (emptied before each), migrated once, and the event loop
    every example runs on."""

    runner: asyncio.Runner
    db: Database


def _migrated(url: str) -> Iterator[_Store]:
    with asyncio.Runner() as runner:
        runner.run(upgrade(SPEC.migrations, url, "analytics"))
        db = Database(url, schema="analytics")
        try:
            yield _Store(runner, db)
        finally:
            runner.run(db.dispose())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Store]:
    path: Path = tmp_path_factory.mktemp("analytics-oracle") / "analytics.db"
    yield from _migrated(f"sqlite+aiosqlite:///{path}")


@pytest.fixture(scope="module")
def pg_store(postgres_admin: PostgresAdmin) -> Iterator[_Store]:
    name = postgres_admin.create_database()
    try:
        yield from _migrated(postgres_admin.url(name, "asyncpg"))
    finally:
        postgres_admin.drop_database(name)


def _close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), f"{where}: keys {sorted(map(str, set(actual) ^ set(expected)))}"
        for key in expected:
            _close(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}.{i}")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-7), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


class _Feed:
    """The consumers' handlers, applied as the platform's consumer applies a fetched batch."""

    def __init__(self, db: Database, uows: SqlUnitOfWorkFactory[AnalyticsUnitOfWork]) -> None:
        self.db = db
        self.routes: dict[str, tuple[str, Any]] = {}
        for spec in consumer_specs(uows, Projection()):  # type: ignore[arg-type]
            for subject, handler in spec.handlers_by_subject().items():
                self.routes[subject] = (spec.durable("analytics"), handler)

    def _context(self, event: Published, durable: str) -> EventContext:
        meta = event.message.meta  # type: ignore[attr-defined]
        return EventContext(event.event_type.subject, event.event_id, durable, 1, event.sequence, meta=meta)

    async def batch(self, chunk: list[Published]) -> None:
        durable = self.routes[chunk[0].event_type.subject][0]
        async with self.db.write() as session:
            begin_flat_batch(session)
            fresh = await insert_inbox_many(
                session,
                tables.infra.inbox,
                consumer=durable,
                events=[(e.event_id, e.event_type.subject) for e in chunk],
            )
            seen: set[str] = set()
            for event in chunk:
                if event.event_id not in fresh or event.event_id in seen:
                    continue
                seen.add(event.event_id)
                await self.routes[event.event_type.subject][1](session, event.message, self._context(event, durable))
                assert not flat_batch_failed(session)

    async def forget(self, chunk: list[Published]) -> None:
        """Delete the events' inbox rows, as the inbox's retention does."""
        inbox = tables.infra.inbox
        keys = [(self.routes[e.event_type.subject][0], e.event_id) for e in chunk]
        async with self.db.write() as session:
            result = await session.execute(delete(inbox).where(tuple_(inbox.c.consumer, inbox.c.event_id).in_(keys)))
        assert result.rowcount == len(set(keys)), "every event delivered again had its inbox row"  # type: ignore[attr-defined]


def _batches(events: list[Published], rnd: random.Random) -> list[list[Published]]:
    """The events in batches of one stream each, of 1 to 8 events as a consumer's fetch returns
    them: the streams interleaved at random, each stream's events in the (shuffled) order given."""
    queues: dict[str, list[Published]] = {}
    for event in events:
        queues.setdefault(event.stream, []).append(event)
    batches: list[list[Published]] = []
    while queues:
        stream = rnd.choice(sorted(queues))
        size = rnd.randint(1, 8)
        batches.append(queues[stream][:size])
        del queues[stream][:size]
        if not queues[stream]:
            del queues[stream]
    return batches


def _deliveries(published: list[Published], rnd: random.Random) -> tuple[list[list[Published]], list[Published]]:
    """The events shuffled, some twice (in one batch or in two), in batches; and events to deliver
    once more after their inbox row is gone."""
    order = published + [e for e in published if rnd.random() < 0.25]
    rnd.shuffle(order)
    again = [e for e in published if rnd.random() < 0.15]
    rnd.shuffle(again)
    return _batches(order, rnd), again


async def _run(db: Database, history: History, rnd: random.Random) -> None:
    async with db.write() as session:
        for table in reversed(_FACT_TABLES):
            await session.execute(delete(table))
    uows = SqlUnitOfWorkFactory(db, tables.infra, producer="analytics", make=AnalyticsUnitOfWork, encode=encode_event)  # type: ignore[arg-type]
    feed = _Feed(db, uows)
    published = events_of(history)
    batches, again = _deliveries(published, rnd)
    for batch in batches:
        await feed.batch(batch)
    if again:
        await feed.forget(again)
        for batch in _batches(again, rnd):
            await feed.batch(batch)

    deps = Deps(uows, PageTokens(b"oracle"), clock=lambda: NOW)
    streams = tuple(s.name for s in CONSUMED_STREAMS)
    policy = AnalyticsPolicy(ZoneInfo(history.zone), streams, ())
    start, end, grain = history.window
    window = WindowSpec(start, end, Grain(grain))
    partner = await PartnerAnalyticsService(deps, policy).get(PartnerQuery(_STAFF, window, history.partner or ""))  # type: ignore[arg-type]
    flow = await FlowAnalyticsService(deps, policy).get(FlowQuery(_STAFF, window))  # type: ignore[arg-type]
    metal = await MetalAnalyticsService(deps, policy).get(MetalQuery(_STAFF, window))  # type: ignore[arg-type]
    status = await MaintenanceService(deps, policy, NoReplay()).status(StatusQuery(_STAFF))  # type: ignore[arg-type]

    oracle = Oracle(history)
    figures = ViewFigures()
    _close(figures.shape(partner, PARTNER), oracle.partner(), "partner")
    _close(figures.shape(flow, FLOW), oracle.flow(), "flow")
    _close(figures.shape(metal, METAL), oracle.metal(), "metal")
    positions: dict[str, int] = {}
    for event in published:
        positions[event.stream] = max(positions.get(event.stream, 0), event.sequence)
    expected_positions = tuple((s, positions.get(s, 0)) for s in streams)
    for answer in (partner, flow, metal, status):
        assert answer.as_of.positions == expected_positions
        assert answer.as_of.compute_time == NOW
    counts = (status.orders, status.operations, status.custody_entries, status.usage_minutes)
    assert counts == oracle.status_counts()
    last: datetime | None = max((e.message.meta.occur_time.ToDatetime() for e in published), default=None)  # type: ignore[attr-defined]
    assert (status.last_event_time.replace(tzinfo=None) if status.last_event_time else None) == last
    assert (status.imported_orders, status.imported_operations) == (0, 0)


def _examples(n: int) -> Any:
    """Hypothesis' settings for ``n`` histories (each one is a whole store's worth of work)."""
    return settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


@_examples(200)
@given(history=histories(), rnd=st.randoms(use_true_random=False))
def test_analytics_match_the_oracle(store: _Store, history: History, rnd: random.Random) -> None:
    store.runner.run(_run(store.db, history, rnd))


@_examples(40)
@given(history=histories(), rnd=st.randoms(use_true_random=False))
def test_analytics_match_the_oracle_on_postgresql(pg_store: _Store, history: History, rnd: random.Random) -> None:
    pg_store.runner.run(_run(pg_store.db, history, rnd))
