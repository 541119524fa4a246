"""The orders of a generated data set before anything happens to them: who, when, what.

Orders arrive at random over the history (newest last), spread over the partners by weight;
a mean of 3 lines (1-6), styles and alloys by popularity, ring sizes, some engravings (which
run the optional ENGRAVING step), quantities mostly 1. Each order also gets what it will need
from stores (the bill of materials exploded as production does) and whether its partner
cancels it shortly after it is accepted or while it waits for stock.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from perf.datagen.catalogue import Plant
from perf.datagen.ids import Ids
from services.inventory.domain.allocation import Requirement
from services.inventory.domain.materials import MaterialKind as InvKind
from services.orders.domain.order import OrderLine, Priority
from services.production.domain.bom import LineSpec, explode

__all__ = ["CANCEL_SHARE", "OrderDraft", "draft_orders"]

_LINES = ((1, 15), (2, 25), (3, 25), (4, 17), (5, 10), (6, 8))  # mean 3.06
_PRIORITIES = ((Priority.LOW, 10), (Priority.NORMAL, 70), (Priority.HIGH, 15), (Priority.RUSH, 5))
_ALLOYS = {"AU585Y": 12, "AU585W": 8, "AU585R": 6, "AU750Y": 16, "AU750W": 14, "AU750R": 8, "AG925": 33, "PT950": 3}
_QUANTITIES = ((1, 80), (2, 14), (3, 4), (5, 2))
_SIZES = ("5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9")
_ENGRAVINGS = ("Forever", "A & J 2026", "Always yours", "M.K.", "Est. 2019", "Love, D")
#: Share of orders their partner cancels (shortly after acceptance, or while they wait for stock).
CANCEL_SHARE = 0.015


@dataclass(frozen=True)
class OrderDraft:
    index: int
    order_id: str
    partner_id: str
    partner_reference: str
    priority: Priority
    #: Submit time and due time, epoch seconds.
    t0: float
    due: float
    lines: tuple[OrderLine, ...]
    requirements: tuple[Requirement, ...]
    request_id: str
    #: Seconds after acceptance (or after going on hold) when the partner cancels; None: never.
    cancel_after: float | None


def _picker(ids: Ids, weighted: tuple[tuple[object, float], ...]) -> tuple[list[object], list[float]]:
    values = [v for v, _ in weighted]
    cumulative = list(itertools.accumulate(w for _, w in weighted))
    return values, cumulative


def _pick(ids: Ids, table: tuple[list[object], list[float]]) -> object:
    values, cumulative = table
    return values[bisect.bisect(cumulative, ids.rng.random() * cumulative[-1])]


def requirements_of(plant: Plant, lines: tuple[OrderLine, ...]) -> tuple[Requirement, ...]:
    """What inventory is asked to reserve: production's explosion of the bills of materials."""
    specs = [LineSpec(ln.line_number, ln.style_code, ln.alloy_code, ln.size, ln.engraving, ln.quantity) for ln in lines]
    styles = {s.sku: s for s in plant.styles}
    return tuple(
        Requirement(InvKind(str(r.kind)), r.material_code, r.weight_mg or r.pieces, r.line_number)
        for r in explode(specs, styles)
    )


def draft_orders(ids: Ids, plant: Plant, *, count: int, start: float, end: float) -> list[OrderDraft]:
    """``count`` orders submitted between ``start`` and ``end`` (epoch seconds), oldest first."""
    rng = ids.rng
    partners = _picker(ids, tuple((p.partner.partner_id, p.weight) for p in plant.partners))
    lines_n = _picker(ids, _LINES)
    priorities = _picker(ids, _PRIORITIES)
    alloys = _picker(ids, tuple(_ALLOYS.items()))
    quantities = _picker(ids, _QUANTITIES)
    engravable = {s.sku for s in plant.styles if any(step.operation_code == "ENGRAVING" for step in s.routing)}
    rings = {s.sku for s in plant.styles if str(s.category) == "RING"}
    skus = [s.sku for s in plant.styles]
    times = sorted(rng.uniform(start, end) for _ in range(count))
    per_partner: dict[str, int] = {}
    drafts = []
    for index, t0 in enumerate(times):
        partner_id = str(_pick(ids, partners))
        per_partner[partner_id] = per_partner.get(partner_id, 0) + 1
        lines = []
        for number in range(1, int(_pick(ids, lines_n)) + 1):  # type: ignore[call-overload]
            sku = rng.choice(skus)
            engraving = rng.choice(_ENGRAVINGS) if sku in engravable and rng.random() < 0.15 else ""
            size = rng.choice(_SIZES) if sku in rings else ""
            quantity = int(_pick(ids, quantities))  # type: ignore[call-overload]
            lines.append(OrderLine(number, sku, str(_pick(ids, alloys)), quantity, size, engraving))
        due = t0 + rng.choice((7, 10, 14, 21, 28)) * 86400.0
        drafts.append(
            OrderDraft(
                index=index,
                order_id=ids.order_id(t0),
                partner_id=partner_id,
                partner_reference=f"PO-{per_partner[partner_id]:06d}",
                priority=Priority(_pick(ids, priorities)),  # type: ignore[call-overload]
                t0=round(t0, 3),
                due=float(int(due // 3600) * 3600),
                lines=tuple(lines),
                requirements=requirements_of(plant, tuple(lines)),
                request_id=ids.uuid4(),
                cancel_after=rng.uniform(60.0, 600.0) if rng.random() < CANCEL_SHARE else None,
            )
        )
    return drafts
