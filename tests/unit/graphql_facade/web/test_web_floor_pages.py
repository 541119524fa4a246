"""The Floor (``/floor``) and Bench (``/bench/{code}``) pages through the ASGI app: the snapshot inlined
(equal to running the page's query), the shell, CSP and no other origin, who may open them, bad input,
and their query documents valid against the operators' schema within the operators' limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from graphql import parse as parse_document
from graphql import validate

from graphql_facade.limits.cost import requested_cost
from graphql_facade.limits.tiers import operator_limits
from graphql_facade.schema import build_schemas
from graphql_facade.web.app_pages import BENCH_PAGE_SIZE, PAGES, document_text
from graphql_facade.web.assets import load_assets
from mes.production.v1 import production_pb2 as prod
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.web.test_web_app_pages import BROWSER, check_shell, parse, run_query

OPERATOR_SCHEMA = build_schemas().operator_documents.graphql


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


def without_clock(data: dict[str, Any]) -> dict[str, Any]:
    """``floor.asOf.at`` is when each request started: the rest must be equal."""
    copied = json.loads(json.dumps(data))
    copied["floor"]["asOf"].pop("at")
    return copied


def floor_with_work(backend: FakeBackend) -> str:
    """An order whose first operation is in progress at FILE-1; the id of its second, queued at CAST-1."""
    backend.add_order("partner-a")
    ops = list(backend.operations.values())
    ops[0].status, ops[0].work_center, ops[0].weigh_in_mg = prod.OPERATION_STATUS_IN_PROGRESS, "workCenters/FILE-1", 900
    backend.work_centers["FILE-1"].state = prod.WORK_CENTER_STATE_RUNNING
    return f"{ops[1].work_order_id}.{ops[1].sequence}"


def test_both_pages_are_registered_with_their_modules() -> None:
    assert (PAGES["floor"].path, PAGES["floor"].script) == ("/floor", "app/pages/floor.js")
    assert (PAGES["bench"].path, PAGES["bench"].nav) == ("/bench/{code}", "floor")
    served = {asset.path for asset in load_assets()}
    assert {"app/pages/floor.js", "app/pages/bench.js", "app/live.js", "app/app.css"} <= served


@pytest.mark.parametrize(
    ("document_file", "variables"), [("floor.graphql", {}), ("bench.graphql", {"id": "X", "first": 50})]
)
def test_the_documents_are_valid_operator_queries_within_the_limits(
    document_file: str, variables: dict[str, Any]
) -> None:
    document = parse_document(document_text(document_file))
    assert validate(OPERATOR_SCHEMA, document) == []
    assert requested_cost(OPERATOR_SCHEMA, document, variables, None) <= operator_limits().max_cost


async def test_the_floor_page_inlines_its_query_result(web: FacadeClient, backend: FakeBackend) -> None:
    floor_with_work(backend)
    response = await web.http.get("/floor", headers={**BROWSER, **OPERATOR})
    shell = check_shell(response, "/floor")
    assert "<title>Floor · Jewelry MES</title>" in response.text
    assert shell.json_of("page-query") == {"query": document_text("floor.graphql"), "variables": {}}
    snapshot = shell.json_of("snapshot")
    expected = await run_query(web, "floor.graphql", {})
    assert without_clock(snapshot["data"]) == without_clock(expected)
    tiles = {tile["id"]: tile for tile in snapshot["data"]["floor"]["workCenters"]}
    assert tiles["FILE-1"]["state"] == "RUNNING" and tiles["FILE-1"]["wip"]["grossMg"] == 900
    modules = [s.attrs.get("src") for s in shell.scripts if s.attrs.get("type") == "module"]
    assert any(str(src).startswith("/static/app/pages/floor.js?v=") for src in modules)


async def test_the_bench_page_inlines_its_work_center(web: FacadeClient, backend: FakeBackend) -> None:
    queued = floor_with_work(backend)
    response = await web.http.get("/bench/CAST-1", headers={**BROWSER, **OPERATOR})
    shell = check_shell(response, "/floor")  # the bench marks Floor in the nav
    assert "<title>Bench CAST-1 · Jewelry MES</title>" in response.text
    variables = {"id": "CAST-1", "first": BENCH_PAGE_SIZE, "after": None}
    assert shell.json_of("page-query") == {"query": document_text("bench.graphql"), "variables": variables}
    snapshot = shell.json_of("snapshot")
    expected = await run_query(web, "bench.graphql", variables)
    assert without_clock(snapshot["data"]) == without_clock(expected)
    data = snapshot["data"]
    assert data["me"] == {"operatorCode": "OP-01", "role": "SUPERVISOR"}  # a token naming no role is a supervisor's
    assert queued in [edge["node"]["id"] for edge in data["workCenter"]["queue"]["edges"]]
    assert data["workCenter"]["current"] == []


async def test_the_bench_page_follows_its_queue_cursor(web: FacadeClient, backend: FakeBackend) -> None:
    for _ in range(BENCH_PAGE_SIZE + 3):
        backend.add_order("partner-a", with_production=True)
    first = parse((await web.http.get("/bench/CAST-1", headers=OPERATOR)).text).json_of("snapshot")
    queue = first["data"]["workCenter"]["queue"]
    assert len(queue["edges"]) == BENCH_PAGE_SIZE and queue["pageInfo"]["hasNextPage"]
    after = queue["pageInfo"]["endCursor"]
    second = parse((await web.http.get("/bench/CAST-1", params={"after": after}, headers=OPERATOR)).text)
    assert second.json_of("page-query")["variables"]["after"] == after
    ids = [e["node"]["id"] for e in second.json_of("snapshot")["data"]["workCenter"]["queue"]["edges"]]
    assert ids and not set(ids) & {e["node"]["id"] for e in queue["edges"]}


async def test_an_operator_sees_the_role_that_hides_the_supervisors_controls(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_OPERATOR_TOKENS="op-token=OP-07:operator")
    async with running_app(backend, settings) as web:
        response = await web.http.get("/bench/CAST-1", headers=OPERATOR)
    assert parse(response.text).json_of("snapshot")["data"]["me"] == {"operatorCode": "OP-07", "role": "OPERATOR"}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/bench/NO-SUCH", 404, "There is no such work center."),
        ("/bench/not%20a%20code", 400, "not a work-center code"),
        ("/bench/CAST-1?after=***", 400, "`after` is not a cursor of the queue."),
        ("/bench/CAST-1?after=abc&after=def", 400, "`after` is given 2 times"),
    ],
)
async def test_bad_bench_requests_answer_in_the_shell(web: FacadeClient, path: str, status: int, message: str) -> None:
    response = await web.http.get(path, headers={**BROWSER, **OPERATOR})
    assert response.status_code == status
    assert message in response.text and 'id="snapshot"' not in response.text


@pytest.mark.parametrize("path", ["/floor", "/bench/CAST-1", "/bench/CAST-1?after=abc"])
async def test_signed_out_browsers_go_to_sign_in_and_partners_get_404(web: FacadeClient, path: str) -> None:
    response = await web.http.get(path, headers=BROWSER)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/sign-in" and parse_qs(location.query)["next"] == [path]
    assert (await web.http.get(path, headers={**BROWSER, **PARTNER_A})).status_code == 404
