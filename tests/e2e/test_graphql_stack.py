"""The GraphQL facade against the running stack: `mes up` on free ports with the demo data, GraphQL
over HTTP (httpx) and graphql-transport-ws (real WebSockets), as partners and as an operator.

One stack serves the whole module. It runs with low limits for two tiers (environment variables
read by the facade), and the partners that flood are created here with those tiers, so the demo
partners (aurora-jewels PLUS, northwind-gems STANDARD) are never throttled by them:

* STANDARD: a 100-point bucket refilled at 5 points/s (max cost 100), so a query asking for 92
  points and using 15 is throttled on the second request;
* ENTERPRISE: 5 requests per minute, so the sixth request is rate limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import signal
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from clients.cli._watch import WatchOptions, watch
from mes.orders.v1 import orders_pb2
from mes_stack import demo_data
from tests._infra.ci import service_unavailable
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests.e2e._graphql import (
    AS_OF_POSITION,
    OPERATOR,
    OPERATOR_TOKEN,
    STATUS_SUBSCRIPTION,
    SUBMIT,
    WAIT_S,
    GraphQLStack,
    collect,
    gql,
    http_client,
    partner,
    post,
    readme_submit_bodies,
    status_events,
    subscribe,
    wait_for,
    ws_session,
)
from tests.e2e._stack import ROOT, stack_env, start_stack, stop_stack

LIMITS = {
    "MES_FACADE_LIMITS_STANDARD_BUCKET_CAPACITY": "100",
    "MES_FACADE_LIMITS_STANDARD_MAX_COST": "100",
    "MES_FACADE_LIMITS_STANDARD_RESTORE_RATE": "5",
    "MES_FACADE_LIMITS_ENTERPRISE_REQUESTS_PER_MINUTE": "5",
}
AURORA, NORTHWIND = "aurora-jewels", "northwind-gems"
ORDERS_QUERY = "{ orders(first: 10) { nodes { id status statusHistory { toStatus reason } } } }"  # the README's
ORDER_QUERY = "query($id: ID!) { order(id: $id) { id partnerReference status lines { styleCode quantity } } }"
AS_OF = "{ asOf { seq } }"
LEAKS = ("Traceback", "Exception", "grpc", "StatusCode", "sqlalchemy", 'File "')


@pytest.fixture(scope="module")
def gq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphQLStack]:
    if find_nats_server() is None:
        service_unavailable(NATS_MISSING)
    env = stack_env()
    env.update(LIMITS)
    stack = start_stack(tmp_path_factory.mktemp("graphql") / "var", env)
    try:
        yield GraphQLStack.of(stack)
    finally:
        stop_stack(stack)


def _new_order(reference: str, style: str = "RNG-BND-003", alloy: str = "AU585Y") -> dict[str, Any]:
    return {
        "partnerReference": reference,
        "dueTime": "2031-01-01T00:00:00Z",
        "priority": "NORMAL",
        "lines": [{"styleCode": style, "alloyCode": alloy, "quantity": 1, "size": "54"}],
    }


async def _submit(client: httpx.AsyncClient, gq: GraphQLStack, who: str, key: str, order: dict[str, Any]) -> str:
    result = await gql(client, gq.url, partner(gq.keys[who]), SUBMIT, {"k": key, "i": order})
    return str(result["data"]["submitOrder"]["order"]["id"])


async def _seq(client: httpx.AsyncClient, gq: GraphQLStack) -> int:
    """The ORDERS sequence the facade has folded in: subscribing with `since` it misses nothing after it."""
    return int((await gql(client, gq.url, OPERATOR, AS_OF))["data"]["asOf"]["seq"])


async def _position(client: httpx.AsyncClient, gq: GraphQLStack, who: str) -> str:
    """A partner's position (sealed to it): subscribing with it as `since` misses none of its later events."""
    return str((await gql(client, gq.url, partner(gq.keys[who]), AS_OF_POSITION))["data"]["asOf"]["position"])


def _about(lines: list[str], order_id: str) -> list[str]:
    return [line for line in lines if f" order={order_id} " in line]


def _no_leak(body: object) -> None:
    text = json.dumps(body)
    assert not any(word in text for word in LEAKS), text


async def test_healthz(gq: GraphQLStack) -> None:
    async with http_client() as client:
        response = await client.get(gq.health_url)
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["services"] == {"orders": True, "inventory": True, "production": True}
    assert health["events"]["connected"] is True


async def test_a_partner_submits_the_readme_orders_idempotently_and_reads_them_back(gq: GraphQLStack) -> None:
    key = partner(gq.keys[AURORA])
    async with http_client() as client:
        ids = []
        for body in readme_submit_bodies():
            first = await post(client, gq.url, key, body)
            assert first.status_code == 200, first.text
            submitted = first.json()["data"]["submitOrder"]
            assert submitted["replayed"] is False and submitted["order"]["status"] == "SUBMITTED"
            order_id = submitted["order"]["id"]
            ids.append(order_id)

            again = (await post(client, gq.url, key, body)).json()
            assert again["data"]["submitOrder"]["replayed"] is True
            assert again["data"]["submitOrder"]["order"]["id"] == order_id

            other = copy.deepcopy(body)
            other["variables"]["i"]["lines"][0]["quantity"] += 1
            reused = await post(client, gq.url, key, other)
            assert reused.status_code == 200
            error = reused.json()["errors"][0]
            assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED" and error["path"] == ["submitOrder"]
            _no_leak(reused.json())

            found = (await gql(client, gq.url, key, ORDER_QUERY, {"id": order_id}))["data"]["order"]
            wanted = body["variables"]["i"]
            assert found["partnerReference"] == wanted["partnerReference"]
            assert found["lines"] == [
                {"styleCode": line["styleCode"], "quantity": line["quantity"]} for line in wanted["lines"]
            ]

        listed = (await gql(client, gq.url, key, ORDERS_QUERY))["data"]["orders"]["nodes"]
        assert set(ids) <= {node["id"] for node in listed}
        for node in listed:
            assert node["statusHistory"][0]["toStatus"] == "SUBMITTED"

        # Another partner: the order is indistinguishable from a missing one.
        stranger = partner(gq.keys[NORTHWIND])
        assert (await gql(client, gq.url, stranger, ORDER_QUERY, {"id": ids[0]}))["data"]["order"] is None
        theirs = (await gql(client, gq.url, stranger, ORDERS_QUERY))["data"]["orders"]["nodes"]
        assert not set(ids) & {node["id"] for node in theirs}
        cancel = "mutation($id: ID!) { cancelOrder(id: $id) { id } }"
        missing = "01a21847-0000-7000-8000-000000000000"
        answers = [
            (await post(client, gq.url, stranger, {"query": cancel, "variables": {"id": i}})).json()["errors"][0]
            for i in (ids[0], missing)
        ]
        assert answers[0]["extensions"]["code"] == "NOT_FOUND"
        assert answers[0]["message"] == answers[1]["message"] and answers[0]["extensions"] == answers[1]["extensions"]


async def test_a_partner_follows_its_own_orders_live(gq: GraphQLStack) -> None:
    """Subscribed before submitting: SUBMITTED -> ACCEPTED -> IN_PRODUCTION of its own order only."""
    async with http_client() as client:
        positions = {who: await _position(client, gq, who) for who in (AURORA, NORTHWIND)}
        lines: list[str] = []
        # aurora-jewels through the watch tool's client, northwind-gems through a raw socket.
        follower = asyncio.create_task(
            watch(WatchOptions(url=gq.url, api_key=gq.keys[AURORA], since=positions[AURORA]), lines.append)
        )
        messages: list[dict[str, Any]] = []
        async with ws_session(gq.ws_url, {"apiKey": gq.keys[NORTHWIND]}) as ws:
            await subscribe(ws, "nw", STATUS_SUBSCRIPTION, {"since": positions[NORTHWIND]})
            reader = asyncio.create_task(collect(ws, messages))
            try:
                mine = await _submit(client, gq, AURORA, "live-aurora-1", _new_order("LIVE-A-1"))
                theirs = await _submit(client, gq, NORTHWIND, "live-northwind-1", _new_order("LIVE-N-1"))
                expected = [
                    f"order={mine} - -> SUBMITTED",
                    f"order={mine} SUBMITTED -> ACCEPTED materials reserved",
                    f"order={mine} ACCEPTED -> IN_PRODUCTION work orders released",
                ]
                await wait_for(
                    lambda: follower.done() or len(_about(lines, mine)) >= 3, f"aurora's transitions (got {lines})"
                )
                assert not follower.done(), f"the watch ended: {follower.exception()!r}"
                await wait_for(
                    lambda: (
                        [e["toStatus"] for e in status_events(messages, "nw") if e.get("orderId") == theirs]
                        == ["SUBMITTED", "ACCEPTED", "IN_PRODUCTION"]
                    ),
                    f"northwind's transitions (got {messages})",
                )
            finally:
                reader.cancel()
                follower.cancel()
                for task in (reader, follower):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        aurora_orders = await gql(client, gq.url, partner(gq.keys[AURORA]), "{ orders(first: 100) { nodes { id } } }")
        aurora_ids = {node["id"] for node in aurora_orders["data"]["orders"]["nodes"]}
    assert not any("RESYNC" in line for line in lines), lines
    seen_by_aurora = {line.split(" order=")[1].split()[0] for line in lines}
    assert mine in seen_by_aurora and seen_by_aurora <= aurora_ids and theirs not in seen_by_aurora, lines
    events = status_events(messages, "nw")
    assert all(e["__typename"] == "OrderStatusChanged" for e in events), events
    assert {e["orderId"] for e in events}.isdisjoint(aurora_ids), events
    assert [line.split(" ", 1)[1] for line in _about(lines, mine)] == expected


async def _watch_command(gq: GraphQLStack, *args: str, command: tuple[str, ...]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *command,
        "--url",
        gq.url,
        *args,
        cwd=ROOT,
        env=gq.stack.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


MESCTL_WATCH = ("clients.cli", "watch")


async def test_the_watch_command_prints_transitions_and_stops_on_ctrl_c(gq: GraphQLStack) -> None:
    async with http_client() as client:
        since = await _seq(client, gq)
        order_id = await _submit(client, gq, NORTHWIND, "watch-cli-1", _new_order("WATCH-1", "CHN-CUR-045", "AG925"))
    proc = await _watch_command(
        gq, "--token", OPERATOR_TOKEN, "--order", order_id, "--since", str(since), command=MESCTL_WATCH
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    try:
        async with asyncio.timeout(WAIT_S):
            while len(out) < 3 and (line := await proc.stdout.readline()):
                out.append(line.decode().rstrip("\n"))
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
        err = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert err == "", err
    prefix = f"partner={NORTHWIND} order={order_id}"
    assert [line.split(" ", 1)[1] for line in out] == [
        f"{prefix} - -> SUBMITTED",
        f"{prefix} SUBMITTED -> ACCEPTED materials reserved",
        f"{prefix} ACCEPTED -> IN_PRODUCTION work orders released",
    ]

    refused = await _watch_command(gq, "--api-key", "mes_not-a-key", command=("graphql_facade.watch",))
    async with asyncio.timeout(30):
        stdout, stderr = await refused.communicate()
    assert refused.returncode == 1 and stdout == b""
    assert stderr.decode().startswith("watch: authentication failed (close code 4403"), stderr


async def test_a_flooding_partner_gets_throttled_with_retry_after(gq: GraphQLStack) -> None:
    key = partner(gq.create_partner("flood-standard", orders_pb2.PARTNER_TIER_STANDARD))
    body = {"query": "{ styles(first: 90) { nodes { sku } } }"}  # asks for 2 + 90 points, uses 2 + 13
    async with http_client() as client:
        first = await post(client, gq.url, key, body)
        assert first.status_code == 200, first.text
        cost = first.json()["extensions"]["cost"]
        assert set(cost) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
        assert cost["requestedQueryCost"] == 92 and cost["actualQueryCost"] == 2 + len(demo_data.STYLES)
        status = cost["throttleStatus"]
        assert set(status) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
        assert status["maximumAvailable"] == 100.0 and status["restoreRate"] == 5.0
        assert 100 - 92 <= status["currentlyAvailable"] <= 100
        assert first.headers["RateLimit-Policy"] == '"requests";q=600;w=60, "cost";q=100;w=20'
        assert '"cost";r=' in first.headers["RateLimit"] and "retry-after" not in first.headers

        throttled: httpx.Response | None = None
        for _ in range(20):
            response = await post(client, gq.url, key, body)
            if response.status_code == 429:
                throttled = response
                break
            assert response.status_code == 200, response.text
        assert throttled is not None, "never throttled"
        answer = throttled.json()
        assert "data" not in answer
        error = answer["errors"][0]
        retry_after = int(throttled.headers["Retry-After"])
        available = error["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        assert error["message"] == "Throttled" and error["extensions"]["code"] == "THROTTLED"
        assert error["extensions"]["retryAfter"] == retry_after >= 1
        assert -0.01 < retry_after - (92 - available) / 5 < 1.01  # ceil((requested - available) / rate)
        assert error["extensions"]["cost"]["requestedQueryCost"] == 92
        assert error["extensions"]["cost"]["actualQueryCost"] is None
        assert throttled.headers["RateLimit-Policy"] == '"requests";q=600;w=60, "cost";q=100;w=20'
        header = re.search(r'"cost";r=(\d+);t=(\d+)$', throttled.headers["RateLimit"])
        assert header is not None, throttled.headers["RateLimit"]
        assert abs(int(header[1]) - available) < 1 and int(header[2]) == retry_after

        await asyncio.sleep(retry_after + 0.2)  # the bucket has refilled enough
        assert (await post(client, gq.url, key, body)).status_code == 200


async def test_too_many_requests_per_minute_are_rate_limited(gq: GraphQLStack) -> None:
    key = partner(gq.create_partner("flood-enterprise", orders_pb2.PARTNER_TIER_ENTERPRISE))
    body = {"query": "{ alloys(first: 1) { nodes { code } } }"}
    async with http_client() as client:
        statuses = [(await post(client, gq.url, key, body)) for _ in range(6)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    limited = statuses[-1]
    error = limited.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["policy"] == "requests" and error["extensions"]["limit"] == 5
    assert int(limited.headers["Retry-After"]) == error["extensions"]["retryAfter"] >= 1
    assert limited.headers["RateLimit-Policy"] == '"requests";q=5;w=60, "cost";q=20000;w=20'
    assert limited.headers["RateLimit"].startswith('"requests";r=0;t=')


DASHBOARD = """{
  asOf { seq inventorySeq productionSeq }
  orderCounts { total late byStatus { status count } }
  orders(first: 20) { nodes { id partnerId status late
    workOrders { id status operations { id status operationCode } } reservations { id state } } }
  workCenters(first: 20) { nodes { code stats { queued wip throughputPerHour } } }
  alloyBalances(first: 20) { nodes { materialCode onHandMg reservedMg availableMg fineOnHandMg } }
  shortages(first: 20) { nodes { orderId materialCode missingMg } }
}"""


async def test_operators_see_the_floor_and_partners_do_not(gq: GraphQLStack) -> None:
    key = partner(gq.keys[AURORA])
    async with http_client() as client:
        board = await gql(client, gq.url, OPERATOR, DASHBOARD)
        data = board["data"]
        assert data["orderCounts"]["total"] >= 1 and data["orders"]["nodes"]
        assert {node["partnerId"] for node in data["orders"]["nodes"]} <= {AURORA, NORTHWIND}
        assert {wc["code"] for wc in data["workCenters"]["nodes"]} == {wc.code for wc in demo_data.WORK_CENTERS}
        assert {b["materialCode"] for b in data["alloyBalances"]["nodes"]} == {a.code for a in demo_data.ALLOYS}
        # Operators are measured, not throttled: their own budget is reported untouched.
        status = board["extensions"]["cost"]["throttleStatus"]
        assert status["maximumAvailable"] == status["currentlyAvailable"] == 20_000.0

        introspection = await post(client, gq.url, key, {"query": "{ __schema { types { name } } }"})
        assert introspection.status_code == 400
        assert introspection.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection has been disabled" in introspection.json()["errors"][0]["message"]
        assert (
            await post(client, gq.url, OPERATOR, {"query": "{ __schema { queryType { name } } }"})
        ).status_code == 200

        for query in ("{ orderCount { total } }", "{ orders(first: 1) { nodes { partnerId workOrders { id } } } }"):
            refused = await post(client, gq.url, key, {"query": query})
            assert refused.status_code == 400
            for error in refused.json()["errors"]:
                assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
                assert "Did you mean" not in error["message"], error  # no hints about the operators' schema
        hinted = await post(client, gq.url, OPERATOR, {"query": "{ orderCount { total } }"})
        assert "Did you mean 'orderCounts'" in hinted.json()["errors"][0]["message"]

        anonymous = await post(client, gq.url, {}, {"query": "{ __typename }"})
        assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        for response in (introspection, refused, anonymous):
            _no_leak(response.json())

    # Operators' live counters; partners cannot subscribe to them.
    counters = "subscription { dashboardCounters { seq counts { total } } }"
    async with ws_session(gq.ws_url, {"token": OPERATOR_TOKEN}) as ws:
        await subscribe(ws, "c", counters, {})
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "next" and first["payload"]["data"]["dashboardCounters"]["counts"]["total"] >= 1
    async with ws_session(gq.ws_url, {"apiKey": gq.keys[AURORA]}) as ws:
        await subscribe(ws, "c", counters, {})
        refusal = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refusal["type"] == "error" and refusal["id"] == "c"
        assert refusal["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Did you mean" not in refusal["payload"][0]["message"]


@pytest.mark.parametrize(
    ("init", "close_code"),
    [(None, 4401), ({"apiKey": "mes_not-a-key"}, 4403), ({"token": "not-a-token"}, 4403)],
)
async def test_websocket_needs_a_valid_connection_init(
    gq: GraphQLStack, init: dict[str, str] | None, close_code: int
) -> None:
    async with websockets.connect(
        gq.ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], proxy=None
    ) as ws:
        if init is not None:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        else:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STATUS_SUBSCRIPTION}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == close_code
