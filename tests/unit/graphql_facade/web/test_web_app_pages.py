"""The operators' web app through the ASGI app: the Orders and Order pages, who may open them, the
snapshot inlined (equal to running the page's query), the shell (nav, live indicator, sign-out), the CSP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest
from starlette.requests import Request

from clients import UnavailableError
from graphql_facade.web.app_pages import ORDERS_PAGE_SIZE, PAGES, AppPages, document_text
from graphql_facade.web.assets import load_assets
from graphql_facade.web.pages import HOME
from mes.orders.v1 import orders_pb2 as ords
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

BROWSER = {"accept": "text/html,application/xhtml+xml"}
_ABSOLUTE = re.compile(r"(?:https?:|wss?:)?//[A-Za-z0-9]", re.IGNORECASE)


@dataclass
class _Script:
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class _Shell(HTMLParser):
    """The parts of a page the tests look at."""

    scripts: list[_Script] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    elements: dict[str, dict[str, str | None]] = field(default_factory=dict)
    current: list[str] = field(default_factory=list)
    forms: list[dict[str, str | None]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    _script: _Script | None = None
    _text_of: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href", "action"):
            value = named.get(attribute)
            if value is not None:
                self.urls.append(value)
        if named.get("id"):
            self.elements[str(named["id"])] = {"tag": tag, **named}
            self._text_of = str(named["id"])
            self.texts[self._text_of] = ""
        if named.get("aria-current") == "page":
            self.current.append(str(named.get("href")))
        if tag == "form":
            self.forms.append(named)
        if tag == "script":
            self._script = _Script(named)
            self.scripts.append(self._script)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None
        self._text_of = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.text += data
        if self._text_of is not None:
            self.texts[self._text_of] += data

    def json_of(self, ident: str) -> Any:
        script = next(s for s in self.scripts if s.attrs.get("id") == ident)
        assert script.attrs.get("type") == "application/json"
        return json.loads(script.text)


def parse(page: str) -> _Shell:
    shell = _Shell()
    shell.feed(page)
    return shell


def policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def without_time(data: dict[str, Any]) -> dict[str, Any]:
    """``asOf.at`` is the time each request started: the rest must be equal."""
    copied = json.loads(json.dumps(data))
    copied["asOf"].pop("at")
    return copied


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


async def run_query(web: FacadeClient, document_file: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await web.gql(document_text(document_file), variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def check_shell(response: httpx.Response, current: str) -> _Shell:
    """What every page shares: HTML, headers, CSP allowing the import map only, nav, live controls."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    shell = parse(response.text)
    assert shell.current == [current]
    status = shell.elements["live-status"]
    assert status["role"] == "status" and status["aria-live"] == "polite"
    pause = shell.elements["live-pause"]
    assert pause["tag"] == "button" and pause["aria-pressed"] == "false"
    assert shell.elements["app"]["tag"] == "main"
    assert {"method": "post", "action": "/sign-out", "class": "sign-out"} in shell.forms
    directives = policy(response.headers["content-security-policy"])
    import_map = next(s for s in shell.scripts if s.attrs.get("type") == "importmap")
    digest = base64.b64encode(hashlib.sha256(import_map.text.encode()).digest()).decode()
    assert directives["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    for script in shell.scripts:  # nothing runs inline: JSON, the import map, or a module from /static/
        kind = script.attrs.get("type")
        if kind == "module":
            assert str(script.attrs.get("src")).startswith("/static/app/") and not script.text.strip()
        else:
            assert kind in ("application/json", "importmap")
    assert not _ABSOLUTE.search(response.text), "the page names another origin"
    return shell


async def test_the_orders_page_inlines_its_query_result(web: FacadeClient, backend: FakeBackend) -> None:
    for _ in range(3):
        backend.add_order("partner-a", lines=2)
    backend.add_order("partner-b", status=ords.ORDER_STATUS_SHIPPED)
    response = await web.http.get("/orders", headers={**BROWSER, **OPERATOR})
    shell = check_shell(response, "/orders")
    assert "<title>Orders · Jewelry MES</title>" in response.text
    snapshot = shell.json_of("snapshot")
    page_query = shell.json_of("page-query")
    assert page_query["query"] == document_text("orders.graphql")
    assert page_query["variables"] == {
        "first": ORDERS_PAGE_SIZE,
        "after": None,
        "filter": {"statuses": None, "partnerId": None, "lateOnly": False},
        "partnerId": None,
    }
    expected = await run_query(web, "orders.graphql", page_query["variables"])
    assert without_time(snapshot["data"]) == without_time(expected)
    assert snapshot["asOf"] == snapshot["data"]["asOf"] and "errors" not in snapshot
    assert len(snapshot["data"]["orders"]["edges"]) == 4
    assert snapshot["data"]["orderCounts"]["total"] == 4


async def test_the_orders_page_filters_come_from_the_query_string(web: FacadeClient, backend: FakeBackend) -> None:
    late = backend.add_order("partner-a", status=ords.ORDER_STATUS_ON_HOLD)
    late.late = True
    backend.add_order("partner-a", status=ords.ORDER_STATUS_ON_HOLD)
    backend.add_order("partner-b", status=ords.ORDER_STATUS_ON_HOLD)
    response = await web.http.get("/orders?status=ON_HOLD&partner=partner-a&late=1", headers={**BROWSER, **OPERATOR})
    snapshot = check_shell(response, "/orders").json_of("snapshot")
    assert [e["node"]["id"] for e in snapshot["data"]["orders"]["edges"]] == [late.order_id]
    counts = snapshot["data"]["orderCounts"]
    assert counts["total"] == 2 and counts["late"] == 1  # the partner's counts, for the chips


async def test_the_orders_page_has_50_rows_and_the_next_page_follows_the_cursor(
    web: FacadeClient, backend: FakeBackend
) -> None:
    ids = [backend.add_order("partner-a", with_production=False).order_id for _ in range(ORDERS_PAGE_SIZE + 7)]
    first = parse((await web.http.get("/orders", headers=OPERATOR)).text).json_of("snapshot")["data"]["orders"]
    assert [e["node"]["id"] for e in first["edges"]] == ids[:ORDERS_PAGE_SIZE]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    response = await web.http.get("/orders", params={"after": after, "trail": "-"}, headers=OPERATOR)
    second = parse(response.text)
    page = second.json_of("snapshot")["data"]["orders"]
    assert [e["node"]["id"] for e in page["edges"]] == ids[ORDERS_PAGE_SIZE:]
    assert page["pageInfo"]["hasNextPage"] is False
    assert second.json_of("page-query")["variables"]["after"] == after


async def test_the_order_page_inlines_the_order_with_production_and_materials(
    web: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a", lines=2)
    response = await web.http.get(f"/orders/{order.order_id}", headers={**BROWSER, **OPERATOR})
    shell = check_shell(response, "/orders")  # the detail marks Orders in the nav
    assert f"<title>Order {order.order_id} · Jewelry MES</title>" in response.text
    snapshot = shell.json_of("snapshot")
    assert shell.json_of("page-query") == {"query": document_text("order.graphql"), "variables": {"id": order.order_id}}
    expected = await run_query(web, "order.graphql", {"id": order.order_id})
    assert without_time(snapshot["data"]) == without_time(expected)
    detail = snapshot["data"]["order"]
    assert [line["lineNumber"] for line in detail["lines"]] == [1, 2]
    assert len(detail["workOrders"]) == 2 and all(wo["operations"] for wo in detail["workOrders"])
    assert detail["statusHistory"][0]["toStatus"] == "SUBMITTED"
    assert detail["reservations"][0]["items"][0]["materialCode"] == "AU750Y"


async def test_an_unknown_order_is_a_404_page_in_the_shell(web: FacadeClient) -> None:
    response = await web.http.get("/orders/no-such-order", headers={**BROWSER, **OPERATOR})
    assert response.status_code == 404
    shell = parse(response.text)
    assert "There is no such order." in response.text
    assert shell.current == ["/orders"] and "snapshot" not in shell.elements
    assert "live-status" in shell.elements  # the shell, its live controls hidden
    assert 'class="live-controls" hidden' in response.text


async def test_production_out_of_reach_still_shows_the_order_with_the_error(
    web: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a")
    backend.fail["ListWorkOrders"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    response = await web.http.get(f"/orders/{order.order_id}", headers=OPERATOR)
    snapshot = parse(response.text).json_of("snapshot")
    assert response.status_code == 200
    assert snapshot["data"]["order"]["workOrders"] is None
    assert snapshot["errors"] and snapshot["errors"][0]["path"][:2] == ["order", "workOrders"]


async def test_the_orders_service_out_of_reach_is_a_503_page(web: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["ListOrders"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    backend.fail["CountOrders"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    response = await web.http.get("/orders", headers=OPERATOR)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "Could not load the page" in response.text


@pytest.mark.parametrize("path", ["/orders", "/orders?status=SHIPPED&late=1", "/orders/ord-1"])
async def test_a_browser_without_a_session_is_sent_to_sign_in_and_back(web: FacadeClient, path: str) -> None:
    for headers in (BROWSER, {**BROWSER, "Authorization": "Bearer nope"}):
        response = await web.http.get(path, headers=headers)
        assert response.status_code == 303
        location = urlsplit(response.headers["location"])
        assert location.path == "/sign-in"
        assert parse_qs(location.query)["next"] == [path]
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/orders", "/orders/ord-1"])
async def test_partners_get_404(web: FacadeClient, backend: FakeBackend, path: str) -> None:
    backend.add_order("partner-a")
    response = await web.http.get(path, headers={**BROWSER, **PARTNER_A})
    assert response.status_code == 404
    assert "snapshot" not in response.text and "ord" not in response.text


async def test_a_session_cookie_opens_the_pages(backend: FakeBackend) -> None:
    backend.add_operator("OP-07", "correct horse battery")
    order = backend.add_order("partner-a")
    async with running_app(backend) as client:
        client.http.base_url = httpx.URL("https://facade.test")
        form = {"operator_code": "OP-07", "password": "correct horse battery", "next": "/orders?late=0"}
        signed_in = await client.http.post("/sign-in", data=form, headers={"Origin": "https://facade.test"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/orders?late=0"
        home = await client.http.get("/", headers=BROWSER)
        orders = await client.http.get("/orders?late=0", headers=BROWSER)
        detail = await client.http.get(f"/orders/{order.order_id}", headers=BROWSER)
    assert home.status_code == 303 and home.headers["location"] == HOME
    shell = check_shell(orders, "/orders")
    assert shell.texts["live-status"]  # an initial state before the script connects
    assert '<span class="who-code">OP-07</span> <span class="who-role">Operator</span>' in orders.text
    assert detail.status_code == 200


async def test_the_nav_links_graphiql_only_when_it_is_on(backend: FakeBackend) -> None:
    async with running_app(backend, facade_settings(MES_FACADE_GRAPHIQL="0")) as client:
        off = parse((await client.http.get("/orders", headers=OPERATOR)).text)
    async with running_app(backend) as client:
        on = parse((await client.http.get("/orders", headers=OPERATOR)).text)
    assert "/graphiql" not in off.urls and "/graphiql" in on.urls
    assert "/orders" in on.urls


async def test_the_starting_facade_is_a_503_page() -> None:
    class _Starting:
        facade = None

    pages = AppPages(_Starting(), load_assets(), graphiql=True)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/orders",
        "query_string": b"",
        "headers": [(b"host", b"facade.test")],
        "path_params": {},
    }
    response = await pages.page(PAGES["orders"], Request(scope))
    assert response.status_code == 503
    assert b"The facade is starting" in bytes(response.body)
