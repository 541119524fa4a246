"""Settings from the environment."""

from __future__ import annotations

import pytest

from graphql_facade.config import DEFAULT_METRICS_PORT, FacadeSettings, parse_operator_tokens


def test_defaults() -> None:
    settings = FacadeSettings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8180)
    assert settings.orders_addr == "127.0.0.1:50151" and settings.service_token == "mes-dev-token"
    assert settings.operator_tokens == {"mes-dev-operator": "SUP-01"}
    assert settings.redis_url is None and settings.nats_url is None
    assert settings.response_cache_ttl_s == 60 and settings.cache_enabled and settings.graphiql
    assert not FacadeSettings.from_env({"MES_FACADE_GRAPHIQL": "0"}).graphiql


def test_environment_names() -> None:
    settings = FacadeSettings.from_env(
        {
            "MES_FACADE_HTTP_HOST": "0.0.0.0",
            "MES_FACADE_HTTP_PORT": "18151",
            "MES_ORDERS_ADDR": "ipv4:10.0.0.1:1,10.0.0.2:1",
            "MES_FACADE_OPERATOR_TOKENS": "t1=OP-01, t2=OP-02",
            "MES_FACADE_SERVICE_TOKEN": "svc-token",  # binding 0.0.0.0: no development token
            "MES_FACADE_POSITION_SECRET": "a-position-secret",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "NATS_URL": "nats://127.0.0.1:4222",
            "MES_FACADE_RESPONSE_CACHE_TTL_S": "30",
            "MES_FACADE_CACHE": "off",
        }
    )
    assert (settings.host, settings.port) == ("0.0.0.0", 18151)
    assert settings.orders_addr.startswith("ipv4:")
    assert settings.operator_tokens == {"t1": "OP-01", "t2": "OP-02"}
    assert settings.position_secret == "a-position-secret"
    assert settings.redis_url == "redis://127.0.0.1:6379/3" and settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.response_cache_ttl_s == 30 and not settings.cache_enabled
    assert FacadeSettings.from_env({"MES_FACADE_PORT": "9", "MES_FACADE_HTTP_PORT": "10"}).port == 9


def test_metrics_have_a_port_of_their_own_by_default() -> None:
    defaults = FacadeSettings.from_env({})
    assert (defaults.metrics_host, defaults.metrics_port) == ("127.0.0.1", DEFAULT_METRICS_PORT)
    assert DEFAULT_METRICS_PORT not in (defaults.port, 9090) and not defaults.metrics_on_public_port
    # the metrics listener binds where the facade binds unless told otherwise
    facade_everywhere = FacadeSettings.from_env({"MES_FACADE_HOST": "0.0.0.0", "MES_DEV_MODE": "1"})
    assert facade_everywhere.metrics_host == "0.0.0.0"
    moved = FacadeSettings.from_env(
        {
            "MES_FACADE_HOST": "0.0.0.0",
            "MES_DEV_MODE": "1",
            "MES_FACADE_METRICS_HOST": "10.0.0.7",
            "MES_FACADE_METRICS_PORT": "9090",
        }
    )
    assert (moved.metrics_host, moved.metrics_port, moved.metrics_on_public_port) == ("10.0.0.7", 9090, False)


def test_metrics_off_or_on_the_public_port_only_when_asked() -> None:
    off = FacadeSettings.from_env({"MES_FACADE_METRICS_PORT": "0"})
    assert (off.metrics_port, off.metrics_on_public_port) == (0, False)
    public = FacadeSettings.from_env({"MES_FACADE_METRICS_PORT": "Public"})
    assert (public.metrics_port, public.metrics_on_public_port) == (0, True)


@pytest.mark.parametrize("value", ["yes", "-1", "65536", "9090.5", "8180"])
def test_bad_metrics_ports_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="MES_FACADE_METRICS_PORT") as caught:
        FacadeSettings.from_env({"MES_FACADE_METRICS_PORT": value})
    assert "0 (off)" in str(caught.value)


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
