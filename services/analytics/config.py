"""Settings of the analytics service: the shared ``ServiceSettings`` plus its own knobs.

Knobs (environment, ``MES_ANALYTICS_`` prefix; defaults in brackets):

``TIME_ZONE`` [UTC]   the plant's IANA time zone (``Europe/Rome``): hour, day and week buckets
                      start at its boundaries, a promised day ends at its midnight. An unknown
                      zone stops the service at start with a clear message.

The messaging knobs (``CONSUMER_*``, ``STREAM_*``...) are the platform's
(:mod:`mes_platform.messaging.runtime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, ClassVar

from mes_platform.own_port import OwnPortSettings
from services.analytics.domain.shifts import load_zone

__all__ = ["DEFAULT_PORT", "SERVICE", "Settings"]

SERVICE = "analytics"
DEFAULT_PORT = 50155
_ZONE_KNOB = "MES_ANALYTICS_TIME_ZONE"


@dataclass(frozen=True)
class Settings(OwnPortSettings):
    default_port: ClassVar[int] = DEFAULT_PORT

    time_zone: str = "UTC"

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        name = extra.get("TIME_ZONE", "").strip() or "UTC"
        if load_zone(name) is None:
            raise ValueError(f"{_ZONE_KNOB}: {name!r} is not a known IANA time zone (for example Europe/Rome or UTC)")
        return {"time_zone": name}

    @property
    def zone(self) -> tzinfo:
        zone = load_zone(self.time_zone)
        assert zone is not None  # checked by own_knobs
        return zone
