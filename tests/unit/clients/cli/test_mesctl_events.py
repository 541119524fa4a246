"""``mesctl events`` arguments: times, where the service's database and NATS are (no I/O)."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clients.cli.__main__ import build_parser, run
from clients.cli._app import CliUsageError
from clients.cli.events import parse_time, resolve_target


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_times_are_utc() -> None:
    assert parse_time("2026-05-01") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_time("2026-05-01T12:00:00+02:00") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2026-05-01T10:00:00Z") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_time("yesterday")


def test_the_target_follows_the_service_settings(tmp_path: Path) -> None:
    args = parse("events", "republish", "-s", "inventory", "--since", "2026-01-01", "--until", "2026-01-02")
    env = {
        "MES_INVENTORY_DATABASE_URL": "postgresql://u@db/mes",
        "DATABASE_URL": "postgresql://u@db/other",
        "NATS_URL": "nats://n:4222",
    }
    target = resolve_target(args, env)
    assert (target.database_url, target.schema, target.nats_url) == (
        "postgresql+asyncpg://u@db/mes",
        "inventory",
        "nats://n:4222",
    )
    flags = parse(
        "events", "dead-letters", "replay", "-s", "orders", "7", "--database-url", "postgresql://x@h/d",
        "--database-schema", "orders_blue", "--nats-url", "nats://other:4222",
    )  # fmt: skip
    target = resolve_target(flags, env)
    assert (target.database_url, target.schema, target.nats_url) == (
        "postgresql+asyncpg://x@h/d",
        "orders_blue",
        "nats://other:4222",
    )
    assert flags.id == [7]


def test_a_missing_sqlite_database_is_a_usage_error(tmp_path: Path) -> None:
    args = parse("events", "dead-letters", "list", "-s", "production")
    with pytest.raises(CliUsageError, match="MES_PRODUCTION_DATABASE_URL"):
        resolve_target(args, {"MES_DATA_DIR": str(tmp_path)})


async def test_bad_ranges_and_limits_exit_2(tmp_path: Path) -> None:
    err = io.StringIO()
    db = f"sqlite:///{tmp_path / 'none.db'}"
    code = await run(
        ["events", "republish", "-s", "orders", "--database-url", db, "--since", "2026-01-02", "--until", "2026-01-01"],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == 2 and "--until must be after --since" in err.getvalue()
    code = await run(
        ["events", "dead-letters", "list", "-s", "orders", "--limit", "0"], stderr=err, stdout=io.StringIO()
    )
    assert code == 2
