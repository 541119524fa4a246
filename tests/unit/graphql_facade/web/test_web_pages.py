"""``/graphiql`` and ``/`` through the ASGI app: who may open them, what the page loads, its headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources

import grpc
import httpx
import pytest

from clients import UnavailableError
from graphql_facade.web.assets import IMMUTABLE
from graphql_facade.web.pages import DEFAULT_QUERY, GRAPHIQL_PATH, HOME
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.web.test_web_app_pages import policy as _policy

#: What a browser sends for a page (no credential but what the test adds).
BROWSER = {"accept": "text/html,application/xhtml+xml"}
#: ``url(...)`` and ``@import`` in CSS: what a browser would fetch.
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(?P<target>[^'")]*)\1\s*\)|@import\s+(['"])(?P<imported>[^'"]*)\3""")
_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


class _Page(HTMLParser):
    """The URLs a page loads, its scripts' inline text, and the GraphiQL root's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.root: dict[str, str | None] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href", "action", "srcset", "poster", "data"):
            value = named.get(attribute)
            if value is not None:
                self.urls.append(value)
        if tag == "script":
            self._in_script = True
        if named.get("id") == "graphiql":
            self.root = named

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _fetched_by_css(css: str) -> list[str]:
    """The targets of a style sheet's ``url()`` and ``@import`` that are not inline ``data:``."""
    found = [
        m.group("target") if m.group("target") is not None else m.group("imported") for m in _CSS_URL.finditer(css)
    ]
    return [target for target in found if not target.strip().lower().startswith("data:")]


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


async def test_an_operator_gets_graphiql(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    page = _parse(response.text)
    assert page.root["data-endpoint"] == "/graphql"
    assert page.root["data-default-query"] == DEFAULT_QUERY


async def test_a_browser_without_a_session_is_sent_to_sign_in(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers=BROWSER)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/graphiql"
    assert response.headers["x-content-type-options"] == "nosniff"
    bad_token = await web.http.get("/graphiql", headers={**BROWSER, "Authorization": "Bearer nope"})
    assert bad_token.status_code == 303 and bad_token.headers["location"] == "/sign-in?next=/graphiql"


async def test_graphiql_is_off_for_partners(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers={**BROWSER, **PARTNER_A})
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


async def test_an_outage_checking_the_credential_is_503_not_a_redirect(backend: FakeBackend) -> None:
    backend.fail["AuthenticatePartner"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    async with running_app(backend) as client:
        response = await client.http.get("/graphiql", headers={**BROWSER, "X-API-Key": api_keys.issue()})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_mes_facade_graphiql_0_turns_graphiql_off_1_keeps_it_on(backend: FakeBackend) -> None:
    async with running_app(backend, facade_settings(MES_FACADE_GRAPHIQL="0")) as client:
        off = await client.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
        home = await client.http.get("/", headers={**BROWSER, **OPERATOR})
        static = await client.http.get("/static/graphiql/boot.js")
    assert off.status_code == 404 and home.status_code == (404 if HOME == GRAPHIQL_PATH else 303)
    assert static.status_code == 200  # the files stay: other pages use them
    async with running_app(backend, facade_settings(MES_FACADE_GRAPHIQL="1")) as client:
        on = await client.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
    assert on.status_code == 200


async def test_the_page_loads_only_its_own_fingerprinted_files(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
    assert not _ABSOLUTE.search(response.text)
    page = _parse(response.text)
    assert page.inline_scripts == []
    assert len(page.urls) == 7  # icon, two style sheets, four scripts
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = await web.http.get(url)
        assert loaded.status_code == 200, url
        if url.startswith("/static/"):
            assert loaded.headers["cache-control"] == IMMUTABLE, url


async def test_the_page_and_its_files_fetch_nothing_elsewhere(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
    for url in _parse(response.text).urls:
        if url.endswith(".css") or ".css?" in url:
            css = (await web.http.get(url)).text
            fetched = _fetched_by_css(css)
            assert all(not _ABSOLUTE.match(t.strip()) and not t.strip().startswith("//") for t in fetched), fetched
    boot = (resources.files("graphql_facade.web") / "static" / "graphiql" / "boot.js").read_text("utf-8")
    assert not _ABSOLUTE.search(boot)


def test_the_css_scan_sees_what_a_browser_would_fetch() -> None:
    css = (
        "@import url(https://fonts.example/css);@import 'https://cdn.example/x.css';"
        ".a{background:url('https://cdn.example/a.png')}"
        "@font-face{src:url(data:font/woff2;base64,AAAA) format('woff2')}"
        ".b{background:url(/static/b.png)}"
    )
    assert _fetched_by_css(css) == [
        "https://fonts.example/css",
        "https://cdn.example/x.css",
        "https://cdn.example/a.png",
        "/static/b.png",
    ]


async def test_the_pages_carry_the_content_security_policy(web: FacadeClient) -> None:
    response = await web.http.get("/graphiql", headers={**BROWSER, **OPERATOR})
    policy = _policy(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["connect-src"] == ["'self'", "ws://facade.test", "wss://facade.test"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in policy["style-src"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    redirect = await web.http.get("/graphiql", headers=BROWSER)
    assert redirect.headers["content-security-policy"] == response.headers["content-security-policy"]


async def test_a_strange_host_header_never_reaches_the_policy(web: FacadeClient) -> None:
    response = await web.http.get(
        "/graphiql", headers={**BROWSER, **OPERATOR, "host": "x; script-src https://evil.example"}
    )
    assert _policy(response.headers["content-security-policy"])["connect-src"] == ["'self'"]
    assert "evil" not in response.headers["content-security-policy"]


async def test_the_default_query_runs_for_an_operator(web: FacadeClient) -> None:
    response = await web.gql(DEFAULT_QUERY, operation_name="Board")
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    assert set(body["data"]) == {"orderCounts", "orders"}


async def test_home_sends_an_operator_home_and_anyone_else_to_sign_in(web: FacadeClient) -> None:
    operator = await web.http.get("/", headers={**BROWSER, **OPERATOR})
    assert operator.status_code == 303 and operator.headers["location"] == HOME
    for headers in (BROWSER, {**BROWSER, **PARTNER_A}):
        anonymous = await web.http.get("/", headers=headers)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/sign-in"
        assert anonymous.headers["referrer-policy"] == "same-origin"


async def test_an_operator_signed_in_with_the_session_cookie_gets_graphiql(backend: FakeBackend) -> None:
    backend.add_operator("OP-07", "correct horse battery")
    async with running_app(backend) as client:
        client.http.base_url = httpx.URL("https://facade.test")  # a Secure cookie is kept for https only
        form = {"operator_code": "OP-07", "password": "correct horse battery", "next": "/graphiql"}
        signed_in = await client.http.post("/sign-in", data=form, headers={"Origin": "https://facade.test"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/graphiql"
        assert client.http.cookies.get("mes_session")
        page = await client.http.get("/graphiql", headers=BROWSER)
        home = await client.http.get("/", headers=BROWSER)
    assert page.status_code == 200 and _parse(page.text).root["data-endpoint"] == "/graphql"
    assert home.status_code == 303 and home.headers["location"] == HOME
