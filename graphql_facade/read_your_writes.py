"""Read-your-writes across the facade's replicas: a caller that wrote reads its own writes.

The services answer a call whose writes committed with its commit position (gRPC trailing metadata
``x-mes-commit-lsn``: a WAL position of the service's database) and honour ``x-mes-min-lsn`` on later
calls: such a read waits briefly for the service's read replica, or runs on its writer
(:mod:`mes_platform.replica`). The facade carries a caller's positions from one request to the next,
whatever facade replica serves it: nothing is kept in the facade.

* **In a request**, the positions the caller brought are the request's
  (:func:`clients._base.use_positions`): every backend call of the request sends the one of its
  service, and a mutation's commit position is added to them.
* **Events**: the positions the replica's events carried (``Mes-Commit-Lsn``, the highest per stream)
  join the request's, so what an event made the response cache recompute is read at or past the
  event's commit (they are not what raises the caller's positions, and do not bypass cached answers).
* **Out**: when the request raised a position, the response carries the whole set in the header
  ``x-mes-db-position`` and in the cookie ``mes_pos`` (``Path=/``, ``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` as the session cookie: ``MES_FACADE_SESSION_COOKIE_SECURE``; no ``Max-Age``). A browser
  sends the cookie back by itself; another client sends the header's last value as
  ``x-mes-db-position``.
* **The response cache** does not record database positions, so a request whose positions were
  raised less than ``MES_FACADE_READ_YOUR_WRITES_S`` (10) seconds ago bypasses a cached answer (it is
  computed afresh, its backend reads honouring the positions, and stored for everyone); later, its
  positions still go to the services, and cached answers serve it again (by then the events of its
  writes have marked what they touched stale). What else the facade keeps or shares across requests
  asks :func:`must_see_writes` first (the work-center directory: such a request reads the list from
  the service itself rather than a kept one, or one read under way for another request).

The value is sealed: the positions and when they were raised (JSON) enciphered with AES-256-GCM under
a key derived from ``MES_FACADE_POSITION_SECRET`` (every replica opens what another issued), bound to
the caller's cache scope (the operators, or one partner): WAL positions grow with the whole plant's
traffic, so a partner never sees one, and one caller's value is nothing to another. Text form: ``d1.``
and the nonce and ciphertext in unpadded base64url. A header that does not open is a 400
``BAD_REQUEST``; a cookie that does not open is ignored (the next write replaces it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request

from clients import InventoryClient, OrdersClient, ProductionClient
from clients._base import CommitPositions, use_positions
from graphql_facade.auth import Viewer
from graphql_facade.config import FacadeSettings
from graphql_facade.env_values import non_negative_number
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.sessions import cookie_secure

__all__ = [
    "CACHE_KEY_PREFIX",
    "EVENT_SERVICES",
    "POSITION_COOKIE",
    "POSITION_HEADER",
    "WINDOW_ENV",
    "InvalidPositions",
    "PositionSeal",
    "ReadYourWrites",
    "RequestPositions",
    "event_positions",
    "must_see_writes",
]

POSITION_COOKIE = "mes_pos"
#: The service whose database an event stream's positions are of.
EVENT_SERVICES = {
    "ORDERS": OrdersClient.service,
    "INVENTORY": InventoryClient.service,
    "PRODUCTION": ProductionClient.service,
}
POSITION_HEADER = "x-mes-db-position"
#: How long after a write a caller's requests bypass cached answers (seconds).
WINDOW_ENV = "MES_FACADE_READ_YOUR_WRITES_S"
DEFAULT_WINDOW_S = 10.0
#: The response cache's name of a service's database position (``db:orders``): no entry records one.
CACHE_KEY_PREFIX = "db:"
_PREFIX = "d1."
_NONCE = 12
_MAX_TEXT = 512
_MAX_POSITION = (1 << 63) - 1


def event_positions(streams: Mapping[str, int]) -> CommitPositions:
    """The positions per service of the events' positions per stream (``Mes-Commit-Lsn``, kept by the
    event hub): what a read of what those events say happened must be at."""
    return CommitPositions({EVENT_SERVICES[s]: p for s, p in streams.items() if s in EVENT_SERVICES})


class InvalidPositions(ValueError):
    """Not a value this installation issued to this caller (the message is safe to show)."""


class PositionSeal:
    """Seals and opens a caller's positions under the facade's position secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the position secret must not be empty")
        key = hmac.new(secret.encode(), b"mes-facade-db-positions-v1", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, scope: str, positions: Mapping[str, int], issued_ms: int) -> str:
        plain = orjson.dumps({"t": issued_ms, "p": dict(positions)}, option=orjson.OPT_SORT_KEYS)
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, plain, scope.encode())
        return _PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open(self, scope: str, value: str) -> tuple[dict[str, int], int]:
        """``(positions per service, when they were raised in ms)`` sealed in ``value`` for ``scope``."""
        value = value.strip()
        if not value.startswith(_PREFIX) or len(value) > _MAX_TEXT:
            raise InvalidPositions("is not a position value: send the last x-mes-db-position the facade answered")
        try:
            raw = base64.urlsafe_b64decode(value[len(_PREFIX) :] + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], scope.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise InvalidPositions(
                "was not issued to you by this installation (or its position secret changed since): leave it out"
            ) from None
        decoded = orjson.loads(plain)
        positions = {
            str(service): int(position)
            for service, position in dict(decoded.get("p", {})).items()
            if isinstance(position, int) and 0 < position <= _MAX_POSITION
        }
        return positions, int(decoded.get("t", 0))


@dataclass
class RequestPositions:
    """A caller's positions during one request (the backend calls use and raise :attr:`seen`)."""

    seen: CommitPositions = field(default_factory=CommitPositions)
    #: When the positions brought were raised (ms since the epoch; 0: none brought).
    issued_ms: int = 0
    #: Seconds during which a raised position bypasses cached answers.
    window_s: float = DEFAULT_WINDOW_S

    @property
    def needed(self) -> Mapping[str, int]:
        """What the response cache must reflect (``db:<service>``: no cached answer does): the positions
        while they are recent, else nothing. Read when a lookup happens (a batch's mutation counts for
        the operations after it)."""
        return _Needed(self)

    def recent(self) -> bool:
        """Whether the positions were raised within the window (by this request, or shortly before it)."""
        if not self.seen:
            return False
        if self.seen.changed:
            return True
        return time.time() * 1000 - self.issued_ms < self.window_s * 1000

    @contextmanager
    def serving(self) -> Iterator[RequestPositions]:
        """While the request runs: its backend calls send and raise these positions, and
        :func:`must_see_writes` answers for them."""
        token = _REQUEST.set(self)
        try:
            with use_positions(self.seen):
                yield self
        finally:
            _REQUEST.reset(token)


_REQUEST: ContextVar[RequestPositions | None] = ContextVar("mes_facade_request_positions", default=None)


def must_see_writes(service: str) -> bool:
    """Whether the request being served wrote to ``service`` within the window: what the facade keeps or
    shares across requests may predate that write, so the request must ask the service itself."""
    current = _REQUEST.get()
    return current is not None and current.seen.get(service) > 0 and current.recent()


class _Needed(Mapping[str, int]):
    """The live view :attr:`RequestPositions.needed`."""

    __slots__ = ("_of",)

    def __init__(self, of: RequestPositions) -> None:
        self._of = of

    def _items(self) -> dict[str, int]:
        of = self._of
        return {CACHE_KEY_PREFIX + k: v for k, v in of.seen.as_dict().items()} if of.recent() else {}

    def __getitem__(self, key: str) -> int:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


class ReadYourWrites:
    """The facade's side of read-your-writes (see the module): in from a request, out on its response."""

    def __init__(self, settings: FacadeSettings) -> None:
        self._seal = PositionSeal(settings.position_secret)
        self._cookie_setting = settings.session_cookie_secure
        self._public_origin = settings.public_origin
        self.window_s = _window(settings.env)

    def of(self, request: Request, viewer: Viewer, seen: Mapping[str, int] | None = None) -> RequestPositions:
        """The positions ``request`` brings (header and cookie); BAD_REQUEST when the header does not open.
        ``seen``: the commit positions of the events this replica has received (per stream,
        :meth:`graphql_facade.events.EventHub.position`): the request's reads honour them too, so an
        answer computed after an event (and cached under it) shows what the event says happened."""
        found: dict[str, int] = {}
        issued = 0
        header = request.headers.get(POSITION_HEADER)
        if header:
            try:
                found, issued = self._seal.open(viewer.scope, header)
            except InvalidPositions as err:
                raise FacadeError(ErrorCode.BAD_REQUEST, f"`{POSITION_HEADER}` {err}.", http_status=400) from None
        cookie = request.cookies.get(POSITION_COOKIE)
        if cookie:
            try:
                more, more_issued = self._seal.open(viewer.scope, cookie)
            except InvalidPositions:
                more, more_issued = {}, 0
            for service, position in more.items():
                found[service] = max(found.get(service, 0), position)
            issued = max(issued, more_issued)
        for service, position in event_positions(seen or {}).as_dict().items():
            found[service] = max(found.get(service, 0), position)
        return RequestPositions(CommitPositions(found), issued, self.window_s)

    def answer(self, positions: RequestPositions, request: Request, viewer: Viewer) -> dict[str, str]:
        """The response headers carrying the positions when the request raised one (else none)."""
        if not positions.seen.changed:
            return {}
        value = self._seal.seal(viewer.scope, positions.seen.as_dict(), int(time.time() * 1000))
        attributes = [f"{POSITION_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if cookie_secure(request.url.hostname or "", self._cookie_setting, self._public_origin):
            attributes.append("Secure")
        return {POSITION_HEADER: value, "Set-Cookie": "; ".join(attributes)}


def _window(env: Mapping[str, str]) -> float:
    return non_negative_number(WINDOW_ENV, env.get(WINDOW_ENV), DEFAULT_WINDOW_S, unit="seconds")
