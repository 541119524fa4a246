"""Queries and commands of the analytics use cases (plain data decoded from the transport, each
with the principal acting) and the service's rules (:class:`AnalyticsPolicy`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from mes_kernel.principal import Principal
from services.analytics.domain.facts import OperationSnapshot, OrderRecord
from services.analytics.domain.timeline import Grain

__all__ = [
    "AnalyticsPolicy",
    "FlowQuery",
    "ImportFacts",
    "MetalQuery",
    "PartnerQuery",
    "Rebuild",
    "StatusQuery",
    "WindowSpec",
]


@dataclass(frozen=True)
class AnalyticsPolicy:
    """The service's rules, from its settings and its consumers."""

    #: The plant's time zone: buckets and promised days are local to it.
    zone: tzinfo = UTC
    #: The streams the read model is filled from, in the order answers list them.
    streams: tuple[str, ...] = ()
    #: The durable consumers filling it (their inbox rows go with a rebuild).
    consumers: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowSpec:
    """A window as asked for (unset bounds are refused by the use cases)."""

    start: datetime | None
    end: datetime | None
    grain: Grain = Grain.DAY


@dataclass(frozen=True)
class PartnerQuery:
    principal: Principal
    window: WindowSpec
    #: Without "partners/"; empty: every partner (a partner caller: itself).
    partner_id: str = ""


@dataclass(frozen=True)
class FlowQuery:
    principal: Principal
    window: WindowSpec


@dataclass(frozen=True)
class MetalQuery:
    principal: Principal
    window: WindowSpec


@dataclass(frozen=True)
class StatusQuery:
    principal: Principal


@dataclass(frozen=True)
class ImportFacts:
    principal: Principal
    orders: tuple[OrderRecord, ...]
    operations: tuple[OperationSnapshot, ...]


@dataclass(frozen=True)
class Rebuild:
    principal: Principal
    keep_imported: bool = False
    request_id: str = ""
