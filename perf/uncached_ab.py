"""Alternating A/B of the uncached board (or dashboard): trees, tracing settings, one stack per target per round.

    python perf/uncached_ab.py --database NAME [--targets off,shipped] [--tree LABEL=PATH ...]
                               [--document board|dashboard] [--conns 1,16] [--rounds 3] [--seconds 8]
                               [--pause analytics,analytics-worker,...]

A target is ``<tracing>`` (``off`` or ``shipped``, as ``perf/bench.py --tracing``) on this tree, or
``LABEL:<tracing>`` on a tree given with ``--tree LABEL=PATH``; ``+paused`` after it stops the processes
named by ``--pause`` (the analytics and webhooks API and worker processes by default) with SIGSTOP during
its windows (a git worktree of another commit: its
own ``perf`` package starts its stack, with this interpreter). Each round starts one stack per target, in
the order given, as ``perf/bench.py read`` starts its uncached facade (``perf._stack.BenchStack`` on a
history generated before with ``python -m perf.datagen``; servers and PostgreSQL pinned to CPU0, wrk to
CPU1; ``FACADE_LIMITS`` and ``MES_FACADE_CACHE=0``), runs one wrk window per connection count (2 s of
warm-up first), and stops it. Alternating whole stacks, rather than running one target after the
other, keeps the machine's drift out of the ratios. Needs ``MES_BENCH_POSTGRES_URL`` (an admin URL) and
``wrk``.

Prints one JSON line per target and round (requests/s, p50, CPU per request over the facade and the
three services, each process's share, the load generator's CPU and the machine's other load), then the
medians and min-max per target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DOCUMENTS = {"board": ("board", "Board"), "dashboard": ("dashboard", "Dashboard")}
PROCESSES = ("facade", "orders", "production", "inventory")


async def one_stack(
    database: str, document: str, conns: list[int], seconds: float, pause: Sequence[str] = ()
) -> dict[str, Any]:
    """One stack of the tree on ``sys.path``: a wrk window per connection count, with the processes named
    ``pause`` stopped (SIGSTOP) during the windows."""
    from perf._pg import PostgresProcesses
    from perf._read_bench import FACADE_LIMITS, HEADERS, body
    from perf._stack import BenchStack
    from perf._stats import process_cpu_s
    from perf._wrk import run_wrk

    admin = os.environ["MES_BENCH_POSTGRES_URL"]
    workdir = Path(tempfile.mkdtemp(prefix="mes-ab-"))
    stack = BenchStack(
        workdir, postgres_admin_url=admin, server_cpus="0", existing_database=database, say=lambda _: None
    )
    pg = None
    stopped: list[int] = []
    out: dict[str, Any] = {}
    try:
        await stack.start()
        assert stack.database_url and stack.database
        pg = PostgresProcesses(stack.database_url, stack.database)
        await pg.discover()
        pg.pin({0})
        facade = await stack.start_facade("facade-uncached", {**FACADE_LIMITS, "MES_FACADE_CACHE": "0"})
        pids = [facade.pid, *(stack.pid(s) for s in PROCESSES[1:])]
        stopped = [pid for process in pause for pid in stack.process_pids(process)]
        out["paused"] = {process: len(stack.process_pids(process)) for process in pause}
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        name, operation = DOCUMENTS[document]
        for n in conns:
            before = [process_cpu_s(p) for p in pids]
            r = await run_wrk(
                facade.url,
                body(name, operation, {"first": 100}),
                HEADERS,
                conns=n,
                duration_s=seconds,
                warmup_s=2,
                workdir=workdir,
                cpus="1",
                server_pids=pids,
            )
            after = [process_cpu_s(p) for p in pids]
            answered = r["ok"] + 2 * r["rate"]  # the warm-up's answers are in the per-process CPU
            out[str(n)] = {
                "rate": r["rate"],
                "p50_ms": r["p50_ms"],
                "cpu_ms": round(r["server_cpu_pct"] * 10 / r["rate"], 2) if r["rate"] else None,
                "wrk_cpu_pct": r["client_cpu_pct"],  # the load generator's own core: well under 100 %
                "other_cpu_pct": r["other_cpu_pct"],
                "errors": r["errors"],
                "per_process_ms": {
                    p: round((b - a) * 1000 / answered, 2) for p, a, b in zip(PROCESSES, before, after, strict=True)
                },
            }
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if pg is not None:
            pg.restore()
        await stack.aclose()
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _run_target(target: str, trees: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    from perf.bench import TRACING  # this tree's settings, the same for every target

    label, _, setting = target.rpartition(":")
    tracing, _, paused = setting.partition("+")
    tree = trees[label] if label else Path(__file__).resolve().parent.parent
    env = {**os.environ, **TRACING[tracing]}
    argv = [sys.executable, str(Path(__file__).resolve()), "--one", "--database", args.database]
    argv += ["--document", args.document, "--conns", args.conns, "--seconds", str(args.seconds)]
    if paused:
        argv += ["--pause", args.pause]
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{target}: exit {done.returncode}\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _medians(rows: list[dict[str, Any]], conns: str, key: str) -> str:
    values = [row[conns][key] for row in rows if row[conns][key] is not None]
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="a history generated before (python -m perf.datagen)")
    parser.add_argument("--targets", default="off,shipped")
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH: another tree's worktree")
    parser.add_argument("--document", choices=tuple(DOCUMENTS), default="board")
    parser.add_argument("--conns", default="1,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--pause",
        default="analytics,analytics-worker,webhooks,webhooks-worker",
        help="the processes a target ending in +paused stops during its windows",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one stack, of the tree in cwd
    args = parser.parse_args()
    conns = [int(c) for c in args.conns.split(",")]
    if args.one:
        sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "protos", "gen")]
        pause = [name for name in args.pause.split(",") if name] if "--pause" in sys.argv else []
        print(json.dumps(asyncio.run(one_stack(args.database, args.document, conns, args.seconds, pause))))
        return 0
    if not os.environ.get("MES_BENCH_POSTGRES_URL"):
        raise SystemExit("set MES_BENCH_POSTGRES_URL (an admin URL of PostgreSQL)")
    root = Path(__file__).resolve().parent.parent  # this tree: only now (``--one`` imports another's)
    sys.path[:0] = [str(root), str(root / "protos" / "gen")]
    trees = {label: Path(path).resolve() for label, _, path in (t.partition("=") for t in args.tree)}
    targets = args.targets.split(",")
    for target in targets:
        label, _, setting = target.rpartition(":")
        tracing, _, paused = setting.partition("+")
        if tracing not in ("off", "shipped") or paused not in ("", "paused") or (label and label not in trees):
            raise SystemExit(
                f"unknown target {target!r} (off, shipped, or LABEL:off with --tree LABEL=PATH; +paused: --pause)"
            )
    results: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    for n in range(1, args.rounds + 1):
        for target in targets:
            row = _run_target(target, trees, args)
            results[target].append(row)
            load = Path("/proc/loadavg").read_text().split()[:3]
            print(json.dumps({"round": n, "target": target, "load": load, **row}), flush=True)
    for target, rows in results.items():
        for c in map(str, conns):
            print(
                f"{target} {args.document} {c} conn.: {_medians(rows, c, 'rate')} req/s, p50 "
                f"{_medians(rows, c, 'p50_ms')} ms, CPU {_medians(rows, c, 'cpu_ms')} ms/request,"
                f" wrk {_medians(rows, c, 'wrk_cpu_pct')} % of its core"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
