"""Deterministic identifiers and times of a generated data set (one seeded random source).

Ids have the layouts the services use (UUID v7 order ids, ``wo-<hex>`` work orders, UUID v4
reservations, lots, custody entries and events), drawn from a seeded ``random.Random`` so
that a seed and a clock give the same data set twice.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

__all__ = ["Ids", "at"]

_UUID4_MASK = ((1 << 128) - 1) & ~(0xF << 76) & ~(0x3 << 62)
_UUID4_BITS = (0x4 << 76) | (0x2 << 62)


def at(seconds: float) -> datetime:
    """An aware UTC datetime from epoch seconds (microseconds kept)."""
    return datetime.fromtimestamp(seconds, UTC)


class Ids:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._bits = self.rng.getrandbits

    def uuid4(self) -> str:
        h = "%032x" % ((self._bits(128) & _UUID4_MASK) | _UUID4_BITS)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def order_id(self, seconds: float) -> str:
        """The layout of ``services.orders.domain.order.new_order_id`` (UUID v7: time first)."""
        ms = int(seconds * 1000) & ((1 << 48) - 1)
        value = ms << 80 | self._bits(80)
        value = (value & ~(0xF << 76)) | (0x7 << 76)
        value = (value & ~(0x3 << 62)) | (0x2 << 62)
        return str(uuid.UUID(int=value))

    def work_order_id(self) -> str:
        return f"wo-{self._bits(128):032x}"

    def hex(self, chars: int) -> str:
        return f"{self._bits(chars * 4):0{chars}x}"

    def token(self, chars: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "".join(alphabet[self._bits(6)] for _ in range(chars))
