"""Checks of the test infrastructure itself (URL helpers, folder markers, port picking)."""

from __future__ import annotations

import pytest

from tests._infra.ports import free_ports
from tests._infra.postgres import plain_dsn, redact, with_database


def test_tests_under_unit_folder_get_unit_marker(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_with_database_switches_database_and_driver() -> None:
    admin = "postgresql://postgres:secret@127.0.0.1:5432/postgres?application_name=t"
    assert with_database(admin, "mes_test_ab12") == (
        "postgresql+asyncpg://postgres:secret@127.0.0.1:5432/mes_test_ab12?application_name=t"
    )
    assert with_database(admin, "x", driver=None).startswith("postgresql://postgres:secret@")


def test_plain_dsn_strips_sqlalchemy_driver() -> None:
    assert plain_dsn("postgresql+asyncpg://u@h:1/db") == "postgresql://u@h:1/db"
    assert plain_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError):
        plain_dsn("mysql://u@h/db")


def test_redact_hides_password_only() -> None:
    assert redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/15"


def test_free_ports_are_distinct_and_unprivileged() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4
    assert all(1024 < port < 65536 for port in ports)
