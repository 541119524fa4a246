"""Signing in and out in a real browser: a wrong password, a right one landing on ``next``, signing
out, and the whole form with the keyboard only."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD
from tests.e2e.web._pages import landing_path
from tests.e2e.web._seed import OPERATOR
from tests.e2e.web.conftest import Browsing, WebStack

pytestmark = pytest.mark.system

WRONG = "The operator code or password is not right."


def _path(page: Page, origin: str) -> str:
    return page.url.removeprefix(origin)


def _next_of(page: Page) -> list[str]:
    """The ``next`` of a sign-in URL (quoted either way: ``%2Forders`` or ``/graphiql``)."""
    parsed = urlsplit(page.url)
    assert parsed.path == "/sign-in", page.url
    return parse_qs(parsed.query).get("next", [])


def test_a_wrong_password_shows_the_message_and_keeps_the_code(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse()
    tab.hygiene.allowing(r"401 POST .*/sign-in$", r"status of 401")
    page = tab.page
    page.goto(f"{web.origin}/sign-in?next=/graphiql")
    page.get_by_label("Operator code").fill(OPERATOR)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text(WRONG)
    expect(page).to_have_title("Sign-in failed · Jewelry MES")
    expect(page.get_by_label("Operator code")).to_have_value(OPERATOR)
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert not [c for c in tab.context.cookies() if c["name"] == "mes_session"]
    tab.hygiene.assert_clean()


def test_the_right_password_lands_on_next_and_signing_out_returns_to_sign_in(
    web: WebStack, browse: Callable[..., Browsing]
) -> None:
    tab = browse()
    page = tab.page
    target = landing_path()
    page.goto(f"{web.origin}{target}")
    assert _next_of(page) == [target]
    page.get_by_label("Operator code").fill(OPERATOR)
    page.get_by_label("Password").fill(DEMO_OPERATOR_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{web.origin}{target}")
    expect(page.locator(".who-code")).to_have_text(OPERATOR)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{web.origin}/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The session is over: the page sends the browser back to sign in.
    page.goto(f"{web.origin}{target}")
    assert _next_of(page) == [target]
    tab.hygiene.assert_clean()


def test_signing_in_with_the_keyboard_only(web: WebStack, browse: Callable[..., Browsing]) -> None:
    tab = browse()
    page = tab.page
    page.goto(f"{web.origin}/sign-in?next=/graphiql")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Operator code")).to_be_focused()
    page.keyboard.type(OPERATOR)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_OPERATOR_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # submits the form from the password field
    expect(page).to_have_url(f"{web.origin}/graphiql")
    assert _path(page, web.origin) == "/graphiql"
    tab.hygiene.assert_clean()
