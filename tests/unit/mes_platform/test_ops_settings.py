"""Operational knobs: pool size, metrics port, gRPC connection age and keepalive, stream
replicas, unprefixed messaging knobs, the NATS connection name."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError

from mes_platform.config import ServiceSettings
from mes_platform.grpc_server import server_options
from mes_platform.messaging.runtime import MessagingSettings, connection_name
from mes_platform.messaging.streams import ORDERS, ensure_streams


def settings(service: str = "inventory", **env: str) -> ServiceSettings:
    return ServiceSettings.from_env(service, env=env)


def test_defaults() -> None:
    got = settings()
    assert got.database_pool_size == 10
    assert got.metrics_port == 0  # disabled
    assert (got.grpc_max_connection_age_s, got.grpc_max_connection_age_grace_s, got.grpc_keepalive_s) == (
        300.0,
        30.0,
        60.0,
    )


@pytest.mark.parametrize("key", ["MES_INVENTORY_METRICS_PORT", "METRICS_PORT", "MES_METRICS_PORT"])
def test_metrics_port_is_looked_up_like_the_other_settings(key: str) -> None:
    assert settings(**{key: "9464"}).metrics_port == 9464


def test_the_service_prefix_wins() -> None:
    got = settings(
        MES_INVENTORY_DATABASE_POOL_SIZE="25",
        DATABASE_POOL_SIZE="5",
        MES_DATABASE_POOL_SIZE="3",
        MES_INVENTORY_GRPC_MAX_CONNECTION_AGE_S="0",
        MES_GRPC_MAX_CONNECTION_AGE_S="120",
        MES_GRPC_KEEPALIVE_S="0",
    )
    assert got.database_pool_size == 25
    assert got.grpc_max_connection_age_s == 0.0 and got.grpc_keepalive_s == 0.0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_POOL_SIZE", "many"),
        ("METRICS_PORT", "70000"),
        ("METRICS_PORT", "-1"),
        ("GRPC_MAX_CONNECTION_AGE_S", "-5"),
    ],
)
def test_bad_values_are_refused(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        settings(**{f"MES_{key}": value})


def test_common_holds_unprefixed_mes_values_but_not_other_services_ones() -> None:
    got = settings(MES_CONSUMER_BATCH="7", MES_ORDERS_CONSUMER_BATCH="9", MES_INVENTORY_RELAY="0", OTHER="x")
    assert got.common["CONSUMER_BATCH"] == "7"
    assert "ORDERS_CONSUMER_BATCH" not in got.common and "INVENTORY_RELAY" not in got.common
    assert got.knobs["RELAY"] == "0" and got.knobs["CONSUMER_BATCH"] == "7"


def test_messaging_knobs_without_the_service_prefix() -> None:
    got = MessagingSettings.from_settings(
        settings(
            NATS_URL="nats://n:4222",
            MES_CONSUMER_MAX_DELIVER="7",
            MES_CONSUMER_BATCH="20",
            MES_INVENTORY_CONSUMER_BATCH="30",  # the service's own value wins
            MES_ORDERS_CONSUMER_ACK_WAIT_S="1",  # another service's knob
            MES_STREAM_REPLICAS="3",
            MES_RELAY="0",
        )
    )
    assert got is not None
    assert (got.max_deliver, got.batch, got.ack_wait_s, got.stream_replicas) == (7, 30, 30.0, 3)
    assert not got.run_relay


def test_stream_replicas_default_and_validation() -> None:
    got = MessagingSettings.from_settings(settings(NATS_URL="nats://n:4222"))
    assert got is not None and got.stream_replicas == 1
    with pytest.raises(ValueError, match="STREAM_REPLICAS"):
        MessagingSettings.from_settings(settings(NATS_URL="nats://n:4222", MES_STREAM_REPLICAS="0"))


def test_connection_name_tells_replicas_apart() -> None:
    assert connection_name("orders") == f"orders-{socket.gethostname()}-{os.getpid()}"


def test_server_options() -> None:
    options = dict(server_options())
    assert options["grpc.max_connection_age_ms"] == 300_000
    assert options["grpc.max_connection_age_grace_ms"] == 30_000
    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.http2.min_ping_interval_without_data_ms"] <= 60_000  # the facade pings every 60 s
    unlimited = dict(server_options(max_connection_age_s=0, keepalive_s=0))
    assert "grpc.max_connection_age_ms" not in unlimited and "grpc.keepalive_time_ms" not in unlimited


# -- ensure_streams never lowers replicas ---------------------------------------------


@dataclass
class _Info:
    config: StreamConfig


@dataclass
class FakeJetStream:
    existing: dict[str, StreamConfig] = field(default_factory=dict)
    updates: list[StreamConfig] = field(default_factory=list)

    async def add_stream(self, config: StreamConfig) -> _Info:
        assert config.name is not None
        current = self.existing.get(config.name)
        if current is not None and current != config:
            raise BadRequestError(code=400, err_code=10058, description="stream name already in use")
        self.existing[config.name] = config
        return _Info(config)

    async def stream_info(self, name: str) -> _Info:
        return _Info(self.existing[name])

    async def update_stream(self, config: StreamConfig) -> _Info:
        assert config.name is not None
        self.updates.append(config)
        self.existing[config.name] = config
        return _Info(config)


async def _ensure(js: FakeJetStream, **kwargs: Any) -> int:
    infos = await ensure_streams(js, [ORDERS], **kwargs)  # type: ignore[arg-type]
    replicas = infos["ORDERS"].config.num_replicas
    assert replicas is not None
    return replicas


async def test_ensure_streams_raises_replicas_but_never_lowers_them() -> None:
    js = FakeJetStream()
    assert await _ensure(js) == 1
    assert await _ensure(js, replicas=3) == 3  # scaled up
    assert await _ensure(js, replicas=1) == 3  # kept
    assert js.existing["ORDERS"].num_replicas == 3
    assert await _ensure(js, replicas=1, duplicate_window_s=30) == 3  # other changes still apply
    assert js.existing["ORDERS"].duplicate_window == 30
    with pytest.raises(ValueError, match="replicas"):
        await _ensure(js, replicas=0)
