"""Tables of the webhooks service (one MetaData; the service's own schema on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from mes_platform.tables import SEQUENCE, add_infrastructure_tables, service_metadata, timestamp

__all__ = ["deliveries", "delivery_log", "endpoints", "infra", "metadata", "order_refs"]

metadata = service_metadata()

endpoints = Table(
    "endpoints",
    metadata,
    Column("endpoint_id", String(40), primary_key=True),
    Column("partner_id", String(40), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(500), nullable=False),
    # Comma-separated event type values ("order.status_changed").
    Column("event_types", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_by", String(20), nullable=True),
    Column("disabled_reason", String(500), nullable=False),
    timestamp("disabled_at", nullable=True),
    timestamp("failing_since", nullable=True),
    # The signing secrets, as partners hold them ("whsec_..."): HMAC needs them in clear.
    Column("secret", String(120), nullable=False),
    timestamp("secret_created_at"),
    Column("previous_secret", String(120), nullable=True),
    timestamp("previous_secret_expires_at", nullable=True),
    Column("version", Integer, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)
Index("ix_endpoints_partner_created", endpoints.c.partner_id, endpoints.c.created_at, endpoints.c.endpoint_id)
Index("ix_endpoints_created", endpoints.c.created_at, endpoints.c.endpoint_id)

# The partner's reference of each order, from the submitted events (status changes lack it).
order_refs = Table(
    "order_refs",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("partner_id", String(40), nullable=False),
    Column("partner_reference", String(64), nullable=False),
    timestamp("created_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    # The webhook-id.
    Column("delivery_id", String(40), nullable=False, unique=True),
    Column("endpoint_id", String(40), nullable=False),
    Column("partner_id", String(40), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_version", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    timestamp("created_at"),
    # The first attempt of the current retry window (NULL until then).
    timestamp("window_start", nullable=True),
    timestamp("next_attempt_at", nullable=True),
    Column("lease_owner", String(80), nullable=True),
    timestamp("lease_until", nullable=True),
    timestamp("last_attempt_at", nullable=True),
    Column("last_http_status", Integer, nullable=False),
    Column("last_error", String(500), nullable=False),
    timestamp("delivered_at", nullable=True),
    UniqueConstraint("endpoint_id", "event_id", name="uq_deliveries_endpoint_event"),
)
# Due deliveries in the order they are sent; an endpoint's, a partner's (newest first);
# the earlier changes of an order to an endpoint (sent first).
Index("ix_deliveries_due", deliveries.c.state, deliveries.c.next_attempt_at, deliveries.c.seq)
Index("ix_deliveries_endpoint", deliveries.c.endpoint_id, deliveries.c.seq)
Index("ix_deliveries_partner", deliveries.c.partner_id, deliveries.c.seq)
Index("ix_deliveries_order", deliveries.c.endpoint_id, deliveries.c.order_id, deliveries.c.order_version)

delivery_log = Table(
    "delivery_log",
    metadata,
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(40), nullable=False),
    Column("partner_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    timestamp("logged_at"),
    Column("delivery_id", String(40), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(500), nullable=False),
    Column("message", String(500), nullable=False),
)
Index("ix_delivery_log_endpoint", delivery_log.c.endpoint_id, delivery_log.c.seq)

infra = add_infrastructure_tables(metadata)
