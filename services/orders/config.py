"""Settings of the orders service: the shared ``ServiceSettings`` plus its own knobs.

Knobs (environment, ``MES_ORDERS_`` prefix):

``API_KEY_CACHE_TTL_S``  seconds an API key lookup is cached in process (default 2; 0 disables).
                         A revoked key keeps working on other replicas for at most this long.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mes_platform.config import ServiceSettings

__all__ = ["SERVICE", "Settings"]

SERVICE = "orders"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    api_key_cache_ttl_s: float = 2.0

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        return {"api_key_cache_ttl_s": float(extra.get("API_KEY_CACHE_TTL_S", "2") or 2)}
