"""The analytics service's settings: its port, and the plant's time zone (an unknown one refused at
start with the variable named)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from mes_platform.config import ServiceSettings
from services.analytics.config import DEFAULT_PORT, SERVICE, Settings


def settings(**env: str) -> Settings:
    return Settings.of(ServiceSettings.from_env(SERVICE, env=env))


def test_analytics_defaults_to_its_port_and_utc() -> None:
    s = settings()
    assert (SERVICE, DEFAULT_PORT) == ("analytics", 50155)
    assert s.grpc_port == DEFAULT_PORT
    assert s.time_zone == "UTC"
    assert s.zone == ZoneInfo("UTC")


def test_analytics_reads_the_plant_time_zone() -> None:
    assert settings(MES_ANALYTICS_TIME_ZONE="Europe/Rome").zone == ZoneInfo("Europe/Rome")
    assert settings(MES_ANALYTICS_GRPC_PORT="0").grpc_port == 0


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "Europe/Atlantis"])
def test_analytics_refuses_an_unknown_time_zone(zone: str) -> None:
    with pytest.raises(ValueError, match=r"MES_ANALYTICS_TIME_ZONE.*not a known IANA time zone"):
        settings(MES_ANALYTICS_TIME_ZONE=zone)
