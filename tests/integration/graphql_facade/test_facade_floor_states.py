"""The floor states through the facade against the real services (SQLite, in process): an
operator pauses and resumes an operation and a supervisor blocks a work center; the pages show
what the production service stored, never a work center kept from an earlier request (each read
below is a new query, so the response cache, which has no events here, cannot answer it)."""

from __future__ import annotations

from typing import Any

from tests._infra.graphql import data
from tests.integration.graphql_facade.conftest import facade_app, first_operation, start_operation
from tests.integration.graphql_facade.facade_stack import Stack, create_partner, seed_orders

OPERATION = "id status pauseReason pauseTime pausedSeconds"
CENTER = "id state stateReason stateTime"


async def center_state(facade: Any, center: str, read: int) -> tuple[str, str]:
    """The work center's state and reason, by read number ``read`` (a query of its own)."""
    query = f"query($id: ID!) {{ read{read}: workCenter(id: $id) {{ state stateReason }} }}"
    shown = data(await facade.gql(query, {"id": center}))[f"read{read}"]
    return shown["state"], shown["stateReason"]


async def test_pause_resume_and_block_through_the_facade(stack: Stack) -> None:
    await create_partner(stack, "acme")
    [order_id] = await seed_orders(stack, "acme", 1)
    async with facade_app(stack.facade_settings()) as facade:
        first = await first_operation(facade, order_id)
        center = first["workCenterId"]
        assert await start_operation(facade, first["id"]) == "IN_PROGRESS"
        assert await center_state(facade, center, 1) == ("RUNNING", "")

        paused = data(
            await facade.gql(
                f'mutation($id: ID!) {{ pauseOperation(id: $id, reason: " waiting for stones ") {{ {OPERATION} }} }}',
                {"id": first["id"]},
            )
        )["pauseOperation"]
        assert (paused["status"], paused["pauseReason"], paused["pausedSeconds"]) == (
            "PAUSED",
            "waiting for stones",
            0,
        )
        assert paused["pauseTime"] is not None
        assert await center_state(facade, center, 2) == ("IDLE", "")  # paused work does not run

        blocked = data(
            await facade.gql(
                f'mutation($id: ID!) {{ blockWorkCenter(id: $id, reason: "kiln down") {{ {CENTER} }} }}',
                {"id": center},
            )
        )["blockWorkCenter"]
        assert (blocked["state"], blocked["stateReason"]) == ("BLOCKED", "kiln down")
        refused = (
            await facade.gql(
                f"mutation($id: ID!) {{ resumeOperation(id: $id) {{ {OPERATION} }} }}", {"id": first["id"]}
            )
        ).json()
        assert refused["errors"][0]["extensions"]["code"] == "WORK_CENTER_BLOCKED"
        listed = data(await facade.gql("{ workCenters(first: 10) { nodes { id state stateReason } } }"))
        assert {"id": center, "state": "BLOCKED", "stateReason": "kiln down"} in listed["workCenters"]["nodes"]

        unblocked = data(
            await facade.gql(f"mutation($id: ID!) {{ unblockWorkCenter(id: $id) {{ {CENTER} }} }}", {"id": center})
        )["unblockWorkCenter"]
        assert unblocked["state"] == "IDLE" and unblocked["stateTime"] is not None
        resumed = data(
            await facade.gql(
                f"mutation($id: ID!) {{ resumeOperation(id: $id) {{ {OPERATION} }} }}", {"id": first["id"]}
            )
        )["resumeOperation"]
        assert (resumed["status"], resumed["pauseReason"], resumed["pauseTime"]) == ("IN_PROGRESS", "", None)
        assert await center_state(facade, center, 3) == ("RUNNING", "")
