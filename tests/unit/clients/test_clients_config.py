"""ClientConfig from the environment, credentials metadata and overrides."""

from __future__ import annotations

import pytest

from clients import ClientConfig


def test_defaults_from_an_empty_environment() -> None:
    config = ClientConfig.from_env({})
    assert (config.orders_addr, config.inventory_addr, config.production_addr) == (
        "127.0.0.1:50151",
        "127.0.0.1:50152",
        "127.0.0.1:50153",
    )
    assert config.token == "mes-dev-token" and config.api_key is None and config.partner is None
    assert config.deadline_s == 10.0 and not config.use_tls
    assert config.metadata() == (("authorization", "Bearer mes-dev-token"),)


def test_every_variable_is_read() -> None:
    config = ClientConfig.from_env(
        {
            "MES_ORDERS_ADDR": "orders:1",
            "MES_INVENTORY_ADDR": "inventory:2",
            "MES_PRODUCTION_ADDR": "production:3",
            "MES_TOKEN": "tok",
            "MES_PARTNER": "acme",
            "MES_TLS": "1",
            "MES_TLS_CA_FILE": "/etc/ca.pem",
            "MES_DEADLINE_S": "2.5",
        }
    )
    assert config.address("orders") == "orders:1"
    assert config.address("inventory") == "inventory:2"
    assert config.address("production") == "production:3"
    assert config.use_tls and config.tls_ca_file == "/etc/ca.pem" and config.deadline_s == 2.5
    assert config.metadata() == (("authorization", "Bearer tok"), ("x-mes-partner", "acme"))


def test_api_key_replaces_the_bearer_token() -> None:
    config = ClientConfig.from_env({"MES_API_KEY": "pk_123"})
    assert config.metadata() == (("x-api-key", "pk_123"),)


@pytest.mark.parametrize("env", [{"MES_TLS": "maybe"}, {"MES_DEADLINE_S": "soon"}, {"MES_DEADLINE_S": "0"}])
def test_bad_values_fail_clearly(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"MES_|deadline"):
        ClientConfig.from_env(env)


def test_with_changes_ignores_none() -> None:
    config = ClientConfig().with_changes(token=None, orders_addr="x:1", deadline_s=None)
    assert config.orders_addr == "x:1" and config.token == "mes-dev-token" and config.deadline_s == 10.0
