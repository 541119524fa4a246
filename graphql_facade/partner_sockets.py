"""The partners' open WebSockets on this replica, and what a change of their credentials does to them.

A partner's graphql-transport-ws connection registers here once acknowledged (with its partner id
and the SHA-256 hex digest of the API key it authenticated with: the digest the
:class:`~graphql_facade.auth.Authenticator` caches keys under; the key itself stays in the
connection) and leaves when it closes. Three things close a connection whose key no longer holds
with 4403 ``API key revoked``:

* **the event**, on every replica (each consumes the ORDERS stream): ``orders.partner.key_revoked``
  forgets the key in the key cache and closes the connections opened with it;
  ``orders.partner.key_rotated`` forgets every cached key of the partner, closes the connections
  opened with a key the rotation revoked and re-checks the partner's other connections;
  ``orders.partner.tier_changed`` forgets the partner's cached keys (the cached caller holds the
  tier) and moves its open connections to the new tier's limits without closing them;
* **every ``subscribe`` message**, which re-checks the connection's key first (``ws.py``);
* **the sweep**, every ``MES_FACADE_WS_RECHECK_S`` (default 2 s): the safety net for an event this
  replica missed. It re-checks every registered connection's key through the Authenticator (served
  by its cache for ``MES_FACADE_API_KEY_CACHE_TTL_S``), so without the event a revoked key's
  connections close at most one TTL plus one interval after the revocation. A key the orders
  service cannot be asked about (it is unavailable) keeps its connections open until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from typing import Any, Protocol

from google.protobuf.message import DecodeError

from graphql_facade.auth import Authenticator
from graphql_facade.errors import FacadeError
from graphql_facade.events import EventEnvelope
from graphql_facade.metrics import WS_CREDENTIAL_CLOSES
from mes.orders.v1 import orders_pb2
from mes_contracts import events
from mes_platform.telemetry.logs import get_logger

__all__ = ["FORBIDDEN", "KEY_REVOKED", "PartnerSocket", "PartnerSockets", "tier_name"]

_log = get_logger("mes.facade.ws")

#: The close code of a connection whose credential no longer holds (graphql-transport-ws: Forbidden).
FORBIDDEN = 4403
#: Its close reason.
KEY_REVOKED = "API key revoked"
#: Connections re-checked at once by a sweep (a re-check past the cache's TTL asks the orders service).
_SWEEP_CONCURRENCY = 32


class PartnerSocket(Protocol):
    """An acknowledged WebSocket of a partner (``ws._Handler``)."""

    @property
    def partner_id(self) -> str: ...

    @property
    def key_hash(self) -> str:
        """SHA-256 hex digest of the key the connection authenticated with."""
        ...

    async def revalidate(self) -> bool:
        """Whether the connection's key still holds (asked through the Authenticator; its tier
        follows the answer). Raises :class:`FacadeError` when that cannot be told now."""
        ...

    async def close_forbidden(self, reason: str) -> None:
        """Close with 4403 and ``reason`` (again: nothing)."""
        ...

    def follow_tier(self, tier: str) -> None:
        """From now on, apply the limits of ``tier`` (STANDARD, PLUS, ENTERPRISE) to new subscriptions."""
        ...


def tier_name(tier: int) -> str:
    """``PARTNER_TIER_PLUS`` (wire value) -> ``PLUS``; unspecified or unknown -> ``STANDARD``."""
    try:
        name = orders_pb2.PartnerTier.Name(tier).removeprefix("PARTNER_TIER_")  # type: ignore[arg-type]
    except ValueError:
        return "STANDARD"
    return "STANDARD" if name == "UNSPECIFIED" else name


class PartnerSockets:
    """The registry of this replica's partner WebSockets, with the event listener and the sweep."""

    def __init__(self, authenticator: Authenticator, *, recheck_s: float) -> None:
        self._authenticator = authenticator
        self._recheck_s = recheck_s
        self._by_partner: dict[str, set[PartnerSocket]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    # -- registry ----------------------------------------------------------------------------

    def add(self, socket: PartnerSocket) -> None:
        self._by_partner.setdefault(socket.partner_id, set()).add(socket)
        if self._recheck_s > 0 and not self._closed and (self._sweeper is None or self._sweeper.done()):
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_while_open(), name="ws-recheck")

    def discard(self, socket: PartnerSocket) -> None:
        sockets = self._by_partner.get(socket.partner_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_partner[socket.partner_id]

    def of(self, partner_id: str) -> list[PartnerSocket]:
        """The open connections of ``partner_id``."""
        return list(self._by_partner.get(partner_id, ()))

    def __len__(self) -> int:
        return sum(len(sockets) for sockets in self._by_partner.values())

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event: EventEnvelope) -> None:
        """A :data:`~graphql_facade.events.Listener` of the hub: acts on the partner events."""
        if event.subject not in _PARTNER_SUBJECTS:
            return
        try:
            if event.subject == events.PARTNER_KEY_REVOKED.subject:
                revoked = events.PARTNER_KEY_REVOKED.decode(event.data)
                self.key_revoked(revoked.partner_id, [revoked.key_hash])
            elif event.subject == events.PARTNER_KEY_ROTATED.subject:
                rotated = events.PARTNER_KEY_ROTATED.decode(event.data)
                self.key_rotated(rotated.partner_id, [key.key_hash for key in rotated.revoked_keys])
            else:
                changed = events.PARTNER_TIER_CHANGED.decode(event.data)
                self.tier_changed(changed.partner_id, tier_name(changed.tier))
        except DecodeError:
            _log.warning("undecodable_event", subject=event.subject, seq=event.seq)

    def key_revoked(self, partner_id: str, key_hashes: Iterable[str]) -> None:
        """Forget the keys in the key cache and close the partner's connections opened with them."""
        gone = {digest for digest in key_hashes if digest}
        for digest in gone:
            self._authenticator.forget_key(digest)
        for socket in self.of(partner_id):
            if socket.key_hash in gone:
                self._spawn(self._close(socket, "event"))

    def key_rotated(self, partner_id: str, key_hashes: Iterable[str]) -> None:
        """Forget every cached key of the partner; close the connections opened with a revoked key and
        re-check the others (the new key's are fine; one the event does not list is asked about)."""
        gone = {digest for digest in key_hashes if digest}
        self._authenticator.forget_partner(partner_id)
        for socket in self.of(partner_id):
            if socket.key_hash in gone:
                self._spawn(self._close(socket, "event"))
            else:
                self._spawn(self._recheck(socket, "event"))

    def tier_changed(self, partner_id: str, tier: str) -> None:
        """Forget the partner's cached keys (the cached caller holds its tier) and move its open
        connections to ``tier``: nothing is closed."""
        self._authenticator.forget_partner(partner_id)
        for socket in self.of(partner_id):
            socket.follow_tier(tier)

    # -- sweep -------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Re-check every registered connection's key once; close those whose key no longer holds."""
        limit = asyncio.Semaphore(_SWEEP_CONCURRENCY)

        async def one(socket: PartnerSocket) -> None:
            async with limit:
                await self._recheck(socket, "sweep")

        sockets = [socket for group in list(self._by_partner.values()) for socket in list(group)]
        await asyncio.gather(*(one(socket) for socket in sockets))

    async def _sweep_while_open(self) -> None:
        while self._by_partner and not self._closed:
            await asyncio.sleep(self._recheck_s)
            try:
                await self.sweep()
            except Exception:
                _log.exception("ws_recheck_failed")

    # -- closing -----------------------------------------------------------------------------

    async def _recheck(self, socket: PartnerSocket, trigger: str) -> None:
        try:
            valid = await socket.revalidate()
        except FacadeError as err:  # the orders service cannot tell now: ask again next time
            _log.info("ws_recheck_deferred", partner=socket.partner_id, code=err.code)
            return
        except Exception:
            _log.exception("ws_recheck_failed", partner=socket.partner_id)
            return
        if not valid:
            await self._close(socket, trigger)

    async def _close(self, socket: PartnerSocket, trigger: str) -> None:
        self.discard(socket)
        WS_CREDENTIAL_CLOSES.labels(trigger).inc()
        _log.info("ws_closed_key_revoked", partner=socket.partner_id, trigger=trigger)
        await socket.close_forbidden(KEY_REVOKED)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        self._closed = True
        pending = [t for t in (self._sweeper, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._sweeper = None


_PARTNER_SUBJECTS = frozenset(e.subject for e in events.PARTNER_EVENTS)
