"""The order state machine.

::

    SUBMITTED ──> ACCEPTED ──> IN_PRODUCTION ──> READY_TO_SHIP ──> SHIPPED
        │  │         │   │           │
        │  │         │   └─> ON_HOLD ┤ (ON_HOLD -> ACCEPTED when stock arrives)
        │  └─> ON_HOLD ──────────────┘
        └─> REJECTED
    SUBMITTED, ACCEPTED, ON_HOLD, IN_PRODUCTION ──> CANCELLED
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CANCELLABLE",
    "TERMINAL",
    "TRANSITIONS",
    "OrderStatus",
    "can_transition",
    "forward_path",
]


class OrderStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    IN_PRODUCTION = "IN_PRODUCTION"
    READY_TO_SHIP = "READY_TO_SHIP"
    SHIPPED = "SHIPPED"
    REJECTED = "REJECTED"
    ON_HOLD = "ON_HOLD"
    CANCELLED = "CANCELLED"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.ON_HOLD, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_PRODUCTION, S.ON_HOLD, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.ACCEPTED, S.CANCELLED}),
    S.IN_PRODUCTION: frozenset({S.READY_TO_SHIP, S.CANCELLED}),
    S.READY_TO_SHIP: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: No transition leaves these.
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
#: Statuses CancelOrder accepts.
CANCELLABLE = frozenset(s for s, targets in TRANSITIONS.items() if S.CANCELLED in targets)

# The main line of the lifecycle; ON_HOLD sits between SUBMITTED and ACCEPTED.
_MAIN_LINE = (S.SUBMITTED, S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP, S.SHIPPED)
_RANK = {status: rank for rank, status in enumerate(_MAIN_LINE)}
_RANK[S.ON_HOLD] = _RANK[S.SUBMITTED]


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def forward_path(current: OrderStatus, target: OrderStatus) -> list[OrderStatus]:
    """The main-line steps that take ``current`` to ``target`` (``target`` on the main line).

    Empty when the order already is at or past ``target`` or in a terminal status, so
    that an event delivered late or twice changes nothing.
    """
    if target not in _RANK or target is S.SUBMITTED:
        raise ValueError(f"{target} is not a forward target")
    if current in TERMINAL or _RANK[current] >= _RANK[target]:
        return []
    start = _RANK[current] + 1
    return list(_MAIN_LINE[start : _RANK[target] + 1])
