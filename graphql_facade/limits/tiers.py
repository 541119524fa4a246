"""Limits per partner tier and for operators, with overrides from the environment.

Defaults (partner numbers follow Shopify's Standard plan: 1,000 points per query, a
2,000-point bucket refilled at 100 points/s; page sizes follow GitHub: 1..100):

=========================  ==========  ==========  ==========  ==========  =====================================
field                      STANDARD    PLUS        ENTERPRISE  OPERATOR    meaning
=========================  ==========  ==========  ==========  ==========  =====================================
``max_cost``               1000        1000        1000        20000       max requested cost of one operation
``bucket_capacity``        2000        4000        20000       20000       leaky bucket size (points)
``restore_rate``           100         200         1000        1000        bucket refill (points/second)
``max_depth``              8           8           8           15          selection levels (edges/node count)
``max_aliases``            15          15          15          50          aliased fields (fragments per use)
``max_tokens``             2000        2000        2000        10000       lexer tokens of the query text
``max_body_bytes``         1000000     1000000     1000000     1000000     HTTP request body (read as a stream)
``max_variables_bytes``    262144      262144      262144      262144      ``variables`` of one operation (JSON bytes)
``max_variables_depth``    16          16          16          16          nesting of ``variables`` (objects/lists)
``max_batch``              5           5           5           10          operations per batched request
``max_page_size``          100         100         100         100         upper bound of ``first``/``last``
``max_lines_per_order``    250         250         250         250         lines in one submitted order
``submissions_per_minute`` 60          120         600         600         ``submitOrder`` calls per key
``requests_per_minute``    600         1200        6000        6000        HTTP requests per key (all kinds)
``max_subscriptions``      10          10          10          50          subscriptions per connection
``request_timeout_s``      10          10          10          10          execution time limit (seconds)
``throttle``               true        true        true        false       enforce the cost bucket
``max_concurrency``        4           8           16          16          requests of one caller running at once
``max_queued``             256         512         1024        256         requests of one caller waiting to run
``share_weight``           1           2           4           4           its turn when the replica is full
=========================  ==========  ==========  ==========  ==========  =====================================

The last three are the fair admission of :mod:`graphql_facade.pipeline.admit`: a caller (one
partner, or one operator) only ever fills its own share of a replica, whatever it sends.

The body is read as a stream and reading stops at ``max_body_bytes`` (chunked or not). Whatever the
limits, a body's JSON nested deeper than 128 levels is a ``BAD_REQUEST`` (so ``max_variables_depth``
is at most 100). ``variables`` are measured as compact JSON (``{"a":1}`` is 7 bytes, depth 1).

Operators are *measured, not throttled*: their cost is computed, capped by ``max_cost``
and reported, but the bucket is not enforced (``throttle=false``).

Every value can be overridden per tier with ``MES_FACADE_LIMITS_<TIER>_<FIELD>``, where
``<TIER>`` is ``STANDARD``, ``PLUS``, ``ENTERPRISE`` or ``OPERATOR`` and ``<FIELD>`` the
upper-cased field name, e.g. ``MES_FACADE_LIMITS_STANDARD_RESTORE_RATE=100`` or
``MES_FACADE_LIMITS_OPERATOR_THROTTLE=true``. Booleans accept ``true/false/1/0/yes/no/on/off``.
Unknown ``MES_FACADE_LIMITS_*`` names and invalid values raise ``ValueError`` at start-up,
so a typo never silently leaves a default in place.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ENV_PREFIX",
    "MAX_VARIABLES_DEPTH",
    "OPERATOR",
    "PARTNER_TIERS",
    "Limits",
    "LimitsConfig",
    "operator_limits",
    "partner_limits",
]

ENV_PREFIX = "MES_FACADE_LIMITS_"
PARTNER_TIERS = ("STANDARD", "PLUS", "ENTERPRISE")
OPERATOR = "OPERATOR"
#: The highest ``max_variables_depth`` allowed (the body's JSON may nest 128 levels, whatever the limits).
MAX_VARIABLES_DEPTH = 100
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Limits:
    """Every number the protection layer enforces for one caller class."""

    max_cost: int = 1000
    bucket_capacity: int = 2000
    restore_rate: float = 100.0
    max_depth: int = 8
    max_aliases: int = 15
    max_tokens: int = 2000
    max_body_bytes: int = 1_000_000
    max_variables_bytes: int = 262_144
    max_variables_depth: int = 16
    max_batch: int = 5
    max_page_size: int = 100
    max_lines_per_order: int = 250
    submissions_per_minute: int = 60
    requests_per_minute: int = 600
    max_subscriptions: int = 10
    request_timeout_s: float = 10.0
    throttle: bool = True
    max_concurrency: int = 4
    max_queued: int = 256
    share_weight: int = 1

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool) and value <= 0:
                raise ValueError(f"limit {f.name} must be positive, got {value!r}")
        if self.max_variables_depth > MAX_VARIABLES_DEPTH:
            raise ValueError(
                f"limit max_variables_depth must be at most {MAX_VARIABLES_DEPTH}, got {self.max_variables_depth}"
            )
        if self.throttle and self.max_cost > self.bucket_capacity:
            raise ValueError(
                f"max_cost ({self.max_cost}) exceeds bucket_capacity ({self.bucket_capacity}):"
                " such a query could never be admitted"
            )

    @property
    def refill_seconds(self) -> float:
        """Seconds an empty bucket needs to fill up (the ``w`` of ``RateLimit-Policy``)."""
        return self.bucket_capacity / self.restore_rate


_STANDARD = Limits()
_PARTNER_DEFAULTS: Mapping[str, Limits] = {
    "STANDARD": _STANDARD,
    "PLUS": dataclasses.replace(
        _STANDARD,
        bucket_capacity=4000,
        restore_rate=200.0,
        submissions_per_minute=120,
        requests_per_minute=1200,
        max_concurrency=8,
        max_queued=512,
        share_weight=2,
    ),
    "ENTERPRISE": dataclasses.replace(
        _STANDARD,
        bucket_capacity=20_000,
        restore_rate=1000.0,
        submissions_per_minute=600,
        requests_per_minute=6000,
        max_concurrency=16,
        max_queued=1024,
        share_weight=4,
    ),
}
_OPERATOR_DEFAULT = Limits(
    max_cost=20_000,
    bucket_capacity=20_000,
    restore_rate=1000.0,
    max_depth=15,
    max_aliases=50,
    max_tokens=10_000,
    max_batch=10,
    submissions_per_minute=600,
    requests_per_minute=6000,
    max_subscriptions=50,
    throttle=False,
    max_concurrency=16,
    max_queued=256,
    share_weight=4,
)


def _tier_name(tier: str) -> str:
    name = tier.strip().upper()
    if name not in PARTNER_TIERS:
        raise ValueError(f"unknown partner tier {tier!r}; expected one of {', '.join(PARTNER_TIERS)}")
    return name


def partner_limits(tier: str) -> Limits:
    """Built-in defaults of a partner tier (``STANDARD``, ``PLUS``, ``ENTERPRISE``; any case)."""
    return _PARTNER_DEFAULTS[_tier_name(tier)]


def operator_limits() -> Limits:
    """Built-in defaults for operators: higher structural limits, measured but not throttled."""
    return _OPERATOR_DEFAULT


def _parse(name: str, raw: str, default: object) -> object:
    text = raw.strip()
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        return float(text)
    except ValueError:
        raise ValueError(f"invalid value {raw!r} for {name}") from None


def _apply_env(base: Limits, tier: str, env: Mapping[str, str], used: set[str]) -> Limits:
    changes: dict[str, object] = {}
    for f in dataclasses.fields(base):
        name = f"{ENV_PREFIX}{tier}_{f.name.upper()}"
        if name in env:
            used.add(name)
            changes[f.name] = _parse(name, env[name], getattr(base, f.name))
    return dataclasses.replace(base, **changes) if changes else base  # type: ignore[arg-type]


@dataclass(frozen=True)
class LimitsConfig:
    """The limits of every tier and of operators, after environment overrides."""

    tiers: Mapping[str, Limits] = field(default_factory=lambda: dict(_PARTNER_DEFAULTS))
    operator: Limits = _OPERATOR_DEFAULT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LimitsConfig:
        env = os.environ if env is None else env
        used: set[str] = set()
        tiers = {tier: _apply_env(_PARTNER_DEFAULTS[tier], tier, env, used) for tier in PARTNER_TIERS}
        operator = _apply_env(_OPERATOR_DEFAULT, OPERATOR, env, used)
        unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in used)
        if unknown:
            raise ValueError(f"unknown limit settings: {', '.join(unknown)}")
        return cls(tiers=tiers, operator=operator)

    def for_partner(self, tier: str) -> Limits:
        return self.tiers[_tier_name(tier)]

    def for_operator(self) -> Limits:
        return self.operator
