"""Where one service's database and NATS are: command-line flags first, then the service's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mes_platform.config import ServiceSettings, normalize_db_url
from mes_platform.runtime import ServiceSpec
from mes_platform.tables import InfraTables

__all__ = ["AdminUsageError", "Target", "resolve_target"]


class AdminUsageError(Exception):
    """A bad argument or a missing setting found before any I/O (exit status 2)."""


@dataclass(frozen=True)
class Target:
    """One service's database (URL, schema, infrastructure tables) and NATS servers."""

    service: str
    database_url: str
    schema: str
    nats_url: str | None
    infra: InfraTables


def resolve_target(
    spec: ServiceSpec[Any, Any],
    env: Mapping[str, str],
    *,
    database_url: str | None = None,
    database_schema: str | None = None,
    nats_url: str | None = None,
) -> Target:
    """The flags that are given, else what the service reads from ``env`` (``spec.settings``).

    A SQLite file that does not exist is a usage error: opening it would create an empty
    database and report "no dead letters" for a service that never ran there.
    """
    try:
        settings = spec.settings(ServiceSettings.from_env(spec.name, env=env))
    except ValueError as exc:
        raise AdminUsageError(f"{spec.name} settings: {exc}") from None
    url = normalize_db_url(database_url) if database_url else settings.database_url
    target = Target(
        service=spec.name,
        database_url=url,
        schema=database_schema or settings.database_schema,
        nats_url=nats_url or settings.nats_url,
        infra=spec.infra,
    )
    if url.startswith("sqlite") and "///" in url:
        path = Path(url.split("///", 1)[1])
        if str(path) != ":memory:" and not path.is_file():
            variable = f"MES_{spec.name.upper()}_DATABASE_URL"
            raise AdminUsageError(f"no {spec.name} database at {path}: pass --database-url or set {variable}")
    return target
