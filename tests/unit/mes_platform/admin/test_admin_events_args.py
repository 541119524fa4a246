"""``mes events`` arguments: times, where the service's database and NATS are, usage errors (no I/O)."""

from __future__ import annotations

import argparse
import dataclasses
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import MetaData

from mes_platform.admin.cli import add_events_parser, parse_time
from mes_platform.admin.target import AdminUsageError, resolve_target
from mes_platform.config import ServiceSettings
from mes_platform.runtime import ServiceSpec
from mes_platform.tables import add_infrastructure_tables
from mes_stack.__main__ import run
from mes_stack.options import SERVICES


def _no_wiring(settings: Any, db: Any) -> NoReturn:
    raise AssertionError("the admin tool never wires a service")


def spec(name: str, settings: Any = ServiceSettings.of) -> ServiceSpec[Any, Any]:
    return ServiceSpec(name, Path("migrations"), add_infrastructure_tables(MetaData()), settings, _no_wiring)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mes")
    add_events_parser(parser.add_subparsers(dest="command", required=True), SERVICES)
    return parser.parse_args(list(argv))


def test_times_are_utc() -> None:
    assert parse_time("2026-05-01") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_time("2026-05-01T12:00:00+02:00") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2026-05-01T10:00:00Z") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_time("yesterday")
    args = parse("events", "republish", "-s", "orders", "--since", "2026-01-01", "--until", "2026-01-02T01:00+01:00")
    assert (args.since, args.until) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def test_the_target_follows_the_service_settings() -> None:
    args = parse("events", "republish", "-s", "inventory", "--since", "2026-01-01", "--until", "2026-01-02")
    env = {
        "MES_INVENTORY_DATABASE_URL": "postgresql://u@db/mes",
        "DATABASE_URL": "postgresql://u@db/other",
        "NATS_URL": "nats://n:4222",
    }
    inventory = spec(args.service)
    target = resolve_target(inventory, env, database_url=args.database_url, nats_url=args.nats_url)
    assert (target.service, target.database_url, target.schema, target.nats_url) == (
        "inventory",
        "postgresql+asyncpg://u@db/mes",
        "inventory",
        "nats://n:4222",
    )
    assert target.infra is inventory.infra
    flags = parse(
        "events", "dead-letters", "replay", "-s", "orders", "7", "--database-url", "postgresql://x@h/d",
        "--database-schema", "orders_blue", "--nats-url", "nats://other:4222", "-o", "json",
    )  # fmt: skip
    target = resolve_target(
        spec("orders"),
        env,
        database_url=flags.database_url,
        database_schema=flags.database_schema,
        nats_url=flags.nats_url,
    )
    assert (target.database_url, target.schema, target.nats_url) == (
        "postgresql+asyncpg://x@h/d",
        "orders_blue",
        "nats://other:4222",
    )
    assert (flags.id, flags.output) == ([7], "json")


def test_the_service_settings_class_is_the_specs() -> None:
    def blue(base: ServiceSettings) -> ServiceSettings:
        return dataclasses.replace(base, database_schema=f"{base.service}_blue")

    target = resolve_target(spec("production", blue), {"DATABASE_URL": "postgresql://u@db/mes"})
    assert target.schema == "production_blue"
    with pytest.raises(AdminUsageError, match="production settings: METRICS_PORT"):
        resolve_target(spec("production"), {"METRICS_PORT": "70000"})


def test_a_missing_sqlite_database_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(AdminUsageError, match="MES_PRODUCTION_DATABASE_URL"):
        resolve_target(spec("production"), {"MES_DATA_DIR": str(tmp_path)})


def test_mes_events_reads_each_services_own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MES_DATA_DIR", str(tmp_path))
    for service in SERVICES:
        err = io.StringIO()
        code = run(["events", "dead-letters", "list", "-s", service], stdout=io.StringIO(), stderr=err)
        assert code == 2
        assert err.getvalue() == (
            f"mes: error: no {service} database at {tmp_path / (service + '.db')}: "
            f"pass --database-url or set MES_{service.upper()}_DATABASE_URL\n"
        )


def test_bad_ranges_and_limits_exit_2(tmp_path: Path) -> None:
    err = io.StringIO()
    db = f"sqlite:///{tmp_path / 'none.db'}"
    code = run(
        ["events", "republish", "-s", "orders", "--database-url", db, "--since", "2026-01-02", "--until", "2026-01-01"],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == 2 and "--until must be after --since" in err.getvalue()
    err = io.StringIO()
    code = run(["events", "dead-letters", "list", "-s", "orders", "--limit", "0"], stdout=io.StringIO(), stderr=err)
    assert code == 2 and "--limit must be 1..1000" in err.getvalue()
    with pytest.raises(SystemExit) as exited:  # argparse: an unknown service
        run(["events", "dead-letters", "show", "-s", "billing", "1"])
    assert exited.value.code == 2
