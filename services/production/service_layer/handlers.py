"""All use cases of the service, built once per process by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.production.domain.people import DEFAULT_SESSION_TTL
from services.production.domain.views import DEFAULT_WINDOW_MINUTES
from services.production.service_layer.catalog import CatalogHandlers
from services.production.service_layer.common import DEFAULT_ATTEMPTS, IdFactory, new_work_order_id
from services.production.service_layer.operations import OperationHandlers
from services.production.service_layer.order_events import OrderEventHandlers
from services.production.service_layer.ports import ProductionDeps
from services.production.service_layer.shifts import ShiftHandlers
from services.production.service_layer.sign_in import AuditLog, SignInHandlers
from services.production.service_layer.views import ViewHandlers
from services.production.service_layer.work_orders import WorkOrderHandlers

__all__ = ["Handlers"]


@dataclass(frozen=True)
class Handlers:
    catalog: CatalogHandlers
    work_orders: WorkOrderHandlers
    operations: OperationHandlers
    views: ViewHandlers
    #: What event consumers call: on_order_submitted, on_reservation_held, on_order_cancelled.
    order_events: OrderEventHandlers
    #: Operators' passwords, sign-in, sessions and sign-out.
    sign_in: SignInHandlers
    #: Work centers' shift calendars, and their output against target.
    shifts: ShiftHandlers

    @classmethod
    def build(
        cls,
        deps: ProductionDeps,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        default_window_minutes: int = DEFAULT_WINDOW_MINUTES,
        new_id: IdFactory = new_work_order_id,
        session_ttl: timedelta = DEFAULT_SESSION_TTL,
        audit: AuditLog | None = None,
    ) -> Handlers:
        return cls(
            catalog=CatalogHandlers(deps, attempts=attempts),
            work_orders=WorkOrderHandlers(deps, attempts=attempts, new_id=new_id),
            operations=OperationHandlers(deps, attempts=attempts),
            views=ViewHandlers(deps, default_window_minutes=default_window_minutes),
            order_events=OrderEventHandlers(deps, attempts=attempts, new_id=new_id),
            sign_in=SignInHandlers(deps, attempts=attempts, session_ttl=session_ttl, audit=audit),
            shifts=ShiftHandlers(deps, attempts=attempts),
        )
