"""The saga drain with the CPU of the stack's other consumers beside it, and with the analytics
worker held back: what the read model costs the saga, and what it costs by itself.

    python perf/drain_split.py [--modes run,stop,run,stop] [--backlog 2000] [--history 10000]

Needs PostgreSQL (``MES_BENCH_POSTGRES_URL``, an admin URL; a database of its own is made and
dropped). One stack (``perf._stack.BenchStack``, as ``mes up`` plans it) serves every round; each
round is one drain of ``--backlog`` orders (``perf._drain.drain``: submitted with the saga's
consumers paused, timed from their resumption until every order moved on):

- ``run``: everything runs, as in ``perf/bench.py saga``;
- ``stop``: the analytics worker is stopped (SIGSTOP) for the drain and resumed after it, so the
  saga has the cores to itself; its catch-up is then timed and its CPU counted.

After each drain the round waits until the analytics consumers have nothing pending, and prints
the drain's rate, the saga services' CPU per order (API and worker processes), and the CPU per
order of the webhooks and analytics processes over the drain and the catch-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_ROOT), str(_ROOT / "protos" / "gen")]

import argparse
import asyncio
import os
import signal
import tempfile
import time

import nats

from perf._common import wait_quiet
from perf._drain import drain, receive_for
from perf._stack import BenchStack
from perf._stats import process_cpu_s
from perf.datagen import Options

SAGA = ("orders", "inventory", "production")
OTHERS = ("analytics-worker", "webhooks-worker", "analytics", "webhooks")
ANALYTICS_CONSUMERS = (
    ("ORDERS", "analytics-orders"),
    ("PRODUCTION", "analytics-production"),
    ("INVENTORY", "analytics-inventory"),
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _analytics_caught_up(nats_url: str, timeout_s: float = 300.0) -> float:
    """Seconds until the analytics consumers have nothing pending or unacknowledged."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            left = 0
            for stream, durable in ANALYTICS_CONSUMERS:
                info = await js.consumer_info(stream, durable)
                left += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            if left == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        raise TimeoutError(f"the analytics consumers still had work after {timeout_s:.0f} s")
    finally:
        await nc.close()


async def main(args: argparse.Namespace) -> None:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("run", "stop") for m in modes):
        raise SystemExit("--modes: a comma-separated list of run and stop")
    admin = os.environ.get("MES_BENCH_POSTGRES_URL")
    if not admin:
        raise SystemExit("MES_BENCH_POSTGRES_URL (a PostgreSQL admin URL) is needed")
    work = Path(tempfile.mkdtemp(prefix="mes-drain-split-"))
    stack = BenchStack(work, postgres_admin_url=admin, say=_say, dataset=Options(orders=args.history))
    try:
        await stack.start()
        await receive_for(stack, args.backlog * len(modes) + 100)
        columns = ["round", "orders/s", "saga ms CPU/order", *SAGA, "analytics-worker", "webhooks-worker", "catch-up"]
        print("| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
        for number, mode in enumerate(modes, 1):
            await wait_quiet(10.0)
            pids = {name: stack.process_pids(name) for name in OTHERS}
            held = pids["analytics-worker"] if mode == "stop" else []
            cpu0 = {name: sum(process_cpu_s(p) for p in ps) for name, ps in pids.items()}
            for pid in held:
                os.kill(pid, signal.SIGSTOP)
            try:
                result = await drain(stack, args.backlog, _say)
            finally:
                for pid in held:
                    os.kill(pid, signal.SIGCONT)
            catch_up = await _analytics_caught_up(stack.nats_url)
            used = {name: sum(process_cpu_s(p) for p in ps) - cpu0[name] for name, ps in pids.items()}
            cpu = {name: 1000 * seconds / args.backlog for name, seconds in used.items()}
            saga = [1000 * result.cpu_s[svc] / result.orders for svc in SAGA]
            cells = [f"{number} {mode}", f"{result.rate:.1f}", f"{result.cpu_ms_per_order:.2f}"]
            cells += [f"{v:.2f}" for v in saga]
            cells += [f"{cpu['analytics-worker']:.2f}", f"{cpu['webhooks-worker']:.2f}", f"{catch_up:.1f} s"]
            print("| " + " | ".join(cells) + " |", flush=True)
    finally:
        await stack.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="run,stop,run,stop")
    parser.add_argument("--backlog", type=int, default=2_000)
    parser.add_argument("--history", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))
