"""Tables every service has beside its own: outbox, inbox, dead letters, idempotency.

Call :func:`add_infrastructure_tables` on the service's ``MetaData`` so that the
service's Alembic migrations create them in its own schema.
"""

from __future__ import annotations

from dataclasses import dataclass

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

__all__ = ["InfraTables", "add_infrastructure_tables"]


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    inbox: Table
    dead_letters: Table
    idempotency: Table


def add_infrastructure_tables(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox",
        metadata,
        # Integer primary key autoincrements on SQLite and PostgreSQL alike.
        Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(120), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False, default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
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
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_inbox_processed", inbox.c.processed_at)
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        Column("consumer", String(80), nullable=False),
        Column("event_id", String(36), nullable=False),
        Column("subject", String(120), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False, default="{}"),
        Column("error", Text, nullable=False),
        Column("deliveries", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("replayed_at", DateTime(timezone=True), nullable=True),
    )
    idempotency = Table(
        "idempotency_keys",
        metadata,
        # scope: the tenant or caller plus the method ("partner:acme:SubmitOrder").
        Column("scope", String(120), primary_key=True),
        Column("request_id", String(64), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("resource_name", String(200), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_idempotency_created", idempotency.c.created_at)
    return InfraTables(outbox, inbox, dead_letters, idempotency)
