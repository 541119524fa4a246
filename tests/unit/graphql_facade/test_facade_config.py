"""Settings from the environment."""

from __future__ import annotations

import pytest

from graphql_facade.config import FacadeSettings, parse_operator_tokens


def test_defaults() -> None:
    settings = FacadeSettings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8180)
    assert settings.orders_addr == "127.0.0.1:50151" and settings.service_token == "mes-dev-token"
    assert settings.operator_tokens == {"mes-dev-operator": "SUP-01"}
    assert settings.redis_url is None and settings.nats_url is None
    assert settings.response_cache_ttl_s == 60 and settings.cache_enabled and not settings.graphiql


def test_environment_names() -> None:
    settings = FacadeSettings.from_env(
        {
            "MES_FACADE_HTTP_HOST": "0.0.0.0",
            "MES_FACADE_HTTP_PORT": "18151",
            "MES_ORDERS_ADDR": "ipv4:10.0.0.1:1,10.0.0.2:1",
            "MES_FACADE_OPERATOR_TOKENS": "t1=OP-01, t2=OP-02",
            "MES_FACADE_SERVICE_TOKEN": "svc-token",  # binding 0.0.0.0: no development token
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "NATS_URL": "nats://127.0.0.1:4222",
            "MES_FACADE_RESPONSE_CACHE_TTL_S": "30",
            "MES_FACADE_CACHE": "off",
        }
    )
    assert (settings.host, settings.port) == ("0.0.0.0", 18151)
    assert settings.orders_addr.startswith("ipv4:")
    assert settings.operator_tokens == {"t1": "OP-01", "t2": "OP-02"}
    assert settings.redis_url == "redis://127.0.0.1:6379/3" and settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.response_cache_ttl_s == 30 and not settings.cache_enabled
    assert FacadeSettings.from_env({"MES_FACADE_PORT": "9", "MES_FACADE_HTTP_PORT": "10"}).port == 9


@pytest.mark.parametrize(
    "env",
    [
        {"MES_FACADE_PORT": "http"},
        {"MES_FACADE_CACHE": "maybe"},
        {"MES_FACADE_BACKEND_TIMEOUT_S": "-1"},
        {"MES_FACADE_OPERATOR_TOKENS": "no-operator"},
    ],
)
def test_bad_values_fail_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        FacadeSettings.from_env(env)


def test_operator_tokens() -> None:
    assert parse_operator_tokens("") == {}
    with pytest.raises(ValueError):
        parse_operator_tokens("=OP")
