"""`mes up` runs the analytics service like the others (API and worker, database, probes, ports), gives
the facade its address, buckets it in the demo plant's time zone, and reads the demo history knob."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphql_facade.config import FacadeSettings
from mes_stack.demo_data import PLANT_TIME_ZONE
from mes_stack.options import KNOBS, SERVICE_PORTS, SERVICES, OptionsError, StackOptions
from mes_stack.plan import FULL_SERVICE_NAMES, GrpcProbe
from mes_stack.state import ProcessInfo
from mes_stack.summary import example_commands, render_summary
from services.analytics.config import DEFAULT_PORT, SERVICE
from tests.unit.mes_stack._plans import PG, plan


def test_the_stack_runs_the_analytics_api_and_its_worker() -> None:
    assert SERVICE == "analytics" and "analytics" in SERVICES
    assert SERVICE_PORTS["analytics"] == DEFAULT_PORT == 50155
    specs = [s for s in plan().processes if s.service == "analytics"]
    assert [(s.name, s.role, s.port) for s in specs] == [
        ("analytics", "service", 50155),
        ("analytics-worker", "worker", 51155),
    ]
    api, worker = specs
    assert api.argv == worker.argv == ("/venv/bin/python", "-m", "services.analytics")
    assert (api.env["MES_ANALYTICS_ROLE"], worker.env["MES_ANALYTICS_ROLE"]) == ("api", "worker")
    assert api.probe == GrpcProbe(("", "mes.analytics.v1.AnalyticsService"))
    assert FULL_SERVICE_NAMES["analytics"] == "mes.analytics.v1.AnalyticsService"
    assert worker.probe == GrpcProbe(("",)) and worker.nice == 10
    assert (
        api.env["MES_ANALYTICS_DATABASE_URL"]
        == worker.env["MES_ANALYTICS_DATABASE_URL"]
        == "sqlite:////data/analytics.db"
    )
    assert worker.env["MES_ANALYTICS_MIGRATE_ON_START"] == "0"  # the API process migrates the SQLite file
    assert api.env["NATS_URL"] == "nats://127.0.0.1:14322"
    assert [c.env_var for c in api.claims] == ["MES_ANALYTICS_GRPC_PORT"]
    assert [c.env_var for c in worker.claims] == ["MES_ANALYTICS_WORKER_PORT"]


def test_the_analytics_gets_its_role_on_postgres_and_replicas_step_like_the_others() -> None:
    p = plan({"DATABASE_URL": PG, "MES_STACK_DB_PASSWORD": "pw"}, replicas=2)
    assert p.database_urls["analytics"] == "postgresql://mes_analytics:pw@127.0.0.1:5432/mes"
    assert p.addresses["analytics"] == ("127.0.0.1:50155", "127.0.0.1:50165")
    assert p.client_env()["MES_ANALYTICS_ADDR"] == "ipv4:127.0.0.1:50155,127.0.0.1:50165"


def test_the_analytics_buckets_in_the_plant_time_zone_unless_told_otherwise() -> None:
    analytics = [s for s in plan().processes if s.service == "analytics"]
    assert all(s.env["MES_ANALYTICS_TIME_ZONE"] == PLANT_TIME_ZONE == "Europe/Rome" for s in analytics)
    assert all("MES_ORDERS_TIME_ZONE" not in s.env for s in plan().processes)
    utc = plan({"MES_ANALYTICS_TIME_ZONE": "UTC"})
    assert all(s.env["MES_ANALYTICS_TIME_ZONE"] == "UTC" for s in utc.processes if s.service == "analytics")


def test_the_facade_gets_the_analytics_address() -> None:
    facade = plan(facade=True).processes[-1]
    assert facade.name == "facade"
    assert facade.env["MES_FACADE_ANALYTICS_ADDR"] == facade.env["MES_ANALYTICS_ADDR"] == "127.0.0.1:50155"
    assert FacadeSettings.from_env(facade.env).analytics_addr == "127.0.0.1:50155"
    assert FacadeSettings.from_env({"MES_ANALYTICS_ADDR": "127.0.0.1:50155"}).analytics_addr is None
    moved = plan({"MES_ANALYTICS_GRPC_PORT": "41155"}, facade=True).processes[-1]
    assert moved.env["MES_FACADE_ANALYTICS_ADDR"] == "127.0.0.1:41155"
    replicas = plan({"DATABASE_URL": PG}, facade=True, replicas=2)
    assert replicas.processes[-1].env["MES_FACADE_ANALYTICS_ADDR"] == "ipv4:" + ",".join(
        replicas.addresses["analytics"]
    )


def test_the_demo_history_knob(tmp_path: Path) -> None:
    assert StackOptions.resolve({}, data_dir=str(tmp_path)).demo_history_days == 42
    assert StackOptions.resolve({"MES_STACK_DEMO_HISTORY_DAYS": "0"}).demo_history_days == 0
    assert StackOptions.resolve({"MES_STACK_DEMO_HISTORY_DAYS": "14"}).demo_history_days == 14
    with pytest.raises(OptionsError, match="MES_STACK_DEMO_HISTORY_DAYS must be an integer"):
        StackOptions.resolve({"MES_STACK_DEMO_HISTORY_DAYS": "six weeks"})
    with pytest.raises(OptionsError, match="MES_STACK_DEMO_HISTORY_DAYS must be at least 0"):
        StackOptions.resolve({"MES_STACK_DEMO_HISTORY_DAYS": "-1"})
    knobs = {name: default for name, default, _ in KNOBS}
    assert knobs["MES_STACK_DEMO_HISTORY_DAYS"] == "42"
    assert knobs["MES_ANALYTICS_GRPC_PORT"] == "50155"


def test_the_summary_lists_the_analytics_and_how_to_look_at_it() -> None:
    p = plan()
    infos = [ProcessInfo(s.name, 100 + i, s.address, str(s.log_path)) for i, s in enumerate(p.processes)]
    text = render_summary(p, infos, data_dir=Path("/data"), partner_keys={})
    rows = [line.split() for line in text.splitlines() if line.startswith("  analytics")]
    assert ["analytics", "105", "127.0.0.1:50155", "/data/logs/analytics.log"] in rows
    assert ["analytics-worker", "110", "127.0.0.1:51155", "/data/logs/analytics-worker.log"] in rows
    assert ["analytics", "sqlite:////data/analytics.db"] in rows  # its database
    assert "mesctl analytics status" in example_commands(p, {})
    moved = example_commands(plan({"MES_ANALYTICS_GRPC_PORT": "41155"}), {})
    assert "export MES_ANALYTICS_ADDR=127.0.0.1:41155" in moved
    assert not any(line.startswith("export") for line in example_commands(p, {}))
