"""The web app's files, without running any JavaScript: every module a page loads exists and is served
fingerprinted, every import between modules goes through the import map, every page's query and every
subscription of its module is valid against the operators' schema, and everything ships as package data."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from graphql import FieldNode, OperationDefinitionNode, OperationType, parse, validate

import graphql_facade.web
from graphql_facade.schema import build_schemas
from graphql_facade.web.app_pages import PAGES, AppPages, _View, document_text
from graphql_facade.web.assets import IMMUTABLE, load_assets
from tests.unit.graphql_facade.conftest import OPERATOR, FacadeClient, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.web.test_web_app_pages import parse as parse_page
from tests.unit.graphql_facade.web.test_web_packaging import package_files, shipped_files

PACKAGE_DIR = Path(graphql_facade.web.__file__).resolve().parent
APP_DIR = PACKAGE_DIR / "static" / "app"
#: ``import ... from "x"``, ``import "x"``, ``export ... from "x"`` and ``import("x")`` in a module.
_IMPORT = re.compile(
    r"""(?:^|[;\s])(?:import|export)\s[^;'"`]*?from\s*(['"])(?P<from>[^'"]+)\1"""
    r"""|(?:^|[;\s])import\s*(['"])(?P<bare>[^'"]+)\3"""
    r"""|\bimport\(\s*(['"])(?P<dynamic>[^'"]+)\5\s*\)""",
    re.MULTILINE,
)
_SUBSCRIPTION = re.compile(r"`(\s*subscription\b[^`]*)`")
_OPERATOR_SCHEMA = build_schemas().operator._schema


class _NoFacade:
    facade = None


def _modules() -> list[Path]:
    return sorted(APP_DIR.rglob("*.js"))


def _static_path(path: Path) -> str:
    return "/static/" + path.relative_to(PACKAGE_DIR / "static").as_posix()


def _page_url(name: str, order_id: str) -> str:
    return PAGES[name].path.replace("{id}", order_id)


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


async def _check_served_fingerprinted(web: FacadeClient, page: str, script: str) -> None:
    """The modules, style sheet and import-map targets of ``page`` (HTML): shipped files, fingerprinted URLs."""
    assets = load_assets()
    shell = parse_page(page)
    import_map = next(s for s in shell.scripts if s.attrs.get("type") == "importmap")
    mapped = json.loads(import_map.text)["imports"]
    loaded = [str(s.attrs["src"]) for s in shell.scripts if s.attrs.get("type") == "module"]
    assert loaded == [assets.url("app/live.js"), assets.url(script)]
    for url in [*loaded, *mapped.values(), *(u for u in shell.urls if u.startswith("/static/"))]:
        parts = urlsplit(url)
        asset = assets.get(parts.path.removeprefix("/static/"))
        assert asset is not None, url
        assert parts.query == f"v={asset.version}", url
        served = await web.http.get(url)
        assert served.status_code == 200 and served.headers["cache-control"] == IMMUTABLE, url
        if parts.path.endswith(".js"):
            assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    # The import map sends the plain URL of every module to its fingerprinted one.
    assert mapped == {
        _static_path(path): assets.url(_static_path(path).removeprefix("/static/")) for path in _modules()
    }


async def test_the_orders_pages_load_only_shipped_modules_with_fingerprints(
    web: FacadeClient, backend: FakeBackend
) -> None:
    order = backend.add_order("partner-a")
    for name, url in (("orders", "/orders"), ("order", f"/orders/{order.order_id}")):
        response = await web.http.get(url, headers=OPERATOR)
        assert response.status_code == 200, (name, response.text)
        await _check_served_fingerprinted(web, response.text, PAGES[name].script)


@pytest.mark.parametrize("name", sorted(PAGES))
async def test_every_registered_page_loads_only_shipped_modules_with_fingerprints(web: FacadeClient, name: str) -> None:
    """Every page of the registry, rendered by the shell (with an empty snapshot: its data is its own tests')."""
    spec = PAGES[name]
    assert spec.script in load_assets()
    pages = AppPages(_NoFacade(), load_assets(), graphiql=True)
    view = _View(
        title=spec.title,
        current=spec.nav or spec.name,
        viewer=None,
        graphiql=True,
        snapshot={"data": {}, "asOf": None},
        page_query={"query": document_text(spec.document_file), "variables": {}},
        script=spec.script,
    )
    await _check_served_fingerprinted(web, pages.render(view), spec.script)


def test_every_import_between_modules_resolves_to_a_shipped_module() -> None:
    """A module imports another by its plain relative path; the import map fingerprints it."""
    shipped = {_static_path(path) for path in _modules()}
    found = 0
    for path in _modules():
        source = path.read_text("utf-8")
        for match in _IMPORT.finditer(source):
            specifier = match.group("from") or match.group("bare") or match.group("dynamic")
            assert specifier.startswith(("./", "../")), f"{path.name}: {specifier} (no bare or absolute imports)"
            target = urlsplit(urljoin("http://facade.test" + _static_path(path), specifier)).path
            assert target in shipped, f"{path.name} imports {specifier}: no such module"
            found += 1
    assert found >= 2  # the pages import live.js


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_page_document_is_one_valid_query_with_as_of(name: str) -> None:
    spec = PAGES[name]
    document = parse(document_text(spec.document_file))
    assert validate(_OPERATOR_SCHEMA, document) == []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1 and operations[0].operation == OperationType.QUERY
    # The snapshot's asOf (the subscriptions' first `since`): at the root, or in the first root field.
    roots = [s for s in operations[0].selection_set.selections if isinstance(s, FieldNode)]
    assert any(
        root.name.value == "asOf"
        or (
            root.selection_set
            and any(isinstance(f, FieldNode) and f.name.value == "asOf" for f in root.selection_set.selections)
        )
        for root in roots
    )


def test_each_subscription_of_a_page_module_is_valid_against_the_operator_schema() -> None:
    found = 0
    for path in _modules():
        for match in _SUBSCRIPTION.finditer(path.read_text("utf-8")):
            errors = validate(_OPERATOR_SCHEMA, parse(match.group(1)))
            assert errors == [], (path.name, errors)
            found += 1
    assert found >= 2  # the Orders and Order pages


def test_the_style_sheet_loads_nothing_from_elsewhere() -> None:
    css = (APP_DIR / "app.css").read_text("utf-8")
    assert "@import" not in css and "@font-face" not in css
    assert not re.search(r"url\(", css)
    assert "prefers-reduced-motion" in css and ":focus-visible" in css


def test_the_queries_the_template_and_the_app_files_ship_as_package_data() -> None:
    wanted = package_files("queries", "static/app")
    assert {f"queries/{spec.document_file}" for spec in PAGES.values()} <= wanted
    assert wanted | {"templates/app.html"} <= shipped_files()
