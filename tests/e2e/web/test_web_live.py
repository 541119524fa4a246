"""Live updates in a real browser, on a stack of this module's own (its orders change the data, which the
tour's screenshots must not see):

* an order committed in the backend shows on the open Orders page without a reload, and waits
  while live updates are paused;
* an operation started over gRPC shows on the open Bench page, a work center blocked over gRPC on
  the open Floor page;
* after its WebSocket was killed 10 times during a stream of orders, the Orders page shows what a
  fresh load of it shows;
* events a snapshot already holds (its ``asOf`` is a lower bound) are counted once; "Show" never
  renders an answer older than the events shown; a second start at a running work center shows on
  the Floor as on a fresh load.

Each page is opened once the stack is quiet (every order through the saga, the facade's ``asOf``
still): a page loaded while events are in flight is another test's subject.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests._infra.nats import NATS_MISSING, find_nats_server
from tests.e2e._graphql import OPERATOR
from tests.e2e._stack import stack_env
from tests.e2e.web._browser import CONTEXT_OPTIONS, Hygiene, SocketSwitch
from tests.e2e.web._seed import (
    ORDERS,
    block_work_center,
    make_room,
    order_input,
    queued,
    start_operation,
    submit_order,
    wait_queued,
)
from tests.e2e.web.conftest import Browsing, WebStack, seeded_stack, with_chromium

pytestmark = pytest.mark.system

PARTNER = "northwind-gems"
KILLS = 10
#: The work center the live test blocks on the Floor page, and why.
BLOCKED, BLOCK_REASON = "POL-1", "polishing wheel replaced"
#: Long enough for every order of the stream to reach production (the saga) and the page to catch up.
SETTLE_MS = 60_000


@pytest.fixture(scope="module")
def _live_stack(_browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    assert find_nats_server() is not None, NATS_MISSING
    with seeded_stack(_browser, tmp_path_factory.mktemp("web-live") / "var", stack_env()) as stack:
        yield stack


@pytest.fixture
def live_stack(request: pytest.FixtureRequest) -> WebStack:
    """A stack of this module's own (the same demo data and orders) with the session's browser, once
    ``chromium`` is known to be there."""
    return with_chromium(request, "_live_stack")


@pytest.fixture
def orders_tab(live_stack: WebStack) -> Iterator[Callable[[], tuple[Page, Hygiene, SocketSwitch]]]:
    contexts: list[BrowserContext] = []

    def open_orders() -> tuple[Page, Hygiene, SocketSwitch]:
        _wait_quiet(live_stack)
        tab = live_stack.open_tab(contexts, "supervisor")
        page, hygiene = tab.page, tab.hygiene
        switch = SocketSwitch().attach(page)
        page.goto(f"{live_stack.origin}/orders")
        expect(page.locator("#live-status")).to_have_text("Live")
        return page, hygiene, switch

    yield open_orders
    for context in contexts:
        context.close()


QUIET = "{ asOf { seq } orderCounts { total byStatus { status count } } }"


def _wait_quiet(stack: WebStack) -> None:
    """Wait until no order is on its way through the saga and the facade's ``asOf`` stands still."""
    last: object = None
    for _ in range(SETTLE_MS // 250):
        response = httpx.post(stack.gq.url, json={"query": QUIET}, headers=OPERATOR, timeout=10.0, trust_env=False)
        data = response.json()["data"]
        moving = {c["status"] for c in data["orderCounts"]["byStatus"] if c["count"]} & {"SUBMITTED", "ACCEPTED"}
        if not moving and data == last:
            return
        last = data
        time.sleep(0.25)
    raise AssertionError(f"the stack did not come to rest: {last}")


def _new_order(stack: WebStack, reference: str) -> str:
    order = order_input(reference, "RNG-BND-003", "AU585Y", 1, "56", "2031-04-01T16:00:00Z")
    return submit_order(stack.gq, reference, order, who=PARTNER)


def _chips(page: Page) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in page.locator(".chips a").all_inner_texts()]


def _wait_until_served(stack: WebStack, page: Page, order_id: str) -> None:
    """Wait until the page's own query, as the page's operator, lists ``order_id``."""
    page_query = json.loads(str(page.locator("#page-query").text_content()))
    for _ in range(SETTLE_MS // 250):
        response = page.request.post(f"{stack.origin}/graphql", data=page_query, headers={"Origin": stack.origin})
        assert response.ok, response.text()
        edges = response.json()["data"]["orders"]["edges"]
        if any(edge["node"]["id"] == order_id for edge in edges):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the facade never served the order {order_id} in the page's query")


def _plus_one(chip: str) -> str:
    """A chip's text ("In production 3") with its count one higher."""
    label, count = chip.rsplit(" ", 1)
    return f"{label} {int(count) + 1}"


def _rows(page: Page) -> dict[str, str]:
    """Order id -> its status cell's text, for every row of the table."""
    rows: dict[str, str] = {}
    for row in page.locator("tr[data-order-id]").all():
        status = row.locator(".badge").first.inner_text().strip()
        rows[str(row.get_attribute("data-order-id"))] = status
    return rows


def _banner_count(page: Page) -> int:
    banner = page.locator(".banner")
    if not banner.is_visible():
        return 0
    match = re.search(r"(\d+) new order", banner.inner_text())
    return int(match.group(1)) if match else 0


def test_an_order_committed_in_the_backend_shows_without_a_reload(
    live_stack: WebStack, orders_tab: Callable[[], tuple[Page, Hygiene, SocketSwitch]]
) -> None:
    page, hygiene, _ = orders_tab()
    chips = page.locator(".chips a")
    before = _chips(page)
    in_production = next(i for i, text in enumerate(before) if text.startswith("In production"))
    navigations: list[Any] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    order_id = _new_order(live_stack, "NW-LIVE-1")

    # The banner, not a row moving under the pointer; the counts follow the order through the saga.
    banner = page.locator(".banner")
    expect(banner).to_contain_text("1 new order", timeout=SETTLE_MS)
    assert order_id not in _rows(page), "the new order moved the rows under the pointer"
    expect(chips.nth(in_production)).to_have_text(_plus_one(before[in_production]), timeout=SETTLE_MS)
    # "Show" refetches the page's query: once the facade's answer has the order (its response cache
    # follows the same events a moment later than the subscription), the row is there.
    _wait_until_served(live_stack, page, order_id)
    banner.get_by_role("button", name="Show").click()
    expect(page.locator(f'tr[data-order-id="{order_id}"]')).to_be_visible()
    expect(chips.first).to_have_text(_plus_one(before[0]))
    assert navigations == [], f"the page was reloaded: {navigations}"
    hygiene.assert_clean()


def test_events_wait_while_live_updates_are_paused(
    live_stack: WebStack, orders_tab: Callable[[], tuple[Page, Hygiene, SocketSwitch]]
) -> None:
    page, hygiene, _ = orders_tab()
    toggle, banner = page.get_by_role("button", name="Pause live updates"), page.locator(".banner")
    toggle.click()
    expect(page.locator("#live-status")).to_have_text("Paused")
    chips = _chips(page)

    order_id = _new_order(live_stack, "NW-PAUSED-1")
    _wait_until_served(live_stack, page, order_id)  # its events have reached the facade and the socket

    expect(banner).to_be_hidden()
    assert _chips(page) == chips, "the page changed while paused"
    page.get_by_role("button", name="Resume live updates").click()
    expect(page.locator("#live-status")).to_have_text("Live")
    expect(banner).to_contain_text("1 new order")
    hygiene.assert_clean()


def test_after_ten_killed_sockets_the_page_equals_a_fresh_load(
    live_stack: WebStack, orders_tab: Callable[[], tuple[Page, Hygiene, SocketSwitch]]
) -> None:
    page, hygiene, switch = orders_tab()
    status = page.locator("#live-status")
    new_ids = []
    for n in range(KILLS):
        new_ids.append(_new_order(live_stack, f"NW-KILL-{n + 1}"))
        assert switch.kill() == 1, f"kill {n + 1}: the page had no socket open"
        expect(status).to_have_text("Live")  # reconnected, resumed with `since`
    assert switch.opened == KILLS + 1

    # Once every order has gone through the saga, the chips and the rows equal a fresh load's.
    fresh_context = live_stack.browser.new_context(**CONTEXT_OPTIONS, storage_state=live_stack.state("supervisor"))
    try:
        fresh = fresh_context.new_page()
        Hygiene(live_stack.origin).watch(fresh)
        expect(page.locator(".banner")).to_contain_text(f"{KILLS} new orders", timeout=SETTLE_MS)

        def same() -> bool:
            fresh.goto(f"{live_stack.origin}/orders")
            expect(fresh.locator("#live-status")).to_have_text("Live")
            fresh_rows = _rows(fresh)
            shown = {k: v for k, v in fresh_rows.items() if k not in new_ids}
            return (
                _chips(page) == _chips(fresh)
                and _rows(page) == shown
                and set(new_ids) <= set(fresh_rows)
                and all(fresh_rows[i] == "In production" for i in new_ids)
            )

        deadline_polls = SETTLE_MS // 500
        for _ in range(deadline_polls):
            if same():
                break
            page.wait_for_timeout(500)
        assert _chips(page) == _chips(fresh), f"counts differ: live {_chips(page)} fresh {_chips(fresh)}"
        assert _rows(page) == {k: v for k, v in _rows(fresh).items() if k not in new_ids}
    finally:
        fresh_context.close()
    hygiene.assert_clean()


def test_changes_committed_over_grpc_show_on_the_bench_and_the_floor(live_stack: WebStack) -> None:
    center = live_stack.seeded.work_center
    second = live_stack.seeded.order_ids[ORDERS[1][0]]
    waiting = next(op for op in queued(live_stack.gq, [second]) if op.work_center == f"workCenters/{center}")
    label = f"{waiting.work_order_id}.{waiting.sequence}"
    contexts: list[BrowserContext] = []
    tabs: list[Browsing] = []
    try:
        for role, path in (("operator", f"/bench/{center}"), ("supervisor", "/floor")):
            tab = live_stack.open_tab(contexts, role)
            tabs.append(tab)
            tab.page.goto(f"{live_stack.origin}{path}")
            expect(tab.page.locator("#live-status")).to_have_text("Live")
        bench, floor = tabs[0].page, tabs[1].page
        at_the_bench = bench.locator("section", has=bench.get_by_role("heading", name="At the bench"))
        tile = floor.locator(".tile", has_text=f"{BLOCKED} ·")
        expect(at_the_bench).not_to_contain_text(label)
        expect(tile).not_to_contain_text(BLOCK_REASON)

        start_operation(live_stack.gq, waiting)
        block_work_center(live_stack.gq, BLOCKED, BLOCK_REASON)

        expect(at_the_bench).to_contain_text(label, timeout=SETTLE_MS)
        expect(tile).to_contain_text("Blocked", timeout=SETTLE_MS)
        expect(tile).to_contain_text(BLOCK_REASON)
        for tab in tabs:
            tab.hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()


#: How far back the doctored snapshot of the double-counting test says it is: its data holds these events.
BEHIND = 8
#: Run before the page's modules (the document is parsed, deferred scripts not run yet): the snapshot's
#: ``asOf.seq`` moved back by ``BEHIND``, the real one kept in ``window.realAsOf``.
_BEHIND_SCRIPT = """document.addEventListener("readystatechange", () => {
  if (document.readyState !== "interactive") return;
  const element = document.getElementById("snapshot");
  const snapshot = JSON.parse(element.textContent);
  window.realAsOf = Number(snapshot.asOf.seq);
  const earlier = Math.max(0, window.realAsOf - BEHIND);
  snapshot.asOf.seq = earlier;
  if (snapshot.data && snapshot.data.asOf) snapshot.data.asOf.seq = earlier;
  element.textContent = JSON.stringify(snapshot);
});""".replace("BEHIND", str(BEHIND))


def _open_as(stack: WebStack, path: str, role: str, contexts: list[Any], init_script: str = "") -> tuple[Page, Hygiene]:
    _wait_quiet(stack)
    tab = stack.open_tab(contexts, role)
    page, hygiene = tab.page, tab.hygiene
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{stack.origin}{path}")
    expect(page.locator("#live-status")).to_have_text("Live")
    return page, hygiene


def _same_chips_as_a_fresh_load(stack: WebStack, page: Page, contexts: list[Any]) -> list[str]:
    """The chips of a fresh load of the Orders page, once the open page shows the same (or after
    ``SETTLE_MS``: the caller compares)."""
    fresh_context = stack.browser.new_context(**CONTEXT_OPTIONS, storage_state=stack.state("supervisor"))
    contexts.append(fresh_context)
    fresh = fresh_context.new_page()
    for _ in range(SETTLE_MS // 500):
        fresh.goto(f"{stack.origin}/orders")
        expect(fresh.locator("#live-status")).to_have_text("Live")
        if _chips(fresh) == _chips(page):
            break
        page.wait_for_timeout(500)
    return _chips(fresh)


def test_events_the_snapshot_already_holds_are_applied_once(live_stack: WebStack) -> None:
    """A snapshot's ``asOf`` is a lower bound: its data may hold the events just after it. Here the page's
    ``asOf`` is moved back by ``BEHIND`` events (every one already in its data, replayed by the
    subscription from there): the counts and the banner must not count them again."""
    contexts: list[Any] = []
    try:
        held = _new_order(live_stack, "NW-ONCE-1")  # its events are the last ones the doctored snapshot holds
        page, hygiene = _open_as(live_stack, "/orders", "supervisor", contexts, _BEHIND_SCRIPT)
        for _ in range(SETTLE_MS // 500):  # a cached answer a moment behind may not hold it yet: load again
            if held in _rows(page):
                break
            page.wait_for_timeout(500)
            page.reload()
            expect(page.locator("#live-status")).to_have_text("Live")
        assert _rows(page).get(held) == "In production", _rows(page)
        shown = json.loads(str(page.locator("#snapshot").text_content()))
        assert int(shown["asOf"]["seq"]) == int(page.evaluate("window.realAsOf")) - BEHIND
        before = _chips(page)
        # A new order after the replayed ones: once the page shows it, it has applied every earlier event.
        order_id = _new_order(live_stack, "NW-ONCE-2")
        expect(page.locator(".banner")).to_contain_text("1 new order", timeout=SETTLE_MS)
        fresh = _same_chips_as_a_fresh_load(live_stack, page, contexts)
        assert _chips(page) == fresh, f"counted twice: live {_chips(page)} fresh {fresh} (loaded {before})"
        assert _banner_count(page) == 1, f"the banner counts {_banner_count(page)} new orders for {order_id}"
        hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()


def test_show_never_renders_an_answer_older_than_the_events_shown(live_stack: WebStack) -> None:
    """The facade's response cache follows the events a moment after the subscription: "Show" may get
    an answer older than the banner's events. The page asks with ``x-mes-min-position`` and asks again
    while the answer's ``asOf`` is older than what it applied; the first answer here is the stale one."""
    contexts: list[Any] = []
    try:
        page, hygiene = _open_as(live_stack, "/orders", "supervisor", contexts)
        stale = json.loads(str(page.locator("#snapshot").text_content()))
        asked: list[str | None] = []

        def first_stale(route: Any) -> None:
            asked.append(route.request.headers.get("x-mes-min-position"))
            if len(asked) == 1:
                route.fulfill(json={"data": stale["data"]})
            else:
                route.fallback()

        order_id = _new_order(live_stack, "NW-STALE-1")
        banner = page.locator(".banner")
        expect(banner).to_contain_text("1 new order", timeout=SETTLE_MS)
        page.route(f"{live_stack.origin}/graphql", first_stale)
        banner.get_by_role("button", name="Show").click()
        expect(page.locator(f'tr[data-order-id="{order_id}"]')).to_be_visible()
        assert len(asked) >= 2, f"the stale answer was rendered: {asked}"
        assert all(header and header.startswith("ORDERS:") for header in asked), asked
        assert int(str(asked[0]).split(":")[1]) > int(stale["asOf"]["seq"])
        expect(page.locator("#live-status")).to_have_text("Live")
        hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()


def _bench_facts(page: Page, center: str) -> list[str]:
    """The facts of a work center's tile that do not move with the clock: queue length, at the bench, WIP."""
    facts = page.locator(f'.tile[data-center="{center}"] .tile-facts dd')
    texts = [re.sub(r"\s+", " ", t).strip() for t in facts.all_inner_texts()[:3]]
    return [re.sub(r" · oldest .*$", "", texts[0]), *texts[1:]]


def test_a_second_start_at_a_running_work_center_shows_on_the_floor(live_stack: WebStack) -> None:
    """Every operation change at a work center comes with its new tile under the change's sequence
    (``OperationUpdated`` then ``WorkCenterUpdated``): the page applies both, so two starts one after
    the other at one open Floor page show 2 more in progress, as a fresh load does."""
    contexts: list[Any] = []
    try:
        ids = [_new_order(live_stack, f"NW-FLOOR-{n}") for n in (1, 2)]
        ops = wait_queued(live_stack.gq, ids)
        firsts = [min((op for op in ops if op.order_id == i), key=lambda op: op.sequence) for i in ids]
        center = firsts[0].work_center.removeprefix("workCenters/")
        assert firsts[1].work_center == firsts[0].work_center, [op.work_center for op in firsts]
        page, hygiene = _open_as(live_stack, "/floor", "supervisor", contexts)
        at_bench = page.locator(f'.tile[data-center="{center}"] .tile-facts dd').nth(1)
        shown = re.match(r"(\d+) in progress", at_bench.inner_text())
        assert shown is not None, at_bench.inner_text()
        running = int(shown.group(1))

        start_operation(live_stack.gq, firsts[0])
        expect(at_bench).to_contain_text(f"{running + 1} in progress", timeout=SETTLE_MS)
        start_operation(live_stack.gq, firsts[1])
        expect(at_bench).to_contain_text(f"{running + 2} in progress", timeout=SETTLE_MS)

        # A fresh load (its answer may come from the response cache a moment behind: load it again until
        # it has both starts) shows the same tile.
        fresh, _ = _open_as(live_stack, "/floor", "supervisor", contexts)
        for _ in range(SETTLE_MS // 500):
            if _bench_facts(fresh, center) == _bench_facts(page, center):
                break
            page.wait_for_timeout(500)
            fresh.reload()
            expect(fresh.locator("#live-status")).to_have_text("Live")
        assert _bench_facts(page, center) == _bench_facts(fresh, center)
        hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()


def test_what_an_operator_types_at_the_bench_survives_live_updates(live_stack: WebStack) -> None:
    """The Bench page redraws on every event at its work center: a weigh-in being typed into a queued
    operation's Start form, and the focus, stay as they were while a new operation joins the queue."""
    contexts: list[Any] = []
    try:
        first = _new_order(live_stack, "NW-DRAFT-1")
        mine = min(wait_queued(live_stack.gq, [first]), key=lambda op: op.sequence)
        center = mine.work_center.removeprefix("workCenters/")
        page, hygiene = _open_as(live_stack, f"/bench/{center}", "operator", contexts)
        weigh_in = page.locator(f'[data-op="{mine.work_order_id}.{mine.sequence}"] form.start input[name=mg]')
        weigh_in.fill("12750")

        second = _new_order(live_stack, "NW-DRAFT-2")
        joined = min(wait_queued(live_stack.gq, [second]), key=lambda op: op.sequence)
        assert joined.work_center == mine.work_center, (joined.work_center, mine.work_center)
        row = page.locator(f'[data-op="{joined.work_order_id}.{joined.sequence}"]')
        expect(row).to_be_visible(timeout=SETTLE_MS)  # the page redrew with the new operation in the queue

        expect(weigh_in).to_have_value("12750")
        expect(weigh_in).to_be_focused()
        hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()


def test_an_operation_started_at_a_bench_shows_on_the_open_order_page(live_stack: WebStack) -> None:
    """The Order page follows its order's operations (production's events), not only its status: a start
    committed over gRPC turns the step from Queued to In progress without a reload."""
    contexts: list[Any] = []
    try:
        order_id = _new_order(live_stack, "NW-ORDER-OPS")
        first = min(wait_queued(live_stack.gq, [order_id]), key=lambda op: op.sequence)
        make_room(live_stack.gq, first.work_center)
        page, hygiene = _open_as(live_stack, f"/orders/{order_id}", "supervisor", contexts)
        main = page.locator("main")
        expect(main).to_contain_text("Queued")
        expect(main).not_to_contain_text("In progress")

        start_operation(live_stack.gq, first)

        expect(main).to_contain_text("In progress", timeout=SETTLE_MS)
        hygiene.assert_clean()
    finally:
        for context in contexts:
            context.close()
