"""What the clients' integration tests share, whichever servers they run against (the fakes of
``clients_fake_services`` or the real services of ``clients_real_services``): the credentials,
the clients' configuration, mesctl's options and mesctl run against them."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import pytest

from clients import ClientConfig
from clients.cli.__main__ import main
from tests._infra.auth import AUTH_TOKENS, SERVICE_TOKEN
from tests._infra.ports import LOOPBACK

__all__ = ["AUTH_TOKENS", "TOKEN", "Servers", "client_config", "mesctl", "mesctl_argv", "mesctl_json"]

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


class Servers(Protocol):
    """A stack of servers mesctl can be pointed at (the fakes' or the real services')."""

    def argv(self, *extra: str) -> list[str]: ...


async def mesctl(servers: Servers, *argv: str) -> int:
    """Runs mesctl on the servers with ``argv`` in a worker thread (it runs its own event loop, and the
    servers run in this one); its exit code."""
    return await asyncio.to_thread(main, servers.argv(*argv))


async def mesctl_json(servers: Servers, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """``mesctl -o json`` with ``argv``, which must succeed: its output, parsed."""
    assert await mesctl(servers, "-o", "json", *argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)
