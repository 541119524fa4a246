"""The custody ledger: append-only movements of material between holders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.inventory.domain.materials import MaterialKind, amounts

__all__ = ["STORES", "CustodyEntry", "CustodyKind", "order_holder", "outstanding_by_lot"]

#: The holder of everything in stores.
STORES = "stores"


def order_holder(order_id: str) -> str:
    """Holder (and reference) name of material issued to an order."""
    return f"orders/{order_id}"


class CustodyKind(StrEnum):
    ISSUE = "ISSUE"
    RECEIVE = "RECEIVE"
    LOSS = "LOSS"
    RECOVERY = "RECOVERY"
    RETURN = "RETURN"


@dataclass(frozen=True)
class CustodyEntry:
    entry_id: str
    kind: CustodyKind
    #: Who holds the material after the movement ("stores", "orders/{id}", ...).
    holder: str
    material_code: str
    lot_id: str
    weight_mg: int
    pieces: int
    #: What caused it: an operation name, an order, a lot, a reservation.
    reference: str
    operator_code: str
    create_time: datetime
    #: Entries written by one request share a batch id (used to replay idempotent requests).
    batch_id: str = ""

    @classmethod
    def of(
        cls,
        entry_id: str,
        kind: CustodyKind,
        holder: str,
        material: tuple[MaterialKind, str],
        quantity: int,
        now: datetime,
        *,
        lot_id: str = "",
        reference: str = "",
        operator_code: str = "",
        batch_id: str = "",
    ) -> CustodyEntry:
        """An entry moving ``quantity`` of ``material`` (kind, code) in its unit (mg or pieces)."""
        weight_mg, pieces = amounts(material[0], quantity)
        return cls(
            entry_id, kind, holder, material[1], lot_id, weight_mg, pieces, reference, operator_code, now, batch_id
        )


def outstanding_by_lot(
    issued_by_lot: Mapping[str, int],
    returned_by_lot: Mapping[str, int],
    lost: int,
) -> dict[str, int]:
    """Material of one kind still out with an order, per source lot (in lot id order).

    Each lot's share is what was issued from it minus what was already returned to
    it; the order's recorded losses are taken off the lots in reverse lot id order.
    No share goes below zero.
    """
    outstanding = {
        lot_id: max(0, issued_by_lot[lot_id] - returned_by_lot.get(lot_id, 0)) for lot_id in sorted(issued_by_lot)
    }
    remaining_loss = max(0, lost)
    for lot_id in reversed(list(outstanding)):
        if remaining_loss == 0:
            break
        take = min(remaining_loss, outstanding[lot_id])
        outstanding[lot_id] -= take
        remaining_loss -= take
    return outstanding
