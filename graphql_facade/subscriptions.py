"""Support for GraphQL subscriptions: per-partner slots and the shared dashboard counters feed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from clients._base import use_positions
from graphql_facade.auth import Viewer
from graphql_facade.backend import Backend
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.events import EventHub
from graphql_facade.metrics import SUBSCRIPTIONS
from graphql_facade.read_your_writes import event_positions
from mes.orders.v1 import orders_pb2
from mes_platform.telemetry.logs import get_logger

__all__ = ["CountersFeed", "CountersSnapshot", "SubscriptionSlots"]

_log = get_logger("mes.facade.subscriptions")


class SubscriptionSlots:
    """Caps the active subscriptions of each partner on this replica."""

    def __init__(self, per_partner: int) -> None:
        self._per_partner = per_partner
        self._active: dict[str, int] = {}

    def active(self, partner_id: str) -> int:
        return self._active.get(partner_id, 0)

    @contextlib.asynccontextmanager
    async def hold(self, viewer: Viewer) -> AsyncIterator[None]:
        partner = viewer.partner_id
        if partner is not None:
            if self._active.get(partner, 0) >= self._per_partner:
                raise FacadeError(
                    ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                    f"At most {self._per_partner} subscriptions may be active at once.",
                    extensions={"maxSubscriptions": self._per_partner},
                )
            self._active[partner] = self._active.get(partner, 0) + 1
        SUBSCRIPTIONS.labels(viewer.audience).inc()
        try:
            yield
        finally:
            SUBSCRIPTIONS.labels(viewer.audience).dec()
            if partner is not None:
                left = self._active.get(partner, 1) - 1
                if left > 0:
                    self._active[partner] = left
                else:
                    self._active.pop(partner, None)


@dataclass(frozen=True)
class CountersSnapshot:
    """Order counts with the ORDERS sequence of the last event folded in (at least)."""

    seq: int
    time: datetime
    counts: orders_pb2.CountOrdersResponse


class _Slot:
    """Latest-value mailbox of one subscriber: a slow reader skips stale snapshots."""

    def __init__(self) -> None:
        self.value: CountersSnapshot | None = None
        self.ready = asyncio.Event()

    def offer(self, snapshot: CountersSnapshot) -> None:
        self.value = snapshot
        self.ready.set()

    async def take(self) -> CountersSnapshot | None:
        await self.ready.wait()
        self.ready.clear()
        return self.value


class CountersFeed:
    """One refresh loop per replica while anyone listens: on orders events (at most every
    ``interval_s``) and every ``reconcile_s``, it reads ``CountOrders`` once and offers the
    snapshot to every subscriber."""

    def __init__(self, backend: Backend, hub: EventHub, *, interval_s: float, reconcile_s: float = 30.0) -> None:
        self._backend = backend
        self._hub = hub
        self._interval_s = interval_s
        self._reconcile_s = reconcile_s
        self._slots: set[_Slot] = set()
        self._task: asyncio.Task[None] | None = None
        self._latest: CountersSnapshot | None = None
        self._closed = False

    async def _read(self) -> CountersSnapshot:
        # read before the counts, which reflect at least this event: on a replica, read at its position
        seq = self._hub.latest("ORDERS")
        with use_positions(event_positions({"ORDERS": self._hub.position("ORDERS")})):
            counts = await self._backend.orders.count_orders()
        snapshot = CountersSnapshot(seq=seq, time=datetime.now(UTC), counts=counts)
        self._latest = snapshot
        return snapshot

    async def _run(self) -> None:
        while not self._closed:
            await self._hub.wait_orders_change(self._reconcile_s)
            if self._closed:
                return
            await asyncio.sleep(self._interval_s)
            try:
                snapshot = await self._read()
            except Exception as exc:
                _log.warning("counters_refresh_failed", error=type(exc).__name__)
                continue
            for slot in list(self._slots):
                slot.offer(snapshot)

    async def stream(self) -> AsyncIterator[CountersSnapshot]:
        slot = _Slot()
        self._slots.add(slot)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="counters-feed")
        try:
            latest = self._latest
            if latest is None or latest.seq != self._hub.latest("ORDERS"):
                latest = await self._read()
            yield latest
            last_seq, last_counts = latest.seq, latest.counts
            while not self._closed:
                snapshot = await slot.take()
                if snapshot is None:
                    return
                if snapshot.seq == last_seq and snapshot.counts == last_counts:
                    continue
                last_seq, last_counts = snapshot.seq, snapshot.counts
                yield snapshot
        finally:
            self._slots.discard(slot)
            if not self._slots and self._task is not None:
                self._task.cancel()
                self._task = None

    async def aclose(self) -> None:
        self._closed = True
        for slot in list(self._slots):
            slot.value = None
            slot.ready.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
