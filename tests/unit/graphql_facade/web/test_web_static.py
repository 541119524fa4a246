"""``/static/...`` and ``/favicon.ico`` through the ASGI app: types, caching, ETag/304, gzip."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import AsyncIterator
from importlib import resources

import pytest

from graphql_facade.web import load_assets
from graphql_facade.web.assets import IMMUTABLE, SHORT_CACHE
from tests.unit.graphql_facade.conftest import FacadeClient, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

GRAPHIQL_JS = "vendor/graphiql-3.8.3/graphiql.min.js"
IDENTITY = {"accept-encoding": "identity"}


def _file(path: str) -> bytes:
    return (resources.files("graphql_facade.web") / "static" / path).read_bytes()


def _version(path: str) -> str:
    return hashlib.sha256(_file(path)).hexdigest()[:16]


@pytest.fixture
async def web(backend: FakeBackend) -> AsyncIterator[FacadeClient]:
    async with running_app(backend) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        (GRAPHIQL_JS, "text/javascript; charset=utf-8"),
        ("vendor/graphiql-3.8.3/graphiql.min.css", "text/css; charset=utf-8"),
        ("vendor/react-18.3.1/react.production.min.js", "text/javascript; charset=utf-8"),
        ("vendor/react-dom-18.3.1/LICENSE", "text/plain; charset=utf-8"),
        ("graphiql/boot.js", "text/javascript; charset=utf-8"),
        ("favicon.ico", "image/vnd.microsoft.icon"),
    ],
)
async def test_a_file_is_served_as_it_is_with_its_type(web: FacadeClient, path: str, media_type: str) -> None:
    response = await web.http.get(f"/static/{path}", headers=IDENTITY)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == _file(path)
    assert response.headers["content-length"] == str(len(_file(path)))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers


async def test_a_fingerprinted_url_is_immutable_any_other_is_cached_briefly(web: FacadeClient) -> None:
    fingerprinted = await web.http.get(f"/static/{GRAPHIQL_JS}?v={_version(GRAPHIQL_JS)}", headers=IDENTITY)
    assert fingerprinted.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    plain = await web.http.get(f"/static/{GRAPHIQL_JS}", headers=IDENTITY)
    stale = await web.http.get(f"/static/{GRAPHIQL_JS}?v=0123456789abcdef", headers=IDENTITY)
    for response in (plain, stale):
        assert response.status_code == 200 and response.content == _file(GRAPHIQL_JS)
        assert response.headers["cache-control"] == SHORT_CACHE
    assert load_assets().url(GRAPHIQL_JS) == f"/static/{GRAPHIQL_JS}?v={_version(GRAPHIQL_JS)}"


async def test_the_etag_is_the_contents_and_if_none_match_answers_304(web: FacadeClient) -> None:
    first = await web.http.get("/static/graphiql/boot.js", headers=IDENTITY)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(_file("graphiql/boot.js")).hexdigest()[:32]}"'
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await web.http.get("/static/graphiql/boot.js", headers={**IDENTITY, "if-none-match": given})
        assert again.status_code == 304, given
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == SHORT_CACHE
    changed = await web.http.get("/static/graphiql/boot.js", headers={**IDENTITY, "if-none-match": '"other"'})
    assert changed.status_code == 200 and changed.content == _file("graphiql/boot.js")


async def test_text_is_gzipped_when_the_client_accepts_it(web: FacadeClient) -> None:
    response = await web.http.get(f"/static/{GRAPHIQL_JS}", headers={"accept-encoding": "br, gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.content == _file(GRAPHIQL_JS)  # httpx decoded it
    assert int(response.headers["content-length"]) < len(_file(GRAPHIQL_JS)) // 3
    # Each representation has its own ETag, and each revalidates.
    identity = await web.http.get(f"/static/{GRAPHIQL_JS}", headers=IDENTITY)
    assert identity.headers["etag"] != response.headers["etag"]
    assert identity.headers["vary"] == "Accept-Encoding"
    revalidated = await web.http.get(
        f"/static/{GRAPHIQL_JS}", headers={"accept-encoding": "gzip", "if-none-match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304 and "content-encoding" not in revalidated.headers


async def test_gzip_refused_with_q0_small_files_and_binaries_are_sent_as_they_are(web: FacadeClient) -> None:
    refused = await web.http.get(f"/static/{GRAPHIQL_JS}", headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == _file(GRAPHIQL_JS)
    for path in ("graphiql/page.css", "favicon.ico"):
        response = await web.http.get(f"/static/{path}", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in response.headers, path
        assert response.content == _file(path)


async def test_the_stored_gzip_is_the_file(web: FacadeClient) -> None:
    asset = load_assets().get(GRAPHIQL_JS)
    assert asset is not None
    assert gzip.decompress(asset.compress()) == _file(GRAPHIQL_JS)


async def test_head_answers_the_headers_only(web: FacadeClient) -> None:
    response = await web.http.head(f"/static/{GRAPHIQL_JS}", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(_file(GRAPHIQL_JS)))
    assert response.headers["etag"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/",
        "/static/vendor",
        "/static/../app.py",
        "/static/%2e%2e/%2e%2e/app.py",
        "/static/..%2fweb%2fpages.py",
        "/static/vendor/../../pages.py",
    ],
)
async def test_only_the_files_of_the_index_are_served(web: FacadeClient, path: str) -> None:
    response = await web.http.get(path)
    assert response.status_code == 404
    assert b"import" not in response.content


async def test_post_is_not_allowed(web: FacadeClient) -> None:
    assert (await web.http.post(f"/static/{GRAPHIQL_JS}")).status_code == 405


async def test_the_favicon_is_the_shipped_icon(web: FacadeClient) -> None:
    response = await web.http.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.content == _file("favicon.ico")
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    assert response.headers["cache-control"] == SHORT_CACHE
    assert response.headers["etag"]
