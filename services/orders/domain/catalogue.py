"""The service's read-only copy of the catalogue (styles and alloys), used at intake."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["CatalogueItem", "CatalogueKind"]


class CatalogueKind(IntEnum):
    """Kind of catalogue item (values match the wire enum)."""

    STYLE = 1
    ALLOY = 2


@dataclass(frozen=True)
class CatalogueItem:
    kind: CatalogueKind
    code: str
    display_name: str
    active: bool
    #: Version of the source record (production's style, inventory's alloy); a copy is
    #: only ever replaced by one with a higher source version.
    source_version: int
