"""The response cache through the HTTP endpoint: coalesced misses, stale answers while one
recomputation runs, narrow invalidation, read-your-writes, tenants kept apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from graphql_facade.events import EventEnvelope
from graphql_facade.response_cache import MIN_POSITION_HEADER
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_B,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

BOARD = "query Board($f: OrderFilter) { orders(first: 20, filter: $f) { nodes { id status } } }"
MINE = "{ orders(first: 10) { nodes { id partnerReference } } }"


@pytest.fixture
async def swr(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    """The facade with the shipped staleness bound: stale answers are served while one recomputes."""
    settings = facade_settings(MES_FACADE_CACHE_MAX_STALE_MS="1000", MES_FACADE_CACHE_REFRESH_INTERVAL_MS="0")
    async with running_app(backend, settings) as client:
        client.facade.hub.start_at({"ORDERS": 100, "INVENTORY": 0, "PRODUCTION": 0})
        yield client


def status_changed(seq: int, order: ords.Order, to: int) -> EventEnvelope:
    payload = ord_ev.OrderStatusChangedEvent(
        order_id=order.order_id,
        partner_id=order.partner.removeprefix("partners/"),
        from_status=order.status,
        to_status=to,
    )
    order.status = to  # what the service now answers
    return EventEnvelope("ORDERS", seq, ORDER_STATUS_CHANGED.subject, payload.SerializeToString(), datetime.now(UTC))


async def statuses(client: FacadeClient, variables: dict[str, object] | None = None) -> list[str]:
    body = (await client.gql(BOARD, variables)).json()
    return [node["status"] for node in body["data"]["orders"]["nodes"]]


async def test_concurrent_misses_of_one_board_make_one_backend_call(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    backend.delay["ListOrders"] = 0.2
    answers = await asyncio.gather(*(client.gql(BOARD) for _ in range(12)))
    assert backend.calls["ListOrders"] == 1
    assert len({a.content for a in answers}) == 1 and all(a.status_code == 200 for a in answers)


async def test_partners_waiting_for_one_computation_are_charged_its_measured_cost(
    client: FacadeClient, backend: FakeBackend
) -> None:
    backend.add_order("partner-a")
    backend.delay["ListOrders"] = 0.2
    answers = await asyncio.gather(*(client.gql(MINE, headers=PARTNER_A) for _ in range(4)))
    assert backend.calls["ListOrders"] == 1
    costs = {a.json()["extensions"]["cost"]["actualQueryCost"] for a in answers}
    assert costs == {3}


async def test_tenants_never_share_a_computation_or_an_answer(client: FacadeClient, backend: FakeBackend) -> None:
    a = backend.add_order("partner-a")
    b = backend.add_order("partner-b")
    backend.delay["ListOrders"] = 0.2
    answers = await asyncio.gather(
        *(client.gql(MINE, headers=headers) for headers in (PARTNER_A, PARTNER_B, PARTNER_A, PARTNER_B))
    )
    seen = [[n["id"] for n in answer.json()["data"]["orders"]["nodes"]] for answer in answers]
    assert seen == [[a.order_id], [b.order_id], [a.order_id], [b.order_id]]
    assert backend.calls["ListOrders"] == 2  # one per tenant
    keys = client.facade.responses.table.keys() if client.facade.responses else []
    assert sorted(k.split(":")[1:3] for k in keys) == [["partner", "partner-a"], ["partner", "partner-b"]]


async def test_a_touched_board_is_served_stale_while_one_recomputation_runs(
    swr: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    assert await statuses(swr) == ["SUBMITTED"]
    backend.delay["ListOrders"] = 0.2
    swr.facade.hub.publish(status_changed(101, order, ords.ORDER_STATUS_ACCEPTED))
    during = [await statuses(swr) for _ in range(5)]  # each answered at once, from the stale entry
    assert during == [["SUBMITTED"]] * 5
    await asyncio.sleep(0.3)
    assert await statuses(swr) == ["ACCEPTED"]
    assert backend.calls["ListOrders"] == 2  # the first computation and one recomputation


async def test_an_event_does_not_touch_boards_that_cannot_show_its_order(
    swr: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    backend.add_order("partner-b", status=ords.ORDER_STATUS_SHIPPED)
    other_partner = {"f": {"partnerId": "partner-b"}}
    shipped = {"f": {"statuses": ["SHIPPED"]}}
    for variables in (other_partner, shipped, None):
        await statuses(swr, variables)
    swr.facade.hub.publish(status_changed(101, order, ords.ORDER_STATUS_ACCEPTED))
    calls = backend.calls["ListOrders"]
    assert await statuses(swr, other_partner) == ["SHIPPED"]
    assert await statuses(swr, shipped) == ["SHIPPED"]
    assert backend.calls["ListOrders"] == calls  # both still fresh: answered without the service
    await statuses(swr)  # the unfiltered board was touched: stale, recomputed in the background
    await asyncio.sleep(0.05)
    assert backend.calls["ListOrders"] == calls + 1


async def test_a_request_with_newer_positions_bypasses_the_cached_answer(
    swr: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    await statuses(swr)
    order.status = ords.ORDER_STATUS_ACCEPTED  # written; its event has not reached this replica yet

    async def board(position: str) -> list[str]:
        answer = await swr.http.post(
            "/graphql", json={"query": BOARD}, headers={**OPERATOR, MIN_POSITION_HEADER: position}
        )
        return [n["status"] for n in answer.json()["data"]["orders"]["nodes"]]

    assert await board("ORDERS:100") == ["SUBMITTED"]  # the entry reflects ORDERS:100
    assert await board("ORDERS:101") == ["ACCEPTED"]  # newer than the entry and than the replica: bypassed
    assert await statuses(swr) == ["ACCEPTED"]  # the fresh answer replaced the entry
    bad = await swr.http.post("/graphql", json={"query": BOARD}, headers={**OPERATOR, MIN_POSITION_HEADER: "101"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert MIN_POSITION_HEADER in bad.json()["errors"][0]["message"]


async def test_partner_stale_hits_are_refunded_like_hits(swr: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_SUBMITTED)
    first = (await swr.gql(MINE, headers=PARTNER_A)).json()["extensions"]["cost"]
    swr.facade.hub.publish(status_changed(101, order, ords.ORDER_STATUS_ACCEPTED))
    stale = (await swr.gql(MINE, headers=PARTNER_A)).json()["extensions"]["cost"]
    assert stale["actualQueryCost"] == first["actualQueryCost"] == 3


async def test_with_caching_off_nothing_is_coalesced(backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        await asyncio.gather(*(client.gql(BOARD) for _ in range(3)))
    assert backend.calls["ListOrders"] == 3
