"""Stage: admit. The in-flight cap of the endpoint, and the charge of one prepared operation
(submissions per minute, then the cost bucket for partners; operators are measured only)."""

from __future__ import annotations

from graphql_facade.auth import Viewer
from graphql_facade.limits import Admission, LimitGuard, Limits
from graphql_facade.metrics import INFLIGHT, QUERY_COST, SHED
from graphql_facade.pipeline.prepare import Prepared

__all__ = ["Admit", "InflightGate"]


class InflightGate:
    """At most ``limit`` requests at once: the endpoint sheds the others (503) before any work."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.active = 0

    def enter(self) -> bool:
        if self.active >= self._limit:
            SHED.inc()
            return False
        self.active += 1
        INFLIGHT.inc()
        return True

    def leave(self) -> None:
        self.active -= 1
        INFLIGHT.dec()


class Admit:
    def __init__(self, guard: LimitGuard) -> None:
        self._guard = guard

    async def __call__(self, viewer: Viewer, limits: Limits, prepared: Prepared) -> Admission:
        """Charge ``prepared``'s requested cost; raises ``RATE_LIMITED`` or ``THROTTLED`` (nothing charged)."""
        admission = await self._guard.charge(viewer.rate_key, limits, prepared.priced)
        QUERY_COST.labels(viewer.audience, "requested").observe(prepared.requested)
        return admission
