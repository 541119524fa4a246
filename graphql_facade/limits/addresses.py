"""Who sent a request, by address, and how many unauthenticated requests an address may send.

:class:`ClientAddresses` gives the address a request came from. The connection's peer is the
client, unless the peer is one of the configured trusted proxies (``MES_FACADE_TRUSTED_PROXIES``:
addresses or networks, comma-separated; none by default): then the client is the right-most
address of ``X-Forwarded-For`` that is not itself a trusted proxy. A forwarding header from any
other peer is ignored, so a client cannot choose the address it is limited under.

:class:`AddressLimiter` limits unauthenticated traffic per client address: every request that
fails authentication (no credential, a malformed or unknown key, a bad token) takes one token of
its address's bucket (``MES_FACADE_UNAUTHENTICATED_PER_MINUTE`` per minute, the same number as the
burst); an address whose bucket is empty gets ``429 RATE_LIMITED`` before its credential is even
looked at, unless the credential is a valid operator token or a partner key this replica resolved
as valid and still holds in its key cache, expired entries included (``Authenticator.known``): an
authenticated caller behind the same address, a NAT or a proxy, is never refused for its
neighbours' mistakes; its key is still checked as usual, so a revoked key is refused all the same.
Buckets live in this replica's memory (at most ``max_addresses``, least recently used dropped).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from graphql_facade.limits.errors import LimitCode, LimitError

__all__ = ["AddressLimiter", "ClientAddresses"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """The client address of a request, trusting ``X-Forwarded-For`` only from configured proxies."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self._trusted: tuple[_Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)

    def _is_trusted(self, address: str) -> bool:
        if not self._trusted:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The client address (``"unknown"`` when the server gave no peer)."""
        address = peer or "unknown"
        if not self._is_trusted(address):
            return address
        forwarded = headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._is_trusted(hop):
                return hop
            address = hop
        return address


class AddressLimiter:
    """A token bucket per client address, for requests that fail authentication."""

    def __init__(self, per_minute: int, *, max_addresses: int = 100_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._max = max_addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self._burst > 0

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self._buckets.get(address, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def check(self, address: str) -> None:
        """``RATE_LIMITED`` when ``address`` has no unauthenticated request left."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self._tokens(address, now) >= 1.0:
            return
        wait = math.ceil((1.0 - self._tokens(address, now)) / self._rate) if self._rate > 0 else 60
        raise LimitError(
            LimitCode.RATE_LIMITED,
            "Too many unauthenticated requests from this address; send a valid credential or retry later.",
            extensions={"retryAfterSeconds": wait},
            headers={"Retry-After": str(max(1, wait))},
        )

    def failed(self, address: str) -> None:
        """Take one token from ``address`` (a request of it failed authentication)."""
        if not self.enabled:
            return
        now = time.monotonic()
        tokens = self._tokens(address, now)
        self._buckets[address] = (max(0.0, tokens - 1.0), now)
        self._buckets.move_to_end(address)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
