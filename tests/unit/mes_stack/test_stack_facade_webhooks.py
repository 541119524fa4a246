"""The facade under ``mes up`` finds the webhooks service the stack runs (partners' webhook fields)."""

from __future__ import annotations

from graphql_facade.config import FacadeSettings
from tests.unit.mes_stack.test_stack_plan import PG, plan


def test_the_facade_gets_the_webhooks_address() -> None:
    p = plan(facade=True)
    facade = p.processes[-1]
    assert facade.name == "facade"
    assert facade.env["MES_FACADE_WEBHOOKS_ADDR"] == "127.0.0.1:50154"
    assert FacadeSettings.from_env(facade.env).webhooks_addr == "127.0.0.1:50154"


def test_every_webhooks_replica_is_a_target_of_the_facade() -> None:
    p = plan({"DATABASE_URL": PG}, facade=True, replicas=2)
    facade = p.processes[-1]
    replicas = p.addresses["webhooks"]
    assert len(replicas) == 2
    assert facade.env["MES_FACADE_WEBHOOKS_ADDR"] == "ipv4:" + ",".join(replicas)


def test_a_facade_alone_has_no_webhooks() -> None:
    assert FacadeSettings.from_env({}).webhooks_addr is None
    assert FacadeSettings.from_env({"MES_WEBHOOKS_ADDR": "127.0.0.1:50154"}).webhooks_addr is None
