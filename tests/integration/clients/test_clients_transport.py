"""The clients against real in-process gRPC servers (fake servicers): credentials, deadlines, retries,
error decoding and pagination over the wire."""

from __future__ import annotations

import pytest

from clients import (
    ClientConfig,
    DeadlineExceededError,
    FailedPreconditionError,
    IdempotencyKeyReusedError,
    InsufficientStockError,
    InvalidArgumentError,
    MesClients,
    NotFoundError,
    RetryPolicy,
    UnauthenticatedError,
    UnavailableError,
)
from mes.orders.v1 import orders_pb2
from tests._infra.ports import free_port
from tests.integration.clients.clients_fake_services import PARTNER_KEY, FakeStack

LINE = orders_pb2.OrderLine(style_code="RNG-1", alloy_code="AU750Y", quantity=1)


async def test_submit_get_and_replay_over_the_wire(stack: FakeStack) -> None:
    async with MesClients(stack.config) as mes:
        first = await mes.orders.submit_order(
            parent="partners/acme", partner_reference="PO-1", lines=[LINE], request_id="rid-1"
        )
        again = await mes.orders.submit_order(
            parent="partners/acme", partner_reference="PO-1", lines=[LINE], request_id="rid-1"
        )
        assert not first.replayed and again.replayed and again.order.name == first.order.name
        assert await mes.orders.get_order(first.order.name) == first.order
        with pytest.raises(IdempotencyKeyReusedError) as reused:
            await mes.orders.submit_order(
                parent="partners/acme", partner_reference="PO-2", lines=[LINE], request_id="rid-1"
            )
        assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED" and reused.value.domain == "mes.jewelry"


async def test_typed_errors_carry_reason_metadata_and_violations(stack: FakeStack) -> None:
    async with MesClients(stack.config) as mes:
        with pytest.raises(InvalidArgumentError) as invalid:
            await mes.orders.submit_order(partner_reference="PO-1", lines=[])
        assert [(v.field, v.description) for v in invalid.value.violations] == [
            ("lines", "at least one line is required")
        ]
        with pytest.raises(NotFoundError):
            await mes.orders.get_order("orders/404")
        with pytest.raises(FailedPreconditionError) as unknown:
            await mes.orders.submit_order(lines=[orders_pb2.OrderLine(style_code="NOPE", quantity=1)])
        assert unknown.value.reason == "UNKNOWN_STYLE"
        with pytest.raises(InsufficientStockError) as short:
            await mes.inventory.reserve_order(order_id="1")
        assert short.value.metadata == {"material": "AU750Y"}


async def test_unavailable_is_retried_for_idempotent_calls_only(stack: FakeStack) -> None:
    async with MesClients(stack.config) as mes:
        stack.orders.flaky.failures["ListOrders"] = 2
        assert [o async for o in mes.orders.iter_orders()] == []
        assert stack.orders.flaky.calls["ListOrders"] == 3

        # SubmitOrder gets a generated request_id, so it is retried (and stays one order).
        stack.orders.flaky.failures["SubmitOrder"] = 1
        resp = await mes.orders.submit_order(parent="partners/acme", partner_reference="PO-R", lines=[LINE])
        assert not resp.replayed and len(stack.orders.orders) == 1
        assert stack.orders.flaky.calls["SubmitOrder"] == 2

        # More failures than attempts: the last UNAVAILABLE surfaces.
        stack.inventory.flaky.failures["ListBalances"] = 10
        with pytest.raises(UnavailableError):
            await mes.inventory.list_balances()
        assert stack.inventory.flaky.calls["ListBalances"] == 4


async def test_deadline_is_enforced(stack: FakeStack) -> None:
    stack.orders.orders["orders/slow"] = orders_pb2.Order(name="orders/slow")
    async with MesClients(stack.config) as mes:
        with pytest.raises(DeadlineExceededError):
            await mes.orders.get_order("orders/slow", timeout=0.3)


async def test_credentials_token_partner_and_api_key(stack: FakeStack) -> None:
    async with MesClients(stack.config.with_changes(partner="acme")) as mes:
        await mes.orders.count_orders()
    async with MesClients(stack.config.with_changes(api_key=PARTNER_KEY)) as mes:
        await mes.orders.count_orders()
    assert stack.orders.principals == [("service", "test", "acme"), ("partner", "acme", "acme")]
    async with MesClients(stack.config.with_changes(token="wrong")) as mes:
        with pytest.raises(UnauthenticatedError):
            await mes.orders.count_orders()


async def test_pagination_over_the_wire(stack: FakeStack) -> None:
    async with MesClients(stack.config) as mes:
        skus = [s.sku async for s in mes.production.iter_styles(page_size=2)]
        assert skus == ["RNG-1", "RNG-2", "RNG-3", "RNG-4", "RNG-5"]
        assert [s.sku async for s in mes.production.iter_styles(page_size=2, limit=3)] == ["RNG-1", "RNG-2", "RNG-3"]


async def test_nothing_listening_is_unavailable_after_retries() -> None:
    config = ClientConfig(
        orders_addr=f"127.0.0.1:{free_port()}",
        deadline_s=2.0,
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02),
    )
    async with MesClients(config) as mes:
        with pytest.raises(UnavailableError) as down:
            await mes.orders.get_order("orders/1")
    assert down.value.reason == "UNAVAILABLE"


async def test_unopened_bundle_fails_clearly() -> None:
    with pytest.raises(RuntimeError, match="not open"):
        _ = MesClients(ClientConfig()).orders
