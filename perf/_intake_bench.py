"""Intake benchmark (gRPC ``SubmitOrder``): empty backlog against a backlog of waiting orders.

1. Empty backlog, saga running: intake capacity (closed loop) and latency at a fixed offered
   rate (open loop, a fraction of that capacity), sampled orders timed to IN_PRODUCTION.
2. The JetStream consumers of the ORDERS stream are paused (``$JS.API.CONSUMER.PAUSE``) and the
   backlog is pre-loaded through the same API; nothing downstream sees it yet.
3. The consumers resume and, while they drain the backlog, the same offered rate is measured
   again, then the capacity; the backlog is counted before and after.
4. The drain is timed to the end (bounded) and the sampled orders' histories give the time
   from submit to IN_PRODUCTION.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mes.orders.v1 import orders_pb2
from perf._common import Say, run_load, wait_quiet
from perf._report import Verdict, fmt_ms, fmt_rate
from perf._setup import (
    BENCH_ALLOY,
    count_by_status,
    pause_saga,
    receive_metal,
    saga_consumers,
    staff_clients,
    submit_payload,
    wait_for_catalogue,
    wait_until_settled,
)
from perf._stack import BenchStack
from perf._stats import percentile

__all__ = ["IntakePlan", "IntakeResults", "run_intake"]

PARTNER = "aurora-jewels"
_WAITING = ("SUBMITTED", "ACCEPTED")


@dataclass(frozen=True)
class IntakePlan:
    backlog: int
    warmup_s: float
    duration_s: float
    drain_timeout_s: float
    capacity_conns: int = 16
    preload_conns: int = 32
    offered_fraction: float = 0.5
    samples: int = 200
    quiet_wait_s: float = 30.0
    settle_timeout_s: float = 180.0
    postgres_url: str | None = None
    #: Offered rate of the latency windows (orders/s; the issue's 30); None: derived from the capacity.
    offered_rate: float | None = 30.0


@dataclass
class IntakeResults:
    verdicts: list[Verdict]
    windows: list[tuple[str, dict[str, Any]]]
    notes: list[str]
    table: list[tuple[str, str, str, str]]
    database: str


def _waiting(counts: dict[str, int]) -> int:
    return sum(counts.get(s, 0) for s in _WAITING)


class _Run:
    def __init__(self, stack: BenchStack, plan: IntakePlan, say: Say) -> None:
        self.stack, self.plan, self.say = stack, plan, say
        self.results = IntakeResults([], [], [], [], stack.database_kind)
        self.pids: list[int] = []

    async def load(self, label: str, *, quiet: bool = False, **spec: Any) -> dict[str, Any]:
        full = {
            "kind": "grpc",
            "target": self.stack.address("orders"),
            "metadata": [["x-api-key", self.stack.partner_keys[PARTNER]]],
            "payload": submit_payload("INTAKE"),
            "server_pids": self.pids,
            "warmup_s": self.plan.warmup_s,
            "duration_s": self.plan.duration_s,
            **spec,
        }
        if quiet:  # empty-backlog windows only: while the backlog drains, the machine is busy by design
            busy = await wait_quiet(self.plan.quiet_wait_s)
            if busy >= 30.0:
                self.results.notes.append(f"{label}: started while the machine was {busy:.0f} % busy with other work")
        result = await run_load(full)
        shown = {k: v for k, v in result.items() if k != "extra"}
        self.say(f"    {label}: {json.dumps(shown)}")
        self.results.windows.append((label, result))
        return result

    async def capacity(self, label: str, *, quiet: bool) -> dict[str, Any]:
        return await self.load(label, quiet=quiet, mode="closed", concurrency=self.plan.capacity_conns)

    async def offered(self, label: str, rate: float, *, quiet: bool) -> dict[str, Any]:
        every = max(1, int(rate * self.plan.duration_s / self.plan.samples))
        return await self.load(label, quiet=quiet, mode="open", rate=rate, max_inflight=512, sample_every=every)

    async def preload(self) -> float:
        """Submit ``backlog`` orders as fast as the API takes them; returns orders/s."""
        started = time.monotonic()
        bound = max(120.0, self.plan.backlog / 20.0)
        result = await self.load(
            f"pre-load {self.plan.backlog:,} orders (consumers paused)",
            mode="closed",
            concurrency=self.plan.preload_conns,
            warmup_s=0.0,
            duration_s=bound,
            max_ops=self.plan.backlog,
        )
        if result["ok"] < self.plan.backlog * 0.99:
            raise RuntimeError(f"pre-load submitted only {result['ok']} orders: {result['statuses']}")
        elapsed = time.monotonic() - started
        # The window was only a bound: report the time the pre-load really took.
        result["elapsed_s"], result["rate"] = round(elapsed, 1), round(result["ok"] / elapsed, 1)
        return float(result["ok"]) / elapsed

    async def to_in_production(self, samples: list[tuple[str, float]]) -> tuple[list[float], int]:
        """Seconds from the client's send to the IN_PRODUCTION entry of each sampled order's history."""
        latencies: list[float] = []
        missing = 0
        async with staff_clients(self.stack) as mes:
            for order_id, sent in samples:
                response = await mes.orders.list_order_status_changes(parent=f"orders/{order_id}", page_size=50)
                found = [
                    c.change_time.seconds + c.change_time.nanos / 1e9
                    for c in response.status_changes
                    if c.to_status == orders_pb2.ORDER_STATUS_IN_PRODUCTION
                ]
                if found:
                    latencies.append(found[0] - sent)
                else:
                    missing += 1
        return sorted(latencies), missing


def _window_cell(r: dict[str, Any], *, done: bool = False) -> str:
    rate = fmt_rate(float(r["rate"]), "orders/s") + (" done" if done else "")
    return f"{rate}, p50 {fmt_ms(float(r['p50_ms']))}, p99 {fmt_ms(float(r['p99_ms']))}"


def _latency_cell(values: list[float], missing: int) -> str:
    if not values:
        return f"none reached it ({missing} sampled)"
    text = f"p50 {fmt_ms(percentile(values, 50) * 1000)}, p99 {fmt_ms(percentile(values, 99) * 1000)}"
    return text + f" (n={len(values)}" + (f", {missing} not there yet)" if missing else ")")


async def run_intake(plan: IntakePlan, workdir: Path, say: Say) -> IntakeResults:
    stack = BenchStack(workdir, postgres_admin_url=plan.postgres_url, say=say)
    run = _Run(stack, plan, say)
    res = run.results
    try:
        say(f"intake: starting the stack ({stack.database_kind if plan.postgres_url is None else 'PostgreSQL'})")
        await stack.start()
        res.database = stack.database_kind
        run.pids = [p for svc in ("orders", "inventory", "production") for p in stack.service_pids(svc)]
        run.pids += stack.pids(["nats"])
        await wait_for_catalogue(stack, PARTNER)
        await receive_metal(stack, BENCH_ALLOY, 3)
        await wait_until_settled(stack, 30.0)

        say("intake: empty backlog")
        cap_empty = await run.capacity("capacity, empty backlog", quiet=True)
        # The capacity window leaves a backlog: timing its drain gives the saga's own rate.
        left = _waiting(await count_by_status(stack))
        drain_from = time.monotonic()
        settled, _ = await wait_until_settled(stack, plan.settle_timeout_s)
        saga_rate = left / (time.monotonic() - drain_from) if settled and left >= 50 else None
        # The offered rate must be one the whole pipeline sustains, or "empty" would not stay empty.
        rate = cap_empty["rate"] * plan.offered_fraction
        if saga_rate is not None:
            rate = min(rate, 0.7 * saga_rate)
        rate = max(1.0, rate) if plan.offered_rate is None else plan.offered_rate
        empty = await run.offered(f"offered {rate:.0f}/s, empty backlog", rate, quiet=True)
        settled, _ = await wait_until_settled(stack, plan.settle_timeout_s)
        empty_lat, empty_missing = await run.to_in_production(empty["extra"].get("samples", []))

        names = await saga_consumers(stack)
        res.notes.append(f"paused/resumed JetStream consumers of ORDERS: {', '.join(names)}")
        await pause_saga(stack, names, True)
        say(f"intake: pre-loading {plan.backlog:,} orders with the consumers paused")
        try:
            preload_rate = await run.preload()
        finally:
            await pause_saga(stack, names, False)
        counts_start = await count_by_status(stack)
        backlog_start = _waiting(counts_start)
        drain_started = time.monotonic()
        say(f"intake: {backlog_start:,} orders waiting; measuring while the consumers drain")
        loaded = await run.offered(f"offered {rate:.0f}/s, {backlog_start:,} waiting", rate, quiet=False)
        backlog_mid = _waiting(await count_by_status(stack))
        cap_loaded = await run.capacity(f"capacity, {backlog_mid:,} waiting", quiet=False)
        backlog_end = _waiting(await count_by_status(stack))
        say("intake: waiting for the drain")
        drained, final = await wait_until_settled(stack, plan.drain_timeout_s)
        drain_s = time.monotonic() - drain_started
        loaded_lat, loaded_missing = await run.to_in_production(loaded["extra"].get("samples", []))

        # Orders that left SUBMITTED/ACCEPTED since the loaded window began (intake windows add new ones).
        processed = (sum(final.values()) - _waiting(final)) - (sum(counts_start.values()) - backlog_start)
        res.notes += [
            f"database: {stack.database_kind}; every order: 1 line {submit_payload()['lines']}",
            f"pre-load rate with consumers paused: {preload_rate:,.0f} orders/s ({plan.preload_conns} in flight)",
            (
                f"saga throughput (drain of the {left:,} orders the empty capacity window left):"
                + (f" {saga_rate:,.1f} orders/s" if saga_rate is not None else " not measured")
                + (
                    f"; offered rate: fixed at {plan.offered_rate:g} orders/s"
                    if plan.offered_rate is not None
                    else f"; offered rate = min({plan.offered_fraction:g} x intake capacity, 0.7 x saga throughput)"
                )
            ),
            f"orders waiting (SUBMITTED or ACCEPTED): {backlog_start:,} when the loaded window began,"
            f" {backlog_mid:,} after it, {backlog_end:,} after the loaded capacity window",
            (
                f"drain: {processed:,} orders moved on in {drain_s:,.0f} s ({processed / drain_s:,.0f} orders/s,"
                f" intake windows included); {'fully drained' if drained else 'NOT drained within the bound'}"
            ),
            f"final order counts: {final}",
        ]
        if not settled:
            res.notes.append("the empty-backlog pipeline had not settled within the bound before the pre-load")
        res.table = [
            (
                "intake capacity (closed loop, " + f"{plan.capacity_conns} in flight)",
                _window_cell(cap_empty),
                _window_cell(cap_loaded),
                f"{cap_loaded['rate'] / cap_empty['rate']:.2f}x" if cap_empty["rate"] else "—",
            ),
            (
                f"intake latency at {rate:.0f} orders/s offered (open loop)",
                _window_cell(empty, done=True),
                _window_cell(loaded, done=True),
                f"{loaded['p99_ms'] / empty['p99_ms']:.2f}x (p99)" if empty["p99_ms"] else "—",
            ),
            (
                "submit → IN_PRODUCTION (sampled orders of the offered-rate window)",
                _latency_cell(empty_lat, empty_missing),
                _latency_cell(loaded_lat, loaded_missing) + " — queued behind the backlog",
                "—",
            ),
        ]
        ratio = loaded["p99_ms"] / empty["p99_ms"] if empty["p99_ms"] else 0.0
        res.verdicts.append(
            Verdict(
                f"SubmitOrder p99 with {backlog_start:,} orders waiting vs empty backlog"
                f" ({rate:.0f} orders/s offered, {stack.database_kind})",
                f"p99 {fmt_ms(loaded['p99_ms'])}",
                f"empty: p99 {fmt_ms(empty['p99_ms'])}",
                ratio,
                "≤ 1.5x",
                ratio <= 1.5,
            )
        )
    finally:
        await stack.aclose()
    return res
