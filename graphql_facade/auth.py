"""Who is calling: operators by bearer token or session cookie, partners by API key.

An operator has a role (``OPERATOR`` or ``SUPERVISOR``): a bearer token's comes from
``MES_FACADE_OPERATOR_TOKENS`` (``token=CODE:operator``; supervisor when none is named), a session's
from the production service (``CheckSession``, through :class:`graphql_facade.sessions.Sessions`,
which caches it for ``MES_FACADE_SESSION_CACHE_TTL_S``). A viewer authenticated by the cookie is
marked ``session``: the endpoint then applies the same-origin rule to what can change state.

The tenant comes only from the credential. A partner's key is checked first for its format and
checksum (:mod:`mes_kernel.api_keys`): a typo, a made-up key or (unless ``MES_FACADE_LEGACY_API_KEYS``)
a key issued before checksums is refused at once, with no call and no cache touched. A well-formed
key is resolved by the orders service (``AuthenticatePartner``) and the answer kept under the key's
sha256 (the key itself is never stored): a partner for ``MES_FACADE_API_KEY_CACHE_TTL_S`` in a
bounded LRU, an unknown key for ``MES_FACADE_API_KEY_NEGATIVE_TTL_S`` in a separate bounded LRU
(``MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE``; both :class:`graphql_facade.ttl_cache.TtlLru`), so a
flood of bad keys neither reaches the service twice nor evicts a good key. Keys are random: a
well-formed key the service does not know does not become valid later.
:meth:`Authenticator.cached_partner` reads the partners' cache alone (never the service): for a
request the server sheds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from clients import MesClientError, NotFoundError, UnauthenticatedError
from graphql_facade.backend import Backend
from graphql_facade.errors import ErrorCode, FacadeError, from_client_error
from graphql_facade.metrics import API_KEY_LOOKUPS, API_KEY_REFUSED
from graphql_facade.single_flight import SingleFlight
from graphql_facade.ttl_cache import TtlLru
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2
from mes_kernel import api_keys

__all__ = [
    "SESSION_COOKIE",
    "Audience",
    "Authenticator",
    "SessionCheck",
    "Viewer",
    "operator_role",
    "session_cookie_of",
]

#: The cookie of operators' sessions (``graphql_facade.sessions``).
SESSION_COOKIE = "mes_session"

Audience = Literal["operator", "partner"]
#: Partners' keys held (the LRU of good keys).
_MAX_KEYS = 10_000
_INVALID_KEY = "The API key is not valid."
_LOOKED_UP_VALID = API_KEY_LOOKUPS.labels("valid")
_LOOKED_UP_UNKNOWN = API_KEY_LOOKUPS.labels("unknown")
_LOOKED_UP_ERROR = API_KEY_LOOKUPS.labels("error")
_REFUSED_CHECKSUM = API_KEY_REFUSED.labels("checksum")
_REFUSED_NEGATIVE = API_KEY_REFUSED.labels("negative_cache")


@dataclass(frozen=True)
class Viewer:
    """The authenticated caller of one request or WebSocket connection."""

    audience: Audience
    #: The operator code, or the partner id.
    subject: str
    #: Set for partners only: every read and write is confined to it.
    partner_id: str | None = None
    #: The partner's limits tier (STANDARD, PLUS, ENTERPRISE); None for operators.
    tier: str | None = None
    #: An operator's role (OPERATOR, SUPERVISOR); None for partners.
    role: str | None = None
    #: Authenticated by the session cookie (an ambient credential: the same-origin rule applies).
    session: bool = False

    @property
    def is_supervisor(self) -> bool:
        return self.role == "SUPERVISOR"

    @property
    def is_partner(self) -> bool:
        return self.audience == "partner"

    @property
    def scope(self) -> str:
        """Audience and tenant: part of every cache key."""
        return f"partner:{self.partner_id}" if self.partner_id is not None else "operator"

    @property
    def rate_key(self) -> str:
        """Identity the rate limits are kept under."""
        return f"partner:{self.partner_id}" if self.partner_id is not None else f"operator:{self.subject}"


def _unauthenticated(message: str) -> FacadeError:
    return FacadeError(ErrorCode.UNAUTHENTICATED, message, http_status=401, headers={"WWW-Authenticate": "Bearer"})


class SessionCheck(Protocol):
    """What the authenticator asks of operators' sessions (:class:`graphql_facade.sessions.Sessions`)."""

    async def check(self, token: str) -> Viewer:
        """The operator of an open session (FacadeError 401 when it is not, 503 when it cannot be told)."""
        ...

    def cached(self, token: str) -> Viewer | None:
        """The operator of ``token`` if held fresh on this replica; never calls the service."""
        ...


def operator_role(role: production_pb2.OperatorRole.ValueType) -> str:
    """``OPERATOR_ROLE_SUPERVISOR`` -> ``SUPERVISOR``; an unspecified role is the least: ``OPERATOR``."""
    name = production_pb2.OperatorRole.Name(role).removeprefix("OPERATOR_ROLE_")
    return "OPERATOR" if name == "UNSPECIFIED" else name


def session_cookie_of(headers: Mapping[str, str]) -> str:
    """The ``mes_session`` cookie of a request's ``Cookie`` header ("" when it has none)."""
    for pair in headers.get("cookie", "").split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name == SESSION_COOKIE:
            return value.strip().strip('"')
    return ""


def _token_viewers(operator_tokens: Mapping[str, str], token_roles: Mapping[str, str]) -> list[tuple[bytes, Viewer]]:
    """Each operator token (``MES_FACADE_OPERATOR_TOKENS``) with its operator; a token missing from
    ``token_roles`` is a supervisor's."""
    return [
        (token.encode(), Viewer("operator", code, role=token_roles.get(token, "SUPERVISOR")))
        for token, code in operator_tokens.items()
    ]


def _tier_name(tier: orders_pb2.PartnerTier.ValueType) -> str:
    name = orders_pb2.PartnerTier.Name(tier).removeprefix("PARTNER_TIER_")
    return "STANDARD" if name == "UNSPECIFIED" else name


class Authenticator:
    """Operators by token (with its role) or by session cookie (``sessions``, set by the composition
    root); partners by API key, with two bounded LRU caches of the orders service's
    answers under the keys' sha256: partners (``api_key_ttl_s``) and unknown keys
    (``negative_ttl_s``, ``negative_cache_size`` entries), kept apart so bad keys never evict good ones.
    A key that is not well-formed (``mes_kernel.api_keys``; legacy keys only with ``legacy_api_keys``)
    touches neither and is never sent to the service."""

    def __init__(
        self,
        operator_tokens: Mapping[str, str],
        backend: Backend,
        *,
        api_key_ttl_s: float,
        legacy_api_keys: bool = False,
        negative_ttl_s: float = 60.0,
        negative_cache_size: int = 10_000,
        max_keys: int = _MAX_KEYS,
        token_roles: Mapping[str, str] | None = None,
        sessions: SessionCheck | None = None,
    ) -> None:
        self._operator_tokens = _token_viewers(operator_tokens, token_roles or {})
        #: Operators' sessions (the cookie); None: cookies are not looked at.
        self.sessions = sessions
        self._backend = backend
        self._legacy = legacy_api_keys
        #: sha256 hex of a key -> its partner: good keys only (an expired entry is still ``known``).
        self._keys: TtlLru[str, Viewer] = TtlLru(max_keys, api_key_ttl_s)
        #: sha256 hex of a well-formed key the service does not know.
        self._unknown: TtlLru[str, bool] = TtlLru(negative_cache_size, negative_ttl_s)
        self._flights: SingleFlight[str, Viewer | None] = SingleFlight()
        #: Bumped by every ``forget_*``: a lookup under way when a key was forgotten is not cached.
        self._generation = 0

    def operator(self, token: str) -> Viewer | None:
        given = token.encode()
        for known, viewer in self._operator_tokens:
            if hmac.compare_digest(given, known):
                return viewer
        return None

    async def session(self, token: str) -> Viewer:
        """The operator of a session cookie (401 when it has ended, or sessions are not enabled)."""
        if self.sessions is None or not token:
            raise _unauthenticated("The session has ended or is not valid: sign in again.")
        return await self.sessions.check(token)

    def known_session(self, token: str) -> bool:
        """Whether this replica holds a fresh answer for the session ``token`` (never calls the service)."""
        return bool(token) and self.sessions is not None and self.sessions.cached(token) is not None

    async def from_headers(self, headers: Mapping[str, str]) -> Viewer:
        """``Authorization: Bearer <operator token>``, ``X-API-Key: <partner key>`` or the session cookie."""
        auth = headers.get("authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            viewer = self.operator(token.strip()) if scheme.lower() == "bearer" else None
            if viewer is None:
                raise _unauthenticated("The bearer token is not valid.")
            return viewer
        key = headers.get("x-api-key", "").strip()
        if key:
            return await self.partner(key)
        cookie = session_cookie_of(headers) if self.sessions is not None else ""
        if cookie:
            return await self.session(cookie)
        raise _unauthenticated("Send 'Authorization: Bearer <operator token>' or 'X-API-Key: <partner key>'.")

    async def from_connection_params(self, params: Mapping[str, object]) -> Viewer:
        """The ``connection_init`` payload of a WebSocket: ``{"apiKey": ...}`` or ``{"token": ...}``."""
        token = params.get("token")
        if isinstance(token, str) and token:
            viewer = self.operator(token.removeprefix("Bearer ").strip())
            if viewer is None:
                raise _unauthenticated("The token is not valid.")
            return viewer
        key = params.get("apiKey")
        if isinstance(key, str) and key:
            return await self.partner(key.strip())
        raise _unauthenticated("Send {'apiKey': ...} or {'token': ...} in connection_init.")

    def well_formed(self, api_key: str) -> bool:
        """Whether ``api_key`` may be a key at all: a valid checksum, or the legacy format when those
        are accepted. Cheap, no lookup."""
        return api_keys.has_valid_checksum(api_key) or (self._legacy and api_keys.is_legacy(api_key))

    async def partner(self, api_key: str) -> Viewer:
        if not self.well_formed(api_key):
            _REFUSED_CHECKSUM.inc()
            raise _unauthenticated(_INVALID_KEY)
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        cached = self._keys.get(digest)
        if cached is not None:
            return cached
        if self._unknown.get(digest):
            _REFUSED_NEGATIVE.inc()
            raise _unauthenticated(_INVALID_KEY)
        self._unknown.pop(digest)  # expired, if held: asked again
        viewer = await self._resolve_once(digest, api_key)
        if viewer is None:
            raise _unauthenticated(_INVALID_KEY)
        return viewer

    def cached_partner(self, api_key: str) -> Viewer | None:
        """The partner of ``api_key`` if the key cache holds it unexpired; None otherwise (an unknown,
        expired or invalid key). Never calls the orders service."""
        return self._keys.peek(hashlib.sha256(api_key.strip().encode()).hexdigest())

    def known(self, api_key: str) -> bool:
        """Whether ``api_key`` resolved as valid on this replica and its entry is still held, fresh or
        expired (until pushed out by newer keys, forgotten, or found unknown). Never calls the service."""
        return hashlib.sha256(api_key.strip().encode()).hexdigest() in self._keys

    async def _resolve_once(self, digest: str, api_key: str) -> Viewer | None:
        generation = self._generation
        viewer, ran = await self._flights.run(digest, lambda: self._resolve(api_key))
        if not ran:
            return viewer
        if viewer is None:
            self._keys.pop(digest)  # valid before (expired entry), not any more
            self._unknown.put(digest, True)
        elif generation == self._generation:
            self._keys.put(digest, viewer)
        return viewer

    async def _resolve(self, api_key: str) -> Viewer | None:
        try:
            partner = await self._backend.orders.authenticate_partner(api_key)
        except (UnauthenticatedError, NotFoundError):
            _LOOKED_UP_UNKNOWN.inc()
            return None
        except MesClientError as err:
            _LOOKED_UP_ERROR.inc()
            public = from_client_error(err)
            raise FacadeError(public.code, public.message, http_status=503, extensions=public.extensions) from err
        except BaseException:
            _LOOKED_UP_ERROR.inc()
            raise
        if not partner.partner_id:
            _LOOKED_UP_UNKNOWN.inc()
            return None
        _LOOKED_UP_VALID.inc()
        return Viewer("partner", partner.partner_id, partner.partner_id, _tier_name(partner.tier))

    def forget_key(self, key_hash: str) -> None:
        """Drop the cached partner of the key whose sha256 hex digest is ``key_hash``, if any."""
        self._generation += 1
        self._keys.pop(key_hash)

    def forget_partner(self, partner_id: str) -> None:
        """Drop every cached key of partner ``partner_id``."""
        self._generation += 1
        self._keys.drop_where(lambda viewer: viewer.partner_id == partner_id)

    def forget_all(self) -> None:
        self._generation += 1
        self._keys.clear()
        self._unknown.clear()
