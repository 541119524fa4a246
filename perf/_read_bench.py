"""The read path on a generated history (PostgreSQL): every read row of the issue's Targets table.

* uncached board (``queries/board.graphql``; a facade with ``MES_FACADE_CACHE=0``) at 16
  connections and its p50 at one connection, against the direct-SQL baseline
  (``perf/_sqlboard.py``: Starlette + asyncpg, one statement building the same JSON, checked
  JSON-equal to the facade's answer first);
* uncached full dashboard (``queries/dashboard.graphql``) at 16 connections;
* cached board and dashboard (response cache on) against the pre-serialized ceiling
  (``perf/_baseline.py`` serving the facade's cached bytes), and their p99 at an open-loop
  2,000 requests/s (the Python load generator: wrk has no open loop);
* page growth: the board's first page and the next one by keyset (``queries/board_page.graphql``,
  ``after: endCursor``), p50 at one connection, on 1,000 against 100,000 stored orders.

Every server process (facades, baselines, services, nats-server and the PostgreSQL server) is
pinned to CPU0, the load generator to CPU1; the compared targets alternate window by window.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql_facade.config import DEFAULT_OPERATOR_TOKEN
from perf._common import Pinned, Say, gql, query, run_load, wait_quiet
from perf._pg import PostgresProcesses
from perf._report import TargetResults, fmt_ms, fmt_rate, spread
from perf._stack import BenchStack, HttpServer, free_ports
from perf._wrk import run_wrk
from perf.datagen import Options

__all__ = ["FACADE_LIMITS", "ReadPlan", "ReadResults", "Target", "Windows", "run_read"]

_UNLIMITED = "100000000"
#: The operators' request-rate limit raised so that it does not cap the measurement (the limiter still runs).
FACADE_LIMITS = {"MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": _UNLIMITED}
HEADERS = {"Authorization": f"Bearer {DEFAULT_OPERATOR_TOKEN}"}


@dataclass(frozen=True)
class ReadPlan(Pinned):
    postgres_url: str
    reps: int = 3
    warmup_s: float = 2.0
    duration_s: float = 10.0
    orders: int = 100_000
    small_orders: int = 1_000
    conns: int = 16
    open_rate: float = 2000.0
    seed: int = 1
    pin: bool = True
    quiet_wait_s: float = 15.0


ReadResults = TargetResults


@dataclass(frozen=True)
class Target:
    name: str
    server: HttpServer
    body: bytes
    conns: int
    pids: Callable[[], Awaitable[list[int]]]
    open_rate: float | None = None


def body(document: str, operation: str, variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": query(document), "operationName": operation, "variables": variables}).encode()


class Windows:
    """Runs load windows (wrk closed loop, or the Python generator's open loop) and keeps them."""

    def __init__(self, results: ReadResults, workdir: Path, *, plan: Any, say: Say) -> None:
        self.results, self.workdir, self.plan, self.say = results, workdir, plan, say

    async def run(self, label: str, t: Target) -> dict[str, Any]:
        busy = await wait_quiet(self.plan.quiet_wait_s)
        if busy >= 30.0:
            self.results.notes.append(f"{label}: started while the machine was {busy:.0f} % busy with other work")
        pids = await t.pids()
        if t.open_rate is None:
            r = await run_wrk(
                t.server.url,
                t.body,
                HEADERS,
                conns=t.conns,
                duration_s=self.plan.duration_s,
                warmup_s=self.plan.warmup_s,
                workdir=self.workdir,
                cpus=self.plan.client_cpus,
                server_pids=pids,
            )
        else:
            spec = {
                "kind": "http",
                "mode": "open",
                "rate": t.open_rate,
                "max_inflight": 512,
                "port": t.server.port,
                "requests": [{"headers": HEADERS, "body": t.body.decode()}],
                "server_pids": pids,
                "warmup_s": self.plan.warmup_s,
                "duration_s": self.plan.duration_s,
            }
            r = await run_load(spec, cpus=self.plan.client_cpus)
        if r["client_cpu_pct"] >= 80.0:
            self.results.notes.append(f"{label}: the load generator used {r['client_cpu_pct']:.0f} % of its core")
        self.say(f"    {label}: {json.dumps({k: v for k, v in r.items() if k != 'extra'})}")
        self.results.windows.append((label, r))
        return r

    async def series(self, targets: Sequence[Target]) -> dict[str, list[dict[str, Any]]]:
        """``reps`` rounds over ``targets`` in turn (A, B, C, A, B, C...)."""
        runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
        for rep in range(self.plan.reps):
            for t in targets:
                runs[t.name].append(await self.run(f"{t.name} #{rep + 1}", t))
        return runs


def rates(runs: list[dict[str, Any]]) -> list[float]:
    return [float(r["rate"]) for r in runs]


def values(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in runs]


def cpu_ms(runs: list[dict[str, Any]]) -> list[float]:
    """Server CPU per answered request (ms), per window."""
    return [r["server_cpu_pct"] * 10.0 / r["rate"] for r in runs if r["rate"]]


def med(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return 0.0 if not s else (s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2)


def describe(runs: list[dict[str, Any]], *, latency: str = "p99_ms") -> str:
    return (
        f"{spread(rates(runs), lambda v: fmt_rate(v))}, {latency[:3]} {spread(values(runs, latency), fmt_ms)},"
        f" CPU {spread(cpu_ms(runs), lambda v: f'{v:.1f} ms')}/request"
    )


async def _check_same(what: str, a: bytes, b: bytes) -> None:
    left, right = json.loads(a), json.loads(b)
    if "errors" in left or "errors" in right or left.get("data") != right.get("data"):
        raise RuntimeError(f"{what}: the answers are not JSON-equal: {a[:300]!r} / {b[:300]!r}")


async def _post(server: HttpServer, payload: bytes) -> bytes:
    doc = json.loads(payload)
    response = await gql(server.url, doc["query"], doc["variables"], headers=HEADERS, operation=doc["operationName"])
    if response.status_code != 200:
        raise RuntimeError(f"{server.name}: HTTP {response.status_code}: {response.text[:300]}")
    return response.content


async def _ceiling(stack: BenchStack, name: str, answer: bytes, workdir: Path) -> HttpServer:
    path = workdir / f"{name}.json"
    path.write_bytes(answer)
    port = free_ports(1)[0]
    argv = [sys.executable, "-m", "perf._baseline", "--port", str(port), "--body", str(path)]
    return await stack.start_http(name, argv, port)


async def run_read(plan: ReadPlan, workdir: Path, say: Say) -> ReadResults:
    from perf._read_scenarios import ReadScenarios  # the scenarios, beside this set-up

    def new_stack(name: str, orders: int) -> BenchStack:
        return BenchStack(
            workdir / name,
            postgres_admin_url=plan.postgres_url,
            server_cpus=plan.server_cpus,
            say=say,
            dataset=Options(orders=orders, seed=plan.seed),
        )

    big, small = new_stack("big", plan.orders), new_stack("small", plan.small_orders)
    results = ReadResults()
    pg: PostgresProcesses | None = None
    try:
        say(f"read: generating {plan.orders:,} and {plan.small_orders:,} orders, starting two stacks")
        await big.start()
        await small.start()
        assert big.database_url and big.database and small.database
        pg = PostgresProcesses(big.database_url, big.database)
        await pg.discover()
        if plan.pin:
            moved = pg.pin({0})
            results.notes.append(
                f"PostgreSQL server processes pinned to CPU0 ({moved} processes, postmaster {pg.postmaster})"
            )
        scenarios = ReadScenarios(plan, big, small, pg, Windows(results, workdir, plan=plan, say=say), say)
        await scenarios.run(workdir)
        for stack, n in ((big, plan.orders), (small, plan.small_orders)):
            if stack.dataset_summary is not None:
                s = stack.dataset_summary
                results.notes.append(
                    f"generated {n:,} orders (seed {plan.seed}) in {sum(s.timings_s.values()):.0f} s:"
                    f" orders {s.order_statuses}, work orders {s.work_orders}"
                )
    finally:
        if pg is not None:
            pg.restore()
        await small.aclose()
        await big.aclose()
    return results
