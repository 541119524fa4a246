"""Operators' sessions: the ``mes_session`` cookie, its check, and the same-origin rule it needs.

People on the floor sign in with their operator code and password (``GET``/``POST /sign-in``,
:mod:`graphql_facade.sign_in`); the production service (``SignIn``) answers a secret session token,
which the browser keeps in the ``mes_session`` cookie: HttpOnly, SameSite=Strict, Path=/, ``Secure``
unless the facade is reached on loopback (or ``MES_FACADE_SESSION_COOKIE_SECURE`` says otherwise),
Max-Age up to the session's expiry. The token never appears in a URL, a log line, an error or a
metric label; the facade keeps only its sha256.

:class:`Sessions` checks a cookie with the service (``CheckSession``) and keeps the answer, the
operator and their role, under the token's sha256 in a bounded LRU
(:class:`graphql_facade.ttl_cache.TtlLru`) for ``MES_FACADE_SESSION_CACHE_TTL_S`` (never past the
session's expiry): a sign-out or a disabled account reaches every replica within that time; signing
out on this replica forgets the session at once. Concurrent checks of one token share one call.

A cookie is an ambient credential: the browser sends it with whatever page made the request. So
every request it authenticates that can change state must come from the facade's own origin
(:func:`check_same_origin`: ``Origin``, else ``Referer``, equal to the request's scheme and host or to
``MES_FACADE_PUBLIC_ORIGIN``); the WebSocket handshake too. Bearer tokens and API keys are not
ambient and are not affected (docs/adr/0005-operator-sessions.md).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from clients import (
    FailedPreconditionError,
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from graphql_facade.auth import SESSION_COOKIE, Viewer, operator_role
from graphql_facade.backend import Backend
from graphql_facade.errors import ErrorCode, FacadeError, from_client_error
from graphql_facade.single_flight import SingleFlight
from graphql_facade.ttl_cache import TtlLru
from mes.production.v1 import production_pb2 as prod
from mes_kernel.settings import is_loopback

__all__ = [
    "COOKIE_NAME",
    "SESSION_ENDED",
    "Sessions",
    "SignedIn",
    "check_same_origin",
    "cleared_cookie",
    "cookie_secure",
    "own_origin",
    "request_origin",
    "safe_next",
    "session_cookie",
    "token_digest",
]

COOKIE_NAME = SESSION_COOKIE
SESSION_ENDED = "The session has ended or is not valid: sign in again."
#: Sessions held (the least recently used go first).
_MAX_SESSIONS = 10_000
#: Tokens are 43 characters (32 random bytes); a longer cookie is refused without asking the service.
MAX_TOKEN_LENGTH = 256
#: What the service answers for a session that is not open (ended, expired, unknown, the account disabled).
_NOT_OPEN = (UnauthenticatedError, NotFoundError, PermissionDeniedError, InvalidArgumentError, FailedPreconditionError)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_WS_SCHEMES = {"ws": "http", "wss": "https"}


def token_digest(token: str) -> str:
    """The sha256 hex digest of a session token: the only form of it the facade keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A session just opened: its token (for the cookie only), its operator, seconds until it expires
    (None: the service named no expiry, the cookie lasts as long as the browser session)."""

    token: str = field(repr=False)
    viewer: Viewer
    max_age_s: int | None


def _session_ended() -> FacadeError:
    return FacadeError(ErrorCode.UNAUTHENTICATED, SESSION_ENDED, http_status=401)


def _cannot_tell(err: MesClientError) -> FacadeError:
    """The service could not answer: the one outage shape (503 ``UNAVAILABLE``, ``Retry-After: 1``)."""
    public = from_client_error(err)
    if public.code != ErrorCode.UNAVAILABLE:
        return FacadeError(public.code, public.message, http_status=500, extensions=public.extensions)
    return FacadeError(
        public.code, public.message, http_status=503, extensions=public.extensions, headers={"Retry-After": "1"}
    )


class Sessions:
    """Sign-in, check and sign-out of operators' sessions, through the production service, with the
    checks' answers cached under the tokens' sha256 (``ttl_s``; ``clock`` is monotonic seconds,
    ``wall_clock`` epoch seconds: tests inject both)."""

    def __init__(
        self,
        backend: Backend,
        *,
        ttl_s: float,
        max_entries: int = _MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self._ttl_s = ttl_s
        self._wall = wall_clock
        #: sha256 hex of a token -> the operator, each for ``ttl_s`` at most (never past the session's expiry).
        self._held: TtlLru[str, Viewer] = TtlLru(max_entries, ttl_s, clock=clock)
        self._flights: SingleFlight[str, tuple[Viewer | None, float | None]] = SingleFlight()
        #: Bumped by every ``forget``: a check under way when a session was forgotten is not cached.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._held)

    async def sign_in(self, operator_code: str, password: str, client_address: str) -> SignedIn:
        """A new session (``SignIn``). Raises the client's errors: ``UnauthenticatedError`` for a wrong
        code or password, ``ResourceExhaustedError`` when the service throttles (its
        ``metadata["retry_after_s"]``), ``UnavailableError``..."""
        response = await self._backend.production.sign_in(
            prod.SignInRequest(operator_code=operator_code, password=password, client_address=client_address)
        )
        viewer = _viewer(response.operator)
        max_age = self._seconds_left(response.expire_time.ToSeconds() if response.HasField("expire_time") else None)
        return SignedIn(response.session_token, viewer, max_age)

    async def check(self, token: str) -> Viewer:
        """The operator of an open session; 401 ``UNAUTHENTICATED`` when it is not (ended, expired,
        unknown, the account disabled), 503 ``UNAVAILABLE`` when the service cannot tell."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _session_ended()
        digest = token_digest(token)
        held = self._held.get(digest)
        if held is not None:
            return held
        self._held.pop(digest)  # expired, if held: asked again
        viewer = await self._check_once(digest, token)
        if viewer is None:
            raise _session_ended()
        return viewer

    def cached(self, token: str) -> Viewer | None:
        """The operator of ``token`` if this replica holds a fresh answer for it; never calls the service."""
        return self._held.peek(token_digest(token))

    async def sign_out(self, token: str) -> None:
        """Ends the session (``SignOut``) and forgets it here at once (first, whatever the service says)."""
        self.forget(token)
        await self._backend.production.sign_out(prod.SignOutRequest(session_token=token))

    def forget(self, token: str) -> None:
        self._generation += 1
        self._held.pop(token_digest(token))

    async def _check_once(self, digest: str, token: str) -> Viewer | None:
        generation = self._generation
        (viewer, expires), ran = await self._flights.run(digest, lambda: self._check(token))
        if ran and viewer is not None and generation == self._generation:
            self._remember(digest, viewer, expires)
        return viewer

    async def _check(self, token: str) -> tuple[Viewer | None, float | None]:
        try:
            response = await self._backend.production.check_session(prod.CheckSessionRequest(session_token=token))
        except _NOT_OPEN:
            return None, None
        except MesClientError as err:
            raise _cannot_tell(err) from err
        if not response.operator.code:
            return None, None
        expires = response.expire_time.ToSeconds() if response.HasField("expire_time") else None
        return _viewer(response.operator), expires

    def _remember(self, digest: str, viewer: Viewer, expires: float | None) -> None:
        keep_s = self._ttl_s if expires is None else min(self._ttl_s, expires - self._wall())
        self._held.put(digest, viewer, ttl_s=keep_s)

    def _seconds_left(self, expires: float | None) -> int | None:
        if expires is None:
            return None
        return max(0, int(expires - self._wall()))


def _viewer(operator: prod.Operator) -> Viewer:
    return Viewer("operator", operator.code, role=operator_role(operator.role), session=True)


# -- the cookie ------------------------------------------------------------------------------


def cookie_secure(host: str, setting: bool | None, public_origin: str | None) -> bool:
    """Whether the cookie gets ``Secure``: the setting when given; else unless the facade is reached on
    loopback (``host``, the request's, or the public origin's host when one is set)."""
    if setting is not None:
        return setting
    if public_origin is not None:
        return not public_origin.startswith("http://") or not is_loopback(urlsplit(public_origin).hostname or "")
    return not is_loopback(host)


def _cookie(value: str, max_age_s: int | None, secure: bool) -> str:
    attributes = [f"{COOKIE_NAME}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age_s is not None:
        attributes.insert(2, f"Max-Age={max_age_s}")
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


def session_cookie(token: str, max_age_s: int | None, *, secure: bool) -> str:
    """The ``Set-Cookie`` value of a new session."""
    return _cookie(token, max_age_s, secure)


def cleared_cookie(*, secure: bool) -> str:
    """The ``Set-Cookie`` value that makes the browser forget the session."""
    return _cookie('""', 0, secure)


# -- same origin -----------------------------------------------------------------------------


def _normalised(scheme: str, netloc: str) -> str | None:
    scheme = _WS_SCHEMES.get(scheme.lower(), scheme.lower())
    netloc = netloc.lower()
    if scheme not in _DEFAULT_PORTS or not netloc or "@" in netloc:
        return None
    host, sep, port = netloc.rpartition(":")
    if sep and host and port == _DEFAULT_PORTS[scheme] and (host.endswith("]") or ":" not in host):
        netloc = host  # the default port is left out, as browsers do in Origin
    return f"{scheme}://{netloc}"


def own_origin(scheme: str, host: str, public_origin: str | None) -> str | None:
    """The facade's origin as browsers see it: ``MES_FACADE_PUBLIC_ORIGIN`` when set, else the request's
    scheme (``ws``/``wss`` count as ``http``/``https``) and ``Host`` header."""
    if public_origin is not None:
        scheme, _, host = public_origin.partition("://")
    return _normalised(scheme, host)


def request_origin(headers: Mapping[str, str]) -> str | None:
    """Where the request comes from: its ``Origin`` header, else the origin of its ``Referer``; None
    when it sends neither (or ``Origin: null``, or something that is not an http(s) origin)."""
    origin = headers.get("origin", "").strip()
    if origin:
        parts = urlsplit(origin)
        if origin == "null" or parts.path not in ("", "/") or parts.query or parts.fragment:
            return None
        return _normalised(parts.scheme, parts.netloc)
    referer = headers.get("referer", "").strip()
    if referer:
        parts = urlsplit(referer)
        return _normalised(parts.scheme, parts.netloc)
    return None


def check_same_origin(headers: Mapping[str, str], own: str | None, what: str) -> None:
    """403 ``FORBIDDEN`` unless the request's origin (:func:`request_origin`) is ``own``."""
    origin = request_origin(headers)
    if own is None or origin != own:
        raise FacadeError(
            ErrorCode.FORBIDDEN,
            f"{what} must come from this site's own pages: send an Origin (or Referer) header of {own or 'the facade'}"
            " (a request signed in with the session cookie from another site is refused).",
            http_status=403,
        )


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of this site (``/...``, never ``//host``, ``/\\host``, a
    scheme or control characters), else ``/``."""
    if not raw or len(raw) > 2048 or not raw.startswith("/") or raw[1:2] in ("/", "\\"):
        return "/"
    if any(ord(c) < 0x21 or c == "\\" or ord(c) == 0x7F for c in raw):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    return raw
