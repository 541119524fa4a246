"""Endpoint use cases: register, read, change, enable/disable, rotate the secret, delete.

Partners act on their own endpoints only (another partner's endpoint answers NOT_FOUND, like a
missing one); staff (operators, services acting for nobody) may act for any partner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from mes_kernel.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from mes_kernel.paging import Page, Pager
from mes_kernel.principal import ByName, Principal, check_partner_access
from mes_kernel.validation import Violations, parse_name
from services.webhooks.domain.addresses import parse_endpoint_url
from services.webhooks.domain.endpoint import MAX_DESCRIPTION_LENGTH, DisabledBy, Endpoint, EventType
from services.webhooks.domain.log import LogKind, notice
from services.webhooks.service_layer.commands import (
    CreateEndpoint,
    DeleteEndpoint,
    DisableEndpoint,
    EnableEndpoint,
    GetEndpoint,
    ListEndpoints,
    RotateSecret,
    UpdateEndpoint,
    WebhookPolicy,
)
from services.webhooks.service_layer.ports import UnitOfWork, WebhooksDeps

__all__ = ["ENDPOINTS", "EVENT_TYPES", "EndpointService", "load_endpoint", "owner_of"]

ENDPOINTS = "webhookEndpoints"
_NOT_FOUND = "webhook endpoint not found"
#: Wire value of each event type (the proto enum's numbers).
EVENT_TYPES: dict[int, EventType] = {1: EventType.ORDER_STATUS_CHANGED}
T = TypeVar("T")


def owner_of(principal: Principal, parent: str) -> str | None:
    """The partner a call is confined to: the caller's own for partners (another partner's
    parent answers NOT_FOUND), the parent's (or None: every partner) for staff."""
    if not parent:
        return principal.scope
    partner_id = parse_name(parent, "partners", "parent")
    check_partner_access(principal, partner_id, "partner")
    return partner_id


async def load_endpoint(uow: UnitOfWork, principal: Principal, name: str, *, for_update: bool = False) -> Endpoint:
    endpoint_id = parse_name(name, ENDPOINTS)
    endpoint = await uow.endpoints.get(endpoint_id, for_update=for_update)
    if endpoint is None:
        raise NotFound(_NOT_FOUND)
    check_partner_access(principal, endpoint.partner_id, "webhook endpoint")
    return endpoint


def _event_types(v: Violations, values: tuple[int, ...], *, required: bool) -> frozenset[EventType]:
    found = v.members(values, EVENT_TYPES, "event_types", "must be a known event type (ORDER_STATUS_CHANGED)")
    if required and not values:
        v.add("event_types", "must name at least one event type")
    return frozenset(found)


def _url(v: Violations, url: str, policy: WebhookPolicy) -> str:
    target = parse_endpoint_url(url, allow_insecure=policy.allow_insecure)
    if isinstance(target, str):
        v.add("url", target)
        return url
    return target.url


async def _log_notice(uow: UnitOfWork, endpoint: Endpoint, kind: LogKind, at: datetime, message: str) -> None:
    """Add a notice of ``kind`` about ``endpoint`` to the webhook log."""
    await uow.log.add_many([notice(endpoint.endpoint_id, endpoint.partner_id, kind, at, message)])


def _disabled_by(principal: Principal) -> DisabledBy:
    return DisabledBy.OPERATOR if principal.is_staff else DisabledBy.PARTNER


class EndpointService:
    def __init__(self, deps: WebhooksDeps, policy: WebhookPolicy) -> None:
        self._uows = deps.uows
        self._tokens = deps.tokens
        self._clock = deps.clock
        self._policy = policy

    async def create(self, cmd: CreateEndpoint) -> tuple[Endpoint, str]:
        """A new endpoint and its secret in plain text (shown once; a replay of the same request
        shows it again unless it was rotated meanwhile)."""
        partner_id = owner_of(cmd.principal, cmd.parent)
        if partner_id is None:
            raise InvalidArgument(
                "parent is required for callers that are not partners",
                violations=[FieldViolation("parent", "is required: 'partners/{partner_id}'")],
            )
        v = Violations()
        url = _url(v, cmd.url, self._policy)
        v.text(cmd.description, "description", max_len=MAX_DESCRIPTION_LENGTH)
        types = _event_types(v, cmd.event_types, required=True)
        v.request_id(cmd.request_id)
        v.raise_if_any()
        limit = self._policy.max_endpoints_per_partner

        async def create(uow: UnitOfWork) -> tuple[str, Endpoint]:
            if await uow.endpoints.count(partner_id) >= limit:
                raise FailedPrecondition(f"a partner has at most {limit} webhook endpoints", reason="CAPACITY_EXCEEDED")
            endpoint = Endpoint.create(partner_id, url, cmd.description.strip(), types, self._clock())
            await uow.endpoints.add(endpoint)
            return f"{ENDPOINTS}/{endpoint.endpoint_id}", endpoint

        async def load(uow: UnitOfWork, name: str) -> Endpoint:
            return await load_endpoint(uow, cmd.principal, name)

        endpoint, _ = await self._uows.idempotent(
            scope=f"partner:{partner_id}:CreateWebhookEndpoint",
            request_id=cmd.request_id,
            fingerprint=cmd.fingerprint,
            create=create,
            load=load,
        )
        unchanged_secret = endpoint.secret_created_at == endpoint.created_at
        return endpoint, endpoint.secret if unchanged_secret else ""

    async def get(self, query: GetEndpoint) -> Endpoint:
        async with self._uows.read() as uow:
            return await load_endpoint(uow, query.principal, query.name)

    async def list_endpoints(self, query: ListEndpoints) -> Page[Endpoint]:
        partner_id = owner_of(query.principal, query.parent)
        pager = Pager.of(self._tokens, query.page, scope=query.principal.scope, filters={"parent": partner_id})
        after = pager.after(lambda key: (datetime.fromisoformat(str(key[0])), str(key[1])))
        async with self._uows.read() as uow:
            rows = await uow.endpoints.find(partner_id, after=after, limit=pager.limit)
        return pager.page(rows, lambda e: [e.created_at.isoformat(), e.endpoint_id])

    async def update(self, cmd: UpdateEndpoint) -> Endpoint:
        v = Violations()
        url = _url(v, cmd.url, self._policy) if cmd.url is not None else None
        if cmd.description is not None:
            v.text(cmd.description, "description", max_len=MAX_DESCRIPTION_LENGTH)
        types = _event_types(v, cmd.event_types, required=False)
        v.non_negative(cmd.version, "version")
        v.raise_if_any()
        description = cmd.description.strip() if cmd.description is not None else None

        async def change(uow: UnitOfWork, endpoint: Endpoint) -> Endpoint:
            if cmd.version and cmd.version != endpoint.version:
                raise Conflict(f"the endpoint is at version {endpoint.version}, not {cmd.version}")
            expected = endpoint.version
            if endpoint.update(self._clock(), url=url, description=description, event_types=types or None):
                await uow.endpoints.save(endpoint, expected_version=expected)
            return endpoint

        return await self._edit(cmd, change)

    async def rotate_secret(self, cmd: RotateSecret) -> tuple[Endpoint, str]:
        async def rotate(uow: UnitOfWork, endpoint: Endpoint) -> tuple[Endpoint, str]:
            expected = endpoint.version
            secret = endpoint.rotate_secret(self._clock(), self._policy.secret_overlap)
            await uow.endpoints.save(endpoint, expected_version=expected)
            return endpoint, secret

        return await self._edit(cmd, rotate)

    async def disable(self, cmd: DisableEndpoint) -> Endpoint:
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        by = _disabled_by(cmd.principal)
        reason = cmd.reason.strip() or f"disabled by {'an operator' if by is DisabledBy.OPERATOR else 'the partner'}"

        async def disable(uow: UnitOfWork, endpoint: Endpoint) -> Endpoint:
            expected = endpoint.version
            now = self._clock()
            if endpoint.disable(by, reason, now):
                await uow.endpoints.save(endpoint, expected_version=expected)
                held = await uow.deliveries.hold_pending(endpoint.endpoint_id)
                message = f"{reason}; {held} pending deliveries are kept until the endpoint is enabled"
                await _log_notice(uow, endpoint, LogKind.ENDPOINT_DISABLED, now, message)
            return endpoint

        return await self._edit(cmd, disable)

    async def enable(self, cmd: EnableEndpoint) -> tuple[Endpoint, int]:
        """Enable; the deliveries kept meanwhile are due at once, oldest first."""

        async def enable(uow: UnitOfWork, endpoint: Endpoint) -> tuple[Endpoint, int]:
            expected = endpoint.version
            now = self._clock()
            if not endpoint.enable(now):
                return endpoint, 0
            await uow.endpoints.save(endpoint, expected_version=expected)
            resumed = await uow.deliveries.resume_held(endpoint.endpoint_id, now)
            message = f"enabled by {cmd.principal.label}; {resumed} kept deliveries are sent, oldest first"
            await _log_notice(uow, endpoint, LogKind.ENDPOINT_ENABLED, now, message)
            return endpoint, resumed

        return await self._edit(cmd, enable)

    async def delete(self, cmd: DeleteEndpoint) -> None:
        async def delete(uow: UnitOfWork, endpoint: Endpoint) -> None:
            await uow.endpoints.delete(endpoint.endpoint_id)

        await self._edit(cmd, delete)

    async def _edit(self, cmd: ByName, edit: Callable[[UnitOfWork, Endpoint], Awaitable[T]]) -> T:
        """``edit`` of the endpoint ``cmd`` names, locked for update, in one write transaction (run
        again on a write conflict)."""

        async def run(uow: UnitOfWork) -> T:
            return await edit(uow, await load_endpoint(uow, cmd.principal, cmd.name, for_update=True))

        return await self._uows.transact(run)
