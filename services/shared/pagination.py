"""Opaque keyset page tokens bound to the tenant and the filter.

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
from collections.abc import Mapping, Sequence
from typing import Any

from services.shared.errors import FieldViolation, InvalidArgument

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PageTokens", "page_size"]

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
