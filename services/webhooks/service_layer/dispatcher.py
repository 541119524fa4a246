"""The dispatcher: sends due deliveries, at least once, one endpoint never holding up another.

A background task of the service's worker side. Its loop:

1. **claim** -- in one transaction, the due PENDING deliveries (oldest first), skipping the
   endpoints whose lane is full, are leased to this dispatcher for ``lease`` (a dispatcher that
   dies loses its leases when they run out: the deliveries are sent again, with the same
   ``webhook-id``); a delivery whose endpoint was disabled meanwhile goes back to HELD untried;
2. **send** -- each claimed delivery in its own task: signed (every secret of the endpoint that
   signs now), POSTed by the :class:`~services.webhooks.service_layer.ports.Sender`, which
   bounds its time; at most ``max_in_flight`` at once in all, and per endpoint at most
   ``per_endpoint`` (1 while the endpoint is failing), so a slow or failing endpoint only ever
   fills its own lane;
3. **settle** -- finished attempts are written in batches (:mod:`.outcomes`): delivered, retried
   after a back-off, dead letters, endpoints disabled after failing for ``disable_after``.

New deliveries wake the loop (:meth:`Dispatcher.wake`, called when the consumer commits);
otherwise it looks for due retries every ``poll_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mes_kernel.clock import utcnow
from services.webhooks.domain.delivery import AttemptResult, Delivery, DeliveryState
from services.webhooks.domain.endpoint import Endpoint
from services.webhooks.domain.signing import signature_header
from services.webhooks.service_layer.commands import WebhookPolicy
from services.webhooks.service_layer.outcomes import settle
from services.webhooks.service_layer.ports import Completion, Outbound, Sender, SendResult, UnitOfWork, UnitsOfWork

__all__ = ["USER_AGENT", "DispatchSettings", "Dispatcher", "signed_headers"]

_log = logging.getLogger("mes.webhooks.dispatcher")
USER_AGENT = "mes-webhooks/1"


@dataclass(frozen=True)
class DispatchSettings:
    max_in_flight: int = 64
    per_endpoint: int = 4
    #: How long a claim holds a delivery; longer than an attempt can take.
    lease: timedelta = timedelta(seconds=60)
    poll_interval_s: float = 0.5
    flush_interval_s: float = 0.0
    flush_batch: int = 256
    #: On stop, attempts in flight get this long to finish.
    stop_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.per_endpoint < 1:
            raise ValueError("max_in_flight and per_endpoint must be >= 1")


@dataclass(frozen=True)
class _Claim:
    now: datetime
    chosen: list[Delivery]
    endpoints: dict[str, Endpoint]
    #: The query returned as many as it asked for: more may be due.
    more: bool


def signed_headers(endpoint: Endpoint, delivery_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (the timestamp is the attempt's)."""
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(endpoint.signing_secrets(now), delivery_id, timestamp, body),
    }


class Dispatcher:
    def __init__(
        self,
        uows: UnitsOfWork,
        sender: Sender,
        policy: WebhookPolicy,
        settings: DispatchSettings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        random_unit: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self._uows = uows
        self._sender = sender
        self._policy = policy
        self.settings = settings or DispatchSettings()
        self._clock = clock
        self._random = random_unit
        self.owner = owner or f"{socket.gethostname() or 'localhost'}-{os.getpid()}-{random.getrandbits(24):06x}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._lanes: Counter[str] = Counter()
        #: Endpoints known to be failing (their lane is 1 wide).
        self._failing: set[str] = set()
        self._results: list[AttemptResult] = []
        self._flushed = asyncio.Event()
        #: One claim at a time (the loop's or a settling transaction's), so lanes are not overfilled.
        self._claiming = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        #: Attempts made and settled by this dispatcher (for tests and tools).
        self.attempts = 0
        self.settled = 0

    # -- lifecycle --------------------------------------------------------------------

    def wake(self) -> None:
        """New deliveries were committed: look for them now."""
        self._wake.set()

    def start(self) -> None:
        if self._tasks:
            return
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._run(), name="webhooks-dispatch"),
            asyncio.create_task(self._flush_loop(), name="webhooks-settle"),
        ]

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def stop(self) -> None:
        """Stop claiming; attempts in flight finish (or are cut after ``stop_timeout_s``: their
        leases run out and they are sent again later); what finished is written."""
        self._stopping.set()
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        run, flusher = tasks if tasks else (None, None)
        if run is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
        pending = list(self._in_flight.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.settings.stop_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flusher
        with contextlib.suppress(Exception):
            await self._flush()
        await self._sender.aclose()

    # -- claim and send -----------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            more = False
            if self._free() > 0:
                try:
                    more = await self._claim()
                    failures = 0
                except Exception as exc:  # the database is away: try again, slower each time
                    failures += 1
                    _log.warning("webhooks_claim_failed error=%r", exc)
                    await self._sleep(min(0.2 * 2**failures, 5.0))
                    continue
            if more and self._free() > 0:
                continue  # more may be due right now
            await self._sleep(self.settings.poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _free(self) -> int:
        return self.settings.max_in_flight - len(self._in_flight)

    def _full_lanes(self) -> set[str]:
        return {
            endpoint
            for endpoint, busy in self._lanes.items()
            if busy >= (1 if endpoint in self._failing else self.settings.per_endpoint)
        }

    async def _claim(self) -> bool:
        """Claim and start what is due; True when more may be due (the query was full)."""
        async with self._claiming:
            claim = await self._uows.transact(self._claim_in)
            await self._start(claim)
        return claim.more

    async def _claim_in(self, uow: UnitOfWork) -> _Claim:
        """Lease due deliveries within the free slots, in ``uow``'s transaction."""
        now, free = self._clock(), self._free()
        if free <= 0:
            return _Claim(now, [], {}, more=False)
        limit = free * 4
        candidates = await uow.deliveries.due(now=now, limit=limit, skip_endpoints=self._full_lanes())
        picked = self._pick(candidates, free)
        if not picked:
            return _Claim(now, [], {}, more=False)
        leased = await uow.deliveries.lease(
            [d.seq for d in picked], owner=self.owner, until=now + self.settings.lease, now=now
        )
        chosen = [d for d in picked if d.seq in leased]
        endpoints = await uow.endpoints.get_many({d.endpoint_id for d in chosen})
        return _Claim(now, chosen, endpoints, more=len(candidates) >= limit)

    async def _start(self, claim: _Claim) -> None:
        """An attempt per leased delivery; one whose endpoint was disabled meanwhile goes back to HELD."""
        held: list[Completion] = []
        for delivery in claim.chosen:
            endpoint = claim.endpoints.get(delivery.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                held.append(Completion(delivery.seq, DeliveryState.HELD, claim.now, None, 0, "", attempted=False))
                continue
            self._track_failing(endpoint)
            self._lanes[endpoint.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(delivery, endpoint), name=f"webhook-{delivery.delivery_id}")
            self._in_flight[delivery.seq] = task
        if held:
            await self._uows.transact(lambda uow: uow.deliveries.complete(held, owner=self.owner))

    def _pick(self, candidates: list[Delivery], free: int) -> list[Delivery]:
        """Oldest first, within each endpoint's free lane width and the free slots overall."""
        taken: Counter[str] = Counter()
        picked: list[Delivery] = []
        for delivery in candidates:
            endpoint = delivery.endpoint_id
            width = 1 if endpoint in self._failing else self.settings.per_endpoint
            if self._lanes[endpoint] + taken[endpoint] >= width:
                continue
            taken[endpoint] += 1
            picked.append(delivery)
            if len(picked) == free:
                break
        return picked

    def _track_failing(self, endpoint: Endpoint) -> None:
        if endpoint.failing_since is None:
            self._failing.discard(endpoint.endpoint_id)
        else:
            self._failing.add(endpoint.endpoint_id)

    async def _attempt(self, delivery: Delivery, endpoint: Endpoint) -> None:
        started = self._clock()
        clock = time.perf_counter()
        body = delivery.payload.encode()
        try:
            headers = signed_headers(endpoint, delivery.delivery_id, body, started)
            result = await self._sender.send(Outbound(endpoint.endpoint_id, endpoint.url, body, headers))
        except Exception as exc:  # a sender must not raise; a bug in one must not stop the others
            result = SendResult(0, f"internal error: {type(exc).__name__}")
        finally:
            self._release(delivery.seq, endpoint.endpoint_id)
        self.attempts += 1
        if result.error:
            self._failing.add(endpoint.endpoint_id)
        else:
            self._failing.discard(endpoint.endpoint_id)
        self._results.append(
            AttemptResult(
                seq=delivery.seq,
                delivery_id=delivery.delivery_id,
                endpoint_id=endpoint.endpoint_id,
                partner_id=endpoint.partner_id,
                event_type=delivery.event_type,
                attempt=delivery.attempts + 1,
                window_start=delivery.window_start or started,
                started_at=started,
                finished_at=self._clock(),
                http_status=result.status,
                latency_ms=int((time.perf_counter() - clock) * 1000),
                error=result.error,
            )
        )
        self._flushed.set()

    def _release(self, seq: int, endpoint_id: str) -> None:
        """The attempt is over: its slot is free. The delivery stays PENDING and leased until the
        attempt is settled (the settling transaction claims what the free slots can take, the
        next change of the same order included)."""
        if self._in_flight.pop(seq, None) is None:
            return
        self._lanes[endpoint_id] -= 1
        if self._lanes[endpoint_id] <= 0:
            del self._lanes[endpoint_id]

    # -- settle -------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        failures = 0
        while True:
            await self._flushed.wait()
            self._flushed.clear()
            if self.settings.flush_interval_s:
                await asyncio.sleep(self.settings.flush_interval_s)
            try:
                await self._flush()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # kept in memory and written on the next round
                failures += 1
                _log.warning("webhooks_settle_failed error=%r pending=%d", exc, len(self._results))
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                self._flushed.set()

    async def _flush(self) -> None:
        while self._results:
            batch = self._results[: self.settings.flush_batch]
            async with self._claiming:
                claim = await self._uows.transact(functools.partial(self._write, batch))
                del self._results[: len(batch)]
                self.settled += len(batch)
                if not self._stopping.is_set():
                    await self._start(claim)
            if claim.more:
                self._wake.set()

    async def _write(self, batch: list[AttemptResult], uow: UnitOfWork) -> _Claim:
        """The batch's outcomes, then (same transaction) a claim for the slots the batch freed."""
        endpoints = await uow.endpoints.get_many({r.endpoint_id for r in batch})
        versions = {e.endpoint_id: e.version for e in endpoints.values()}
        out = settle(batch, endpoints, self._policy, self._random)
        await uow.deliveries.complete(out.completions, owner=self.owner)
        for endpoint in out.disabled:
            await uow.endpoints.save(endpoint, expected_version=versions[endpoint.endpoint_id])
            await uow.deliveries.hold_pending(endpoint.endpoint_id)
        if out.failing:
            await uow.endpoints.set_failing(out.failing)
        await uow.log.add_many(out.log)
        if self._stopping.is_set():
            return _Claim(self._clock(), [], {}, more=False)
        return await self._claim_in(uow)
