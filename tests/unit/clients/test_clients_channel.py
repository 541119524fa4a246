"""The one channel factory: every option comes from the ClientConfig (user agent, message size,
keepalive, load balancing, TLS), interceptors are passed on, and clients open their channel with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from clients import ClientConfig, OrdersClient, open_channel
from tests.unit.clients.clients_fakes import FakeChannel


class Opened:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.channel = FakeChannel()

    def insecure(self, *args: Any, **kwargs: Any) -> FakeChannel:
        self.calls.append(("insecure", args, kwargs))
        return self.channel

    def secure(self, *args: Any, **kwargs: Any) -> FakeChannel:
        self.calls.append(("secure", args, kwargs))
        return self.channel


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Opened:
    record = Opened()
    monkeypatch.setattr(grpc.aio, "insecure_channel", record.insecure)
    monkeypatch.setattr(grpc.aio, "secure_channel", record.secure)
    monkeypatch.setattr(grpc, "ssl_channel_credentials", lambda root_certificates=None: ("creds", root_certificates))
    return record


def test_defaults_set_the_user_agent_and_message_size_only() -> None:
    assert ClientConfig().channel_options() == [
        ("grpc.primary_user_agent", "mes-clients/0.1"),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ]


def test_keepalive_and_load_balancing_are_options_of_the_config() -> None:
    config = ClientConfig(
        user_agent="ua/1",
        max_message_bytes=1024,
        keepalive_time_ms=60_000,
        keepalive_timeout_ms=20_000,
        lb_policy="round_robin",
    )
    assert config.channel_options() == [
        ("grpc.primary_user_agent", "ua/1"),
        ("grpc.max_receive_message_length", 1024),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.lb_policy_name", "round_robin"),
    ]
    with pytest.raises(ValueError, match="max_message_bytes"):
        ClientConfig(max_message_bytes=0)


def test_an_insecure_channel_gets_the_options_and_interceptors(opened: Opened) -> None:
    config = ClientConfig(orders_addr="ipv4:127.0.0.1:1,127.0.0.1:2", lb_policy="round_robin")
    interceptor = object()
    assert open_channel(config, "orders", interceptors=[interceptor]) is opened.channel  # type: ignore[list-item,comparison-overlap]
    kind, args, kwargs = opened.calls[0]
    assert kind == "insecure" and args == ("ipv4:127.0.0.1:1,127.0.0.1:2",)
    assert kwargs == {"options": config.channel_options(), "interceptors": [interceptor]}
    open_channel(config, "inventory")
    assert opened.calls[1][2]["interceptors"] is None and opened.calls[1][1] == (config.inventory_addr,)


def test_a_ca_file_or_tls_opens_a_secure_channel(opened: Opened, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"PEM")
    open_channel(ClientConfig(tls_ca_file=str(ca)), "production")
    open_channel(ClientConfig(tls=True), "orders")
    (kind, args, kwargs), (kind2, args2, _) = opened.calls
    assert kind == kind2 == "secure"
    assert args == (ClientConfig().production_addr, ("creds", b"PEM")) and args2[1] == ("creds", None)
    assert kwargs["options"] == ClientConfig().channel_options()


async def test_a_client_opens_and_owns_its_channel_through_the_factory(opened: Opened) -> None:
    client = OrdersClient(ClientConfig(keepalive_time_ms=5_000))
    assert client.channel is opened.channel  # type: ignore[comparison-overlap]
    assert ("grpc.keepalive_time_ms", 5_000) in opened.calls[0][2]["options"]
    await client.aclose()
    assert opened.channel.closed
