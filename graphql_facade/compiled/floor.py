"""The floor on the compiled path: the same computation as the Strawberry resolvers
(:mod:`graphql_facade.schema.floor`), whose objects are the sources here; getters write them as JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from strawberry.dataloader import DataLoader

from graphql_facade.compiled.fields import Args, Batch, Getter, Spec, TypeSpecs, attribute, each, iso, one
from graphql_facade.compiled.pages import PageSource
from graphql_facade.context import RequestContext
from graphql_facade.pagination import Page
from graphql_facade.schema.floor import Floor, FloorReads, floor_of
from graphql_facade.schema.production import at_bench
from mes.production.v1 import production_pb2 as prod

__all__ = ["FLOOR_OBJECTS", "FLOOR_ROOT", "with_floor"]


def _plain(*names: str, **renamed: str) -> dict[str, Spec]:
    """Fields that are one attribute of the source each (GraphQL name -> attribute)."""
    pairs = {**{name: name for name in names}, **renamed}
    return {name: attribute(attr) for name, attr in pairs.items()}


async def _floor(context: RequestContext, args: Args) -> Floor:
    return floor_of(context)


def _read(loader: Callable[[FloorReads], DataLoader[Any, Any]], key: Callable[[Args], Any]) -> Batch:
    """A field read through one of the floor's DataLoaders (as ``loaded`` reads the request's)."""

    async def load(context: RequestContext, sources: Sequence[Floor], args: Args) -> list[Any]:
        futures = [loader(floor.reads).load(key(args)) for floor in sources]
        results: list[Any] = []
        for future in futures:
            try:
                results.append(await future)
            except Exception as error:
                results.append(error)
        return results

    return Batch(load)


def _page(found: Any) -> Any:
    return PageSource(found, found.items) if isinstance(found, Page) else found


async def _late_orders(context: RequestContext, sources: Sequence[Floor], args: Args) -> list[Any]:
    read = _read(attrgetter("late_orders"), lambda a: (a["first"], a.get("after"))).load
    return [_page(found) for found in await read(context, sources, args)]


async def _current(context: RequestContext, pb: prod.WorkCenter, args: Args) -> Any:
    return await at_bench(context.backend, pb.code)


async def _due_time(context: RequestContext, pb: prod.Operation, args: Args) -> Any:
    found = await context.loaders.order.load(pb.order_id)
    return iso(found.due_time) if found is not None else None


FLOOR_ROOT: dict[str, Spec] = {"floor": one(_floor)}
#: The floor's own types, and the fields the floor added to ``WorkCenter`` and ``Operation``.
FLOOR_OBJECTS: TypeSpecs = {
    "Floor": {
        **_plain(asOf="as_of"),
        "workCenters": _read(attrgetter("centers"), lambda args: 0),
        "lateOrderCount": _read(attrgetter("late_count"), lambda args: 0),
        "lateOrders": Batch(_late_orders),
    },
    "FloorAsOf": _plain("seq", "at"),
    "FloorWorkCenter": {
        **_plain(
            "id",
            "name",
            "kind",
            "state",
            "capacity",
            "version",
            "queue",
            "paused",
            "wip",
            stateReason="state_reason",
            stateTime="state_time",
            inProgress="in_progress",
            finishedLastHour="finished_last_hour",
            finishedThisShift="finished_this_shift",
        ),
        # the production service's answer: the getters of ``WorkCenterOutput`` (compiled.shifts) read it
        "output": Getter(attrgetter("output_pb")),
    },
    "QueueSummary": _plain("length", oldestQueuedAt="oldest_queued_at"),
    "Wip": _plain("pieces", grossMg="gross_mg", fineMg="fine_mg"),
    "WorkCenter": {"current": each(_current)},
    "Operation": {"dueTime": each(_due_time)},
}


def with_floor(objects: TypeSpecs) -> TypeSpecs:
    """``objects`` with the floor's types and fields added."""
    merged = dict(objects)
    for kind, specs in FLOOR_OBJECTS.items():
        merged[kind] = {**merged.get(kind, {}), **specs}
    return merged
