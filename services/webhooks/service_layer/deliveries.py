"""Delivery use cases: the deliveries and the delivery log a partner (or an operator) reads, and
the replay of dead letters."""

from __future__ import annotations

from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.paging import Page, Pager
from mes_kernel.validation import parse_name
from services.webhooks.domain.delivery import Delivery
from services.webhooks.domain.log import LogEntry, LogKind, notice
from services.webhooks.service_layer.commands import ListDeliveries, ListLogEntries, ReplayDeliveries
from services.webhooks.service_layer.endpoints import ENDPOINTS, load_endpoint, owner_of
from services.webhooks.service_layer.ports import DeliveryFilter, UnitOfWork, WebhooksDeps

__all__ = ["MAX_REPLAY", "DeliveryService", "delivery_name", "parse_delivery_name"]

#: Dead letters replayed by one call at most.
MAX_REPLAY = 1000


def delivery_name(delivery: Delivery) -> str:
    return f"{ENDPOINTS}/{delivery.endpoint_id}/deliveries/{delivery.delivery_id}"


def parse_delivery_name(name: str, field: str) -> tuple[str, str]:
    """(endpoint id, delivery id) of ``webhookEndpoints/{e}/deliveries/{d}``."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != ENDPOINTS or parts[2] != "deliveries" or not parts[1] or not parts[3]:
        raise InvalidArgument(
            f"{field} must look like '{ENDPOINTS}/{{endpoint}}/deliveries/{{delivery}}'",
            violations=[FieldViolation(field, f"must look like '{ENDPOINTS}/{{endpoint}}/deliveries/{{delivery}}'")],
        )
    parse_name(f"{ENDPOINTS}/{parts[1]}", ENDPOINTS, field)
    parse_name(f"deliveries/{parts[3]}", "deliveries", field)
    return parts[1], parts[3]


def _seq(key: list[object]) -> int:
    return int(str(key[0]))


class DeliveryService:
    def __init__(self, deps: WebhooksDeps) -> None:
        self._uows = deps.uows
        self._tokens = deps.tokens
        self._clock = deps.clock

    async def list_deliveries(self, query: ListDeliveries) -> Page[Delivery]:
        """Newest first; ``parent`` is an endpoint, a partner, or empty (the caller's scope)."""
        states = sorted({s.value for s in query.states})
        async with self._uows.read() as uow:
            if query.parent.startswith(f"{ENDPOINTS}/"):
                endpoint = await load_endpoint(uow, query.principal, query.parent)
                where = DeliveryFilter(endpoint.partner_id, endpoint.endpoint_id, query.states)
            else:
                where = DeliveryFilter(owner_of(query.principal, query.parent), None, query.states)
            filters = {"parent": query.parent or where.partner_id, "states": states}
            pager = Pager.of(self._tokens, query.page, scope=query.principal.scope, filters=filters)
            rows = await uow.deliveries.find(where, before=pager.after(_seq), limit=pager.limit)
        return pager.page(rows, lambda d: [d.seq])

    async def list_log(self, query: ListLogEntries) -> Page[LogEntry]:
        """An endpoint's delivery log, newest first."""
        async with self._uows.read() as uow:
            endpoint = await load_endpoint(uow, query.principal, query.parent)
            filters = {"parent": endpoint.endpoint_id}
            pager = Pager.of(self._tokens, query.page, scope=query.principal.scope, filters=filters)
            rows = await uow.log.find(endpoint.endpoint_id, before=pager.after(_seq), limit=pager.limit)
        return pager.page(rows, lambda e: [e.seq])

    async def replay(self, cmd: ReplayDeliveries) -> list[str]:
        """Send dead letters of an endpoint again (same webhook-id, a new retry window); the
        names of those replayed. Named deliveries that are not dead letters are left alone."""
        wanted: list[str] | None = None
        if cmd.names:
            if len(cmd.names) > MAX_REPLAY:
                raise InvalidArgument(
                    f"at most {MAX_REPLAY} names per call",
                    violations=[FieldViolation("names", f"must hold at most {MAX_REPLAY} names")],
                )
            wanted = []
            for index, name in enumerate(cmd.names):
                endpoint_id, delivery = parse_delivery_name(name, f"names[{index}]")
                if f"{ENDPOINTS}/{endpoint_id}" != cmd.parent:
                    raise InvalidArgument(
                        "every name must be a delivery of parent",
                        violations=[FieldViolation(f"names[{index}]", "is not a delivery of parent")],
                    )
                wanted.append(delivery)

        async def replay(uow: UnitOfWork) -> list[str]:
            endpoint = await load_endpoint(uow, cmd.principal, cmd.parent, for_update=True)
            now = self._clock()
            replayed = await uow.deliveries.replay_dead(endpoint.endpoint_id, wanted, now)
            if replayed:
                message = f"{len(replayed)} dead letters sent again by {cmd.principal.label}"
                entry = notice(endpoint.endpoint_id, endpoint.partner_id, LogKind.REPLAYED, now, message)
                await uow.log.add_many([entry])
            return [f"{cmd.parent}/deliveries/{d}" for d in replayed]

        return await self._uows.transact(replay)
