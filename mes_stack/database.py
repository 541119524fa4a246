"""``mes db provision`` and ``mes db migrate``, also used by ``mes up`` on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mes_platform.config import ServiceSettings
from mes_platform.migrations import upgrade
from mes_platform.provision import provision
from mes_stack.options import SERVICES
from mes_stack.plan import repo_root

__all__ = ["MigrationError", "migrate_services", "migrations_dir", "provision_database", "redact_url"]


class MigrationError(RuntimeError):
    """A service has no migrations folder, or its upgrade failed."""


def migrations_dir(service: str) -> Path:
    return repo_root() / "services" / service / "migrations"


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{host}"


async def provision_database(admin_url: str, password: str | None = None, *, prefix: str | None = None) -> None:
    """One schema + login role per service (idempotent; names ``<prefix>_<service>`` with a prefix)."""
    await provision(admin_url, SERVICES, password=password, prefix=prefix)


async def migrate_services(
    envs: Mapping[str, Mapping[str, str]],
    *,
    services: Sequence[str] = SERVICES,
    say: Callable[[str], None] = print,
) -> None:
    """Upgrade each service's schema to head, with the settings the service itself would read."""
    for service in services:
        settings = ServiceSettings.from_env(service, env=envs[service])
        location = migrations_dir(service)
        if not (location / "env.py").is_file():
            raise MigrationError(f"{service}: no migrations in {location}")
        say(f"  migrating {service}: {redact_url(settings.database_url)} (schema {settings.database_schema})")
        try:
            await upgrade(location, settings.database_url, settings.database_schema)
        except Exception as exc:
            raise MigrationError(f"{service}: migration failed: {exc}") from exc
