"""Composition root of the webhooks service: only what is its own (the rest: mes_platform.runtime);
the worker side runs the order-events consumer, the dispatcher and the retention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mes.webhooks.v1 import webhooks_pb2_grpc
from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.runtime import RunningService, ServiceSpec, Wiring, start_service
from mes_platform.uow import SqlUnitOfWorkFactory
from services.webhooks.adapters.http_sender import HttpSender
from services.webhooks.adapters.tables import infra
from services.webhooks.adapters.unit_of_work import WebhooksUnitOfWork, unit_of_work_maker
from services.webhooks.config import SERVICE, Settings
from services.webhooks.entrypoints.codec.messages import encode_event
from services.webhooks.entrypoints.consumers import consumer_specs
from services.webhooks.entrypoints.grpc_api import SERVICE_NAME, WebhooksServicer
from services.webhooks.service_layer.deliveries import DeliveryService
from services.webhooks.service_layer.dispatcher import Dispatcher
from services.webhooks.service_layer.endpoints import EndpointService
from services.webhooks.service_layer.fanout import OrderEventFanOut
from services.webhooks.service_layer.ports import WebhooksDeps
from services.webhooks.service_layer.retention import DeliveryRetention

__all__ = ["SPEC", "App", "Handles", "start"]


@dataclass(frozen=True)
class Handles:
    uows: SqlUnitOfWorkFactory[WebhooksUnitOfWork]
    endpoints: EndpointService
    deliveries: DeliveryService
    fanout: OrderEventFanOut
    dispatcher: Dispatcher


def wire(settings: Settings, db: Database) -> Wiring[Handles]:
    wake: list[Dispatcher] = []
    make = unit_of_work_maker(lambda: wake[0].wake() if wake else None)
    uows = SqlUnitOfWorkFactory(db, infra, producer=SERVICE, make=make, encode=encode_event)  # type: ignore[arg-type]
    deps: WebhooksDeps = Deps(uows, PageTokens(settings.page_token_secret))
    policy = settings.policy()
    dispatcher = Dispatcher(
        uows, HttpSender(allow_private=settings.dev_mode, limits=settings.sender_limits()), policy, settings.dispatch()
    )
    wake.append(dispatcher)
    endpoints = EndpointService(deps, policy)
    deliveries = DeliveryService(deps)
    fanout = OrderEventFanOut(deps)
    servicer = WebhooksServicer(endpoints, deliveries)
    return Wiring(
        register=lambda server: webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        handles=Handles(uows, endpoints, deliveries, fanout, dispatcher),
        consumers=consumer_specs(uows, fanout),
        tasks=[dispatcher, DeliveryRetention(uows, settings.retention())],
    )


SPEC = ServiceSpec(SERVICE, Path(__file__).parent / "migrations", infra, Settings.of, wire)
App = RunningService[Settings, Handles]


async def start(settings: ServiceSettings, *, port: int | None = None) -> App:
    return await start_service(SPEC, settings, port=port)
