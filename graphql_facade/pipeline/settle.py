"""Stage: settle. The actual cost and refund, the ``extensions.cost`` and RateLimit headers and the
cost metrics (and the request's usage: the points charged and the errors' codes, :mod:`graphql_facade.usage`);
then the response body of the operation.

A cached query's computation is turned into an :class:`~graphql_facade.response_cache.Answer` here
(:meth:`Settle.answer`: its serialized data, actual cost and, without errors, what it reads); the
response cache stores it, and every request that waited for it is settled from it
(:meth:`Settle.answered`), charged the measured cost like a hit (:meth:`Settle.cached`)."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse
from graphql_facade.errors import format_errors
from graphql_facade.limits import Admission, LimitGuard, Limits, Settlement, actual_cost
from graphql_facade.metrics import QUERY_COST
from graphql_facade.pipeline.execute import Executed
from graphql_facade.pipeline.prepare import Prepared
from graphql_facade.pipeline.request import Operation, Outcome, dumps, error_body, response_body
from graphql_facade.response_cache import Answer, Entry, reads_of
from graphql_facade.usage import note_cost, note_errors

__all__ = ["Settle"]


class Settle:
    def __init__(self, guard: LimitGuard) -> None:
        self._guard = guard

    async def answer(
        self, viewer: Viewer, limits: Limits, prepared: Prepared, op: Operation, result: Executed
    ) -> Answer[Executed]:
        """What one computation of a cached query produced (cacheable when it has no errors).

        Computations run beside the requests served from the cache: the loop gets control back
        between the steps (serializing, measuring the cost, finding what the answer reads)."""
        await asyncio.sleep(0)
        data = dumps(result.data) if result.data is not None else None
        cost = result.actual
        priced = prepared.priced
        if cost is None:
            await asyncio.sleep(0)
            cost = actual_cost(
                prepared.graphql,
                prepared.document,
                priced.variables,
                op.operation_name,
                result.data,
                result.errors,
                max_page_size=limits.max_page_size,
            )
        reads = None
        if data is not None and not result.errors:
            await asyncio.sleep(0)
            reads = reads_of(
                prepared.graphql, prepared.document, op.operation_name, priced.variables, viewer.partner_id, result.data
            )
        return Answer(result, data, cost, reads)

    async def __call__(self, viewer: Viewer, admission: Admission, prepared: Prepared, result: Executed) -> Outcome:
        """An executed operation that is not cached (mutations, caching off)."""
        if result.actual is not None:  # counted during execution
            settled = await self._guard.settle_at(admission, result.actual)
        else:
            settled = await self._guard.settle(admission, result.data, result.errors)
        data = dumps(result.data) if result.data is not None else None
        return _outcome(viewer, prepared, settled, result, data, "none")

    async def answered(
        self, viewer: Viewer, admission: Admission, prepared: Prepared, answer: Answer[Executed], cache: str
    ) -> Outcome:
        """A query answered by a computation of the response cache (this request's, or one it waited for)."""
        actual = answer.cost if answer.cost is not None else admission.requested
        settled = await self._guard.settle_at(admission, actual)
        return _outcome(viewer, prepared, settled, answer.result, answer.data, cache)

    async def cached(
        self, admission: Admission, prepared: Prepared, hit: CachedResponse | Entry, cache: str = "hit"
    ) -> Outcome:
        """A cached answer after admission: refunded down to the cost measured when it was computed."""
        actual = hit.cost if hit.cost is not None else admission.requested
        settled = await self._guard.settle_at(admission, actual)
        note_cost(settled.actual)
        body = response_body(hit.data, None, {"cost": settled.extension})
        return Outcome(body, headers=settled.headers, kind=prepared.kind, cache=cache)


def _outcome(
    viewer: Viewer, prepared: Prepared, settled: Settlement, result: Executed, data: bytes | None, cache: str
) -> Outcome:
    QUERY_COST.labels(viewer.audience, "actual").observe(settled.actual)
    note_cost(settled.actual)
    errors = format_errors(result.errors) if result.errors else None
    note_errors(errors)
    extensions: dict[str, Any] = {"cost": settled.extension}
    if result.data is None and result.errors and all(e.path is None for e in result.errors):
        # A request error (variables that do not coerce): nothing was executed.
        return Outcome(error_body(errors or [], extensions), status=400, headers=settled.headers, kind="invalid")
    body = response_body(data, errors, extensions)
    if _outage(result):
        headers = {**settled.headers, "Retry-After": "1"}
        return Outcome(body, status=503, headers=headers, kind=prepared.kind, cache=cache)
    return Outcome(body, headers=settled.headers, kind=prepared.kind, cache=cache)


def _outage(result: Executed) -> bool:
    """A backend outage left nothing to answer: some error is ``UNAVAILABLE`` and every root field is
    null. Then the answer is HTTP 503 with ``Retry-After``, as when the outage meets the key lookup;
    an answer with some data keeps HTTP 200 (the errors say what is missing)."""
    if not result.errors or not any((e.extensions or {}).get("code") == "UNAVAILABLE" for e in result.errors):
        return False
    return result.data is None or all(value is None for value in result.data.values())
