"""The webhooks client's RPC table, checked like the other clients' (``tests/unit/clients``)."""

from __future__ import annotations

from clients import MesClients, WebhooksClient
from clients import webhooks as webhooks_module
from clients._config import ClientConfig
from mes.webhooks.v1 import webhooks_pb2
from tests.unit.clients import test_clients_table as table

ROW = (WebhooksClient, webhooks_module.RPCS, webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"])


def test_every_rpc_is_in_the_table_with_a_method_whose_keywords_are_request_fields() -> None:
    table.test_every_rpc_of_the_service_is_in_the_table_with_its_types(*ROW)
    table.test_every_rpc_has_a_method_whose_keywords_are_request_fields(*ROW)
    table.test_iterators_filter_by_request_fields(*ROW)


def test_the_address_comes_from_mes_webhooks_addr() -> None:
    assert ClientConfig.from_env({}).address("webhooks") == "127.0.0.1:50154"
    assert ClientConfig.from_env({"MES_WEBHOOKS_ADDR": "wh:1"}).address("webhooks") == "wh:1"


async def test_mes_clients_opens_the_webhooks_client_too() -> None:
    async with MesClients(ClientConfig()) as mes:
        assert mes.webhooks.config.address("webhooks") == "127.0.0.1:50154"
