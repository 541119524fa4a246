"""Stage: admit. Fair admission of requests to the endpoint, and the charge of one prepared operation
(submissions per minute, then the cost bucket for partners; operators are measured only).

Admission (:class:`FairGate`) happens after authentication, so every request belongs to a tenant
(a partner, or one operator) before it competes for anything shared:

* each tenant runs at most its tier's ``max_concurrency`` requests at once; more wait in the
  tenant's own queue (at most ``max_queued``; beyond that, ``429 TOO_MANY_CONCURRENT_REQUESTS``);
* the replica runs at most ``capacity`` requests at once (``MES_FACADE_MAX_INFLIGHT``); when it is
  full, the waiting tenants are served in turn, weighted by their tier's ``share_weight``
  (start-time fair queuing: each tenant's next request is tagged with its virtual start time, a
  heavier tenant's tags advance more slowly), so one tenant can only ever fill its own share;
* a request that waits longer than ``wait_s`` is answered ``503 OVERLOADED`` when the replica was
  full, ``429 TOO_MANY_CONCURRENT_REQUESTS`` when its own tenant's cap held it;
* a refused request (``429``) keeps its slot for ``refusal_hold_s`` after its answer is sent: a
  client that ignores ``Retry-After`` and resends at once waits in its own queue, so refusals cost
  the replica at most ``max_concurrency / refusal_hold_s`` answers per second per tenant.

Nothing here touches the network or a clock other than the event loop's: it is a few dictionary
operations per request.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field

from graphql_facade.auth import Viewer
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import Admission, LimitCode, LimitError, LimitGuard, Limits
from graphql_facade.metrics import ADMISSION_QUEUED, ADMISSION_REFUSED, INFLIGHT, QUERY_COST, SHED
from graphql_facade.pipeline.prepare import Prepared

__all__ = ["Admit", "FairGate"]


@dataclass(slots=True)
class _Tenant:
    """One tenant's running count, its queue of waiting requests and its virtual time tag."""

    cap: int
    weight: float
    active: int = 0
    #: Waiting requests, oldest first (a cancelled one is skipped when reached).
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    #: Virtual start tag of the tenant's next request (start-time fair queuing).
    tag: float = 0.0

    def live_waiters(self) -> int:
        while self.waiters and self.waiters[0].done():
            self.waiters.popleft()
        return len(self.waiters)


class FairGate:
    """Per-tenant concurrency caps and weighted fair queuing in front of the replica's capacity."""

    def __init__(self, capacity: int, *, wait_s: float = 5.0, refusal_hold_s: float = 0.25) -> None:
        if capacity < 1:
            raise ValueError("the in-flight capacity must be at least 1")
        self._capacity = capacity
        self._wait_s = wait_s
        self._hold_s = refusal_hold_s
        self._tenants: dict[str, _Tenant] = {}
        #: Tenants with requests waiting (the ones :meth:`_dispatch` looks at).
        self._waiting: dict[str, _Tenant] = {}
        self._vtime = 0.0
        #: Requests running now, all tenants.
        self.active = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def running(self, tenant: str) -> int:
        """Requests of ``tenant`` running now."""
        state = self._tenants.get(tenant)
        return state.active if state is not None else 0

    def queued(self, tenant: str) -> int:
        """Requests of ``tenant`` waiting now."""
        state = self._tenants.get(tenant)
        return state.live_waiters() if state is not None else 0

    def try_enter(self, tenant: str, limits: Limits) -> bool:
        """Take a slot now if one is free for ``tenant`` (nobody of it waiting); never waits."""
        state = self._tenant(tenant, limits)
        if self.active < self._capacity and state.active < state.cap and not state.live_waiters():
            self._start(state)
            return True
        self._drop_if_idle(tenant, state)
        return False

    async def enter(self, tenant: str, limits: Limits) -> None:
        """Wait for a slot in ``tenant``'s turn; raises ``LimitError`` (429) or ``FacadeError`` (503)."""
        if self.try_enter(tenant, limits):
            return
        state = self._tenant(tenant, limits)
        if state.live_waiters() >= limits.max_queued:
            self._drop_if_idle(tenant, state)
            ADMISSION_REFUSED.labels("queue_full").inc()
            raise _too_many(limits, queued=True)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append(waiter)
        self._waiting[tenant] = state
        ADMISSION_QUEUED.inc()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self._wait_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # granted as the wait ran out: the slot is ours
            waiter.cancel()
            own_cap = state.active >= state.cap
            self._drop_if_idle(tenant, state)
            if own_cap:
                ADMISSION_REFUSED.labels("own_cap").inc()
                raise _too_many(limits, queued=False) from None
            SHED.inc()
            busy = "The server is busy; retry shortly."
            raise FacadeError(ErrorCode.OVERLOADED, busy, http_status=503, headers={"Retry-After": "1"}) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave(tenant)  # granted, but the request went away (client gone, shutdown)
            else:
                waiter.cancel()
                self._drop_if_idle(tenant, state)
            raise

    def leave(self, tenant: str, *, refused: bool = False) -> None:
        """Give the slot back (after ``refusal_hold_s`` when the request was refused with 429)."""
        if refused and self._hold_s > 0:
            asyncio.get_running_loop().call_later(self._hold_s, self._release, tenant)
        else:
            self._release(tenant)

    def _release(self, tenant: str) -> None:
        state = self._tenants.get(tenant)
        self.active -= 1
        INFLIGHT.dec()
        if state is not None:
            state.active -= 1
            self._dispatch()
            self._drop_if_idle(tenant, state)
        else:
            self._dispatch()

    def _tenant(self, tenant: str, limits: Limits) -> _Tenant:
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = _Tenant(limits.max_concurrency, float(limits.share_weight), tag=self._vtime)
        else:  # the tier may have changed since the tenant was seen
            state.cap, state.weight = limits.max_concurrency, float(limits.share_weight)
        return state

    def _start(self, state: _Tenant) -> None:
        state.active += 1
        self.active += 1
        INFLIGHT.inc()
        start = max(state.tag, self._vtime)
        state.tag = start + 1.0 / state.weight
        self._vtime = start

    def _dispatch(self) -> None:
        """Grant free slots to waiting tenants under their cap, lowest virtual start tag first."""
        while self.active < self._capacity and self._waiting:
            best: _Tenant | None = None
            best_start = math.inf
            for name, state in list(self._waiting.items()):
                if not state.live_waiters():
                    del self._waiting[name]
                    continue
                if state.active >= state.cap:
                    continue
                start = max(state.tag, self._vtime)
                if start < best_start:
                    best, best_start = state, start
            if best is None:
                return
            self._start(best)
            best.waiters.popleft().set_result(None)

    def _drop_if_idle(self, tenant: str, state: _Tenant) -> None:
        if state.active == 0 and not state.live_waiters():
            self._tenants.pop(tenant, None)
            self._waiting.pop(tenant, None)


def _too_many(limits: Limits, *, queued: bool) -> LimitError:
    why = (
        f"{limits.max_queued} requests of this caller are already waiting"
        if queued
        else "the requests of this caller already running took all of its turn"
    )
    return LimitError(
        LimitCode.TOO_MANY_CONCURRENT_REQUESTS,
        f"Too many concurrent requests: at most {limits.max_concurrency} run at once ({why}).",
        extensions={"maxConcurrency": limits.max_concurrency, "maxQueued": limits.max_queued},
        headers={"Retry-After": "1"},
    )


class Admit:
    def __init__(self, guard: LimitGuard) -> None:
        self._guard = guard

    async def __call__(self, viewer: Viewer, limits: Limits, prepared: Prepared) -> Admission:
        """Charge ``prepared``'s requested cost; raises ``RATE_LIMITED`` or ``THROTTLED`` (nothing charged)."""
        admission = await self._guard.charge(viewer.rate_key, limits, prepared.priced)
        QUERY_COST.labels(viewer.audience, "requested").observe(prepared.requested)
        return admission
