"""What the facade serves to browsers: its own static files and the operators' pages, all offline.

* ``/static/...``: the files of ``static/`` (package data, served from memory with content-hash
  ETags, immutable caching for fingerprinted URLs and gzip: :mod:`graphql_facade.web.assets`),
  among them the vendored GraphiQL, React and ReactDOM (``static/vendor/VENDORED.md``, kept by
  :mod:`graphql_facade.web.vendor`): no page loads anything from another origin.
* ``/graphiql``, ``/`` and ``/favicon.ico``: :mod:`graphql_facade.web.pages`.
* the operators' web app (``/orders``, ``/orders/{id}``...): :mod:`graphql_facade.web.app_pages`.

:func:`web_routes` gives the app its routes as one block.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from graphql_facade.config import FacadeSettings
from graphql_facade.web.app_pages import app_page_routes
from graphql_facade.web.assets import StaticAssets, load_assets
from graphql_facade.web.pages import GRAPHIQL_PATH, FacadeHolder, Pages

__all__ = ["FacadeHolder", "StaticAssets", "load_assets", "web_routes"]


def web_routes(holder: FacadeHolder, settings: FacadeSettings) -> list[BaseRoute]:
    """The routes of the pages and static files; ``holder.facade`` is read per request."""
    assets = load_assets()
    pages = Pages(holder, assets, graphiql=settings.graphiql)
    return [
        Route("/", pages.home, methods=["GET"]),
        Route(GRAPHIQL_PATH, pages.graphiql, methods=["GET"]),
        Route("/favicon.ico", pages.favicon, methods=["GET"]),
        Route("/static/{path:path}", assets.endpoint, methods=["GET"]),
        *app_page_routes(holder, assets, graphiql=settings.graphiql),
    ]
