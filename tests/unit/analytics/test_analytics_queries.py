"""The analytics use cases over fakes of their ports: empty windows, zero denominators, percentiles
only from five values, who may ask what, window checks, import bounds and rebuilds by request id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mes_kernel.deps import Deps
from mes_kernel.errors import InvalidArgument, PermissionDenied
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from services.analytics.domain.facts import OperationSnapshot, OperationStatus, OrderRecord
from services.analytics.domain.stats import Ranked
from services.analytics.domain.timeline import Grain
from services.analytics.service_layer.commands import (
    AnalyticsPolicy,
    FlowQuery,
    ImportFacts,
    MetalQuery,
    PartnerQuery,
    Rebuild,
    WindowSpec,
)
from services.analytics.service_layer.flow import FlowAnalyticsService
from services.analytics.service_layer.maintenance import MAX_IMPORT, MaintenanceService
from services.analytics.service_layer.metal import MetalAnalyticsService
from services.analytics.service_layer.partners import PartnerAnalyticsService
from services.analytics.service_layer.ports import HistogramRow, LittleSums, LossRow, StatusCounts, StepRanks, UsageRow

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
STAFF = Principal("operator", "SUP-01")
ACME = Principal("service", "facade", partner_id="acme")
STREAMS = ("ORDERS", "PRODUCTION", "INVENTORY", "FACADE")
WEEK = WindowSpec(NOW - timedelta(days=7), NOW, Grain.DAY)
HOUR_US = 3_600_000_000


#: The reads that answer a mapping.
_MAPPINGS = frozenset(
    {"positions", "fineness", "last_submissions", "queue_means", "lead_times", "step_times", "capacities",
     "submission_gaps"}
)  # fmt: skip


class FakeReader:
    """Answers every read with nothing, unless a test set ``rows[name]``."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def read(*args: Any) -> Any:
            self.calls.append((name, args))
            if name in self.rows:
                return self.rows[name]
            if name in _MAPPINGS:
                return {}
            if name == "status_counts":
                return StatusCounts(0, 0, 0, 0, 0, 0, None)
            if name == "little_sums":
                return LittleSums(0, 0, 0, 0, 0)
            return []

        return read


@dataclass
class FakeFacts:
    cleared: list[bool] = field(default_factory=list)
    merged: list[Any] = field(default_factory=list)

    async def clear(self, *, keep_imported: bool, consumers: Any) -> None:
        self.cleared.append(keep_imported)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        async def merge(fact: Any) -> None:
            self.merged.append((name, fact))

        return merge


@dataclass
class FakeRebuilds:
    done: dict[str, str] = field(default_factory=dict)

    async def seen(self, request_id: str, fingerprint: str) -> bool:
        return request_id in self.done

    async def record(self, request_id: str, fingerprint: str) -> None:
        self.done[request_id] = fingerprint


@dataclass
class FakeUow:
    reader: FakeReader
    facts: FakeFacts
    rebuilds: FakeRebuilds

    async def emit(self, event: object, *, causation_id: str | None = None) -> None:
        raise AssertionError("the analytics emit no events")


class FakeUows:
    def __init__(self) -> None:
        self.uow = FakeUow(FakeReader(), FakeFacts(), FakeRebuilds())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[FakeUow]:
        yield self.uow

    write = read

    async def transact(self, fn: Callable[[FakeUow], Awaitable[Any]], *, attempts: int = 4) -> Any:
        return await fn(self.uow)


class FakeReplay:
    def __init__(self) -> None:
        self.replays = 0

    async def replay_all(self) -> None:
        self.replays += 1


@pytest.fixture
def uows() -> FakeUows:
    return FakeUows()


def services(uows: FakeUows) -> tuple[Any, ...]:
    deps = Deps(uows, PageTokens(b"unit"), clock=lambda: NOW)
    policy = AnalyticsPolicy(UTC, STREAMS, ("analytics-orders",))
    replay = FakeReplay()
    return (
        PartnerAnalyticsService(deps, policy),  # type: ignore[arg-type]
        FlowAnalyticsService(deps, policy),  # type: ignore[arg-type]
        MetalAnalyticsService(deps, policy),  # type: ignore[arg-type]
        MaintenanceService(deps, policy, replay),  # type: ignore[arg-type]
        replay,
    )


async def test_analytics_an_empty_window_answers_zeros_and_every_stream_position(uows: FakeUows) -> None:
    partners, flow, metal, _maintenance, _replay = services(uows)
    answer = await partners.get(PartnerQuery(STAFF, WEEK))
    assert answer.as_of.positions == tuple((s, 0) for s in STREAMS)
    assert answer.as_of.compute_time == NOW
    assert (answer.volume, answer.mix, answer.cancellation, answer.cadence, answer.api_usage) == ([], [], [], [], [])
    (lead,) = answer.lead_time
    assert (lead.partner_id, lead.n, lead.percentiles) == ("", 0, None)
    (delivery,) = answer.delivery
    assert (delivery.partner_id, delivery.shipped, delivery.on_time, delivery.otd) == ("", 0, 0, 0.0)
    floor = await flow.get(FlowQuery(STAFF, WEEK))
    assert [(b.up_to_hours, b.work_orders) for b in floor.wip_aging] == [(24, 0), (72, 0), (168, 0), (0, 0)]
    assert (floor.value_stream, floor.work_centers, floor.utilisation) == ([], [], [])
    little = floor.littles_law
    assert (little.mean_wip, little.throughput_per_day, little.deviation, little.steady, little.completed) == (
        0.0, 0.0, 0.0, True, 0
    )  # fmt: skip
    loss = await metal.get(MetalQuery(STAFF, WEEK))
    assert (loss.by_operation, loss.by_operator, loss.trend, loss.custody) == ([], [], [], [])


async def test_analytics_zero_denominators_give_zero_ratios(uows: FakeUows) -> None:
    partners, _flow, metal, *_ = services(uows)
    r = uows.uow.reader
    r.rows["usage"] = [usage_row(cost_used=40)]
    r.rows["loss_by_operation"] = [LossRow("SET", "AU750Y", 1, 0, 0, 0, 0, 0)]
    answer = await partners.get(PartnerQuery(STAFF, WEEK))
    (usage,) = answer.api_usage
    assert (usage.throttle_rate, usage.cost_capacity, usage.cost_utilisation) == (0.0, 0, 0.0)
    assert (usage.error_rate_4xx, usage.error_rate_5xx, usage.latency) == (0.0, 0.0, None)
    assert answer.idempotency[0].replay_rate == 0.0
    (row,) = (await metal.get(MetalQuery(STAFF, WEEK))).by_operation
    assert (row.loss_pct, row.loss_fine_mg) == (0.0, 0)  # no weigh-in, and no fineness known


def usage_row(
    *, requests: int = 0, cost_used: int = 0, counts: tuple[int, ...] = (), top: int = 0, submissions: int = 0,
    replays: int = 0,
) -> UsageRow:  # fmt: skip
    histogram = HistogramRow("acme", 0, counts, (10.0, 100.0), top)
    return UsageRow("acme", 0, requests, 0, 0, cost_used, 0, 0, submissions, replays, 0, histogram)


def every_rank(values: list[float]) -> Ranked:
    return Ranked(len(values), dict(enumerate(sorted(values))))


async def test_analytics_percentiles_from_five_values_on(uows: FakeUows) -> None:
    partners, flow, *_ = services(uows)
    r = uows.uow.reader
    r.rows["lead_times"] = {
        "acme": every_rank([h * HOUR_US for h in (10, 20, 30, 40)]),
        "": every_rank([h * HOUR_US for h in (5, 10, 20, 30, 40)]),
    }
    answer = await partners.get(PartnerQuery(STAFF, WEEK))
    by_partner = {x.partner_id: x for x in answer.lead_time}
    assert (by_partner["acme"].n, by_partner["acme"].percentiles) == (4, None)
    assert by_partner[""].n == 5
    assert by_partner[""].percentiles == pytest.approx((20.0, 34.0, 38.0))  # of 5, 10, 20, 30, 40
    assert [x.partner_id for x in (await partners.get(PartnerQuery(ACME, WEEK))).lead_time] == ["acme"]
    minute = 60_000_000
    queues, touches = [q * minute for q in range(4)], [(30 * minute - 60_000_000) for _ in range(4)]
    r.rows["step_times"] = {"CAST": StepRanks(every_rank(queues), every_rank(touches))}
    (step,) = (await flow.get(FlowQuery(STAFF, WEEK))).value_stream
    assert (step.operation_code, step.n, step.percentiles) == ("CAST", 4, None)
    r.rows["step_times"] = {"CAST": StepRanks(every_rank([*queues, 4 * minute]), every_rank([*touches, 30 * minute]))}
    (step,) = (await flow.get(FlowQuery(STAFF, WEEK))).value_stream
    assert step.percentiles == pytest.approx((2.0, 3.4, 29.0, 29.4))


async def test_analytics_latency_needs_five_requests_and_sums_replicas(uows: FakeUows) -> None:
    partners, *_ = services(uows)
    r = uows.uow.reader
    r.rows["usage"] = [
        usage_row(requests=2, counts=(1, 1, 0), top=150, submissions=3, replays=1),
        usage_row(requests=3, counts=(0, 1, 2), top=400, submissions=1),
    ]
    r.rows["capacities"] = {("acme", 0): 6000}
    answer = await partners.get(PartnerQuery(STAFF, WEEK))
    (usage,) = answer.api_usage
    assert (usage.requests, usage.cost_capacity, usage.latency) == (5, 6000, (100.0, 400.0))  # ranks 3, 5 of [1, 2, 2]
    assert [(i.submissions, i.replays, i.replay_rate) for i in answer.idempotency] == [(4, 1, 0.25)]


async def test_analytics_a_partner_sees_only_itself_and_no_floor(uows: FakeUows) -> None:
    partners, flow, metal, maintenance, _ = services(uows)
    await partners.get(PartnerQuery(ACME, WEEK))
    assert all(args[-1] == "acme" for name, args in uows.uow.reader.calls if name == "volume")
    with pytest.raises(PermissionDenied):
        await partners.get(PartnerQuery(ACME, WEEK, partner_id="other"))
    for call in (flow.get(FlowQuery(ACME, WEEK)), metal.get(MetalQuery(ACME, WEEK))):
        with pytest.raises(PermissionDenied):
            await call
    with pytest.raises(PermissionDenied):
        await maintenance.rebuild(Rebuild(ACME))


@pytest.mark.parametrize(
    ("window", "fields"),
    [
        (WindowSpec(None, None), ["window.from_time", "window.to_time"]),
        (WindowSpec(NOW, NOW), ["window.to_time"]),
        (WindowSpec(NOW, NOW - timedelta(hours=1)), ["window.to_time"]),
        (WindowSpec(NOW - timedelta(days=401), NOW, Grain.DAY), ["window.grain"]),
        (WindowSpec(NOW - timedelta(hours=401), NOW, Grain.HOUR), ["window.grain"]),
    ],
)
async def test_analytics_refuses_bad_windows(uows: FakeUows, window: WindowSpec, fields: list[str]) -> None:
    partners, flow, metal, *_ = services(uows)
    for call in (
        partners.get(PartnerQuery(STAFF, window)),
        flow.get(FlowQuery(STAFF, window)),
        metal.get(MetalQuery(STAFF, window)),
    ):
        with pytest.raises(InvalidArgument) as caught:
            await call
        assert [v.field for v in caught.value.violations] == fields


async def test_analytics_refuses_a_malformed_partner_id(uows: FakeUows) -> None:
    partners, *_ = services(uows)
    with pytest.raises(InvalidArgument) as caught:
        await partners.get(PartnerQuery(STAFF, WEEK, partner_id="acme/../x"))
    assert [v.field for v in caught.value.violations] == ["partner_id"]


async def test_analytics_imports_derive_work_orders_and_are_bounded(uows: FakeUows) -> None:
    *_, maintenance, _replay = services(uows)
    t0 = NOW - timedelta(days=3)
    order = OrderRecord("o1", "acme", submit_at=t0, cancel_at=t0 + timedelta(hours=5), imported=True)
    ops = tuple(
        OperationSnapshot(f"workOrders/w1/operations/{i}", "w1", "o1", "CAST", "CAST-1", "AU750Y", status, 0,
                          finish_at=t0 + timedelta(hours=i), release_at=t0 + timedelta(hours=1), imported=True)
        for i, status in ((1, OperationStatus.FINISHED), (2, OperationStatus.CANCELLED))
    )  # fmt: skip
    assert await maintenance.import_facts(ImportFacts(STAFF, (order,), ops)) == (1, 2)
    (work_order,) = [wo for name, batch in uows.uow.facts.merged if name == "merge" for wo in batch.work_orders]
    assert (work_order.release_at, work_order.complete_at, work_order.cancel_at) == (
        t0 + timedelta(hours=1), None, t0 + timedelta(hours=5)
    )  # fmt: skip
    with pytest.raises(InvalidArgument) as caught:
        await maintenance.import_facts(ImportFacts(STAFF, (order,) * (MAX_IMPORT + 1), ()))
    assert [v.field for v in caught.value.violations] == ["orders"]


async def test_analytics_a_rebuild_runs_once_per_request_id(uows: FakeUows) -> None:
    *_, maintenance, replay = services(uows)
    await maintenance.rebuild(Rebuild(STAFF, keep_imported=True, request_id="r-1"))
    await maintenance.rebuild(Rebuild(STAFF, keep_imported=True, request_id="r-1"))
    assert (uows.uow.facts.cleared, replay.replays) == ([True], 1)
    await maintenance.rebuild(Rebuild(STAFF))
    await maintenance.rebuild(Rebuild(STAFF))
    assert (uows.uow.facts.cleared, replay.replays) == ([True, False, False], 3)
    with pytest.raises(InvalidArgument):
        await maintenance.rebuild(Rebuild(STAFF, request_id=" padded "))
