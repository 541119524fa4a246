"""Roles on the server: the supervisors' mutations answer FORBIDDEN to an operator whose role is OPERATOR."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.base import get_object_definition

from graphql_facade.config import FacadeSettings, parse_operator_token_roles, parse_operator_tokens
from graphql_facade.schema.operator import OperatorMutation
from graphql_facade.schema.roles import SUPERVISOR_ONLY
from tests.unit.graphql_facade.conftest import FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

FLOOR = {"Authorization": "Bearer floor-token"}  # OP-02, role OPERATOR
SUPERVISOR = {"Authorization": "Bearer op-token"}  # OP-01, no role named: a supervisor's token

#: Every mutation of the operators' schema reserved for supervisors (docs/adr/0005, schema/roles.py).
SUPERVISOR_MUTATIONS = {
    "resolveLossReview",
    "receiveLot",
    "shipOrder",
    "cancelOrder",
    "blockWorkCenter",
    "unblockWorkCenter",
    "setShiftCalendar",
}


def role_settings(**env: str) -> FacadeSettings:
    return facade_settings(MES_FACADE_OPERATOR_TOKENS="op-token=OP-01,floor-token=OP-02:operator", **env)


def mutation_fields() -> dict[str, bool]:
    """Each mutation of the operators' schema -> whether it is for supervisors only."""
    return {
        f.graphql_name or _camel(f.python_name): bool(
            f.base_resolver is not None and getattr(f.base_resolver.wrapped_func, SUPERVISOR_ONLY, False)
        )
        for f in get_object_definition(OperatorMutation, strict=True).fields
    }


def supervisor_only_fields() -> set[str]:
    return {name for name, supervisors in mutation_fields().items() if supervisors}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_supervisors_mutations_are_the_documented_ones() -> None:
    declared = supervisor_only_fields()
    present = set(mutation_fields())
    assert declared == SUPERVISOR_MUTATIONS & present
    assert {"startOperation", "finishOperation"} <= present - declared


def test_token_roles_are_parsed() -> None:
    spec = "a=OP-01, b=OP-02:operator, c=SUP-01:Supervisor"
    assert parse_operator_tokens(spec) == {"a": "OP-01", "b": "OP-02", "c": "SUP-01"}
    assert parse_operator_token_roles(spec) == {"a": "SUPERVISOR", "b": "OPERATOR", "c": "SUPERVISOR"}
    with pytest.raises(ValueError, match="operator or supervisor"):
        parse_operator_tokens("a=OP-01:admin")
    assert FacadeSettings.from_env({}).operator_token_roles == {}  # the development token: a supervisor


MUTATIONS: dict[str, tuple[str, str]] = {
    "resolveLossReview": (
        "mutation($id: ID!) { resolveLossReview(id: $id, decision: APPROVE) { id } }",
        "ResolveLossReview",
    ),
    "receiveLot": (
        'mutation { receiveLot(input: {kind: METAL, materialCode: "AU750Y", weightMg: 1000}) { id } }',
        "ReceiveLot",
    ),
    "shipOrder": ("mutation($order: ID!) { shipOrder(id: $order) { id } }", "ShipOrder"),
    "cancelOrder": ('mutation($order: ID!) { cancelOrder(id: $order, reason: "x") { id } }', "CancelOrder"),
    "blockWorkCenter": (
        'mutation { blockWorkCenter(id: "CAST-1", reason: "kiln down") { __typename } }',
        "BlockWorkCenter",
    ),
    "unblockWorkCenter": ('mutation { unblockWorkCenter(id: "CAST-1") { __typename } }', "UnblockWorkCenter"),
    "setShiftCalendar": (
        'mutation { setShiftCalendar(workCenterId: "CAST-1", input: {timeZone: "UTC", windows: []}) { version } }',
        "SetShiftCalendar",
    ),
}


def _variables(backend: FakeBackend) -> dict[str, Any]:
    order = backend.add_order("partner-a")
    work_order = next(iter(backend.work_orders.values()))
    return {"id": f"{work_order.work_order_id}.1", "order": order.order_id}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_an_operator_may_not_run_a_supervisors_mutation(backend: FakeBackend, name: str) -> None:
    query, rpc = MUTATIONS[name]
    variables = _variables(backend)
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    async with running_app(backend, role_settings()) as client:
        response = await client.gql(query, used or None, headers=FLOOR)
    body = response.json()
    assert response.status_code == 200 and body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["requiredRole"] == "SUPERVISOR"
    assert f"Only a supervisor may run `{name}`" in error["message"] and "OP-02" in error["message"]
    assert error["path"] == [name]
    assert backend.calls[rpc] == 0  # refused before the resolver: the service is never asked


async def test_a_supervisor_runs_them_and_an_operator_records_their_own_work(backend: FakeBackend) -> None:
    variables = _variables(backend)
    async with running_app(backend, role_settings()) as client:
        started = await client.gql(
            "mutation($id: ID!) { startOperation(id: $id, weighInMg: 5000) { startedBy } }",
            {"id": variables["id"]},
            headers=FLOOR,
        )
        assert started.json()["data"]["startOperation"] == {"startedBy": "OP-02"}
        finished = await client.gql(
            "mutation($id: ID!) { finishOperation(id: $id, weighOutMg: 4900) { status } }",
            {"id": variables["id"]},
            headers=FLOOR,
        )
        assert "errors" not in finished.json()
        reviewed = await client.gql(
            "mutation($id: ID!) { resolveLossReview(id: $id, decision: APPROVE) { reviewedBy } }",
            {"id": variables["id"]},
            headers=SUPERVISOR,
        )
        assert reviewed.json()["data"]["resolveLossReview"] == {"reviewedBy": "OP-01"}
        lot = await client.gql(MUTATIONS["receiveLot"][0], headers=SUPERVISOR)
        assert "errors" not in lot.json()
    assert backend.calls["ResolveLossReview"] == 1 and backend.calls["ReceiveLot"] == 1


async def test_queries_need_no_role(backend: FakeBackend) -> None:
    async with running_app(backend, role_settings()) as client:
        response = await client.gql("{ workCenters(first: 5) { nodes { code } } }", headers=FLOOR)
    assert response.status_code == 200 and "errors" not in response.json()


async def test_tokens_without_a_role_keep_every_right(client: FacadeClient) -> None:
    viewer = client.facade.authenticator.operator("op-token")
    assert viewer is not None and viewer.role == "SUPERVISOR" and viewer.is_supervisor and not viewer.session


async def test_me_answers_each_operator_their_own_code_and_role_never_from_the_cache(backend: FakeBackend) -> None:
    query = "{ me { operatorCode role signedIn } }"
    async with running_app(backend, role_settings()) as client:
        answers = [
            (await client.gql(query, headers=headers)).json()["data"]["me"]
            for headers in (SUPERVISOR, FLOOR, SUPERVISOR, FLOOR)
        ]
    supervisor = {"operatorCode": "OP-01", "role": "SUPERVISOR", "signedIn": False}
    operator = {"operatorCode": "OP-02", "role": "OPERATOR", "signedIn": False}
    assert answers == [supervisor, operator, supervisor, operator]
