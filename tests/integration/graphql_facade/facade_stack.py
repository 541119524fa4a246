"""The three services started in process on SQLite (port 0), seeded through the clients library,
and a client-side interceptor that counts gRPC calls per method."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from clients import ClientConfig, MesClients
from graphql_facade.config import FacadeSettings
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from mes_platform.config import ServiceSettings
from services.inventory import bootstrap as inventory_bootstrap
from services.orders import bootstrap as orders_bootstrap
from services.orders.domain.catalogue import CatalogueKind
from services.production import bootstrap as production_bootstrap

SERVICE_TOKEN = "svc-token"
AUTH_TOKENS = f"{SERVICE_TOKEN}=service:facade,op-token=operator:OP-1"
OPERATOR_TOKEN = "facade-op"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
STYLE = "RNG-SOL-001"
ALLOY = "AU750Y"
WORK_CENTERS = (("CAST-1", "CAST"), ("BENCH-1", "BENCH"), ("POL-1", "POLISH"), ("QC-1", "QC"))
ROUTING = (("CASTING", "CAST"), ("FILING", "BENCH"), ("POLISHING", "POLISH"), ("QC", "QC"))


class CountingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts unary calls per RPC method name, on the client side of the channel."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        method = client_call_details.method
        name = method.decode() if isinstance(method, bytes) else str(method)
        self.calls[name.rsplit("/", 1)[-1]] += 1
        return await continuation(client_call_details, request)


@dataclass
class Stack:
    orders: orders_bootstrap.App
    inventory: inventory_bootstrap.App
    production: production_bootstrap.App

    def addresses(self) -> dict[str, str]:
        return {
            "MES_ORDERS_ADDR": f"127.0.0.1:{self.orders.port}",
            "MES_INVENTORY_ADDR": f"127.0.0.1:{self.inventory.port}",
            "MES_PRODUCTION_ADDR": f"127.0.0.1:{self.production.port}",
        }

    def facade_settings(self, **env: str) -> FacadeSettings:
        base = {
            **self.addresses(),
            "MES_FACADE_SERVICE_TOKEN": SERVICE_TOKEN,
            "MES_FACADE_OPERATOR_TOKENS": f"{OPERATOR_TOKEN}=OP-1",
            "MES_FACADE_CACHE_MAX_STALE_MS": "0",  # an event makes the next request recompute
            "MES_FACADE_CACHE_REFRESH_INTERVAL_MS": "0",
            "MES_FACADE_METRICS_PORT": "0",  # no /metrics listener on its fixed default port
        }
        return FacadeSettings.from_env({**base, **env})

    def client_config(self) -> ClientConfig:
        env = self.addresses()
        return ClientConfig(
            orders_addr=env["MES_ORDERS_ADDR"],
            inventory_addr=env["MES_INVENTORY_ADDR"],
            production_addr=env["MES_PRODUCTION_ADDR"],
            token=SERVICE_TOKEN,
            deadline_s=10,
        )

    async def aclose(self) -> None:
        await asyncio.gather(self.orders.aclose(), self.inventory.aclose(), self.production.aclose())


def service_settings(service: str, data_dir: Path, database_url: str, read_url: str | None = None) -> ServiceSettings:
    """The settings of ``service`` in these stacks: its database (and a reader's, if any), the test
    tokens, quiet console logs."""
    prefix = f"MES_{service.upper()}_"
    env = {
        prefix + "DATABASE_URL": database_url,
        "MES_AUTH_TOKENS": AUTH_TOKENS,
        "MES_DATA_DIR": str(data_dir),
        "MES_PAGE_TOKEN_SECRET": "test-secret",
        "MES_LOG_FORMAT": "console",
        "MES_LOG_LEVEL": "WARNING",
    }
    if read_url is not None:
        env[prefix + "DATABASE_READ_URL"] = read_url
    return ServiceSettings.from_env(service, env=env)


async def start_services(settings: Callable[[str], ServiceSettings]) -> Stack:
    """The orders, inventory and production services started in process on free ports, with the
    settings ``settings`` gives each service name; not seeded."""
    orders = await orders_bootstrap.start(settings("orders"), port=0)
    inventory = await inventory_bootstrap.start(settings("inventory"), port=0)
    production = await production_bootstrap.start(settings("production"), port=0)
    return Stack(orders, inventory, production)


async def start_stack(tmp_path: Path) -> Stack:
    stack = await start_services(
        lambda service: service_settings(service, tmp_path, f"sqlite+aiosqlite:///{tmp_path / (service + '.db')}")
    )
    await seed_catalogue(stack)
    return stack


async def seed_catalogue(stack: Stack) -> None:
    async with MesClients(stack.client_config()) as mes:
        await mes.production.upsert_style(
            prod.Style(
                sku=STYLE,
                display_name="Solitaire ring",
                category=prod.STYLE_CATEGORY_RING,
                routing=[
                    prod.RoutingStep(
                        sequence=i,
                        operation_code=code,
                        work_center_type=wc,
                        expected_minutes=30,
                        loss_tolerance_per_mille=20,
                    )
                    for i, (code, wc) in enumerate(ROUTING, start=1)
                ],
                bill_of_materials=[prod.BomItem(kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=5_000)],
                active=True,
            )
        )
        for code, kind in WORK_CENTERS:
            await mes.production.upsert_work_center(
                prod.WorkCenter(code=code, work_center_type=kind, display_name=code, capacity=4, active=True)
            )
        await mes.production.upsert_operator(
            prod.Operator(code="OP-1", display_name="Anna", role=prod.OPERATOR_ROLE_SUPERVISOR, active=True)
        )
        await mes.inventory.upsert_alloy(
            inv.Alloy(code=ALLOY, metal=inv.METAL_GOLD, fineness=750, colour="yellow", display_name="18k", active=True)
        )
        await mes.inventory.receive_lot(
            kind=common_pb2.MATERIAL_KIND_METAL, material_code=ALLOY, weight_mg=10_000_000, request_id="seed-lot"
        )
    handlers = stack.orders.handles.event_handlers
    await handlers.apply_catalogue_item(CatalogueKind.STYLE, STYLE, "Solitaire ring", True, 1)
    await handlers.apply_catalogue_item(CatalogueKind.ALLOY, ALLOY, "18k", True, 1)


async def create_partner(stack: Stack, partner_id: str) -> str:
    async with MesClients(stack.client_config()) as mes:
        return (await mes.orders.create_partner(partner_id, display_name=partner_id.title())).api_key


async def seed_orders(stack: Stack, partner_id: str, count: int, *, production: bool = True) -> list[str]:
    """Submitted orders of ``partner_id``; with ``production``, also their work orders and reservation."""
    config = stack.client_config()
    ids: list[str] = []
    async with MesClients(config.with_changes(partner=partner_id)) as scoped, MesClients(config) as mes:
        for n in range(count):
            line = ords.OrderLine(line_number=1, style_code=STYLE, alloy_code=ALLOY, size="52", quantity=1)
            response = await scoped.orders.submit_order(
                partner_reference=f"PO-{partner_id}-{n}",
                lines=[line],
                due_time=datetime.now(UTC) + timedelta(days=14),
                request_id=uuid.uuid4().hex,
            )
            order = response.order
            ids.append(order.order_id)
            if production:
                await mes.production.create_work_orders(
                    order_id=order.order_id,
                    priority=common_pb2.PRIORITY_NORMAL,
                    lines=[prod.LineSpec(line_number=1, style_code=STYLE, alloy_code=ALLOY, size="52", quantity=1)],
                )
                await mes.inventory.reserve_order(
                    order_id=order.order_id,
                    requirements=[
                        common_pb2.MaterialRequirement(
                            material_code=ALLOY, kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=5_000, line_number=1
                        )
                    ],
                )
    return ids
