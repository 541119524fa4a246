"""The Orders and Order pages' query strings and paths <-> the variables of their queries; bad values are a 400."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import grpc
import pytest
from starlette.requests import Request

from clients import InvalidArgumentError
from graphql_facade.pagination import encode_cursor
from graphql_facade.web.app_pages import (
    MAX_TRAIL,
    ORDERS_PAGE_SIZE,
    PageInputError,
    order_variables,
    orders_variables,
)
from tests.unit.graphql_facade.conftest import OPERATOR, FacadeClient, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend, client_error

CURSOR = encode_cursor("", 50)


def request(query: str = "", path: str = "/orders", path_params: dict[str, str] | None = None) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
        "path_params": path_params or {},
    }
    return Request(scope)


def test_no_query_string_is_the_first_page_of_every_order() -> None:
    assert orders_variables(request()) == {
        "first": ORDERS_PAGE_SIZE,
        "after": None,
        "filter": {"statuses": None, "partnerId": None, "lateOnly": False},
        "partnerId": None,
    }


def test_filters_and_cursor_become_the_variables() -> None:
    query = urlencode(
        [
            ("status", "in_production"),
            ("status", "ON_HOLD,SHIPPED"),
            ("status", "ON_HOLD"),
            ("partner", "partner-a"),
            ("late", "1"),
            ("after", CURSOR),
            ("trail", f"-.{CURSOR}"),
            ("utm_source", "ignored"),
        ]
    )
    assert orders_variables(request(query)) == {
        "first": ORDERS_PAGE_SIZE,
        "after": CURSOR,
        "filter": {"statuses": ["IN_PRODUCTION", "ON_HOLD", "SHIPPED"], "partnerId": "partner-a", "lateOnly": True},
        "partnerId": "partner-a",
    }


@pytest.mark.parametrize("late", ["", "0", "false", "off", "no"])
def test_late_off(late: str) -> None:
    assert orders_variables(request(urlencode({"late": late})))["filter"]["lateOnly"] is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=LOST", "`status` 'LOST' is not an order status; use one of SUBMITTED, ACCEPTED"),
        ("partner=a%20b", "`partner` is not a partner id"),
        ("partner=" + "p" * 65, "`partner` is not a partner id"),
        ("partner=a&partner=b", "`partner` is given 2 times; give it once."),
        ("late=maybe", "`late` must be 1 (late orders only) or 0."),
        ("after=not*a*cursor", "`after` is not a cursor of the orders list."),
        ("after=" + encode_cursor("x", 101), "`after` is not a cursor of the orders list."),
        ("after=bm90IGpzb24", "`after` is not a cursor of the orders list."),
        ("after=" + "A" * 2000, "`after` is not a cursor of the orders list."),
        ("trail=-.%25", "`trail` is not a cursor of the orders list."),
        ("trail=" + ".".join(["-"] * (MAX_TRAIL + 1)), f"`trail` names more than {MAX_TRAIL} pages."),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(query: str, message: str) -> None:
    with pytest.raises(PageInputError) as refused:
        orders_variables(request(query))
    assert str(refused.value).startswith(message)


def test_the_order_page_takes_its_id_from_the_path() -> None:
    assert order_variables(request(path="/orders/ord-1", path_params={"id": "ord-1"})) == {"id": "ord-1"}
    for bad in ("", "a b", "x" * 65, "ord.1"):
        with pytest.raises(PageInputError, match="not an order id"):
            order_variables(request(path=f"/orders/{bad}", path_params={"id": bad}))


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "/orders?status=LOST",
        "/orders?status=%00",
        "/orders?partner=%3Cscript%3E",
        "/orders?late=2",
        "/orders?after=%E2%82%AC",
        "/orders?after=" + encode_cursor("x", -1),
        "/orders?trail=..",
        "/orders/bad%20id",
        "/orders/" + "x" * 65,
    ],
)
async def test_through_the_app_a_bad_value_is_a_400_page_with_the_message(web: FacadeClient, url: str) -> None:
    response = await web.http.get(url, headers=OPERATOR)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<h1 id="notice-title">Bad request</h1>' in response.text
    assert "<script>" not in response.text
    assert 'id="snapshot"' not in response.text


async def test_a_cursor_the_service_refuses_is_a_400_with_its_message(web: FacadeClient, backend: FakeBackend) -> None:
    """A cursor of the right shape whose page token the service refuses: the API's INVALID_ARGUMENT is a 400 page."""
    backend.fail["ListOrders"] = client_error(InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT, "bad page token")
    response = await web.http.get("/orders?" + urlencode({"after": encode_cursor("forged", 0)}), headers=OPERATOR)
    assert response.status_code == 400
    assert "Bad request" in response.text and "bad page token" in response.text


async def test_every_status_name_is_accepted(web: FacadeClient) -> None:
    for status in (
        "SUBMITTED",
        "ACCEPTED",
        "IN_PRODUCTION",
        "READY_TO_SHIP",
        "SHIPPED",
        "REJECTED",
        "ON_HOLD",
        "CANCELLED",
    ):
        response = await web.http.get(f"/orders?status={status}", headers=OPERATOR)
        assert response.status_code == 200, (status, response.text)


def test_the_query_string_of_a_next_link_round_trips() -> None:
    """The Orders page's "Next" link (orders.js) keeps the filters and adds ``after`` and ``trail``."""
    first = orders_variables(request(urlencode([("status", "SHIPPED"), ("partner", "p1")])))
    following = orders_variables(
        request(urlencode([("status", "SHIPPED"), ("partner", "p1"), ("after", CURSOR), ("trail", "-")]))
    )
    assert following["filter"] == first["filter"] and following["partnerId"] == first["partnerId"]
    assert following["after"] == CURSOR and first["after"] is None
