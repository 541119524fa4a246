"""Prometheus metrics of the messaging layer (beside ``mes_platform.telemetry.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["CONSUMER_HANDLE_SECONDS", "OUTBOX_PUBLISH_LAG", "RELAY_FAILURES"]

OUTBOX_PUBLISH_LAG = Histogram(
    "mes_outbox_publish_lag_seconds",
    "Time from the outbox insert to the JetStream PubAck",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RELAY_FAILURES = Counter("mes_outbox_relay_failures_total", "Outbox rows whose publish failed (retried)", ["service"])
CONSUMER_HANDLE_SECONDS = Histogram(
    "mes_consumer_handle_seconds",
    "Time to handle one message (transaction included)",
    ["service", "consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
