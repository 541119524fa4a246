"""The analytics pages follow the floor when asked to, on a stack of this module's own (its orders and
operations change the data, which the tour's screenshots must not see): the facade keeps an analytics
answer for ``MES_FACADE_CACHE_ANALYTICS_TTL_S`` (1 s here, 5 minutes by default), so the pages' Refresh
button gets a newer one once that has passed.

* an order a partner submits while the Partners page is open shows in its volume after Refresh: the
  number comes from the analytics service, which read the order's event;
* an operation finished with a loss above its tolerance shows on the Metal & loss page (loss against
  tolerance, "▲ over", a loss review waiting with the link to its Bench page) and in the Analytics
  page's throughput.

Every wait is a liveness bound (the events travel through NATS to the analytics service), never a
timing assertion.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from mes.production.v1 import production_pb2 as pb
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests.e2e._graphql import SERVICE_TOKEN
from tests.e2e._stack import stack_env
from tests.e2e.web._browser import Hygiene
from tests.e2e.web._seed import order_input, production, submit_order
from tests.e2e.web.conftest import WEB_STACK_ENV, WebStack, seeded_stack, with_chromium

pytestmark = pytest.mark.system

#: The partner whose order the test submits (the demo orders are another partner's).
PARTNER = "northwind-gems"
#: How long the analytics may take to show what happened (NATS, the read model, a refresh).
CATCH_UP_MS = 60_000
WEIGH_OUT_MG = 12_000  # of the 12,500 mg the seed weighed in: a loss of 500 mg (4 %)


@pytest.fixture(scope="module")
def _analytics_stack(_browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    assert find_nats_server() is not None, NATS_MISSING
    env = {**stack_env(), **WEB_STACK_ENV, "MES_FACADE_CACHE_ANALYTICS_TTL_S": "1"}
    with seeded_stack(_browser, tmp_path_factory.mktemp("web-analytics") / "var", env) as stack:
        yield stack


@pytest.fixture
def live(request: pytest.FixtureRequest) -> WebStack:
    return with_chromium(request, "_analytics_stack")


@pytest.fixture
def supervisor_tab(live: WebStack) -> Iterator[Callable[[str], tuple[Page, Hygiene]]]:
    contexts: list[BrowserContext] = []

    def open_page(path: str) -> tuple[Page, Hygiene]:
        tab = live.open_tab(contexts, "supervisor")
        page, hygiene = tab.page, tab.hygiene
        response = page.goto(f"{live.origin}{path}")
        assert response is not None and response.status == 200
        expect(page.locator("#live-status")).to_have_text("Not live")
        return page, hygiene

    yield open_page
    for context in contexts:
        context.close()


def _refresh_until(page: Page, shown: Callable[[], bool], what: str) -> None:
    """Press Refresh (waiting for each answer) until ``shown()``; a liveness bound, not a timing assertion."""
    for _ in range(CATCH_UP_MS // 500):
        if shown():
            return
        page.wait_for_timeout(500)
        with page.expect_response(re.compile(r"/graphql$")):
            page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_role("button", name="Refresh")).to_be_enabled()
    raise AssertionError(f"the page never showed {what}")


def _table_rows(page: Page, chart: str) -> dict[str, list[str]]:
    """The rows of a chart's table (shown through its toggle): header cell -> the other cells; plus the
    column names under ``""``."""
    figure = page.locator(f'figure[data-chart="{chart}"]')
    if figure.count() == 0:
        return {}
    toggle = figure.get_by_role("button", name="Table")
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
    table: Locator = figure.locator("table")
    rows = {"": [t.strip() for t in table.locator("thead th").all_inner_texts()][1:]}
    for row in table.locator("tbody tr").all():
        rows[row.locator("th").inner_text().strip()] = [c.strip() for c in row.locator("td").all_inner_texts()]
    return rows


def test_web_an_order_submitted_shows_in_the_partners_volume_after_refresh(
    live: WebStack, supervisor_tab: Callable[[str], tuple[Page, Hygiene]]
) -> None:
    page, hygiene = supervisor_tab("/partners?window=7d")
    first = page.locator(".computed time").get_attribute("datetime")
    before = _table_rows(page, "volume")
    assert PARTNER not in before.get("", []), before  # the demo orders are another partner's

    reference = f"PO-AN-{uuid.uuid4().hex[:8]}"
    submit_order(
        live.gq,
        reference,
        order_input(reference, "RNG-SOL-001", "AU750Y", 2, "52", "2031-05-01T16:00:00Z"),
        who=PARTNER,
    )

    def volume_has_it() -> bool:
        rows = _table_rows(page, "volume")
        if PARTNER not in rows.get("", []):
            return False
        column = rows[""].index(PARTNER)
        return [cells[column] for name, cells in rows.items() if name and cells[column] != "0"] == ["1"]

    _refresh_until(page, volume_has_it, f"an order of {PARTNER} in the volume")
    assert page.locator(".computed time").get_attribute("datetime") != first  # a newer answer
    expect(page.locator(".totals")).to_contain_text("4 orders")  # the 3 demo orders and this one
    hygiene.assert_clean()


def test_web_a_loss_above_tolerance_shows_on_the_metal_and_analytics_pages(
    live: WebStack, supervisor_tab: Callable[[str], tuple[Page, Hygiene]]
) -> None:
    started = live.seeded.started
    channel, stub = production(live.gq)
    with channel:
        request = pb.FinishOperationRequest(
            name=started.name,
            operator_code=started.started_by,
            weigh_out_mg=WEIGH_OUT_MG,
            request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"web-analytics-finish/{started.name}")),
        )
        finished = stub.FinishOperation(request, metadata=SERVICE_TOKEN, timeout=10).operation
    assert finished.status == pb.OPERATION_STATUS_LOSS_REVIEW  # 4 % is above every step's tolerance

    page, hygiene = supervisor_tab("/metal?window=7d")
    label = f"{started.operation_code} · {started.alloy_code}"
    _refresh_until(page, lambda: label in _table_rows(page, "loss-operation"), f"the loss of {label}")
    loss, tolerance, note = _table_rows(page, "loss-operation")[label]
    allowed = started.loss_tolerance_per_mille * started.weigh_in_mg // 1000
    assert loss == "4.00%" and tolerance == f"{100 * allowed / started.weigh_in_mg:.2f}%"
    assert note.startswith("▲ over") and "1 of 1 operations over tolerance" in note
    operator = _table_rows(page, "loss-operator")[started.started_by]
    excess = started.weigh_in_mg - WEIGH_OUT_MG - allowed  # under a gram: shown in mg
    assert operator[0] == "4.00%" and operator[2].startswith(f"▲ over · excess {excess} mg"), operator
    review = page.locator(".reviews-list li", has_text=live.seeded.work_center)
    expect(review).to_contain_text("1 waiting")
    review.get_by_role("link").click()
    page.wait_for_url(f"{live.origin}/bench/{live.seeded.work_center}")
    hygiene.assert_clean()

    page, hygiene = supervisor_tab("/analytics?window=7d")

    def finished_today() -> bool:
        rows = _table_rows(page, "throughput")
        return any(name and cells[0] == "1" for name, cells in rows.items())

    _refresh_until(page, finished_today, "the operation finished today")
    hygiene.assert_clean()
