"""The typed per-request context the resolvers see (``info.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql_facade.auth import Viewer
from graphql_facade.backend import Backend
from graphql_facade.caching import ReferenceCache
from graphql_facade.config import FacadeSettings
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.events import EventHub
from graphql_facade.loaders import Loaders, WorkCenterDirectory
from graphql_facade.positions_sealed import PositionSealer, sealer_for

if TYPE_CHECKING:
    from graphql import DocumentNode

    from graphql_facade.subscriptions import CountersFeed, SubscriptionSlots

__all__ = ["PreparedDocument", "RequestContext"]


@dataclass
class PreparedDocument:
    """A document the HTTP pipeline already parsed and validated (execution skips both)."""

    document: DocumentNode
    validated: bool = True


@dataclass
class RequestContext:
    """Everything a resolver needs; one per HTTP request or WebSocket connection."""

    backend: Backend
    hub: EventHub
    settings: FacadeSettings
    reference: ReferenceCache | None
    slots: SubscriptionSlots
    counters: CountersFeed
    viewer_: Viewer | None = None
    prepared: PreparedDocument | None = None
    #: The payload of ``connection_init`` (WebSocket only; set by Strawberry).
    connection_params: dict[str, Any] | None = None
    #: The sequences the response reflects at least (captured when the request started).
    as_of: dict[str, int] = field(default_factory=dict)
    #: A partner's position when the request started (``EventHub.partner_position``; None: not a partner).
    partner_position: int | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The facade's work centers, shared by every request (None: each request reads its own).
    work_centers: WorkCenterDirectory | None = None
    _loaders: Loaders | None = None

    @property
    def viewer(self) -> Viewer:
        if self.viewer_ is None:
            raise FacadeError(ErrorCode.UNAUTHENTICATED, "Not authenticated.", http_status=401)
        return self.viewer_

    @property
    def partner(self) -> str | None:
        """The tenant every partner-scoped call is confined to (None for operators)."""
        return self.viewer.partner_id

    @property
    def positions(self) -> PositionSealer:
        """Seals and opens the partners' positions (:mod:`graphql_facade.positions_sealed`)."""
        return sealer_for(self.settings.position_secret)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(
                self.backend,
                partner=self.viewer.partner_id,
                reference=self.reference,
                stats_window_minutes=self.settings.stats_window_minutes,
                work_centers=self.work_centers,
            )
        return self._loaders
