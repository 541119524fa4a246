"""Settings of the production service: the shared ones plus production's own knobs.

Knobs (environment, ``MES_PRODUCTION_`` prefix):

``STATS_WINDOW_MINUTES``  throughput window of ListWorkCenterStats when the request says 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mes_platform.config import ServiceSettings
from services.production.domain.views import DEFAULT_WINDOW_MINUTES

__all__ = ["SERVICE", "Settings"]

SERVICE = "production"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    stats_window_minutes: int = DEFAULT_WINDOW_MINUTES

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        window = int(extra.get("STATS_WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES) or DEFAULT_WINDOW_MINUTES)
        return {"stats_window_minutes": window}
