"""Materials: metals, alloys' rules, stones, priorities and weights."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "ALLOWED_FINENESS",
    "COLOURS",
    "MAX_DENSITY_MG_PER_CM3",
    "MAX_STONE_PIECES",
    "MAX_WEIGHT_MG",
    "MaterialKey",
    "MaterialKind",
    "Metal",
    "Priority",
    "amounts",
    "fine_mg",
    "fineness_allowed",
]

#: 100 kg: the largest weight one lot, requirement or custody entry may carry.
MAX_WEIGHT_MG = 100_000_000
MAX_STONE_PIECES = 1_000_000
#: Upper bound of an alloy's density (generous: precious alloys are ~10,000-22,000 mg/cm3).
MAX_DENSITY_MG_PER_CM3 = 30_000_000


class MaterialKind(StrEnum):
    METAL = "METAL"
    STONE = "STONE"


#: A material is identified by its kind and its code (an alloy code or a stone code).
MaterialKey = tuple[MaterialKind, str]


class Metal(StrEnum):
    GOLD = "GOLD"
    SILVER = "SILVER"
    PLATINUM = "PLATINUM"
    PALLADIUM = "PALLADIUM"


class Priority(IntEnum):
    """Order priority; higher is served first (values match mes.common.v1.Priority)."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    RUSH = 4


#: Hallmarkable finenesses (parts per thousand) per metal.
ALLOWED_FINENESS: dict[Metal, tuple[int, ...]] = {
    Metal.GOLD: (333, 375, 585, 750, 916, 999),
    Metal.SILVER: (800, 925, 999),
    Metal.PLATINUM: (900, 950, 999),
    Metal.PALLADIUM: (500, 950, 999),
}

COLOURS = ("yellow", "white", "rose", "red", "green", "natural")


def fineness_allowed(metal: Metal, fineness: int) -> bool:
    return fineness in ALLOWED_FINENESS[metal]


def amounts(kind: MaterialKind, quantity: int) -> tuple[int, int]:
    """(weight_mg, pieces) of a quantity in the material's unit (mg for metal, pieces for stones)."""
    return (quantity, 0) if kind is MaterialKind.METAL else (0, quantity)


def fine_mg(gross_mg: int, fineness: int) -> int:
    """Fine metal in a gross weight: ``gross * fineness // 1000`` (integers only)."""
    return gross_mg * fineness // 1000
