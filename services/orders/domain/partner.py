"""Partners (tenants) and their API keys.

A key is ``mes_`` + 32 URL-safe random characters + a 6-character checksum
(:mod:`mes_kernel.api_keys`, the one place of the format). Only its SHA-256 hash, its first
12 characters (to recognise it) and a key id are stored; the plain key is shown once.
Keys issued before the checksum (``mes_`` + 32 characters) keep authenticating here: their
stored hashes are unchanged.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from mes_kernel import api_keys

__all__ = [
    "API_KEY_PREFIX",
    "PARTNER_ID_RE",
    "ApiKey",
    "IssuedKey",
    "Partner",
    "PartnerTier",
    "hash_api_key",
    "issue_api_key",
    "looks_like_api_key",
]

API_KEY_PREFIX = api_keys.PREFIX
#: 3..40 of [a-z0-9-], starting with a letter or digit (so that "partners/{id}" parses).
PARTNER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,39}$")
_SHOWN_PREFIX_LEN = 12


class PartnerTier(IntEnum):
    """Limits tier (values match the wire enum)."""

    STANDARD = 1
    PLUS = 2
    ENTERPRISE = 3


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    partner_id: str
    key_hash: str
    prefix: str
    create_time: datetime
    revoke_time: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoke_time is None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the stored record and the plain text (returned to the caller once)."""

    record: ApiKey
    plain: str


@dataclass
class Partner:
    partner_id: str
    display_name: str
    tier: PartnerTier
    create_time: datetime
    version: int = 1
    api_keys: list[ApiKey] = field(default_factory=list)
    #: Time of the last change (None: never changed since creation).
    update_time: datetime | None = None

    @classmethod
    def create(cls, partner_id: str, display_name: str, tier: PartnerTier, now: datetime) -> tuple[Partner, IssuedKey]:
        """A new partner with its first API key."""
        issued = issue_api_key(partner_id, now)
        return cls(partner_id, display_name, tier, now, api_keys=[issued.record]), issued

    @property
    def name(self) -> str:
        return f"partners/{self.partner_id}"

    def active_keys(self) -> list[ApiKey]:
        return [key for key in self.api_keys if key.active]

    def rotate_key(self, now: datetime) -> tuple[IssuedKey, list[ApiKey]]:
        """Issue a new key and revoke every other one; returns (new key, keys revoked now)."""
        revoked = [_revoked(key, now) for key in self.active_keys()]
        issued = issue_api_key(self.partner_id, now)
        by_id = {key.key_id: key for key in revoked}
        self.api_keys = [by_id.get(key.key_id, key) for key in self.api_keys] + [issued.record]
        self._changed(now)
        return issued, revoked

    def revoke_key(self, key_id: str, now: datetime) -> ApiKey | None:
        """Revoke one key; returns the revoked record, or None if it was already revoked.

        Raises KeyError when the partner has no such key.
        """
        for index, key in enumerate(self.api_keys):
            if key.key_id == key_id:
                if not key.active:
                    return None
                self.api_keys[index] = _revoked(key, now)
                self._changed(now)
                return self.api_keys[index]
        raise KeyError(key_id)

    def set_tier(self, tier: PartnerTier, now: datetime) -> bool:
        if tier == self.tier:
            return False
        self.tier = tier
        self._changed(now)
        return True

    def _changed(self, now: datetime) -> None:
        self.version += 1
        self.update_time = now


def _revoked(key: ApiKey, now: datetime) -> ApiKey:
    return ApiKey(key.key_id, key.partner_id, key.key_hash, key.prefix, key.create_time, now)


def hash_api_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    """A key with a valid checksum, or one of the format issued before checksums."""
    return api_keys.has_valid_checksum(value) or api_keys.is_legacy(value)


def issue_api_key(partner_id: str, now: datetime) -> IssuedKey:
    plain = api_keys.issue()
    record = ApiKey(
        key_id=uuid.uuid4().hex,
        partner_id=partner_id,
        key_hash=hash_api_key(plain),
        prefix=plain[:_SHOWN_PREFIX_LEN],
        create_time=now,
    )
    return IssuedKey(record, plain)
