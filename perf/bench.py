"""Benchmarks of Jewelry MES, each reported as a ratio against a baseline measured in the same run.

    python perf/bench.py [facade|read|saga|intake|edge|all] [--quick] [--no-pin] [--json FILE] [--keep]
                         [--tracing off|shipped|always]

``facade``  the GraphQL facade (dashboard, submitOrder, partner isolation); SQLite.
``intake``  gRPC SubmitOrder with an empty backlog and with a backlog of waiting orders;
            PostgreSQL when ``MES_BENCH_POSTGRES_URL`` is set (an admin URL: a temporary
            database is created and dropped), SQLite otherwise.
``edge``    the partner edge: one partner's p99 while another floods at 10x its limit, holds 200
            connections of its costliest query, or 300 invalid keys flood at 500 requests/s; SQLite.

Everything runs on 127.0.0.1 on free ports in a temporary folder and is stopped by PID at the
end. ``--tracing`` (default ``off``: ``OTEL_TRACES_EXPORTER=none``) records OpenTelemetry spans in every
process of the stacks into their data folder's ``traces/`` (the ``file`` exporter): ``shipped`` with the
services' default sampler (``parentbased_traceidratio`` 0.1), ``always`` with every request sampled.
Progress goes to stderr, the markdown report to stdout. See ``perf/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_ROOT), str(_ROOT / "protos" / "gen")]

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import tempfile
import time
from typing import Any

from perf._edge_bench import TABLE_HEADERS as EDGE_HEADERS
from perf._edge_bench import EdgePlan, run_edge
from perf._facade_bench import FacadePlan, run_facade
from perf._intake_bench import IntakePlan, run_intake
from perf._read_bench import ReadPlan, run_read
from perf._report import detail_table, markdown_table, target_table, verdict_table
from perf._saga_bench import SagaPlan, run_saga

FACADE_FULL = FacadePlan(
    reps=3, warmup_s=2.0, duration_s=10.0, flood_duration_s=15.0, flood_factors=(2.0, 20.0), quiet_wait_s=15.0
)
FACADE_QUICK = FacadePlan(
    reps=1, warmup_s=1.0, duration_s=4.0, flood_duration_s=6.0, flood_factors=(2.0,), quiet_wait_s=3.0
)
INTAKE_FULL = IntakePlan(backlog=20_000, warmup_s=2.0, duration_s=15.0, drain_timeout_s=300.0, quiet_wait_s=15.0)
INTAKE_QUICK = IntakePlan(
    backlog=1_500, warmup_s=1.0, duration_s=4.0, drain_timeout_s=15.0, samples=100, quiet_wait_s=3.0
)  # the offered rate stays the issue's 30 orders/s


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: ``--tracing``: the environment every process of the stacks gets.
TRACING: dict[str, dict[str, str]] = {
    "off": {"OTEL_TRACES_EXPORTER": "none"},
    "shipped": {
        "OTEL_TRACES_EXPORTER": "file",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
    "always": {"OTEL_TRACES_EXPORTER": "file", "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}
SAGA_QUICK = {"reps": 1, "backlog": 300, "history": 2_000, "quiet_wait_s": 3.0}
READ_QUICK = {"reps": 1, "warmup_s": 1.0, "duration_s": 3.0, "orders": 5_000, "quiet_wait_s": 3.0}
EDGE_QUICK: dict[str, Any] = {"reps": 1, "warmup_s": 1.0, "duration_s": 5.0, "orders": 80, "quiet_wait_s": 3.0}


def _section(
    title: str, table: str, layout: str, notes: list[str], windows: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    return [
        f"### {title}",
        "",
        table,
        "",
        layout,
        "",
        *[f"- {note}" for note in notes],
        "",
        "<details><summary>every load window</summary>",
        "",
        detail_table(windows),
        "",
        "</details>",
        "",
    ]


def _postgres_url(suite: str) -> str:
    url = os.environ.get("MES_BENCH_POSTGRES_URL", "").strip()
    if not url:
        raise SystemExit(f"bench {suite}: set MES_BENCH_POSTGRES_URL (an admin URL of PostgreSQL)")
    return url


def _raw(results: Any, table: str) -> dict[str, Any]:
    """The raw numbers of a suite: its table's rows (``rows`` or ``verdicts``), windows and notes."""
    return {
        table: [row.__dict__ for row in getattr(results, table)],
        "windows": results.windows,
        "notes": results.notes,
    }


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "RAM unknown"
    return (
        f"{os.cpu_count()} vCPU ({model}), {memory}, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )


async def _main(args: argparse.Namespace, workdir: Path) -> tuple[str, dict[str, Any]]:
    started = time.monotonic()
    sections: list[str] = []
    raw: dict[str, Any] = {}
    if args.suite in ("facade", "all"):
        plan = FACADE_QUICK if args.quick else FACADE_FULL
        if args.no_pin:
            plan = FacadePlan(**{**plan.__dict__, "pin": False})
        facade = await run_facade(plan, workdir / "facade", _say)
        layout = "server processes pinned to CPU0, load generator to CPU1 (taskset)" if plan.pin else "no CPU pinning"
        sections += _section(
            "GraphQL facade",
            verdict_table(facade.verdicts),
            f"Layout: {layout}; {plan.reps} repetition(s) of {plan.duration_s:g} s after {plan.warmup_s:g} s"
            " warm-up per window (medians). Notes:",
            facade.notes,
            facade.windows,
        )
        raw["facade"] = _raw(facade, "verdicts")
    if args.suite in ("read", "all"):
        read_plan = ReadPlan(postgres_url=_postgres_url("read"), pin=not args.no_pin, orders=args.orders)
        if args.quick:  # an explicit --orders stays
            quick = {k: v for k, v in READ_QUICK.items() if k != "orders" or args.orders == 100_000}
            read_plan = ReadPlan(**{**read_plan.__dict__, **quick})
        read = await run_read(read_plan, workdir / "read", _say)
        sections += _section(
            "Read path (PostgreSQL, generated history)",
            target_table(read.rows),
            f"Layout: server processes (facades, baselines, services, nats-server, PostgreSQL) on CPU0, load"
            f" generator on CPU1; {read_plan.reps} window(s) of {read_plan.duration_s:g} s after"
            f" {read_plan.warmup_s:g} s warm-up per target, targets alternating. Notes:",
            read.notes,
            read.windows,
        )
        raw["read"] = _raw(read, "rows")
    if args.suite in ("saga", "all"):
        saga_plan = SagaPlan(postgres_url=_postgres_url("saga"), **(SAGA_QUICK if args.quick else {}))
        saga = await run_saga(saga_plan, workdir / "saga", _say)
        sections += _section(
            "Saga drain (PostgreSQL, both cores)",
            target_table(saga.rows),
            f"Layout: no pinning (services, nats-server, PostgreSQL and the floor's workers share both cores);"
            f" {saga_plan.reps} round(s) of saga then floor, backlog {saga_plan.backlog:,} orders each. Notes:",
            saga.notes,
            saga.windows,
        )
        raw["saga"] = _raw(saga, "rows")
    if args.suite in ("edge", "all"):
        edge_plan = EdgePlan(pin=not args.no_pin, **(EDGE_QUICK if args.quick else {}))
        edge = await run_edge(edge_plan, workdir / "edge", _say)
        pinning = "servers (facade, services, nats-server) on CPU0, load generators on CPU1"
        sections += _section(
            "Partner edge (GraphQL facade, SQLite, shipped partner limits)",
            verdict_table(edge.verdicts),
            f"Layout: {pinning if edge_plan.pin else 'no CPU pinning'}; {edge_plan.reps} round(s) of six"
            f" windows (B alone and B under each load in turn) of {edge_plan.duration_s:g} s after"
            f" {edge_plan.warmup_s:g} s warm-up; B's latencies pooled per case.\n\n"
            + markdown_table(EDGE_HEADERS, edge.table)
            + "\n\nNotes:",
            edge.notes,
            edge.windows,
        )
        raw["edge"] = {**_raw(edge, "verdicts"), "table": edge.table}
    if args.suite in ("intake", "all"):
        plan_i = INTAKE_QUICK if args.quick else INTAKE_FULL
        postgres = os.environ.get("MES_BENCH_POSTGRES_URL", "").strip() or None
        plan_i = IntakePlan(**{**plan_i.__dict__, "postgres_url": postgres})
        intake = await run_intake(plan_i, workdir / "intake", _say)
        sections += _section(
            f"Order intake (gRPC SubmitOrder, {intake.database})",
            verdict_table(intake.verdicts)
            + "\n\n"
            + markdown_table(
                ("measure", "empty backlog", "backlog waiting, consumers draining", "loaded / empty"), intake.table
            ),
            f"Layout: no CPU pinning (services, nats-server{', PostgreSQL' if postgres else ''} and the load generator"
            f" share both cores); windows of {plan_i.duration_s:g} s after {plan_i.warmup_s:g} s warm-up. Notes:",
            intake.notes,
            intake.windows,
        )
        raw["intake"] = {
            **_raw(intake, "verdicts"),
            "windows": [(label, {k: v for k, v in r.items() if k != "extra"}) for label, r in intake.windows],
            "table": intake.table,
        }
    command = "python perf/bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    header = [
        f"## Bench results ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC{', quick' if args.quick else ''})",
        "",
        f"- command: `{command.strip()}`",
        f"- machine: {machine()}",
        f"- wall time: {time.monotonic() - started:,.0f} s",
        f"- tracing: {args.tracing} ({', '.join(f'{k}={v}' for k, v in TRACING[args.tracing].items())})",
        "",
    ]
    return "\n".join(header + sections), raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="?", default="all", choices=("facade", "read", "saga", "intake", "edge", "all"))
    parser.add_argument("--orders", type=int, default=100_000, help="read: orders of the generated history")
    parser.add_argument("--quick", action="store_true", help="short windows, one repetition, smaller backlog (< 3 min)")
    parser.add_argument("--no-pin", action="store_true", help="facade, edge: pin nothing to CPUs")
    parser.add_argument("--json", type=Path, help="also write the raw numbers to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    parser.add_argument(
        "--tracing",
        choices=tuple(TRACING),
        default="off",
        help="spans in every process: off (none), shipped (file, ratio 0.1), always (file, every request)",
    )
    args = parser.parse_args()
    os.environ.update(TRACING[args.tracing])  # the stacks' processes inherit it
    workdir = Path(tempfile.mkdtemp(prefix="mes-bench-"))
    _say(f"bench: working in {workdir}")

    async def guarded() -> tuple[str, dict[str, Any]]:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await _main(args, workdir)

    try:
        report, raw = asyncio.run(guarded())
    finally:
        if args.keep:
            _say(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report, flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
