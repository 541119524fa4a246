"""Keyset pages: requests, pages, and opaque tokens bound to the tenant and the filter.

A use case turns a :class:`PageRequest` into a :class:`Pager` (size, start key, binding),
asks its repository for ``pager.limit`` rows (one more than the page size) strictly after
``pager.after``, and returns ``pager.page(rows, key)``: the extra row only says that there
is a next page, whose token holds the sort key of the last row returned.

A token holds the sort key of the last row of the page, plus a hash of the
scope (tenant) and the filter it was issued for, signed with HMAC. A token used
with another tenant or another filter, or tampered with, fails INVALID_ARGUMENT
(``INVALID_PAGE_TOKEN``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from mes_kernel.errors import FieldViolation, InvalidArgument

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Page",
    "PageRequest",
    "PageTokens",
    "PagedRequest",
    "Pager",
    "invalid_page_token",
    "page_request",
    "page_size",
]

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument(
            "page_size must not be negative", violations=[FieldViolation("page_size", "must not be negative")]
        )
    if requested == 0:
        return default
    return min(requested, maximum)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _binding(self, scope: str | None, filters: Mapping[str, Any]) -> str:
        blob = json.dumps([scope or "*", filters], sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def encode(self, key: Sequence[Any], *, scope: str | None, filters: Mapping[str, Any]) -> str:
        body = json.dumps({"k": list(key), "b": self._binding(scope, filters)}, separators=(",", ":")).encode()
        sig = hmac.new(self._secret, body, hashlib.sha256).digest()[:12]
        return _b64(body) + "." + _b64(sig)

    def decode(self, token: str, *, scope: str | None, filters: Mapping[str, Any]) -> list[Any] | None:
        """The key after which the page starts, or None for the first page."""
        if not token:
            return None
        try:
            body_b64, sig_b64 = token.split(".", 1)
            body = _unb64(body_b64)
            sig = _unb64(sig_b64)
            ok = hmac.compare_digest(hmac.new(self._secret, body, hashlib.sha256).digest()[:12], sig)
            data = json.loads(body) if ok else None
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, dict) or data.get("b") != self._binding(scope, filters):
            raise InvalidArgument(
                "page_token is invalid or was issued for another filter",
                reason="INVALID_PAGE_TOKEN",
                violations=[FieldViolation("page_token", "invalid, expired or issued for another filter")],
            )
        key = data.get("k")
        if not isinstance(key, list):
            raise InvalidArgument("page_token is invalid", reason="INVALID_PAGE_TOKEN")
        return key


def invalid_page_token() -> InvalidArgument:
    return InvalidArgument("page_token is invalid", reason="INVALID_PAGE_TOKEN")


@dataclass(frozen=True)
class PageRequest:
    """What a caller asks of a listing: at most ``page_size`` items (0: the default), after
    the page ``page_token`` ended (empty: the first page)."""

    page_size: int = 0
    page_token: str = ""


class PagedRequest(Protocol):
    """A ``List*`` request message: the page fields every listing has (AIP-158)."""

    page_size: int
    page_token: str


def page_request(request: PagedRequest) -> PageRequest:
    """The page a ``List*`` request asks for."""
    return PageRequest(request.page_size, request.page_token)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is empty on the last page."""

    items: list[T]
    next_page_token: str = ""


@dataclass(frozen=True)
class Pager:
    """One page request, decoded: its size and where it starts, bound to the caller's scope
    (tenant) and the listing's filter (a token of another tenant or filter is refused)."""

    tokens: PageTokens
    scope: str | None
    filters: Mapping[str, Any] = field(default_factory=dict)
    size: int = DEFAULT_PAGE_SIZE
    #: The sort key the page starts after (decoded from the token), None on the first page.
    key: list[Any] | None = None

    @classmethod
    def of(
        cls,
        tokens: PageTokens,
        request: PageRequest,
        *,
        scope: str | None,
        filters: Mapping[str, Any] | None = None,
        maximum: int = MAX_PAGE_SIZE,
    ) -> Pager:
        filters = dict(filters or {})
        size = page_size(request.page_size, maximum=maximum)
        return cls(tokens, scope, filters, size, tokens.decode(request.page_token, scope=scope, filters=filters))

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page, to tell whether there is a next one."""
        return self.size + 1

    def after(self, parse: Callable[[list[Any]], K]) -> K | None:
        """The start key in the repository's terms (INVALID_PAGE_TOKEN when it does not parse)."""
        if self.key is None:
            return None
        try:
            return parse(self.key)
        except (ValueError, TypeError, IndexError, KeyError):
            raise invalid_page_token() from None

    def page(self, rows: Sequence[T], key: Callable[[T], Sequence[Any]]) -> Page[T]:
        """The page of ``rows`` (fetched with :attr:`limit`); ``key`` gives a row's sort key."""
        if len(rows) <= self.size:
            return Page(list(rows))
        items = list(rows[: self.size])
        return Page(items, self.tokens.encode(key(items[-1]), scope=self.scope, filters=self.filters))
