"""A saga drain: a backlog of orders submitted with the saga's consumers paused, then timed from
their resumption until every order has moved on (IN_PRODUCTION, or ON_HOLD), with the CPU each
service process used and the rows each service wrote (outbox by subject, inbox by consumer).

The orders are those of the generated history's mix in miniature: three lines (a solitaire
ring with a diamond in 18K yellow gold, a heart pendant in 14K yellow, hoop earrings in silver),
submitted by staff for a demo partner; stock for all of them is received first.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from mes.common.v1 import common_pb2
from perf._common import Say, run_load
from perf._setup import DUE, count_by_status, pause_saga, saga_consumers, staff_clients
from perf._stack import BenchStack
from perf._stats import process_cpu_s

__all__ = ["DRAIN_LINES", "DrainResult", "drain", "drain_payload", "receive_for"]

#: (style, alloy, metal mg, stones) of each line: RNG-SOL-001 3.5 g + 1 diamond, PND-HRT-001 2.2 g, EAR-HOP-002 2.6 g.
DRAIN_LINES = (
    ("RNG-SOL-001", "AU750Y", 3_500, 1),
    ("PND-HRT-001", "AU585Y", 2_200, 0),
    ("EAR-HOP-002", "AG925", 2_600, 0),
)
PARTNER = "aurora-jewels"
SERVICES = ("orders", "inventory", "production")
#: The services' durable consumers (not the facades' own).
_SERVICE_CONSUMERS = ("orders-", "inventory-", "production-", "webhooks-")


def drain_payload(reference: str = "DRAIN") -> dict[str, Any]:
    return {
        "parent": f"partners/{PARTNER}",
        "partnerReference": reference,
        "priority": "PRIORITY_NORMAL",
        "dueTime": DUE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [
            {"lineNumber": i, "styleCode": style, "alloyCode": alloy, "quantity": 1, "size": "7" if i == 1 else ""}
            for i, (style, alloy, _mg, _stones) in enumerate(DRAIN_LINES, start=1)
        ],
    }


async def receive_for(stack: BenchStack, orders: int) -> None:
    """Metal and diamonds for ``orders`` drain orders (with 10 % to spare), in lots of at most 100 kg."""
    async with staff_clients(stack) as mes:
        for _style, alloy, mg, stones in DRAIN_LINES:
            left = int(orders * mg * 1.1)
            while left > 0:
                lot = min(left, 100_000_000)
                await mes.inventory.receive_lot(
                    kind=common_pb2.MATERIAL_KIND_METAL,
                    material_code=alloy,
                    weight_mg=lot,
                    supplier_reference="drain",
                    request_id=f"drain-{uuid.uuid4().hex[:12]}",
                )
                left -= lot
            if stones:
                await mes.inventory.receive_lot(
                    kind=common_pb2.MATERIAL_KIND_STONE,
                    material_code="DIA-RB-010",
                    pieces=int(orders * 1.1) + 1,
                    weight_points=(int(orders * 1.1) + 1) * 10,
                    supplier_reference="drain",
                    request_id=f"drain-{uuid.uuid4().hex[:12]}",
                )


@dataclass
class DrainResult:
    orders: int
    seconds: float
    #: CPU seconds per service process during the drain.
    cpu_s: dict[str, float]
    #: Rows the drain wrote: outbox rows by subject, inbox rows by consumer (per order).
    outbox: dict[str, float] = field(default_factory=dict)
    inbox: dict[str, float] = field(default_factory=dict)
    other_cpu_pct: float = 0.0
    settled: bool = True

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_order(self) -> float:
        return 1000.0 * sum(self.cpu_s.values()) / self.orders if self.orders else 0.0


async def _rows(db_url: str) -> tuple[Counter[str], Counter[str]]:
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        outbox: Counter[str] = Counter()
        inbox: Counter[str] = Counter()
        for svc in SERVICES:
            for r in await conn.fetch(f'SELECT subject, count(*) AS n FROM "{svc}".outbox GROUP BY subject'):
                outbox[r["subject"]] += int(r["n"])
            for r in await conn.fetch(f'SELECT consumer, count(*) AS n FROM "{svc}".inbox GROUP BY consumer'):
                inbox[r["consumer"]] += int(r["n"])
        return outbox, inbox
    finally:
        await conn.close()


async def _quiescent(stack: BenchStack, *, timeout_s: float) -> bool:
    """Until every outbox row is published and no durable consumer has messages pending or unacknowledged."""
    import nats

    assert stack.database_url is not None
    conn = await asyncpg.connect(stack.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout_s
        calm = 0
        while time.monotonic() < deadline:
            unpublished = 0
            for svc in SERVICES:
                unpublished += int(
                    await conn.fetchval(f'SELECT count(*) FROM "{svc}".outbox WHERE published_at IS NULL')
                )
            pending = 0
            for stream in ("ORDERS", "INVENTORY", "PRODUCTION"):
                for info in await js.consumers_info(stream):
                    if (info.config.durable_name or "").startswith(_SERVICE_CONSUMERS):
                        pending += info.num_pending + info.num_ack_pending
            calm = calm + 1 if unpublished == 0 and pending == 0 else 0
            if calm >= 2:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await nc.close()
        await conn.close()


async def drain(
    stack: BenchStack, orders: int, say: Say, *, timeout_s: float = 600.0, during: Any = None
) -> DrainResult:
    """Submit ``orders`` with the consumers paused, resume them, and time the drain.

    ``during``: an awaitable factory started right after the resumption (a profiler)."""
    from perf._stats import machine_busy_s

    names = await saga_consumers(stack)
    await pause_saga(stack, names, True)
    try:
        spec = {
            "kind": "grpc",
            "mode": "closed",
            "concurrency": 16,
            "target": stack.address("orders"),
            "metadata": [["authorization", f"Bearer {stack.token}"]],
            "payload": drain_payload(),
            "warmup_s": 0.0,
            "duration_s": max(60.0, orders / 10.0),
            "max_ops": orders,
            "server_pids": [],
        }
        submitted = await run_load(spec)
    finally:
        await pause_saga(stack, names, False)
    if submitted["ok"] < orders:
        raise RuntimeError(f"drain: only {submitted['ok']} of {orders} orders submitted: {submitted['statuses']}")
    assert stack.database_url is not None
    rows_before = await _rows(stack.database_url)
    pids = {svc: stack.service_pids(svc) for svc in SERVICES}  # API and worker processes of each service
    cpu_before = {svc: sum(process_cpu_s(p) for p in ps) for svc, ps in pids.items()}
    busy_before = machine_busy_s()
    started = time.monotonic()
    task = asyncio.create_task(during()) if during is not None else None
    waiting = {"SUBMITTED", "ACCEPTED"}
    settled = False
    while time.monotonic() - started < timeout_s:
        counts = await count_by_status(stack)
        if sum(counts.get(s, 0) for s in waiting) == 0:
            settled = True
            break
        await asyncio.sleep(0.25)
    seconds = time.monotonic() - started
    # the orders moved on; what they caused (issues to stores, events no one waits for) finishes now
    quiet = await _quiescent(stack, timeout_s=60.0)
    cpu = {svc: sum(process_cpu_s(p) for p in ps) - cpu_before[svc] for svc, ps in pids.items()}
    busy = machine_busy_s() - busy_before
    busy_seconds = time.monotonic() - started
    if task is not None:
        await task
    outbox_after, inbox_after = await _rows(stack.database_url)
    result = DrainResult(orders, seconds, cpu, settled=settled and quiet)
    result.outbox = {
        k: (outbox_after[k] - rows_before[0][k]) / orders for k in outbox_after if outbox_after[k] != rows_before[0][k]
    }
    result.inbox = {
        k: (inbox_after[k] - rows_before[1][k]) / orders for k in inbox_after if inbox_after[k] != rows_before[1][k]
    }
    result.other_cpu_pct = max(0.0, 100.0 * (busy - sum(cpu.values())) / busy_seconds)
    say(f"    drain of {orders:,}: {result.rate:.1f} orders/s, {result.cpu_ms_per_order:.1f} ms CPU/order {cpu}")
    return result
