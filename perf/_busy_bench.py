"""The cached board on a busy floor: 5 orders/s submitted over gRPC and 10 operations/s finished
(``perf/_busy_driver.py``, its own process on the load generator's CPU), against the same wrk
load with a quiet floor, at 4 and 16 connections, windows alternating quiet and busy.

Measured: the share of answers from the response cache (the facade's own
``mes_facade_cache_lookups_total`` over the window: hit, stale and wait count as from the cache,
miss and bypass do not), throughput and p99 against the quiet windows, and whether a probe
polling the board every 100 ms sees each new order within 2 s of its acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql_facade.config import DEFAULT_OPERATOR_TOKEN
from perf._common import cache_lookups, finish_load, start_load
from perf._drain import drain_payload, receive_for
from perf._read_bench import Target, Windows, med, rates, values
from perf._report import TargetRow, fmt_ms, spread
from perf._stack import BenchStack, HttpServer

__all__ = ["busy_floor", "drive"]

_FROM_CACHE = ("hit", "stale", "wait")


async def drive(spec: dict[str, Any], cpus: str | None) -> dict[str, Any]:
    """Run ``perf._busy_driver`` with ``spec`` (pinned to ``cpus``) and return its result."""
    process = await start_load(spec, cpus=cpus, module="perf._busy_driver")
    return await finish_load(process, spec, timeout_s=spec["seconds"] + 120, what="busy driver")


async def busy_floor(w: Windows, stack: BenchStack, cached: HttpServer, board: bytes, pids: Any) -> list[TargetRow]:
    plan = w.plan
    keys = list(stack.partner_keys.values())[:8]
    windows = 2 * plan.reps
    await receive_for(stack, int(5 * (plan.warmup_s + plan.duration_s + 2) * windows) + 100)
    spec = {
        "orders": stack.address("orders"),
        "production": stack.address("production"),
        "facade_url": cached.url,
        "token": stack.token,
        "keys": keys,
        "board": board.decode(),
        "operator_token": DEFAULT_OPERATOR_TOKEN,
        "order_rate": 5.0,
        "op_rate": 10.0,
        "seconds": plan.warmup_s + plan.duration_s + 1.0,
        "probe_s": 0.1,
        "payload": {k: v for k, v in drain_payload("BUSY").items() if k != "parent"},
    }
    rows = []
    for conns in (4, 16):
        quiet_runs: list[dict[str, Any]] = []
        busy_runs: list[dict[str, Any]] = []
        drives: list[dict[str, Any]] = []
        shares: list[dict[str, float]] = []
        target = Target(f"board cached {conns}c", cached, board, conns, pids)
        for rep in range(plan.reps):
            quiet_runs.append(await w.run(f"board cached {conns}c, quiet floor #{rep + 1}", target))
            before = await cache_lookups(cached.metrics_url)
            driver = asyncio.create_task(drive(spec, plan.client_cpus))
            busy_runs.append(await w.run(f"board cached {conns}c, busy floor #{rep + 1}", target))
            driven = await driver
            after = await cache_lookups(cached.metrics_url)
            drives.append(driven)
            shares.append({k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(after) | set(before)})
            w.say(
                f"    busy floor #{rep + 1}: {json.dumps({k: v for k, v in driven.items() if k != 'visible_delays_s'})}"
            )
        rows.append(_row(conns, quiet_runs, busy_runs, drives, shares, w))
    return rows


def _row(
    conns: int,
    quiet: list[dict[str, Any]],
    busy: list[dict[str, Any]],
    drives: list[dict[str, Any]],
    shares: list[dict[str, float]],
    w: Windows,
) -> TargetRow:
    cache_share = []
    for s in shares:
        total = sum(s.values())
        cache_share.append(100.0 * sum(s.get(k, 0.0) for k in _FROM_CACHE) / total if total else 0.0)
    delays = sorted(d for drive in drives for d in drive["visible_delays_s"])
    unseen = sum(drive["never_seen"] for drive in drives)
    late = sum(1 for d in delays if d > 2.0) + unseen
    worst = delays[-1] if delays else float("nan")
    throughput = med(rates(busy)) / med(rates(quiet)) if med(rates(quiet)) else 0.0
    p99_busy, p99_quiet = med(values(busy, "p99_ms")), med(values(quiet, "p99_ms"))
    submitted = sum(d["submitted"] for d in drives)
    finished = sum(d["finished_operations"] for d in drives)
    errors: dict[str, int] = {}
    for d in drives:
        for k, v in d["errors"].items():
            errors[k] = errors.get(k, 0) + v
    w.results.notes.append(
        f"busy floor at {conns} connections: {submitted} orders submitted, {finished} operations finished,"
        f" lookups per window {[{k: int(v) for k, v in s.items() if v} for s in shares]},"
        f" driver errors {errors or 'none'}"
    )
    must = (
        min(cache_share) >= 99.0 and throughput >= 0.8 and p99_busy <= p99_quiet + 25.0 and late == 0 and submitted > 0
    )
    return TargetRow(
        f"busy floor (5 orders/s + 10 operations/s), cached board, {conns} connections",
        f"from cache {spread(cache_share, lambda v: f'{v:.1f} %')}; {spread(rates(busy), lambda v: f'{v:,.0f} req/s')},"
        f" p99 {spread(values(busy, 'p99_ms'), fmt_ms)}; new orders on the board after"
        f" p50 {delays[len(delays) // 2] if delays else float('nan'):.2f} s, max {worst:.2f} s"
        f" ({late} of {len(delays) + unseen} over 2 s)",
        f"quiet: {spread(rates(quiet), lambda v: f'{v:,.0f} req/s')}, p99 {spread(values(quiet, 'p99_ms'), fmt_ms)}",
        f"{throughput:.2f}x (req/s); p99 {p99_busy - p99_quiet:+.1f} ms",
        "≥ 99 % from cache; ≥ 0.8x quiet; p99 ≤ quiet + 25 ms; every order within 2 s",
        must,
        "p99 ≤ 2x quiet",
        p99_busy <= 2 * p99_quiet,
    )
