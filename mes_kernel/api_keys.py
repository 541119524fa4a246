"""The format of partners' API keys: the one place that knows it.

A key is ``mes_`` + 32 URL-safe random characters (``secrets.token_urlsafe(24)``: 192 bits) + a
6-character checksum, 42 characters in all::

    mes_hG3x0_Qv7Jt2LrUe9dKpWm4Zb-Ns8YcA0Qp0ry

The checksum is the CRC32 of everything before it (``mes_`` and the random part), written in
base62 (``[0-9A-Za-z]``) on exactly 6 characters, zero-padded: the convention of GitHub's tokens.
It lets anything that receives a key refuse a typo, a truncated paste or a made-up key at once,
without a lookup: the facade answers such a key with 401 and never asks the orders service, so a
flood of random keys costs it no call and evicts nothing from its caches. A secret scanner can
recognise a key by its prefix and checksum too.

The checksum is not a secret and protects nothing: anybody can compute it for any string. What
makes a key hard to guess is its random part; only its SHA-256 hash is stored.

Keys issued before the checksum (``is_legacy``: ``mes_`` + 32 URL-safe characters, 36 in all)
still authenticate at the orders service; the facade accepts them only while
``MES_FACADE_LEGACY_API_KEYS=1`` (rotate them with ``mesctl partners rotate-key``).

Standard library only (``mes_kernel``).
"""

from __future__ import annotations

import hmac
import secrets
import string
import zlib

__all__ = [
    "CHECKSUM_LENGTH",
    "KEY_LENGTH",
    "LEGACY_KEY_LENGTH",
    "PREFIX",
    "has_valid_checksum",
    "is_legacy",
    "issue",
    "with_checksum",
]

PREFIX = "mes_"
#: Characters of the random part: ``secrets.token_urlsafe(24)`` gives exactly this many.
_BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
#: Length of a key with a checksum.
KEY_LENGTH = len(PREFIX) + _BODY_LENGTH + CHECKSUM_LENGTH
#: Length of a key issued before checksums.
LEGACY_KEY_LENGTH = len(PREFIX) + _BODY_LENGTH

_BODY_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS = frozenset(_BASE62)


def _checksum(text: str) -> str:
    """CRC32 of ``text`` (ASCII) in base62, zero-padded to ``CHECKSUM_LENGTH`` characters."""
    value = zlib.crc32(text.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):  # 62**6 > 2**32: six digits always suffice
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def _is_body(text: str) -> bool:
    return len(text) == _BODY_LENGTH and all(char in _BODY_CHARS for char in text)


def issue() -> str:
    """A new random key with its checksum."""
    return with_checksum(secrets.token_urlsafe(24))  # 24 bytes -> 32 characters


def with_checksum(body: str) -> str:
    """The key of random part ``body`` (32 URL-safe characters): for random parts drawn elsewhere,
    such as a seeded generator of test data. Raises ValueError for any other ``body``."""
    if not isinstance(body, str) or not _is_body(body):
        raise ValueError(f"the random part of an API key is {_BODY_LENGTH} URL-safe characters")
    text = PREFIX + body
    return text + _checksum(text)


def has_valid_checksum(key: object) -> bool:
    """Whether ``key`` is a key of the current format whose checksum matches.

    The work is bounded whatever the input (the length is checked first); anything that is not
    such a key, a non-``str`` included, is False, never an exception.
    """
    if not isinstance(key, str) or len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    text, given = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    if not _is_body(text[len(PREFIX) :]) or not all(char in _CHECKSUM_CHARS for char in given):
        return False
    return hmac.compare_digest(given, _checksum(text))


def is_legacy(key: object) -> bool:
    """Whether ``key`` has the format of the keys issued before checksums (``mes_`` + 32 URL-safe
    characters, no checksum). Says nothing of whether such a key was ever issued."""
    return (
        isinstance(key, str)
        and len(key) == LEGACY_KEY_LENGTH
        and key.startswith(PREFIX)
        and _is_body(key[len(PREFIX) :])
    )
