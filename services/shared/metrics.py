"""Prometheus metrics shared by the services."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["EVENTS_CONSUMED", "EVENTS_PUBLISHED", "RPC_LATENCY"]

RPC_LATENCY = Histogram(
    "mes_rpc_seconds",
    "gRPC server call latency",
    ["service", "method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("mes_events_published_total", "Outbox events published", ["service", "subject"])
EVENTS_CONSUMED = Counter(
    "mes_events_consumed_total", "Events handled by consumers", ["service", "consumer", "outcome"]
)
