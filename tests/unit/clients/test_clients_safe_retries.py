"""What a stopping server leaves behind is retried when repeating is safe: UNAVAILABLE and the
server's CANCELLED, with the same request id on every attempt, within the call's deadline; and
client-side health checking keeps calls away from a server that reports NOT_SERVING."""

from __future__ import annotations

import json

import grpc
import pytest

from clients import ClientConfig, MesClientError, OrdersClient, RetryPolicy, UnavailableError
from clients._retry import RETRIED_CODES, call_with_retry
from mes.orders.v1 import orders_pb2
from tests.unit.clients.clients_fakes import FakeChannel, plain_error

C = grpc.StatusCode
FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.001, max_backoff_s=0.002)


def cancelled() -> grpc.aio.AioRpcError:
    """What a client sees for a call the server dropped while stopping."""
    return plain_error(C.CANCELLED, "CANCELLED")


def _orders(channel: FakeChannel) -> OrdersClient:
    return OrdersClient(ClientConfig(retry=FAST), channel=channel)  # type: ignore[arg-type]


def test_unavailable_and_cancelled_are_the_retried_codes() -> None:
    assert frozenset({C.UNAVAILABLE, C.CANCELLED}) == RETRIED_CODES


async def test_the_loop_retries_cancelled_only_for_calls_safe_to_repeat() -> None:
    calls = 0

    async def flaky(timeout: float) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise MesClientError(C.CANCELLED, "server went away")
        return "ok"

    assert await call_with_retry(flaky, deadline_s=5, policy=FAST, retryable=True) == "ok"
    assert calls == 2
    calls = 0
    with pytest.raises(MesClientError) as caught:
        await call_with_retry(flaky, deadline_s=5, policy=FAST, retryable=False)
    assert caught.value.code == C.CANCELLED and calls == 1


async def test_a_submission_cancelled_by_a_stopping_server_is_sent_again_with_its_request_id() -> None:
    reply = orders_pb2.SubmitOrderResponse(order=orders_pb2.Order(name="orders/9"), replayed=True)
    channel = FakeChannel({"SubmitOrder": [cancelled(), plain_error(C.UNAVAILABLE, "connection refused"), reply]})
    resp = await _orders(channel).submit_order(partner_reference="R-9", lines=[orders_pb2.OrderLine(quantity=1)])
    assert resp.order.name == "orders/9"
    ids = [call.request.request_id for call in channel.calls]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0]
    # every attempt shares the one deadline of the call
    assert all(call.timeout is not None and call.timeout <= 10.0 for call in channel.calls)


async def test_reads_are_retried_after_cancelled_too() -> None:
    order = orders_pb2.Order(name="orders/1")
    channel = FakeChannel({"GetOrder": [cancelled(), orders_pb2.GetOrderResponse(order=order)]})
    assert await _orders(channel).get_order("orders/1") == order
    assert channel.methods() == ["GetOrder", "GetOrder"]


async def test_a_call_without_request_id_is_not_repeated_after_cancelled_or_unavailable() -> None:
    channel = FakeChannel({"CreatePartner": [cancelled(), plain_error(C.UNAVAILABLE)]})
    client = _orders(channel)
    with pytest.raises(MesClientError) as caught:
        await client.create_partner("acme")
    assert caught.value.code == C.CANCELLED
    with pytest.raises(UnavailableError):
        await client.create_partner("acme")
    assert channel.methods() == ["CreatePartner", "CreatePartner"]


async def test_cancelled_retries_stop_at_max_attempts() -> None:
    channel = FakeChannel({"GetOrder": [cancelled()] * 6})
    with pytest.raises(MesClientError) as caught:
        await _orders(channel).get_order("orders/1")
    assert caught.value.code == C.CANCELLED
    assert len(channel.calls) == FAST.max_attempts


def test_health_checking_is_a_service_config_of_round_robin_channels() -> None:
    options = dict(ClientConfig(lb_policy="round_robin", health_check=True).channel_options())
    assert options["grpc.lb_policy_name"] == "round_robin"
    assert json.loads(str(options["grpc.service_config"])) == {"healthCheckConfig": {"serviceName": ""}}
    assert "grpc.service_config" not in dict(ClientConfig(lb_policy="round_robin").channel_options())
    with pytest.raises(ValueError, match="round_robin"):
        ClientConfig(health_check=True)
