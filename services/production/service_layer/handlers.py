"""All use cases of the service, built once per process by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from services.production.domain.views import DEFAULT_WINDOW_MINUTES
from services.production.service_layer.catalog import CatalogHandlers
from services.production.service_layer.common import Context
from services.production.service_layer.operations import OperationHandlers
from services.production.service_layer.order_events import OrderEventHandlers
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

    @classmethod
    def build(cls, ctx: Context, *, default_window_minutes: int = DEFAULT_WINDOW_MINUTES) -> Handlers:
        return cls(
            catalog=CatalogHandlers(ctx),
            work_orders=WorkOrderHandlers(ctx),
            operations=OperationHandlers(ctx),
            views=ViewHandlers(ctx, default_window_minutes=default_window_minutes),
            order_events=OrderEventHandlers(ctx),
        )
