"""Rows <-> domain objects: a domain dataclass's fields are the columns of the same name.

The mapping is the platform's (:mod:`mes_platform.rows`: times read back as aware UTC, enums
rebuilt from their stored values, sums that PostgreSQL returns as ``Decimal`` made ints); the
names stay importable from here for the tools that load inventory rows (``perf/datagen``).
"""

from __future__ import annotations

from mes_platform.rows import from_row, to_row

__all__ = ["from_row", "to_row"]
