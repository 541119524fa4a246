"""The limits in the order an HTTP endpoint applies them, in three calls.

::

    guard = LimitGuard(limiters.bucket, limiters.rate)
    headers = await guard.check_request(key, limits, body_size=len(body), operations=len(batch))
    for each operation:
        query = await resolve_persisted_query(store, op.query, op.extensions)
        guard.check_query(query, limits)                      # tokens, before parsing
        document = parse(query, max_tokens=limits.max_tokens)
        # graphql validation (Strawberry) may run here or after admit()
        admission = await guard.admit(key, limits, schema, document, variables, operation_name)
        result = await run_with_timeout(execute(...), limits.request_timeout_s)
        settled = await guard.settle(admission, result.data, result.errors)
        response.extensions["cost"] = settled.extension
        headers = merge_rate_limit_headers(headers, settled.headers)

Every step raises :class:`~graphql_facade.limits.errors.LimitError` (with its HTTP status and
headers) and nothing is charged for a refused step that comes before the bucket. A batch is
charged per operation. ``admit`` order: depth/aliases → requested cost (pagination arguments)
→ ``MAX_COST_EXCEEDED`` → submissions per minute (``RATE_LIMITED``, policy ``"submissions"``;
each root mutation field named in ``submission_fields`` counts one) → bucket (``THROTTLED``),
skipped when ``limits.throttle`` is false (operators). ``admit`` is ``price`` (the requested cost,
checked against the maximum; no I/O) then ``charge`` (submissions and bucket), for callers that
check the document's structure themselves and price it before admitting it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)

from graphql_facade.limits._document import fragments_of
from graphql_facade.limits.bucket import BucketState, CostBucket
from graphql_facade.limits.cost import actual_cost, check_cost, requested_cost
from graphql_facade.limits.headers import (
    cost_extension,
    merge_rate_limit_headers,
    rate_limit_headers,
    rate_limited_error,
    request_rate_headers,
    throttled_error,
)
from graphql_facade.limits.ratelimit import RateLimiter
from graphql_facade.limits.structure import check_batch, check_body_size, check_document, check_tokens
from graphql_facade.limits.tiers import Limits

__all__ = ["Admission", "LimitGuard", "Priced", "Settlement"]

MINUTE_S = 60.0


@dataclass(frozen=True)
class Priced:
    """An operation to admit, with its requested cost once :meth:`LimitGuard.price` priced it."""

    schema: GraphQLSchema
    document: DocumentNode
    variables: Mapping[str, Any] | None
    operation_name: str | None
    requested: int = 0


@dataclass(frozen=True)
class Admission:
    key: str
    limits: Limits
    requested: int
    state: BucketState
    schema: GraphQLSchema
    document: DocumentNode
    variables: Mapping[str, Any] | None
    operation_name: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settlement:
    actual: int
    state: BucketState
    extension: dict[str, Any]  # the value of the response's ``extensions.cost``
    headers: dict[str, str]


def _count_fields(
    selection_set: SelectionSetNode, names: Collection[str], fragments: Mapping[str, Any], seen: set[str]
) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value in names
        elif isinstance(selection, InlineFragmentNode):
            count += _count_fields(selection.selection_set, names, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                count += _count_fields(fragment.selection_set, names, fragments, seen | {selection.name.value})
    return count


class LimitGuard:
    def __init__(
        self,
        bucket: CostBucket,
        rate: RateLimiter,
        *,
        submission_fields: Collection[str] = frozenset({"submitOrder"}),
    ) -> None:
        self.bucket = bucket
        self.rate = rate
        self.submission_fields = frozenset(submission_fields)

    async def check_request(self, key: str, limits: Limits, *, body_size: int, operations: int = 1) -> dict[str, str]:
        """Body size, batch size and requests per minute; returns the ``"requests"`` headers."""
        check_body_size(body_size, limits)
        check_batch(operations, limits)
        state = await self.rate.hit(f"requests:{key}", limits.requests_per_minute, MINUTE_S)
        if not state.allowed:
            raise rate_limited_error(state, "requests")
        return request_rate_headers(state, "requests")

    async def current_headers(
        self, key: str, limits: Limits, *, requests: bool = True, cost: bool = True
    ) -> dict[str, str]:
        """The ``"requests"`` and/or ``"cost"`` RateLimit headers of ``key`` as they stand, nothing charged
        (a hit of weight 0, a take of 0 points): for responses that charged nothing (shed, refused early)."""
        headers: dict[str, str] = {}
        if requests:
            state = await self.rate.hit(f"requests:{key}", limits.requests_per_minute, MINUTE_S, weight=0)
            headers = merge_rate_limit_headers(headers, request_rate_headers(state, "requests"))
        if cost:
            bucket = await self.bucket.take(key, 0, limits) if limits.throttle else BucketState.unthrottled(limits)
            headers = merge_rate_limit_headers(headers, rate_limit_headers(bucket))
        return headers

    def check_query(self, query: str, limits: Limits) -> int:
        return check_tokens(query, limits)

    def submissions(self, document: DocumentNode, operation_name: str | None) -> int:
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return 0
        return _count_fields(operation.selection_set, self.submission_fields, fragments_of(document), set())

    async def admit(
        self,
        key: str,
        limits: Limits,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> Admission:
        check_document(document, limits, operation_name)
        return await self.charge(key, limits, self.price(limits, Priced(schema, document, variables, operation_name)))

    def price(self, limits: Limits, operation: Priced) -> Priced:
        """``operation`` with its requested cost (pagination arguments checked); ``MAX_COST_EXCEEDED`` above
        ``limits.max_cost``."""
        requested = requested_cost(
            operation.schema,
            operation.document,
            operation.variables,
            operation.operation_name,
            max_page_size=limits.max_page_size,
        )
        check_cost(requested, limits)
        return dataclasses.replace(operation, requested=requested)

    async def charge(self, key: str, limits: Limits, priced: Priced) -> Admission:
        """Submissions per minute, then the requested points from the bucket (partners)."""
        document, operation_name, requested = priced.document, priced.operation_name, priced.requested
        submissions = self.submissions(document, operation_name)
        if submissions:
            rate = await self.rate.hit(
                f"submissions:{key}", limits.submissions_per_minute, MINUTE_S, weight=submissions
            )
            if not rate.allowed:
                raise rate_limited_error(rate, "submissions")
        if limits.throttle:
            state = await self.bucket.take(key, requested, limits)
            if not state.allowed:
                raise throttled_error(requested, state)
        else:
            state = BucketState.unthrottled(limits)
        headers = rate_limit_headers(state)
        return Admission(
            key, limits, requested, state, priced.schema, document, priced.variables, operation_name, headers
        )

    async def settle(
        self,
        admission: Admission,
        data: Mapping[str, Any] | None,
        errors: Iterable[GraphQLError | Mapping[str, Any]] | None = None,
    ) -> Settlement:
        """Actual cost, refund of ``requested - actual``, ``extensions.cost`` and headers."""
        actual = actual_cost(
            admission.schema,
            admission.document,
            admission.variables,
            admission.operation_name,
            data,
            errors,
            max_page_size=admission.limits.max_page_size,
        )
        return await self.settle_at(admission, actual)

    async def settle_at(self, admission: Admission, actual: int) -> Settlement:
        """Refund ``requested - actual`` (partners, unless the bucket was unreachable); cost extension and headers."""
        state = admission.state
        refund = admission.requested - actual
        if admission.limits.throttle and refund > 0 and not state.degraded:
            state = await self.bucket.refund(admission.key, refund, admission.limits)
        return Settlement(actual, state, cost_extension(admission.requested, actual, state), rate_limit_headers(state))
