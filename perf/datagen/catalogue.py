"""The reference data of a generated plant: alloys, stones, styles, work centers, operators
and partners, as the services' own domain objects.

Alloys, stones and styles (with their routings of 6-7 steps and bills of materials) are the
demo catalogue of ``mes_stack.demo_data``; work centers are scaled to the order volume;
partners (at least 20, the two demo partners first) get deterministic API keys, kept in the
generator's summary because only their hashes are stored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from mes_kernel import api_keys
from mes_stack import demo_data as demo
from perf.datagen.ids import Ids
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.materials import Metal
from services.orders.domain.partner import ApiKey, Partner, PartnerTier, hash_api_key
from services.production.domain.resources import Operator, OperatorRole, WorkCenter
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep, Style, StyleCategory

__all__ = ["PARTNER_NAMES", "PartnerSeed", "Plant", "build_plant"]

#: Display names of the generated partners after the two demo ones.
PARTNER_NAMES = (
    "Bellamy & Co", "Crescent Bridal", "Dunmore Goldsmiths", "Emberly Rings", "Fjord Silver",
    "Gilded Fox", "Halcyon Jewellers", "Ivory Lane", "Juniper Gems", "Kestrel Fine Jewelry",
    "Lumen Atelier", "Meridian Diamonds", "Nacre & Stone", "Opaline", "Pavilion Jewels",
    "Quarry Rose", "Rivington Gold", "Solstice Bridal", "Tamsin Lee Jewelry", "Umber & Ash",
    "Verity Rings", "Wrenfield Silver",
)  # fmt: skip
#: Work centers per type for 100,000 orders (at least one each), and the capacity of each.
_CENTERS_PER_100K = {
    "CASTING": 8, "FILING": 10, "ASSEMBLY": 6, "STONE_SETTING": 8,
    "POLISHING": 10, "ENGRAVING": 2, "QC": 5, "PACKING": 4,
}  # fmt: skip
_CAPACITY = 6
_OPERATORS, _SUPERVISORS = 40, 4


@dataclass(frozen=True)
class PartnerSeed:
    partner: Partner
    api_key: str
    #: Relative share of the orders.
    weight: float


@dataclass(frozen=True)
class Plant:
    since: datetime
    alloys: tuple[Alloy, ...]
    #: Stone code -> points (0.01 ct) per piece.
    stones: dict[str, int]
    styles: tuple[Style, ...]
    work_centers: tuple[WorkCenter, ...]
    operators: tuple[Operator, ...]
    partners: tuple[PartnerSeed, ...]

    def style(self, sku: str) -> Style:
        return next(s for s in self.styles if s.sku == sku)

    def centers_of(self, work_center_type: str) -> list[WorkCenter]:
        return [c for c in self.work_centers if c.work_center_type == work_center_type]

    @property
    def floor_operators(self) -> list[Operator]:
        return [o for o in self.operators if o.role is OperatorRole.OPERATOR]

    @property
    def supervisors(self) -> list[Operator]:
        return [o for o in self.operators if o.role is OperatorRole.SUPERVISOR]


def _alloy(a: demo.AlloyDef, now: datetime) -> Alloy:
    return Alloy(a.code, Metal(a.metal), a.fineness, a.colour, a.density_mg_per_cm3, a.display_name, True, 1, now, now)


def _style(s: demo.StyleDef, now: datetime) -> Style:
    routing = tuple(
        RoutingStep(
            r.sequence, r.operation_code, r.work_center_type, r.expected_minutes, r.loss_tolerance_per_mille, r.optional
        )
        for r in s.routing
    )
    bom = tuple(BomItem(MaterialKind(b.kind), b.material_code, b.weight_mg, b.pieces) for b in s.bill_of_materials)
    return Style(s.sku, s.display_name, StyleCategory(s.category), 1, routing, bom, True, now, now)


def _partners(ids: Ids, count: int, now: datetime) -> tuple[PartnerSeed, ...]:
    named = [(p.partner_id, p.display_name, PartnerTier[p.tier]) for p in demo.PARTNERS]
    tiers = (PartnerTier.STANDARD, PartnerTier.PLUS, PartnerTier.STANDARD, PartnerTier.ENTERPRISE)
    for i, name in enumerate(PARTNER_NAMES):
        named.append((re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), name, tiers[i % len(tiers)]))
    seeds = []
    for rank, (partner_id, display_name, tier) in enumerate(named[:count], start=1):
        plain = api_keys.with_checksum(ids.token(32))  # seeded random part, with its checksum
        key = ApiKey(ids.hex(32), partner_id, hash_api_key(plain), plain[:12], now)
        partner = Partner(partner_id, display_name, tier, now, api_keys=[key])
        seeds.append(PartnerSeed(partner, plain, 1.0 / rank**0.8))  # a few big partners, a long tail
    return tuple(seeds)


def build_plant(ids: Ids, *, orders: int, partners: int, since: datetime) -> Plant:
    """The plant's reference data, created at ``since`` (before the first order)."""
    if not 20 <= partners <= len(demo.PARTNERS) + len(PARTNER_NAMES):
        raise ValueError(f"partners must be 20..{len(demo.PARTNERS) + len(PARTNER_NAMES)}")
    scale = orders / 100_000
    centers = []
    for wct, per_100k in _CENTERS_PER_100K.items():
        prefix = wct.replace("_", "")[:5]
        for n in range(1, max(1, math.ceil(per_100k * scale)) + 1):
            centers.append(
                WorkCenter(
                    f"{prefix}-{n:02d}", wct, f"{wct.title().replace('_', ' ')} {n}", _CAPACITY, True, since, since
                )
            )
    operators = [
        Operator(f"OP-{n:02d}", f"Operator {n}", OperatorRole.OPERATOR, True, since, since)
        for n in range(1, _OPERATORS + 1)
    ]
    operators += [
        Operator(f"SUP-{n:02d}", f"Supervisor {n}", OperatorRole.SUPERVISOR, True, since, since)
        for n in range(1, _SUPERVISORS + 1)
    ]
    return Plant(
        since=since,
        alloys=tuple(_alloy(a, since) for a in demo.ALLOYS),
        stones={code: points for code, (_desc, points) in demo.STONES.items()},
        styles=tuple(_style(s, since) for s in demo.STYLES),
        work_centers=tuple(centers),
        operators=tuple(operators),
        partners=_partners(ids, partners, since),
    )
