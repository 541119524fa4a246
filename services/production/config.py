"""Settings of the production service: the shared ones plus production's own knobs.

Knobs (environment, ``MES_PRODUCTION_`` prefix):

``STATS_WINDOW_MINUTES``  throughput window of ListWorkCenterStats when the request says 0.
``SESSION_TTL_S``         how long an operator's session lasts after the sign-in (default 12 hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mes_platform.config import ServiceSettings
from services.production.domain.people import DEFAULT_SESSION_TTL
from services.production.domain.views import DEFAULT_WINDOW_MINUTES

__all__ = ["SERVICE", "Settings"]

SERVICE = "production"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    stats_window_minutes: int = DEFAULT_WINDOW_MINUTES
    session_ttl_s: int = int(DEFAULT_SESSION_TTL.total_seconds())

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        window = int(extra.get("STATS_WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES) or DEFAULT_WINDOW_MINUTES)
        ttl = int(extra.get("SESSION_TTL_S", "") or DEFAULT_SESSION_TTL.total_seconds())
        if ttl <= 0:
            raise ValueError(f"MES_PRODUCTION_SESSION_TTL_S must be a positive number of seconds, not {ttl}")
        return {"stats_window_minutes": window, "session_ttl_s": ttl}
