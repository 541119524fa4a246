"""The RPC tables of the clients: every row matches the service's descriptor, every method's keyword
parameters are fields of its request, and every RPC of the contracts has a method."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from google.protobuf.descriptor import ServiceDescriptor

from clients import AnalyticsClient, InventoryClient, OrdersClient, ProductionClient, WebhooksClient
from clients import analytics as analytics_module
from clients import inventory as inventory_module
from clients import orders as orders_module
from clients import production as production_module
from clients import webhooks as webhooks_module
from clients._base import Rpc, ServiceClient
from clients._methods import Method
from mes.analytics.v1 import analytics_pb2
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2
from mes.webhooks.v1 import webhooks_pb2

CLIENTS: list[tuple[type[ServiceClient], tuple[Rpc[Any, Any], ...], ServiceDescriptor]] = [
    (OrdersClient, orders_module.RPCS, orders_pb2.DESCRIPTOR.services_by_name["OrdersService"]),
    (InventoryClient, inventory_module.RPCS, inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"]),
    (ProductionClient, production_module.RPCS, production_pb2.DESCRIPTOR.services_by_name["ProductionService"]),
    (WebhooksClient, webhooks_module.RPCS, webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"]),
    (AnalyticsClient, analytics_module.RPCS, analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"]),
]
#: Parameters of client methods that are not request fields (``since`` is SummarizeMetalLoss' since_time).
NOT_FIELDS = {"self", "request", "partner", "timeout", "limit", "since"}
IDS = [client.__name__ for client, _, _ in CLIENTS]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.mark.parametrize(("client", "rpcs", "service"), CLIENTS, ids=IDS)
def test_every_rpc_of_the_service_is_in_the_table_with_its_types(
    client: type[ServiceClient], rpcs: tuple[Rpc[Any, Any], ...], service: ServiceDescriptor
) -> None:
    assert client.grpc_service == service.full_name
    assert [rpc.name for rpc in rpcs] == [method.name for method in service.methods]
    for rpc, method in zip(rpcs, service.methods, strict=True):
        assert rpc.request.DESCRIPTOR is method.input_type, rpc.name
        assert rpc.response.DESCRIPTOR is method.output_type, rpc.name
        fields = method.input_type.fields_by_name
        assert not rpc.positional or rpc.positional in fields, rpc.name
        # Every mutation carrying a request_id gets one generated when the caller has none.
        assert rpc.request_id == ("request_id" in fields), rpc.name


@pytest.mark.parametrize(("client", "rpcs", "service"), CLIENTS, ids=IDS)
def test_every_rpc_has_a_method_whose_keywords_are_request_fields(
    client: type[ServiceClient], rpcs: tuple[Rpc[Any, Any], ...], service: ServiceDescriptor
) -> None:
    for rpc in rpcs:
        method = inspect.getattr_static(client, snake(rpc.name))
        if isinstance(method, Method):
            continue  # made from the row itself (by_name, batch_get, list_page)
        fields = set(rpc.request.DESCRIPTOR.fields_by_name)
        parameters = set(inspect.signature(method).parameters) - NOT_FIELDS
        assert parameters <= fields, (rpc.name, parameters - fields)


@pytest.mark.parametrize(("client", "rpcs", "service"), CLIENTS, ids=IDS)
def test_iterators_filter_by_request_fields(
    client: type[ServiceClient], rpcs: tuple[Rpc[Any, Any], ...], service: ServiceDescriptor
) -> None:
    by_name = {snake(rpc.name): rpc for rpc in rpcs}
    iterators = [name for name in dir(client) if name.startswith("iter_")]
    lists = [rpc for rpc in rpcs if rpc.name.startswith("List")]
    assert len(iterators) >= (1 if lists else 0)
    for name in iterators:
        rpc = by_name[name.replace("iter_", "list_", 1)]
        method = inspect.getattr_static(client, name)
        if isinstance(method, Method):
            continue
        parameters = set(inspect.signature(method).parameters) - NOT_FIELDS
        assert parameters <= set(rpc.request.DESCRIPTOR.fields_by_name), (name, parameters)
