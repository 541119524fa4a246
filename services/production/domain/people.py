"""Signing in on the floor: operators' passwords, their sessions, and the limit of failed attempts.

A password is kept only as a salted scrypt hash, its parameters stored with it
(``scrypt$<n>$<r>$<p>$<salt>$<key>``, salt and key in unpadded URL-safe base64) so that they
can change later without breaking the hashes already stored. A session's token is shown once;
only its SHA-256 is stored. Failed attempts are counted per operator code and per client
address over a sliding window. Pure: hashing is CPU work the service layer runs off its event
loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from mes_kernel.errors import FieldViolation, InvalidArgument, ResourceExhausted, Unauthenticated

__all__ = [
    "DEFAULT_SESSION_TTL",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "SCRYPT",
    "TOKEN_BYTES",
    "Credential",
    "PasswordHash",
    "ScryptParams",
    "Session",
    "SignInFailure",
    "SignInLimits",
    "hash_password",
    "hash_token",
    "new_session_token",
    "sign_in_refused",
    "throttled",
    "validate_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
#: Bytes of randomness in a session token (``secrets.token_urlsafe``).
TOKEN_BYTES = 32
DEFAULT_SESSION_TTL = timedelta(hours=12)
#: Stored lengths of what a failed attempt records (longer values are cut: they match no operator).
CODE_LENGTH, ADDRESS_LENGTH = 40, 100
_SCHEME = "scrypt"


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int = 2**14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    key_bytes: int = 32


#: The parameters of new hashes.
SCRYPT = ScryptParams()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + (1 << 20)  # what scrypt needs, plus room
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=maxmem)


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A salted scrypt hash and the parameters it was made with."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        return f"{_SCHEME}${self.n}${self.r}${self.p}${_b64(self.salt)}${_b64(self.key)}"

    @classmethod
    def decode(cls, text: str) -> PasswordHash | None:
        """The hash stored as ``text``; None when it is not one this module can check."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != _SCHEME:
            return None
        try:
            n, r, p = (int(x) for x in parts[1:4])
            salt, key = _unb64(parts[4]), _unb64(parts[5])
        except (ValueError, binascii.Error):
            return None
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or not salt or not key:
            return None
        return cls(n, r, p, salt, key)

    def matches(self, password: str) -> bool:
        """Whether ``password`` hashes to this key (compared in constant time)."""
        return hmac.compare_digest(_scrypt(password, self.salt, self.n, self.r, self.p, len(self.key)), self.key)


def hash_password(password: str, params: ScryptParams = SCRYPT, *, salt: bytes | None = None) -> PasswordHash:
    """A new hash of ``password`` with a random salt (CPU-bound: tens of milliseconds)."""
    salt = secrets.token_bytes(params.salt_bytes) if salt is None else salt
    key = _scrypt(password, salt, params.n, params.r, params.p, params.key_bytes)
    return PasswordHash(params.n, params.r, params.p, salt, key)


@cache
def _decoy() -> PasswordHash:
    """A hash no password is known for: checked when there is nothing to check, so that the
    time of an answer does not tell which operator codes exist or have a password."""
    return hash_password(secrets.token_urlsafe(24))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` hashes; always computes one scrypt hash."""
    found = PasswordHash.decode(stored) if stored else None
    if found is None:
        _decoy().matches(password)
        return False
    return found.matches(password)


def validate_password(password: str, field: str = "password") -> None:
    """INVALID_ARGUMENT unless 12 to 1024 characters long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidArgument(
            "the password is invalid",
            violations=[
                FieldViolation(field, f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
            ],
        )


def new_session_token() -> str:
    """A new secret session token (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What is stored of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class Credential:
    """An operator's password (its encoded hash) and when it was set."""

    operator_code: str
    password_hash: str
    set_time: datetime


@dataclass(slots=True)
class Session:
    """A signed-in operator: open from ``create_time`` until ``expire_time`` or its end (sign-out)."""

    token_hash: str
    operator_code: str
    create_time: datetime
    expire_time: datetime
    end_time: datetime | None = None
    client_address: str = ""

    def is_open(self, now: datetime) -> bool:
        return self.end_time is None and now < self.expire_time


@dataclass(frozen=True, slots=True)
class SignInFailure:
    """One failed attempt: the operator code as typed and the client's address (both cut to their
    stored lengths)."""

    operator_code: str
    client_address: str
    time: datetime

    @classmethod
    def of(cls, operator_code: str, client_address: str, time: datetime) -> SignInFailure:
        return cls(operator_code[:CODE_LENGTH], client_address[:ADDRESS_LENGTH], time)


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """At most ``per_operator`` failed attempts per operator code and ``per_address`` per client
    address within ``window``; beyond that, attempts are refused until the oldest counted one
    leaves the window."""

    per_operator: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    def retry_after_s(self, now: datetime, by_operator: Sequence[datetime], by_address: Sequence[datetime]) -> int:
        """Seconds until another attempt is allowed (0: now), from the newest failures of the
        code and of the address within the window (newest first, at most the limit of each)."""
        waits = [
            recent[limit - 1] + self.window - now
            for recent, limit in ((by_operator, self.per_operator), (by_address, self.per_address))
            if len(recent) >= limit
        ]
        if not waits:
            return 0
        return max(1, math.ceil(max(waits).total_seconds()))


def sign_in_refused() -> Unauthenticated:
    """The one answer to a failed sign-in, whatever failed (unknown code, no password, disabled,
    wrong password)."""
    return Unauthenticated("operator code or password is wrong", reason="SIGN_IN_FAILED")


def throttled(retry_after_s: int) -> ResourceExhausted:
    return ResourceExhausted(
        "too many failed sign-in attempts; try again later",
        reason="SIGN_IN_THROTTLED",
        metadata={"retry_after_s": str(retry_after_s)},
    )
