"""Authentication: operator tokens, partner API keys (cached), the tenant from the credential only."""

from __future__ import annotations

import grpc

from clients import UnavailableError
from graphql_facade.auth import Authenticator, Viewer
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_A_KEY,
    PARTNER_B_KEY,
    FacadeClient,
    facade_settings,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

QUERY = "{ orders(first: 1) { nodes { id } } }"


async def test_credentials_are_required(client: FacadeClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic b3A="}, {"X-API-Key": "nope"}):
        response = await client.gql(QUERY, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_bearer_wins_over_api_key_and_is_an_operator(client: FacadeClient) -> None:
    response = await client.gql("{ workCenters(first: 1) { nodes { code } } }", headers={**OPERATOR, **PARTNER_A})
    assert response.status_code == 200 and "errors" not in response.json()


async def test_api_keys_are_resolved_once_per_ttl(client: FacadeClient, backend: FakeBackend) -> None:
    for _ in range(5):
        assert (await client.gql(QUERY + " " * _, headers=PARTNER_A)).status_code == 200
    assert backend.calls["AuthenticatePartner"] == 1


async def test_unknown_keys_are_remembered(client: FacadeClient, backend: FakeBackend) -> None:
    unknown = api_keys.issue()  # well-formed, so the service is asked (once)
    for _ in range(3):
        assert (await client.gql(QUERY, headers={"X-API-Key": unknown})).status_code == 401
    assert backend.calls["AuthenticatePartner"] == 1


async def test_unreachable_orders_service_is_503_not_401(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["AuthenticatePartner"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    response = await client.gql(QUERY, headers={"X-API-Key": api_keys.issue()})
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


async def test_concurrent_first_requests_share_one_lookup(backend: FakeBackend) -> None:
    import asyncio

    backend.delay["AuthenticatePartner"] = 0.05
    auth = Authenticator({}, backend, api_key_ttl_s=5)
    viewers = await asyncio.gather(*(auth.partner(PARTNER_A_KEY) for _ in range(10)))
    assert {v.partner_id for v in viewers} == {"partner-a"}
    assert backend.calls["AuthenticatePartner"] == 1
    assert viewers[0].scope == "partner:partner-a" and viewers[0].tier == "STANDARD"


def test_operator_tokens_get_their_roles_once_a_supervisors_unless_named(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_OPERATOR_TOKENS="sup-token=OP-01,floor-token=OP-02:operator")
    auth = Authenticator(settings.operator_tokens, backend, api_key_ttl_s=5, token_roles=settings.operator_token_roles)
    assert auth.operator("sup-token") == Viewer("operator", "OP-01", role="SUPERVISOR")
    assert auth.operator("floor-token") == Viewer("operator", "OP-02", role="OPERATOR")
    assert auth.operator("other-token") is None and auth.operator("") is None
    assert Authenticator({"t": "OP-03"}, backend, api_key_ttl_s=5).operator("t") == Viewer(
        "operator", "OP-03", role="SUPERVISOR"
    )
    # The roles come from the settings at construction only: no method changes them afterwards.
    assert not any("role" in name for name in dir(Authenticator))


async def test_connection_params(backend: FakeBackend) -> None:
    auth = Authenticator(facade_settings().operator_tokens, backend, api_key_ttl_s=5)
    assert (await auth.from_connection_params({"token": "op-token"})).subject == "OP-01"
    assert (await auth.from_connection_params({"token": "Bearer op-token"})).audience == "operator"
    assert (await auth.from_connection_params({"apiKey": PARTNER_B_KEY})).partner_id == "partner-b"


async def test_the_partner_cannot_be_chosen_by_the_caller(client: FacadeClient, backend: FakeBackend) -> None:
    other = backend.add_order("partner-b")
    response = await client.gql(
        "{ orders(first: 5) { nodes { id } } }", headers={**PARTNER_A, "X-Mes-Partner": "partner-b"}
    )
    assert response.json()["data"]["orders"]["nodes"] == []
    assert other.order_id not in response.text
