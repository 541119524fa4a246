"""A small HTTP/1.1 keep-alive client on asyncio streams, for load generation.

httpx is the client of choice elsewhere, but on this 2-core machine one httpx.AsyncClient
process tops out at a few hundred requests per second, far below what the plain Starlette
baseline serves; a load generator that slow would measure itself. This client writes
pre-built request bytes and reads ``Content-Length`` (or chunked) responses on
persistent connections, which costs a few tens of microseconds per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["HttpPool", "HttpResponse", "build_request"]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for line in self.head.split(b"\r\n")[1:]:
            key, sep, value = line.partition(b":")
            if sep and key.strip().lower() == wanted:
                return value.strip().decode("latin-1")
        return None


def build_request(method: str, path: str, host: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
    """The bytes of one request (HTTP/1.1, keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        #: Responses completed on this connection, and whether the current one has begun.
        self.served = 0
        self.answering = False

    async def exchange(self, raw: bytes) -> HttpResponse:
        self.answering = False
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.answering = True
        status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lowered.index(b"\r\n", at + 2)
            body = await self.reader.readexactly(int(head[at + 17 : end]))
        elif b"transfer-encoding: chunked" in lowered:
            body = await self._chunked()
        else:
            body = b""
        self.served += 1
        return HttpResponse(status, head, body)

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HttpPool:
    """Persistent connections to one server; a connection serves one request at a time.

    Idle connections are reused most-recently-used first; a reused connection that the server
    closed meanwhile (keep-alive timeout) is replaced and the request sent once more.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        conn = _Connection(reader, writer)
        self._all.add(conn)
        return conn

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)

    async def request(self, raw: bytes) -> HttpResponse:
        conn = self._idle.pop() if self._idle else await self._open()
        try:
            response = await conn.exchange(raw)
        except (asyncio.IncompleteReadError, ConnectionError):
            # Closed by the server while idle: nothing of this request was answered.
            stale = conn.served > 0 and not conn.answering
            self._drop(conn)
            if not stale:
                raise
            conn = await self._open()
            try:
                response = await conn.exchange(raw)
            except BaseException:
                self._drop(conn)
                raise
        except BaseException:
            self._drop(conn)
            raise
        if response.header("connection") == "close":
            self._drop(conn)
        else:
            self._idle.append(conn)
        return response

    async def aclose(self) -> None:
        for conn in list(self._all):
            self._drop(conn)
        self._idle.clear()
