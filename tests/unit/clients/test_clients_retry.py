"""Which calls are retried, the back-off schedule, the shared deadline, and request_id generation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest

from clients import (
    ClientConfig,
    ConflictError,
    DeadlineExceededError,
    InventoryClient,
    OrdersClient,
    ProductionClient,
    RetryPolicy,
    UnavailableError,
    is_idempotent,
)
from clients._retry import call_with_retry
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2
from tests.unit.clients.clients_fakes import FakeChannel, plain_error, rich_error

C = grpc.StatusCode
FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.001, max_backoff_s=0.002)
T = TypeVar("T")


def unavailable() -> grpc.aio.AioRpcError:
    return rich_error(C.UNAVAILABLE, "database unreachable", reason="UNAVAILABLE")


@pytest.mark.parametrize(
    ("method", "request_message", "expected"),
    [
        ("GetOrder", orders_pb2.GetOrderRequest(), True),
        ("ListOrders", orders_pb2.ListOrdersRequest(), True),
        ("BatchGetOrders", orders_pb2.BatchGetOrdersRequest(), True),
        ("CountOrders", orders_pb2.CountOrdersRequest(), True),
        ("SummarizeMetalLoss", production_pb2.SummarizeMetalLossRequest(), True),
        ("ExplodeBillOfMaterials", production_pb2.ExplodeBillOfMaterialsRequest(), True),
        ("UpsertAlloy", inventory_pb2.UpsertAlloyRequest(), True),
        ("SubmitOrder", orders_pb2.SubmitOrderRequest(request_id="r-1"), True),
        ("SubmitOrder", orders_pb2.SubmitOrderRequest(), False),
        ("CancelOrder", orders_pb2.CancelOrderRequest(name="orders/1"), False),
        ("CreatePartner", orders_pb2.CreatePartnerRequest(partner_id="acme"), False),
        ("CloseWorkOrder", production_pb2.CloseWorkOrderRequest(name="workOrders/1"), False),
        ("ResolveLossReview", production_pb2.ResolveLossReviewRequest(), False),
    ],
)
def test_idempotent_calls(method: str, request_message: object, expected: bool) -> None:
    assert is_idempotent(method, request_message) is expected  # type: ignore[arg-type]


def test_backoff_is_exponential_capped_and_jittered_downwards() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=0.5, multiplier=2.0, jitter=0.5)
    assert [policy.backoff(n, 0.0) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert policy.backoff(2, 1.0) == pytest.approx(0.1)  # full jitter of 50 % halves the wait
    assert 0.1 <= policy.backoff(2, 0.3) <= 0.2
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def _retry(
    attempt: Callable[[float], Awaitable[T]],
    clock: _Clock,
    *,
    deadline_s: float,
    policy: RetryPolicy = FAST,
    retryable: bool = True,
) -> T:
    """``call_with_retry`` on the test's clock, the jitter drawn as 0."""
    return await call_with_retry(
        attempt,
        deadline_s=deadline_s,
        policy=policy,
        retryable=retryable,
        sleep=clock.sleep,
        random_unit=lambda: 0.0,
        clock=clock,
    )


class _Failing:
    """An attempt that always fails with ``error()``, counting its calls; each takes ``seconds`` of ``clock``."""

    def __init__(self, error: Callable[[], Exception], clock: _Clock, seconds: float = 0.0) -> None:
        self.error, self.clock, self.seconds = error, clock, seconds
        self.calls = 0

    async def __call__(self, timeout: float) -> None:
        self.calls += 1
        self.clock.now += self.seconds
        raise self.error()


def _down() -> UnavailableError:
    return UnavailableError(C.UNAVAILABLE, "down")


async def test_retry_loop_retries_unavailable_with_backoff_within_the_deadline() -> None:
    clock = _Clock()
    timeouts: list[float] = []

    async def attempt(timeout: float) -> str:
        timeouts.append(timeout)
        clock.now += 0.5  # each attempt takes half a second
        if len(timeouts) < 3:
            raise _down()
        return "ok"

    policy = RetryPolicy(max_attempts=5, initial_backoff_s=1.0, max_backoff_s=10.0, jitter=0.0)
    assert await _retry(attempt, clock, deadline_s=10.0, policy=policy) == "ok"
    assert clock.sleeps == [1.0, 2.0]
    # Every attempt gets what is left of the one deadline.
    assert timeouts == [10.0, pytest.approx(8.5), pytest.approx(6.0)]


async def test_retry_loop_gives_up_when_the_backoff_would_pass_the_deadline() -> None:
    clock = _Clock()
    attempt = _Failing(_down, clock, seconds=1.0)
    policy = RetryPolicy(max_attempts=10, initial_backoff_s=1.0, jitter=0.0, max_backoff_s=1.0)
    with pytest.raises(UnavailableError):
        await _retry(attempt, clock, deadline_s=3.5, policy=policy)
    assert attempt.calls == 2  # 1s call + 1s wait + 1s call = 3s; another wait would end at 4s > 3.5s


async def test_retry_loop_stops_at_max_attempts_and_never_retries_other_errors() -> None:
    clock = _Clock()
    down, refused, conflict = (
        _Failing(_down, clock),
        _Failing(_down, clock),
        _Failing(lambda: ConflictError(C.ABORTED, "version conflict"), clock),
    )
    with pytest.raises(UnavailableError):
        await _retry(down, clock, deadline_s=60)
    assert down.calls == 4
    with pytest.raises(UnavailableError):
        await _retry(refused, clock, deadline_s=60, retryable=False)
    assert refused.calls == 1
    with pytest.raises(ConflictError):
        await _retry(conflict, clock, deadline_s=60)
    assert conflict.calls == 1


async def test_retry_loop_raises_deadline_exceeded_when_no_time_is_left() -> None:
    clock = _Clock()

    async def attempt(timeout: float) -> None:
        raise AssertionError("must not be called")

    with pytest.raises(DeadlineExceededError):
        await _retry(attempt, clock, deadline_s=0.0)


def _orders(channel: FakeChannel, **config: object) -> OrdersClient:
    return OrdersClient(ClientConfig(retry=FAST, **config), channel=channel)  # type: ignore[arg-type]


async def test_client_retries_get_through_the_port_and_sends_deadline_and_credentials() -> None:
    order = orders_pb2.Order(name="orders/1", order_id="1")
    channel = FakeChannel({"GetOrder": [unavailable(), unavailable(), orders_pb2.GetOrderResponse(order=order)]})
    client = _orders(channel, token="tok", partner="acme", deadline_s=5.0)
    assert await client.get_order("orders/1") == order
    assert channel.methods() == ["GetOrder"] * 3
    first = channel.calls[0]
    assert first.timeout == pytest.approx(5.0, abs=0.5)
    assert ("authorization", "Bearer tok") in first.metadata and ("x-mes-partner", "acme") in first.metadata
    assert all(call.timeout is not None and call.timeout <= 5.0 for call in channel.calls)


async def test_submit_generates_one_request_id_and_reuses_it_on_retries() -> None:
    reply = orders_pb2.SubmitOrderResponse(order=orders_pb2.Order(name="orders/7"), replayed=True)
    channel = FakeChannel({"SubmitOrder": [unavailable(), reply]})
    resp = await _orders(channel).submit_order(partner_reference="R-1", lines=[orders_pb2.OrderLine(quantity=1)])
    assert resp.replayed
    ids = [call.request.request_id for call in channel.calls]
    assert len(ids) == 2 and ids[0] == ids[1]
    uuid.UUID(ids[0])  # a uuid4


async def test_given_request_id_is_kept_and_non_idempotent_calls_are_not_retried() -> None:
    channel = FakeChannel({"SubmitOrder": [orders_pb2.SubmitOrderResponse()], "CreatePartner": [unavailable()]})
    client = _orders(channel)
    await client.submit_order(orders_pb2.SubmitOrderRequest(partner_reference="R", request_id="mine"))
    assert channel.calls[0].request.request_id == "mine"
    with pytest.raises(UnavailableError):
        await client.create_partner("acme")
    assert channel.methods().count("CreatePartner") == 1


async def test_request_and_keyword_fields_are_exclusive() -> None:
    client = _orders(FakeChannel())
    with pytest.raises(TypeError):
        await client.submit_order(orders_pb2.SubmitOrderRequest(), partner_reference="x")
    with pytest.raises(TypeError):
        await client.list_orders(orders_pb2.GetOrderRequest())  # type: ignore[arg-type]


async def test_inventory_and_production_mutations_get_request_ids() -> None:
    channel = FakeChannel(
        {
            "ReceiveLot": [unavailable(), inventory_pb2.ReceiveLotResponse(lot=inventory_pb2.MaterialLot(lot_id="L"))],
            "StartOperation": [production_pb2.StartOperationResponse()],
            "FinishOperation": [production_pb2.FinishOperationResponse()],
        }
    )
    inventory = InventoryClient(ClientConfig(retry=FAST), channel=channel)  # type: ignore[arg-type]
    lot = await inventory.receive_lot(kind=1, material_code="AU750Y", weight_mg=1000)
    assert lot.lot_id == "L"
    production = ProductionClient(ClientConfig(retry=FAST), channel=channel)  # type: ignore[arg-type]
    await production.start_operation(name="workOrders/W/operations/1", operator_code="OP", weigh_in_mg=10)
    await production.finish_operation(name="workOrders/W/operations/1", operator_code="OP", weigh_out_mg=9)
    receive = [c.request.request_id for c in channel.calls if c.method == "ReceiveLot"]
    assert len(receive) == 2 and receive[0] == receive[1] != ""
    assert all(c.request.request_id for c in channel.calls)


async def test_transport_deadline_is_not_retried() -> None:
    channel = FakeChannel({"GetOrder": [plain_error(C.DEADLINE_EXCEEDED, "Deadline Exceeded")]})
    with pytest.raises(DeadlineExceededError):
        await _orders(channel).get_order("orders/1", timeout=0.5)
    assert len(channel.calls) == 1 and channel.calls[0].timeout == pytest.approx(0.5, abs=0.1)


async def test_api_key_replaces_the_token_and_owned_channel_is_not_closed_when_given() -> None:
    channel = FakeChannel({"GetOrder": [orders_pb2.GetOrderResponse()]})
    async with _orders(channel, token="tok", api_key="pk_live") as client:
        await client.get_order("orders/1")
    assert channel.calls[0].metadata == (("x-api-key", "pk_live"),)
    assert not channel.closed
