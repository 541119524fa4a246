"""The facade's backend: the clients configured from the facade's settings (channel options, token,
deadline, retries), and the call metrics they report to."""

from __future__ import annotations

from prometheus_client import REGISTRY

from clients import MesClients
from graphql_facade.backend import Backend, client_config, open_backend
from graphql_facade.metrics import record_backend_call
from tests.unit.graphql_facade.conftest import PARTNER_A, FacadeClient, facade_settings
from tests.unit.graphql_facade.facade_fakes import SERVICE_TOKEN, FakeBackend


def test_the_clients_are_configured_from_the_settings() -> None:
    settings = facade_settings(
        MES_ORDERS_ADDR="ipv4:10.0.0.1:1,10.0.0.2:1",
        MES_FACADE_SERVICE_TOKEN="svc",
        MES_FACADE_BACKEND_TIMEOUT_S="2.5",
        MES_FACADE_BACKEND_TLS_CA_FILE="/etc/ca.pem",
    )
    config = client_config(settings)
    assert config.address("orders") == "ipv4:10.0.0.1:1,10.0.0.2:1"
    assert config.credentials() == (("authorization", "Bearer svc"),) and config.partner is None
    assert config.deadline_s == 2.5 and config.use_tls and config.tls_ca_file == "/etc/ca.pem"
    assert config.retry.max_attempts == 3
    assert config.channel_options() == [
        ("grpc.primary_user_agent", "mes-graphql-facade/0.1"),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.lb_policy_name", "round_robin"),
    ]


async def test_open_backend_gives_the_clients_unopened() -> None:
    backend = open_backend(facade_settings())
    assert isinstance(backend, MesClients) and Backend is MesClients
    await backend.open()
    try:
        assert backend.orders.config.user_agent == "mes-graphql-facade/0.1"
    finally:
        await backend.aclose()


def test_a_finished_call_is_counted_by_code_and_timed_by_method() -> None:
    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    calls = sample("mes_facade_backend_calls_total", {"method": "GetStyle", "code": "NOT_FOUND"})
    timed = sample("mes_facade_backend_seconds_count", {"method": "GetStyle"})
    record_backend_call("GetStyle", "NOT_FOUND", 0.002)
    assert sample("mes_facade_backend_calls_total", {"method": "GetStyle", "code": "NOT_FOUND"}) == calls + 1
    assert sample("mes_facade_backend_seconds_count", {"method": "GetStyle"}) == timed + 1


async def test_calls_carry_the_service_token_and_act_for_partners_only(
    client: FacadeClient, backend: FakeBackend
) -> None:
    backend.add_order("partner-a")
    backend.reset_calls()
    await client.gql("{ orders(first: 5) { nodes { id } } }", headers=PARTNER_A)
    await client.gql("{ orders(first: 5) { nodes { id } } }")
    sent = [(method, dict(metadata)) for method, metadata in backend.metadata if method == "ListOrders"]
    assert [m.get("authorization") for _, m in sent] == [f"Bearer {SERVICE_TOKEN}"] * 2
    assert [m.get("x-mes-partner") for _, m in sent] == ["partner-a", None]
