"""Settings of the production service: the shared ones plus production's own knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from services.production.domain.views import DEFAULT_WINDOW_MINUTES
from services.shared.config import ServiceSettings

__all__ = ["SERVICE", "Settings"]

SERVICE = "production"


@dataclass(frozen=True)
class Settings(ServiceSettings):
    #: Throughput window of ListWorkCenterStats when the request says 0
    #: (MES_PRODUCTION_STATS_WINDOW_MINUTES).
    stats_window_minutes: int = DEFAULT_WINDOW_MINUTES

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        return cls.wrap(ServiceSettings.from_env(SERVICE, env))

    @classmethod
    def wrap(cls, base: ServiceSettings) -> Settings:
        """Production settings from shared ones (knobs read from ``base.extra``)."""
        if isinstance(base, Settings):
            return base
        values = {f.name: getattr(base, f.name) for f in fields(ServiceSettings)}
        window = int(base.extra.get("STATS_WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES) or DEFAULT_WINDOW_MINUTES)
        return cls(**values, stats_window_minutes=window)
