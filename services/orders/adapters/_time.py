"""SQLite returns naive datetimes; everything here is UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "as_utc_or_none"]


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)
