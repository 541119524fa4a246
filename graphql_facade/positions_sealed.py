"""Stream positions as partners see them: sealed to the partner, so they say nothing about others.

The ORDERS stream carries every partner's events, so its sequence numbers grow with the whole
plant's traffic: a partner who saw them could count the other partners' orders from the gaps.
Partners therefore never see a sequence. Their subscription events, resync notices and ``asOf``
carry a *position*: the sequence enciphered together with a tag of the partner, under a key only
the facade replicas hold (``MES_FACADE_POSITION_SECRET``).

The construction is encode-then-encipher: one 16-byte block, the sequence (8 bytes) followed by
the first 8 bytes of ``HMAC-SHA256(tag key, partner id)``, enciphered with AES-256 as a keyed
permutation. Opening deciphers the block and checks the partner half, so a position is
authenticated (a forged or altered one, or another partner's, fails the check with probability
1 - 2^-64) and bound to its partner. The same sequence gives the same position for one partner
(a resumed subscription compares nothing else) and unrelated ones for two partners. Every
replica with the same secret opens every other replica's positions; a new secret invalidates the
positions issued before it (a subscriber then resubscribes without ``since`` after a refetch).

Text form: ``p1.`` and the block in unpadded base64url (25 characters).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["InvalidPosition", "PositionSealer", "sealer_for"]

_PREFIX = "p1."
_BLOCK = 16
_TEXT_LENGTH = len(_PREFIX) + 22
_MAX_SEQ = (1 << 64) - 1


class InvalidPosition(ValueError):
    """Not a position this installation issued to this partner (the message is safe to show)."""


class PositionSealer:
    """Seals and opens partners' positions under one secret (keys derived with HMAC-SHA256)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the position secret must not be empty")
        root = secret.encode()
        self._cipher = Cipher(algorithms.AES(_derive(root, b"cipher")), modes.ECB())
        self._tag_key = _derive(root, b"partner-tag")

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one sealer per secret, partners are few
    def _tag(self, partner_id: str) -> bytes:
        return hmac.new(self._tag_key, partner_id.encode(), hashlib.sha256).digest()[:8]

    def seal(self, partner_id: str, seq: int) -> str:
        """The position ``partner_id`` sees for the stream sequence ``seq``."""
        if not 0 <= seq <= _MAX_SEQ:
            raise ValueError(f"sequence out of range: {seq}")
        encryptor = self._cipher.encryptor()
        block = encryptor.update(seq.to_bytes(8, "big") + self._tag(partner_id)) + encryptor.finalize()
        return _PREFIX + base64.urlsafe_b64encode(block).rstrip(b"=").decode()

    def open(self, partner_id: str, position: str) -> int:
        """The sequence sealed in ``position`` (:class:`InvalidPosition` unless sealed for ``partner_id``)."""
        if len(position) != _TEXT_LENGTH or not position.startswith(_PREFIX):
            raise InvalidPosition("is not a position: use the `position` of an event, of ResyncRequired or of asOf")
        try:
            block = base64.urlsafe_b64decode(position[len(_PREFIX) :] + "==")
        except (binascii.Error, ValueError):
            raise InvalidPosition(
                "is not a position: use the `position` of an event, of ResyncRequired or of asOf"
            ) from None
        if len(block) != _BLOCK:
            raise InvalidPosition("is not a position: use the `position` of an event, of ResyncRequired or of asOf")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(block) + decryptor.finalize()
        if not hmac.compare_digest(plain[8:], self._tag(partner_id)):
            raise InvalidPosition(
                "was not issued to you by this installation (or its position secret changed since): "
                "refetch, then subscribe without `since`"
            )
        return int.from_bytes(plain[:8], "big")


def _derive(root: bytes, label: bytes) -> bytes:
    return hmac.new(root, b"mes-facade-positions-v1:" + label, hashlib.sha256).digest()


@functools.lru_cache(maxsize=8)
def sealer_for(secret: str) -> PositionSealer:
    """The sealer of ``secret`` (one per process and secret)."""
    return PositionSealer(secret)
