"""Settings of the inventory service: the common service settings plus inventory knobs.

Knobs come from ``MES_INVENTORY_<NAME>`` (see ``ServiceSettings.extra``):
``RESERVE_ATTEMPTS`` (runs of a use case after write races, default 6),
``RETRY_BATCH`` (waiting orders read per page of a retry pass, which goes through all of
them; default 500) and ``WAITING_RETRY_INTERVAL_S`` (with NATS: how often waiting orders are
retried besides the pass at start and those woken by stock events, a safety net; default 30).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mes_platform.config import ServiceSettings

__all__ = ["SERVICE", "Settings"]

SERVICE = "inventory"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    reserve_attempts: int = 6
    retry_batch: int = 500
    waiting_retry_interval_s: float = 30.0

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        return {
            "reserve_attempts": max(1, int(extra.get("RESERVE_ATTEMPTS", "6"))),
            "retry_batch": max(1, int(extra.get("RETRY_BATCH", "500"))),
            "waiting_retry_interval_s": max(0.1, float(extra.get("WAITING_RETRY_INTERVAL_S", "30"))),
        }
