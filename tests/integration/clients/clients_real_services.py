"""The three real services started in process (SQLite files in a temporary folder) for the client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients import ClientConfig, RetryPolicy
from mes_platform.config import ServiceSettings
from services.inventory.bootstrap import start as start_inventory
from services.orders.bootstrap import App as OrdersApp
from services.orders.bootstrap import start as start_orders
from services.production.bootstrap import start as start_production
from tests.integration.clients.clients_stack import AUTH_TOKENS, client_config, mesctl_argv


@dataclass
class RealStack:
    orders: OrdersApp
    inventory: Any
    production: Any
    config: ClientConfig

    def argv(self, *extra: str) -> list[str]:
        return mesctl_argv(self.config, *extra)


def settings(service: str, data_dir: Path) -> ServiceSettings:
    env = {
        f"MES_{service.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / (service + '.db')}",
        "MES_AUTH_TOKENS": AUTH_TOKENS,
        "MES_DATA_DIR": str(data_dir),
        "MES_PAGE_TOKEN_SECRET": "clients-test-secret",
        "MES_LOG_FORMAT": "console",
        "MES_LOG_LEVEL": "ERROR",
        "MES_ORDERS_API_KEY_CACHE_TTL_S": "0",
    }
    return ServiceSettings.from_env(service, env=env)


@asynccontextmanager
async def real_stack(data_dir: Path) -> AsyncIterator[RealStack]:
    async with AsyncExitStack() as stack:
        apps = []
        for service, start in (
            ("orders", start_orders),
            ("inventory", start_inventory),
            ("production", start_production),
        ):
            app = await start(settings(service, data_dir), port=0)
            stack.push_async_callback(app.aclose)
            apps.append(app)
        orders, inventory, production = apps
        retry = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05)
        config = client_config(orders.port, inventory.port, production.port, deadline_s=10.0, retry=retry)
        yield RealStack(orders, inventory, production, config)
