"""The facade's HTTP edge over a real uvicorn (httptools) on a free port: a chunked upload is not read
past the body limit (the server's peak memory stays flat under a 160 MB upload; a body that never ends
is answered 413 as soon as it passes the limit), bodies the hit lane hands on arrive whole, deeply
nested JSON is a 400.

Run as a module (``python -m tests.integration.graphql_facade.test_facade_input_bounds PORT``), it
serves the facade over the fake backend: the process whose memory the first test measures."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import uvicorn

from graphql_facade.app import create_app
from graphql_facade.config import FacadeSettings
from tests._infra.asgi_server import uvicorn_serving
from tests._infra.ports import free_port
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, PARTNER_A_KEY, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend

ROOT = Path(__file__).resolve().parents[3]
QUERY = "{ orders(first: 5) { nodes { id } } }"
CHUNK = 64 * 1024
MB = 1024 * 1024
JSON = {"content-type": "application/json"}


@asynccontextmanager
async def served(backend: FakeBackend, settings: FacadeSettings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The facade in this process on uvicorn: its address and a client on it."""
    app = create_app(settings, backend=backend, events=False)
    async with uvicorn_serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
        yield address, http


def backend_with_order() -> tuple[FakeBackend, str]:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    return backend, backend.add_order("partner-a").order_id


class Upload:
    """An endless-looking chunked body: a JSON prefix, then spaces, ``total`` bytes in all."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"query": "' + QUERY.encode()
        self.sent = CHUNK
        while self.sent < self.total:
            yield b" " * CHUNK
            self.sent += CHUNK
            await asyncio.sleep(0)


def peak_rss(pid: int) -> int:
    """The process's peak resident set (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


@contextmanager
def server_process() -> Iterator[tuple[str, int]]:
    """The facade over the fake backend in a process of its own (this module as ``__main__``)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")])}
    module = "tests.integration.graphql_facade.test_facade_input_bounds"
    proc = subprocess.Popen([sys.executable, "-m", module, str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the facade did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield f"127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def test_a_chunked_upload_is_not_held_past_the_limit() -> None:
    with server_process() as (address, pid):
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=60) as http:
            warm = await http.post("/graphql", json={"query": QUERY}, headers=PARTNER_A)
            assert warm.status_code == 200, warm.text
            before = peak_rss(pid)
            upload = Upload(160 * MB)
            response = await http.post("/graphql", content=upload, headers={**PARTNER_A, **JSON})
            after = peak_rss(pid)
            again = await http.post("/graphql", json={"query": QUERY}, headers=PARTNER_A)  # the connection is fine
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE" and error["extensions"]["maxBytes"] == 1_000_000
    assert upload.sent >= 160 * MB  # the server took it all in (and threw it away) ...
    assert after - before < 32 * MB, (before // MB, after // MB)  # ... holding at most the limit
    assert again.status_code == 200
    assert '"requests"' in response.headers["ratelimit-policy"] and '"cost"' in response.headers["ratelimit-policy"]


def raw_chunked_post(address: str, headers: dict[str, str], body: bytes) -> bytes:
    """Sends the request head and ``body`` as one chunk, never the last chunk; returns what came back."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /graphql HTTP/1.1\r\nhost: {address}\r\ntransfer-encoding: chunked\r\n{head}\r\n".encode())
        sock.sendall(b"%x\r\n" % len(body) + body + b"\r\n")  # the body goes on, as far as the server knows
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return received


async def test_an_unfinished_chunked_body_past_the_limit_is_answered_without_waiting_for_the_rest() -> None:
    backend, _ = backend_with_order()
    settings = facade_settings(MES_FACADE_LIMITS_STANDARD_MAX_BODY_BYTES="100000")
    async with served(backend, settings) as (address, _http):
        body = b'{"query": "' + QUERY.encode() + b" " * 200_000
        received = await asyncio.to_thread(raw_chunked_post, address, {**PARTNER_A, **JSON}, body)
    assert received.startswith(b"HTTP/1.1 413 "), received[:200]


async def test_bodies_the_lane_hands_on_arrive_whole_and_deep_json_is_a_bad_request() -> None:
    backend, order_id = backend_with_order()
    async with served(backend, facade_settings()) as (_address, http):
        for size in (10_000, 17_000, 300_000):
            head = json.dumps({"query": QUERY})[:-2].encode()
            body = head + b" " * (size - len(head) - 2) + b'"}'

            async def chunks(body: bytes = body) -> AsyncIterator[bytes]:
                for start in range(0, len(body), 4093):
                    yield body[start : start + 4093]

            for _ in range(2):
                response = await http.post("/graphql", content=chunks(), headers={**OPERATOR, **JSON})
                assert response.status_code == 200, response.text
                assert response.json()["data"] == {"orders": {"nodes": [{"id": order_id}]}}
        for caller in (OPERATOR, PARTNER_A):
            deep = await http.post("/graphql", content=b"[" * 100_000, headers={**caller, **JSON})
            assert deep.status_code == 400 and deep.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def _serve(port: int) -> None:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    backend.add_order("partner-a")
    app = create_app(facade_settings(), backend=backend, events=False)
    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", lifespan="on", log_level="warning")


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
