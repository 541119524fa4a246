"""The partners' usage per GraphQL operation, per error code and of ``submitOrder``: the meter's counts
(the 50-name bound, batches), the stages' notes, the gRPC watch of ``SubmitOrder`` (with a fake call),
and the endpoint feeding them (fake services)."""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from graphql_facade.auth import Viewer
from graphql_facade.limits import LimitCode, partner_limits
from graphql_facade.usage import (
    LATENCY_BOUNDS_MS,
    MAX_ERROR_CODES,
    MAX_OPERATIONS,
    OTHER,
    OTHER_CODE,
    SUBMIT_ORDER_METHOD,
    ClosedMinute,
    OperationUse,
    PartnerMinute,
    RequestUsage,
    SubmissionWatch,
    UsageMeter,
    note_error,
    note_errors,
    note_operation_name,
    note_operations,
    note_refusal,
    operation,
    track,
    untrack,
)
from mes.orders.v1 import orders_pb2 as ords
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

T0 = 1_800_000_000 - 1_800_000_000 % 60
STANDARD = partner_limits("STANDARD")
PARTNER = Viewer("partner", "partner-a", partner_id="partner-a", tier="STANDARD")


@dataclass
class Clock:
    now: float = T0 + 5.0

    def __call__(self) -> float:
        return self.now


def ops(*names: str | None, failed: bool = False, seconds: float | None = None) -> list[OperationUse]:
    return [OperationUse(name, failed, seconds) for name in names]


def record(
    meter: UsageMeter, usage: RequestUsage, status: int = 200, ms: float = 3.0, *, viewer: Viewer = PARTNER
) -> None:
    meter.record(viewer, STANDARD, usage, status, ms / 1000.0)


def only(closed: list[ClosedMinute]) -> PartnerMinute:
    assert len(closed) == 1 and len(closed[0].partners) == 1
    return closed[0].partners[0]


def bucket_of(ms: float) -> list[int]:
    counts = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    for i, bound in enumerate(LATENCY_BOUNDS_MS):
        if ms <= bound:
            counts[i] = 1
            return counts
    counts[-1] = 1
    return counts


def per_operation(tally: PartnerMinute) -> dict[str, tuple[int, int]]:
    return {name: (op.requests, op.errors) for name, op in tally.operations.items()}


# -- the meter ---------------------------------------------------------------------------------------


def test_each_operation_counts_its_requests_errors_and_latency() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, RequestUsage(operations=ops("Orders")), ms=3.0)
    record(meter, RequestUsage(operations=ops("Orders", failed=True)), ms=40.0)
    record(meter, RequestUsage(operations=ops(None)), ms=0.5)  # an anonymous document
    record(meter, RequestUsage(rate_limited=True), 429, ms=0.2)  # refused before its body was read
    record(meter, RequestUsage(operations=ops("Styles")), 400, ms=1.5)  # an error status: the operation failed
    got = only(meter.close(everything=True))
    assert got.requests == 5
    assert per_operation(got) == {"Orders": (2, 1), OTHER: (2, 1), "Styles": (1, 1)}
    orders = got.operations["Orders"]
    assert orders.latency_ms_sum == 43.0
    assert orders.latency_counts == [a + b for a, b in zip(bucket_of(3.0), bucket_of(40.0), strict=True)]
    assert sum(got.operations[OTHER].latency_counts) == 2
    assert sum(op.requests for op in got.operations.values()) == got.requests  # one operation per request


def test_at_most_50_operation_names_per_partner_and_minute() -> None:
    clock = Clock()
    meter = UsageMeter(clock=clock)
    for n in range(MAX_OPERATIONS + 5):
        record(meter, RequestUsage(operations=ops(f"Op{n}")))
    record(meter, RequestUsage(operations=ops(None)))  # an anonymous one: "other" is not a name of the 50
    record(meter, RequestUsage(operations=ops("Op0", failed=True)))  # a name already counted still is
    record(
        meter, RequestUsage(operations=ops("Op99")), viewer=Viewer("partner", "p2", partner_id="p2", tier="STANDARD")
    )
    closed = meter.close(everything=True)
    by_partner = {p.partner_id: p for c in closed for p in c.partners}
    got = by_partner["partner-a"]
    assert len(got.operations) == MAX_OPERATIONS + 1
    assert per_operation(got)[OTHER] == (6, 0)  # five names beyond the bound and the anonymous one
    assert per_operation(got)["Op0"] == (2, 1)
    assert "Op50" not in got.operations and "Op49" in got.operations
    assert per_operation(by_partner["p2"]) == {"Op99": (1, 0)}  # each partner has its own bound
    clock.now += 60  # a new minute has room again
    record(meter, RequestUsage(operations=ops("Op54")))
    assert per_operation(only(meter.close(everything=True))) == {"Op54": (1, 0)}


def test_a_batch_counts_once_in_requests_and_each_operation_in_its_own() -> None:
    meter = UsageMeter(clock=Clock())
    batch = RequestUsage(
        operations=[
            OperationUse("Orders", False, 0.004),
            OperationUse("Orders", True, 0.0001),
            OperationUse(None, False, 0.3),
        ],
        codes={"BAD_USER_INPUT"},
    )
    record(meter, batch, 200, ms=310.0)
    got = only(meter.close(everything=True))
    assert (got.requests, got.errors_4xx, got.latency_ms_sum) == (1, 0, 310.0)
    assert per_operation(got) == {"Orders": (2, 1), OTHER: (1, 0)}
    # Each operation of a batch counts its own time, not the batch's.
    assert got.operations["Orders"].latency_counts == [
        a + b for a, b in zip(bucket_of(4.0), bucket_of(0.1), strict=True)
    ]
    assert got.operations[OTHER].latency_counts == bucket_of(300.0)
    assert round(got.operations[OTHER].latency_ms_sum, 6) == 300.0
    assert got.error_codes == {"BAD_USER_INPUT": 1}


def test_a_response_with_an_error_status_fails_every_operation_of_it() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, RequestUsage(operations=ops("A", "B"), rate_limited=True, codes={"RATE_LIMITED"}), 429)
    record(meter, RequestUsage(operations=ops("A", "B"), codes={"INTERNAL_SERVER_ERROR"}), 500)
    got = only(meter.close(everything=True))
    assert (got.requests, got.rate_limited, got.errors_5xx) == (2, 1, 1)
    assert per_operation(got) == {"A": (2, 2), "B": (2, 2)}
    assert got.error_codes == {"RATE_LIMITED": 1, "INTERNAL_SERVER_ERROR": 1}


def test_error_codes_count_once_per_request_and_code_and_are_bounded() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, RequestUsage(operations=ops("A"), codes={"THROTTLED"}, throttled=True), 429)
    record(meter, RequestUsage(operations=ops("A"), codes={"BAD_USER_INPUT", "NOT_FOUND"}))
    record(meter, RequestUsage(operations=ops("A"), codes={"BAD_USER_INPUT"}))
    record(meter, RequestUsage(operations=ops("A"), codes={"not a code"}))
    for n in range(MAX_ERROR_CODES + 2):
        record(meter, RequestUsage(codes={f"CODE_{n}"}))
    got = only(meter.close(everything=True))
    assert got.error_codes["THROTTLED"] == 1 and got.error_codes["NOT_FOUND"] == 1
    assert got.error_codes["BAD_USER_INPUT"] == 2
    assert len(got.error_codes) == MAX_ERROR_CODES + 1
    # "not a code" and the codes beyond the bound: the 50 first distinct ones are kept.
    kept = MAX_ERROR_CODES - 3
    assert got.error_codes[OTHER_CODE] == 1 + (MAX_ERROR_CODES + 2 - kept)
    assert f"CODE_{kept - 1}" in got.error_codes and f"CODE_{kept}" not in got.error_codes


def test_submissions_replays_and_reused_keys_add_up() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, RequestUsage(operations=ops("Submit"), submissions=1))
    record(meter, RequestUsage(operations=ops("Submit"), submissions=1, replays=1))
    record(meter, RequestUsage(operations=ops("Submit"), submissions=2, replays=1, key_reused=1))
    got = only(meter.close(everything=True))
    assert (got.submissions, got.replays, got.key_reused) == (4, 2, 1)


# -- the stages' notes -------------------------------------------------------------------------------


@pytest.fixture
def usage() -> Generator[RequestUsage, None, None]:
    current = RequestUsage()
    token = track(current)
    try:
        yield current
    finally:
        untrack(token)


def test_the_operations_are_named_by_the_request_then_by_their_document(usage: RequestUsage) -> None:
    note_operations(
        [{"operationName": "Orders"}, {"query": "{ a }"}, "not an object", {"operationName": "not a name!"}, {}]
    )
    assert [op.name for op in usage.operations] == ["Orders", None, None, None, None]
    with operation(1):
        note_operation_name("Styles")  # the document's name of the operation running
    with operation(0):
        note_operation_name(None)  # an anonymous document
    assert [op.name for op in usage.operations][:2] == [None, "Styles"]
    assert all(op.seconds is not None and op.seconds >= 0 for op in usage.operations[:2])
    assert usage.operations[2].seconds is None and usage.current is None


def test_a_single_operation_takes_its_documents_name(usage: RequestUsage) -> None:
    note_operations([{"query": "query Orders { a }"}])
    note_operation_name("Orders")  # outside a batch: the request's one operation
    assert usage.operations == [OperationUse("Orders")]


def test_errors_fail_the_running_operation_or_the_whole_request(usage: RequestUsage) -> None:
    note_operations([{}, {}, {}])
    with operation(0):
        note_errors([{"message": "m", "extensions": {"code": "BAD_USER_INPUT"}}, {"message": "no code"}])
    with operation(1):
        note_refusal(LimitCode.THROTTLED, {"cost": {"requestedQueryCost": 12}})
    assert [op.failed for op in usage.operations] == [True, True, False]
    assert (usage.throttled, usage.rejected_cost) == (True, 12)
    note_error("INTERNAL_SERVER_ERROR")  # not within an operation: the whole request
    assert [op.failed for op in usage.operations] == [True, True, True]
    assert usage.codes == {"BAD_USER_INPUT", "THROTTLED", "INTERNAL_SERVER_ERROR"}
    note_errors(None)
    note_errors([])
    assert len(usage.codes) == 3


def test_nothing_is_noted_outside_a_counted_request() -> None:
    note_operations([{"operationName": "A"}])
    note_operation_name("A")
    note_errors([{"extensions": {"code": "X"}}])
    note_error("X")
    with operation(0):
        pass
    usage = RequestUsage()
    token = track(usage)
    untrack(token)
    note_error("X")
    assert usage == RequestUsage()


# -- the watch of SubmitOrder ------------------------------------------------------------------------


@dataclass
class Details:
    method: bytes | str


class FakeCall:
    """A finished unary call: awaiting it gives ``response`` or raises ``error``, every time."""

    def __init__(self, response: Any = None, error: grpc.aio.AioRpcError | None = None) -> None:
        self.response = response
        self.error = error
        self.awaited = 0

    def __await__(self) -> Generator[None, None, Any]:
        self.awaited += 1
        if self.error is not None:
            raise self.error
        return self.response
        yield  # a generator: awaitable


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=code.name)


async def watch(call: FakeCall, method: bytes | str = SUBMIT_ORDER_METHOD.encode()) -> Any:
    async def continuation(details: Any, request: Any) -> FakeCall:
        return call

    return await SubmissionWatch().intercept_unary_unary(continuation, Details(method), ords.SubmitOrderRequest())


async def test_the_orders_services_answers_to_submit_order_are_noted(usage: RequestUsage) -> None:
    new = FakeCall(ords.SubmitOrderResponse(replayed=False))
    assert await watch(new) is new  # the caller gets the call itself
    await watch(FakeCall(ords.SubmitOrderResponse(replayed=True)), SUBMIT_ORDER_METHOD)
    reused = FakeCall(error=rpc_error(grpc.StatusCode.ALREADY_EXISTS))
    assert await watch(reused) is reused
    with pytest.raises(grpc.aio.AioRpcError):
        await reused  # the caller still meets the failure
    await watch(FakeCall(error=rpc_error(grpc.StatusCode.INVALID_ARGUMENT)))  # answered: a refusal
    assert (usage.submissions, usage.replays, usage.key_reused) == (4, 1, 1)


async def test_calls_without_an_answer_and_other_methods_are_not_submissions(usage: RequestUsage) -> None:
    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        await watch(FakeCall(error=rpc_error(code)))
    other = FakeCall(ords.GetOrderResponse())
    assert await watch(other, b"/mes.orders.v1.OrdersService/GetOrder") is other
    assert other.awaited == 0  # left to the caller
    assert (usage.submissions, usage.replays, usage.key_reused) == (0, 0, 0)


async def test_a_submission_outside_a_counted_request_passes_untouched() -> None:
    call = FakeCall(ords.SubmitOrderResponse(replayed=True))
    assert await watch(call) is call and call.awaited == 0


# -- the endpoint ------------------------------------------------------------------------------------

ORDERS = "query Orders { orders(first: 5) { nodes { id } } }"
TWO = "query Orders { orders(first: 5) { nodes { id } } } query Styles { styles(first: 1) { nodes { sku } } }"
SUBMIT = """mutation Submit($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { order { id } } }"""
ORDER_INPUT = {
    "partnerReference": "PO-1",
    "dueTime": "2030-01-01T00:00:00+00:00",
    "lines": [{"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "size": "52"}],
}


def backend() -> FakeBackend:
    fake = FakeBackend()
    fake.add_catalogue()
    fake.add_partner("partner-a", PARTNER_A["X-API-Key"])
    return fake


async def test_the_endpoint_counts_operations_and_error_codes() -> None:
    digest = hashlib.sha256(ORDERS.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with running_app(backend(), facade_settings(MES_FACADE_CACHE="0")) as c:
        c.facade.usage = meter = UsageMeter(clock=Clock())
        assert (await c.gql(ORDERS, headers=PARTNER_A)).status_code == 200
        assert (await c.gql("{ styles(first: 1) { nodes { sku } } }", headers=PARTNER_A)).status_code == 200
        assert (await c.gql(TWO, headers=PARTNER_A, operation_name="Styles")).status_code == 200
        # A persisted query sent by its hash alone: named by its stored document.
        assert (await c.gql(ORDERS, headers=PARTNER_A, extensions=persisted)).status_code == 200
        by_hash = await c.http.post("/graphql", json={"extensions": persisted}, headers=PARTNER_A)
        assert by_hash.status_code == 200 and "errors" not in by_hash.json()
        invalid = await c.gql("query Broken { nope }", headers=PARTNER_A)
        assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        bad_input = {**ORDER_INPUT, "lines": [{"styleCode": "NOPE", "alloyCode": "AU750Y", "quantity": 1}]}
        refused = await c.gql(SUBMIT, {"input": bad_input, "key": "k-1"}, headers=PARTNER_A)
        assert refused.json()["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
        unknown = await c.http.post(
            "/graphql",
            json={"operationName": "Lost", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            headers=PARTNER_A,
        )
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert (await c.gql(ORDERS, headers=OPERATOR)).status_code == 200  # not counted
    got = only(meter.close(everything=True))
    assert got.requests == 8
    assert per_operation(got) == {
        "Orders": (3, 0),
        OTHER: (1, 0),
        "Styles": (1, 0),
        "Broken": (1, 1),
        "Submit": (1, 1),
        "Lost": (1, 1),  # refused before its document was known: the name the request gave
    }
    assert got.error_codes == {"GRAPHQL_VALIDATION_FAILED": 1, "INVALID_ARGUMENT": 1, "PERSISTED_QUERY_NOT_FOUND": 1}
    assert all(sum(op.latency_counts) == op.requests for op in got.operations.values())
    # The fake orders service is no gRPC channel: its submissions are not seen (see the integration test).
    assert (got.submissions, got.replays, got.key_reused) == (0, 0, 0)


async def test_a_batch_counts_each_operation_in_its_own() -> None:
    settings = facade_settings(MES_FACADE_BATCHING="1", MES_FACADE_CACHE="0")
    async with running_app(backend(), settings) as c:
        c.facade.usage = meter = UsageMeter(clock=Clock())
        batch = [
            {"query": ORDERS},
            {"query": "{ styles(first: 1) { nodes { sku } } }"},
            {"query": "query Oops { nope }"},
            {"query": TWO, "operationName": "Styles"},
        ]
        response = await c.http.post("/graphql", json=batch, headers=PARTNER_A)
        assert response.status_code == 200
        assert response.json()[2]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        too_many = await c.http.post(
            "/graphql", json=[{"query": ORDERS, "operationName": "Orders"}] * 6, headers=PARTNER_A
        )
        assert too_many.json()["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"
    got = only(meter.close(everything=True))
    assert (got.requests, got.errors_4xx) == (2, 1)  # each batch is one request
    assert per_operation(got) == {"Orders": (7, 6), OTHER: (1, 0), "Oops": (1, 1), "Styles": (1, 0)}
    assert got.error_codes == {"GRAPHQL_VALIDATION_FAILED": 1, "BATCH_TOO_LARGE": 1}
