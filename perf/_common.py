"""Helpers of the bench scenarios: the load-generator subprocess, query files, GraphQL calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from perf._stats import machine_busy_s

__all__ = [
    "PERF_DIR",
    "ROOT",
    "Pinned",
    "Say",
    "cache_lookups",
    "finish_load",
    "gql",
    "graphql_body",
    "median",
    "metrics_text",
    "query",
    "response_cache_lookups",
    "run_load",
    "say",
    "start_load",
    "wait_quiet",
]

PERF_DIR = Path(__file__).resolve().parent
ROOT = PERF_DIR.parent
Say = Callable[[str], None]


def say(message: str) -> None:
    """A progress line, on stderr (a bench's report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


_LOOKUP = re.compile(r'^mes_facade_cache_lookups_total\{cache="response",result="(\w+)"\} ([0-9.e+]+)$', re.M)


class Pinned:
    """Mixed into a bench plan: with ``pin``, the servers run on CPU0 and the load generators on CPU1."""

    pin: bool

    @property
    def server_cpus(self) -> str | None:
        return "0" if self.pin else None

    @property
    def client_cpus(self) -> str | None:
        return "1" if self.pin else None


def query(name: str) -> str:
    """The text of ``perf/queries/<name>.graphql``."""
    return (PERF_DIR / "queries" / f"{name}.graphql").read_text(encoding="utf-8")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def graphql_body(document: str, operation: str, variables: Mapping[str, Any] | None = None) -> str:
    """The JSON body of one GraphQL POST, as the load generators send it."""
    return json.dumps({"query": document, "operationName": operation, "variables": dict(variables or {})})


async def gql(
    url: str,
    document: str,
    variables: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str],
    operation: str | None = None,
) -> httpx.Response:
    """One GraphQL POST (set-up and probes only; load goes through ``perf._load``)."""
    async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
        body: dict[str, Any] = {"query": document, "variables": dict(variables or {})}
        if operation:
            body["operationName"] = operation
        return await client.post(url, json=body, headers=dict(headers))


async def metrics_text(url: str) -> str:
    """A Prometheus ``/metrics`` page (set-up and probes only)."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        return (await client.get(url)).text


async def cache_lookups(metrics_url: str) -> dict[str, float]:
    """The facade's response-cache lookups so far, by result (from its ``/metrics``)."""
    return response_cache_lookups(await metrics_text(metrics_url))


def response_cache_lookups(metrics: str) -> dict[str, float]:
    """The response-cache lookups a facade's ``/metrics`` text counts, by result (``hit``, ``miss``...)."""
    return {kind: float(value) for kind, value in _LOOKUP.findall(metrics)}


async def wait_quiet(max_wait_s: float, *, threshold_pct: float = 30.0) -> float:
    """Wait (at most ``max_wait_s``) for a second in which the whole machine is busy less than
    ``threshold_pct`` of one core, so other programs' bursts stay out of the windows; returns
    the last second's busy percentage (the idle stack itself uses a few percent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_s
    while True:
        before = machine_busy_s()
        await asyncio.sleep(1.0)
        busy = 100.0 * (machine_busy_s() - before)
        if busy < threshold_pct or loop.time() >= deadline:
            return busy


async def run_load(spec: Mapping[str, Any], *, cpus: str | None = None) -> dict[str, Any]:
    """Run one load window in a separate process (pinned to ``cpus``) and return its summary."""
    return await finish_load(await start_load(spec, cpus=cpus), spec)


async def start_load(
    spec: Mapping[str, Any], *, cpus: str | None = None, module: str = "perf._load"
) -> asyncio.subprocess.Process:
    """Start a load generator process (``python -m module``, pinned to ``cpus``) with ``spec`` on its stdin."""
    argv = [sys.executable, "-m", module]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")])
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(ROOT),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(spec).encode())
    await process.stdin.drain()
    process.stdin.close()
    return process


async def finish_load(
    process: asyncio.subprocess.Process,
    spec: Mapping[str, Any],
    *,
    timeout_s: float | None = None,
    what: str = "load generator",
) -> dict[str, Any]:
    """The summary a load generator prints (the last line of its stdout); killed past ``timeout_s``
    (by default its window + 60 s)."""
    if timeout_s is None:
        timeout_s = float(spec.get("warmup_s", 1.0)) + float(spec["duration_s"]) + 60.0
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise RuntimeError(f"{what} (pid {process.pid}) did not finish within {timeout_s:.0f} s") from None
    if process.returncode != 0 or not out.strip():
        raise RuntimeError(f"{what} failed (exit {process.returncode}): {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result
