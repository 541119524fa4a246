"""What every query does first: who may ask, the window's buckets, the answer's positions; and
what every use case holds (:class:`UseCase`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, tzinfo

from mes_kernel.errors import FieldViolation, InvalidArgument, PermissionDenied
from mes_kernel.principal import Principal, require_staff
from mes_kernel.validation import Violations
from services.analytics.domain.timeline import MAX_BUCKETS, Buckets, TooManyBuckets, Window
from services.analytics.domain.views import AsOf
from services.analytics.service_layer.commands import AnalyticsPolicy, WindowSpec
from services.analytics.service_layer.ports import AnalyticsDeps, FactReader

__all__ = ["UseCase", "as_of", "check_window", "partner_filter", "require_staff"]

_PARTNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_window(spec: WindowSpec, zone: tzinfo, field: str = "window") -> Buckets:
    """The buckets of a window: both bounds set, ``from_time < to_time``, at most 400 buckets of
    its grain (INVALID_ARGUMENT with a violation per bad field otherwise)."""
    v = Violations()
    v.check(spec.start is not None, f"{field}.from_time", "is required")
    v.check(spec.end is not None, f"{field}.to_time", "is required")
    if spec.start is not None and spec.end is not None:
        v.check(spec.start < spec.end, f"{field}.to_time", "must be after window.from_time")
    v.raise_if_any("the window is invalid")
    assert spec.start is not None and spec.end is not None
    try:
        return Window(spec.start, spec.end, spec.grain).buckets(zone)
    except TooManyBuckets:
        description = (
            f"the window holds more than {MAX_BUCKETS} {spec.grain.lower()} buckets: shorten it or take a longer grain"
        )
        raise InvalidArgument(
            "the window is invalid", violations=[FieldViolation(f"{field}.grain", description)]
        ) from None


def partner_filter(principal: Principal, partner_id: str) -> str | None:
    """The partner a query is confined to (None: every partner). A partner sees itself only."""
    partner_id = partner_id.removeprefix("partners/")
    if partner_id and not _PARTNER_ID.match(partner_id):
        raise InvalidArgument(
            "partner_id is invalid",
            violations=[FieldViolation("partner_id", "must be a partner id (1..64 of A-Z, a-z, 0-9, '-', '_')")],
        )
    scope = principal.scope
    if scope is None:
        return partner_id or None
    if partner_id and partner_id != scope:
        raise PermissionDenied("a partner sees its own analytics only")
    return scope


async def as_of(reader: FactReader, streams: tuple[str, ...], now: datetime) -> AsOf:
    """The stream positions the read model has applied (read in the answer's transaction)."""
    positions = await reader.positions()
    return AsOf(now, tuple((stream, positions.get(stream, 0)) for stream in streams))


class UseCase:
    """A use case of the analytics: the read model's units of work, the clock, the rules."""

    def __init__(self, deps: AnalyticsDeps, policy: AnalyticsPolicy) -> None:
        self._uows = deps.uows
        self._clock = deps.clock
        self._policy = policy

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[FactReader]:
        """The read model, in one read transaction."""
        async with self._uows.read() as uow:
            yield uow.reader
