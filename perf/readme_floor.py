"""The operators' dashboard on the README's own stack, quiet floor against busy floor, as a new
user would try it, with the CPU of every process per window (where the busy floor's cost goes).

Start the stack as the README says, with the operators' request limit raised so that wrk measures
the dashboard and not the limiter (the read suite raises it the same way)::

    MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE=100000000 python3 dev.py up

then, in another terminal::

    .venv/bin/python perf/readme_floor.py [--connections 16] [--windows 3] [--seconds 10]

Windows alternate quiet and busy. A window is wrk (one thread, closed loop) posting
``perf/queries/dashboard.graphql`` with the operator token; in a busy window ``perf/_busy_driver.py``
also submits orders over gRPC with the demo partners' keys (``--order-rate``, 5/s), finishes
operations on the shop floor (``--op-rate``, 10/s; the demo floor may have none in progress), and
a probe reads the board every 100 ms to see when each new order shows. Nothing is pinned unless
``--pin`` (stack on CPU0, wrk and the driver on CPU1). Per window it prints requests/s, p99, the
facade's response-cache lookups, and the CPU of wrk, of the driver, of each process of the stack
(from ``<data-dir>/stack.json``) and of the rest of the machine. wrk must be installed
(``apt-get install -y wrk``).

The verdict is the README-stack row of the fast-under-load targets: busy throughput ≥ 0.8x quiet,
busy p99 ≤ 2x quiet, every new order on the board within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos" / "gen")]

from perf._busy_bench import drive  # noqa: E402
from perf._common import cache_lookups  # noqa: E402
from perf._stats import machine_busy_s, process_cpu_s  # noqa: E402
from perf._wrk import children_cpu_s, run_wrk  # noqa: E402
from perf.replay_attacks import OPERATOR_TOKEN_DEFAULT, load_stack  # noqa: E402

STAFF_TOKEN_DEFAULT = "mes-dev-token"  # README: the services' development token of the local stack


async def _lookups(metrics_url: str) -> dict[str, float]:
    """The facade's cache lookups; none when its metrics cannot be read (the window still counts)."""
    try:
        return await cache_lookups(metrics_url)
    except httpx.HTTPError:
        return {}


async def _window(
    args: argparse.Namespace,
    busy: bool,
    spec: dict[str, Any],
    body: bytes,
    headers: dict[str, str],
    pids: dict[str, int],
    metrics_url: str,
    workdir: Path,
) -> dict[str, Any]:
    load_cpus = "1" if args.pin else None
    before_lookups = await _lookups(metrics_url)
    before_cpu = {name: process_cpu_s(pid) for name, pid in pids.items()}
    machine_before = machine_busy_s()
    children_before = children_cpu_s()
    driver = asyncio.create_task(drive(spec, load_cpus)) if busy else None
    if driver is not None:
        await asyncio.sleep(1.0)  # the driver connected and submitting before the measured run
    result = await run_wrk(
        args.url.rstrip("/") + "/graphql",
        body,
        headers,
        conns=args.connections,
        duration_s=args.seconds,
        warmup_s=0.0,
        workdir=workdir,
        cpus=load_cpus,
        server_pids=list(pids.values()),
    )
    elapsed = result["elapsed_s"]
    per_process = {name: 100.0 * (process_cpu_s(pid) - before_cpu[name]) / elapsed for name, pid in pids.items()}
    machine = 100.0 * (machine_busy_s() - machine_before) / elapsed
    drive_result: dict[str, Any] = {}
    driver_cpu = 0.0
    if driver is not None:
        drive_result = await driver
        # The driver is this process's other child: what the children used, less wrk's share.
        wrk_cpu_s = result["client_cpu_pct"] * elapsed / 100.0
        driver_cpu = 100.0 * max(0.0, children_cpu_s() - children_before - wrk_cpu_s) / max(elapsed, spec["seconds"])
    after_lookups = await _lookups(metrics_url)
    lookups = {k: int(after_lookups.get(k, 0.0) - before_lookups.get(k, 0.0)) for k in after_lookups}
    return {
        "busy": busy,
        "rate": result["rate"],
        "p99_ms": result["p99_ms"],
        "statuses": result["statuses"],
        "wrk_cpu_pct": result["client_cpu_pct"],
        "driver_cpu_pct": round(driver_cpu, 1),
        "machine_cpu_pct": round(machine, 1),
        "processes_cpu_pct": {k: round(v, 1) for k, v in sorted(per_process.items(), key=lambda kv: -kv[1])},
        "lookups": {k: v for k, v in lookups.items() if v},
        "drive": {k: v for k, v in drive_result.items() if k != "visible_delays_s"},
        "visible_delays_s": drive_result.get("visible_delays_s", []),
    }


def _line(n: int, w: dict[str, Any]) -> str:
    kind = "busy " if w["busy"] else "quiet"
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(w["processes_cpu_pct"].items())[:6])
    return (
        f"#{n} {kind} {w['rate']:>9,.0f} req/s  p99 {w['p99_ms']:6.1f} ms  | CPU %: machine {w['machine_cpu_pct']:.0f},"
        f" wrk {w['wrk_cpu_pct']:.0f}, driver {w['driver_cpu_pct']:.0f}; {top}\n"
        f"    lookups {w['lookups']}  statuses {w['statuses']}" + (f"  drive {w['drive']}" if w["busy"] else "")
    )


def _prepare(args: argparse.Namespace) -> tuple[dict[str, Any], bytes, dict[str, str], dict[str, int], str]:
    """The driver's spec, the dashboard request, its headers, the stack's processes, its metrics URL."""
    data_dir = Path(args.data_dir).resolve()
    stack = load_stack(args.url, str(data_dir), args.operator_token, args.metrics_url)
    pids = stack.pids
    partners = json.loads((data_dir / "demo-partners.json").read_text(encoding="utf-8"))["partners"]
    queries = ROOT / "perf" / "queries"
    variables = {"first": 100}
    dashboard = {
        "query": (queries / "dashboard.graphql").read_text(),
        "operationName": "Dashboard",
        "variables": variables,
    }
    body = json.dumps(dashboard).encode()
    board = json.dumps(
        {"query": (queries / "board.graphql").read_text(), "operationName": "Board", "variables": variables}
    )
    headers = {"Authorization": f"Bearer {args.operator_token}", "Content-Type": "application/json"}
    spec = {
        "orders": stack.orders_addr,
        "production": stack.production_addr,
        "facade_url": args.url.rstrip("/") + "/graphql",
        "token": args.staff_token,
        "keys": [p["api_key"] for p in partners],
        "board": board,
        "operator_token": args.operator_token,
        "order_rate": args.order_rate,
        "op_rate": args.op_rate,
        "seconds": args.seconds + 1.0,
        "probe_s": 0.1,
        # The README's own example order (the demo catalogue): 3 pieces on 2 lines.
        "payload": {
            "partnerReference": "BUSY",
            "priority": "PRIORITY_NORMAL",
            "dueTime": "2031-01-01T00:00:00Z",
            "lines": [
                {"lineNumber": 1, "styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 2, "size": "52"},
                {"lineNumber": 2, "styleCode": "PND-HRT-001", "alloyCode": "AU585R", "quantity": 1},
            ],
        },
    }
    return spec, body, headers, pids, stack.metrics_url


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    spec, body, headers, pids, metrics_url = _prepare(args)
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:  # warm the cache and the stack
        for _ in range(20):
            await client.post(spec["facade_url"], content=body, headers=headers)
    windows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mes-readme-floor-") as tmp:
        for n in range(2 * args.windows):
            window = await _window(args, n % 2 == 1, spec, body, headers, pids, metrics_url, Path(tmp))
            windows.append(window)
            print(_line(n + 1, window), flush=True)
    return windows


def verdict(windows: list[dict[str, Any]]) -> bool:
    quiet = [w for w in windows if not w["busy"]]
    busy = [w for w in windows if w["busy"]]
    q_rate, b_rate = statistics.median(w["rate"] for w in quiet), statistics.median(w["rate"] for w in busy)
    q_p99, b_p99 = statistics.median(w["p99_ms"] for w in quiet), statistics.median(w["p99_ms"] for w in busy)
    delays = sorted(d for w in busy for d in w["visible_delays_s"])
    nan = float("nan")
    unseen = sum(int(w["drive"].get("never_seen", 0)) for w in busy)
    late = sum(1 for d in delays if d > 2.0) + unseen
    if not q_rate or not q_p99:
        print("\nverdict: NOT OK (the quiet windows got no answer: see the statuses above)")
        return False
    ok = b_rate >= 0.8 * q_rate and b_p99 <= 2 * q_p99 and late == 0 and bool(delays)
    print(
        f"\nquiet {q_rate:,.0f} req/s p99 {q_p99:.1f} ms; busy {b_rate:,.0f} req/s p99 {b_p99:.1f} ms:"
        f" {b_rate / q_rate:.2f}x throughput, {b_p99 / q_p99:.2f}x p99; new orders on the board after"
        f" p50 {delays[len(delays) // 2] if delays else nan:.2f} s, max {delays[-1] if delays else nan:.2f} s"
        f" ({late} of {len(delays) + unseen} over 2 s)\n"
        f"verdict: {'OK' if ok else 'NOT OK'} (must: ≥ 0.8x quiet throughput, ≤ 2x quiet p99, every order within 2 s)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8180", help="the facade's base URL")
    parser.add_argument("--metrics-url", default=None, help="the facade's /metrics (default: its metrics port)")
    parser.add_argument("--data-dir", default=str(ROOT / "var"), help="the stack's data folder (keys, stack.json)")
    parser.add_argument("--operator-token", default=OPERATOR_TOKEN_DEFAULT)
    parser.add_argument("--staff-token", default=STAFF_TOKEN_DEFAULT, help="the services' token (shop-floor calls)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--windows", type=int, default=3, help="pairs of quiet and busy windows")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--order-rate", type=float, default=5.0)
    parser.add_argument("--op-rate", type=float, default=10.0)
    parser.add_argument("--pin", action="store_true", help="stack on CPU0 (set it yourself), wrk and driver on CPU1")
    parser.add_argument("--json", default=None, help="also write the windows to this file")
    args = parser.parse_args()
    windows = asyncio.run(measure(args))
    ok = verdict(windows)
    if args.json:
        Path(args.json).write_text(json.dumps(windows, indent=1), encoding="utf-8")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
