"""The pages the browser tests visit: every page registered in ``graphql_facade.web.app_pages.PAGES``
(a page added there is toured without a change here, unless its path has a parameter this module
does not know), with the demo data's values for the path's parameters, who looks at it, and what
changes from run to run on it (masked in its screenshot)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphql_facade.web.app_pages import PAGES, PageSpec
from tests.e2e.web._seed import ORDERS, Seeded

#: The screenshot of each page (``docs/screenshots/<name>.png``), by page name.
SCREENSHOT_NAMES = {"floor": "floor", "bench": "bench", "orders": "orders", "order": "order-detail"}
#: What changes from run to run on every page: times of day (``<time>`` elements, but the demo orders'
#: due dates, fixed in 2031, and what the pages mark ``data-volatile``).
VOLATILE = ('time:not([datetime^="2031-"])', "[data-volatile]")
#: The floor's shift figures move with the clock (the shift on now, "Off shift" at night, its output so far):
#: masked like times of day, over fixed text of the same shape so that the tiles' layout stays put.
_SHIFT_FIGURES = (".tile-shift", ".tile-hour", ".tile-this-shift", ".tile-utilisation")
#: What else changes on a page (ids are frozen by the screenshot itself).
PAGE_VOLATILE: dict[str, tuple[str, ...]] = {"floor": _SHIFT_FIGURES}
#: What a page's screenshot shows as fixed text under its mask (selector -> text): what moves with the clock
#: and would change the layout.
PAGE_FROZEN: dict[str, dict[str, str]] = {
    "floor": dict(
        zip(
            _SHIFT_FIGURES,
            ("Early shift 00:00\u201300:00", "0 of 0 target", "0 of 0 target", "0% (busy 0 of 0 minutes)"),
            strict=True,
        )
    )
}
#: The analytics pages' shown figures that move with the clock (busy time, the constraint verdict, mean
#: WIP): masked, over fixed text so that the tables keep their layout.
_ANALYTICS_FIGURES = "main [data-volatile]:not(.chart-plot):not(time)"
PAGE_VOLATILE["analytics"] = (_ANALYTICS_FIGURES,)
PAGE_FROZEN["analytics"] = {_ANALYTICS_FIGURES: "\u2014"}
#: The query string each page is opened with: the analytics pages over 7 days, in buckets of a day (the
#: same 7 buckets whatever the weekday, so their pictures hold from day to day).
PAGE_QUERY: dict[str, str] = {"metal": "window=7d", "analytics": "window=7d", "partners": "window=7d"}
#: Pages for the floor's supervisor; the others are toured by an operator.
SUPERVISOR_PAGES = frozenset({"floor", "orders", "order", "metal", "analytics", "partners"})
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}")


@dataclass(frozen=True)
class Visit:
    """One page as the tests open it."""

    name: str
    path: str
    role: str

    @property
    def screenshot(self) -> str:
        return SCREENSHOT_NAMES.get(self.name, self.name)

    @property
    def volatile(self) -> tuple[str, ...]:
        return VOLATILE + PAGE_VOLATILE.get(self.name, ())

    @property
    def frozen(self) -> dict[str, str]:
        return PAGE_FROZEN.get(self.name, {})


def _value(spec: PageSpec, param: str, seeded: Seeded) -> str:
    """A path parameter's value in the demo data: an order's id, or the work center of the started operation."""
    if "order" in spec.name:
        return seeded.order_ids[ORDERS[0][0]]
    if any(word in spec.name for word in ("bench", "work", "center", "queue")):
        return seeded.work_center
    raise AssertionError(
        f"page {spec.name!r} ({spec.path}): no demo value for {{{param}}}; add one to tests/e2e/web/_pages.py"
    )


def path_of(spec: PageSpec, seeded: Seeded) -> str:
    path = _PARAM.sub(lambda m: _value(spec, m.group(1), seeded), spec.path)
    query = PAGE_QUERY.get(spec.name)
    return f"{path}?{query}" if query else path


def visits(seeded: Seeded) -> list[Visit]:
    """Every registered page, in registration order."""
    return [
        Visit(spec.name, path_of(spec, seeded), "supervisor" if spec.name in SUPERVISOR_PAGES else "operator")
        for spec in PAGES.values()
    ]


def page_names() -> list[str]:
    """The registered pages' names (the tests' parameters)."""
    return list(PAGES)


def landing_path() -> str:
    """A page without parameters to land on after signing in (the Floor when it is there)."""
    plain = [spec for spec in PAGES.values() if "{" not in spec.path]
    assert plain, "no page of the app is registered (graphql_facade.web.app_pages.PAGES)"
    return next((spec.path for spec in plain if spec.name == "floor"), plain[0].path)
