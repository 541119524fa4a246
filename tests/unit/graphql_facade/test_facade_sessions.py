"""Operators sign in (``/sign-in``, the ``mes_session`` cookie), the cookie authenticates GraphQL over HTTP
and WebSocket from the facade's own origin only, sign-out ends it; driven through the ASGI app with the
fake production service."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import grpc
import httpx
import pytest
import structlog
from prometheus_client import generate_latest

from clients import ResourceExhaustedError, UnavailableError
from graphql_facade.config import FacadeSettings
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.sessions import Sessions, check_same_origin, own_origin, request_origin, safe_next
from mes.production.v1 import production_pb2 as prod
from mes_platform.telemetry.logs import configure_logging
from tests.unit.graphql_facade.conftest import OPERATOR, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import AsgiWebSocket
from tests.unit.graphql_facade.test_facade_subscriptions import STATUS

ORIGIN = "https://facade.test"  # the test client's base URL here: the facade's own origin
SAME = {"Origin": ORIGIN}
PASSWORD = "correct horse battery"
QUERY = {"query": "{ workCenters(first: 5) { nodes { code } } }"}
REVIEW = "mutation($id: ID!) { resolveLossReview(id: $id, decision: APPROVE) { reviewedBy } }"


def enrol(backend: FakeBackend, code: str, *, supervisor: bool = False) -> None:
    """An operator of the fake production service who can sign in with ``PASSWORD``."""
    backend.add_operator(code, PASSWORD, supervisor=supervisor)


@pytest.fixture
async def client(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    """The app reached over https (a browser keeps a ``Secure`` cookie only for https)."""
    async with running_app(backend) as opened:
        opened.http.base_url = httpx.URL(ORIGIN)
        yield opened


@pytest.fixture
def floor(backend: FakeBackend) -> FakeBackend:
    enrol(backend, "OP-07")
    enrol(backend, "SUP-02", supervisor=True)
    return backend


async def sign_in(
    client: FacadeClient, code: str = "OP-07", password: str = PASSWORD, *, next_path: str | None = None, **headers: str
) -> httpx.Response:
    form = {"operator_code": code, "password": password}
    if next_path is not None:
        form["next"] = next_path
    return await client.http.post("/sign-in", data=form, headers={**SAME, **headers})


async def signed_in(client: FacadeClient, code: str = "OP-07") -> str:
    """Signs ``code`` in; the session token (the client's cookie jar holds it from now on)."""
    response = await sign_in(client, code)
    assert response.status_code == 303, response.text
    token = client.http.cookies.get("mes_session")
    assert token
    return token


def set_cookie(response: httpx.Response) -> dict[str, str]:
    """The attributes of the response's ``mes_session`` Set-Cookie (names lower-cased; flags map to "")."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith("mes_session=")]
    first, *rest = (part.strip() for part in header.split(";"))
    attributes = {"value": first.partition("=")[2]}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


async def gql_post(client: FacadeClient, body: object = QUERY, **headers: str) -> httpx.Response:
    return await client.http.post("/graphql", json=body, headers=headers)


# -- the page --------------------------------------------------------------------------------


async def test_the_sign_in_page_is_plain_accessible_html(client: FacadeClient) -> None:
    response = await client.http.get("/sign-in", params={"next": "/board?line=2"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="en">' in page
    assert '<label for="operator_code">' in page and 'id="operator_code"' in page
    assert '<label for="password">' in page and 'id="password"' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert 'type="password"' in page and 'method="post" action="/sign-in"' in page
    assert 'name="next" value="/board?line=2"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page and "src=" not in page
    assert 'role="alert"' not in page  # no error yet
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"


async def test_the_page_never_carries_a_foreign_next(client: FacadeClient) -> None:
    response = await client.http.get("/sign-in", params={"next": '//evil.example/"><script>'})
    assert 'name="next" value="/"' in response.text and "evil" not in response.text


# -- signing in ------------------------------------------------------------------------------


async def test_signing_in_sets_the_session_cookie_and_goes_on(floor: FakeBackend, client: FacadeClient) -> None:
    response = await sign_in(client, next_path="/board?line=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/board?line=2"
    assert response.headers["cache-control"] == "no-store"
    cookie = set_cookie(response)
    assert cookie["value"] and cookie["path"] == "/"
    assert {"httponly", "secure"} <= cookie.keys() and cookie["samesite"] == "Strict"
    assert 0 < int(cookie["max-age"]) <= 12 * 3600
    assert cookie["value"] not in response.headers["location"]
    request = next(r for m, r in floor.requests if m == "SignIn")
    assert isinstance(request, prod.SignInRequest)
    assert (request.operator_code, request.password, request.client_address) == ("OP-07", PASSWORD, "127.0.0.1")
    me = await gql_post(client, Origin=ORIGIN)  # the cookie jar sends it
    assert me.status_code == 200 and "errors" not in me.json()


@pytest.mark.parametrize(
    ("base_url", "env", "secure"),
    [
        ("http://127.0.0.1:8180", {}, False),
        ("http://localhost:8180", {}, False),
        ("http://[::1]:8180", {}, False),
        ("http://facade.test", {"MES_FACADE_SESSION_COOKIE_SECURE": "0"}, False),
        ("http://127.0.0.1:8180", {"MES_FACADE_SESSION_COOKIE_SECURE": "1"}, True),
        ("http://10.0.0.5:8180", {}, True),
    ],
)
async def test_the_cookie_is_secure_unless_on_loopback(
    floor: FakeBackend, base_url: str, env: dict[str, str], secure: bool
) -> None:
    async with running_app(floor, facade_settings(**env)) as client:
        client.http.base_url = httpx.URL(base_url)
        response = await client.http.post(
            "/sign-in", data={"operator_code": "OP-07", "password": PASSWORD}, headers={"Origin": base_url}
        )
    assert response.status_code == 303
    assert ("secure" in set_cookie(response)) is secure


async def test_a_wrong_password_renders_the_form_again(floor: FakeBackend, client: FacadeClient) -> None:
    response = await sign_in(client, password="not the password", next_path="/board")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    page = response.text
    assert 'role="alert"' in page and "The operator code or password is not right." in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="sign-in-error"' in page
    assert 'value="OP-07"' in page and "not the password" not in page
    assert 'name="next" value="/board"' in page
    unknown = await sign_in(client, code="NOBODY")
    assert unknown.status_code == 401 and "The operator code or password is not right." in unknown.text


async def test_missing_fields_are_a_400_without_a_call(floor: FakeBackend, client: FacadeClient) -> None:
    response = await sign_in(client, password="")
    assert response.status_code == 400 and "Enter your operator code and your password." in response.text
    not_a_form = await client.http.post("/sign-in", json={"operator_code": "OP-07"}, headers=SAME)
    assert not_a_form.status_code == 400
    assert floor.calls["SignIn"] == 0


async def test_the_services_limit_is_a_429_with_retry_after(floor: FakeBackend, client: FacadeClient) -> None:
    floor.fail["SignIn"] = ResourceExhaustedError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "too many", reason="SIGN_IN_THROTTLED", metadata={"retry_after_s": "840"}
    )
    response = await sign_in(client)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "840"
    assert "Too many failed attempts. Try again in 14 minutes." in response.text and 'role="alert"' in response.text
    assert "set-cookie" not in response.headers


async def test_an_outage_is_a_503(floor: FakeBackend, client: FacadeClient) -> None:
    floor.fail["SignIn"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    response = await sign_in(client)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "Signing in is not possible right now." in response.text


@pytest.mark.parametrize(
    ("given", "goes_to"),
    [
        ("/board", "/board"),
        ("/orders/o-1?tab=operations#top", "/orders/o-1?tab=operations#top"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("board", "/"),
        ("/\t/evil.example", "/"),
        ("/a\\b", "/"),
        ("", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
async def test_next_is_only_a_path_of_this_site(floor: FakeBackend, given: str, goes_to: str) -> None:
    assert safe_next(given) == goes_to
    async with running_app(floor) as client:
        client.http.base_url = httpx.URL(ORIGIN)
        response = await sign_in(client, next_path=given)
    assert response.status_code == 303 and response.headers["location"] == goes_to


async def test_signing_in_from_another_site_is_refused(floor: FakeBackend, client: FacadeClient) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = await client.http.post(
            "/sign-in", data={"operator_code": "OP-07", "password": PASSWORD}, headers=headers
        )
        assert response.status_code == 403 and "set-cookie" not in response.headers
    without = await client.http.post("/sign-in", data={"operator_code": "OP-07", "password": PASSWORD})
    assert without.status_code == 403
    assert floor.calls["SignIn"] == 0


# -- signing out -----------------------------------------------------------------------------


async def test_signing_out_ends_the_session_at_once(floor: FakeBackend, client: FacadeClient) -> None:
    token = await signed_in(client)
    assert (await gql_post(client, Origin=ORIGIN)).status_code == 200
    response = await client.http.post("/sign-out", headers=SAME)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    cleared = set_cookie(response)
    assert cleared["max-age"] == "0" and cleared["value"] in ('""', "")
    assert floor.calls["SignOut"] == 1
    # The browser forgot it; a copy of the token is refused at once (this replica forgot it too).
    again = await gql_post(client, Cookie=f"mes_session={token}", Origin=ORIGIN)
    assert again.status_code == 401 and again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_signing_out_from_another_site_is_refused(floor: FakeBackend, client: FacadeClient) -> None:
    await signed_in(client)
    response = await client.http.post("/sign-out", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert floor.calls["SignOut"] == 0
    assert (await gql_post(client, Origin=ORIGIN)).status_code == 200


async def test_signing_out_without_a_session_just_goes_to_the_form(client: FacadeClient, backend: FakeBackend) -> None:
    response = await client.http.post("/sign-out")
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    assert backend.calls["SignOut"] == 0


# -- the same-origin rule --------------------------------------------------------------------


async def test_cookie_posts_must_come_from_this_origin_as_json(floor: FakeBackend, client: FacadeClient) -> None:
    await signed_in(client)
    refused = [
        await gql_post(client),  # neither Origin nor Referer
        await gql_post(client, Origin="https://evil.example"),
        await gql_post(client, Origin="http://facade.test.evil.example"),
        await gql_post(client, Origin="http://facade.test"),  # another scheme is another origin
        await gql_post(client, Origin="null"),
        await gql_post(client, Referer="https://evil.example/page"),
        await client.http.post(
            "/graphql",
            content=b'{"query": "{ workCenters(first: 1) { nodes { code } } }"}',
            headers={"Origin": ORIGIN, "Content-Type": "text/plain; json"},
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.request.headers
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN" and "session cookie" in error["message"]
    assert (await gql_post(client, Origin=ORIGIN)).status_code == 200
    assert (await gql_post(client, Origin="https://facade.test:443")).status_code == 200  # the default port
    assert (await gql_post(client, Referer=f"{ORIGIN}/board?line=2")).status_code == 200


async def test_reads_over_get_need_no_origin_and_never_mutate(floor: FakeBackend, client: FacadeClient) -> None:
    await signed_in(client, "SUP-02")
    read = await client.http.get("/graphql", params=QUERY)
    assert read.status_code == 200 and "errors" not in read.json()
    floor.add_order("partner-a")
    operation = f"{next(iter(floor.work_orders.values())).work_order_id}.1"
    mutation = await client.http.get("/graphql", params={"query": REVIEW, "variables": f'{{"id": "{operation}"}}'})
    assert mutation.status_code != 200 and "errors" in mutation.json()
    assert floor.calls["ResolveLossReview"] == 0


async def test_bearer_tokens_and_api_keys_need_no_origin(floor: FakeBackend, client: FacadeClient) -> None:
    response = await client.http.post("/graphql", json=QUERY, headers=OPERATOR)
    assert response.status_code == 200
    cross = await client.http.post("/graphql", json=QUERY, headers={**OPERATOR, "Origin": "https://tools.example"})
    assert cross.status_code == 200


async def test_behind_a_proxy_the_public_origin_counts(floor: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_PUBLIC_ORIGIN="https://mes.example.com")
    async with running_app(floor, settings) as client:
        response = await sign_in(client, Origin="https://mes.example.com")
        assert response.status_code == 303 and "secure" in set_cookie(response)
        token = set_cookie(response)["value"]
        cookie = f"mes_session={token}"
        assert (await gql_post(client, Cookie=cookie, Origin="https://mes.example.com")).status_code == 200
        assert (await gql_post(client, Cookie=cookie, Origin=ORIGIN)).status_code == 403


def test_origins_are_compared_as_browsers_send_them() -> None:
    assert own_origin("http", "Facade.Test:80", None) == "http://facade.test"
    assert own_origin("wss", "mes.example.com:443", None) == "https://mes.example.com"
    assert own_origin("http", "127.0.0.1:8180", None) == "http://127.0.0.1:8180"
    assert own_origin("http", "[::1]:8180", None) == "http://[::1]:8180"
    assert own_origin("http", "internal:8180", "https://mes.example.com") == "https://mes.example.com"
    assert request_origin({"origin": "https://mes.example.com"}) == "https://mes.example.com"
    assert request_origin({"referer": "https://mes.example.com:443/x?y"}) == "https://mes.example.com"
    assert request_origin({"origin": "null", "referer": "https://mes.example.com/"}) is None
    assert request_origin({"origin": "file://"}) is None and request_origin({}) is None
    with pytest.raises(FacadeError, match="session cookie"):
        check_same_origin(
            {"origin": "https://other.example"},
            "https://mes.example.com",
            "A request signed in with the session cookie",
        )


def test_the_settings() -> None:
    settings = FacadeSettings.from_env({})
    assert settings.session_cache_ttl_s == 5.0 and settings.public_origin is None
    assert settings.session_cookie_secure is None
    custom = FacadeSettings.from_env(
        {
            "MES_FACADE_SESSION_CACHE_TTL_S": "1.5",
            "MES_FACADE_PUBLIC_ORIGIN": "HTTPS://MES.example.com/",
            "MES_FACADE_SESSION_COOKIE_SECURE": "1",
        }
    )
    assert custom.session_cache_ttl_s == 1.5 and custom.public_origin == "https://mes.example.com"
    assert custom.session_cookie_secure is True
    for env in (
        {"MES_FACADE_PUBLIC_ORIGIN": "mes.example.com"},
        {"MES_FACADE_PUBLIC_ORIGIN": "ftp://mes.example.com"},
        {"MES_FACADE_PUBLIC_ORIGIN": "https://mes.example.com/app"},
        {"MES_FACADE_SESSION_COOKIE_SECURE": "maybe"},
        {"MES_FACADE_SESSION_CACHE_TTL_S": "-1"},
    ):
        with pytest.raises(ValueError):
            FacadeSettings.from_env(env)


# -- roles of sessions -----------------------------------------------------------------------


async def test_a_sessions_role_comes_from_the_service(floor: FakeBackend, client: FacadeClient) -> None:
    floor.add_order("partner-a")
    operation = f"{next(iter(floor.work_orders.values())).work_order_id}.1"
    await signed_in(client, "OP-07")
    refused = await gql_post(client, {"query": REVIEW, "variables": {"id": operation}}, Origin=ORIGIN)
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert floor.calls["ResolveLossReview"] == 0
    client.http.cookies.clear()
    await signed_in(client, "SUP-02")
    allowed = await gql_post(client, {"query": REVIEW, "variables": {"id": operation}}, Origin=ORIGIN)
    assert "FORBIDDEN" not in allowed.text and floor.calls["ResolveLossReview"] == 1


# -- WebSocket -------------------------------------------------------------------------------


@asynccontextmanager
async def socket(client: FacadeClient, *headers: tuple[str, str]) -> AsyncIterator[AsgiWebSocket]:
    ws = AsgiWebSocket(client.app)
    ws._scope["scheme"] = "wss"
    ws._scope["headers"].extend((name.encode(), value.encode()) for name, value in headers)
    await ws.connect()
    try:
        yield ws
    finally:
        await ws.close()


async def closed(ws: AsgiWebSocket) -> tuple[int | None, str]:
    try:
        while True:
            await ws.receive()
    except ConnectionError as err:
        return ws.close_code, str(err)


async def test_a_cookie_socket_must_come_from_this_origin(floor: FakeBackend) -> None:
    # Pages of tools.facade.test may open sockets with a token; never with the cookie.
    settings = facade_settings(MES_FACADE_WS_ALLOWED_ORIGINS="https://tools.facade.test")
    async with running_app(floor, settings) as client:
        client.http.base_url = httpx.URL(ORIGIN)
        token = await signed_in(client)
        cookie = ("cookie", f"mes_session={token}")
        async with socket(client, cookie, ("origin", ORIGIN)) as ws:
            assert (await ws.init({}))["type"] == "connection_ack"
        for origin in ((), (("origin", "https://tools.facade.test"),), (("origin", "http://facade.test"),)):
            async with socket(client, cookie, *origin) as ws:
                await ws.send({"type": "connection_init", "payload": {}})
                assert (await closed(ws))[0] == 4403, origin
        async with socket(client, cookie, ("origin", "https://tools.facade.test")) as ws:
            assert (await ws.init({"token": "op-token"}))["type"] == "connection_ack"


async def test_token_sockets_are_unchanged(floor: FakeBackend, client: FacadeClient) -> None:
    token = await signed_in(client)
    async with socket(client, ("cookie", f"mes_session={token}")) as ws:  # no Origin: the token decides
        assert (await ws.init({"token": "op-token"}))["type"] == "connection_ack"
    async with socket(client) as ws:
        await ws.send({"type": "connection_init", "payload": {}})  # no credential at all
        assert (await closed(ws))[0] == 4403


async def test_a_cookie_socket_closes_once_its_session_has_ended(floor: FakeBackend) -> None:
    async with running_app(floor, facade_settings(MES_FACADE_SESSION_CACHE_TTL_S="0")) as client:
        client.http.base_url = httpx.URL(ORIGIN)
        client.facade.hub.start_at({"ORDERS": 0})
        token = await signed_in(client)
        async with socket(client, ("cookie", f"mes_session={token}"), ("origin", ORIGIN)) as ws:
            assert (await ws.init({}))["type"] == "connection_ack"
            await ws.subscribe("s1", STATUS)
            await asyncio.sleep(0.05)
            assert ws.close_code is None
            await floor.sign_out(prod.SignOutRequest(session_token=token))  # on another replica
            await ws.subscribe("s2", STATUS)
            code, reason = await closed(ws)
    assert code == 4403 and "Session ended" in reason


# -- the token stays secret ------------------------------------------------------------------


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """The facade's logging at DEBUG for one test, then the process's logging as it was (the root
    logger's handlers and level, structlog's configuration): later tests' output stays theirs."""
    root = logging.getLogger()
    handlers, level, config = list(root.handlers), root.level, structlog.get_config()
    configure_logging("mes-graphql-facade", "DEBUG", json=True)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.mark.usefixtures("debug_logs")
async def test_the_token_is_in_no_log_line_error_or_metric(
    floor: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_app(floor) as client:
        client.http.base_url = httpx.URL(ORIGIN)
        token = await signed_in(client)
        assert (await gql_post(client, Origin=ORIGIN)).status_code == 200
        forbidden = await gql_post(client, Origin="https://evil.example")
        wrong = await sign_in(client, password=token)  # even typed as a password by mistake
        await client.http.post("/sign-out", headers=SAME)
        ended = await gql_post(client, Cookie=f"mes_session={token}", Origin=ORIGIN)
    captured = capsys.readouterr()
    logged = captured.out + captured.err
    assert "signed_in" in logged and "signed_out" in logged  # the lines are there, without the token
    for text in (logged, forbidden.text, wrong.text, ended.text, generate_latest().decode()):
        assert token not in text
    assert re.search(r"mes_session=[^;]", ended.request.headers["cookie"])  # it was sent, and not echoed


# -- the sessions' cache ---------------------------------------------------------------------


async def test_a_check_is_kept_ttl_seconds_and_a_sign_out_here_forgets_it_at_once(floor: FakeBackend) -> None:
    now = [1000.0]
    here = Sessions(floor, ttl_s=5, clock=lambda: now[0])
    there = Sessions(floor, ttl_s=5, clock=lambda: now[0])  # another replica
    token = (await here.sign_in("OP-07", PASSWORD, "10.0.0.1")).token
    for sessions in (here, there):
        viewer = await sessions.check(token)
        assert (viewer.subject, viewer.role, viewer.session) == ("OP-07", "OPERATOR", True)
        assert (await sessions.check(token)) == viewer
    assert floor.calls["CheckSession"] == 2  # once per replica
    await here.sign_out(token)
    with pytest.raises(FacadeError) as ended:
        await here.check(token)  # this replica: at once
    assert (ended.value.code, ended.value.http_status) == (ErrorCode.UNAUTHENTICATED, 401)
    now[0] += 4.9
    assert (await there.check(token)).subject == "OP-07"  # the other: still within its TTL
    now[0] += 0.2
    with pytest.raises(FacadeError):
        await there.check(token)  # past it: asked again, and refused
    assert floor.calls["CheckSession"] == 4


async def test_an_answer_never_outlives_the_session(floor: FakeBackend) -> None:
    now = [1000.0]
    token = (await Sessions(floor, ttl_s=5).sign_in("OP-07", PASSWORD, "")).token
    expires = (await floor.check_session(prod.CheckSessionRequest(session_token=token))).expire_time.ToSeconds()
    sessions = Sessions(floor, ttl_s=60, clock=lambda: now[0], wall_clock=lambda: expires - 2 + (now[0] - 1000))
    await sessions.check(token)
    now[0] += 1.9
    assert sessions.cached(token) is not None
    now[0] += 0.2
    assert sessions.cached(token) is None


async def test_concurrent_checks_share_one_call_and_the_cache_is_bounded(floor: FakeBackend) -> None:
    tokens = [(await Sessions(floor, ttl_s=5).sign_in(code, PASSWORD, "")).token for code in ("OP-07", "SUP-02")]
    floor.delay["CheckSession"] = 0.02
    sessions = Sessions(floor, ttl_s=5, max_entries=1)
    viewers = await asyncio.gather(*(sessions.check(tokens[0]) for _ in range(10)))
    assert {v.subject for v in viewers} == {"OP-07"} and floor.calls["CheckSession"] == 1
    assert (await sessions.check(tokens[1])).role == "SUPERVISOR"
    assert len(sessions) == 1 and sessions.cached(tokens[0]) is None


async def test_a_check_the_service_cannot_answer_is_a_503(floor: FakeBackend, client: FacadeClient) -> None:
    await signed_in(client)
    floor.fail["CheckSession"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    client.facade.authenticator.sessions = Sessions(floor, ttl_s=5)  # nothing cached
    response = await gql_post(client, Origin=ORIGIN)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


async def test_a_cookie_that_cannot_be_a_session_is_refused_without_a_call(backend: FakeBackend) -> None:
    sessions = Sessions(backend, ttl_s=5)
    for token in ("x" * 300, "made-up"):
        with pytest.raises(FacadeError) as refused:
            await sessions.check(token)
        assert refused.value.http_status == 401
    assert backend.calls["CheckSession"] == 1  # the made-up one was asked about, the oversized one not
