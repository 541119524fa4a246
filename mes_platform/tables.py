"""Tables every service has beside its own: outbox, inbox, dead letters, idempotency; and
what the services' own tables are built of: the naming convention of their constraints and
indexes, times with their zone, autoincrementing keys.

Call :func:`add_infrastructure_tables` on the service's ``MetaData`` so that the
service's Alembic migrations create them in its own schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "NAMING_CONVENTION",
    "SEQUENCE",
    "TIMESTAMP",
    "InfraTables",
    "add_infrastructure_tables",
    "service_metadata",
    "timestamp",
]

#: The names Alembic gives constraints and indexes (the services' migrations hold them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: A point in time, stored with its zone.
TIMESTAMP = DateTime(timezone=True)
#: An autoincrementing key: INTEGER on SQLite (the only type that autoincrements there), BIGINT on PostgreSQL.
SEQUENCE = Integer().with_variant(BigInteger(), "postgresql")


def service_metadata(**overrides: str) -> MetaData:
    """A service's ``MetaData``: :data:`NAMING_CONVENTION`, with ``overrides`` of its entries."""
    return MetaData(naming_convention={**NAMING_CONVENTION, **overrides})


def timestamp(name: str, *, nullable: bool = False) -> Column[Any]:
    """A :data:`TIMESTAMP` column."""
    return Column(name, TIMESTAMP, nullable=nullable)


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    inbox: Table
    dead_letters: Table
    idempotency: Table


def _event_columns(*, unique: bool) -> list[Column[Any]]:
    """An event as the outbox publishes it (and a dead letter keeps it); headers as JSON."""
    return [
        Column("event_id", String(36), nullable=False, unique=unique),
        Column("subject", String(120), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False, default="{}"),
    ]


def add_infrastructure_tables(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        *_event_columns(unique=True),
        timestamp("created_at"),
        timestamp("published_at", nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
    )
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.seq)
    Index("ix_outbox_created", outbox.c.created_at)
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(80), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("subject", String(120), nullable=False),
        timestamp("processed_at"),
    )
    Index("ix_inbox_processed", inbox.c.processed_at)
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", SEQUENCE, primary_key=True, autoincrement=True),
        Column("consumer", String(80), nullable=False),
        *_event_columns(unique=False),
        Column("error", Text, nullable=False),
        Column("deliveries", Integer, nullable=False),
        timestamp("created_at"),
        timestamp("replayed_at", nullable=True),
    )
    idempotency = Table(
        "idempotency_keys",
        metadata,
        # scope: the tenant or caller plus the method ("partner:acme:SubmitOrder").
        Column("scope", String(120), primary_key=True),
        Column("request_id", String(64), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("resource_name", String(200), nullable=False),
        timestamp("created_at"),
    )
    Index("ix_idempotency_created", idempotency.c.created_at)
    return InfraTables(outbox, inbox, dead_letters, idempotency)
