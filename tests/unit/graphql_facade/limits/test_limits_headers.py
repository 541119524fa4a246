"""extensions.cost, IETF RateLimit headers, THROTTLED and RATE_LIMITED errors."""

from __future__ import annotations

import pytest

from graphql_facade.limits import (
    BucketState,
    LimitCode,
    RateState,
    cost_extension,
    merge_rate_limit_headers,
    rate_limit_headers,
    rate_limited_error,
    request_rate_headers,
    throttled_error,
)


def test_cost_extension_has_exactly_the_shopify_shape() -> None:
    state = BucketState(True, 1893.123456, 2000.0, 100.0)
    assert cost_extension(107, 42, state) == {
        "requestedQueryCost": 107,
        "actualQueryCost": 42,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1893.123, "restoreRate": 100.0},
    }
    throttle = cost_extension(70, None, state)["throttleStatus"]
    assert all(isinstance(v, float) for v in throttle.values())
    assert cost_extension(70, None, state)["actualQueryCost"] is None


def test_headers_of_an_admitted_request() -> None:
    headers = rate_limit_headers(BucketState(True, 1893.7, 2000.0, 100.0))
    assert headers == {
        "RateLimit-Policy": '"cost";q=2000;w=20',
        "RateLimit": '"cost";r=1893;t=2',  # 106.3 points missing -> full again in 1.063 s -> 2
    }


def test_headers_of_a_full_bucket() -> None:
    headers = rate_limit_headers(BucketState(True, 2000.0, 2000.0, 100.0))
    assert headers["RateLimit"] == '"cost";r=2000;t=0'


def test_headers_of_a_throttled_request() -> None:
    headers = rate_limit_headers(BucketState(False, 30.0, 2000.0, 100.0, retry_after_s=0.5))
    assert headers == {
        "RateLimit-Policy": '"cost";q=2000;w=20',
        "RateLimit": '"cost";r=30;t=1',
        "Retry-After": "1",
    }
    headers = rate_limit_headers(BucketState(False, 0.0, 2000.0, 100.0, retry_after_s=9.2), "partner-cost")
    assert headers["Retry-After"] == "10"
    assert headers["RateLimit"] == '"partner-cost";r=0;t=10'


def test_non_integral_windows_round_up() -> None:
    headers = rate_limit_headers(BucketState(True, 0.0, 1000.0, 30.0))
    assert headers["RateLimit-Policy"] == '"cost";q=1000;w=34'


def test_request_rate_headers() -> None:
    allowed = RateState(True, remaining=599, reset_s=0.1, limit=600, window_s=60.0)
    assert request_rate_headers(allowed) == {
        "RateLimit-Policy": '"requests";q=600;w=60',
        "RateLimit": '"requests";r=599;t=1',
    }
    denied = RateState(False, 0, 60.0, 60, 60.0, retry_after_s=0.2)
    assert request_rate_headers(denied, "submissions")["Retry-After"] == "1"


def test_policy_names_must_be_safe_structured_field_strings() -> None:
    with pytest.raises(ValueError, match="policy name"):
        rate_limit_headers(BucketState(True, 1.0, 2.0, 1.0), 'bad"name')


def test_merge_joins_policies_and_keeps_the_longest_retry_after() -> None:
    merged = merge_rate_limit_headers(
        {"RateLimit-Policy": '"requests";q=600;w=60', "RateLimit": '"requests";r=1;t=1', "Retry-After": "3"},
        {"RateLimit-Policy": '"cost";q=2000;w=20', "RateLimit": '"cost";r=0;t=7', "Retry-After": "7"},
        {},
    )
    assert merged == {
        "RateLimit-Policy": '"requests";q=600;w=60, "cost";q=2000;w=20',
        "RateLimit": '"requests";r=1;t=1, "cost";r=0;t=7',
        "Retry-After": "7",
    }


def test_throttled_error() -> None:
    error = throttled_error(70, BucketState(False, 66.0, 2000.0, 100.0, retry_after_s=0.04))
    assert (error.code, error.http_status, error.message) == ("THROTTLED", 429, "Throttled")
    assert error.headers["Retry-After"] == "1"
    assert error.extensions["code"] == LimitCode.THROTTLED
    assert error.extensions["retryAfter"] == 1
    assert error.extensions["cost"]["requestedQueryCost"] == 70
    assert error.extensions["cost"]["actualQueryCost"] is None
    assert error.extensions["cost"]["throttleStatus"]["currentlyAvailable"] == 66.0


def test_rate_limited_error() -> None:
    error = rate_limited_error(RateState(False, 0, 60.0, 60, 60.0, retry_after_s=1.5), "submissions")
    assert (error.code, error.http_status) == ("RATE_LIMITED", 429)
    assert error.extensions["policy"] == "submissions"
    assert (error.extensions["limit"], error.extensions["windowSeconds"], error.extensions["retryAfter"]) == (
        60,
        60.0,
        2,
    )
    assert error.headers == {
        "RateLimit-Policy": '"submissions";q=60;w=60',
        "RateLimit": '"submissions";r=0;t=2',
        "Retry-After": "2",
    }
