"""Shared GraphQL pieces: scalars, enums, reference data and conversions from protobuf (Relay
connections are in ``connections``; ``optional_enum`` and ``to_datetime`` live in ``mirror``, which
converts whole messages, and are re-exported here)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from graphql_facade.schema.mirror import Mirror, optional_enum, to_datetime
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2

__all__ = [
    "SCALARS",
    "Alloy",
    "AsOf",
    "Long",
    "LossGrouping",
    "MaterialKind",
    "Metal",
    "OperationStatus",
    "OrderStatus",
    "Priority",
    "ReservationState",
    "Style",
    "StyleCategory",
    "WorkOrderStatus",
    "optional_enum",
    "to_datetime",
]

#: Integers beyond 32 bits (weights in mg, sums, sequences); a JSON number.
Long = NewType("Long", int)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Long must be an integer")
    number = int(value)
    if not _LONG_MIN <= number <= _LONG_MAX:
        raise ValueError("Long is out of range")
    return number


SCALARS: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (weights in milligrams, sums).",
        serialize=int,
        parse_value=_parse_long,
    ),
}


# -- enums (values are the protobuf numbers) ----------------------------------------------


@strawberry.enum(description="Where an order is in its lifecycle.")
class OrderStatus(Enum):
    SUBMITTED = orders_pb2.ORDER_STATUS_SUBMITTED
    ACCEPTED = orders_pb2.ORDER_STATUS_ACCEPTED
    IN_PRODUCTION = orders_pb2.ORDER_STATUS_IN_PRODUCTION
    READY_TO_SHIP = orders_pb2.ORDER_STATUS_READY_TO_SHIP
    SHIPPED = orders_pb2.ORDER_STATUS_SHIPPED
    REJECTED = orders_pb2.ORDER_STATUS_REJECTED
    ON_HOLD = orders_pb2.ORDER_STATUS_ON_HOLD
    CANCELLED = orders_pb2.ORDER_STATUS_CANCELLED


@strawberry.enum(description="Order priority; higher is served first.")
class Priority(Enum):
    LOW = common_pb2.PRIORITY_LOW
    NORMAL = common_pb2.PRIORITY_NORMAL
    HIGH = common_pb2.PRIORITY_HIGH
    RUSH = common_pb2.PRIORITY_RUSH


@strawberry.enum
class MaterialKind(Enum):
    METAL = common_pb2.MATERIAL_KIND_METAL
    STONE = common_pb2.MATERIAL_KIND_STONE


@strawberry.enum
class Metal(Enum):
    GOLD = inventory_pb2.METAL_GOLD
    SILVER = inventory_pb2.METAL_SILVER
    PLATINUM = inventory_pb2.METAL_PLATINUM
    PALLADIUM = inventory_pb2.METAL_PALLADIUM


@strawberry.enum
class ReservationState(Enum):
    HELD = inventory_pb2.RESERVATION_STATE_HELD
    COMMITTED = inventory_pb2.RESERVATION_STATE_COMMITTED
    CONSUMED = inventory_pb2.RESERVATION_STATE_CONSUMED
    RELEASED = inventory_pb2.RESERVATION_STATE_RELEASED


@strawberry.enum
class StyleCategory(Enum):
    RING = production_pb2.STYLE_CATEGORY_RING
    PENDANT = production_pb2.STYLE_CATEGORY_PENDANT
    EARRINGS = production_pb2.STYLE_CATEGORY_EARRINGS
    CHAIN = production_pb2.STYLE_CATEGORY_CHAIN
    BRACELET = production_pb2.STYLE_CATEGORY_BRACELET


@strawberry.enum
class WorkOrderStatus(Enum):
    PLANNED = production_pb2.WORK_ORDER_STATUS_PLANNED
    RELEASED = production_pb2.WORK_ORDER_STATUS_RELEASED
    IN_PROGRESS = production_pb2.WORK_ORDER_STATUS_IN_PROGRESS
    HELD = production_pb2.WORK_ORDER_STATUS_HELD
    COMPLETED = production_pb2.WORK_ORDER_STATUS_COMPLETED
    CLOSED = production_pb2.WORK_ORDER_STATUS_CLOSED
    CANCELLED = production_pb2.WORK_ORDER_STATUS_CANCELLED


@strawberry.enum
class OperationStatus(Enum):
    PENDING = production_pb2.OPERATION_STATUS_PENDING
    QUEUED = production_pb2.OPERATION_STATUS_QUEUED
    IN_PROGRESS = production_pb2.OPERATION_STATUS_IN_PROGRESS
    DONE = production_pb2.OPERATION_STATUS_DONE
    LOSS_REVIEW = production_pb2.OPERATION_STATUS_LOSS_REVIEW
    REWORK = production_pb2.OPERATION_STATUS_REWORK
    SKIPPED = production_pb2.OPERATION_STATUS_SKIPPED
    CANCELLED = production_pb2.OPERATION_STATUS_CANCELLED
    PAUSED = production_pb2.OPERATION_STATUS_PAUSED


@strawberry.enum(description="How metal loss is grouped.")
class LossGrouping(Enum):
    OPERATION = production_pb2.LOSS_GROUPING_OPERATION_CODE
    OPERATOR = production_pb2.LOSS_GROUPING_OPERATOR


# -- reference data shared by both audiences -----------------------------------------------


@strawberry.type(description="A style (SKU) of the catalogue.")
class Style(Mirror, id="sku"):
    id: strawberry.ID
    sku: str
    display_name: str
    category: StyleCategory | None
    active: bool
    routing_version: int


@strawberry.type(description="An alloy: a metal at a fineness and colour.")
class Alloy(Mirror, id="code"):
    id: strawberry.ID
    code: str
    metal: Metal | None
    fineness: int = strawberry.field(description="Parts per thousand (585, 750, 925...).")
    colour: str
    display_name: str
    active: bool


@strawberry.type(description="The stream positions the data reflects at least (JetStream sequences).")
class AsOf:
    seq: Long = strawberry.field(description="ORDERS stream: compare with the `seq` of pushed events.")
    inventory_seq: Long
    production_seq: Long
    at: datetime
