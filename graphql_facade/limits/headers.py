"""What clients see of the limits: ``extensions.cost``, RateLimit headers, 429 errors.

``extensions.cost`` is Shopify-compatible and goes on every response::

    {"requestedQueryCost": 12, "actualQueryCost": 7,
     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1993.0, "restoreRate": 100.0}}

``actualQueryCost`` is ``None`` when the operation did not run (throttled).

Headers use the IETF ``draft-ietf-httpapi-ratelimit-headers-10`` syntax, one named policy per
limit (the unit of ``"cost"`` is query-cost points, of ``"requests"`` requests)::

    RateLimit-Policy: "cost";q=2000;w=20
    RateLimit: "cost";r=1993;t=1

* ``q``: the quota (bucket capacity / requests per window); ``w``: seconds the quota spans
  (for the bucket: the time an empty bucket needs to refill);
* ``r``: what is left now (rounded down); ``t``: when throttled, the seconds until the
  request would be admitted (ceil, at least 1); otherwise the seconds until the quota is
  whole again (0 when nothing was used).
* ``Retry-After: <seconds>`` (integer, at least 1, equal to ``t``) only when refused.

:func:`merge_rate_limit_headers` joins several policies into one field each (structured-field
lists) and keeps the largest ``Retry-After``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from graphql_facade.limits.bucket import BucketState
from graphql_facade.limits.errors import LimitCode, LimitError
from graphql_facade.limits.ratelimit import RateState

__all__ = [
    "cost_extension",
    "merge_rate_limit_headers",
    "rate_limit_headers",
    "rate_limited_error",
    "request_rate_headers",
    "throttled_error",
]

_POLICY_NAME = re.compile(r"^[A-Za-z0-9_.:/\- ]{1,64}$")


def _policy(name: str) -> str:
    if not _POLICY_NAME.match(name):
        raise ValueError(f"invalid rate-limit policy name {name!r}")
    return f'"{name}"'


def _seconds(value: float) -> int:
    return max(0, math.ceil(value - 1e-9))


def cost_extension(requested: int, actual: int | None, state: BucketState) -> dict[str, Any]:
    return {
        "requestedQueryCost": int(requested),
        "actualQueryCost": None if actual is None else int(actual),
        "throttleStatus": {
            "maximumAvailable": float(state.maximum_available),
            "currentlyAvailable": round(float(state.currently_available), 3),
            "restoreRate": float(state.restore_rate),
        },
    }


def _headers(
    policy: str, quota: int, window: int, remaining: int, allowed: bool, wait: float, reset: float
) -> dict[str, str]:
    name = _policy(policy)
    until = max(1, _seconds(wait)) if not allowed else _seconds(reset)
    headers = {
        "RateLimit-Policy": f"{name};q={quota};w={max(1, window)}",
        "RateLimit": f"{name};r={max(0, remaining)};t={until}",
    }
    if not allowed:
        headers["Retry-After"] = str(until)
    return headers


def rate_limit_headers(state: BucketState, policy_name: str = "cost") -> dict[str, str]:
    """Headers for the cost bucket (see the module docstring)."""
    capacity = state.maximum_available
    rate = state.restore_rate
    return _headers(
        policy_name,
        quota=math.floor(capacity),
        window=_seconds(capacity / rate),
        remaining=math.floor(state.currently_available + 1e-9),
        allowed=state.allowed,
        wait=state.retry_after_s,
        reset=(capacity - state.currently_available) / rate,
    )


def request_rate_headers(state: RateState, policy_name: str = "requests") -> dict[str, str]:
    """Headers for a request-rate policy."""
    return _headers(
        policy_name,
        quota=state.limit,
        window=_seconds(state.window_s),
        remaining=state.remaining,
        allowed=state.allowed,
        wait=state.retry_after_s,
        reset=state.reset_s,
    )


def merge_rate_limit_headers(*parts: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in parts:
        for name, value in part.items():
            if name == "Retry-After":
                merged[name] = str(max(int(value), int(merged.get(name, "0"))))
            elif name in merged:
                merged[name] = f"{merged[name]}, {value}"
            else:
                merged[name] = value
    return merged


def throttled_error(requested: int, state: BucketState, policy_name: str = "cost") -> LimitError:
    """429 ``THROTTLED``: the bucket cannot pay the requested cost now."""
    headers = rate_limit_headers(state, policy_name)
    return LimitError(
        LimitCode.THROTTLED,
        "Throttled",
        extensions={"cost": cost_extension(requested, None, state), "retryAfter": int(headers.get("Retry-After", "1"))},
        headers=headers,
    )


def rate_limited_error(state: RateState, policy_name: str = "requests") -> LimitError:
    """429 ``RATE_LIMITED``: a request-count policy (all requests, order submissions) is exhausted."""
    headers = request_rate_headers(state, policy_name)
    return LimitError(
        LimitCode.RATE_LIMITED,
        f"Too many requests: the '{policy_name}' limit is {state.limit} per {_seconds(state.window_s)} s.",
        extensions={
            "policy": policy_name,
            "limit": state.limit,
            "windowSeconds": state.window_s,
            "retryAfter": int(headers.get("Retry-After", "1")),
        },
        headers=headers,
    )
