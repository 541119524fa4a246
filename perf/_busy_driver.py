"""The busy floor, driven from its own process (pinned beside wrk): orders submitted over gRPC at
a fixed rate by the partners, operations finished at a fixed rate on the shop floor, and a probe
that reads the board every 100 ms and notes when each new order first shows on it.

Run by the bench as ``python -m perf._busy_driver`` with a JSON spec on stdin; prints one JSON
result. Spec: ``orders`` (address), ``production``, ``facade_url``, ``token`` (staff), ``keys``
(partner API keys), ``board`` (request body), ``operator_token``, ``order_rate``, ``op_rate``,
``seconds``, ``probe_s``. Each finished operation is an ``IN_PROGRESS`` operation weighed out
within its tolerance, then an operation queued at the same work center started (so the floor
keeps its work in progress); finishing a work order's last operation completes it, and an order's
last completion makes it READY_TO_SHIP, as on a real floor.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

import grpc
import httpx
from google.protobuf import json_format

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes.production.v1 import production_pb2 as prod
from mes.production.v1 import production_pb2_grpc

__all__ = ["main"]


async def _submitter(spec: dict[str, Any], acks: dict[str, float], errors: dict[str, int], stop: float) -> None:
    keys = itertools.cycle(spec["keys"])
    async with grpc.aio.insecure_channel(spec["orders"]) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)
        base = json_format.ParseDict(spec["payload"], orders_pb2.SubmitOrderRequest())
        tasks = set()

        async def one(n: int) -> None:
            request = orders_pb2.SubmitOrderRequest()
            request.CopyFrom(base)
            request.request_id = request.partner_reference = f"BUSY-{uuid.uuid4().hex[:16]}"
            try:
                reply = await stub.SubmitOrder(request, metadata=(("x-api-key", next(keys)),), timeout=30)
                acks[reply.order.order_id] = time.time()
            except grpc.aio.AioRpcError as err:
                errors[f"SubmitOrder {err.code().name}"] += 1

        start = time.monotonic()
        for n in itertools.count():
            due = start + n / spec["order_rate"]
            if due >= stop:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)


async def _shop_floor(spec: dict[str, Any], done: list[float], errors: dict[str, int], stop: float) -> None:
    meta = (("authorization", f"Bearer {spec['token']}"),)
    async with grpc.aio.insecure_channel(spec["production"]) as channel:
        stub = production_pb2_grpc.ProductionServiceStub(channel)
        running: list[prod.Operation] = []
        token = ""
        while True:
            page = await stub.ListOperations(
                prod.ListOperationsRequest(
                    statuses=[prod.OPERATION_STATUS_IN_PROGRESS], page_size=100, page_token=token
                ),
                metadata=meta,
                timeout=30,
            )
            running += list(page.operations)
            token = page.next_page_token
            if not token:
                break
        queued: dict[str, list[prod.Operation]] = defaultdict(list)

        async def next_queued(center: str) -> prod.Operation | None:
            if not queued[center]:
                where = center if center.startswith("workCenters/") else f"workCenters/{center}"
                page = await stub.ListOperations(
                    prod.ListOperationsRequest(
                        work_center=where, statuses=[prod.OPERATION_STATUS_QUEUED], page_size=100
                    ),
                    metadata=meta,
                    timeout=30,
                )
                queued[center] = list(reversed(page.operations))
            return queued[center].pop() if queued[center] else None

        start = time.monotonic()
        for n in itertools.count():
            due = start + n / spec["op_rate"]
            if due >= stop or not running:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            op = running.pop(0)
            loss = op.weigh_in_mg * op.loss_tolerance_per_mille // 2000
            try:
                await stub.FinishOperation(
                    prod.FinishOperationRequest(
                        name=op.name,
                        operator_code=op.started_by or "OP-01",
                        weigh_out_mg=op.weigh_in_mg - loss,
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=meta,
                    timeout=30,
                )
                done.append(time.time())
            except grpc.aio.AioRpcError as err:
                errors[f"FinishOperation {err.code().name}"] += 1
            following = await next_queued(op.work_center)
            if following is None:
                continue
            try:
                started = await stub.StartOperation(
                    prod.StartOperationRequest(
                        name=following.name, operator_code="OP-01", weigh_in_mg=5_000, request_id=uuid.uuid4().hex
                    ),
                    metadata=meta,
                    timeout=30,
                )
                running.append(started.operation if started.HasField("operation") else following)
            except grpc.aio.AioRpcError as err:
                errors[f"StartOperation {err.code().name}"] += 1


async def _probe(spec: dict[str, Any], seen: dict[str, float], errors: dict[str, int], stop: float) -> int:
    polls = 0
    headers = {"Authorization": f"Bearer {spec['operator_token']}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                answer = (await client.post(spec["facade_url"], content=spec["board"], headers=headers)).json()
                now = time.time()
                for edge in answer["data"]["orders"]["edges"]:
                    seen.setdefault(edge["node"]["id"], now)
            except Exception as exc:
                errors[f"probe {type(exc).__name__}"] += 1
            polls += 1
            await asyncio.sleep(max(0.0, spec["probe_s"] - (time.monotonic() - started)))
    return polls


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    stop = time.monotonic() + spec["seconds"]
    acks: dict[str, float] = {}
    seen: dict[str, float] = {}
    done: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    results = await asyncio.gather(
        _submitter(spec, acks, errors, stop),
        _shop_floor(spec, done, errors, stop),
        _probe(spec, seen, errors, stop + 3.0),  # a little longer: the last orders get their 2 s and more
    )
    delays = sorted(seen[o] - t for o, t in acks.items() if o in seen)
    missing = [o for o in acks if o not in seen]
    return {
        "submitted": len(acks),
        "finished_operations": len(done),
        "probe_polls": results[2],
        "visible_delays_s": [round(d, 3) for d in delays],
        "never_seen": len(missing),
        "errors": dict(errors),
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(run(spec))), flush=True)


if __name__ == "__main__":
    main()
