"""The floor through the facade against the real services (SQLite, in process): an operator starts
two operations at one work center and pauses one; the floor's tile of that work center, the bench
fields of the work center and the Floor and Bench pages show what the services stored (WIP in pieces,
gross and fine metal from the real alloy's fineness, the queue and its oldest, the operations at the
bench with their order's due time). Each read is a query of its own, so the response cache, which has
no events here, cannot answer it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from tests._infra.graphql import data
from tests.integration.graphql_facade.conftest import facade_app, start_operation
from tests.integration.graphql_facade.facade_stack import OPERATOR, Stack, create_partner, seed_orders

TILE = """id name state inProgress paused capacity queue { length oldestQueuedAt }
  wip { pieces grossMg fineMg } finishedLastHour finishedThisShift"""
_SNAPSHOT = re.compile(r'<script type="application/json" id="snapshot">(.*?)</script>', re.DOTALL)


async def tile(facade: Any, center: str, read: int) -> dict[str, Any]:
    floor = data(await facade.gql(f"query Read{read} {{ floor {{ asOf {{ seq }} workCenters {{ {TILE} }} }} }}"))
    found: dict[str, Any] = next(t for t in floor["floor"]["workCenters"] if t["id"] == center)
    return found


async def test_the_floor_and_bench_show_the_services_data(stack: Stack) -> None:
    await create_partner(stack, "acme")
    order_ids = await seed_orders(stack, "acme", 3)
    async with facade_app(stack.facade_settings()) as facade:
        ops = []
        for order_id in order_ids:
            detail = data(
                await facade.gql(
                    "query($id: ID!) { order(id: $id) { dueTime"
                    " workOrders { operations { id status workCenterId } } } }",
                    {"id": order_id},
                )
            )["order"]
            ops.append((detail["workOrders"][0]["operations"][0], detail["dueTime"]))
        center = ops[0][0]["workCenterId"]
        assert all(op["workCenterId"] == center and op["status"] == "QUEUED" for op, _ in ops)
        before = await tile(facade, center, 1)
        assert before["queue"]["length"] == 3 and before["inProgress"] == 0
        assert datetime.fromisoformat(before["queue"]["oldestQueuedAt"]) <= datetime.now(UTC)

        for n, (op, _) in enumerate(ops[:2]):
            assert await start_operation(facade, op["id"], f"floor-start-{n}") == "IN_PROGRESS"
        paused = await facade.gql(
            'mutation($id: ID!) { pauseOperation(id: $id, reason: "waiting for stones") { status } }',
            {"id": ops[1][0]["id"]},
        )
        assert data(paused)["pauseOperation"]["status"] == "PAUSED"

        after = await tile(facade, center, 2)
        assert (after["state"], after["inProgress"], after["paused"], after["capacity"]) == ("RUNNING", 1, 1, 4)
        assert after["queue"]["length"] == 1
        assert after["wip"] == {"pieces": 2, "grossMg": 10_400, "fineMg": 2 * (5200 * 750 // 1000)}
        assert (after["finishedLastHour"], after["finishedThisShift"]) == (0, 0)

        bench = data(
            await facade.gql(
                """query($id: ID!) { workCenter(id: $id) {
                  current { id status pauseReason dueTime startedBy }
                  queue(first: 10) { nodes { id dueTime workOrder { quantity alloyCode } } } } }""",
                {"id": center},
            )
        )["workCenter"]
        current = {op["id"]: op for op in bench["current"]}
        assert set(current) == {ops[0][0]["id"], ops[1][0]["id"]}
        assert current[ops[1][0]["id"]]["pauseReason"] == "waiting for stones"
        assert current[ops[0][0]["id"]]["dueTime"] == ops[0][1] and current[ops[0][0]["id"]]["startedBy"] == "OP-1"
        assert [(op["id"], op["dueTime"]) for op in bench["queue"]["nodes"]] == [(ops[2][0]["id"], ops[2][1])]

        for path in ("/floor", f"/bench/{center}"):
            page = await facade.http.get(path, headers={**OPERATOR, "accept": "text/html"})
            assert page.status_code == 200, page.text
            match = _SNAPSHOT.search(page.text)
            assert match is not None
            snapshot = json.loads(match.group(1))["data"]
            if path == "/floor":
                shown = next(t for t in snapshot["floor"]["workCenters"] if t["id"] == center)
                assert shown["wip"] == after["wip"] and shown["paused"] == 1
            else:
                assert {op["id"] for op in snapshot["workCenter"]["current"]} == set(current)
