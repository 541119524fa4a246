"""What the clients' integration tests share, whichever servers they run against (the fakes of
``clients_fake_services`` or the real services of ``clients_real_services``): the credentials,
the clients' configuration and mesctl's options."""

from __future__ import annotations

from typing import Any

from clients import ClientConfig
from tests._infra.auth import AUTH_TOKENS, SERVICE_TOKEN
from tests._infra.ports import LOOPBACK

__all__ = ["AUTH_TOKENS", "TOKEN", "client_config", "mesctl_argv"]

TOKEN = SERVICE_TOKEN


def client_config(orders: int, inventory: int, production: int, **options: Any) -> ClientConfig:
    """Clients of the three servers on these loopback ports, calling with ``TOKEN``."""
    return ClientConfig(
        orders_addr=f"{LOOPBACK}:{orders}",
        inventory_addr=f"{LOOPBACK}:{inventory}",
        production_addr=f"{LOOPBACK}:{production}",
        token=TOKEN,
        **options,
    )


def mesctl_argv(config: ClientConfig, *extra: str) -> list[str]:
    """mesctl's options pointing at the servers of ``config``, then ``extra``."""
    addresses = ("--orders-addr", config.orders_addr, "--inventory-addr", config.inventory_addr)
    return [*addresses, "--production-addr", config.production_addr, "--token", TOKEN, *extra]
