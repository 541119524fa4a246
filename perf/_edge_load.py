"""The edge suite's load generator: ``perf._load``'s HTTP windows plus what a hostile edge needs.

Run by the edge suite as ``python -m perf._edge_load`` with a JSON spec on stdin; prints one JSON
result (``perf._stats.Summary``) on stdout. The window itself (open or closed loop, warm-up,
latency from the scheduled start, CPU of the generator, the servers and the rest) is
``perf._load``'s; on top of it:

* every request of ``requests`` is ``{"headers": [[name, value], ...], "body": ..., "source": ip}``:
  headers as a list, so one may repeat or be malformed, and an optional loopback source address
  the request's connections are bound to (``127.0.1.7``...: another client address for the
  facade's per-address limits; Linux routes all of 127.0.0.0/8 to the loopback interface);
* answers are counted by HTTP status and, for an error, the ``extensions.code`` of its first error
  (``429 THROTTLED``, ``401 UNAUTHENTICATED``...);
* ``cpu_groups`` (``{"name": [pid, ...]}``): the CPU of other processes over exactly the window
  (the services, another load generator), returned in ``extra["cpu_groups"]`` (% of one core).

Each source address has its own keep-alive pool (``perf._http``: one connection per request in
flight, so a closed loop of concurrency N holds N connections).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import uvloop

from perf._http import HttpPool, HttpResponse, _Connection
from perf._load import _measure
from perf._stats import Summary, machine_busy_s, process_cpu_s

__all__ = ["build_raw", "label", "run_spec"]

_CODE = re.compile(rb'"code"\s*:\s*"([A-Za-z_]+)"')


class _Pool(HttpPool):
    """An ``HttpPool`` whose connections leave from ``source`` (a loopback address; None: the
    system's choice), counting the connections it opened."""

    def __init__(self, host: str, port: int, source: str | None) -> None:
        super().__init__(host, port)
        self.source = source
        self.opened = 0

    async def _open(self) -> _Connection:
        local = (self.source, 0) if self.source is not None else None
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22, local_addr=local)
        conn = _Connection(reader, writer)
        self._all.add(conn)
        self.opened += 1
        return conn


def build_raw(path: str, host: str, headers: Sequence[Sequence[str]], body: bytes) -> bytes:
    """One HTTP/1.1 POST with the headers exactly as listed (repeated or odd ones included)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers)]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def label(response: HttpResponse) -> str:
    """``200``, ``200+errors``, or the status and the first error's code (``429 THROTTLED``)."""
    if response.status == 200:
        return "200+errors" if b'"errors":' in response.body else "200"
    found = _CODE.search(response.body)
    return f"{response.status} {found.group(1).decode()}" if found else str(response.status)


async def _cpu_groups(groups: dict[str, list[int]], begin: float, end: float) -> dict[str, float]:
    """CPU (% of one core) of each group of processes between ``begin`` and ``end`` (perf_counter)."""
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    started = time.perf_counter()
    before = {name: sum(process_cpu_s(p) for p in pids) for name, pids in groups.items()}
    machine = machine_busy_s()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    elapsed = time.perf_counter() - started
    if elapsed <= 0:
        return {}
    shares = {
        name: round(100.0 * (sum(process_cpu_s(p) for p in pids) - before[name]) / elapsed, 1)
        for name, pids in groups.items()
    }
    shares["machine"] = round(100.0 * (machine_busy_s() - machine) / elapsed, 1)
    return shares


async def run_spec(spec: dict[str, Any]) -> Summary:
    host, port = spec.get("host", "127.0.0.1"), int(spec["port"])
    authority = f"{host}:{port}"
    templates: list[tuple[str | None, bytes]] = []
    for r in spec["requests"]:
        headers = [("Content-Type", "application/json"), *(tuple(h) for h in r.get("headers", []))]
        templates.append(
            (r.get("source"), build_raw(r.get("path", "/graphql"), authority, headers, r["body"].encode()))
        )
    pools: dict[str | None, _Pool] = {}

    async def call(n: int) -> tuple[str, str | None]:
        source, raw = templates[n % len(templates)]
        pool = pools.get(source)
        if pool is None:
            pool = pools[source] = _Pool(host, port, source)
        return label(await pool.request(raw)), None

    begin = time.perf_counter() + float(spec.get("warmup_s", 1.0))
    groups = {str(k): [int(p) for p in v] for k, v in spec.get("cpu_groups", {}).items()}
    metering = asyncio.create_task(_cpu_groups(groups, begin, begin + float(spec["duration_s"])))
    try:
        summary = await _measure(spec, call)  # its window starts now: warm-up, then duration_s
    finally:
        for pool in pools.values():
            await pool.aclose()
    summary.extra["cpu_groups"] = await metering
    summary.extra["connections_opened"] = sum(p.opened for p in pools.values())
    return summary


def main() -> None:
    spec = json.loads(sys.stdin.read())
    summary = uvloop.run(run_spec(spec))
    print(json.dumps(summary.to_dict()), flush=True)


if __name__ == "__main__":
    main()
