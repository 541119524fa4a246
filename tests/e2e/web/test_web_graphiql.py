"""GraphiQL for an operator in a real browser: everything from the facade (no request to any other
origin), and its default query runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.web._screens import check, shoot
from tests.e2e.web.conftest import Browsing, WebStack

pytestmark = pytest.mark.system


def _runs_board(request: Request) -> bool:
    """The POST that runs the default query (not GraphiQL's introspection)."""
    return request.method == "POST" and "query Board" in (request.post_data or "")


def test_graphiql_loads_offline_and_runs_the_default_query(
    web: WebStack, browse: Callable[..., Browsing], scratch: Path
) -> None:
    tab = browse("operator")
    page = tab.page
    page.goto(f"{web.origin}/graphiql")
    editor = page.locator(".graphiql-query-editor")
    expect(editor).to_contain_text("query Board")
    run = page.get_by_role("button", name=re.compile("Execute query"))
    with page.expect_response(lambda r: r.url == web.gq.url and _runs_board(r.request)) as answer:
        run.click()
    assert answer.value.status == 200
    body = answer.value.json()
    assert "errors" not in body, body
    assert {"orderCounts", "orders"} <= set(body["data"])
    assert body["data"]["orders"]["nodes"], "the demo orders are not listed"
    result = page.locator(".result-window")
    expect(result).to_contain_text('"orderCounts"')
    tab.hygiene.assert_clean()
    assert tab.hygiene.requests, "no request was recorded"
    # The picture for the README: the default query and its answer (the ids frozen by shoot).
    check("graphiql", shoot(page), scratch)
