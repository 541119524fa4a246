"""Role prefixes in the plan: role and schema names ``<prefix>_<service>`` for two stacks on one
PostgreSQL cluster (pure; the PostgreSQL side is in tests/integration/mes_stack)."""

from __future__ import annotations

import pytest

from mes_platform.provision import role_name, schema_name, service_url
from mes_stack.options import OptionsError, StackOptions, resolve_role_prefix
from tests.unit.mes_stack._plans import PG, plan


def test_without_a_prefix_the_names_are_the_ones_of_every_existing_database() -> None:
    assert (role_name("orders"), schema_name("orders")) == ("mes_orders", "orders")
    assert (role_name("orders", "mes"), schema_name("orders", "mes")) == ("mes_orders", "orders")
    assert (role_name("orders", "shop2"), schema_name("orders", "shop2")) == ("shop2_orders", "shop2_orders")
    assert service_url(PG, "inventory", "shop2") == "postgresql://shop2_inventory@127.0.0.1:5432/mes"
    p = plan({"DATABASE_URL": PG})
    orders = next(s for s in p.processes if s.name == "orders")
    assert "MES_ORDERS_DATABASE_SCHEMA" not in orders.env  # the service's own default: its name


def test_a_prefix_names_every_services_role_schema_and_password_url() -> None:
    p = plan({"DATABASE_URL": PG, "MES_STACK_ROLE_PREFIX": "shop2", "MES_STACK_DB_PASSWORD": "s3cr@t"})
    assert p.database_urls["production"] == "postgresql://shop2_production:s3cr%40t@127.0.0.1:5432/mes"
    for spec in (s for s in p.processes if s.service):
        assert spec.env[f"MES_{spec.service.upper()}_DATABASE_SCHEMA"] == f"shop2_{spec.service}"
    explicit = plan({"DATABASE_URL": PG, "MES_STACK_ROLE_PREFIX": "shop2", "MES_ORDERS_DATABASE_SCHEMA": "own"})
    assert next(s for s in explicit.processes if s.name == "orders").env["MES_ORDERS_DATABASE_SCHEMA"] == "own"


def test_a_prefix_means_nothing_on_sqlite_and_the_argument_wins() -> None:
    p = plan({"MES_STACK_ROLE_PREFIX": "shop2"})
    assert all(not k.endswith("_DATABASE_SCHEMA") for s in p.processes for k in s.env)
    assert StackOptions.resolve({"MES_STACK_ROLE_PREFIX": "a"}, role_prefix="b").role_prefix == "b"
    assert resolve_role_prefix({}) is None


@pytest.mark.parametrize("prefix", ["Shop", "2shop", "shop-2", "x" * 31, "shop 2"])
def test_an_unsafe_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(OptionsError, match="--role-prefix, MES_STACK_ROLE_PREFIX"):
        StackOptions.resolve({"MES_STACK_ROLE_PREFIX": prefix})
