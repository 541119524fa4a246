"""Random operator documents and random floor data for the differential tests of the compiled path.

:func:`draw_document` builds a valid operator query from the schema itself: random fields of each
object type, aliases (unique, so that no two fields conflict), repeated fields that merge, named and
inline fragments, ``@include``/``@skip`` on literals and on variables, ``__typename``, arguments as
literals or variables (with and without defaults). :func:`seed_floor` fills a :class:`FakeBackend`
with random orders, work orders, operations, reservations and shortages, including references to
objects that do not exist; :func:`break_service` makes every call of one service fail.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import grpc
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st

from clients import InternalError, NotFoundError, UnavailableError
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from tests.unit.graphql_facade.facade_fakes import FakeBackend

__all__ = ["SERVICES", "Document", "break_service", "draw_document", "seed_floor"]

SERVICES: dict[str, tuple[str, ...]] = {
    "orders": ("BatchGetOrders", "ListOrders", "CountOrders", "ListOrderStatusChanges"),
    "inventory": (
        "BatchGetAlloys",
        "ListAlloys",
        "ListBalances",
        "BatchGetBalances",
        "ListShortages",
        "ListReservations",
    ),
    "production": (
        "BatchGetStyles",
        "ListStyles",
        "ListWorkCenters",
        "ListWorkCenterStats",
        "ListWorkOrders",
        "BatchGetWorkOrders",
        "BatchGetOperations",
        "ListOperations",
        "SummarizeMetalLoss",
        "BatchGetShiftCalendars",
        "ListWorkCenterOutput",
    ),
}
#: fields that read the clock (the two facades answer at different instants)
_CLOCK = frozenset({("AsOf", "at"), ("FloorAsOf", "at")})
_ORDER_STATUSES = ("SUBMITTED", "ACCEPTED", "IN_PRODUCTION", "ON_HOLD", "SHIPPED", "CANCELLED")
_OPERATION_STATUSES = ("QUEUED", "IN_PROGRESS", "DONE", "LOSS_REVIEW")


@dataclass
class Document:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)


class _Builder:
    def __init__(self, draw: Any, schema: GraphQLSchema, order_ids: list[str]) -> None:
        self.draw = draw
        self.schema = schema
        self.order_ids = order_ids
        self.aliases = itertools.count()
        self.declarations: list[str] = []
        self.variables: dict[str, Any] = {}
        self.fragments: list[str] = []

    def variable(self, kind: str, value: Any, default: str | None = None) -> str:
        name = f"v{len(self.declarations)}"
        declaration = f"${name}: {kind}" + (f" = {default}" if default is not None else "")
        self.declarations.append(declaration)
        if default is None or self.draw(st.booleans()):
            self.variables[name] = value
        return f"${name}"

    def condition(self) -> str:
        choice = self.draw(st.integers(0, 9))
        if choice < 7:
            return ""
        directive = self.draw(st.sampled_from(["include", "skip"]))
        if choice == 7:
            return f" @{directive}(if: {self.draw(st.sampled_from(['true', 'false']))})"
        return f" @{directive}(if: {self.variable('Boolean!', self.draw(st.booleans()))})"

    def first(self, low: int = 1, high: int = 4) -> str:
        value = self.draw(st.integers(low, high))
        if self.draw(st.integers(0, 3)) == 0:
            return self.variable("Int!", value)
        if self.draw(st.integers(0, 5)) == 0:
            return self.variable("Int", value, default=str(value))
        return str(value)

    def arguments(self, parent: str, name: str) -> str:
        """Arguments of the fields that take any (None: the field is left out)."""
        draw = self.draw
        if name in ("orders", "workCenters", "shortages", "styles", "alloys", "queue"):
            parts = [f"first: {self.first()}"]
            if name == "orders" and draw(st.booleans()):
                statuses = draw(st.lists(st.sampled_from(_ORDER_STATUSES), max_size=2))
                late = draw(st.booleans())
                literal = "{" + f"statuses: [{', '.join(statuses)}], lateOnly: {str(late).lower()}" + "}"
                if draw(st.booleans()):
                    parts.append(f"filter: {literal}")
                else:
                    value = {"statuses": statuses, "lateOnly": late}
                    parts.append(f"filter: {self.variable('OrderFilter', value)}")
            if name == "queue" and draw(st.booleans()):
                parts.append(f"statuses: [{', '.join(draw(st.lists(st.sampled_from(_OPERATION_STATUSES))))}]")
            return f"({', '.join(parts)})"
        if name == "alloyBalances":
            codes = draw(st.lists(st.sampled_from(["AU750Y", "AG925", "PT950"]), max_size=3))
            quoted = ", ".join(json.dumps(c) for c in codes)
            extra = f", codes: [{quoted}]" if codes else ""
            return f"(first: {self.first()}{extra})"
        if name in ("order", "workCenter"):
            known = self.order_ids if name == "order" else ["CAST-1", "FILE-1", "POL-1"]
            ident = draw(st.sampled_from([*known, "missing-1", "not an id!"] if known else ["missing-1"]))
            given = self.variable("ID!", ident) if draw(st.booleans()) else json.dumps(ident)
            return f"(id: {given})"
        if name == "orderCounts":
            counts: str = draw(st.sampled_from(["", '(partnerId: "partner-a")', '(partnerId: "bad id!")']))
            return counts
        if name == "metalLoss":
            return f"(by: {draw(st.sampled_from(['OPERATION', 'OPERATOR']))})"
        if name in ("partnerAnalytics", "flowAnalytics", "metalAnalytics"):
            grain = draw(st.sampled_from(["", ", grain: HOUR", ", grain: WEEK"]))
            return f'(from: "2030-03-02T00:00:00Z", to: "2030-03-09T00:00:00Z"{grain})'
        return ""

    def selection(self, parent: GraphQLObjectType, depth: int) -> str:
        fields = parent.fields
        names = sorted(name for name in fields if (parent.name, name) not in _CLOCK)
        chosen = self.draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(6, len(names))))
        parts: list[str] = []
        for name in chosen:
            named = get_named_type(fields[name].type)
            leaf = is_leaf_type(named)
            if not leaf and depth <= 0:
                continue
            args = self.arguments(parent.name, name)
            alias = f"a{next(self.aliases)}: " if args or self.draw(st.integers(0, 4)) == 0 else ""
            sub = "" if leaf else " { " + self.selection(named, depth - 1) + " }"
            parts.append(f"{alias}{name}{args}{self.condition()}{sub}")
            if not alias and not args and leaf and self.draw(st.integers(0, 5)) == 0:
                parts.append(name)  # the same field twice: merged
        if self.draw(st.integers(0, 5)) == 0:
            parts.append("__typename")
        if depth > 0 and self.draw(st.integers(0, 4)) == 0:
            inner = self.selection(parent, depth - 1)
            if self.draw(st.booleans()):
                parts.append(f"... on {parent.name}{self.condition()} {{ {inner} }}")
            else:
                name = f"F{len(self.fragments)}"
                self.fragments.append(f"fragment {name} on {parent.name} {{ {inner} }}")
                parts.append(f"...{name}{self.condition()}")
                if self.draw(st.integers(0, 3)) == 0:
                    parts.append(f"...{name}")  # spread twice
        if not parts:
            parts.append("__typename")
        return " ".join(parts)


def draw_document(draw: Any, schema: GraphQLSchema, order_ids: list[str]) -> Document:
    """A random valid operator query over ``schema`` (the operators' graphql-core schema)."""
    builder = _Builder(draw, schema, order_ids)
    root = schema.query_type
    assert root is not None
    body = builder.selection(root, draw(st.integers(1, 4)))
    header = f"({', '.join(builder.declarations)})" if builder.declarations else ""
    query = f"query Random{header} {{ {body} }}\n" + "\n".join(builder.fragments)
    return Document(query, builder.variables)


def _unwrap(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def seed_floor(backend: FakeBackend, draw: Any) -> list[str]:
    """Random floor data in ``backend`` (cleared first); the ids of the orders."""
    for store in (
        backend.stored_orders,
        backend.status_changes,
        backend.work_orders,
        backend.operations,
        backend.reservations,
    ):
        store.clear()
    backend.shortages.clear()
    backend.fail.clear()
    statuses = [s for s in ords.OrderStatus.values() if s] + [99]
    for _ in range(draw(st.integers(0, 5))):
        order = backend.add_order(
            draw(st.sampled_from(["partner-a", "partner-b"])),
            status=draw(st.sampled_from(statuses)),
            lines=draw(st.integers(1, 3)),
            with_production=draw(st.booleans()),
        )
        order.late = draw(st.booleans())
        order.priority = draw(st.sampled_from([0, common_pb2.PRIORITY_HIGH, common_pb2.PRIORITY_RUSH]))
        if draw(st.booleans()):
            order.due_time.FromSeconds(draw(st.integers(1, 4_000_000_000)))
            order.due_time.nanos = draw(st.sampled_from([0, 1000, 123_456_000]))
        if draw(st.booleans()):
            order.lines[0].style_code = "GONE-STYLE"  # a style that left the catalogue
        backend.status_changes[order.order_id].append(
            ords.OrderStatusChange(from_status=ords.ORDER_STATUS_SUBMITTED, to_status=order.status, reason="r")
        )
        if draw(st.booleans()):
            backend.shortages.append(
                inv.Shortage(
                    order_id=draw(st.sampled_from([order.order_id, "ord-gone"])),
                    material_code="AU750Y",
                    kind=common_pb2.MATERIAL_KIND_METAL,
                    required_mg=draw(st.integers(0, 10_000)),
                    available_mg=draw(st.integers(0, 10_000)),
                    priority=common_pb2.PRIORITY_NORMAL,
                )
            )
    for wo in list(backend.work_orders.values()):
        if draw(st.integers(0, 4)) == 0:
            wo.ClearField("routing_snapshot")  # listed instead of fetched by name
    for op in backend.operations.values():
        statuses = [0, prod.OPERATION_STATUS_QUEUED, prod.OPERATION_STATUS_DONE, prod.OPERATION_STATUS_PAUSED]
        op.status = draw(st.sampled_from(statuses))
        op.work_center = draw(st.sampled_from(["workCenters/CAST-1", "workCenters/GONE", ""]))
        op.weigh_in_mg = draw(st.sampled_from([0, 5_000, 2**40]))
        op.paused_seconds = draw(st.sampled_from([0, 90, 2**40]))
        if op.status == prod.OPERATION_STATUS_PAUSED:
            op.pause_reason = draw(st.sampled_from(["break", "waiting for stones"]))
            op.pause_time.FromSeconds(draw(st.integers(1, 4_000_000_000)))
    for center in backend.work_centers.values():
        center.state = draw(st.sampled_from([0, *prod.WorkCenterState.values()[1:], 99]))
        center.state_reason = "kiln down" if center.state == prod.WORK_CENTER_STATE_BLOCKED else ""
        if draw(st.booleans()):
            center.state_time.FromSeconds(draw(st.integers(1, 4_000_000_000)))
        if draw(st.booleans()):
            window = prod.ShiftWindow(weekday=draw(st.integers(1, 7)), start="06:00", end="14:00", name="early")
            calendar = prod.ShiftCalendar(
                name=f"{center.name}/calendar", time_zone="Europe/Rome", windows=[window], version=1
            )
            calendar.output_target_per_hour = draw(st.integers(0, 100_000))
            backend.calendars[center.code] = calendar
        if draw(st.booleans()):
            output = prod.WorkCenterOutput(
                work_center=center.name,
                shift_name=draw(st.sampled_from(["", "early"])),
                finished_this_hour=draw(st.integers(0, 50)),
                busy_minutes=draw(st.floats(0, 480, allow_nan=False)),
                available_minutes=draw(st.floats(0, 480, allow_nan=False)),
                utilisation=draw(st.floats(0, 1, allow_nan=False)),
            )
            if output.shift_name:
                output.shift_start_time.FromSeconds(draw(st.integers(1, 4_000_000_000)))
            backend.outputs[center.code] = output
    return list(backend.stored_orders)


def break_service(backend: FakeBackend, service: str, kind: str) -> None:
    """Every call of ``service`` fails: UNAVAILABLE, NOT_FOUND or an internal error (masked)."""
    errors = {
        "unavailable": UnavailableError(grpc.StatusCode.UNAVAILABLE, "down"),
        "not_found": NotFoundError(grpc.StatusCode.NOT_FOUND, "gone"),
        "internal": InternalError(grpc.StatusCode.INTERNAL, "boom"),
    }
    for method in SERVICES[service]:
        backend.fail[method] = errors[kind]
