"""`mes run`: targets, the plan's process they name, the printed configuration (pure, no processes)."""

from __future__ import annotations

import dataclasses

import pytest

from mes_stack.options import StackOptions
from mes_stack.plan import build_plan
from mes_stack.run_one import (
    RunError,
    Target,
    describe,
    mask,
    parse_settings,
    parse_target,
    select_spec,
    spec_name,
    stack_options_for,
)
from tests.unit.mes_stack._plans import PG


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("orders", Target("service", "orders")),
        ("orders:api", Target("api", "orders")),
        ("analytics:worker", Target("worker", "analytics")),
        ("facade", Target("facade")),
        ("nats", Target("nats")),
        ("nats:2", Target("nats", node=2)),
    ],
)
def test_targets(text: str, target: Target) -> None:
    assert parse_target(text) == target and str(target) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("billing", "unknown target 'billing': use SERVICE"),
        ("orders:relay", "the roles of a service are api and worker"),
        ("nats:0", "a cluster node is nats:1"),
        ("facade:api", "unknown target"),
    ],
)
def test_bad_targets_say_what_exists(text: str, message: str) -> None:
    with pytest.raises(RunError, match=message):
        parse_target(text)


def _options(env: dict[str, str] | None = None, **kwargs: object) -> StackOptions:
    return StackOptions.resolve(env or {}, data_dir="/data", **kwargs)  # type: ignore[arg-type]


def test_names_follow_the_plan_replicas_and_cluster_nodes() -> None:
    single = _options()
    assert spec_name(Target("api", "orders"), single, 1) == "orders"
    assert spec_name(Target("worker", "orders"), single, 1) == "orders-worker"
    assert spec_name(Target("nats"), single, 1) == "nats"
    replicas = _options({"DATABASE_URL": PG}, replicas=2)
    assert spec_name(Target("worker", "inventory"), replicas, 2) == "inventory-worker-2"
    with pytest.raises(RunError, match="--replica 3: the stack runs 2 replica"):
        spec_name(Target("api", "inventory"), replicas, 3)
    cluster = _options(nats_cluster=3)
    assert spec_name(Target("nats", node=3), cluster, 1) == "nats-3"
    with pytest.raises(RunError, match="name one"):
        spec_name(Target("nats"), cluster, 1)
    with pytest.raises(RunError, match="runs one nats-server"):
        spec_name(Target("nats", node=2), single, 1)


def test_a_whole_service_is_one_process_unless_a_split_stack_runs() -> None:
    split = _options()
    alone = stack_options_for(Target("service", "orders"), split, stack_running=False)
    assert not alone.split
    plan = build_plan(alone, {}, python="/venv/bin/python", nats_binary="/venv/bin/nats-server", facade_available=False)
    spec = select_spec(plan, "orders", Target("service", "orders"))
    assert "MES_ORDERS_ROLE" not in spec.env  # every role in one process
    with pytest.raises(RunError, match="runs orders as orders:api and orders:worker: name one"):
        stack_options_for(Target("service", "orders"), split, stack_running=True)
    with pytest.raises(RunError, match="MES_STACK_SPLIT=0"):
        stack_options_for(Target("api", "orders"), _options({"MES_STACK_SPLIT": "0"}), stack_running=True)


def test_a_target_the_stack_does_not_run_is_named() -> None:
    external = _options(nats_url="nats://10.0.0.5:4222")
    plan = build_plan(external, {}, python="python", nats_binary=None, facade_available=False)
    with pytest.raises(RunError, match=r"starts no nats-server: it uses NATS at nats://10\.0\.0\.5:4222"):
        select_spec(plan, "nats", Target("nats"))
    with pytest.raises(RunError, match="runs no facade"):
        select_spec(plan, "facade", Target("facade"))


def test_secrets_are_masked_and_urls_lose_their_password() -> None:
    assert mask("MES_AUTH_TOKENS", "t=service:x") == "***"
    assert mask("MES_PAGE_TOKEN_SECRET", "s") == "***"
    assert mask("MES_STACK_DB_PASSWORD", "pw") == "***"
    assert mask("MES_FACADE_POSITION_SECRET", "s") == "***"
    assert mask("MES_ORDERS_DATABASE_URL", "postgresql://mes_orders:pw@db:5432/mes") == (
        "postgresql://mes_orders:***@db:5432/mes"
    )
    assert mask("NATS_URL", "nats://a:1,nats://b:2") == "nats://a:1,nats://b:2"
    assert mask("MES_ORDERS_GRPC_PORT", "50151") == "50151"


def test_the_printed_configuration_is_the_plans_with_the_changes_marked() -> None:
    env = {"MES_STACK_DB_PASSWORD": "pw", "MES_AUTH_TOKENS": "tok=service:x", "HOME": "/root"}
    options = _options(env, database_url=PG)
    plan = build_plan(options, env, python="/venv/bin/python", nats_binary="/venv/bin/nats", facade_available=False)
    spec = select_spec(plan, "orders-worker", Target("worker", "orders"))
    settings = parse_settings(["MES_ORDERS_LOG_LEVEL=DEBUG"])
    lines = describe(dataclasses.replace(spec, env={**spec.env, **settings}), origin="here", settings=settings)
    text = "\n".join(lines)
    assert lines[0] == "mes run: orders-worker (here)"
    assert "  command      /venv/bin/python -m services.orders" in lines
    assert "  niceness     +10" in lines
    assert "    MES_ORDERS_ROLE=worker" in lines
    assert "    MES_ORDERS_DATABASE_URL=postgresql://mes_orders:***@127.0.0.1:5432/mes" in lines
    assert "    MES_AUTH_TOKENS=***" in lines and "tok=service" not in text and ":pw@" not in text
    assert "    MES_ORDERS_LOG_LEVEL=DEBUG   (--set)" in lines
    assert "HOME" not in text  # inherited, not printed
    with pytest.raises(RunError, match="write KEY=VALUE"):
        parse_settings(["MES_ORDERS_LOG_LEVEL"])
