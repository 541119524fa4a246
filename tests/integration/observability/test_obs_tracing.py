"""OpenTelemetry spans follow a submitted order's whole saga from its first trace id.

The three services run in process on SQLite with a private nats-server (the saga tests' stack), the
GraphQL facade in process over them; every span goes to the SDK's ``InMemorySpanExporter``. From the
facade's request span, the parents lead to every hop: the facade's client call, the orders server
span, the outbox row (its ``traceparent`` is that span), the relay's publish, the consumers of
production, inventory and orders, and the rows they wrote. Events applied in one transaction each
get their own consumer span, linked to the batch's span.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from graphql_facade.config import FacadeSettings
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes_contracts.events import (
    ORDER_SUBMITTED,
    REQUIREMENTS_COMPUTED,
    RESERVATION_HELD,
    WORK_ORDERS_RELEASED,
)
from mes_platform.telemetry.trace_export import use_provider
from mes_platform.telemetry.tracing import parse_traceparent
from tests._infra.nats import NatsServer
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.saga.saga_stack import ALLOY, STYLE, SVC, SagaStack, T, eventually, start_stack

OS = ords.OrderStatus
SUBMIT = """mutation($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { order { id } } }"""
ORDER = {
    "partnerReference": "PO-TRACE-1",
    "dueTime": "2031-06-01T12:00:00+00:00",
    "lines": [{"styleCode": STYLE, "alloyCode": ALLOY, "quantity": 1, "size": "54"}],
}

_PROVIDER = TracerProvider(sampler=ParentBased(ALWAYS_ON))
_EXPORTER = InMemorySpanExporter()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span of the test, recorded (always sampled) in memory."""
    _EXPORTER.clear()
    use_provider(_PROVIDER)
    try:
        yield _EXPORTER
    finally:
        use_provider(None)
        _EXPORTER.clear()


@pytest.fixture
async def stack(
    spans: InMemorySpanExporter, make_nats_server: Callable[..., NatsServer], tmp_path: Path
) -> AsyncIterator[SagaStack]:
    urls = {svc: f"sqlite+aiosqlite:///{tmp_path / svc}.db" for svc in ("orders", "inventory", "production")}
    started = await start_stack(urls, str(make_nats_server().url), str(tmp_path))
    try:
        yield started
    finally:
        await started.aclose()


def _ids(span: ReadableSpan) -> tuple[str, str]:
    ctx = span.context
    assert ctx is not None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def _group(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("messaging.consumer.group.name"))


def _parent_id(span: ReadableSpan) -> str:
    return f"{span.parent.span_id:016x}" if span.parent is not None else ""


class Trace:
    """The finished spans of one trace, by id, with the ones under each span."""

    def __init__(self, all_spans: tuple[ReadableSpan, ...], trace_id: str) -> None:
        self.spans = {_ids(s)[1]: s for s in all_spans if _ids(s)[0] == trace_id}
        self.children: dict[str, list[ReadableSpan]] = {}
        for s in self.spans.values():
            self.children.setdefault(_parent_id(s), []).append(s)

    def child(self, parent: ReadableSpan, name: str, kind: SpanKind) -> ReadableSpan:
        """The one span called ``name`` of ``kind`` directly under ``parent``."""
        found = [s for s in self.children.get(_ids(parent)[1], []) if s.name == name and s.kind == kind]
        assert len(found) == 1, (name, [(s.name, s.kind) for s in self.children.get(_ids(parent)[1], [])])
        return found[0]

    def writer(self, meta: Any, subject: str, parent: ReadableSpan) -> ReadableSpan:
        """The consumer span an outbox row names as its cause: it handled ``subject`` under ``parent``."""
        ctx = parse_traceparent(meta.traceparent)
        assert ctx is not None and ctx.trace_id == _ids(parent)[0]
        span = self.spans[ctx.span_id]
        assert (span.name, span.kind) == (f"process {subject}", SpanKind.CONSUMER)
        assert _parent_id(span) == _ids(parent)[1]
        return span

    def reachable_from(self, root: ReadableSpan) -> set[str]:
        seen: set[str] = set()
        todo = [_ids(root)[1]]
        while todo:
            span_id = todo.pop()
            if span_id in seen:
                continue
            seen.add(span_id)
            todo.extend(_ids(s)[1] for s in self.children.get(span_id, []))
        return seen


def _events_meta(events: list[Any], order_id: str) -> Any:
    [meta] = [
        e.meta
        for e in events
        if order_id in (getattr(e, "order_id", ""), getattr(getattr(e, "order", None), "order_id", ""))
    ]
    return meta


def _written_by(meta: Any, span: ReadableSpan) -> None:
    """The outbox row's trace context is ``span``'s (it caused the event)."""
    ctx = parse_traceparent(meta.traceparent)
    assert ctx is not None
    assert (ctx.trace_id, ctx.span_id) == _ids(span)


def _linked_batch(span: ReadableSpan, exported: tuple[ReadableSpan, ...]) -> ReadableSpan:
    """The batch span ``span`` links to (it must link to exactly one)."""
    [link] = span.links
    [batch] = [s for s in exported if _ids(s) == (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}")]
    assert batch.kind == SpanKind.CONSUMER and batch.name.endswith(" batch")
    return batch


async def test_a_submitted_orders_saga_is_one_trace_from_the_facade_request(
    stack: SagaStack, spans: InMemorySpanExporter
) -> None:
    await stack.seed(metal_mg=50_000)
    reply = await stack.orders.CreatePartner(
        ords.CreatePartnerRequest(partner_id="tracer", display_name="Tracer"), metadata=SVC, timeout=T
    )
    addresses = {
        "MES_ORDERS_ADDR": f"127.0.0.1:{stack.orders_apps[0].port}",
        "MES_INVENTORY_ADDR": f"127.0.0.1:{stack.inventory_apps[0].port}",
        "MES_PRODUCTION_ADDR": f"127.0.0.1:{stack.production_apps[0].port}",
    }
    settings = FacadeSettings.from_env(
        {**addresses, "MES_FACADE_SERVICE_TOKEN": "svc-token", "MES_FACADE_CACHE": "0", "MES_FACADE_METRICS_PORT": "0"}
    )
    async with facade_app(settings) as facade:
        answer = await facade.gql(SUBMIT, {"input": ORDER, "key": "trace-1"}, headers={"X-API-Key": reply.api_key})
    body = answer.json()
    assert "errors" not in body, body
    order_id = body["data"]["submitOrder"]["order"]["id"].removeprefix("orders/")
    await stack.wait_status(order_id, OS.ORDER_STATUS_IN_PRODUCTION)

    # The facade's request span is the root: the trace id a user starts from.
    [request] = [
        s
        for s in spans.get_finished_spans()
        if s.name == "POST /graphql" and s.kind == SpanKind.SERVER and s.parent is None
    ]
    trace_id = _ids(request)[0]
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 200

    released_subject = f"process {WORK_ORDERS_RELEASED.subject}"

    async def whole_saga() -> Trace | None:
        trace = Trace(spans.get_finished_spans(), trace_id)
        # the events two services consume: each consumer's span is there once it has handled it
        for subject in (RESERVATION_HELD.subject, WORK_ORDERS_RELEASED.subject):
            if len({_group(s) for s in trace.spans.values() if s.name == f"process {subject}"}) < 2:
                return None
        return trace

    trace = await eventually(whole_saga, what="the spans of the whole saga")

    submit = "mes.orders.v1.OrdersService/SubmitOrder"
    client = trace.child(request, submit, SpanKind.CLIENT)
    server = trace.child(client, submit, SpanKind.SERVER)
    assert server.attributes is not None and server.attributes["rpc.method"] == "SubmitOrder"
    submitted = await stack.outbox("orders", ORDER_SUBMITTED.subject, ord_ev.OrderSubmittedEvent)
    _written_by(_events_meta(submitted, order_id), server)
    published = trace.child(server, f"publish {ORDER_SUBMITTED.subject}", SpanKind.PRODUCER)
    assert (published.attributes or {})["messaging.destination.name"] == ORDER_SUBMITTED.subject

    # Each hop: the row a consumer wrote names the consumer span that handled the event, and that
    # span's parent is the span that wrote the event (a retried event may have failed spans besides).
    computed = await stack.outbox("production", REQUIREMENTS_COMPUTED.subject, prod_ev.RequirementsComputedEvent)
    exploded = trace.writer(_events_meta(computed, order_id), ORDER_SUBMITTED.subject, server)
    assert (exploded.attributes or {})["mes.order_id"] == order_id
    held = await stack.outbox("inventory", RESERVATION_HELD.subject, inv_ev.ReservationHeldEvent)
    reserved = trace.writer(_events_meta(held, order_id), REQUIREMENTS_COMPUTED.subject, exploded)
    released = await stack.outbox("production", WORK_ORDERS_RELEASED.subject, prod_ev.WorkOrdersReleasedEvent)
    releasing = trace.writer(_events_meta(released, order_id), RESERVATION_HELD.subject, reserved)
    accepted = {_group(s) for s in trace.children[_ids(reserved)[1]] if s.name == f"process {RESERVATION_HELD.subject}"}
    assert len(accepted) == 2  # orders (ACCEPTED) and production (work orders released)
    last = {_group(s) for s in trace.children[_ids(releasing)[1]] if s.name == released_subject}
    assert len(last) == 2  # orders (IN_PRODUCTION) and inventory (reservation committed)

    # Every span of the trace hangs from the facade's request.
    assert trace.reachable_from(request) == set(trace.spans)


async def test_events_of_one_batch_get_their_own_spans_linked_to_the_batch(
    stack: SagaStack, spans: InMemorySpanExporter
) -> None:
    await stack.seed(metal_mg=50_000)
    [production] = stack.production_apps
    explode = [c for c in stack.consumers(production) if ORDER_SUBMITTED.subject in c.filter_subjects]
    assert explode, [c.filter_subjects for c in stack.consumers(production)]
    for consumer in explode:
        await consumer.stop()

    async def idle() -> bool:  # no pull request of the stopped subscription is left on the server
        return [(await c.ensure()).num_waiting for c in explode] == [0] * len(explode)

    await eventually(idle, what="the stopped consumer's last pull request to expire")
    order_ids = [await stack.submit() for _ in range(3)]  # three calls, three traces, waiting in the stream

    async def waiting() -> bool:
        return sum([(await c.ensure()).num_pending or 0 for c in explode]) >= 3

    await eventually(waiting, what="the three events waiting for the consumer")
    for consumer in explode:
        await consumer.start()  # its first fetch takes the three together
    for order_id in order_ids:
        await stack.wait_status(order_id, OS.ORDER_STATUS_IN_PRODUCTION)

    submitted = await stack.outbox("orders", ORDER_SUBMITTED.subject, ord_ev.OrderSubmittedEvent)
    callers = {order_id: parse_traceparent(_events_meta(submitted, order_id).traceparent) for order_id in order_ids}
    assert len({c.trace_id for c in callers.values() if c is not None}) == 3

    async def event_spans() -> dict[str, ReadableSpan] | None:
        found = {
            str((s.attributes or {}).get("mes.order_id")): s
            for s in spans.get_finished_spans()
            if s.name == f"process {ORDER_SUBMITTED.subject}"
        }
        return found if set(order_ids) <= set(found) else None

    handled = await eventually(event_spans, what="a consumer span per submitted order")
    exported = spans.get_finished_spans()
    batches = {}
    for order_id in order_ids:
        span = handled[order_id]
        caller = callers[order_id]
        assert caller is not None
        # its own span, in its own trace, under the span that wrote the event ...
        assert _ids(span)[0] == caller.trace_id and _parent_id(span) == caller.span_id
        # ... linked to the span of the transaction that applied it
        batch = _linked_batch(span, exported)
        batches[_ids(batch)] = batch
    assert len(batches) < len(order_ids)  # at least two of them were applied in one transaction
    for batch in batches.values():
        linked = {(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in batch.links}
        members = [o for o in order_ids if _ids(_linked_batch(handled[o], exported)) == _ids(batch)]
        assert batch.attributes is not None and batch.attributes["messaging.batch.message_count"] >= len(members)
        assert {(callers[o].trace_id, callers[o].span_id) for o in members} <= linked  # type: ignore[union-attr]
