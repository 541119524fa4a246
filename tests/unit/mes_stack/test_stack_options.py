"""Options of `mes up`: arguments over environment over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mes_stack.options import (
    DEFAULT_NATS_MONITOR_PORT,
    DEFAULT_NATS_PORT,
    KNOBS,
    OptionsError,
    StackOptions,
)


def test_defaults_use_non_standard_ports_and_sqlite(tmp_path: Path) -> None:
    options = StackOptions.resolve({}, data_dir=str(tmp_path))
    assert options.data_dir == tmp_path.resolve()
    assert options.log_dir == tmp_path.resolve() / "logs"
    assert (options.nats_port, options.nats_monitor_port) == (DEFAULT_NATS_PORT, DEFAULT_NATS_MONITOR_PORT)
    assert options.service_ports == {
        "orders": 50151,
        "inventory": 50152,
        "production": 50153,
        "webhooks": 50154,
        "analytics": 50155,
    }
    chosen = {options.nats_port, options.nats_monitor_port, *options.service_ports.values()}
    assert not chosen & {4222, 5432, 6379, 8222}
    assert options.replicas == 1 and options.demo and not options.postgres and options.nats_url is None


def test_environment_moves_every_port() -> None:
    env = {
        "MES_DATA_DIR": "/tmp/x",
        "MES_ORDERS_GRPC_PORT": "41001",
        "MES_INVENTORY_GRPC_PORT": "41002",
        "MES_PRODUCTION_GRPC_PORT": "41003",
        "MES_WEBHOOKS_GRPC_PORT": "41008",
        "MES_ANALYTICS_GRPC_PORT": "41009",
        "MES_STACK_NATS_PORT": "41004",
        "MES_STACK_NATS_MONITOR_PORT": "41005",
        "MES_FACADE_HTTP_PORT": "41006",
        "MES_STACK_DEMO": "0",
    }
    options = StackOptions.resolve(env)
    assert options.data_dir == Path("/tmp/x")
    assert options.service_ports == {
        "orders": 41001,
        "inventory": 41002,
        "production": 41003,
        "webhooks": 41008,
        "analytics": 41009,
    }
    assert (options.nats_port, options.nats_monitor_port, options.facade_port) == (41004, 41005, 41006)
    assert not options.demo
    assert StackOptions.resolve({"MES_FACADE_PORT": "41007", "MES_FACADE_HTTP_PORT": "41006"}).facade_port == 41007


def test_arguments_win_over_environment() -> None:
    env = {"MES_DATA_DIR": "/tmp/env", "NATS_URL": "nats://env:1", "DATABASE_URL": "postgresql://env@h/db"}
    options = StackOptions.resolve(
        env, data_dir="/tmp/arg", nats_url="nats://arg:2", database_url="postgresql://arg@h/db", no_demo=True
    )
    assert options.data_dir == Path("/tmp/arg")
    assert options.nats_url == "nats://arg:2"
    assert options.database_url == "postgresql://arg@h/db"
    assert not options.demo


def test_log_dir_from_argument_or_environment() -> None:
    assert StackOptions.resolve({}, data_dir="/d", log_dir="/logs").log_dir == Path("/logs")
    assert StackOptions.resolve({"MES_STACK_LOG_DIR": "/env-logs"}, data_dir="/d").log_dir == Path("/env-logs")


def test_nats_and_database_urls_come_from_the_environment() -> None:
    options = StackOptions.resolve({"MES_NATS_URL": "nats://h:1", "MES_DATABASE_URL": "postgres://u@h/db"})
    assert options.nats_url == "nats://h:1"
    assert options.postgres


def test_services_run_as_api_and_worker_processes_unless_told_otherwise() -> None:
    default = StackOptions.resolve({})
    assert default.split and default.worker_nice == 10
    assert default.worker_ports == {
        "orders": 51151,
        "inventory": 51152,
        "production": 51153,
        "webhooks": 51154,
        "analytics": 51155,
    }
    single = StackOptions.resolve({"MES_STACK_SPLIT": "0", "MES_STACK_WORKER_NICE": "0"})
    assert not single.split and single.worker_nice == 0


def test_replicas_need_postgres() -> None:
    with pytest.raises(OptionsError, match="needs PostgreSQL"):
        StackOptions.resolve({}, replicas=2)
    assert StackOptions.resolve({"DATABASE_URL": "postgresql://u@h/db"}, replicas=3).replicas == 3
    assert StackOptions.resolve({"DATABASE_URL": "postgresql://u@h/db", "MES_STACK_REPLICAS": "2"}).replicas == 2


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ({"DATABASE_URL": "sqlite:///x.db"}, {}, "must be a PostgreSQL URL"),
        ({}, {"replicas": 0}, "at least 1"),
        ({"MES_ORDERS_GRPC_PORT": "abc"}, {}, "MES_ORDERS_GRPC_PORT must be an integer"),
        ({"MES_STACK_NATS_PORT": "70000"}, {}, "MES_STACK_NATS_PORT must be a TCP port"),
        ({"MES_STACK_START_TIMEOUT_S": "-1"}, {}, "greater than zero"),
        ({"MES_STACK_REPLICA_PORT_STEP": "0"}, {}, "at least 1"),
        ({"MES_STACK_WORKER_NICE": "20"}, {}, "MES_STACK_WORKER_NICE must be at most 19"),
        ({"MES_ORDERS_WORKER_PORT": "0"}, {}, "MES_ORDERS_WORKER_PORT must be at least 1"),
        ({"MES_FACADE_METRICS_PORT": "public"}, {}, r"MES_FACADE_METRICS_PORT must be a TCP port \(1..65535\) or 0"),
        ({"MES_FACADE_METRICS_PORT": "70000"}, {}, r"MES_FACADE_METRICS_PORT must be a TCP port \(1..65535\) or 0"),
    ],
)
def test_bad_values_name_the_knob(env: dict[str, str], kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        StackOptions.resolve(env, **kwargs)  # type: ignore[arg-type]


def test_knob_table_lists_every_port_variable() -> None:
    names = " ".join(name for name, _, _ in KNOBS)
    for var in (
        "MES_STACK_NATS_PORT",
        "MES_STACK_NATS_MONITOR_PORT",
        "MES_ORDERS_GRPC_PORT",
        "MES_FACADE_PORT",
        "MES_FACADE_METRICS_PORT",
        "MES_<SVC>_WORKER_PORT",
    ):
        assert var in names
