"""The facade continues the caller's ``traceparent`` (or starts a trace) and sends it with every
backend call; the orders service carries it into the event it writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy import select

from graphql_facade.backend import open_backend
from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import ORDER_SUBMITTED
from mes_platform.telemetry.tracing import parse_traceparent
from services.orders.adapters.tables import infra
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.graphql_facade.facade_stack import Stack, create_partner

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SUBMIT = """mutation($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { order { id } } }"""
ORDER = {
    "partnerReference": "PO-T1",
    "dueTime": "2031-06-01T12:00:00+00:00",
    "lines": [{"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "size": "52"}],
}


class MetadataRecorder(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Records (method, traceparent) of every unary call leaving the facade."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        method = client_call_details.method
        name = (method.decode() if isinstance(method, bytes) else str(method)).rsplit("/", 1)[-1]
        metadata = dict(client_call_details.metadata or ())
        self.calls.append((name, metadata.get("traceparent")))
        return await continuation(client_call_details, request)


async def test_the_callers_trace_reaches_the_services_and_their_events(stack: Stack) -> None:
    acme = {"X-API-Key": await create_partner(stack, "acme")}
    recorder = MetadataRecorder()
    settings = stack.facade_settings(MES_FACADE_CACHE="0")
    backend = open_backend(settings, interceptors=[recorder])
    async with facade_app(settings, backend=backend) as facade:
        headers = {**acme, "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"}
        body = (await facade.gql(SUBMIT, {"input": ORDER, "key": "k-trace"}, headers=headers)).json()
        assert "errors" not in body, body
        traced = list(recorder.calls)
        recorder.calls.clear()
        await facade.gql("{ orders(first: 1) { nodes { id } } }", headers=acme)
        await facade.gql("{ orders(first: 1) { nodes { id } } }", headers=acme)

    methods = {name for name, _ in traced}
    assert {"AuthenticatePartner", "SubmitOrder"} <= methods
    facade_spans = {parse_traceparent(value) for _, value in traced}
    assert len(facade_spans) == 1  # one span for the request, sent with every call
    [facade_span] = facade_spans
    assert facade_span is not None and facade_span.trace_id == TRACE and facade_span.span_id != CALLER_SPAN

    async with stack.orders.db.read() as session:
        payloads = (
            await session.execute(
                select(infra.outbox.c.payload).where(infra.outbox.c.subject == ORDER_SUBMITTED.subject)
            )
        ).scalars()
        [event] = [orders_events_pb2.OrderSubmittedEvent.FromString(bytes(p)) for p in payloads]
    service_span = parse_traceparent(event.meta.traceparent)
    assert service_span is not None
    assert service_span.trace_id == TRACE and service_span.span_id not in {CALLER_SPAN, facade_span.span_id}

    # Without a traceparent header each request starts its own trace.
    untraced = {value for _, value in recorder.calls}
    assert None not in untraced
    traces = {span.trace_id for span in map(parse_traceparent, untraced) if span is not None}
    assert len(traces) == 2 and TRACE not in traces
