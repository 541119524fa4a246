"""py-spy flame graphs (SVG) of the server processes under a bench load.

    python perf/profile.py board --out perf/profiles/after [--database NAME | --orders N] [--seconds 30]
    python perf/profile.py drain --out perf/profiles/after [--database NAME | --orders N] [--backlog 3000]

``board``: the uncached board (``queries/board.graphql``, a facade with ``MES_FACADE_CACHE=0``)
under wrk at 16 connections, servers (and PostgreSQL) pinned to CPU0, wrk to CPU1; one SVG per
process: ``board-facade.svg``, ``board-orders.svg``, ``board-production.svg``, ``board-inventory.svg``.
``drain``: a backlog submitted with the saga's consumers paused, then drained on both cores;
``drain-orders.svg``, ``drain-inventory.svg``, ``drain-production.svg``. Next to them,
``<scenario>-summary.txt`` lists where each process spent its samples (``perf/_flame.py``).

Needs PostgreSQL (``MES_BENCH_POSTGRES_URL``, an admin URL), ``py-spy`` (``pip install py-spy``)
and ``wrk`` (``apt-get install -y wrk``). ``--database`` uses a history generated before
(``python -m perf.datagen``) and keeps it; otherwise ``--orders`` are generated into a
temporary database.
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
import shutil
import tempfile

from perf._drain import drain, receive_for
from perf._flame import summarize_svg
from perf._pg import PostgresProcesses
from perf._read_bench import FACADE_LIMITS, HEADERS, body
from perf._stack import BenchStack
from perf._wrk import run_wrk
from perf.datagen import Options

NATIVE: list[str] = ["--native"] if os.environ.get("MES_PROFILE_NATIVE") else []


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def record(pids: dict[str, int], out: Path, scenario: str, seconds: float) -> None:
    """One ``py-spy record`` per process, all at once, for ``seconds``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    procs = {}
    for name, pid in pids.items():
        argv = [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            *(NATIVE or ["--nonblocking"]),
        ]
        argv += ["--output", str(out / f"{scenario}-{name}.svg")]
        procs[name] = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
    for name, proc in procs.items():
        _, err = await proc.communicate()
        if proc.returncode != 0:
            _say(f"py-spy {name}: exit {proc.returncode}: {err.decode()[-400:]}")
    lines = []
    for name in pids:
        svg = out / f"{scenario}-{name}.svg"
        if svg.exists():
            lines += [f"## {scenario}: {name}", *summarize_svg(svg), ""]
    (out / f"{scenario}-summary.txt").write_text("\n".join(lines) + "\n")


async def main(args: argparse.Namespace) -> None:
    url = os.environ.get("MES_BENCH_POSTGRES_URL", "").strip()
    if not url:
        raise SystemExit("set MES_BENCH_POSTGRES_URL (an admin URL of PostgreSQL)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    workdir = Path(tempfile.mkdtemp(prefix="mes-profile-"))
    dataset = None if args.database else Options(orders=args.orders)
    pin = "0" if args.scenario == "board" else None
    stack = BenchStack(
        workdir, postgres_admin_url=url, server_cpus=pin, dataset=dataset, existing_database=args.database, say=_say
    )
    pg: PostgresProcesses | None = None
    try:
        await stack.start()
        if args.scenario == "board":
            assert stack.database_url and stack.database
            pg = PostgresProcesses(stack.database_url, stack.database)
            await pg.discover()
            pg.pin({0})
            facade = await stack.start_facade("facade-uncached", {**FACADE_LIMITS, "MES_FACADE_CACHE": "0"})
            pids = {"facade": facade.pid, **{svc: stack.pid(svc) for svc in ("orders", "production", "inventory")}}
            load = asyncio.create_task(
                run_wrk(
                    facade.url,
                    body("board", "Board", {"first": 100}),
                    HEADERS,
                    conns=16,
                    duration_s=args.seconds + 6,
                    warmup_s=0,
                    workdir=workdir,
                    cpus="1",
                    server_pids=list(pids.values()),
                )
            )
            await asyncio.sleep(3)
            await record(pids, out, "board", args.seconds)
            result = await load
            _say(f"board under profile: {result['rate']} req/s, p50 {result['p50_ms']} ms")
        else:
            await receive_for(stack, args.backlog)
            # the consumers run in the services' worker processes when the services are split
            pids = {}
            for svc in ("orders", "inventory", "production"):
                try:
                    pids[svc] = stack.pid(f"{svc}-worker")
                except KeyError:
                    pids[svc] = stack.pid(svc)
            result = await drain(stack, args.backlog, _say, during=lambda: record(pids, out, "drain", args.seconds))
            _say(f"drain under profile: {result.rate:.1f} orders/s, {result.cpu_ms_per_order:.1f} ms CPU/order")
    finally:
        if pg is not None:
            pg.restore()
        await stack.aclose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=("board", "drain"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--database", help="a generated history to use (kept)")
    parser.add_argument("--orders", type=int, default=100_000, help="orders to generate when no --database")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backlog", type=int, default=3000, help="drain: orders in the backlog")
    asyncio.run(main(parser.parse_args()))
