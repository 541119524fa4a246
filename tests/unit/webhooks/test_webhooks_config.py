"""The webhooks service's settings: its port, the development flag, the knobs that shape delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mes_platform.config import ServiceSettings
from services.webhooks.config import Settings


def _settings(**env: str) -> Settings:
    return Settings.of(ServiceSettings.from_env("webhooks", env=env))


def test_defaults_are_production_rules_on_port_50154() -> None:
    settings = _settings()
    assert settings.grpc_port == 50154 and not settings.dev_mode
    policy = settings.policy()
    assert not policy.allow_insecure
    assert policy.retry.retry_for == timedelta(hours=24) and policy.disable_after == timedelta(days=3)
    assert policy.secret_overlap == timedelta(hours=24)
    assert settings.dispatch().lease >= timedelta(seconds=2 * settings.request_timeout_s)
    assert _settings(MES_WEBHOOKS_GRPC_PORT="6000").grpc_port == 6000


@pytest.mark.parametrize("variable", ["MES_DEV_MODE", "MES_WEBHOOKS_DEV_MODE"])
def test_the_development_flag_comes_from_either_variable(variable: str) -> None:
    assert _settings(**{variable: "1"}).policy().allow_insecure
    assert not _settings(**{variable: "0"}).dev_mode


def test_knobs_are_read_and_checked() -> None:
    settings = _settings(MES_WEBHOOKS_RETRY_FOR_S="90000", MES_WEBHOOKS_PER_ENDPOINT="2", MES_WEBHOOKS_LEASE_S="1")
    assert settings.policy().retry.retry_for == timedelta(seconds=90000)
    assert settings.dispatch().per_endpoint == 2
    assert settings.dispatch().lease == timedelta(seconds=30)  # at least twice the 15 s attempt
    with pytest.raises(ValueError, match="MES_WEBHOOKS_PER_ENDPOINT"):
        _settings(MES_WEBHOOKS_PER_ENDPOINT="0")
    with pytest.raises(ValueError, match="not a number"):
        _settings(MES_WEBHOOKS_RETRY_FOR_S="a day")
