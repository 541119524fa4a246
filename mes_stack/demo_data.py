"""Demo master data: alloys, stock lots, stones, styles with routings and BOMs, work
centers with their shift calendars, operators (with development-only sign-in passwords) and
partners. Plain definitions (no I/O); ``demo`` loads them.

Weights are integer milligrams, stones are pieces + points (1 point = 0.01 ct), loss
tolerances are per mille of the weigh-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ALLOYS",
    "CALENDARS",
    "DEMO_OPERATOR_PASSWORD",
    "DEMO_SUPERVISOR_PASSWORD",
    "METAL_LOTS",
    "OPERATORS",
    "PARTNERS",
    "PLANT_TIME_ZONE",
    "STONES",
    "STONE_LOTS",
    "STYLES",
    "TWO_SHIFTS",
    "WORK_CENTERS",
    "AlloyDef",
    "BomItemDef",
    "CalendarDef",
    "MetalLotDef",
    "OperatorDef",
    "PartnerDef",
    "RoutingStepDef",
    "ShiftDef",
    "StoneLotDef",
    "StyleDef",
    "WorkCenterDef",
]

Metal = Literal["GOLD", "SILVER", "PLATINUM", "PALLADIUM"]
Category = Literal["RING", "PENDANT", "EARRINGS", "CHAIN", "BRACELET"]
Tier = Literal["STANDARD", "PLUS", "ENTERPRISE"]


@dataclass(frozen=True)
class AlloyDef:
    code: str
    metal: Metal
    fineness: int
    colour: str
    density_mg_per_cm3: int
    display_name: str


@dataclass(frozen=True)
class MetalLotDef:
    alloy_code: str
    number: int
    weight_mg: int

    @property
    def request_id(self) -> str:
        return f"demo-lot-{self.alloy_code}-{self.number}"


@dataclass(frozen=True)
class StoneLotDef:
    stone_code: str
    number: int
    pieces: int

    @property
    def request_id(self) -> str:
        return f"demo-lot-{self.stone_code}-{self.number}"

    @property
    def weight_points(self) -> int:
        return self.pieces * STONES[self.stone_code][1]


@dataclass(frozen=True)
class RoutingStepDef:
    sequence: int
    operation_code: str
    work_center_type: str
    expected_minutes: int
    loss_tolerance_per_mille: int
    optional: bool = False


@dataclass(frozen=True)
class BomItemDef:
    kind: Literal["METAL", "STONE"]
    material_code: str = ""
    weight_mg: int = 0
    pieces: int = 0


@dataclass(frozen=True)
class StyleDef:
    sku: str
    display_name: str
    category: Category
    routing: tuple[RoutingStepDef, ...]
    bill_of_materials: tuple[BomItemDef, ...]


@dataclass(frozen=True)
class WorkCenterDef:
    code: str
    work_center_type: str
    display_name: str
    capacity: int


@dataclass(frozen=True)
class ShiftDef:
    """One shift: ISO weekday (1 Monday), local start and end ``HH:MM``, name."""

    weekday: int
    start: str
    end: str
    name: str


@dataclass(frozen=True)
class CalendarDef:
    work_center: str
    time_zone: str
    output_target_per_hour: int
    windows: tuple[ShiftDef, ...]


#: Sign-in passwords of the demo operators and supervisor: for a development stack only, never elsewhere.
DEMO_OPERATOR_PASSWORD = "operator-demo-pass"
DEMO_SUPERVISOR_PASSWORD = "supervisor-demo-pass"


@dataclass(frozen=True)
class OperatorDef:
    code: str
    display_name: str
    supervisor: bool = False

    @property
    def password(self) -> str:
        """The demo sign-in password (development only)."""
        return DEMO_SUPERVISOR_PASSWORD if self.supervisor else DEMO_OPERATOR_PASSWORD


@dataclass(frozen=True)
class PartnerDef:
    partner_id: str
    display_name: str
    tier: Tier


ALLOYS: tuple[AlloyDef, ...] = (
    AlloyDef("AU585Y", "GOLD", 585, "yellow", 13_100, "Gold 585 yellow (14K)"),
    AlloyDef("AU585W", "GOLD", 585, "white", 12_900, "Gold 585 white (14K)"),
    AlloyDef("AU585R", "GOLD", 585, "rose", 13_000, "Gold 585 rose (14K)"),
    AlloyDef("AU750Y", "GOLD", 750, "yellow", 15_500, "Gold 750 yellow (18K)"),
    AlloyDef("AU750W", "GOLD", 750, "white", 15_900, "Gold 750 white (18K, palladium)"),
    AlloyDef("AU750R", "GOLD", 750, "rose", 15_100, "Gold 750 rose (18K)"),
    AlloyDef("AG925", "SILVER", 925, "natural", 10_360, "Sterling silver 925"),
    AlloyDef("PT950", "PLATINUM", 950, "natural", 20_700, "Platinum 950 (ruthenium)"),
)

#: Stone code -> (description, points per piece).
STONES: dict[str, tuple[str, int]] = {
    "DIA-RB-010": ("diamond, round brilliant, 0.10 ct", 10),
    "SAP-OV-050": ("blue sapphire, oval, 0.50 ct", 50),
    "CZ-RB-020": ("cubic zirconia, round brilliant, 0.20 ct", 20),
}

METAL_LOTS: tuple[MetalLotDef, ...] = (
    MetalLotDef("AU585Y", 1, 1_000_000),
    MetalLotDef("AU585W", 1, 600_000),
    MetalLotDef("AU585R", 1, 400_000),
    MetalLotDef("AU750Y", 1, 2_000_000),
    MetalLotDef("AU750Y", 2, 1_500_000),
    MetalLotDef("AU750W", 1, 1_200_000),
    MetalLotDef("AU750R", 1, 800_000),
    MetalLotDef("AG925", 1, 2_000_000),
    MetalLotDef("PT950", 1, 250_000),
)

STONE_LOTS: tuple[StoneLotDef, ...] = (
    StoneLotDef("DIA-RB-010", 1, 400),
    StoneLotDef("SAP-OV-050", 1, 40),
    StoneLotDef("CZ-RB-020", 1, 1_000),
)

# operation code -> (work center type, loss tolerance per mille)
_OPS: dict[str, tuple[str, int]] = {
    "CASTING": ("CASTING", 20),
    "FILING": ("FILING", 15),
    "ASSEMBLY": ("ASSEMBLY", 8),
    "SOLDERING": ("ASSEMBLY", 5),
    "STONE_SETTING": ("STONE_SETTING", 5),
    "POLISHING": ("POLISHING", 10),
    "ENGRAVING": ("ENGRAVING", 3),
    "QC": ("QC", 1),
    "PACKING": ("PACKING", 0),
}


def _routing(*steps: tuple[str, int] | tuple[str, int, bool]) -> tuple[RoutingStepDef, ...]:
    """Steps as (operation code, expected minutes[, optional]), numbered 1..n."""
    out: list[RoutingStepDef] = []
    for sequence, step in enumerate(steps, start=1):
        code, minutes = step[0], step[1]
        optional = bool(step[2]) if len(step) > 2 else False
        wct, tolerance = _OPS[code]
        out.append(RoutingStepDef(sequence, code, wct, minutes, tolerance, optional))
    return tuple(out)


def _bom(metal_mg: int, *stones: tuple[str, int]) -> tuple[BomItemDef, ...]:
    """One metal item (the order line's alloy) and the stones as (code, pieces)."""
    return (BomItemDef("METAL", "", metal_mg, 0), *(BomItemDef("STONE", code, 0, pcs) for code, pcs in stones))


_ENGRAVE = ("ENGRAVING", 15, True)
_FINISH = (("QC", 10), ("PACKING", 5))

STYLES: tuple[StyleDef, ...] = (
    StyleDef(
        "RNG-SOL-001",
        "Solitaire ring, 4-prong",
        "RING",
        _routing(("CASTING", 45), ("FILING", 30), ("STONE_SETTING", 25), ("POLISHING", 20), _ENGRAVE, *_FINISH),
        _bom(3_500, ("DIA-RB-010", 1)),
    ),
    StyleDef(
        "RNG-ETR-002",
        "Eternity ring, channel set",
        "RING",
        _routing(("CASTING", 45), ("FILING", 40), ("STONE_SETTING", 90), ("POLISHING", 25), _ENGRAVE, *_FINISH),
        _bom(4_200, ("DIA-RB-010", 16)),
    ),
    StyleDef(
        "RNG-BND-003",
        "Comfort-fit wedding band",
        "RING",
        _routing(("CASTING", 40), ("FILING", 20), ("POLISHING", 20), _ENGRAVE, *_FINISH),
        _bom(5_000),
    ),
    StyleDef(
        "RNG-SIG-004",
        "Signet ring, oval face",
        "RING",
        _routing(("CASTING", 50), ("FILING", 35), ("POLISHING", 25), _ENGRAVE, *_FINISH),
        _bom(7_500),
    ),
    StyleDef(
        "PND-HRT-001",
        "Heart pendant",
        "PENDANT",
        _routing(("CASTING", 35), ("FILING", 20), ("POLISHING", 15), _ENGRAVE, *_FINISH),
        _bom(2_200),
    ),
    StyleDef(
        "PND-SAP-002",
        "Sapphire drop pendant",
        "PENDANT",
        _routing(("CASTING", 35), ("FILING", 20), ("STONE_SETTING", 25), ("POLISHING", 15), *_FINISH),
        _bom(1_800, ("SAP-OV-050", 1)),
    ),
    StyleDef(
        "PND-CZ-003",
        "Halo pendant with zirconia",
        "PENDANT",
        _routing(("CASTING", 35), ("FILING", 25), ("STONE_SETTING", 45), ("POLISHING", 15), *_FINISH),
        _bom(2_000, ("CZ-RB-020", 9)),
    ),
    StyleDef(
        "EAR-STD-001",
        "Diamond stud earrings (pair)",
        "EARRINGS",
        _routing(
            ("CASTING", 30), ("FILING", 20), ("SOLDERING", 15), ("STONE_SETTING", 30), ("POLISHING", 15), *_FINISH
        ),
        _bom(1_200, ("DIA-RB-010", 2)),
    ),
    StyleDef(
        "EAR-HOP-002",
        "Hoop earrings, 20 mm (pair)",
        "EARRINGS",
        _routing(("ASSEMBLY", 30), ("SOLDERING", 20), ("POLISHING", 15), *_FINISH),
        _bom(2_600),
    ),
    StyleDef(
        "CHN-CUR-045",
        "Curb chain, 45 cm",
        "CHAIN",
        _routing(("ASSEMBLY", 60), ("SOLDERING", 40), ("POLISHING", 20), *_FINISH),
        _bom(8_500),
    ),
    StyleDef(
        "CHN-ROP-050",
        "Rope chain, 50 cm",
        "CHAIN",
        _routing(("ASSEMBLY", 75), ("SOLDERING", 45), ("POLISHING", 25), *_FINISH),
        _bom(11_000),
    ),
    StyleDef(
        "BRC-TNS-001",
        "Tennis bracelet, zirconia",
        "BRACELET",
        _routing(
            ("CASTING", 60), ("FILING", 45), ("ASSEMBLY", 40), ("STONE_SETTING", 120), ("POLISHING", 30), *_FINISH
        ),
        _bom(9_000, ("CZ-RB-020", 40)),
    ),
    StyleDef(
        "BRC-BNG-002",
        "Bangle, hinged",
        "BRACELET",
        _routing(("CASTING", 50), ("FILING", 35), ("ASSEMBLY", 25), ("POLISHING", 25), _ENGRAVE, *_FINISH),
        _bom(12_000),
    ),
)

WORK_CENTERS: tuple[WorkCenterDef, ...] = (
    WorkCenterDef("CAST-1", "CASTING", "Casting: vacuum caster", 4),
    WorkCenterDef("FILE-1", "FILING", "Filing bench 1", 3),
    WorkCenterDef("FILE-2", "FILING", "Filing bench 2", 3),
    WorkCenterDef("ASM-1", "ASSEMBLY", "Assembly and soldering bench", 3),
    WorkCenterDef("SET-1", "STONE_SETTING", "Stone setting, microscope station", 2),
    WorkCenterDef("POL-1", "POLISHING", "Polishing lathe", 4),
    WorkCenterDef("ENG-1", "ENGRAVING", "Laser engraver", 2),
    WorkCenterDef("QC-1", "QC", "Quality control", 2),
    WorkCenterDef("PACK-1", "PACKING", "Packing and dispatch", 4),
)

#: The plant's time zone: the demo shift calendars are local times there.
PLANT_TIME_ZONE = "Europe/Rome"
#: Two shifts, Monday to Saturday: early 06:00-14:00 and late 14:00-22:00.
TWO_SHIFTS = tuple(
    ShiftDef(day, start, end, name)
    for day in range(1, 7)
    for name, start, end in (("early", "06:00", "14:00"), ("late", "14:00", "22:00"))
)
#: Pieces per hour each center should finish while on shift, from its capacity and its kind of work
#: (a casting tree holds many pieces; setting stones under the microscope is slow).
_OUTPUT_TARGETS = {
    "CAST-1": 12,
    "FILE-1": 6,
    "FILE-2": 6,
    "ASM-1": 5,
    "SET-1": 3,
    "POL-1": 10,
    "ENG-1": 8,
    "QC-1": 12,
    "PACK-1": 20,
}
CALENDARS: tuple[CalendarDef, ...] = tuple(
    CalendarDef(wc.code, PLANT_TIME_ZONE, _OUTPUT_TARGETS[wc.code], TWO_SHIFTS) for wc in WORK_CENTERS
)

OPERATORS: tuple[OperatorDef, ...] = (
    OperatorDef("OP-01", "Anna Keller"),
    OperatorDef("OP-02", "Marco Bellini"),
    OperatorDef("OP-03", "Sofia Lindqvist"),
    OperatorDef("OP-04", "Tomasz Nowak"),
    OperatorDef("OP-05", "Leila Haddad"),
    OperatorDef("OP-06", "Kenji Watanabe"),
    OperatorDef("SUP-01", "Helena Brandt", supervisor=True),
)

PARTNERS: tuple[PartnerDef, ...] = (
    PartnerDef("aurora-jewels", "Aurora Jewels", "PLUS"),
    PartnerDef("northwind-gems", "Northwind Gems", "STANDARD"),
)
