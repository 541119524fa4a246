"""Facade benchmarks (GraphQL): dashboard throughput, submitOrder against gRPC, partner isolation.

Each number is compared with a baseline measured in the same run, on the same machine and
with the same load generator:

* dashboard: the operators' board query over the seeded orders, against a plain Starlette
  endpoint that serves the very bytes of the facade's warm answer under the same uvicorn
  settings; warm = response-cache hit, cold = a second facade with caching off;
* submitOrder through GraphQL against ``SubmitOrder`` on the orders service directly, with
  the same number of clients and the same order;
* a partner's p99 while another partner floods at a multiple of its own limit, against its
  p99 alone (the flood runs in a separate process).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql_facade.config import DEFAULT_OPERATOR_TOKEN
from perf._common import Pinned, Say, cache_lookups, gql, graphql_body, median, query, run_load, wait_quiet
from perf._isolation_bench import FLOODER, VICTIM, IsolationScenario
from perf._report import Verdict, fmt_ms, fmt_rate
from perf._setup import (
    BENCH_ALLOY,
    BENCH_STYLE,
    DUE,
    pause_saga,
    receive_metal,
    saga_consumers,
    seed_orders,
    submit_payload,
    wait_for_catalogue,
    wait_until_settled,
)
from perf._stack import BenchStack, HttpServer, free_ports

__all__ = ["FacadePlan", "FacadeResults", "run_facade"]

_UNLIMITED = "100000000"
#: Both facades: operators and the victim's tier (PLUS) are not rate-limited by the benchmark's own load
#: (the limiters still run); the flooder's tier (STANDARD) keeps its shipped limits.
FACADE_ENV = {
    "MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": _UNLIMITED,
    "MES_FACADE_LIMITS_PLUS_REQUESTS_PER_MINUTE": _UNLIMITED,
    "MES_FACADE_LIMITS_PLUS_SUBMISSIONS_PER_MINUTE": _UNLIMITED,
    "MES_FACADE_LIMITS_PLUS_BUCKET_CAPACITY": _UNLIMITED,
    "MES_FACADE_LIMITS_PLUS_RESTORE_RATE": _UNLIMITED,
}


@dataclass(frozen=True)
class FacadePlan(Pinned):
    reps: int
    warmup_s: float
    duration_s: float
    flood_duration_s: float
    flood_factors: tuple[float, ...]
    dashboard_conns: int = 16
    cold_conns: int = 4
    submit_conns: int = 8
    orders: int = 100
    victim_rate: float = 40.0
    pin: bool = True
    quiet_wait_s: float = 30.0


@dataclass
class FacadeResults:
    verdicts: list[Verdict]
    windows: list[tuple[str, dict[str, Any]]]
    notes: list[str]


class _Run(IsolationScenario):
    def __init__(self, stack: BenchStack, plan: FacadePlan, say: Say) -> None:
        self.stack, self.plan, self.say = stack, plan, say
        self.results = FacadeResults([], [], [])

    async def quiet(self, label: str) -> None:
        busy = await wait_quiet(self.plan.quiet_wait_s)
        if busy >= 30.0:
            self.results.notes.append(f"{label}: started while the machine was {busy:.0f} % busy with other work")

    async def load(self, label: str, spec: dict[str, Any], *, quiet: bool = True) -> dict[str, Any]:
        if quiet:
            await self.quiet(label)
        result = await run_load(spec, cpus=self.plan.client_cpus)
        shown = {k: v for k, v in result.items() if k != "extra"}
        self.say(f"    {label}: {json.dumps(shown)}")
        self.results.windows.append((label, result))
        return result

    def client_bound(self, label: str, runs: list[dict[str, Any]]) -> None:
        """A baseline the load generator could not push harder is no ceiling: say so."""
        busiest = max(r["client_cpu_pct"] for r in runs)
        if busiest >= 90.0:
            self.results.notes.append(
                f"{label}: the load generator used {busiest:.0f} % of its core, so this baseline is bounded by the"
                " client, not the server; the ratio against it is optimistic (see the per-CPU-second row)"
            )

    def per_cpu(
        self, label: str, runs: list[dict[str, Any]], base_label: str, base: list[dict[str, Any]], unit: str
    ) -> None:
        """Work per server CPU-second: immune to a client-bound baseline and to idle time, not to contention."""

        def efficiency(rs: list[dict[str, Any]]) -> float:
            return median([r["rate"] / (r["server_cpu_pct"] / 100.0) for r in rs if r["server_cpu_pct"] > 0])

        mine, theirs = efficiency(runs), efficiency(base)
        if mine and theirs:
            self.results.verdicts.append(
                Verdict(
                    f"{label}: {unit}s per server CPU-second",
                    f"{mine:,.0f} {unit}s/CPU-s ({1000.0 / mine:.2f} ms CPU per {unit})",
                    f"{base_label}: {theirs:,.0f} {unit}s/CPU-s ({1000.0 / theirs:.2f} ms)",
                    mine / theirs,
                    "—",
                    None,
                )
            )

    def window(self, **spec: Any) -> dict[str, Any]:
        return {"warmup_s": self.plan.warmup_s, "duration_s": self.plan.duration_s, **spec}

    # -- dashboard -----------------------------------------------------------------------

    async def dashboard(self, warm: HttpServer, cold: HttpServer, workdir: Path) -> None:
        plan, stack = self.plan, self.stack
        headers = {"Authorization": f"Bearer {DEFAULT_OPERATOR_TOKEN}"}
        body = graphql_body(query("dashboard"), "Dashboard", {"first": plan.orders})
        variables = {"first": plan.orders}
        await gql(warm.url, query("dashboard"), variables, headers=headers, operation="Dashboard")  # fills the cache
        hit = await gql(warm.url, query("dashboard"), variables, headers=headers, operation="Dashboard")
        cold_answer = await gql(cold.url, query("dashboard"), variables, headers=headers, operation="Dashboard")
        warm_json, cold_json = hit.json(), cold_answer.json()
        if "errors" in warm_json or warm_json.get("data") != cold_json.get("data"):
            raise RuntimeError(f"dashboard answers differ or failed: {hit.text[:300]} / {cold_answer.text[:300]}")
        orders = len(warm_json["data"]["orders"]["edges"])
        bytes_file = workdir / "dashboard-response.json"
        bytes_file.write_bytes(hit.content)
        port = free_ports(1)[0]
        baseline = await stack.start_http(
            "baseline", [sys.executable, "-m", "perf._baseline", "--port", str(port), "--body", str(bytes_file)], port
        )
        baseline_answer = await gql(baseline.url, "{ ignored }", headers=headers)
        assert baseline_answer.content == hit.content, "the baseline must serve the same bytes"
        self.results.notes.append(
            f"dashboard: {orders} orders, {len(hit.content):,} bytes per answer, {plan.dashboard_conns} connections"
        )
        backends = stack.pids(["orders", "inventory", "production"])
        targets = {
            "baseline": (baseline, [baseline.pid], plan.dashboard_conns),
            "warm": (warm, [warm.pid], plan.dashboard_conns),
            # Past saturation more connections only queue (and hit the 10 s request timeout).
            "cold": (cold, [cold.pid, *backends], plan.cold_conns),
        }
        before = await cache_lookups(warm.metrics_url)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for rep in range(plan.reps):
            for name, (server, pids, conns) in targets.items():
                if name == "warm":  # the entry lives 60 s: fill it again right before each warm window
                    await gql(warm.url, query("dashboard"), variables, headers=headers, operation="Dashboard")
                spec = self.window(
                    kind="http",
                    mode="closed",
                    port=server.port,
                    concurrency=conns,
                    requests=[{"headers": headers, "body": body}],
                    server_pids=pids,
                )
                runs[name].append(await self.load(f"dashboard {name} #{rep + 1}", spec))
        after = await cache_lookups(warm.metrics_url)
        hits = after.get("hit", 0.0) - before.get("hit", 0.0)
        misses = after.get("miss", 0.0) - before.get("miss", 0.0)
        self.results.notes.append(f"warm facade response cache during the runs: {hits:,.0f} hits, {misses:,.0f} misses")
        rate = {name: median([r["rate"] for r in rs]) for name, rs in runs.items()}
        p99 = {name: median([r["p99_ms"] for r in rs]) for name, rs in runs.items()}
        self.client_bound("dashboard baseline", runs["baseline"])
        base = f"Starlette, same bytes: {fmt_rate(rate['baseline'])} (p99 {fmt_ms(p99['baseline'])})"
        for name, label, target in (
            ("warm", "dashboard warm (response-cache hit)", 0.5),
            ("cold", "dashboard cold (caching off)", None),
        ):
            conns = plan.cold_conns if name == "cold" else plan.dashboard_conns
            ratio = rate[name] / rate["baseline"] if rate["baseline"] else 0.0
            self.results.verdicts.append(
                Verdict(
                    f"{label}, {orders} orders + counts, {conns} conns",
                    f"{fmt_rate(rate[name])} (p99 {fmt_ms(p99[name])})",
                    base,
                    ratio,
                    "≥ 0.5x" if target else "—",
                    ratio >= target if target else None,
                )
            )
        self.per_cpu("dashboard warm", runs["warm"], "baseline", runs["baseline"], "request")

    # -- submitOrder -----------------------------------------------------------------------

    async def submit(self, warm: HttpServer) -> None:
        plan, stack = self.plan, self.stack
        key = stack.partner_keys[VICTIM]
        graphql_input = {
            "partnerReference": "BENCH-__N__",
            "dueTime": DUE.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "priority": "NORMAL",
            "lines": [{"styleCode": BENCH_STYLE, "alloyCode": BENCH_ALLOY, "quantity": 1}],
        }
        body = graphql_body(query("submit_order"), "SubmitOrder", {"input": graphql_input, "key": "__N__"})
        services = stack.pids(["orders", "inventory", "production", "nats"])
        grpc_spec = self.window(
            kind="grpc",
            mode="closed",
            concurrency=plan.submit_conns,
            target=stack.address("orders"),
            metadata=[["x-api-key", key]],
            payload=submit_payload("BENCH"),
            server_pids=services,
        )
        gql_spec = self.window(
            kind="http",
            mode="closed",
            port=warm.port,
            concurrency=plan.submit_conns,
            requests=[{"headers": {"X-API-Key": key}, "body": body}],
            server_pids=[warm.pid, *services],
        )
        runs: dict[str, list[dict[str, Any]]] = {"grpc": [], "graphql": []}
        # The saga behind each order costs several times what intake does and would bound both paths
        # alike; with its consumers paused the comparison is of the two intake paths themselves.
        names = await saga_consumers(stack)
        await pause_saga(stack, names, True)
        self.results.notes.append(
            "submitOrder windows: saga consumers paused (" + ", ".join(names) + "): intake path only"
        )
        try:
            for rep in range(plan.reps):
                runs["grpc"].append(await self.load(f"SubmitOrder gRPC #{rep + 1}", grpc_spec))
                runs["graphql"].append(await self.load(f"submitOrder GraphQL #{rep + 1}", gql_spec))
        finally:
            await pause_saga(stack, names, False)
        rate = {k: median([r["rate"] for r in v]) for k, v in runs.items()}
        p99 = {k: median([r["p99_ms"] for r in v]) for k, v in runs.items()}
        ratio = rate["graphql"] / rate["grpc"] if rate["grpc"] else 0.0
        self.client_bound("SubmitOrder gRPC", runs["grpc"])
        self.results.verdicts.append(
            Verdict(
                f"partner submitOrder via GraphQL vs gRPC SubmitOrder, {plan.submit_conns} clients",
                f"{fmt_rate(rate['graphql'], 'orders/s')} (p99 {fmt_ms(p99['graphql'])})",
                f"gRPC: {fmt_rate(rate['grpc'], 'orders/s')} (p99 {fmt_ms(p99['grpc'])})",
                ratio,
                "≥ 0.5x",
                ratio >= 0.5,
            )
        )
        self.per_cpu(
            "submitOrder GraphQL (facade + services)", runs["graphql"], "gRPC (services)", runs["grpc"], "order"
        )


async def run_facade(plan: FacadePlan, workdir: Path, say: Say) -> FacadeResults:
    stack = BenchStack(workdir, server_cpus=plan.server_cpus, say=say)
    run = _Run(stack, plan, say)
    try:
        say("facade: starting the stack (SQLite)")
        await stack.start()
        await wait_for_catalogue(stack, VICTIM)
        await receive_metal(stack, BENCH_ALLOY, 2)
        say(f"facade: seeding {plan.orders} orders and waiting for the saga")
        ids = await seed_orders(stack, [VICTIM, FLOODER], plan.orders - 1)  # + the catalogue probe order
        settled, counts = await wait_until_settled(stack, 120.0)
        run.results.notes.append(f"seeded orders by status: {counts}" + ("" if settled else " (saga not settled)"))
        await asyncio.sleep(1.0)  # the last status events reach the facades' caches as versions
        warm = await stack.start_facade("facade-warm", FACADE_ENV)
        cold = await stack.start_facade("facade-cold", {**FACADE_ENV, "MES_FACADE_CACHE": "0"})
        say("facade: dashboard")
        await run.dashboard(warm, cold, workdir)
        say("facade: partner isolation")
        await run.isolation(warm, ids[VICTIM])
        say("facade: submitOrder")
        await run.submit(warm)
    finally:
        await stack.aclose()
    return run.results
