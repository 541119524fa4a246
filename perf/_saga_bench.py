"""Saga drain against its same-run floor, on both cores (no pinning), PostgreSQL.

Each round: a backlog of orders is submitted with the saga's consumers paused and timed from
their resumption until every order moved on (``perf/_drain.py``: orders/s end to end, CPU per
order summed over the three service processes); then the floor (``perf/_saga_floor.py``)
writes the same JetStream messages and inbox/outbox rows per order (counted from the saga's
own round) with three worker processes, timed the same way. Rounds alternate saga, floor.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from mes_contracts.events import ORDER_SUBMITTED
from perf._common import ROOT, Say, median, wait_quiet
from perf._drain import DrainResult, drain, receive_for
from perf._report import TargetResults, TargetRow, spread
from perf._saga_floor import FloorPlan, chain_of, preload, prepare
from perf._stack import BenchStack
from perf._stats import machine_busy_s, process_cpu_s
from perf.datagen import Options
from perf.datagen.events import consumers_by_subject

SAGA_SERVICES = ("orders", "inventory", "production")

__all__ = ["SagaPlan", "SagaResults", "run_saga"]


@dataclass(frozen=True)
class SagaPlan:
    postgres_url: str
    reps: int = 3
    backlog: int = 2_000
    history: int = 10_000
    quiet_wait_s: float = 15.0
    timeout_s: float = 600.0


SagaResults = TargetResults


async def _payload_bytes(db_url: str) -> int:
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        sizes = [
            await conn.fetchval(f'SELECT coalesce(avg(length(payload)), 0) FROM "{svc}".outbox')
            for svc in ("orders", "inventory", "production")
        ]
    finally:
        await conn.close()
    return int(sum(sizes) / max(1, sum(1 for s in sizes if s)))


async def _floor(stack: BenchStack, plan: FloorPlan, orders: int, timeout_s: float) -> dict[str, Any]:
    db = str(stack.database_url).replace("postgresql+asyncpg://", "postgresql://", 1)
    await prepare(db, stack.nats_url)
    await preload(db, stack.nats_url, plan, orders)
    argv = [sys.executable, "-m", "perf._saga_floor", "--dsn", db, "--nats", stack.nats_url]
    argv += ["--plan", json.dumps(plan.__dict__), "--seconds", str(timeout_s)]
    env_path = f"{ROOT}:{ROOT / 'protos' / 'gen'}"
    workers = [
        await asyncio.create_subprocess_exec(
            *argv, cwd=str(ROOT), env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}
        )
        for _ in range(3)
    ]
    expected = orders * plan.inbox_rows
    conn = await asyncpg.connect(db)
    try:
        await asyncio.sleep(0.5)  # the workers import and connect; the clock starts at their first fetch
        cpu0 = sum(process_cpu_s(w.pid) for w in workers)
        busy0 = machine_busy_s()
        started = time.monotonic()
        done = 0
        while time.monotonic() - started < timeout_s:
            done = int(await conn.fetchval("SELECT count(*) FROM floor.inbox"))
            if done >= expected:
                break
            await asyncio.sleep(0.1)
        seconds = time.monotonic() - started
        cpu = sum(process_cpu_s(w.pid) for w in workers) - cpu0
        busy = machine_busy_s() - busy0
    finally:
        await conn.close()
        for w in workers:
            w.kill()
            await w.wait()
    return {
        "orders": orders,
        "seconds": seconds,
        "rate": orders / seconds,
        "cpu_ms": 1000.0 * cpu / orders,
        "complete": done >= expected,
        "other_cpu_pct": max(0.0, 100.0 * (busy - cpu) / seconds),
    }


def _window(r: DrainResult) -> dict[str, Any]:
    return {
        "ok": r.orders,
        "elapsed_s": round(r.seconds, 2),
        "rate": round(r.rate, 1),
        "p50_ms": 0.0,
        "p90_ms": 0.0,
        "p99_ms": 0.0,
        "max_ms": 0.0,
        "statuses": {"settled" if r.settled else "NOT settled": r.orders},
        "client_cpu_pct": 0.0,
        "server_cpu_pct": round(100.0 * sum(r.cpu_s.values()) / r.seconds, 1),
        "other_cpu_pct": round(r.other_cpu_pct, 1),
        "extra": {"cpu_ms_per_order": {k: round(1000 * v / r.orders, 2) for k, v in r.cpu_s.items()}},
    }


async def run_saga(plan: SagaPlan, workdir: Path, say: Say) -> SagaResults:
    results = SagaResults()
    stack = BenchStack(workdir, postgres_admin_url=plan.postgres_url, say=say, dataset=Options(orders=plan.history))
    try:
        say(f"saga: generating {plan.history:,} orders, starting the stack (both cores, no pinning)")
        await stack.start()
        await receive_for(stack, plan.backlog * plan.reps + 100)
        # fan-out of each subject over the three services' consumers (the webhooks service is not in the saga)
        subjects = {s: len([c for c in cs if c[0] in SAGA_SERVICES]) for s, cs in consumers_by_subject().items()}
        saga: list[DrainResult] = []
        floor: list[dict[str, Any]] = []
        chain: FloorPlan | None = None
        for rep in range(plan.reps):
            busy = await wait_quiet(plan.quiet_wait_s)
            label = f"saga drain of {plan.backlog:,} #{rep + 1}"
            if busy >= 30.0:
                results.notes.append(f"{label}: started while the machine was {busy:.0f} % busy with other work")
            r = await drain(stack, plan.backlog, say, timeout_s=plan.timeout_s)
            saga.append(r)
            results.windows.append((label, _window(r)))
            if chain is None:
                assert stack.database_url is not None
                payload = await _payload_bytes(stack.database_url)
                chain = chain_of(r.outbox, subjects, payload, first=subjects.get(ORDER_SUBMITTED.subject, 1))
                results.notes.append(
                    "saga per order (round 1, after the submission): outbox rows"
                    f" {json.dumps({k: round(v, 2) for k, v in r.outbox.items()})};"
                    f" inbox rows {json.dumps({k: round(v, 2) for k, v in r.inbox.items()})}; floor chain: fan-outs"
                    f" {list(chain.fanouts)}, riders {list(chain.riders)} ({chain.outbox_rows} messages and outbox"
                    f" rows, {chain.inbox_rows} inbox rows per order), payload {chain.payload_bytes} bytes"
                )
            await wait_quiet(plan.quiet_wait_s)
            f = await _floor(stack, chain, plan.backlog, plan.timeout_s)
            say(f"    floor #{rep + 1}: {f['rate']:.1f} orders/s, {f['cpu_ms']:.2f} ms CPU/order")
            floor.append(f)
            results.windows.append(
                (
                    f"floor of {plan.backlog:,} #{rep + 1}",
                    {
                        "ok": f["orders"],
                        "elapsed_s": round(f["seconds"], 2),
                        "rate": round(f["rate"], 1),
                        "p50_ms": 0.0,
                        "p90_ms": 0.0,
                        "p99_ms": 0.0,
                        "max_ms": 0.0,
                        "statuses": {"complete" if f["complete"] else "INCOMPLETE": f["orders"]},
                        "client_cpu_pct": 0.0,
                        "server_cpu_pct": round(f["cpu_ms"] * f["rate"] / 10.0, 1),
                        "other_cpu_pct": round(f["other_cpu_pct"], 1),
                    },
                )
            )
        rate = median([r.rate for r in saga])
        cpu = median([r.cpu_ms_per_order for r in saga])
        f_cpu = median([f["cpu_ms"] for f in floor])
        ms = lambda v: f"{v:.1f} ms"  # noqa: E731
        per = lambda v: f"{v:,.1f} orders/s"  # noqa: E731
        results.rows.append(
            TargetRow(
                f"saga drain, 2 cores, backlog of {plan.backlog:,} (3-line orders)",
                f"{spread([r.rate for r in saga], per)}; CPU {spread([r.cpu_ms_per_order for r in saga], ms)}/order"
                " over the service processes",
                f"floor: {spread([f['rate'] for f in floor], per)};"
                f" CPU {spread([f['cpu_ms'] for f in floor], ms)}/order",
                f"{cpu / f_cpu:.2f}x (CPU/order)" if f_cpu else "—",
                "≥ 60 orders/s; ≤ 15 ms/order",
                rate >= 60 and cpu <= 15,
                "≥ 100 orders/s; ≤ 10 ms/order; ≤ 2.5x floor",
                rate >= 100 and cpu <= 10 and bool(f_cpu) and cpu / f_cpu <= 2.5,
            )
        )
        per_service = {k: median([1000 * r.cpu_s[k] / r.orders for r in saga]) for k in saga[0].cpu_s}
        results.notes.append(
            "saga CPU per order by service (median): " + ", ".join(f"{k} {v:.1f} ms" for k, v in per_service.items())
        )
        results.notes.append("PostgreSQL and nats-server CPU is not in the per-order figures (it is in 'other CPU')")
    finally:
        await stack.aclose()
    return results
