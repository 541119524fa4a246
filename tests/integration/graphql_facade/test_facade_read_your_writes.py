"""Read-your-writes through GraphQL on two facade replicas that share nothing but what the caller
carries: the services write on a real PostgreSQL primary and read on its streaming replica, which
applies commits 300 ms late. A mutation's answer carries the caller's database positions (header
``x-mes-db-position`` and cookie ``mes_pos``); sent to the other facade, they make its backend reads
see the write and bypass its response cache's older answer. A partner's write-then-read pairs through
alternating facades read nothing stale, while the same pairs without the header do. A value the
facade did not issue to the caller is a 400 in the header and ignored in the cookie."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients import MesClients
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.read_your_writes import POSITION_COOKIE, POSITION_HEADER
from graphql_facade.schema.floor import FloorTiles, FloorWorkCenter, WorkCenterUpdated, floor_feed
from graphql_facade.schema.production import WorkCenterState
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts.events import WORK_CENTER_CHANGED
from mes_platform.config import ServiceSettings
from tests._infra.pg_replica import ReplicatedPostgres
from tests.integration.graphql_facade.conftest import Facades, facade_app
from tests.integration.graphql_facade.facade_stack import (
    ALLOY,
    OPERATOR,
    STYLE,
    Stack,
    create_partner,
    seed_catalogue,
    service_settings,
    start_services,
)

LAG_MS = 300
PAIRS = 40
CENTER = "query($id: ID!) { workCenter(id: $id) { state stateReason } }"
BLOCK = "mutation($id: ID!, $reason: String!) { blockWorkCenter(id: $id, reason: $reason) { state stateReason } }"
SUBMIT = """mutation($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { order { id } } }"""
ORDER = "query($id: ID!) { order(id: $id) { id partnerReference } }"


@pytest.fixture
def pair(make_replicated_postgres: Callable[[], ReplicatedPostgres]) -> ReplicatedPostgres:
    return make_replicated_postgres()


@pytest.fixture
async def stack(pair: ReplicatedPostgres, tmp_path: Path) -> AsyncIterator[Stack]:
    """The three services, each on its own database of one primary, reading on its replica (lagging)."""

    def settings(service: str) -> ServiceSettings:
        writer_url, reader_url = pair.urls(pair.create_database())
        return service_settings(service, tmp_path, writer_url, reader_url)

    services = await start_services(settings)
    try:
        await asyncio.to_thread(pair.wait_replayed)  # the schemas, on the replica too
        await seed_catalogue(services)
        await asyncio.to_thread(pair.wait_replayed)
        # healthy (a probe before the database reached it failed)
        for app in (services.orders, services.inventory, services.production):
            assert app.db.router is not None and await app.db.router.probe_once()
        await asyncio.to_thread(pair.set_apply_delay, LAG_MS)
        yield services
    finally:
        await services.aclose()


def two_facades(stack: Stack) -> Any:
    settings = stack.facade_settings(MES_FACADE_SESSION_COOKIE_SECURE="0")
    return _both(facade_app(settings), facade_app(settings))


class _both:
    def __init__(self, *apps: Any) -> None:
        self._apps = apps

    async def __aenter__(self) -> tuple[Facades, Facades]:
        first = await self._apps[0].__aenter__()
        try:
            second = await self._apps[1].__aenter__()
        except BaseException:
            await self._apps[0].__aexit__(None, None, None)
            raise
        return first, second

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._apps[1].__aexit__(*exc)
        finally:
            await self._apps[0].__aexit__(*exc)


async def partner_key(stack: Stack, pair: ReplicatedPostgres, partner_id: str) -> dict[str, str]:
    """A new partner's key, once the replica has it (another caller's write: no position covers it)."""
    key = await create_partner(stack, partner_id)
    await asyncio.to_thread(pair.wait_replayed)
    return {"X-API-Key": key}


def forget_cookies(*facades: Facades) -> None:
    """The test's HTTP clients keep cookies like a browser; a caller that carries only the header forgets them."""
    for facade in facades:
        facade.http.cookies.clear()


def center(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert "errors" not in body, body
    shown = body["data"]["workCenter"]
    return shown["state"], shown["stateReason"]


def order_input(reference: str) -> dict[str, Any]:
    return {
        "partnerReference": reference,
        "dueTime": "2031-06-01T12:00:00+00:00",
        "lines": [{"styleCode": STYLE, "alloyCode": ALLOY, "quantity": 1, "size": "52"}],
    }


async def test_an_operators_write_is_read_on_the_other_facade_with_the_cookie(stack: Stack) -> None:
    async with two_facades(stack) as (a, b):
        for facade in (a, b):  # both have the work center cached as it is now
            warm = await facade.gql(CENTER, {"id": "CAST-1"})
            assert center(warm) == ("IDLE", "")
            assert "set-cookie" not in warm.headers and POSITION_HEADER not in warm.headers  # nothing written
        blocked = await a.gql(BLOCK, {"id": "CAST-1", "reason": "kiln down"})
        assert blocked.json()["data"]["blockWorkCenter"] == {"state": "BLOCKED", "stateReason": "kiln down"}
        value = blocked.headers[POSITION_HEADER]
        cookie = blocked.headers["set-cookie"]
        assert cookie.startswith(f"{POSITION_COOKIE}={value};")
        assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}
        forget_cookies(a, b)
        # Without the cookie, b answers from its cache (no events here to mark it stale)...
        assert center(await b.gql(CENTER, {"id": "CAST-1"})) == ("IDLE", "")
        # ...with it, the cached answer is older than the caller's write: computed afresh, the write seen.
        with_cookie = {**OPERATOR, "Cookie": f"{POSITION_COOKIE}={value}"}
        assert center(await b.gql(CENTER, {"id": "CAST-1"}, headers=with_cookie)) == ("BLOCKED", "kiln down")
        # b stored that answer: now every caller gets it from b's cache.
        assert center(await b.gql(CENTER, {"id": "CAST-1"})) == ("BLOCKED", "kiln down")


async def test_a_kept_work_center_list_is_not_read_by_a_caller_that_just_wrote(stack: Stack) -> None:
    """The facade keeps the work-center list while its event source is live (5 s, forgotten on work-center
    events): a caller whose write is newer than that list reads the list from the service itself."""
    hub = EventHub()
    settings = stack.facade_settings(MES_FACADE_SESSION_COOKIE_SECURE="0")
    async with facade_app(settings, hub=hub) as a, facade_app(settings) as b:
        hub.start_at({})  # live, but no event arrives here: the kept list stays until its TTL
        assert center(await a.gql(CENTER, {"id": "CAST-1"})) == ("IDLE", "")  # a keeps the list
        blocked = await b.gql(BLOCK, {"id": "CAST-1", "reason": "kiln down"})
        value = blocked.headers[POSITION_HEADER]
        with_position = {**OPERATOR, POSITION_HEADER: value}
        assert center(await a.gql(CENTER, {"id": "CAST-1"}, headers=with_position)) == ("BLOCKED", "kiln down")


async def test_a_partners_write_then_read_pairs_across_facades_read_nothing_stale(
    stack: Stack, pair: ReplicatedPostgres
) -> None:
    partner = await partner_key(stack, pair, "acme")
    async with two_facades(stack) as (a, b):
        position: str | None = None
        stale = 0
        for n in range(PAIRS):
            writer, reader = (a, b) if n % 2 == 0 else (b, a)
            headers = {**partner, **({POSITION_HEADER: position} if position else {})}
            submitted = await writer.gql(
                SUBMIT, {"input": order_input(f"PO-{n}"), "key": uuid.uuid4().hex}, headers=headers
            )
            order_id = submitted.json()["data"]["submitOrder"]["order"]["id"]
            position = submitted.headers[POSITION_HEADER]
            forget_cookies(a, b)
            read = await reader.gql(ORDER, {"id": order_id}, headers={**partner, POSITION_HEADER: position})
            stale += read.json()["data"]["order"] != {"id": order_id, "partnerReference": f"PO-{n}"}
        assert stale == 0
        # The lag is real: the same pairs without the header read the replica's older state.
        missed = 0
        for n in range(5):
            submitted = await a.gql(
                SUBMIT, {"input": order_input(f"LAG-{n}"), "key": uuid.uuid4().hex}, headers=partner
            )
            order_id = submitted.json()["data"]["submitOrder"]["order"]["id"]
            forget_cookies(a, b)
            missed += (await b.gql(ORDER, {"id": order_id}, headers=partner)).json()["data"]["order"] is None
        assert missed > 0


async def test_a_position_not_issued_to_the_caller(stack: Stack, pair: ReplicatedPostgres) -> None:
    acme = await partner_key(stack, pair, "acme")
    globex = await partner_key(stack, pair, "globex")
    async with two_facades(stack) as (a, _b):
        submitted = await a.gql(SUBMIT, {"input": order_input("PO-1"), "key": uuid.uuid4().hex}, headers=acme)
        acmes = submitted.headers[POSITION_HEADER]
        forget_cookies(a)
        for header in ("garbage", acmes):  # malformed; another caller's
            refused = await a.gql("{ orders(first: 1) { nodes { id } } }", headers={**globex, POSITION_HEADER: header})
            assert refused.status_code == 400
            error = refused.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert POSITION_HEADER in error["message"]
        # A cookie that does not open is ignored (the browser cannot fix it; the next write replaces it).
        listed = await a.gql(
            "{ orders(first: 1) { nodes { id } } }", headers={**globex, "Cookie": f"{POSITION_COOKIE}={acmes}"}
        )
        assert listed.status_code == 200 and listed.json()["data"]["orders"]["nodes"] == []


async def test_a_server_rendered_page_shows_the_operators_write_with_the_cookie(stack: Stack) -> None:
    """The first HTML response of a page reads as ``POST /graphql`` does: with the ``mes_pos`` cookie of the
    operator's write (made on the other facade), the page shows it, past the cached answer and the lag."""
    async with two_facades(stack) as (a, b):
        before = await b.http.get("/bench/CAST-1", headers=OPERATOR)  # b caches the page's answer
        assert '"state":"IDLE"' in before.text
        blocked = await a.gql(BLOCK, {"id": "CAST-1", "reason": "kiln down"})
        value = blocked.headers[POSITION_HEADER]
        forget_cookies(a, b)
        without = await b.http.get("/bench/CAST-1", headers=OPERATOR)
        assert '"state":"IDLE"' in without.text and "kiln down" not in without.text  # b's cached answer
        with_cookie = await b.http.get("/bench/CAST-1", headers={**OPERATOR, "Cookie": f"{POSITION_COOKIE}={value}"})
        assert '"state":"BLOCKED","stateReason":"kiln down"' in with_cookie.text
        # A position header that does not open is refused, as on POST /graphql.
        refused = await b.http.get("/bench/CAST-1", headers={**OPERATOR, POSITION_HEADER: "garbage"})
        assert refused.status_code == 400


def center_changed(seq: int, position: int) -> EventEnvelope:
    """The event of a change of CAST-1 as the facade gets it, with the relay's ``Mes-Commit-Lsn`` (0: none)."""
    changed = prod_ev.WorkCenterChangedEvent(work_center=prod.WorkCenter(code="CAST-1"))
    return EventEnvelope(
        stream="PRODUCTION",
        seq=seq,
        subject=WORK_CENTER_CHANGED.subject,
        data=changed.SerializeToString(),
        time=datetime.now(UTC),
        position=position,
    )


async def next_tile(updates: AsyncIterator[Any], code: str) -> FloorWorkCenter:
    while True:
        batch = await asyncio.wait_for(updates.__anext__(), 10)
        assert isinstance(batch, list), batch  # not a resync
        for update in batch:
            if isinstance(update, WorkCenterUpdated) and update.work_center.id == code:
                return update.work_center


async def test_the_floor_feed_reads_an_events_tiles_at_its_commit_position(stack: Stack) -> None:
    """The live floor is shared by every subscriber, so no caller's positions apply: each event carries the
    writer position of its commit (the relay's ``Mes-Commit-Lsn``), and the feed reads its tiles at it.
    With the replica 300 ms behind, a tile read at the event's position shows what the event says happened;
    without one, the replica still answers the state before it."""
    hub = EventHub()
    settings = stack.facade_settings(MES_FACADE_SESSION_COOKIE_SECURE="0")
    async with facade_app(settings, hub=hub), MesClients(stack.client_config()) as mes:
        hub.start_at({})
        updates = floor_feed(hub, FloorTiles(None, None, 60)).updates(None).__aiter__()  # type: ignore[arg-type]
        pending = asyncio.ensure_future(updates.__anext__())
        await asyncio.sleep(0)  # subscribed
        await mes.production.block_work_center("workCenters/CAST-1", reason="kiln down")
        position = mes.production.positions.get("production")
        assert position > 0
        hub.publish(center_changed(1, 0))  # no position: the tile is read where the replica is
        batch = await asyncio.wait_for(pending, 10)
        stale = next(u.work_center for u in batch if isinstance(u, WorkCenterUpdated))
        assert (stale.state, stale.state_reason) == (WorkCenterState.IDLE, "")
        hub.publish(center_changed(2, position))
        tile = await next_tile(updates, "CAST-1")
        assert (tile.state, tile.state_reason) == (WorkCenterState.BLOCKED, "kiln down")


async def test_an_answer_recomputed_after_an_event_is_read_at_the_events_position(stack: Stack) -> None:
    """An event makes the facade recompute what it touched: read where the replica is, the new answer could
    still be the old state (and be cached under the event). The request's reads honour the positions the
    facade's events carried, so the answer after the event shows it, for a caller that wrote nothing."""
    hub = EventHub()
    settings = stack.facade_settings(MES_FACADE_SESSION_COOKIE_SECURE="0")
    async with facade_app(settings, hub=hub) as a, MesClients(stack.client_config()) as mes:
        hub.start_at({})
        assert center(await a.gql(CENTER, {"id": "CAST-1"})) == ("IDLE", "")  # cached
        await mes.production.block_work_center("workCenters/CAST-1", reason="kiln down")
        position = mes.production.positions.get("production")
        hub.publish(center_changed(1, position))  # the cached answer is stale now
        assert center(await a.gql(CENTER, {"id": "CAST-1"})) == ("BLOCKED", "kiln down")
