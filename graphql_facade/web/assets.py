"""The files of ``graphql_facade/web/static/``, served under ``/static/`` from memory.

The files are package data, read once per process through :mod:`importlib.resources` (so an
installed wheel serves them as the source tree does); only a file of that index can be answered, so
no path reaches the file system. Each answer has:

* ``ETag``: from the content's sha256 (the same on every replica and after a restart); an
  ``If-None-Match`` naming it is a 304;
* ``Cache-Control``: ``public, max-age=31536000, immutable`` when the URL is fingerprinted
  (``?v=`` and the first 16 hex digits of the content's sha256, as :meth:`StaticAssets.url` writes
  it: a new content has a new URL), :data:`SHORT_CACHE` otherwise (a stale or missing ``v`` too);
* gzip for text (``Accept-Encoding``), compressed once per process and kept, with
  ``Vary: Accept-Encoding`` and an ETag of its own;
* ``X-Content-Type-Options: nosniff`` and the content type from the file's extension.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["IMMUTABLE", "SHORT_CACHE", "Asset", "StaticAssets", "load_assets"]

#: A fingerprinted URL names one content for ever.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Anything else (an URL without its fingerprint, ``/favicon.ico``): kept a little, then revalidated.
SHORT_CACHE = "public, max-age=300"
_FINGERPRINT_LENGTH = 16
#: Smaller text is sent as it is (gzip would hardly save a packet).
_MIN_GZIP_BYTES = 1024
_TEXT = "charset=utf-8"
_TYPES = {
    ".js": f"text/javascript; {_TEXT}",
    ".css": f"text/css; {_TEXT}",
    ".html": f"text/html; {_TEXT}",
    ".json": f"application/json; {_TEXT}",
    ".map": f"application/json; {_TEXT}",
    ".md": f"text/markdown; {_TEXT}",
    ".txt": f"text/plain; {_TEXT}",
    ".svg": f"image/svg+xml; {_TEXT}",
    ".ico": "image/vnd.microsoft.icon",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
#: Files without an extension (LICENSE) are text.
_NO_EXTENSION = f"text/plain; {_TEXT}"
_BINARY = "application/octet-stream"
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}


def _media_type(path: str) -> str:
    stem, dot, extension = path.rpartition("/")[2].rpartition(".")
    if not dot or not stem:
        return _NO_EXTENSION
    return _TYPES.get(f".{extension.lower()}", _BINARY)


@dataclass
class Asset:
    """One static file: its bytes, type and fingerprint; the gzip form once asked for."""

    path: str
    body: bytes
    media_type: str
    sha256: str
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        """The fingerprint of a URL naming this content (``?v=``)."""
        return self.sha256[:_FINGERPRINT_LENGTH]

    @property
    def etag(self) -> str:
        return f'"{self.sha256[:32]}"'

    @property
    def gzip_etag(self) -> str:
        return f'"{self.sha256[:32]}-gzip"'

    @property
    def compressible(self) -> bool:
        text = self.media_type.startswith("text/") or _TEXT in self.media_type
        return text and len(self.body) >= _MIN_GZIP_BYTES

    def compress(self) -> bytes:
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        return self.gzipped


def _walk(node: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        path = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, f"{path}/")
        elif child.is_file():
            yield path, child


@functools.cache
def load_assets(package: str = "graphql_facade.web") -> StaticAssets:
    """Every file under ``static/`` of ``package`` (read once per process)."""
    root = resources.files(package) / "static"
    assets = {}
    for path, node in _walk(root):
        body = node.read_bytes()
        assets[path] = Asset(path, body, _media_type(path), hashlib.sha256(body).hexdigest())
    return StaticAssets(assets)


def _accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            name, _, value = params.strip().partition("=")
            if name.strip().lower() != "q":
                return True
            try:
                return float(value) > 0
            except ValueError:
                return False
    return False


def _matches(if_none_match: str, *etags: str) -> bool:
    """``If-None-Match`` (weak comparison, as RFC 9110 asks for it) names one of ``etags``."""
    if if_none_match.strip() == "*":
        return True
    given = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return any(etag in given for etag in etags)


class StaticAssets:
    """The static files by their path under ``static/``, and the endpoint that serves them."""

    def __init__(self, assets: dict[str, Asset]) -> None:
        self._assets = assets

    def __contains__(self, path: object) -> bool:
        return path in self._assets

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._assets.values())

    def get(self, path: str) -> Asset | None:
        return self._assets.get(path)

    def url(self, path: str) -> str:
        """The fingerprinted URL of ``path`` (a ``KeyError`` when there is no such file)."""
        asset = self._assets[path]
        return f"/static/{asset.path}?v={asset.version}"

    async def endpoint(self, request: Request) -> Response:
        """``GET``/``HEAD /static/{path}``."""
        return await self.respond(request, str(request.path_params["path"]))

    async def respond(self, request: Request, path: str) -> Response:
        asset = self._assets.get(path)
        if asset is None:
            return PlainTextResponse("Not found.", status_code=404, headers=_SECURITY_HEADERS)
        fingerprinted = request.query_params.get("v") == asset.version
        headers = {"Cache-Control": IMMUTABLE if fingerprinted else SHORT_CACHE, **_SECURITY_HEADERS}
        body, etag = asset.body, asset.etag
        if asset.compressible:
            headers["Vary"] = "Accept-Encoding"
            if _accepts_gzip(request.headers.get("accept-encoding", "")):
                if asset.gzipped is None:
                    await asyncio.to_thread(asset.compress)  # once per process; the largest takes a moment
                body, etag = asset.compress(), asset.gzip_etag
                headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        if _matches(request.headers.get("if-none-match", ""), etag):
            headers.pop("Content-Encoding", None)
            return Response(status_code=304, headers=headers)
        headers["Content-Length"] = str(len(body))
        if request.method == "HEAD":
            body = b""
        return Response(body, headers=headers, media_type=asset.media_type)
