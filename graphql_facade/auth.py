"""Who is calling: operators by bearer token, partners by API key.

The tenant comes only from the credential. A partner's key is resolved by the orders
service (``AuthenticatePartner``) and the answer is kept for a few seconds, under the
key's sha256 (the key itself is never stored); unknown keys are remembered briefly too,
so a flood of bad keys does not reach the service. :meth:`Authenticator.cached_partner` reads that
cache alone (never the service): for a request the server sheds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from clients import MesClientError, NotFoundError, UnauthenticatedError
from graphql_facade.backend import Backend
from graphql_facade.errors import ErrorCode, FacadeError, from_client_error
from mes.orders.v1 import orders_pb2

__all__ = ["Audience", "Authenticator", "Viewer"]

Audience = Literal["operator", "partner"]
_NEGATIVE_TTL_S = 2.0
_MAX_KEYS = 10_000


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


def _tier_name(tier: orders_pb2.PartnerTier.ValueType) -> str:
    name = orders_pb2.PartnerTier.Name(tier).removeprefix("PARTNER_TIER_")
    return "STANDARD" if name == "UNSPECIFIED" else name


class Authenticator:
    def __init__(self, operator_tokens: Mapping[str, str], backend: Backend, *, api_key_ttl_s: float) -> None:
        self._operator_tokens = [(t.encode(), op) for t, op in operator_tokens.items()]
        self._backend = backend
        self._ttl_s = api_key_ttl_s
        self._keys: OrderedDict[str, tuple[float, Viewer | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Viewer | None]] = {}

    def operator(self, token: str) -> Viewer | None:
        given = token.encode()
        for known, operator in self._operator_tokens:
            if hmac.compare_digest(given, known):
                return Viewer("operator", operator)
        return None

    async def from_headers(self, headers: Mapping[str, str]) -> Viewer:
        """``Authorization: Bearer <operator token>`` or ``X-API-Key: <partner key>``."""
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

    async def partner(self, api_key: str) -> Viewer:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            viewer = cached[1]
        else:
            viewer = await self._resolve_once(digest, api_key)
        if viewer is None:
            raise _unauthenticated("The API key is not valid.")
        return viewer

    def cached_partner(self, api_key: str) -> Viewer | None:
        """The partner of ``api_key`` if the key cache holds it unexpired; None otherwise (an unknown,
        expired or invalid key). Never calls the orders service."""
        cached = self._keys.get(hashlib.sha256(api_key.strip().encode()).hexdigest())
        if cached is None or cached[0] <= time.monotonic():
            return None
        return cached[1]

    async def _resolve_once(self, digest: str, api_key: str) -> Viewer | None:
        pending = self._pending.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Viewer | None] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            viewer = await self._resolve(api_key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(viewer)
            ttl = self._ttl_s if viewer is not None else min(self._ttl_s, _NEGATIVE_TTL_S)
            self._remember(digest, viewer, ttl)
            return viewer
        finally:
            del self._pending[digest]

    async def _resolve(self, api_key: str) -> Viewer | None:
        try:
            partner = await self._backend.orders.authenticate_partner(api_key)
        except (UnauthenticatedError, NotFoundError):
            return None
        except MesClientError as err:
            public = from_client_error(err)
            raise FacadeError(public.code, public.message, http_status=503, extensions=public.extensions) from err
        if not partner.partner_id:
            return None
        return Viewer("partner", partner.partner_id, partner.partner_id, _tier_name(partner.tier))

    def _remember(self, digest: str, viewer: Viewer | None, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._keys[digest] = (time.monotonic() + ttl_s, viewer)
        self._keys.move_to_end(digest)
        while len(self._keys) > _MAX_KEYS:
            self._keys.popitem(last=False)

    def forget_all(self) -> None:
        self._keys.clear()
