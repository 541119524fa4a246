"""Limits per tier, operators, environment overrides, errors and the timeout helper."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from graphql import GraphQLError

from graphql_facade.limits import (
    HTTP_STATUS,
    LimitCode,
    LimitError,
    Limits,
    LimitsConfig,
    operator_limits,
    partner_limits,
    run_with_timeout,
)


def test_standard_defaults() -> None:
    limits = partner_limits("standard")
    assert limits == Limits()
    assert (limits.max_cost, limits.bucket_capacity, limits.restore_rate) == (1000, 2000, 100.0)
    assert (limits.max_depth, limits.max_aliases, limits.max_tokens) == (8, 15, 2000)
    assert (limits.max_body_bytes, limits.max_batch, limits.max_lines_per_order) == (1_000_000, 5, 250)
    assert (limits.submissions_per_minute, limits.requests_per_minute) == (60, 600)
    assert (limits.max_subscriptions, limits.request_timeout_s, limits.throttle) == (10, 10.0, True)
    assert limits.refill_seconds == 20.0


def test_higher_tiers_scale_the_budget_not_the_query_limit() -> None:
    plus, enterprise = partner_limits("PLUS"), partner_limits("ENTERPRISE")
    assert (plus.bucket_capacity, plus.restore_rate, plus.submissions_per_minute) == (4000, 200.0, 120)
    assert (enterprise.bucket_capacity, enterprise.restore_rate, enterprise.submissions_per_minute) == (
        20_000,
        1000.0,
        600,
    )
    assert plus.max_cost == enterprise.max_cost == 1000


def test_operators_are_measured_not_throttled() -> None:
    limits = operator_limits()
    assert (limits.max_depth, limits.max_aliases, limits.max_cost, limits.throttle) == (15, 50, 20_000, False)


def test_unknown_tier() -> None:
    with pytest.raises(ValueError, match="unknown partner tier"):
        partner_limits("GOLD")


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(max_depth=0)
    with pytest.raises(ValueError, match="never be admitted"):
        Limits(max_cost=3000)
    assert Limits(max_cost=3000, throttle=False).max_cost == 3000


def test_config_from_env_overrides_per_tier() -> None:
    config = LimitsConfig.from_env(
        {
            "MES_FACADE_LIMITS_STANDARD_RESTORE_RATE": "50",
            "MES_FACADE_LIMITS_STANDARD_MAX_DEPTH": " 6 ",
            "MES_FACADE_LIMITS_PLUS_THROTTLE": "off",
            "MES_FACADE_LIMITS_OPERATOR_MAX_COST": "50000",
            "UNRELATED": "x",
        }
    )
    standard = config.for_partner("Standard")
    assert (standard.restore_rate, standard.max_depth, standard.max_cost) == (50.0, 6, 1000)
    assert config.for_partner("PLUS").throttle is False
    assert config.for_partner("ENTERPRISE") == partner_limits("ENTERPRISE")
    assert config.for_operator().max_cost == 50_000
    assert LimitsConfig.from_env({}) == LimitsConfig()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MES_FACADE_LIMITS_STANDARD_MAX_DEPTH": "deep"}, "invalid value"),
        ({"MES_FACADE_LIMITS_STANDARD_THROTTLE": "maybe"}, "invalid value"),
        ({"MES_FACADE_LIMITS_STANDARD_MAX_DEPHT": "9"}, "unknown limit settings"),
        ({"MES_FACADE_LIMITS_GOLD_MAX_DEPTH": "9"}, "unknown limit settings"),
        ({"MES_FACADE_LIMITS_STANDARD_MAX_COST": "5000"}, "never be admitted"),
    ],
)
def test_config_from_env_rejects_bad_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LimitsConfig.from_env(env)


def test_every_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(LimitCode)
    assert HTTP_STATUS[LimitCode.THROTTLED] == HTTP_STATUS[LimitCode.RATE_LIMITED] == 429
    assert HTTP_STATUS[LimitCode.PAYLOAD_TOO_LARGE] == 413
    assert HTTP_STATUS[LimitCode.PERSISTED_QUERY_NOT_FOUND] == 200


def test_limit_error_shapes() -> None:
    error = LimitError(LimitCode.MAX_COST_EXCEEDED, "too much", extensions={"cost": 2, "maxCost": 1})
    assert (error.code, error.message, error.http_status, error.headers) == ("MAX_COST_EXCEEDED", "too much", 400, {})
    assert error.to_dict() == {
        "message": "too much",
        "extensions": {
            "code": "MAX_COST_EXCEEDED",
            "cost": 2,
            "maxCost": 1,
            "documentation": error.extensions["documentation"],
        },
    }
    graphql_error = error.to_graphql_error()
    assert isinstance(graphql_error, GraphQLError)
    assert graphql_error.extensions == error.extensions
    assert graphql_error.original_error is error
    assert LimitError(LimitCode.BAD_REQUEST, "x", http_status=200).http_status == 200
    assert "MAX_COST_EXCEEDED" in repr(error)


async def test_run_with_timeout() -> None:
    async def quick() -> int:
        return 7

    assert await run_with_timeout(quick(), 1.0) == 7
    with pytest.raises(LimitError) as info:
        await run_with_timeout(asyncio.sleep(10), 0.01)
    assert (info.value.code, info.value.http_status) == ("TIMEOUT", 504)

    async def own_timeout() -> None:
        raise TimeoutError("backend deadline")

    with pytest.raises(TimeoutError, match="backend deadline"):
        await run_with_timeout(own_timeout(), 1.0)


def test_limits_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        partner_limits("STANDARD").max_cost = 5  # type: ignore[misc]
