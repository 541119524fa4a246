"""In-memory repositories of the production ports over one :class:`FakeState` (see ``fakes``)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from mes_kernel.errors import Conflict
from mes_kernel.uow import WriteConflict
from services.production.domain.operations import (
    AT_BENCH,
    OPERATION_PROGRESS,
    AttemptRecord,
    Operation,
    OperationStatus,
)
from services.production.domain.order_specs import OrderSpec
from services.production.domain.people import Credential, Session, SignInFailure
from services.production.domain.resources import Operator, WorkCenter
from services.production.domain.shifts import ShiftCalendar
from services.production.domain.styles import Style
from services.production.domain.views import BenchFigures, LossGrouping, LossSummary, queued_since
from services.production.domain.work_orders import WorkOrder, WorkOrderStatus
from services.production.service_layer.ports import OperationKey, QueueKey, WorkOrderKey
from services.production.service_layer.records import OperationView, WorkOrderView, operation_view, work_order_view
from tests._infra.fakes import FakeTables

__all__ = [
    "FakeOperationRepository",
    "FakeOperatorRepository",
    "FakeOrderSpecRepository",
    "FakeRepository",
    "FakeState",
    "FakeStyleRepository",
    "FakeWorkCenterRepository",
    "FakeWorkOrderRepository",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
_S = OperationStatus
_OPEN = {_S.PENDING, _S.QUEUED, _S.IN_PROGRESS, _S.PAUSED, _S.LOSS_REVIEW, _S.REWORK}


@dataclass
class FakeState(FakeTables):
    """Every table of the service (and, from ``FakeTables``, the idempotency keys and the outbox)."""

    styles: dict[str, Style] = field(default_factory=dict)
    style_versions: dict[tuple[str, int], Style] = field(default_factory=dict)
    work_centers: dict[str, WorkCenter] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)
    work_orders: dict[str, WorkOrder] = field(default_factory=dict)
    operations: dict[OperationKey, Operation] = field(default_factory=dict)
    attempts: dict[tuple[str, int, int], AttemptRecord] = field(default_factory=dict)
    order_specs: dict[str, OrderSpec] = field(default_factory=dict)
    #: Signing in (``_fake_sign_in``): passwords by operator code, sessions by token hash, failures.
    credentials: dict[str, Credential] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    sign_in_failures: list[SignInFailure] = field(default_factory=list)
    #: Shift calendars by work center (``_fake_shifts``).
    calendars: dict[str, ShiftCalendar] = field(default_factory=dict)


def _insert(table: dict[K, V], key: K, value: V) -> None:
    if key in table:
        raise WriteConflict(f"duplicate key {key!r}")
    table[key] = copy.deepcopy(value)


def _update(table: dict[K, Any], key: K, obj: Any, **fields: Any) -> int:
    """Store ``fields`` of ``obj`` if its version is the stored one; returns the new version."""
    stored = table.get(key)
    if stored is None or stored.version != obj.version:
        raise Conflict("row changed concurrently; retry")
    table[key] = replace(stored, **copy.deepcopy(fields), version=obj.version + 1)
    return int(obj.version) + 1


def _copies(values: Iterable[T]) -> list[T]:
    return [copy.deepcopy(v) for v in values]


class FakeRepository:
    """A repository over the shared ``FakeState`` (the base of every fake repository)."""

    def __init__(self, state: FakeState) -> None:
        self._state = state


class FakeStyleRepository(FakeRepository):
    async def get(self, sku: str) -> Style | None:
        return copy.deepcopy(self._state.styles.get(sku))

    async def get_many(self, skus: Collection[str]) -> dict[str, Style]:
        return {s: copy.deepcopy(self._state.styles[s]) for s in skus if s in self._state.styles}

    async def list_page(self, after: str | None, limit: int) -> list[Style]:
        return _copies(s for k, s in sorted(self._state.styles.items()) if after is None or k > after)[:limit]

    async def add(self, style: Style) -> None:
        _insert(self._state.styles, style.sku, style)
        _insert(self._state.style_versions, (style.sku, style.routing_version), style)

    async def update(self, style: Style, *, new_routing_version: bool) -> None:
        fields = {f: getattr(style, f) for f in ("display_name", "category", "routing_version", "routing")}
        fields |= {
            "bill_of_materials": style.bill_of_materials,
            "active": style.active,
            "update_time": style.update_time,
        }
        style.version = _update(self._state.styles, style.sku, style, **fields)
        if new_routing_version:
            _insert(self._state.style_versions, (style.sku, style.routing_version), style)


class FakeWorkCenterRepository(FakeRepository):
    async def get(self, code: str, *, for_update: bool = False) -> WorkCenter | None:
        return copy.deepcopy(self._state.work_centers.get(code))

    async def get_many(self, codes: Collection[str]) -> dict[str, WorkCenter]:
        return {c: copy.deepcopy(self._state.work_centers[c]) for c in codes if c in self._state.work_centers}

    async def list_page(self, after: str | None, limit: int) -> list[WorkCenter]:
        return _copies(c for k, c in sorted(self._state.work_centers.items()) if after is None or k > after)[:limit]

    async def of_types(self, types: Collection[str]) -> list[WorkCenter]:
        return _copies(c for _, c in sorted(self._state.work_centers.items()) if c.work_center_type in types)

    async def add(self, center: WorkCenter) -> None:
        _insert(self._state.work_centers, center.code, center)

    async def update(self, center: WorkCenter) -> None:
        names = ("work_center_type", "display_name", "capacity", "active", "update_time", "state", "state_reason")
        names += ("state_time", "state_by")
        center.version = _update(
            self._state.work_centers, center.code, center, **{n: getattr(center, n) for n in names}
        )


class FakeOperatorRepository(FakeRepository):
    async def get(self, code: str) -> Operator | None:
        return copy.deepcopy(self._state.operators.get(code))

    async def list_page(self, after: str | None, limit: int) -> list[Operator]:
        return _copies(o for k, o in sorted(self._state.operators.items()) if after is None or k > after)[:limit]

    async def add(self, operator: Operator) -> None:
        _insert(self._state.operators, operator.code, operator)

    async def update(self, operator: Operator) -> None:
        names = ("display_name", "role", "active", "update_time")
        operator.version = _update(
            self._state.operators, operator.code, operator, **{n: getattr(operator, n) for n in names}
        )


def _work_order_key(wo: WorkOrder) -> WorkOrderKey:
    return (wo.create_time, wo.order_id, wo.line_number)


def _view(wo: WorkOrder, with_routing: bool) -> WorkOrderView:
    """The record a read returns (like the SQL rows: no routing snapshot unless asked for)."""
    view = work_order_view(wo)
    return view if with_routing else view._replace(routing_snapshot=None)


class FakeWorkOrderRepository(FakeRepository):
    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        return copy.deepcopy(self._state.work_orders.get(work_order_id))

    async def get_many(self, ids: Collection[str], *, with_routing: bool = True) -> dict[str, WorkOrderView]:
        return {i: _view(self._state.work_orders[i], with_routing) for i in ids if i in self._state.work_orders}

    async def for_order(self, order_id: str, *, for_update: bool = False) -> list[WorkOrder]:
        found = [wo for wo in self._state.work_orders.values() if wo.order_id == order_id]
        return _copies(sorted(found, key=lambda wo: wo.line_number))

    async def list_page(
        self,
        after: WorkOrderKey | None,
        limit: int,
        *,
        order_ids: Sequence[str],
        statuses: Sequence[WorkOrderStatus],
        with_routing: bool = True,
    ) -> list[WorkOrderView]:
        rows = [
            wo
            for wo in sorted(self._state.work_orders.values(), key=_work_order_key)
            if (not order_ids or wo.order_id in order_ids)
            and (not statuses or wo.status in statuses)
            and (after is None or _work_order_key(wo) > after)
        ]
        return [_view(wo, with_routing) for wo in rows[:limit]]

    async def add(self, work_order: WorkOrder) -> None:
        if any(
            (w.order_id, w.line_number) == (work_order.order_id, work_order.line_number)
            for w in self._state.work_orders.values()
        ):
            raise WriteConflict("duplicate (order_id, line_number)")
        _insert(self._state.work_orders, work_order.id, work_order)

    async def add_all(self, work_orders: Sequence[WorkOrder]) -> None:
        for work_order in work_orders:
            await self.add(work_order)

    async def update(self, work_order: WorkOrder) -> None:
        work_order.version = _update(
            self._state.work_orders,
            work_order.id,
            work_order,
            status=work_order.status,
            metal=work_order.metal,
            update_time=work_order.update_time,
        )


def _queue_key(op: Operation) -> QueueKey:
    return (op.priority, op.create_time, op.work_order_id, op.sequence)


def _queue_order(key: QueueKey) -> tuple[int, datetime, str, int]:
    """Priority highest first, then the rest ascending."""
    return (-key[0], key[1], key[2], key[3])


class FakeOperationRepository(FakeRepository):
    async def get(self, work_order_id: str, sequence: int) -> Operation | None:
        return copy.deepcopy(self._state.operations.get((work_order_id, sequence)))

    async def get_many(self, keys: Collection[OperationKey]) -> dict[OperationKey, OperationView]:
        return {k: operation_view(self._state.operations[k]) for k in keys if k in self._state.operations}

    async def for_work_orders(self, work_order_ids: Collection[str]) -> list[Operation]:
        return _copies(op for k, op in sorted(self._state.operations.items()) if k[0] in work_order_ids)

    async def list_page(
        self,
        after: QueueKey | None,
        limit: int,
        *,
        work_center: str | None,
        work_order_ids: Sequence[str],
        statuses: Sequence[OperationStatus],
    ) -> list[OperationView]:
        ops = sorted(self._state.operations.values(), key=lambda op: _queue_order(_queue_key(op)))
        rows = [
            op
            for op in ops
            if (work_center is None or op.work_center == work_center)
            and (not work_order_ids or op.work_order_id in work_order_ids)
            and (not statuses or op.status in statuses)
            and (after is None or _queue_order(_queue_key(op)) > _queue_order(after))
        ]
        return [operation_view(op) for op in rows[:limit]]

    async def add_all(self, operations: Sequence[Operation]) -> None:
        for op in operations:
            if op.work_order_id not in self._state.work_orders:
                raise WriteConflict(f"no work order {op.work_order_id}")  # the foreign key
            _insert(self._state.operations, op.key, op)

    async def update(self, operation: Operation) -> None:
        values = {n: getattr(operation, n) for n in OPERATION_PROGRESS}
        operation.version = _update(self._state.operations, operation.key, operation, **values)

    async def open_load(self, codes: Collection[str]) -> dict[str, int]:
        load: dict[str, int] = {}
        for op in self._state.operations.values():
            if op.work_center in codes and op.status in _OPEN:
                load[op.work_center] = load.get(op.work_center, 0) + 1
        return load

    async def count_in_progress(self, work_center: str, *, with_paused: bool = False) -> int:
        statuses = AT_BENCH if with_paused else {_S.IN_PROGRESS}
        return sum(
            1 for op in self._state.operations.values() if op.work_center == work_center and op.status in statuses
        )

    async def adopt_unassigned(self, work_center_type: str, work_center: str, now: datetime) -> int:
        adopted = [
            op
            for op in self._state.operations.values()
            if op.work_center == "" and op.work_center_type == work_center_type and op.status in _OPEN
        ]
        for op in adopted:
            self._state.operations[op.key] = replace(
                op, work_center=work_center, version=op.version + 1, update_time=now
            )
        return len(adopted)

    async def save_attempt(self, attempt: AttemptRecord) -> None:
        self._state.attempts[(attempt.work_order_id, attempt.sequence, attempt.attempt)] = attempt

    async def attempts(self, work_order_ids: Collection[str]) -> list[AttemptRecord]:
        return [a for k, a in sorted(self._state.attempts.items()) if k[0] in work_order_ids]

    async def loss_summary(self, grouping: LossGrouping, since: datetime | None) -> list[LossSummary]:
        groups: dict[str, list[AttemptRecord]] = {}
        for a in self._state.attempts.values():
            if since is None or (a.finish_time is not None and a.finish_time >= since):
                key = a.operation_code if grouping is LossGrouping.OPERATION_CODE else a.finished_by
                groups.setdefault(key, []).append(a)
        return [
            LossSummary(
                key,
                len(group),
                sum(a.weigh_in_mg for a in group),
                sum(a.loss_mg for a in group),
                sum(1 for a in group if a.reviewed),
            )
            for key, group in sorted(groups.items())
        ]

    async def center_counts(self, codes: Collection[str], done_since: datetime) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for op in self._state.operations.values():
            if op.work_center not in codes:
                continue
            if op.status in (_S.QUEUED, _S.IN_PROGRESS, _S.PAUSED, _S.LOSS_REVIEW):
                status = str(op.status)
            elif op.status is _S.DONE and op.finish_time is not None and op.finish_time >= done_since:
                status = "DONE_IN_WINDOW"
            else:
                continue
            center = counts.setdefault(op.work_center, {})
            center[status] = center.get(status, 0) + 1
        return counts

    async def bench_figures(self, codes: Collection[str]) -> dict[str, BenchFigures]:
        ops = self._state.operations.values()
        oldest: dict[str, datetime] = {}
        bench: dict[str, dict[str, tuple[int, int]]] = {}
        for op in ops:
            if op.work_center not in codes:
                continue
            if op.status is _S.QUEUED:
                earlier = [
                    o.finish_time for o in ops if o.work_order_id == op.work_order_id and o.sequence < op.sequence
                ]
                created = self._state.work_orders[op.work_order_id].create_time
                at = queued_since(created, *earlier, op.finish_time)
                oldest[op.work_center] = min(at, oldest.get(op.work_center, at))
            elif op.status in AT_BENCH:
                per_alloy = bench.setdefault(op.work_center, {})
                pieces, gross = per_alloy.get(op.alloy_code, (0, 0))
                quantity = self._state.work_orders[op.work_order_id].quantity
                per_alloy[op.alloy_code] = (pieces + quantity, gross + op.weigh_in_mg)
        return {
            code: BenchFigures.of(oldest.get(code), [(a, p, g) for a, (p, g) in bench.get(code, {}).items()])
            for code in {*oldest, *bench}
        }


class FakeOrderSpecRepository(FakeRepository):
    async def get(self, order_id: str, *, for_update: bool = False) -> OrderSpec | None:
        return copy.deepcopy(self._state.order_specs.get(order_id))

    async def add(self, spec: OrderSpec) -> None:
        _insert(self._state.order_specs, spec.order_id, spec)

    async def update(self, spec: OrderSpec) -> None:
        spec.version = _update(
            self._state.order_specs, spec.order_id, spec, status=spec.status, update_time=spec.update_time
        )
