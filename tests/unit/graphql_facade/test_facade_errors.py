"""One error model: typed backend errors become codes; anything else is masked."""

from __future__ import annotations

import grpc
import pytest
from graphql import GraphQLError

from clients import (
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    IdempotencyKeyReusedError,
    InsufficientStockError,
    InternalError,
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from graphql_facade.errors import INTERNAL_MESSAGE, FacadeError, from_client_error, shape_error
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import PARTNER_A, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFoundError(S.NOT_FOUND, "order not found"), "NOT_FOUND"),
        (InvalidArgumentError(S.INVALID_ARGUMENT, "bad"), "INVALID_ARGUMENT"),
        (IdempotencyKeyReusedError(S.ALREADY_EXISTS, "x", reason="IDEMPOTENCY_KEY_REUSED"), "IDEMPOTENCY_KEY_REUSED"),
        (AlreadyExistsError(S.ALREADY_EXISTS, "x"), "ALREADY_EXISTS"),
        (
            FailedPreconditionError(S.FAILED_PRECONDITION, "x", reason="INVALID_STATE_TRANSITION"),
            "INVALID_STATE_TRANSITION",
        ),
        (InsufficientStockError(S.FAILED_PRECONDITION, "x", reason="INSUFFICIENT_STOCK"), "INSUFFICIENT_STOCK"),
        (FailedPreconditionError(S.FAILED_PRECONDITION, "x"), "FAILED_PRECONDITION"),
        (ConflictError(S.ABORTED, "x", reason="VERSION_CONFLICT"), "VERSION_CONFLICT"),
        (ResourceExhaustedError(S.RESOURCE_EXHAUSTED, "x", reason="CAPACITY_EXCEEDED"), "RESOURCE_EXHAUSTED"),
        (PermissionDeniedError(S.PERMISSION_DENIED, "staff only"), "FORBIDDEN"),
        (UnavailableError(S.UNAVAILABLE, "db down"), "UNAVAILABLE"),
        (DeadlineExceededError(S.DEADLINE_EXCEEDED, "slow"), "UNAVAILABLE"),
        (UnauthenticatedError(S.UNAUTHENTICATED, "bad service token"), "INTERNAL_SERVER_ERROR"),
        (InternalError(S.INTERNAL, "internal error"), "INTERNAL_SERVER_ERROR"),
        (MesClientError(S.CANCELLED, "x"), "INTERNAL_SERVER_ERROR"),
    ],
)
def test_client_errors_map_to_codes(error: MesClientError, code: str) -> None:
    public = from_client_error(error)
    assert public.code == code and public.extensions["code"] == code
    if code in ("INTERNAL_SERVER_ERROR", "UNAVAILABLE", "FORBIDDEN"):
        assert error.message not in public.message  # internal wording never leaks


def test_field_violations_are_kept() -> None:
    error = InvalidArgumentError(
        S.INVALID_ARGUMENT, "bad lines", violations=[FieldViolation("lines[0].quantity", "must be greater than zero")]
    )
    public = from_client_error(error)
    assert public.extensions["fieldViolations"] == [
        {"field": "lines[0].quantity", "description": "must be greater than zero"}
    ]


@pytest.mark.parametrize(
    ("field", "arguments", "graphql"),
    [
        ("due_time", ("input", "idempotencyKey"), "input.dueTime"),
        ("lines[0].style_code", ("input", "idempotencyKey"), "input.lines[0].styleCode"),
        ("request_id", ("input", "idempotencyKey"), "idempotencyKey"),
        ("page_token", ("first", "after"), "after"),
        ("page_size", ("first",), "first"),
        ("name", ("id", "reason"), "id"),
        ("reason", ("id", "reason"), "reason"),
        ("partner_reference", (), "partnerReference"),
    ],
)
def test_field_violations_use_the_graphql_names(field: str, arguments: tuple[str, ...], graphql: str) -> None:
    error = InvalidArgumentError(S.INVALID_ARGUMENT, "bad", violations=[FieldViolation(field, "is wrong")])
    public = from_client_error(error, arguments)
    assert public.extensions["fieldViolations"] == [{"field": graphql, "description": "is wrong"}]


def test_a_bad_page_token_is_a_bad_cursor() -> None:
    error = InvalidArgumentError(S.INVALID_ARGUMENT, "page_token is invalid", reason="INVALID_PAGE_TOKEN")
    public = from_client_error(error, ("first", "after"))
    assert "page_token" not in str(public.to_dict()) and "cursor" in public.message
    assert public.extensions["fieldViolations"][0]["field"] == "after"


async def test_a_resolver_error_names_the_fields_of_its_input(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["SubmitOrder"] = InvalidArgumentError(
        S.INVALID_ARGUMENT,
        "the request has invalid fields",
        violations=[FieldViolation("due_time", "must be in the future"), FieldViolation("request_id", "too long")],
    )
    submit = "mutation($i: SubmitOrderInput!, $k: String!) { submitOrder(input: $i, idempotencyKey: $k) { replayed } }"
    line = {"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "size": "52"}
    variables = {"k": "k-1", "i": {"partnerReference": "PO-1", "dueTime": "2031-01-01T00:00:00Z", "lines": [line]}}
    body = (await client.gql(submit, variables, headers=PARTNER_A)).json()
    fields = [v["field"] for v in body["errors"][0]["extensions"]["fieldViolations"]]
    assert fields == ["input.dueTime", "idempotencyKey"]


def test_unexpected_exceptions_are_masked() -> None:
    raw = GraphQLError("boom", original_error=RuntimeError("password=hunter2 at db.internal:5432"), path=["order"])
    shaped = shape_error(raw, hide_suggestions=False)
    assert shaped.message == INTERNAL_MESSAGE
    assert shaped.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(shaped.formatted)


def test_facade_errors_pass_through() -> None:
    raw = GraphQLError("x", original_error=FacadeError("NOT_FOUND", "order not found"), path=["order"])
    assert shape_error(raw, hide_suggestions=True).formatted["extensions"] == {"code": "NOT_FOUND"}


async def test_unexpected_resolver_failure_is_masked(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["ListOrders"] = ZeroDivisionError("secret internals: /srv/app.py line 12")
    response = await client.gql("{ orders(first: 5) { nodes { id } } }", headers=PARTNER_A)
    assert response.status_code == 200
    text = response.text
    assert "secret" not in text and "ZeroDivision" not in text and "app.py" not in text
    error = response.json()["errors"][0]
    assert error == {
        "message": INTERNAL_MESSAGE,
        "locations": error["locations"],
        "path": ["orders"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


async def test_unavailable_backend_is_retryable_unavailable(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["CountOrders"] = UnavailableError(S.UNAVAILABLE, "connection refused to 10.0.0.7")
    response = await client.gql("{ orderCounts { total } }")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE" and error["extensions"]["retryable"] is True
    assert "10.0.0.7" not in response.text


async def test_partial_results_keep_the_good_fields(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    backend.fail["ListReservations"] = UnavailableError(S.UNAVAILABLE, "down")
    response = await client.gql("{ orders(first: 5) { nodes { id reservations { id } } } orderCounts { total } }")
    body = response.json()
    assert body["data"]["orderCounts"] == {"total": 1}
    assert body["errors"][0]["path"][:3] == ["orders", "nodes", 0]


async def test_a_backend_outage_has_one_shape_whichever_path_meets_it(backend: FakeBackend) -> None:
    """In a resolver (nothing else to answer) as at the key lookup: HTTP 503, ``UNAVAILABLE``,
    ``retryable``, ``Retry-After``; with part of the data read, HTTP 200 and the same error entry."""
    query = "{ orders(first: 1) { nodes { id } } }"
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        await client.gql(query, headers=PARTNER_A)  # the key is known
        backend.fail["ListOrders"] = UnavailableError(S.UNAVAILABLE, "db down")
        resolver = await client.gql(query, headers=PARTNER_A)
        for method in ("GetOrder", "BatchGetOrders"):
            backend.fail[method] = UnavailableError(S.UNAVAILABLE, "db down")
        partial = await client.gql(
            '{ styles(first: 1) { nodes { sku } } order(id: "ord-1") { id } }', headers=PARTNER_A
        )
        backend.fail["AuthenticatePartner"] = UnavailableError(S.UNAVAILABLE, "db down")
        lookup = await client.gql(query, headers={"X-API-Key": api_keys.issue()})
    for response in (resolver, lookup):
        assert response.status_code == 503, response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAVAILABLE" and error["extensions"]["retryable"] is True
        assert response.headers["retry-after"] == "1"
        assert "db down" not in response.text
    assert partial.status_code == 200 and partial.json()["data"]["styles"] is not None
    assert partial.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
