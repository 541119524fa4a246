"""DataLoaders, made per request: every batch is one ``BatchGet*`` or ``List*`` call.

A dashboard page therefore costs the same number of backend calls whatever its size:
orders of a page are one ``BatchGetOrders``, their work orders one ``ListWorkOrders``
(``order_ids``), the operations of all those work orders one ``ListOperations``
(``work_order_ids``), reservations one ``ListReservations`` (``order_ids``) - lists filtered
by ids answer pages of up to 1000, followed when there are more - styles one
``BatchGetStyles`` and alloys one ``BatchGetAlloys`` (both behind the reference cache),
work-center stats one ``ListWorkCenterStats``, shift calendars one ``BatchGetShiftCalendars`` and
output against target one ``ListWorkCenterOutput``. Partner-scoped loaders pass the partner, so
the orders service answers another partner's order as missing.

Work orders are read with a ``read_mask`` of the fields the schema can show: never their
routing snapshots, which production then neither reads nor decodes.

The work centers (a short list, ``ListWorkCenters``) are one :class:`WorkCenterDirectory` of the
facade, shared by every request and by ``floorEvents``: it keeps the list for ``WORK_CENTERS_TTL_S``
while the event hub is live and forgets it on every ``production.work_center.changed`` event (a
center's state, reason and time move with the floor), on a reset of the event source, and when the
TTL runs out (a center's definition, ``UpsertWorkCenter``, publishes no event: the TTL bounds how
long a renamed, resized, added or deactivated center shows as it was). Without a live hub it keeps
nothing and every read asks the service.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from strawberry.dataloader import DataLoader

from graphql_facade.backend import Backend
from graphql_facade.caching import ReferenceCache
from graphql_facade.events import EventEnvelope, EventHub
from graphql_facade.read_your_writes import must_see_writes
from graphql_facade.single_flight import SingleFlight
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events

__all__ = ["WORK_CENTERS_TTL_S", "WORK_ORDER_MASK", "Loaders", "OperationsKey", "WorkCenterDirectory", "list_all"]

T = TypeVar("T")
R = TypeVar("R", bound=Message)
M = TypeVar("M", bound=Message)
_BATCH_MAX = 1000
_PAGE = 100
#: Page size of the lists filtered by ids (work orders of orders, operations of work orders,
#: reservations of orders): the services answer up to 1000 there.
_ID_PAGE = 1000
_MAX_PAGES = 200
#: Every field of a work order the schema can show: all but the routing snapshot.
WORK_ORDER_MASK = field_mask_pb2.FieldMask(
    paths=[f.name for f in prod.WorkOrder.DESCRIPTOR.fields if f.name != "routing_snapshot"]
)
#: (work order id, sequences of its routing snapshot)
OperationsKey = tuple[str, tuple[int, ...]]
#: How long the work centers are kept while the event hub is live (their events forget them sooner):
#: what bounds a change of a center's definition, which publishes no event. Short, so no setting.
WORK_CENTERS_TTL_S = 5.0


async def list_all(fetch: Callable[[str], Awaitable[R]], items: Callable[[R], Iterable[T]]) -> list[T]:
    """Every item of a List call, following ``next_page_token``."""
    found: list[T] = []
    token = ""
    for _ in range(_MAX_PAGES):
        response = await fetch(token)
        found.extend(items(response))
        token = getattr(response, "next_page_token", "")
        if not token:
            return found
    raise RuntimeError("too many pages")


def _chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class WorkCenterDirectory:
    """Every work center (a short list), one ``ListWorkCenters`` for every reader at once.

    With ``hub`` (the facade's) it keeps the list for ``ttl_s`` while the hub is live, and forgets it
    on each ``production.work_center.changed`` event and each reset of the event source: an answer
    from it reflects every work-center event the hub has seen, as one read from the service would (a
    read under way when such an event arrives is answered but not kept, and a reader arriving after
    the event does not share it). Without ``hub``, or while the hub is not live, every ``all()`` asks
    the service. Concurrent reads share one call. ``clock`` is monotonic seconds (tests inject it).
    A request that wrote to production moments ago reads the list itself, neither kept nor shared
    (:func:`graphql_facade.read_your_writes.must_see_writes`).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        hub: EventHub | None = None,
        ttl_s: float = WORK_CENTERS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._ttl_s = ttl_s
        self._clock = clock
        #: Whether the hub's event source is subscribed (kept by its reset listener; the hub itself is
        #: not referenced: it holds this directory, not the other way round).
        self._live = hub is not None and hub.live
        #: (when it expires on ``clock``, the work centers); None: nothing kept.
        self._held: tuple[float, list[prod.WorkCenter]] | None = None
        #: Bumped by every event that forgets the list: a read started before it is not kept.
        self._generation = 0
        self._flights: SingleFlight[int, list[prod.WorkCenter]] = SingleFlight()
        if hub is not None:
            hub.add_listener(self._on_event)
            hub.add_reset_listener(self._on_reset)

    def forget(self) -> None:
        """Drop the kept list (the next read asks the service)."""
        self._generation += 1
        self._held = None

    def _on_event(self, event: EventEnvelope) -> None:
        if event.subject == events.WORK_CENTER_CHANGED.subject:
            self.forget()

    def _on_reset(self, positions: Mapping[str, int] | None) -> None:
        """The source subscribed (``positions``) or went offline (None): what was kept may have missed events."""
        self._live = positions is not None
        self.forget()

    async def all(self) -> list[prod.WorkCenter]:
        if must_see_writes("production"):  # its own write may be newer than what is kept or under way
            return list(await self._read())
        held = self._held
        if held is not None and held[0] > self._clock() and self._live:
            return list(held[1])
        generation = self._generation
        centers, ran = await self._flights.run(generation, self._read)
        if ran and generation == self._generation and self._live and self._ttl_s > 0:
            self._held = (self._clock() + self._ttl_s, centers)
        return list(centers)

    async def _read(self) -> list[prod.WorkCenter]:
        return await list_all(
            lambda token: self._backend.production.list_work_centers(
                prod.ListWorkCentersRequest(page_size=_PAGE, page_token=token)
            ),
            lambda response: response.work_centers,
        )


class Loaders:
    """The loaders of one request (or one WebSocket connection)."""

    def __init__(
        self,
        backend: Backend,
        *,
        partner: str | None,
        reference: ReferenceCache | None,
        stats_window_minutes: int = 480,
        work_centers: WorkCenterDirectory | None = None,
    ) -> None:
        self._backend = backend
        self._partner = partner
        self._reference = reference
        self._stats_window = stats_window_minutes
        #: The facade's directory (shared by every request), or one of this request's own.
        self.work_centers = work_centers if work_centers is not None else WorkCenterDirectory(backend)
        self.order: DataLoader[str, ords.Order | None] = DataLoader(self._orders, max_batch_size=_BATCH_MAX)
        self.status_history: DataLoader[str, list[ords.OrderStatusChange]] = DataLoader(self._status_history)
        self.style: DataLoader[str, prod.Style | None] = DataLoader(self._styles, max_batch_size=_BATCH_MAX)
        self.alloy: DataLoader[str, inv.Alloy | None] = DataLoader(self._alloys, max_batch_size=_BATCH_MAX)
        self.work_orders_by_order: DataLoader[str, list[prod.WorkOrder]] = DataLoader(
            self._work_orders_by_order, max_batch_size=_BATCH_MAX
        )
        self.work_order: DataLoader[str, prod.WorkOrder | None] = DataLoader(
            self._work_orders, max_batch_size=_BATCH_MAX
        )
        self.operations: DataLoader[OperationsKey, list[prod.Operation]] = DataLoader(self._operations)
        self.reservations_by_order: DataLoader[str, list[inv.Reservation]] = DataLoader(
            self._reservations_by_order, max_batch_size=_BATCH_MAX
        )
        self.work_center: DataLoader[str, prod.WorkCenter | None] = DataLoader(self._work_centers)
        self.work_center_stats: DataLoader[str, prod.WorkCenterStats | None] = DataLoader(self._stats)
        self.shift_calendar: DataLoader[str, prod.ShiftCalendar | None] = DataLoader(
            self._calendars, max_batch_size=_BATCH_MAX
        )
        self.work_center_output: DataLoader[str, prod.WorkCenterOutput | None] = DataLoader(
            self._output, max_batch_size=_BATCH_MAX
        )

    # -- orders (partner-scoped) -------------------------------------------------------------

    async def _orders(self, ids: list[str]) -> list[ords.Order | None]:
        request = ords.BatchGetOrdersRequest(names=[f"orders/{i}" for i in ids], allow_missing=True)
        response = await self._backend.orders.batch_get_orders(request, partner=self._partner)
        by_id = {order.order_id: order for order in response.orders}
        return [by_id.get(i) for i in ids]

    async def _status_history(self, ids: list[str]) -> list[list[ords.OrderStatusChange]]:
        # No batch RPC exists for status histories: one paged call per order, concurrently.
        async def one(order_id: str) -> list[ords.OrderStatusChange]:
            return await list_all(
                lambda token: self._backend.orders.list_order_status_changes(
                    ords.ListOrderStatusChangesRequest(parent=f"orders/{order_id}", page_size=_PAGE, page_token=token),
                    partner=self._partner,
                ),
                lambda response: response.status_changes,
            )

        return list(await asyncio.gather(*(one(i) for i in ids)))

    # -- reference data (cached) ---------------------------------------------------------------

    async def _reference_batch(
        self,
        kind: str,
        ids: list[str],
        cls: type[M],
        fetch: Callable[[list[str]], Awaitable[list[M]]],
        ident: Callable[[M], str],
    ) -> list[M | None]:
        found: dict[str, M] = {}
        if self._reference is not None:
            for i, message in zip(ids, await self._reference.get_many(kind, ids, cls), strict=True):
                if message is not None:
                    found[i] = message
        missing = [i for i in ids if i not in found]
        if missing:
            fetched = {ident(m): m for m in await fetch(missing)}
            found.update(fetched)
            if self._reference is not None and fetched:
                await self._reference.put_many(kind, fetched)
        return [found.get(i) for i in ids]

    async def _styles(self, skus: list[str]) -> list[prod.Style | None]:
        async def fetch(missing: list[str]) -> list[prod.Style]:
            request = prod.BatchGetStylesRequest(names=[f"styles/{s}" for s in missing], allow_missing=True)
            return list((await self._backend.production.batch_get_styles(request)).styles)

        return await self._reference_batch("style", skus, prod.Style, fetch, lambda s: s.sku)

    async def _alloys(self, codes: list[str]) -> list[inv.Alloy | None]:
        async def fetch(missing: list[str]) -> list[inv.Alloy]:
            request = inv.BatchGetAlloysRequest(names=[f"alloys/{c}" for c in missing], allow_missing=True)
            return list((await self._backend.inventory.batch_get_alloys(request)).alloys)

        return await self._reference_batch("alloy", codes, inv.Alloy, fetch, lambda a: a.code)

    async def _work_centers(self, codes: list[str]) -> list[prod.WorkCenter | None]:
        by_code = {wc.code: wc for wc in await self.work_centers.all()}
        return [by_code.get(c) for c in codes]

    # -- production ------------------------------------------------------------------------------

    async def _work_orders_by_order(self, order_ids: list[str]) -> list[list[prod.WorkOrder]]:
        work_orders = await list_all(
            lambda token: self._backend.production.list_work_orders(
                prod.ListWorkOrdersRequest(
                    order_ids=order_ids, page_size=_ID_PAGE, page_token=token, read_mask=WORK_ORDER_MASK
                )
            ),
            lambda response: response.work_orders,
        )
        grouped: dict[str, list[prod.WorkOrder]] = defaultdict(list)
        for wo in work_orders:
            grouped[wo.order_id].append(wo)
        return [sorted(grouped.get(i, []), key=lambda w: (w.line_number, w.work_order_id)) for i in order_ids]

    async def _work_orders(self, ids: list[str]) -> list[prod.WorkOrder | None]:
        request = prod.BatchGetWorkOrdersRequest(
            names=[f"workOrders/{i}" for i in ids], allow_missing=True, read_mask=WORK_ORDER_MASK
        )
        by_id = {
            wo.work_order_id: wo for wo in (await self._backend.production.batch_get_work_orders(request)).work_orders
        }
        return [by_id.get(i) for i in ids]

    async def _operations(self, keys: list[OperationsKey]) -> list[list[prod.Operation]]:
        names = [f"workOrders/{wo}/operations/{seq}" for wo, seqs in keys for seq in seqs]
        unknown = [wo for wo, seqs in keys if not seqs]  # snapshots are not read: list their operations
        operations: list[prod.Operation] = []
        for chunk in _chunks(names, _BATCH_MAX):
            request = prod.BatchGetOperationsRequest(names=list(chunk), allow_missing=True)
            operations.extend((await self._backend.production.batch_get_operations(request)).operations)
        for ids in _chunks(unknown, _BATCH_MAX):
            operations.extend(await self._operations_of(list(ids)))
        grouped: dict[str, list[prod.Operation]] = defaultdict(list)
        for op in operations:
            grouped[op.work_order_id].append(op)
        return [sorted(grouped.get(wo, []), key=lambda o: o.sequence) for wo, _ in keys]

    async def _operations_of(self, work_order_ids: list[str]) -> list[prod.Operation]:
        return await list_all(
            lambda token: self._backend.production.list_operations(
                prod.ListOperationsRequest(work_order_ids=work_order_ids, page_size=_ID_PAGE, page_token=token)
            ),
            lambda response: response.operations,
        )

    async def _stats(self, codes: list[str]) -> list[prod.WorkCenterStats | None]:
        request = prod.ListWorkCenterStatsRequest(
            work_centers=[f"workCenters/{c}" for c in codes], window_minutes=self._stats_window
        )
        stats = (await self._backend.production.list_work_center_stats(request)).stats
        by_name = {s.work_center: s for s in stats}
        return [by_name.get(f"workCenters/{c}") for c in codes]

    async def _calendars(self, codes: list[str]) -> list[prod.ShiftCalendar | None]:
        request = prod.BatchGetShiftCalendarsRequest(
            names=[f"workCenters/{c}/calendar" for c in codes], allow_missing=True
        )
        found = (await self._backend.production.batch_get_shift_calendars(request)).calendars
        by_name = {c.name: c for c in found}
        return [by_name.get(f"workCenters/{c}/calendar") for c in codes]

    async def _output(self, codes: list[str]) -> list[prod.WorkCenterOutput | None]:
        """Output now of every work center of the request: one ``ListWorkCenterOutput``."""
        outputs = await self._backend.production.list_work_center_output(
            work_centers=[f"workCenters/{c}" for c in codes]
        )
        by_name = {o.work_center: o for o in outputs}
        return [by_name.get(f"workCenters/{c}") for c in codes]

    # -- inventory -------------------------------------------------------------------------------

    async def _reservations_by_order(self, order_ids: list[str]) -> list[list[inv.Reservation]]:
        reservations = await list_all(
            lambda token: self._backend.inventory.list_reservations(
                inv.ListReservationsRequest(order_ids=order_ids, page_size=_ID_PAGE, page_token=token)
            ),
            lambda response: response.reservations,
        )
        grouped: dict[str, list[inv.Reservation]] = defaultdict(list)
        for reservation in reservations:
            grouped[reservation.order_id].append(reservation)
        return [grouped.get(i, []) for i in order_ids]
