"""The load generator: one process, asyncio (uvloop), closed or open loop, bounded in count and time.

Run by the bench script as ``python -m perf._load`` with a JSON spec on stdin; prints one JSON
result on stdout. Kinds:

``http``   POSTs pre-built requests (cycled) over keep-alive connections (see ``_http``);
           ``__N__`` in a body is replaced by a unique token per request (idempotency keys).
``grpc``   ``SubmitOrder`` on one grpc.aio channel with a unique ``request_id`` per call.

Modes: ``closed`` keeps ``concurrency`` requests in flight back to back (throughput);
``open`` starts requests at a fixed ``rate`` whatever the answers (latency under a given
load; latency counts from the scheduled start, so a stalled server cannot hide its queue).
Requests that finish between the end of the warm-up and the end of the window are counted
(throughput = those / window length) and give the latency percentiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format

from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from perf._http import HttpPool, build_request
from perf._stats import CpuMeter, Summary, summarize

__all__ = ["run_spec"]

Call = Callable[[int], Awaitable[tuple[str, str | None]]]  # (status label, sampled id or None)


class _Window:
    def __init__(self, warmup_s: float, duration_s: float) -> None:
        now = time.perf_counter()
        self.begin = now + warmup_s
        self.end = self.begin + duration_s
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.samples: list[tuple[str, float]] = []

    def record(self, started: float, finished: float, status: str, ok: bool) -> None:
        if self.begin <= finished <= self.end:
            self.statuses[status] += 1
            if ok:
                self.latencies.append((finished - started) * 1000.0)


async def _measure(spec: dict[str, Any], call: Call) -> Summary:
    warmup_s = float(spec.get("warmup_s", 1.0))
    duration_s = float(spec["duration_s"])
    max_ops = int(spec.get("max_ops", 10_000_000))
    ok_labels = set(spec.get("ok", ["200", "OK"]))
    sample_every = int(spec.get("sample_every", 0))
    window = _Window(warmup_s, duration_s)
    meter = CpuMeter(spec.get("server_pids", []))
    issued = 0

    async def one(n: int, started: float) -> None:
        try:
            status, ident = await call(n)
        except Exception as exc:  # a failed request is a data point, not the end of the run
            status, ident = f"error:{type(exc).__name__}", None
            window.errors[type(exc).__name__] += 1
        finished = time.perf_counter()
        ok = status in ok_labels
        window.record(started, finished, status, ok)
        if ok and ident and sample_every and n % sample_every == 0 and started >= window.begin:
            window.samples.append((ident, time.time() - (finished - started)))

    cpu: list[float] = [0.0, 0.0, 0.0]
    metered = False

    async def meter_task() -> None:
        nonlocal metered
        await asyncio.sleep(max(0.0, window.begin - time.perf_counter()))
        meter.start()
        metered = True
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        cpu[:] = meter.stop(window.end - window.begin)

    metering = asyncio.create_task(meter_task())
    if spec["mode"] == "closed":

        async def worker() -> None:
            nonlocal issued
            while time.perf_counter() < window.end and issued < max_ops:
                issued += 1
                await one(issued, time.perf_counter())

        await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
        now = time.perf_counter()
        if issued >= max_ops and now < window.end:  # done early: the window ends here
            window.end = max(now, window.begin)
            metering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await metering
            if metered:
                cpu[:] = meter.stop(window.end - window.begin)
    else:
        rate = float(spec["rate"])
        cap = int(spec.get("max_inflight", 256))
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        while issued < max_ops:
            due = start + issued / rate
            if due >= window.end:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            issued += 1
            if len(tasks) >= cap:
                window.statuses["client_overrun"] += due >= window.begin
                continue
            task = asyncio.create_task(one(issued, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=max(1.0, window.end - time.perf_counter() + 5.0))
    if not metering.done():
        await metering
    ok_count = sum(n for label, n in window.statuses.items() if label in ok_labels)
    summary = summarize(window.latencies, ok=ok_count, elapsed_s=window.end - window.begin)
    summary.statuses = dict(window.statuses)
    summary.errors = dict(window.errors)
    summary.client_cpu_pct, summary.server_cpu_pct, summary.other_cpu_pct = cpu
    summary.extra["issued"] = issued
    if spec.get("return_latencies"):
        summary.extra["latencies"] = [round(v, 3) for v in window.latencies]
    if window.samples:
        summary.extra["samples"] = window.samples
    return summary


async def _http(spec: dict[str, Any]) -> Summary:
    host, port = spec.get("host", "127.0.0.1"), int(spec["port"])
    templates = [
        (r.get("path", "/graphql"), {"Content-Type": "application/json", **r.get("headers", {})}, r["body"])
        for r in spec["requests"]
    ]
    fixed = [build_request("POST", p, f"{host}:{port}", h, b.encode()) for p, h, b in templates]
    unique = any("__N__" in b for _, _, b in templates)
    prefix = uuid.uuid4().hex[:12]
    pool = HttpPool(host, port)

    async def call(n: int) -> tuple[str, str | None]:
        i = n % len(templates)
        if unique:
            path, headers, body = templates[i]
            raw = build_request(
                "POST", path, f"{host}:{port}", headers, body.replace("__N__", f"{prefix}-{n}").encode()
            )
        else:
            raw = fixed[i]
        response = await pool.request(raw)
        status = str(response.status)
        if response.status == 200 and b'"errors":' in response.body:
            status = "200+errors"
        return status, None

    try:
        return await _measure(spec, call)
    finally:
        await pool.aclose()


def _submit_request(payload: dict[str, Any]) -> orders_pb2.SubmitOrderRequest:
    return json_format.ParseDict(payload, orders_pb2.SubmitOrderRequest())


async def _grpc(spec: dict[str, Any]) -> Summary:
    base = _submit_request(spec["payload"])
    metadata = tuple((k, v) for k, v in spec["metadata"])
    prefix = uuid.uuid4().hex[:12]
    timeout = float(spec.get("timeout_s", 30.0))
    async with grpc.aio.insecure_channel(spec["target"]) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)

        async def call(n: int) -> tuple[str, str | None]:
            request = orders_pb2.SubmitOrderRequest()
            request.CopyFrom(base)
            request.request_id = f"{prefix}-{n}"
            request.partner_reference = f"{base.partner_reference}-{prefix}-{n}"
            try:
                response = await stub.SubmitOrder(request, metadata=metadata, timeout=timeout)
            except grpc.aio.AioRpcError as err:
                return err.code().name, None
            return "OK", response.order.order_id

        return await _measure(spec, call)


async def run_spec(spec: dict[str, Any]) -> Summary:
    if spec["kind"] == "http":
        return await _http(spec)
    if spec["kind"] == "grpc":
        return await _grpc(spec)
    raise ValueError(f"unknown kind {spec['kind']!r}")


def main() -> None:
    spec = json.loads(sys.stdin.read())
    runner: Callable[[Awaitable[Summary]], Summary] = asyncio.run
    if spec["kind"] == "http":  # grpc.aio stays on the default loop (no gain from uvloop there)
        import uvloop

        runner = uvloop.run
    summary = runner(run_spec(spec))
    print(json.dumps(summary.to_dict()), flush=True)


if __name__ == "__main__":
    main()
