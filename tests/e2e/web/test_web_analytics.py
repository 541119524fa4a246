"""The analytics pages (Metal & loss, Analytics, Partners) in a real browser on the session's stack, and
a keyboard walk of every page of the app.

* each page shows the stack's data as the analytics service computed it (the demo orders of ``_seed``:
  their volume per partner, the metal their started operation holds, their work orders' age);
* every chart's "Table" view holds exactly the numbers its picture draws, and reading it leaves no
  console error and no serious accessibility violation;
* the Refresh button: a cached answer stays as computed, a failure is told in the header and the page
  keeps what it shows;
* the window and the partner are in the URL (a link or the form changes them, the page's query follows);
* Tab reaches every control of every page in the order of the page, each with a visible focus ring.

The tour of every page in every state and their screenshots are ``test_web_pages``' (it takes these
pages too); an order submitted while the Partners page is open is ``test_web_analytics_live``'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

import graphql_facade.web  # noqa: F401  (registers every page in PAGES)
from tests.e2e.web._browser import blocking_violations
from tests.e2e.web._pages import page_names
from tests.e2e.web._seed import ORDERS, PARTNER
from tests.e2e.web.conftest import Browsing, WebStack, open_page

pytestmark = pytest.mark.system

ANALYTICS_PAGES = ("metal", "analytics", "partners")
UNAVAILABLE = {"errors": [{"message": "Service unavailable.", "extensions": {"code": "UNAVAILABLE"}}]}
#: Every chart of each page (by its data-chart key) that the demo data gives something to draw.
CHARTS = {
    "metal": {"balances"},
    "analytics": {"utilisation", "wip-aging", "queues"},
    "partners": {"volume", "mix-style", "mix-alloy", "cancellation"},
}
#: Marks and cells: (series, category, value) of every drawn mark and every table cell with a value.
_CHART_DATA = """(figure) => {
  const triple = (e) => [e.dataset.series, e.dataset.category, Number(e.dataset.value)];
  const marks = [...figure.querySelectorAll("svg [data-value]")].map(triple);
  const cells = [...figure.querySelectorAll("table td[data-value]")].filter((c) => c.dataset.value !== "").map(triple);
  return { marks, cells };
}"""
#: The controls Tab should reach, in the page's order: visible, enabled, not taken out of the order.
_FOCUSABLE = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]";
  return [...document.querySelectorAll(selector)]
    .filter((e) => !e.disabled && e.tabIndex >= 0 && e.getClientRects().length > 0)
    .filter((e) => getComputedStyle(e).visibility !== "hidden")
    .map((e, i) => { e.dataset.walk = String(i); return i; }).length;
}"""
_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  return {
    walk: e.dataset.walk === undefined ? null : Number(e.dataset.walk),
    what: `${e.tagName.toLowerCase()} ${(e.getAttribute("aria-label") || e.textContent || "").trim().slice(0, 40)}`,
    ring: e.matches(":focus-visible") && style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""


def _table(page: Page, chart: str) -> Locator:
    """Show the chart's table (its toggle) and give the table."""
    figure = page.locator(f'figure[data-chart="{chart}"]')
    toggle = figure.get_by_role("button", name="Table")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(figure.locator(".chart-plot")).to_be_hidden()
    table = figure.locator("table")
    expect(table).to_be_visible()
    return table


def _rows(table: Locator) -> dict[str, list[str]]:
    """The table's rows: the header cell's text -> the texts of the other cells."""
    found: dict[str, list[str]] = {}
    for row in table.locator("tbody tr").all():
        head = row.locator("th").inner_text().strip()
        found[head] = [cell.strip() for cell in row.locator("td").all_inner_texts()]
    return found


def _page_variables(page: Page) -> dict[str, Any]:
    variables: dict[str, Any] = json.loads(str(page.locator("#page-query").text_content()))["variables"]
    return variables


# -- the stack's data -----------------------------------------------------------------------------------


def test_web_partners_page_shows_the_demo_orders_volume(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("partners").path)
    expect(page.get_by_role("heading", name="Volume")).to_be_visible()
    ordered = sum(quantity for _, _, _, quantity, _, _ in ORDERS)
    expect(page.locator(".totals")).to_have_text(f"{len(ORDERS)} orders, {ordered} pieces.")
    table = _table(page, "volume")
    expect(table.locator("thead th")).to_contain_text([PARTNER])
    today = [cells for cells in _rows(table).values() if any(c != "0" for c in cells)]
    assert today == [[str(len(ORDERS))]], _rows(table)  # one day of the week holds the demo orders
    cadence = page.locator('[data-table="cadence"] tbody tr', has_text=PARTNER)
    expect(cadence).to_contain_text("Ordering")
    tab.hygiene.assert_clean()


def test_web_metal_page_shows_the_metal_issued_to_the_demo_orders(
    web: WebStack, browse: Callable[..., Browsing]
) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("metal").path)
    for reference, _, alloy, _, _, _ in ORDERS:  # each order's metal left stores for its work when released
        order_id = web.seeded.order_ids[reference]
        row = page.locator('[data-table="custody"] tbody tr', has=page.get_by_role("link", name=order_id))
        expect(row).to_have_count(1)
        expect(row.locator("td").first).to_have_text(alloy)
        pending = row.locator("td").nth(4)  # issued, returned, loss, pending
        expect(pending).not_to_have_text(re.compile(r"^(0 mg|—)$"))
    balances = _rows(_table(page, "balances"))  # "AU585Y (Gold 585 yellow (14K))" -> gross, fine
    alloy = web.seeded.started.alloy_code
    (on_hand,) = [cells for name, cells in balances.items() if name.split(" ")[0] == alloy]
    assert len(on_hand) == 2 and all(cell.endswith(" g") for cell in on_hand), balances
    expect(page.get_by_text("No loss review is waiting.")).to_be_visible()
    tab.hygiene.assert_clean()


def test_web_analytics_page_shows_the_work_in_progress(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("analytics").path)
    aging = _rows(_table(page, "wip-aging"))
    assert int(aging["up to 24 h"][0]) >= len(ORDERS), aging  # the demo orders' work orders, released today
    queued = page.locator('[data-table="queues"] tbody tr', has_text=web.seeded.work_center)
    expect(queued).to_have_count(1)
    expect(page.get_by_role("heading", name="Little's law")).to_be_visible()
    tab.hygiene.assert_clean()


# -- charts and their tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ANALYTICS_PAGES)
def test_web_each_chart_table_holds_what_the_chart_draws(
    web: WebStack, browse: Callable[..., Browsing], name: str
) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit(name).path)
    figures = page.locator("figure.chart")
    keys = {str(figures.nth(i).get_attribute("data-chart")) for i in range(figures.count())}
    assert CHARTS[name] <= keys, f"{name}: charts {sorted(keys)}"
    for i in range(figures.count()):
        figure = figures.nth(i)
        svg = figure.locator("svg.chart-svg")
        expect(svg).to_have_attribute("role", "img")
        summary = str(svg.get_attribute("aria-label"))
        assert len(summary) > 20, summary
        data = figure.evaluate(_CHART_DATA)
        assert data["marks"], f"{name}: {figure.get_attribute('data-chart')} draws nothing"
        assert sorted(map(tuple, data["marks"])) == sorted(map(tuple, data["cells"])), figure.get_attribute(
            "data-chart"
        )
        _table(page, str(figure.get_attribute("data-chart")))
    violations = blocking_violations(page)  # every chart shown as its table
    assert not violations, "\n".join(violations)
    tab.hygiene.assert_clean()


def test_web_a_table_view_stays_across_a_refresh(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("partners").path)
    _table(page, "volume")
    refresh = page.get_by_role("button", name="Refresh")
    computed = page.locator(".computed time")
    before = computed.get_attribute("datetime")
    with page.expect_response(re.compile(r"/graphql$")) as answer:
        refresh.click()
    assert answer.value.ok
    expect(page.get_by_role("button", name="Refresh")).to_be_focused()
    expect(page.locator('figure[data-chart="volume"] table')).to_be_visible()
    assert computed.get_attribute("datetime") == before  # the cached answer: computed at the same time
    expect(page.locator("#live-status")).to_have_text("Not live")
    tab.hygiene.assert_clean()


def test_web_a_failed_refresh_is_told_and_the_page_keeps_its_data(
    web: WebStack, browse: Callable[..., Browsing]
) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("metal").path)
    tab.hygiene.allowing(r"503 POST .*/graphql$", r"status of 503")
    shown = page.locator("main *").count()
    page.route(re.compile(r"/graphql$"), lambda route: route.fulfill(status=503, json=UNAVAILABLE))
    page.get_by_role("button", name="Refresh").click()
    status = page.locator("#live-status")
    expect(status).to_have_text("Not live · Refresh failed: Service unavailable.")
    expect(page.locator("main *")).to_have_count(shown)
    expect(page.get_by_role("button", name="Refresh")).to_be_enabled()
    page.unroute(re.compile(r"/graphql$"))
    page.get_by_role("button", name="Refresh").click()
    expect(status).to_have_text("Not live")
    tab.hygiene.assert_clean()


# -- the URL --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ANALYTICS_PAGES)
def test_web_the_window_is_in_the_url(web: WebStack, browse: Callable[..., Browsing], name: str) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit(name).path)
    week = _page_variables(page)
    expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "true")
    page.get_by_role("link", name="Last 90 days").click()
    page.wait_for_url(re.compile(r"window=90d"))
    expect(page.get_by_role("link", name="Last 90 days")).to_have_attribute("aria-current", "true")
    quarter = _page_variables(page)
    assert quarter["to"] == week["to"]
    span = datetime.fromisoformat(quarter["to"]) - datetime.fromisoformat(quarter["from"])
    assert round(span.total_seconds() / 86400) == 90
    if name != "analytics":  # its series are always per day
        assert (week["grain"], quarter["grain"]) == ("DAY", "WEEK")
    tab.hygiene.assert_clean()


def test_web_the_partner_is_in_the_url(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse("supervisor")
    page = open_page(tab, web, web.visit("partners").path)
    page.get_by_role("combobox", name="Partner").select_option(PARTNER)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(rf"partner={PARTNER}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Partners: {PARTNER}")
    assert _page_variables(page)["partner"] == PARTNER
    assert "window=7d" in page.url  # the form keeps the window
    page.get_by_role("link", name="Last 30 days").click()
    page.wait_for_url(re.compile(rf"/partners\?partner={PARTNER}$"))
    page.get_by_role("link", name="All partners").click()
    page.wait_for_url(re.compile(r"/partners$"))
    assert _page_variables(page)["partner"] is None
    tab.hygiene.assert_clean()


# -- the keyboard ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", page_names())
def test_web_tab_reaches_every_control_in_order_with_a_visible_focus(
    web: WebStack, browse: Callable[..., Browsing], name: str
) -> None:
    visit = web.visit(name)
    tab = browse(visit.role)
    page = open_page(tab, web, visit.path)
    count: int = page.evaluate(_FOCUSABLE)
    assert count > 3
    reached: list[int] = []
    for _ in range(count):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        assert focused is not None, f"{name}: Tab left the page after {reached}"
        assert focused["walk"] is not None, f"{name}: Tab reached {focused['what']}, which is not a control"
        assert focused["ring"], f"{name}: {focused['what']} has no visible focus ring"
        reached.append(focused["walk"])
    assert reached == list(range(count)), f"{name}: Tab order {reached}"
    tab.hygiene.assert_clean()
