"""The clients and mesctl over TLS: a self-signed certificate trusted through MES_TLS_CA_FILE.

The certificate is made in Python (``tests._infra.tls``), so the test runs wherever the
project installs: no ``openssl`` binary needed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients import ClientConfig, MesClients, UnavailableError
from clients.cli.__main__ import main
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_platform.auth import parse_tokens
from mes_platform.grpc_server import Authenticator, create_server
from tests._infra.tls import self_signed_certificate
from tests.integration.clients.clients_fake_services import FakeOrders
from tests.integration.clients.clients_stack import AUTH_TOKENS, TOKEN


async def test_tls_with_a_ca_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = self_signed_certificate(tmp_path, dns_names=("localhost",), ip_addresses=("127.0.0.1",))
    servicer = FakeOrders()
    handle = await create_server(
        service="orders",
        register=lambda s: orders_pb2_grpc.add_OrdersServiceServicer_to_server(servicer, s),
        service_names=["mes.orders.v1.OrdersService"],
        authenticator=Authenticator(parse_tokens(AUTH_TOKENS)),
        tls_cert_file=str(cert),
        tls_key_file=str(key),
    )
    servicer.orders["orders/1"] = orders_pb2.Order(name="orders/1", order_id="1", partner_reference="TLS-1")
    address = f"localhost:{handle.port}"
    try:
        config = ClientConfig.from_env(
            {"MES_ORDERS_ADDR": address, "MES_TOKEN": TOKEN, "MES_TLS_CA_FILE": str(cert), "MES_DEADLINE_S": "5"}
        )
        async with MesClients(config) as mes:
            assert (await mes.orders.get_order("orders/1")).partner_reference == "TLS-1"
        # Without trusting the certificate the handshake fails.
        async with MesClients(ClientConfig(orders_addr=address, token=TOKEN, tls=True, deadline_s=1)) as mes:
            with pytest.raises(UnavailableError):
                await mes.orders.get_order("orders/1")
        argv = ["--orders-addr", address, "--token", TOKEN, "--tls-ca-file", str(cert), "orders", "get", "1"]
        assert await asyncio.to_thread(main, argv) == 0
        assert "TLS-1" in capsys.readouterr().out
    finally:
        await handle.stop(0)
