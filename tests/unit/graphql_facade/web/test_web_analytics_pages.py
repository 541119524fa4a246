"""The analytics pages (``/metal``, ``/analytics``, ``/partners``) through the ASGI app over the fake
analytics service: registered in the nav, not live (no pause toggle), the window and partner of the query
string as variables (ending at the plant's midnight), the snapshot inlined (equal to running the page's
query), a page that keeps what it could read when the analytics fail, bad input as a 400 page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from graphql import parse as parse_document
from graphql import validate
from starlette.requests import Request

from clients import UnavailableError
from graphql_facade.config import FacadeSettings
from graphql_facade.limits.cost import requested_cost
from graphql_facade.limits.tiers import operator_limits
from graphql_facade.schema import build_schemas
from graphql_facade.web import app_pages
from graphql_facade.web.app_pages import (
    NAV,
    PAGES,
    PageInputError,
    analytics_variables,
    analytics_window,
    document_text,
    metal_variables,
    partners_variables,
)
from graphql_facade.web.assets import load_assets
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_A_KEY,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import client_error
from tests.unit.graphql_facade.test_facade_analytics import ANALYTICS_ADDR, FakeAnalyticsBackend
from tests.unit.graphql_facade.web.test_web_app_pages import BROWSER, check_shell, parse, run_query

OPERATOR_SCHEMA = build_schemas().operator_documents.graphql
#: 2030-03-10 10:00 in Rome (UTC+1): today ends at 2030-03-10T23:00Z.
NOW = datetime(2030, 3, 10, 9, 0, tzinfo=UTC)
PAGE_FILES = {"metal": "metal.graphql", "analytics": "analytics.graphql", "partners": "partners.graphql"}


def request(query: str = "", zone: str | None = None) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query.encode(),
        "headers": [],
    }
    made = Request(scope)
    if zone is not None:
        made.state.plant_time_zone = zone
    return made


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_pages, "_now", lambda: NOW)


@pytest.fixture
def analytics() -> FakeAnalyticsBackend:
    fake = FakeAnalyticsBackend()
    fake.add_catalogue()
    fake.add_partner("partner-a", PARTNER_A_KEY)
    return fake


@pytest.fixture
async def web(analytics: FakeAnalyticsBackend) -> AsyncIterator[FacadeClient]:
    settings = facade_settings(MES_FACADE_ANALYTICS_ADDR=ANALYTICS_ADDR, MES_FACADE_PLANT_TIME_ZONE="Europe/Rome")
    async with running_app(analytics, settings) as client:
        yield client


def test_the_pages_are_registered_not_live_and_in_the_nav() -> None:
    for name, path, script in (
        ("metal", "/metal", "app/pages/metal.js"),
        ("analytics", "/analytics", "app/pages/analytics.js"),
        ("partners", "/partners", "app/pages/partners.js"),
    ):
        spec = PAGES[name]
        assert (spec.path, spec.script, spec.live) == (path, script, False)
    assert [label for _, label in NAV] == ["Floor", "Orders", "Metal & loss", "Analytics", "Partners"]
    served = {asset.path for asset in load_assets()}
    assert {"app/charts.js", "app/report.js", "app/pages/metal.js", "app/pages/analytics.js"} <= served
    assert "app/pages/partners.js" in served


@pytest.mark.parametrize("name", sorted(PAGE_FILES))
def test_the_documents_are_valid_operator_queries_within_the_limits(name: str) -> None:
    document = parse_document(document_text(PAGE_FILES[name]))
    assert validate(OPERATOR_SCHEMA, document) == []
    variables = {"from": "2030-03-01T00:00:00Z", "to": "2030-03-02T00:00:00Z", "grain": "WEEK"}
    assert requested_cost(OPERATOR_SCHEMA, document, variables, None) <= operator_limits().max_cost


# -- the windows -------------------------------------------------------------------------------------------


def test_the_window_ends_at_the_plants_next_midnight() -> None:
    days, window = analytics_window(request(zone="Europe/Rome"))
    assert days == 30
    assert window == {"from": "2030-02-08T23:00:00+00:00", "to": "2030-03-10T23:00:00+00:00"}
    assert analytics_window(request("window=7d", zone="Europe/Rome"))[1] == {
        "from": "2030-03-03T23:00:00+00:00",
        "to": "2030-03-10T23:00:00+00:00",
    }
    assert analytics_window(request("window=90D"))[1] == {
        "from": "2029-12-11T00:00:00+00:00",
        "to": "2030-03-11T00:00:00+00:00",
    }


def test_a_window_across_a_clock_change_keeps_whole_local_days(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rome moves to summer time on 2030-03-31: that day of the window is 23 hours long.
    monkeypatch.setattr(app_pages, "_now", lambda: datetime(2030, 4, 2, 12, 0, tzinfo=UTC))
    _, window = analytics_window(request("window=7d", zone="Europe/Rome"))
    assert window == {"from": "2030-03-26T23:00:00+00:00", "to": "2030-04-02T22:00:00+00:00"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("window=1y", "`window` '1y' is not a window of these pages; use one of 7d, 30d, 90d."),
        ("window=7d&window=30d", "`window` is given 2 times"),
        ("partner=bad%20id", "`partner` is not a partner id"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(query: str, message: str) -> None:
    with pytest.raises(PageInputError, match=message):
        partners_variables(request(query))


def test_the_series_are_per_day_over_a_week_and_per_week_otherwise() -> None:
    week = partners_variables(request("window=7d&partner=aurora-jewels"))
    assert (week["grain"], week["partner"]) == ("DAY", "aurora-jewels")
    month = partners_variables(request())
    assert (month["grain"], month["partner"]) == ("WEEK", None)
    assert metal_variables(request("window=7d"))["grain"] == "DAY"
    assert metal_variables(request("window=90d"))["grain"] == "WEEK"
    assert "grain" not in analytics_variables(request("window=90d"))  # its query asks per day


def test_the_plant_time_zone_is_a_setting() -> None:
    assert facade_settings().plant_time_zone == "UTC"
    assert facade_settings(MES_ANALYTICS_TIME_ZONE="Europe/Rome").plant_time_zone == "Europe/Rome"
    chosen = facade_settings(MES_ANALYTICS_TIME_ZONE="Europe/Rome", MES_FACADE_PLANT_TIME_ZONE="Asia/Tokyo")
    assert chosen.plant_time_zone == "Asia/Tokyo"
    with pytest.raises(ValueError, match="MES_FACADE_PLANT_TIME_ZONE must be an IANA time zone"):
        FacadeSettings.from_env({"MES_FACADE_PLANT_TIME_ZONE": "Mars/Olympus"})


# -- through the app -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "variables"),
    [
        (
            "/metal",
            "metal",
            {"from": "2030-02-08T23:00:00+00:00", "to": "2030-03-10T23:00:00+00:00", "grain": "WEEK"},
        ),
        ("/analytics?window=7d", "analytics", {"from": "2030-03-03T23:00:00+00:00", "to": "2030-03-10T23:00:00+00:00"}),
        (
            "/partners?window=90d&partner=partner-b",
            "partners",
            {
                "from": "2029-12-10T23:00:00+00:00",
                "to": "2030-03-10T23:00:00+00:00",
                "grain": "WEEK",
                "partner": "partner-b",
            },
        ),
    ],
)
async def test_each_page_inlines_its_query_result_and_is_not_live(
    web: FacadeClient, path: str, name: str, variables: dict[str, Any]
) -> None:
    response = await web.http.get(path, headers={**BROWSER, **OPERATOR})
    shell = check_shell(response, PAGES[name].path)
    assert "hidden" in shell.elements["live-pause"], "a page that is not live has no pause toggle"
    assert shell.json_of("page-query") == {"query": document_text(PAGE_FILES[name]), "variables": variables}
    snapshot = shell.json_of("snapshot")
    assert snapshot["data"] == await run_query(web, PAGE_FILES[name], variables)
    assert snapshot["asOf"] == {"computedAt": "2030-03-09T08:30:00+00:00"}
    modules = [str(s.attrs.get("src")) for s in shell.scripts if s.attrs.get("type") == "module"]
    assert any(src.startswith(f"/static/{PAGES[name].script}?v=") for src in modules)


async def test_the_partners_page_asks_for_the_partner_of_its_url(
    web: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    response = await web.http.get("/partners?partner=partner-b", headers={**BROWSER, **OPERATOR})
    volume = parse(response.text).json_of("snapshot")["data"]["partnerAnalytics"]["volume"]
    assert {row["partnerId"] for row in volume} == {"partner-b"}
    assert [r.partner_id for m, r in analytics.requests if m == "GetPartnerAnalytics"][-1] == "partner-b"


async def test_the_metal_page_keeps_the_balances_when_the_analytics_fail(
    web: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    analytics.fail["GetMetalAnalytics"] = client_error(UnavailableError, grpc.StatusCode.UNAVAILABLE, "down")
    response = await web.http.get("/metal", headers={**BROWSER, **OPERATOR})
    assert response.status_code == 200
    snapshot = parse(response.text).json_of("snapshot")
    assert snapshot["data"]["metalAnalytics"] is None
    assert {b["materialCode"] for b in snapshot["data"]["alloyBalances"]["nodes"]} == {"AU750Y", "AG925"}
    (error,) = snapshot["errors"]
    assert error["path"] == ["metalAnalytics"] and error["extensions"]["code"] == "UNAVAILABLE"


async def test_without_the_analytics_service_the_pages_say_so(analytics: FakeAnalyticsBackend) -> None:
    async with running_app(analytics, facade_settings()) as web:
        response = await web.http.get("/partners", headers={**BROWSER, **OPERATOR})
    assert response.status_code == 200
    snapshot = parse(response.text).json_of("snapshot")
    assert snapshot["data"] == {"partnerAnalytics": None}
    assert snapshot["errors"][0]["extensions"]["code"] == "ANALYTICS_NOT_ENABLED"


@pytest.mark.parametrize("path", ["/metal?window=2w", "/analytics?window=forever", "/partners?partner=a%20b"])
async def test_a_bad_value_is_a_400_page_with_the_message(web: FacadeClient, path: str) -> None:
    response = await web.http.get(path, headers={**BROWSER, **OPERATOR})
    assert response.status_code == 400 and 'id="snapshot"' not in response.text
    assert "is not a" in response.text


@pytest.mark.parametrize("path", ["/metal", "/analytics", "/partners"])
async def test_signed_out_browsers_go_to_sign_in_and_partners_get_404(web: FacadeClient, path: str) -> None:
    response = await web.http.get(path, headers=BROWSER)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=")
    assert (await web.http.get(path, headers={**BROWSER, **PARTNER_A})).status_code == 404
