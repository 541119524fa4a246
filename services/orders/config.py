"""Settings of the orders service: the shared ``ServiceSettings`` plus its own knobs.

Knobs (environment, ``MES_ORDERS_`` prefix):

``API_KEY_CACHE_TTL_S``  seconds an API key lookup is cached in process (default 2; 0 disables).
                         A revoked key keeps working on other replicas for at most this long.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from services.shared.config import ServiceSettings

__all__ = ["SERVICE", "Settings"]

SERVICE = "orders"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    api_key_cache_ttl_s: float = 2.0

    @classmethod
    def from_env(cls, service: str = SERVICE, env: Mapping[str, str] | None = None) -> Settings:
        return cls.of(ServiceSettings.from_env(service, env))

    @classmethod
    def of(cls, base: ServiceSettings) -> Settings:
        """The orders settings for shared settings (knobs read from ``base.extra``)."""
        if isinstance(base, Settings):
            return base
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(ServiceSettings)}
        ttl = float(base.extra.get("API_KEY_CACHE_TTL_S", "2") or 2)
        return cls(**fields, api_key_cache_ttl_s=ttl)
