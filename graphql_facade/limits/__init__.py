"""Partner protection for the GraphQL facade: structure, cost, budget and rate limits.

Everything here is framework-free (graphql-core AST + asyncio + redis-py), so the HTTP
endpoint calls it directly; :class:`LimitGuard` strings the calls together in the right order.

Order of checks for one HTTP request (``key`` = the partner id for partners, so all API keys
of one partner share one budget; the operator id for operators)::

    1. check_body_size(len(body), limits)                 PAYLOAD_TOO_LARGE      413
       (the endpoint reads the body as a stream and stops at the limit)
    2. check_batch(len(operations), limits)               BATCH_TOO_LARGE        400
    3. rate.hit("requests:"+key, requests_per_minute, 60) RATE_LIMITED           429
    per operation:
    3b. check_variables(variables, limits)                VARIABLES_TOO_DEEP, VARIABLES_TOO_LARGE 400
    4. resolve_persisted_query(store, query, extensions)  PERSISTED_QUERY_*      200/400
    5. check_tokens(query, limits)                        TOO_MANY_TOKENS        400
    6. graphql.parse(query, max_tokens=limits.max_tokens)
    7. check_document(document, limits, operation_name)   QUERY_TOO_DEEP, TOO_MANY_ALIASES 400
    8. requested_cost(schema, document, variables, name)  PAGINATION_ARGUMENT_*  400
       check_cost(cost, limits)                           MAX_COST_EXCEEDED      400
    9. submissions per minute (submitOrder fields)        RATE_LIMITED           429
   10. bucket.take(key, cost, limits)  if limits.throttle  THROTTLED             429
   11. run_with_timeout(execute(...), request_timeout_s)  TIMEOUT                504
   12. actual_cost(...); bucket.refund(key, requested - actual, limits)
   13. extensions["cost"] = cost_extension(requested, actual, state);
       headers: rate_limit_headers(state) (+ request_rate_headers, merge_rate_limit_headers)

Error codes (``LimitError.code`` = GraphQL ``extensions.code``; ``LimitError.http_status``;
``LimitError.headers``; every error's extensions also carry ``documentation``):

===================================  ====  ======================================================
code                                 HTTP  extensions
===================================  ====  ======================================================
``THROTTLED``                        429   ``cost`` (requested, actual null, throttleStatus),
                                           ``retryAfter``; headers Retry-After, RateLimit(-Policy)
``RATE_LIMITED``                     429   ``policy`` (``requests``/``submissions``), ``limit``,
                                           ``windowSeconds``, ``retryAfter``; same headers
``MAX_COST_EXCEEDED``                400   ``cost``, ``maxCost``
``QUERY_TOO_DEEP``                   400   ``maxDepth``
``TOO_MANY_ALIASES``                 400   ``aliases``, ``maxAliases``
``TOO_MANY_TOKENS``                  400   ``maxTokens``
``PAYLOAD_TOO_LARGE``                413   ``size`` (declared, or read when reading stopped), ``maxBytes``
``VARIABLES_TOO_LARGE``              400   ``limit`` (``max_variables_bytes``), ``size``, ``maxBytes``
``VARIABLES_TOO_DEEP``               400   ``limit`` (``max_variables_depth``), ``maxDepth``
``BATCH_TOO_LARGE``                  400   ``operations``, ``maxOperations``
``TOO_MANY_ORDER_LINES``             400   ``lines``, ``maxLines``
``TOO_MANY_SUBSCRIPTIONS``           400   ``maxSubscriptions``
``PAGINATION_ARGUMENT_REQUIRED``     400   ``field`` (response path), ``arguments``
``PAGINATION_ARGUMENT_OUT_OF_RANGE`` 400   ``field``, ``argument``, ``value``, ``min``, ``max``
``PERSISTED_QUERY_NOT_FOUND``        200   (Apollo clients resend the full query on it)
``PERSISTED_QUERY_HASH_MISMATCH``    400
``PERSISTED_QUERY_NOT_SUPPORTED``    400   (``persistedQuery.version`` other than 1)
``BAD_REQUEST``                      400   (no query, malformed hash, empty batch)
``TIMEOUT``                          504   ``timeoutSeconds``
===================================  ====  ======================================================

The 4xx statuses follow GraphQL-over-HTTP for ``application/graphql-response+json`` (a
request refused before execution has no ``data``). An endpoint answering legacy
``application/json`` clients may use 200 for the 400s instead; 429, 413 and 504 stay.
Request-rate limits use their own code ``RATE_LIMITED`` (not ``THROTTLED``), so clients can
tell "spend fewer points" from "send fewer requests".

Public API (all names are re-exported here):

* errors: ``LimitError(code, message, *, http_status, extensions, headers)`` with ``.code``,
  ``.message``, ``.http_status``, ``.extensions``, ``.headers``, ``.to_dict()``,
  ``.to_graphql_error()``; ``LimitCode`` (StrEnum); ``HTTP_STATUS``.
* tiers: ``Limits`` (frozen dataclass), ``partner_limits(tier)``, ``operator_limits()``,
  ``LimitsConfig.from_env(env=None)`` → ``.for_partner(tier)``, ``.for_operator()``
  (knobs table in :mod:`graphql_facade.limits.tiers`).
* cost: ``requested_cost(schema, document, variables, operation_name, *, max_page_size=100) -> int``,
  ``actual_cost(schema, document, variables, operation_name, data, errors=None, *, max_page_size=100) -> int``,
  ``check_cost(cost, limits)``, ``is_connection(type)``, ``COST_WEIGHT`` (the metadata key of a field's
  own cost) (model in :mod:`graphql_facade.limits.cost`).
* structure: ``check_body_size(size, limits)``, ``check_variables(variables, limits)``,
  ``nesting_depth(value, stop_above) -> int``, ``check_tokens(query, limits) -> int``,
  ``check_document(document, limits, operation_name) -> DocumentShape``,
  ``check_batch(n, limits)``, ``check_order_lines(n, limits)``, ``check_subscriptions(open, limits)``.
* bucket: ``CostBucket`` protocol (``async take(key, cost, limits)``, ``async refund(key, amount,
  limits)`` → ``BucketState(allowed, currently_available, maximum_available, restore_rate,
  retry_after_s, degraded)``), ``MemoryCostBucket(clock=..., max_keys=...)``,
  ``RedisCostBucket(redis, prefix=..., fail_open=True)``; ``RateLimiter`` protocol
  (``async hit(key, limit, window_s, *, weight=1)`` → ``RateState(allowed, remaining, reset_s,
  limit, window_s, retry_after_s, degraded)``), ``MemoryRateLimiter``, ``RedisRateLimiter``
  (GCRA); ``make_limiters(redis_url) -> Limiters(bucket, rate, redis)`` with ``aclose()``.
* headers: ``cost_extension(requested, actual, state)``, ``rate_limit_headers(state,
  policy_name="cost")``, ``request_rate_headers(state, policy_name="requests")``,
  ``merge_rate_limit_headers(*headers)``, ``throttled_error(requested, state)``,
  ``rate_limited_error(state, policy_name)``.
* apq: ``PersistedQueryStore(max_entries=5000, max_chars=...)`` (memory LRU),
  ``RedisPersistedQueryStore(redis, ttl_s=86400, prefix="mes:apq:")``, ``QueryStore`` protocol,
  ``resolve_persisted_query(store, query, extensions) -> str``, ``query_hash(query)``.
* timeouts: ``run_with_timeout(awaitable, timeout_s)``.
* guard: ``LimitGuard(bucket, rate, *, submission_fields={"submitOrder"})`` with
  ``check_request``, ``current_headers`` (the RateLimit headers of a caller, nothing charged),
  ``check_query``, ``admit`` → ``Admission`` (``price`` → ``Priced``, then
  ``charge``), ``settle`` → ``Settlement`` (``settle_at`` for a known actual cost).
"""

from __future__ import annotations

from graphql_facade.limits.addresses import AddressLimiter, ClientAddresses
from graphql_facade.limits.apq import (
    MemoryPersistedQueryStore,
    PersistedQueryStore,
    QueryStore,
    RedisPersistedQueryStore,
    query_hash,
    resolve_persisted_query,
)
from graphql_facade.limits.bucket import (
    BucketState,
    CostBucket,
    Limiters,
    MemoryCostBucket,
    RedisCostBucket,
    make_limiters,
)
from graphql_facade.limits.cost import COST_WEIGHT, actual_cost, check_cost, is_connection, requested_cost
from graphql_facade.limits.errors import HTTP_STATUS, LimitCode, LimitError
from graphql_facade.limits.guard import Admission, LimitGuard, Priced, Settlement
from graphql_facade.limits.headers import (
    cost_extension,
    merge_rate_limit_headers,
    rate_limit_headers,
    rate_limited_error,
    request_rate_headers,
    throttled_error,
)
from graphql_facade.limits.ratelimit import MemoryRateLimiter, RateLimiter, RateState, RedisRateLimiter
from graphql_facade.limits.structure import (
    DocumentShape,
    check_batch,
    check_body_size,
    check_document,
    check_order_lines,
    check_subscriptions,
    check_tokens,
    check_variables,
    nesting_depth,
)
from graphql_facade.limits.tiers import Limits, LimitsConfig, operator_limits, partner_limits
from graphql_facade.limits.timeouts import run_with_timeout

__all__ = [
    "COST_WEIGHT",
    "HTTP_STATUS",
    "AddressLimiter",
    "Admission",
    "BucketState",
    "ClientAddresses",
    "CostBucket",
    "DocumentShape",
    "LimitCode",
    "LimitError",
    "LimitGuard",
    "Limiters",
    "Limits",
    "LimitsConfig",
    "MemoryCostBucket",
    "MemoryPersistedQueryStore",
    "MemoryRateLimiter",
    "PersistedQueryStore",
    "Priced",
    "QueryStore",
    "RateLimiter",
    "RateState",
    "RedisCostBucket",
    "RedisPersistedQueryStore",
    "RedisRateLimiter",
    "Settlement",
    "actual_cost",
    "check_batch",
    "check_body_size",
    "check_cost",
    "check_document",
    "check_order_lines",
    "check_subscriptions",
    "check_tokens",
    "check_variables",
    "cost_extension",
    "is_connection",
    "make_limiters",
    "merge_rate_limit_headers",
    "nesting_depth",
    "operator_limits",
    "partner_limits",
    "query_hash",
    "rate_limit_headers",
    "rate_limited_error",
    "request_rate_headers",
    "requested_cost",
    "resolve_persisted_query",
    "run_with_timeout",
    "throttled_error",
]
