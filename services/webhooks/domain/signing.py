"""Standard Webhooks signatures: secrets ``whsec_<base64>`` and ``v1,<base64 HMAC-SHA256>``.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"`` (the body as sent, bytes
for bytes); the header ``webhook-signature`` holds one ``v1,<signature>`` per secret that
signs, separated by spaces (during a secret rotation's overlap both the new and the previous
secret sign, so a receiver that knows either accepts the message).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence

__all__ = [
    "SECRET_BYTES",
    "SECRET_PREFIX",
    "is_valid_secret",
    "new_secret",
    "secret_key",
    "signature",
    "signature_header",
]

SECRET_PREFIX = "whsec_"
#: Random bytes of a new secret (the specification asks for 24 to 64).
SECRET_BYTES = 32


def new_secret() -> str:
    """A new random signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (the bytes its base64 part encodes)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


def is_valid_secret(secret: str) -> bool:
    try:
        secret_key(secret)
    except ValueError:
        return False
    return True


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">`` with ``secret``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    if not secrets:
        raise ValueError("at least one secret signs")
    return " ".join(signature(secret, msg_id, timestamp, body) for secret in secrets)
