"""Stage: settle. The actual cost and refund, the ``extensions.cost`` and RateLimit headers, the
response-cache store and the cost metrics; then the response body of the operation."""

from __future__ import annotations

from typing import Any

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse
from graphql_facade.errors import format_errors
from graphql_facade.limits import Admission, LimitGuard
from graphql_facade.metrics import QUERY_COST
from graphql_facade.pipeline.execute import Executed
from graphql_facade.pipeline.lookup import CacheSlot
from graphql_facade.pipeline.prepare import Prepared
from graphql_facade.pipeline.request import Outcome, dumps, error_body, response_body

__all__ = ["Settle"]


class Settle:
    def __init__(self, guard: LimitGuard) -> None:
        self._guard = guard

    async def __call__(
        self,
        viewer: Viewer,
        admission: Admission,
        prepared: Prepared,
        result: Executed,
        slot: CacheSlot | None,
    ) -> Outcome:
        """An executed operation; a query answered without errors is stored in ``slot``."""
        if result.actual is not None:  # counted during execution
            settled = await self._guard.settle_at(admission, result.actual)
        else:
            settled = await self._guard.settle(admission, result.data, result.errors)
        QUERY_COST.labels(viewer.audience, "actual").observe(settled.actual)
        data = dumps(result.data) if result.data is not None else None
        if slot is not None and data is not None and not result.errors:
            await slot.put(data, settled.actual)
        errors = format_errors(result.errors) if result.errors else None
        extensions: dict[str, Any] = {"cost": settled.extension}
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # A request error (variables that do not coerce): nothing was executed.
            return Outcome(error_body(errors or [], extensions), status=400, headers=settled.headers, kind="invalid")
        cache = "miss" if slot is not None else "none"
        return Outcome(
            response_body(data, errors, extensions), headers=settled.headers, kind=prepared.kind, cache=cache
        )

    async def cached(self, admission: Admission, prepared: Prepared, hit: CachedResponse) -> Outcome:
        """A partner's cache hit: charged at admission, refunded down to the cost measured at store time."""
        actual = hit.cost if hit.cost is not None else admission.requested
        settled = await self._guard.settle_at(admission, actual)
        body = response_body(hit.data, None, {"cost": settled.extension})
        return Outcome(body, headers=settled.headers, kind=prepared.kind, cache="hit")
